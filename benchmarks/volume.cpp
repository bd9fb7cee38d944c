// SPDX-License-Identifier: GPL-3.0-or-later
// spinemet-volume-bench FOLDER: loads one series as the plugin and the tools do, and prints how
// long it took. benchmarks/volume.sh runs it under /usr/bin/time -v for the peak memory.
#include "volume/SeriesLoader.h"

#include <chrono>
#include <cstdio>
#include <iostream>

int main(int argc, char** argv)
{
  if (argc < 2)
  {
    std::cerr << "Usage: spinemet-volume-bench FOLDER_OR_FILES...\n";
    return 2;
  }
  try
  {
    const spinemet::FileSliceSource source(std::vector<std::string>(argv + 1, argv + argc));
    const auto start = std::chrono::steady_clock::now();
    const spinemet::Series series = spinemet::loadSeries(source);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const spinemet::Volume& volume = series.volume;
    const double megabytes = volume.columns() * volume.rows() * volume.sliceCount() * 2 / 1048576.0;
    std::printf("%zux%zux%zu HU volume (%.0f MiB) loaded in %.2f s\n", volume.columns(), volume.rows(),
                volume.sliceCount(), megabytes, seconds);
    return 0;
  }
  catch (const spinemet::AnalysisError& error)
  {
    std::cerr << error.code() << ": " << error.what() << "\n";
    return 1;
  }
}
