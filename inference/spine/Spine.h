// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "volume/Volume.h"

#include <string>
#include <vector>

namespace spinemet
{
  // Pixel coordinates within one axial slice: column0 <= column < column1, row0 <= row < row1.
  struct PixelBox
  {
    double column0 = 0;
    double row0 = 0;
    double column1 = 0;
    double row1 = 0;
  };

  // What the spine finder saw on one axial slice.
  struct SliceSpine
  {
    bool vertebraPresent = false;
    PixelBox vertebralBody;          // extent of the vertebral body (SR regions, overlays)
    double cropCentreColumn = 0;     // centre of the model crop: the body plus the posterior
    double cropCentreRow = 0;        // elements that the posterolateral task needs
    int vertebra = -1;               // index into SpineLayout::vertebrae, -1 between vertebrae
  };

  struct Vertebra
  {
    int index = 0;                   // 0 is the most cranial vertebra found
    std::string level;               // "T7" where known honestly (e.g. from a SEG), else empty
    size_t firstSlice = 0;           // inclusive volume slice range (volume order: caudal first)
    size_t lastSlice = 0;

    // The level, or "vertebra 3 of 12" where the level cannot be named.
    std::string displayName(size_t vertebraCount) const;
  };

  struct SpineLayout
  {
    std::vector<SliceSpine> slices;  // one per volume slice
    std::vector<Vertebra> vertebrae; // cranial to caudal
  };
}
