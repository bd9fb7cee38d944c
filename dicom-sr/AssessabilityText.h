// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The words every SpineMet surface (SR labels, overlays, the command line) uses for a vertebra
// that is not assessable and for the study state, so that a radiologist reads the same sentence
// wherever the result is shown. docs/dicom-outputs.md.

#include "result/AnalysisResult.h"

#include <string>
#include <vector>

namespace spinemet
{
  // "out of distribution", "HU calibration", "slice thickness", "pixel spacing", "image noise",
  // "metal", "cut by series edge".
  std::string reasonInWords(NotAssessableReason reason);

  // The distinct reasons in the order first given, joined by ", ": "out of distribution, metal".
  std::string reasonsInWords(const std::vector<NotAssessable>& reasons);

  // "T12 not assessable: out of distribution".
  std::string notAssessableStatement(const VertebraResult& vertebra);

  // The study state as one line:
  //   "lesion suspected" (with "in 11 of 13 vertebrae assessed" when some were not assessable),
  //   "no lesion found in 11 of 13 vertebrae assessed",
  //   "not assessable: out of distribution, slice thickness" (the reasons over all vertebrae).
  std::string studyStateStatement(const AnalysisResult& result);
}
