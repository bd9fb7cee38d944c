// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Test data: a DICOM SEG (binary, one segment per entry, one frame per slice where the segment has
// pixels) over a phantom's CT series, written with DCMTK's dcmseg. What each segment covers is the
// caller's: the crops tests draw vertebral bodies, the spine tests add posterior elements,
// neighbours' spinous processes and a spinal cord.

#include "phantom/Phantom.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace spinemet
{
  struct PhantomSegment
  {
    std::string label;                       // Segment Label, e.g. "T12 vertebra"
    std::string typeCode = "51282000";       // SNOMED CT Segmented Property Type (Spine)
    std::string typeMeaning = "Spine";
    // Fills `mask` (rows x columns, row by row, zeroed) for volume slice `slice`; returns false
    // when the segment has no pixels there (no frame is written).
    std::function<bool(size_t slice, std::vector<uint8_t>& mask)> draw;
  };

  struct PhantomSegmentationOptions
  {
    std::string frameOfReferenceUid;         // empty: the series'
    std::string seriesNumber = "900";
    std::string description = "Vertebrae from the phantom truth";
  };

  // Throws std::runtime_error naming the DCMTK call that failed.
  void writePhantomSegmentation(const PhantomStudy& study, const std::vector<PhantomSegment>& segments,
                                const PhantomSegmentationOptions& options, const std::string& path);

  // The true vertebral body ellipse of `vertebra` on the slices inside its z range.
  bool drawVertebralBody(const PhantomStudy& study, const PhantomVertebra& vertebra, size_t slice,
                         std::vector<uint8_t>& mask);
}
