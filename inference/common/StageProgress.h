// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Where one analysis stands: the stage it is in and how far it is within that stage. The worker
// reports Read, Spine and Classify; whoever stores the outputs (the plugin's ResultWriter, the
// command-line tool's writers) reports Write. Every surface renders this one type: Orthanc's job
// (overallFraction, describe), the REST status (describe), the CLI's bar, the plugin's stage times
// (stageKey).

#include <algorithm>

namespace spinemet
{
  enum class Stage
  {
    Read,         // instances read, decoded and assembled into the volume
    Spine,        // slices searched for the spinal column, vertebrae split and named
    Classify,     // vertebra slices cropped and classified, results aggregated
    Write         // outputs stored (SR, overlays, result JSON)
  };

  struct StageProgress
  {
    Stage stage = Stage::Read;
    double fraction = 0;          // within the stage, 0..1
  };

  // Later stage, or the same stage further on. Progress never goes backwards.
  inline bool operator<(const StageProgress& a, const StageProgress& b)
  {
    return a.stage != b.stage ? a.stage < b.stage : a.fraction < b.fraction;
  }

  // The words the job list and the REST status show.
  inline const char* describe(Stage stage)
  {
    switch (stage)
    {
      case Stage::Read: return "reading instances";
      case Stage::Spine: return "finding the spine";
      case Stage::Classify: return "classifying vertebrae";
      case Stage::Write: return "storing outputs";
    }
    return "?";
  }

  // The stage's key in the plugin's StageSeconds ("read", "spine", "classify", "write").
  inline const char* stageKey(Stage stage)
  {
    switch (stage)
    {
      case Stage::Read: return "read";
      case Stage::Spine: return "spine";
      case Stage::Classify: return "classify";
      case Stage::Write: return "write";
    }
    return "?";
  }

  // The whole analysis as one fraction, 0..1, for a progress bar: reading, the spine search and
  // classification 30 % each, storing the outputs the last 10 %. The shares are a display choice,
  // not a measurement (their times are in the plugin's StageSeconds).
  inline double overallFraction(const StageProgress& progress)
  {
    const double start[] = {0.0, 0.3, 0.6, 0.9};
    const double share[] = {0.3, 0.3, 0.3, 0.1};
    const int index = static_cast<int>(progress.stage);
    return start[index] + share[index] * std::min(1.0, std::max(0.0, progress.fraction));
  }
}
