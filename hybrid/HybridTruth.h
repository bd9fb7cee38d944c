// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Internal to the hybrid library: what writing the files learnt (transfer syntax, rescale, file
// names), which the ground truth records.

#include "hybrid/Hybrid.h"

#include <map>
#include <string>
#include <vector>

namespace spinemet
{
  struct HybridWriteRecord
  {
    std::string transferSyntaxUid;
    std::string transferSyntaxName;
    std::string reencoded;                 // non-empty where the original syntax could not be kept
    double rescaleSlope = 1;
    double rescaleIntercept = 0;
    int bitsStored = 16;
    int pixelRepresentation = 0;
    std::map<size_t, std::string> fileNames;   // volume slice -> file name in the output folder
    std::vector<std::string> skippedFiles;     // background files not in the volume
  };

  // ground_truth.json: schema "spinemet-phantom-truth/1" plus "background" (docs/hybrid.md).
  std::string hybridGroundTruthJson(const HybridStudy& study, const HybridWriteRecord& record,
                                    const std::string& backgroundFolder);
}
