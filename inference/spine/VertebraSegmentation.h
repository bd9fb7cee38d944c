// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Vertebrae from a DICOM Segmentation with one segment per vertebra: the layout of
// TotalSegmentator's output and of the public Spine-Mets-CT-SEG data (segment labels such as
// "T7 vertebra" or "vertebrae_T7"). Where such a SEG exists for a series, it gives the vertebra
// extents and their level names (docs/spine.md, "Segmentation route").

#include "spine/Spine.h"
#include "volume/Volume.h"

#include <string>
#include <vector>

namespace spinemet
{
  // What the spine stage needs from one frame of one segment: where the frame lies and where
  // the segment is on it. The masks themselves are not kept.
  struct SegmentationFrame
  {
    Vector3 imagePosition{};             // Image Position (Patient) of the frame's first pixel
    std::string referencedSopInstanceUid;// the source image (Derivation Image), when given
    size_t pixelCount = 0;               // pixels in the segment
    PixelBox box;                        // their extent, in the SEG frame's own pixel grid
  };

  struct VertebraSegment
  {
    int segmentNumber = 0;
    std::string label;                   // Segment Label as written
    std::string level;                   // "T7", read from the label
    std::vector<SegmentationFrame> frames;
  };

  struct VertebraSegmentation
  {
    std::string sopInstanceUid;
    std::string frameOfReferenceUid;
    std::string referencedSeriesInstanceUid;   // from the Referenced Series Sequence, if any
    size_t rows = 0;
    size_t columns = 0;
    double rowSpacing = 1;               // Pixel Spacing[0]: between rows
    double columnSpacing = 1;            // Pixel Spacing[1]: between columns
    Vector3 rowDirection{1, 0, 0};       // Image Orientation (Patient), shared by all frames
    Vector3 columnDirection{0, 1, 0};
    std::vector<VertebraSegment> vertebrae;    // the segments that name a vertebra, cranial first
    std::vector<std::string> otherSegments;    // labels of the rest (spinal cord, sacrum, ...)
  };

  // "T7 vertebra", "vertebrae_T7", "Vertebra L1", "L5" -> "T7", "T7", "L1", "L5"; an empty
  // string for anything else ("spinal cord", "T7 lesion", "rib_left_7", "sacrum").
  std::string vertebraLevelFromLabel(const std::string& label);

  // Reads a binary or fractional DICOM SEG (Segmentation Storage) with DCMTK's dcmseg. Throws
  // AnalysisError("seg-unreadable") when it is not a readable SEG, "seg-vertebrae" when no
  // segment names a vertebra or two name the same one. `description` names the source in
  // messages (a path, an Orthanc instance ID).
  VertebraSegmentation parseVertebraSegmentation(const std::string& dicomBytes,
                                                 const std::string& description);
  VertebraSegmentation readVertebraSegmentationFile(const std::string& path);

  // Throws AnalysisError("seg-mismatch") unless the SEG belongs to the series: same frame of
  // reference, and every referenced source image (where the SEG names them) is in the series.
  void checkSegmentationMatchesSeries(const VertebraSegmentation& segmentation, const Series& series);

  // The vertebrae, their extents and their levels from the SEG; the track found by findSpine
  // (body boxes, crop centres) is kept where there is one. Frames are mapped to volume slices by
  // their position along the slice normal. A slice goes to the vertebra whose body is on it: a
  // segment counts on the slices where it reaches as far forward as it ever does, not where only
  // its spinous process lies over the disc or the next body. `layout` may be empty (findSpine
  // found nothing): the SEG alone then places the crops. Throws AnalysisError("seg-geometry")
  // when the SEG's planes do not match the volume's slices.
  SpineLayout applyVertebraSegmentation(const Volume& volume, SpineLayout layout,
                                        const VertebraSegmentation& segmentation,
                                        const SpineOptions& options = {});
}
