// SPDX-License-Identifier: GPL-3.0-or-later
#include "crops/Crops.h"

#include "common/AnalysisError.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace spinemet
{
  namespace
  {
    // Outside the field of view is air: a crop at the edge of the image fades into what a wider
    // field of view would have shown, not into smeared edge pixels.
    constexpr float OUTSIDE_HU = -1024.0f;

    // One axis of the separable bilinear sampling: for each crop pixel, the two image pixels it
    // lies between and the weight of the second. An index of -1 marks a neighbour outside the image.
    struct AxisSamples
    {
      std::vector<long> first;
      std::vector<long> second;
      std::vector<float> weight;
    };

    AxisSamples sampleAxis(double centre, double cropMm, double spacingMm, size_t outputSize, size_t imageSize)
    {
      AxisSamples samples;
      samples.first.resize(outputSize);
      samples.second.resize(outputSize);
      samples.weight.resize(outputSize);
      const double step = cropMm / static_cast<double>(outputSize) / spacingMm;   // image pixels per crop pixel
      const long last = static_cast<long>(imageSize) - 1;
      for (size_t i = 0; i < outputSize; ++i)
      {
        const double position = centre + (static_cast<double>(i) + 0.5 - 0.5 * static_cast<double>(outputSize)) * step;
        const double floorPosition = std::floor(position);
        const long index = static_cast<long>(floorPosition);
        samples.first[i] = (index >= 0 && index <= last) ? index : -1;
        samples.second[i] = (index + 1 >= 0 && index + 1 <= last) ? index + 1 : -1;
        samples.weight[i] = static_cast<float>(position - floorPosition);
      }
      return samples;
    }

    size_t channelSlice(size_t slice, int channel, const Preprocessing& p, const VolumeGeometry& geometry)
    {
      const double offsetMm = (channel - p.channels / 2) * p.channelSpacingMm;
      const long offset = std::lround(offsetMm / geometry.sliceSpacing);
      const long index = static_cast<long>(slice) + offset;
      return static_cast<size_t>(std::clamp(index, 0L, static_cast<long>(geometry.slices) - 1));
    }
  }

  CropBatch makeCrops(const Volume& volume,
                      const SpineLayout& layout,
                      const std::vector<size_t>& sliceIndices,
                      const Preprocessing& preprocessing)
  {
    validatePreprocessing(preprocessing);
    const VolumeGeometry& geometry = volume.geometry();
    if (layout.slices.size() != volume.sliceCount())
    {
      throw AnalysisError("crop-slice", "the spine layout describes " + std::to_string(layout.slices.size()) +
                                          " slices but the volume has " + std::to_string(volume.sliceCount()));
    }
    if (!(geometry.columnSpacing > 0) || !(geometry.rowSpacing > 0) || !(geometry.sliceSpacing > 0))
    {
      throw AnalysisError("crop-slice", "the volume has no positive pixel or slice spacing");
    }
    for (size_t slice : sliceIndices)
    {
      if (slice >= volume.sliceCount())
      {
        throw AnalysisError("crop-slice", "slice " + std::to_string(slice) + " is outside the volume (" +
                                            std::to_string(volume.sliceCount()) + " slices)");
      }
      if (!layout.slices[slice].vertebraPresent)
      {
        throw AnalysisError("crop-slice", "slice " + std::to_string(slice) + " carries no vertebra");
      }
      const SliceSpine& spine = layout.slices[slice];
      const double reach = 1e6;   // pixels: anything further is a broken layout, not a crop
      if (!std::isfinite(spine.cropCentreColumn) || !std::isfinite(spine.cropCentreRow) ||
          std::abs(spine.cropCentreColumn) > reach || std::abs(spine.cropCentreRow) > reach)
      {
        throw AnalysisError("crop-slice", "slice " + std::to_string(slice) + " has no usable crop centre");
      }
    }

    CropBatch batch;
    batch.channels = static_cast<size_t>(preprocessing.channels);
    batch.size = static_cast<size_t>(preprocessing.inputSize);
    batch.sliceIndices = sliceIndices;
    const size_t size = batch.size;
    const size_t pixels = size * size;
    batch.values.resize(sliceIndices.size() * batch.channels * pixels);

    const float windowLow = static_cast<float>(preprocessing.windowLow);
    const float windowScale = static_cast<float>(1.0 / (preprocessing.windowHigh - preprocessing.windowLow));
    const float mean = static_cast<float>(preprocessing.mean);
    const float inverseStd = static_cast<float>(1.0 / preprocessing.std);
    const size_t columns = volume.columns();

    std::vector<float> rowAbove(size);
    std::vector<float> rowBelow(size);
    for (size_t n = 0; n < sliceIndices.size(); ++n)
    {
      const SliceSpine& spine = layout.slices[sliceIndices[n]];
      const AxisSamples across = sampleAxis(spine.cropCentreColumn, preprocessing.cropMm, geometry.columnSpacing,
                                            size, volume.columns());
      const AxisSamples down = sampleAxis(spine.cropCentreRow, preprocessing.cropMm, geometry.rowSpacing,
                                          size, volume.rows());
      for (int channel = 0; channel < preprocessing.channels; ++channel)
      {
        const int16_t* image = volume.slice(channelSlice(sliceIndices[n], channel, preprocessing, geometry));
        float* out = batch.values.data() + (n * batch.channels + static_cast<size_t>(channel)) * pixels;

        // Interpolate along the columns within one image row, for every crop column.
        auto interpolateRow = [&](long row, std::vector<float>& values) {
          if (row < 0)
          {
            std::fill(values.begin(), values.end(), OUTSIDE_HU);
            return;
          }
          const int16_t* line = image + static_cast<size_t>(row) * columns;
          for (size_t i = 0; i < size; ++i)
          {
            const float left = across.first[i] < 0 ? OUTSIDE_HU : static_cast<float>(line[across.first[i]]);
            const float right = across.second[i] < 0 ? OUTSIDE_HU : static_cast<float>(line[across.second[i]]);
            values[i] = left + across.weight[i] * (right - left);
          }
        };

        // Upsampled crops use the same pair of image rows for several crop rows: interpolate
        // each image row once (-2: nothing cached yet; -1 is the row outside the image).
        long cachedAbove = -2;
        long cachedBelow = -2;
        for (size_t j = 0; j < size; ++j)
        {
          const long above = down.first[j];
          const long below = down.second[j];
          if (above != cachedAbove)
          {
            if (above == cachedBelow)
            {
              rowAbove.swap(rowBelow);
              cachedBelow = -2;
            }
            else
            {
              interpolateRow(above, rowAbove);
            }
            cachedAbove = above;
          }
          if (below != cachedBelow)
          {
            interpolateRow(below, rowBelow);
            cachedBelow = below;
          }
          const float w = down.weight[j];
          float* line = out + j * size;
          for (size_t i = 0; i < size; ++i)
          {
            const float hu = rowAbove[i] + w * (rowBelow[i] - rowAbove[i]);
            const float windowed = std::clamp((hu - windowLow) * windowScale, 0.0f, 1.0f);
            line[i] = (windowed - mean) * inverseStd;
          }
        }
      }
    }
    return batch;
  }
}
