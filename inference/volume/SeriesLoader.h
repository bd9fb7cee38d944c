// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "common/AnalysisError.h"
#include "volume/SliceSource.h"
#include "volume/Volume.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace spinemet
{
  // Tolerances of the geometry checks; the defaults are the project's decisions
  // (docs/series-to-volume.md explains each one).
  struct LoadOptions
  {
    size_t minimumSlices = 3;
    // The slice normal may deviate this much from the patient z axis (either sense).
    double axialToleranceDegrees = 5;
    // A spacing between neighbouring slices that differs from the median spacing by more than
    // this fraction of it (and by more than 0.05 mm) is a gap or an irregular spacing.
    double spacingTolerance = 0.1;
    // Two slices closer than this along the normal are at the same position, in mm.
    double samePositionTolerance = 0.05;
    // Localizer images mixed into an axial series are dropped (with a warning) rather than
    // rejecting the series.
    bool dropLocalizers = true;
    // Hounsfield value given to pixels marked by Pixel Padding Value (air).
    int16_t paddingHu = -1024;
    // Geometry problems to accept with a warning instead of rejecting the series; only
    // "gantry-tilt", "not-axial", "slice-gap" and "irregular-spacing" can be accepted (anything
    // else is std::invalid_argument). The volume is then the slices at their own positions:
    // SliceReference::position is exact, VolumeGeometry::sliceSpacing the mean spacing, and a
    // gantry shear is not corrected. For callers that work slice by slice (and for telling "no
    // spine found" on a tilted head CT); by default every problem rejects.
    std::set<std::string> acceptedProblems;
    // Memory the series may take while it is read: the Hounsfield units of the slices read so far
    // plus the decoding buffers of the instance at hand, checked from Rows, Columns and Bits
    // Allocated before anything is allocated or decoded (a 1 KB JPEG 2000 file may claim
    // 20000 x 20000 pixels). Over it, the series is rejected as "memory-budget" with the size.
    // The default holds 512 x 512 x 4000 slices (a 1024 x 1024 series of 1000 slices does not).
    size_t memoryBudgetBytes = size_t(2) << 30;
  };

  // One geometry defect found while assembling a series.
  struct SeriesProblem
  {
    std::string code;       // the AnalysisError code it would be thrown with
    std::string message;
  };

  // A series rejected for its geometry. code() and what() are those of the first problem found;
  // what() also lists the other problems and the warnings (repairs made, oddities noted), so that
  // one message tells the whole story (a series with a duplicate and gaps says both).
  class SeriesRejected : public AnalysisError
  {
  public:
    SeriesRejected(std::vector<SeriesProblem> problems, std::vector<std::string> warnings);

    const std::vector<SeriesProblem>& problems() const { return problems_; }
    const std::vector<std::string>& warnings() const { return warnings_; }

  private:
    std::vector<SeriesProblem> problems_;
    std::vector<std::string> warnings_;
  };

  // Reads every instance of `source` once, decodes it to Hounsfield units and assembles the
  // slices along their normal. Throws AnalysisError (SeriesRejected for geometry) with a message
  // naming the file, tag or slice at fault. `progress` is called after each instance read.
  // Thread-safe: concurrent calls share nothing but DCMTK's codec registry.
  Series loadSeries(const SliceSource& source,
                    const LoadOptions& options = {},
                    const std::function<void(size_t done, size_t total)>& progress = {});
}
