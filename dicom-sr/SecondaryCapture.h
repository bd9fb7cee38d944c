// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The Secondary Capture Image IOD around a drawn canvas: patient and study from the source series,
// a new series, the source images referenced, RGB pixels (docs/dicom-outputs.md). The overlays'
// layout (what is drawn where) is SecondaryCaptureOverlays.cpp; this is the DICOM writer alone.
// Internal to spinemet_dicom_sr.

#include "Canvas.h"
#include "DicomObject.h"
#include "result/AnalysisResult.h"
#include "volume/Volume.h"

#include <string>
#include <vector>

namespace spinemet
{
  struct SecondaryCaptureHeader
  {
    std::string seriesInstanceUid;
    int seriesNumber = 0;
    int instanceNumber = 0;
    std::string patientOrientation;
    std::string derivationDescription;
    std::vector<const SliceReference*> sources;
  };

  // One SC instance of `canvas`. Throws AnalysisError("dicom-write") when DCMTK refuses a value.
  DicomObject writeSecondaryCapture(const Canvas& canvas, const AnalysisResult& result, const Series& series,
                                    const SecondaryCaptureHeader& header);
}
