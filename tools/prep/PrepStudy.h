// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// One study through the serving pipeline (loadSeries -> findSpine -> makeCrops) and out as
// training samples, labelled by the truth the study carries.

#include "LabelsTable.h"
#include "model/ModelContract.h"

#include <optional>
#include <string>
#include <vector>

namespace spinemet
{
  struct PrepOptions
  {
    Preprocessing preprocessing;
    std::optional<LabelsTable> labels;       // for Spine-Mets-CT-SEG studies
  };

  struct PrepSummary
  {
    std::string kind;                        // "phantom", "hybrid" or "spine-mets-ct-seg"
    size_t crops = 0;
    size_t vertebrae = 0;
    size_t warnings = 0;
  };

  // The name of the phantom ground truth file inside a phantom study folder.
  static const char* const PHANTOM_TRUTH_FILE = "ground_truth.json";

  // Reads `studyFolder`, writes `outputFolder`/crops.npy and samples.json. Throws AnalysisError
  // (the pipeline's own codes, or prep-study, ground-truth, labels-table, prep-output).
  PrepSummary prepareStudy(const std::string& studyFolder, const std::string& outputFolder, const PrepOptions& options);

  // The --preprocessing file: the contract's "preprocessing" object, or a whole model metadata
  // document holding one. Throws AnalysisError("model-contract") naming the file.
  Preprocessing readPreprocessingFile(const std::string& path);
}
