// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace spinemet
{
  // Writes a NumPy .npy file (format version 1.0, dtype '<f4', C order) that numpy.load reads,
  // with or without mmap_mode. The file appears under `path` only once it is complete (written
  // beside it, then renamed). Throws AnalysisError("prep-output") naming the path.
  void writeNpyFloat32(const std::string& path, const std::vector<size_t>& shape, const float* values);

  // The 10-byte preamble plus the header dictionary, padded so that the data starts at a multiple
  // of 64 bytes, as numpy writes it.
  std::string npyHeader(const std::vector<size_t>& shape);
}
