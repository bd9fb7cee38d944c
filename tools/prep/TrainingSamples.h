// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The output of spinemet-prep for one study: crops.npy + samples.json, format
// "spinemet-samples/1" (docs/crops-and-prep.md). Labels come from whatever truth the study has
// (phantom ground truth, or a SEG plus a labels table); this file only writes them.

#include "crops/Crops.h"
#include "model/ModelContract.h"
#include "spine/Spine.h"
#include "volume/Volume.h"

#include <json/value.h>

#include <optional>
#include <string>
#include <vector>

namespace spinemet
{
  static const char* const SAMPLES_FORMAT = "spinemet-samples/1";

  // Class names in the model contract's order; a label is an index into these, -1 when unknown.
  const std::vector<std::string>& boneQualityNames();      // normal, blastic, lytic, mixed
  const std::vector<std::string>& posterolateralNames();   // none, unilateral, bilateral
  int boneQualityIndex(const std::string& name);           // throws AnalysisError("ground-truth")
  int posterolateralIndex(const std::string& name);

  // The labels of one vertebra (or of a slice, which inherits them from its vertebra).
  struct TruthLabel
  {
    int truthIndex = -1;             // the ground-truth vertebra the labels come from; -1: none matched
    std::string truthLevel;          // its level, "" when not known
    int boneQuality = -1;            // index into boneQualityNames(), -1 unknown
    int posterolateral = -1;         // index into posterolateralNames(), -1 unknown
    std::string posterolateralSide;  // "left" / "right" for a unilateral finding whose side is known
  };

  // What the ground truth says shows on one slice (phantoms know; a SEG study does not: nullopt).
  // A slice inherits its vertebra's label even where it misses the lesion; these tell the two apart.
  struct LesionVisibility
  {
    std::optional<bool> any;              // lesion voxels of the vertebra are in this slice
    std::optional<bool> blastic;          // ... of a blastic lesion
    std::optional<bool> lytic;            // ... of a lytic lesion
    std::optional<bool> posterolateral;   // ... of a pedicle lesion
  };

  struct SliceTruth
  {
    TruthLabel label;
    std::string sliceTruth = "unknown";  // "vertebra", "disc", "none", "unknown"
    LesionVisibility visible;
  };

  struct VertebraTruth
  {
    TruthLabel label;
    std::optional<double> overlap;   // fraction of the found vertebra's slices inside the truth vertebra
  };

  // Everything known about one study's truth, aligned with the pipeline's output.
  struct StudyTruth
  {
    std::string kind;                        // "phantom", "hybrid" or "spine-mets-ct-seg"
    std::vector<SliceTruth> slices;          // one per volume slice
    std::vector<VertebraTruth> vertebrae;    // one per SpineLayout vertebra
    std::optional<long long> seed;           // phantom seed
    std::optional<std::string> caseId;       // labels-table case
    size_t truthVertebraSlicesMissed = 0;    // truth says vertebra, the spine finder says none
    std::vector<std::string> warnings;       // mismatches between truth and study worth a look
  };

  // Where the study came from, for samples.json.
  struct StudySource
  {
    std::string folder;
    std::string name;
  };

  Json::Value samplesDocument(const Series& series, const SpineLayout& layout, const CropBatch& crops,
                              const Preprocessing& preprocessing, const StudyTruth& truth,
                              const StudySource& source);

  // Writes `folder`/crops.npy and `folder`/samples.json (creating the folder). Throws
  // AnalysisError("prep-output").
  void writeTrainingSamples(const std::string& folder, const CropBatch& crops, const Json::Value& document);
}
