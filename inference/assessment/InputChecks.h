// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Checks of the input before the model sees it (docs/assessability.md): is this a calibrated CT,
// acquired the way the model was validated on, and is each vertebra imaged whole and free of
// metal? Each failed check is a named reason (NotAssessableReason) with the measured value.
// Training runs the same measurements (spinemet-prep writes them), so that the model's domain
// and the serving checks agree on what "noise" means.

#include "model/ModelContract.h"
#include "result/AnalysisResult.h"
#include "spine/Spine.h"
#include "volume/Volume.h"

#include <optional>
#include <vector>

namespace spinemet
{
  // InputMeasurements (result/AnalysisResult.h) of a sample of the volume's voxels.
  InputMeasurements measureInput(const Volume& volume);

  // The project's fixed limits: what CT physics puts where, not anything learnt from data.
  struct InputCheckOptions
  {
    ValueRange plausibleBodyMedianHu{-150, 150};
    double minimumSoftTissueFraction = 0.05;
    double maximumDenseFraction = 0.2;
    double metalHu = 2500;           // beyond cortical bone (about 1900 HU at most) and contrast
    double metalMinimumAreaMm2 = 4;  // a few noisy voxels on a sharp kernel are not an implant
    double metalMarginMm = 10;       // "next to the vertebra": around the body box and the crop
    // A vertebra that reaches the first or last slice and is shorter than this fraction of the
    // median height of the whole vertebrae is cut by the series' edge.
    double cutHeightRatio = 0.75;
  };

  // Checks that concern the whole series: HU calibration, and the acquisition against the model's
  // validated domain (nothing is checked against a range the model does not declare).
  std::vector<NotAssessable> checkSeries(const InputMeasurements& measurements, const VolumeGeometry& geometry,
                                         const std::optional<Assessability>& assessability,
                                         const InputCheckOptions& options = {});

  // Checks of each vertebra of the layout (same order): metal in or next to it, cut by the edge.
  std::vector<std::vector<NotAssessable>> checkVertebrae(const Volume& volume, const SpineLayout& layout,
                                                         const InputCheckOptions& options = {});
}
