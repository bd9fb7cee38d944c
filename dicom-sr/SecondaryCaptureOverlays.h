// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Secondary Capture images that show the result in any viewer: one sagittal overview of the
// spine and one key axial slice per vertebra with a finding, each RGB with the burned-in text
// "AI RESULT - NOT FOR DIAGNOSTIC USE". Layout and colours: docs/dicom-outputs.md.

#include "DicomObject.h"
#include "result/AnalysisResult.h"
#include "volume/Volume.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace spinemet
{
  extern const char* const OVERLAY_WARNING;   // "AI RESULT - NOT FOR DIAGNOSTIC USE"

  // Okabe-Ito colours (readable on a dark background and for colour-blind readers):
  // normal grey, blastic sky blue, lytic vermillion, mixed yellow.
  std::array<uint8_t, 3> boneQualityColour(BoneQuality value);

  struct OverlayOptions : DicomOutputOptions
  {
    std::string fontPath;            // empty: DejaVu Sans, see TextRenderer::findFont
    int windowCentre = 400;          // bone window, HU
    int windowWidth = 1800;
  };

  // Where a vertebra's tint lies in an overlay, for checks and captions.
  struct OverlayMark
  {
    int vertebra = -1;               // index into AnalysisResult::vertebrae
    size_t x = 0;                    // a pixel inside the tint, away from its outline
    size_t y = 0;
  };

  struct Overlay
  {
    enum class Kind { SagittalOverview, KeySlice };
    Kind kind = Kind::SagittalOverview;
    int vertebra = -1;               // KeySlice: the vertebra shown
    size_t width = 0;
    size_t height = 0;
    size_t bannerHeight = 0;         // rows at the top that carry the warning text
    std::vector<OverlayMark> marks;
    DicomObject dicom;
  };

  // The sagittal overview first, then the key slices of the assessable vertebrae with a finding
  // (bone quality not normal, or posterolateral involvement not none), cranial to caudal, all in
  // one new series of the source study. A vertebra that is not assessable appears on the overview
  // only, hatched grey with its reasons; the banner states the study state. `series` is the series the result was computed from.
  // Throws AnalysisError("dicom-write") when result and series do not match (the message says
  // which slice or UID), AnalysisError("font-missing") without a font.
  std::vector<Overlay> makeOverlays(const AnalysisResult& result, const Series& series,
                                    const OverlayOptions& options = {});
}
