// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// What spinemet-prep reads from a phantom's ground_truth.json (written by spinemet-phantom,
// schema in docs/phantom.md), and how it labels the pipeline's slices and vertebrae with it.

#include "TrainingSamples.h"

#include <optional>
#include <string>
#include <vector>

namespace spinemet
{
  struct PhantomTruthVertebra
  {
    int index = 0;                   // 0 = most cranial
    std::string level;
    double zMinMm = 0;               // vertebral body extent along z
    double zMaxMm = 0;
    int boneQuality = 0;             // index into boneQualityNames()
    int posterolateral = 0;          // index into posterolateralNames()
    std::string side;                // "none", "left", "right", "both"
    // Kept out of this study's use by a data split (spinemet-hybrid --withhold, docs/hybrid.md):
    // its samples get unknown labels, so that no loss and no metric counts them.
    bool withheld = false;
  };

  struct PhantomTruthSlice
  {
    std::string sopInstanceUid;
    double zMm = 0;
    int vertebra = -1;               // index into vertebrae, -1 for discs and beyond the column
    LesionVisibility visible;
  };

  struct PhantomTruth
  {
    std::optional<long long> seed;
    bool realBackground = false;             // spinemet-hybrid: a real CT with inserted lesions
    std::vector<PhantomTruthVertebra> vertebrae;
    std::vector<PhantomTruthSlice> slices;
  };

  // Throws AnalysisError("ground-truth") naming the file and the field.
  PhantomTruth readPhantomTruth(const std::string& path);
  PhantomTruth parsePhantomTruth(const std::string& jsonText, const std::string& describe);

  // Matches each volume slice to a truth slice (SOP Instance UID, else z within half a slice
  // spacing), each found vertebra to the truth vertebra it shares most slices with, and labels
  // every slice with its found vertebra's truth (docs/crops-and-prep.md, "Phantom labels").
  // Throws AnalysisError("ground-truth") when a volume slice has no truth.
  StudyTruth labelPhantomStudy(const Series& series, const SpineLayout& layout, const PhantomTruth& truth);
}
