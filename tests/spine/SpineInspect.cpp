// SPDX-License-Identifier: GPL-3.0-or-later
// spinemet-spine-inspect FOLDER [--slices]: what findSpine makes of one real series, for
// establishing and checking the real-CT references (docs/spine.md): each vertebra with its
// level, its z range in patient millimetres, its body box, its ribs, the level's confidence and
// landmark, the time findSpine took, and optionally every slice's bone profile.

#include "common/AnalysisError.h"
#include "spine/Spine.h"
#include "volume/SeriesLoader.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>

using namespace spinemet;

int main(int argc, char** argv)
{
  if (argc < 2)
  {
    std::fprintf(stderr, "usage: spinemet-spine-inspect FOLDER [--slices]\n");
    return 1;
  }
  const bool perSlice = argc > 2 && std::strcmp(argv[2], "--slices") == 0;
  try
  {
    LoadOptions options;
    options.acceptedProblems = {"slice-gap", "irregular-spacing"};
    const Series series = loadSeries(FileSliceSource({argv[1]}), options);
    const auto start = std::chrono::steady_clock::now();
    const SpineLayout layout = findSpine(series.volume);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const VolumeGeometry& geometry = series.volume.geometry();
    std::printf("%zu vertebrae; %s\n", layout.vertebrae.size(), layout.levelNote.c_str());
    std::printf("findSpine %.2f s for %zu slices (%.1f ms per slice)\n", seconds, series.volume.sliceCount(),
                1000 * seconds / static_cast<double>(series.volume.sliceCount()));
    for (const Vertebra& vertebra : layout.vertebrae)
    {
      const VertebraLevelEvidence& evidence = layout.levelEvidence[static_cast<size_t>(vertebra.index)];
      const double z0 = series.slices[vertebra.firstSlice].position;
      const double z1 = series.slices[vertebra.lastSlice].position;
      const PixelBox& box = layout.slices[(vertebra.firstSlice + vertebra.lastSlice) / 2].vertebralBody;
      std::printf("%2d %-6s slices %3zu-%3zu  z %8.1f to %8.1f (%5.1f mm)  body %4.0f x %4.0f mm at column %5.1f row %5.1f  "
                  "ribs %c%c (reach %3.0f mm)%s  level confidence %.2f  landmark %s\n",
                  vertebra.index, vertebra.displayName(layout.vertebrae.size()).c_str(), vertebra.firstSlice,
                  vertebra.lastSlice, z0, z1, z1 - z0 + geometry.sliceSpacing,
                  (box.column1 - box.column0) * geometry.columnSpacing, (box.row1 - box.row0) * geometry.rowSpacing,
                  (box.column0 + box.column1) / 2, (box.row0 + box.row1) / 2, evidence.ribRight ? 'R' : '-',
                  evidence.ribLeft ? 'L' : '-', evidence.ribReachMm, evidence.alae ? "  alae" : "", evidence.confidence,
                  evidence.landmark.empty() ? "-" : evidence.landmark.c_str());
    }
    if (perSlice)
    {
      for (size_t s = 0; s < layout.slices.size(); ++s)
      {
        const SliceSpine& slice = layout.slices[s];
        std::printf("slice %3zu z %8.1f  column %d  profile %.2f  vertebra %2d  body %5.1f %5.1f\n", s,
                    series.slices[s].position, slice.onColumn ? 1 : 0, slice.boneProfile, slice.vertebra,
                    (slice.vertebralBody.column0 + slice.vertebralBody.column1) / 2,
                    (slice.vertebralBody.row0 + slice.vertebralBody.row1) / 2);
      }
    }
  }
  catch (const std::exception& error)
  {
    std::fprintf(stderr, "%s\n", error.what());
    return 2;
  }
  return 0;
}
