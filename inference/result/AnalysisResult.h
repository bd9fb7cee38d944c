// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The one structure that describes what SpineMet found in a series. The engine fills it; the SR
// and overlay writers, the plugin's REST API and the command-line tool read it. Its JSON form is
// versioned (docs/result-schema.md).

#include "volume/Volume.h"

#include <json/value.h>

#include <array>
#include <limits>
#include <string>
#include <vector>

namespace spinemet
{
  static const char* const RESULT_SCHEMA = "spinemet-result/2";
  // Read as well: a version 1 document has no assessment, so every vertebra in it was assessed.
  static const char* const RESULT_SCHEMA_1 = "spinemet-result/1";

  enum class BoneQuality { Normal = 0, Blastic = 1, Lytic = 2, Mixed = 3 };
  enum class Posterolateral { None = 0, Unilateral = 1, Bilateral = 2 };

  const char* toString(BoneQuality value);        // "normal", "blastic", "lytic", "mixed"
  const char* toString(Posterolateral value);     // "none", "unilateral", "bilateral"
  BoneQuality parseBoneQuality(const std::string& text);          // throws std::invalid_argument
  Posterolateral parsePosterolateral(const std::string& text);

  // SINS components (Fisher et al. 2010), see ../shared/method.md: never the SINS total.
  int sinsBoneLesionScore(BoneQuality value);       // lytic 2, mixed 1, blastic 0, normal 0
  int sinsPosterolateralScore(Posterolateral value);// bilateral 3, unilateral 1, none 0

  // Why a vertebra, or the whole series, is outside what the model can be trusted on
  // (docs/errors.md lists each with its cause and what to do).
  enum class NotAssessableReason
  {
    OutOfDistribution,       // the model's features are far from anything it was trained on
    HuCalibration,           // air, fat and soft tissue are not where CT puts them (wrong rescale)
    SliceThickness,          // outside the model's validated acquisition range
    PixelSpacing,            // likewise
    ImageNoise,              // noisier or sharper (lung kernel) than the model has seen
    Metal,                   // metal in or next to the vertebra (HU beyond the metal threshold)
    CutBySeriesEdge          // the vertebra runs out of the series: part of it is not imaged
  };
  const char* toString(NotAssessableReason value);             // "out-of-distribution", "hu-calibration", ...
  NotAssessableReason parseNotAssessableReason(const std::string& text);   // throws std::invalid_argument

  struct NotAssessable
  {
    NotAssessableReason reason = NotAssessableReason::OutOfDistribution;
    std::string detail;              // for the user, with the measured value: "slices 8 mm thick, ..."
  };

  // What the study as a whole says. NotAssessable: no vertebra could be assessed, so there is
  // nothing reliable to say (which is not "no lesion found").
  enum class StudyState { NoLesionFound, LesionSuspected, NotAssessable };
  const char* toString(StudyState value);          // "no-lesion-found", "lesion-suspected", "not-assessable"

  struct SliceResult
  {
    size_t sliceIndex = 0;           // volume slice
    std::string sopInstanceUid;
    int vertebra = -1;               // index into AnalysisResult::vertebrae
    float blastic = 0;               // P(blastic), P(lytic): the two binary sub-tasks
    float lytic = 0;
    std::array<float, 4> boneQuality{};      // fused four-class probabilities, BoneQuality order
    std::array<float, 3> posterolateral{};   // Posterolateral order
    // The crop's out-of-distribution score (engine/OutOfDistribution.h); NaN when the model
    // carries no gate.
    float outOfDistributionScore = std::numeric_limits<float>::quiet_NaN();
  };

  // Below this a level is uncertain; the spine stage's UNCERTAIN_LEVEL_CONFIDENCE (Aggregation.cpp
  // checks that the two agree).
  constexpr float RESULT_UNCERTAIN_LEVEL_CONFIDENCE = 0.8f;

