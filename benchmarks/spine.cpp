// SPDX-License-Identifier: GPL-3.0-or-later
// spinemet-spine-bench: findSpine on a 512 x 512 x 323 phantom volume (generated in memory),
// next to a reference pass in the same run: the least any per-slice threshold method does (a
// 3x3 mean and a bone threshold over every pixel of every slice). Best of 3, CPU and wall time.

#include "phantom/Phantom.h"
#include "spine/Spine.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <vector>

using namespace spinemet;

namespace
{
  struct Timing
  {
    double wall = 1e9;
    double cpu = 1e9;
  };

  template <typename Work>
  Timing bestOf(int runs, Work work)
  {
    Timing best;
    for (int i = 0; i < runs; ++i)
    {
      const auto wallStart = std::chrono::steady_clock::now();
      const std::clock_t cpuStart = std::clock();
      work();
      best.cpu = std::min(best.cpu, static_cast<double>(std::clock() - cpuStart) / CLOCKS_PER_SEC);
      best.wall = std::min(best.wall, std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count());
    }
    return best;
  }

  size_t thresholdPass(const Volume& volume)
  {
    const size_t columns = volume.columns();
    const size_t rows = volume.rows();
    std::vector<uint8_t> bone(columns * rows);
    size_t count = 0;
    for (size_t s = 0; s < volume.sliceCount(); ++s)
    {
      const int16_t* hu = volume.slice(s);
      for (size_t r = 1; r + 1 < rows; ++r)
      {
        for (size_t c = 1; c + 1 < columns; ++c)
        {
          int sum = 0;
          for (int dr = -1; dr <= 1; ++dr)
          {
            for (int dc = -1; dc <= 1; ++dc)
            {
              sum += hu[(r + dr) * columns + c + dc];
            }
          }
          bone[r * columns + c] = sum >= 9 * 150;
          count += bone[r * columns + c];
        }
      }
    }
    return count;
  }
}

int main()
{
  PhantomSettings settings;
  settings.seed = 1;
  settings.levels = "T8-L5";
  settings.matrix = 512;
  settings.pixelSpacingMm = 0.7;
  settings.sliceThicknessMm = 1.25;
  settings.sliceSpacingMm = 0.95;
  const PhantomStudy study = generatePhantom(settings);
  const Volume& volume = study.series.volume;
  const double slices = static_cast<double>(volume.sliceCount());
  std::printf("volume %zu x %zu x %zu, %zu vertebrae in the ground truth\n", volume.columns(), volume.rows(),
              volume.sliceCount(), study.truth.vertebrae.size());

  size_t found = 0;
  const Timing finder = bestOf(3, [&] { found = findSpine(volume).vertebrae.size(); });
  size_t bonePixels = 0;
  const Timing reference = bestOf(3, [&] { bonePixels = thresholdPass(volume); });
  std::printf("%-44s %8.2f s wall %8.2f s cpu %6.1f ms/slice (cpu)  [%zu vertebrae]\n", "findSpine", finder.wall,
              finder.cpu, 1000 * finder.cpu / slices, found);
  std::printf("%-44s %8.2f s wall %8.2f s cpu %6.1f ms/slice (cpu)  [%zu bone pixels]\n",
              "reference: 3x3 mean + threshold, every pixel", reference.wall, reference.cpu,
              1000 * reference.cpu / slices, bonePixels);
  std::printf("findSpine / reference (cpu): %.1fx\n", finder.cpu / reference.cpu);
  return 0;
}
