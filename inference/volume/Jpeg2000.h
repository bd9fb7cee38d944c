// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace spinemet
{
  // One grey-scale JPEG 2000 image (a J2K codestream or a JP2 file) decoded with OpenJPEG.
  struct Jpeg2000Image
  {
    size_t columns = 0;
    size_t rows = 0;
    unsigned precision = 0;          // bits per sample
    bool isSigned = false;
    std::vector<int32_t> samples;    // row-major
  };

  // Decodes the codestream of one frame; `what` names the frame in error messages
  // (AnalysisError "broken-pixel-data").
  Jpeg2000Image decodeJpeg2000(const uint8_t* data, size_t size, const std::string& what);
}
