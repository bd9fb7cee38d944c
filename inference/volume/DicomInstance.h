// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Internal to spinemet_volume: one DICOM instance read into what assembly needs, with DCMTK kept
// inside DicomInstance.cpp.

#include "volume/SeriesLoader.h"
#include "volume/Volume.h"

#include <cstdint>
#include <string>
#include <vector>

namespace spinemet
{
  struct SliceHeader
  {
    std::string name;                  // as the SliceSource describes it
    std::string sopInstanceUid;
    std::string sopClassUid;
    std::string transferSyntaxUid;
    std::vector<std::string> imageType;
    bool isLocalizer = false;
    int instanceNumber = 0;
    size_t rows = 0;
    size_t columns = 0;
    double rowSpacing = 0;             // Pixel Spacing[0]
    double columnSpacing = 0;          // Pixel Spacing[1]
    Vector3 position{};                // Image Position (Patient)
    Vector3 rowDirection{};            // Image Orientation (Patient), normalised
    Vector3 columnDirection{};
    double sliceThickness = 0;         // 0 when absent or empty
    double gantryTilt = 0;             // degrees, 0 when absent
    bool monochrome1 = false;
    SeriesAttributes attributes;
  };

  struct DecodedInstance
  {
    bool isImage = false;              // false for a media directory (DICOMDIR) given as a file
    SliceHeader header;
    std::vector<int16_t> hounsfield;   // rows * columns; empty for localizers (never decoded)
  };

  // Parses `bytes`, checks the header of a single-frame CT image, and decodes its pixels to HU
  // unless it is a localizer. Throws AnalysisError naming `name` and the tag at fault.
  // `bytesHeld` is what the series already holds (earlier slices' HU): decoding must fit the
  // memory budget of `options` on top of it.
  DecodedInstance readInstance(const std::string& bytes, const std::string& name,
                               const LoadOptions& options, size_t bytesHeld = 0);
}