  struct VertebraResult
  {
    int index = 0;                   // cranial to caudal
    std::string level;               // "T7" when known, else empty
    std::string displayName;         // the level or "vertebra 3 of 12"
    // How far the level can be trusted (0 without one) and the landmark it was counted from
    // ("first rib", "last rib", "first and last ribs", "segmentation"; empty without a level).
    float levelConfidence = 0;
    std::string levelLandmark;
    // A level counted from a landmark with a confidence below UNCERTAIN_LEVEL_CONFIDENCE
    // (spine/Spine.h; RESULT_UNCERTAIN_LEVEL_CONFIDENCE here, the same value): "T12?". A level
    // without a landmark (a document written before levels had one) reads as certain.
    bool levelUncertain() const
    {
      return !level.empty() && !levelLandmark.empty() && levelConfidence < RESULT_UNCERTAIN_LEVEL_CONFIDENCE;
    }
    size_t firstSlice = 0;           // inclusive volume slice range
    size_t lastSlice = 0;
    size_t keySlice = 0;             // the slice the class rests on most confidently
    std::string keySliceSopInstanceUid;
    std::vector<std::array<double, 2>> keySliceOutline;   // closed polygon around the vertebral
                                                          // body, (column, row) pixel coordinates
    BoneQuality boneQuality = BoneQuality::Normal;
    float boneQualityProbability = 0;
    std::array<float, 4> boneQualityProbabilities{};
    Posterolateral posterolateral = Posterolateral::None;
    float posterolateralProbability = 0;
    std::array<float, 3> posterolateralProbabilities{};
    int sinsBoneLesion = 0;
    int sinsPosterolateral = 0;

    // A vertebra that is not assessable carries no finding: its classes are normal/none with zero
    // probabilities and zero SINS points, and every writer shows the reasons instead.
    bool assessable = true;
    std::vector<NotAssessable> notAssessableBecause;
    float outOfDistributionScore = std::numeric_limits<float>::quiet_NaN();   // NaN: gate off
  };

  struct ModelIdentity
  {
    std::string name;
    std::string version;
    std::string architecture;
    std::string trainedOn;           // e.g. "synthetic CT phantoms": shown wherever results are
  };

  // Whole-series measurements of the input (assessment/InputChecks.h measures them).
  struct InputMeasurements
  {
    // Median HU of the voxels denser than lung and air (the body): near 0-50 HU on calibrated CT
    // (fat, muscle, organs, bone); about 1000 HU too high when the Rescale Intercept is missing.
    double bodyMedianHu = 0;
    // Fraction of the voxels between air and the metal range that lie in the soft-tissue band
    // (-200..200 HU): every body CT has plenty; a volume shifted by a wrong rescale has almost none.
    double softTissueFraction = 0;
    // Fraction of the same voxels at 400 HU or more: bone, contrast and metal are a small part of
    // any CT; a wrong rescale that lifts soft tissue into that range makes it most of the body.
    double denseFraction = 0;
    // Noise of homogeneous soft tissue: robust standard deviation of each voxel's difference from
    // its four in-plane neighbours' mean, scaled to the noise sigma of white noise. Sharp (lung,
    // bone) kernels and low doses raise it.
    double imageNoiseHu = 0;
    size_t sampledVoxels = 0;
  };

  Json::Value toJson(const InputMeasurements& measurements);
  InputMeasurements inputMeasurementsFromJson(const Json::Value& json);   // throws AnalysisError "result-json"

  // How assessability was decided for this result.
  struct AssessmentSettings
  {
    InputMeasurements measurements;
    bool outOfDistributionGate = false;      // the model carries a fitted gate
    double outOfDistributionThreshold = 0;   // vertebra scores above it are not assessable
    std::vector<NotAssessable> seriesReasons;// input checks that failed for the whole series (each
                                             // is also among every vertebra's reasons)
  };

  struct AnalysisResult
  {
    SeriesAttributes series;
    VolumeGeometry geometry;
    ModelIdentity model;
    AssessmentSettings assessment;
    std::vector<SliceResult> slices;         // only slices with a vertebra
    std::vector<VertebraResult> vertebrae;
    std::vector<std::string> warnings;       // repaired input defects
    std::string levelNote;                   // how the levels were named, or why they were not

    // Study-level summary, over the assessable vertebrae only.
    size_t assessableVertebrae() const;
    bool lesionSuspected() const;            // any assessable vertebra not normal
    BoneQuality highestBoneQuality() const;  // by SINS severity: lytic > mixed > blastic > normal
    StudyState state() const;                // lesion suspected, else not assessable when no
                                             // vertebra is assessable, else no lesion found
  };

  // Withholds a vertebra's finding for `reasons` (appended to those it has).
  void markNotAssessable(VertebraResult& vertebra, const std::vector<NotAssessable>& reasons);

  Json::Value toJson(const AnalysisResult& result);
  AnalysisResult resultFromJson(const Json::Value& json);     // throws AnalysisError "result-json"
}
