// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The SpineMet result as a DICOM Comprehensive SR whose root is TID 1500 "Measurement Report",
// one TID 1410 "Planar ROI Measurements and Qualitative Evaluations" group per vertebra (so that
// viewers such as OHIF draw each vertebra's region), and a study-level summary in the TID 1500
// "Qualitative Evaluations" container. The document and its codes: docs/dicom-outputs.md.

#include "DicomObject.h"
#include "result/AnalysisResult.h"

#include <array>
#include <limits>
#include <string>
#include <vector>

namespace spinemet
{
  // The SR of `result`, in the study of the series it describes, in a new series.
  // Throws AnalysisError("dicom-write") when DCMTK refuses a value (the message names it).
  DicomObject writeMeasurementReport(const AnalysisResult& result, const DicomOutputOptions& options = {});

  // What a SpineMet SR says about one vertebra.
  struct ReportedVertebra
  {
    std::string trackingIdentifier;  // the display name ("T7", "vertebra 3 of 12"), without the OHIF tool prefix
    std::string trackingUid;
    std::string level;               // from the finding site; empty when the SR has none
    BoneQuality boneQuality = BoneQuality::Normal;
    Posterolateral posterolateral = Posterolateral::None;
    std::array<double, 4> boneQualityProbabilities{};
    std::array<double, 3> posterolateralProbabilities{};
    int sinsBoneLesion = -1;
    int sinsPosterolateral = -1;
    std::string keySliceSopInstanceUid;
    std::vector<std::array<double, 2>> region;  // SCOORD polyline, (column, row), closed

    // A group whose Finding is (373068000, SCT, "Undetermined") is a vertebra without a finding:
    // its classes stay normal/none, its probabilities zero and its SINS components -1 (absent).
    bool assessable = true;
    std::vector<NotAssessable> notAssessableBecause;
    double outOfDistributionScore = std::numeric_limits<double>::quiet_NaN();   // NaN: not in the SR
    double areaMm2 = std::numeric_limits<double>::quiet_NaN();   // only written for a vertebra without finding
  };

  struct ReportedAnalysis
  {
    std::string studyInstanceUid;
    std::string seriesInstanceUid;   // of the SR
    std::string seriesDescription;
    std::string algorithmName;
    std::string algorithmVersion;
    bool lesionSuspected = false;
    BoneQuality highestBoneQuality = BoneQuality::Normal;   // normal also when no vertebra was assessable
    int vertebraeAnalysed = 0;
    // From the coded "lesion suspected" (Yes, No, Undetermined); SRs written before assessability
    // have no count of assessable vertebrae, which then reads as all of them.
    StudyState state = StudyState::NoLesionFound;
    int vertebraeAssessable = 0;
    std::string stateStatement;      // "no lesion found in 11 of 13 vertebrae assessed"
    std::vector<ReportedVertebra> vertebrae;   // in document order (cranial to caudal)
  };

  // Reads a SpineMet SR back from Part 10 bytes or a file. Throws AnalysisError("sr-read") when
  // it is not a readable SR, AnalysisError("sr-content") when it is not a SpineMet TID 1500
  // report (the message names the missing or unexpected content item).
  ReportedAnalysis readMeasurementReport(const std::string& part10Bytes);
  ReportedAnalysis readMeasurementReportFile(const std::string& path);

  // "SpineMet AI results" plus what the model was trained on: the Series Description of the SR.
  std::string reportSeriesDescription(const ModelIdentity& model);
}
