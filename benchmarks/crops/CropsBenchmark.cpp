// SPDX-License-Identifier: GPL-3.0-or-later
// makeCrops speed on a 512 x 512 x 300 volume, every slice cropped in batches of 32 slices (as the
// engine feeds the model), next to a reference in the same run: the textbook per-pixel bilinear
// sampler (four bounds-checked fetches per output pixel, no separable precomputation) producing
// the same values. Run: benchmarks/crops.sh BUILD_DIR.

#include "crops/Crops.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>

namespace
{
  using namespace spinemet;

  struct Scene
  {
    Volume volume;
    SpineLayout layout;
  };

  Scene makeScene(size_t size, size_t slices)
  {
    VolumeGeometry geometry;
    geometry.columns = size;
    geometry.rows = size;
    geometry.slices = slices;
    geometry.columnSpacing = 0.7;
    geometry.rowSpacing = 0.7;
    geometry.sliceSpacing = 2.5;
    std::vector<std::vector<int16_t>> data(slices, std::vector<int16_t>(size * size));
    uint32_t state = 12345;
    for (auto& slice : data)
    {
      for (int16_t& value : slice)
      {
        state = state * 1664525u + 1013904223u;
        value = static_cast<int16_t>(static_cast<int>(state >> 20) - 1024);   // -1024 .. 3071 HU
      }
    }
    Scene scene{Volume(geometry, std::move(data)), SpineLayout()};
    scene.layout.slices.resize(slices);
    for (size_t s = 0; s < slices; ++s)
    {
      SliceSpine& spine = scene.layout.slices[s];
      spine.vertebraPresent = true;
      spine.vertebra = 0;
      spine.cropCentreColumn = size / 2.0 + 10.3 * std::sin(s * 0.1);
      spine.cropCentreRow = size / 2.0 + 40.7;
    }
    scene.layout.vertebrae.push_back(Vertebra{0, "", 0, slices - 1});
    return scene;
  }

  // The reference: same geometry and intensity rules, written the obvious way.
  std::vector<float> naiveCrops(const Scene& scene, const std::vector<size_t>& slices, const Preprocessing& p)
  {
    const Volume& volume = scene.volume;
    const VolumeGeometry& g = volume.geometry();
    const size_t n = static_cast<size_t>(p.inputSize);
    std::vector<float> out(slices.size() * p.channels * n * n);
    auto fetch = [&](size_t slice, long column, long row) -> float {
      if (column < 0 || row < 0 || column >= static_cast<long>(g.columns) || row >= static_cast<long>(g.rows))
      {
        return -1024.0f;
      }
      return volume.at(static_cast<size_t>(column), static_cast<size_t>(row), slice);
    };
    size_t k = 0;
    for (size_t slice : slices)
    {
      const SliceSpine& spine = scene.layout.slices[slice];
      for (int channel = 0; channel < p.channels; ++channel)
      {
        const long offset = std::lround((channel - p.channels / 2) * p.channelSpacingMm / g.sliceSpacing);
        const size_t source = static_cast<size_t>(std::clamp(static_cast<long>(slice) + offset, 0L,
                                                             static_cast<long>(g.slices) - 1));
        for (size_t j = 0; j < n; ++j)
        {
          for (size_t i = 0; i < n; ++i)
          {
            const double x = spine.cropCentreColumn + ((i + 0.5) / n - 0.5) * p.cropMm / g.columnSpacing;
            const double y = spine.cropCentreRow + ((j + 0.5) / n - 0.5) * p.cropMm / g.rowSpacing;
            const long x0 = static_cast<long>(std::floor(x));
            const long y0 = static_cast<long>(std::floor(y));
            const double wx = x - x0;
            const double wy = y - y0;
            const double hu = (1 - wy) * ((1 - wx) * fetch(source, x0, y0) + wx * fetch(source, x0 + 1, y0)) +
                              wy * ((1 - wx) * fetch(source, x0, y0 + 1) + wx * fetch(source, x0 + 1, y0 + 1));
            const double v = std::clamp((hu - p.windowLow) / (p.windowHigh - p.windowLow), 0.0, 1.0);
            out[k++] = static_cast<float>((v - p.mean) / p.std);
          }
        }
      }
    }
    return out;
  }

  double bestSeconds(const std::function<void()>& run, int repeats)
  {
    double best = 1e30;
    for (int r = 0; r < repeats; ++r)
    {
      const auto start = std::chrono::steady_clock::now();
      run();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return best;
  }
}

int main()
{
  const size_t slices = 300;
  const size_t batchSize = 32;
  const Scene scene = makeScene(512, slices);
  std::vector<std::vector<size_t>> batches;
  for (size_t s = 0; s < slices; ++s)
  {
    if (s % batchSize == 0)
    {
      batches.emplace_back();
    }
    batches.back().push_back(s);
  }
  std::printf("makeCrops vs per-pixel reference: 512x512x300 int16 volume, all %zu slices in batches of %zu,\n"
              "one thread, best of 11; times for the whole volume and per slice\n", slices, batchSize);
  std::printf("%-26s %13s %13s %13s %9s %11s\n", "crop", "makeCrops ms", "us/slice", "reference ms", "speed-up",
              "max |diff|");
  struct Case
  {
    int size;
    int channels;
    double cropMm;
  };
  for (const Case& c : {Case{64, 1, 100}, Case{96, 1, 100}, Case{96, 3, 100}, Case{128, 1, 120}, Case{160, 3, 100}, Case{224, 1, 100}, Case{224, 3, 100}})
  {
    Preprocessing p;
    p.inputSize = c.size;
    p.channels = c.channels;
    p.channelSpacingMm = c.channels > 1 ? 2.5 : 0;
    p.cropMm = c.cropMm;
    const double fast = bestSeconds([&] {
      for (const auto& batch : batches)
      {
        const CropBatch crops = makeCrops(scene.volume, scene.layout, batch, p);
      }
    }, 11);
    const double slow = bestSeconds([&] {
      for (const auto& batch : batches)
      {
        const std::vector<float> crops = naiveCrops(scene, batch, p);
      }
    }, 11);
    float difference = 0;
    for (const auto& batch : batches)
    {
      const CropBatch crops = makeCrops(scene.volume, scene.layout, batch, p);
      const std::vector<float> reference = naiveCrops(scene, batch, p);
      for (size_t i = 0; i < reference.size(); ++i)
      {
        difference = std::max(difference, std::abs(reference[i] - crops.values[i]));
      }
    }
    char name[64];
    std::snprintf(name, sizeof(name), "%dx%d x%d ch, %.0f mm", c.size, c.size, c.channels, c.cropMm);
    std::printf("%-26s %13.1f %13.1f %13.1f %8.1fx %11.2e\n", name, fast * 1e3, fast * 1e6 / slices, slow * 1e3,
                slow / fast, difference);
  }
  return 0;
}
