// SPDX-License-Identifier: GPL-3.0-or-later
#include "Npy.h"

#include "common/AnalysisError.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace spinemet
{
  namespace
  {
    bool isLittleEndian()
    {
      const uint16_t probe = 1;
      unsigned char first = 0;
      std::memcpy(&first, &probe, 1);
      return first == 1;
    }
  }

  std::string npyHeader(const std::vector<size_t>& shape)
  {
    std::string dictionary = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
    for (size_t i = 0; i < shape.size(); ++i)
    {
      dictionary += std::to_string(shape[i]) + ", ";
    }
    if (!shape.empty())
    {
      // "(2, 3)", but "(2,)" for one dimension, as Python writes tuples
      dictionary.resize(dictionary.size() - (shape.size() > 1 ? 2 : 1));
    }
    dictionary += "), }";
    const size_t preamble = 10;                     // magic (6), version (2), header length (2)
    const size_t total = preamble + dictionary.size() + 1;
    const size_t padded = (total + 63) / 64 * 64;
    dictionary.append(padded - total, ' ');
    dictionary += '\n';
    const size_t headerLength = dictionary.size();
    if (headerLength > 65535)
    {
      throw AnalysisError("prep-output", "npy header too long for format 1.0");
    }
    std::string header("\x93NUMPY\x01\x00", 8);
    header += static_cast<char>(headerLength & 0xff);
    header += static_cast<char>((headerLength >> 8) & 0xff);
    return header + dictionary;
  }

  void writeNpyFloat32(const std::string& path, const std::vector<size_t>& shape, const float* values)
  {
    if (!isLittleEndian())
    {
      // The header says '<f4'; a big-endian host would have to swap, and none is supported.
      throw AnalysisError("prep-output", "writing .npy needs a little-endian host");
    }
    size_t count = 1;
    for (size_t extent : shape)
    {
      count *= extent;
    }
    const std::string partial = path + ".partial";
    {
      std::ofstream stream(partial, std::ios::binary | std::ios::trunc);
      if (!stream)
      {
        throw AnalysisError("prep-output", "cannot create " + partial);
      }
      const std::string header = npyHeader(shape);
      stream.write(header.data(), static_cast<std::streamsize>(header.size()));
      if (count > 0)
      {
        stream.write(reinterpret_cast<const char*>(values), static_cast<std::streamsize>(count * sizeof(float)));
      }
      stream.close();
      if (!stream)
      {
        throw AnalysisError("prep-output", "cannot write " + partial + " (disk full?)");
      }
    }
    std::error_code error;
    std::filesystem::rename(partial, path, error);
    if (error)
    {
      throw AnalysisError("prep-output", "cannot rename " + partial + " to " + path + ": " + error.message());
    }
  }
}
