// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "model/ModelContract.h"
#include "spine/Spine.h"
#include "volume/Volume.h"

#include <cstddef>
#include <vector>

namespace spinemet
{
  // Model input for a set of slices, N x C x H x W float32, row-major, ready to be wrapped by a
  // tensor without copying.
  struct CropBatch
  {
    size_t channels = 0;
    size_t size = 0;                 // H = W
    std::vector<size_t> sliceIndices;// volume slice of each crop
    std::vector<float> values;

    size_t count() const { return sliceIndices.size(); }
    const float* crop(size_t i) const { return values.data() + i * channels * size * size; }
  };

  // Crops for the given slices, which must all carry a vertebra in `layout`.
  CropBatch makeCrops(const Volume& volume,
                      const SpineLayout& layout,
                      const std::vector<size_t>& sliceIndices,
                      const Preprocessing& preprocessing);
}
