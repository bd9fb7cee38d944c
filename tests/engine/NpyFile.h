// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Reads the float32 C-order .npy files that the Python side of the tests writes (format 1.0).

#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace spinemet
{
  struct NpyFloatArray
  {
    std::vector<size_t> shape;
    std::vector<float> values;
  };

  inline NpyFloatArray readNpyFloat32(const std::string& path)
  {
    std::ifstream in(path, std::ios::binary);
    char magic[8];
    if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0 || magic[6] != 1)
    {
      throw std::runtime_error(path + ": not a .npy file of format 1.x");
    }
    unsigned char lengthBytes[2];
    in.read(reinterpret_cast<char*>(lengthBytes), 2);
    std::string header(lengthBytes[0] | (lengthBytes[1] << 8), '\0');
    in.read(&header[0], header.size());
    if (header.find("'descr': '<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
    {
      throw std::runtime_error(path + ": expected little-endian float32 in C order, header " + header);
    }
    NpyFloatArray array;
    const size_t open = header.find('(', header.find("'shape'"));
    const size_t close = header.find(')', open);
    std::string dims = header.substr(open + 1, close - open - 1);
    size_t total = 1;
    for (size_t start = 0; start < dims.size();)
    {
      size_t comma = dims.find(',', start);
      if (comma == std::string::npos)
      {
        comma = dims.size();
      }
      const std::string item = dims.substr(start, comma - start);
      if (item.find_first_not_of(' ') != std::string::npos)
      {
        array.shape.push_back(std::stoul(item));
        total *= array.shape.back();
      }
      start = comma + 1;
    }
    array.values.resize(total);
    if (!in.read(reinterpret_cast<char*>(array.values.data()), total * sizeof(float)))
    {
      throw std::runtime_error(path + ": truncated data");
    }
    return array;
  }
}
