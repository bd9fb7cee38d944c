// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The one structure that describes what SpineMet found in a series. The engine fills it; the SR
// and overlay writers, the plugin's REST API and the command-line tool read it. Its JSON form is
// versioned (docs/result-schema.md).

#include "volume/Volume.h"

#include <json/value.h>

#include <array>
#include <string>
#include <vector>

namespace spinemet
{
  static const char* const RESULT_SCHEMA = "spinemet-result/1";

  enum class BoneQuality { Normal = 0, Blastic = 1, Lytic = 2, Mixed = 3 };
  enum class Posterolateral { None = 0, Unilateral = 1, Bilateral = 2 };

  const char* toString(BoneQuality value);        // "normal", "blastic", "lytic", "mixed"
  const char* toString(Posterolateral value);     // "none", "unilateral", "bilateral"
  BoneQuality parseBoneQuality(const std::string& text);          // throws std::invalid_argument
  Posterolateral parsePosterolateral(const std::string& text);

  // SINS components (Fisher et al. 2010), see ../shared/method.md: never the SINS total.
  int sinsBoneLesionScore(BoneQuality value);       // lytic 2, mixed 1, blastic 0, normal 0
  int sinsPosterolateralScore(Posterolateral value);// bilateral 3, unilateral 1, none 0

  struct SliceResult
  {
    size_t sliceIndex = 0;           // volume slice
    std::string sopInstanceUid;
    int vertebra = -1;               // index into AnalysisResult::vertebrae
    float blastic = 0;               // P(blastic), P(lytic): the two binary sub-tasks
    float lytic = 0;
    std::array<float, 4> boneQuality{};      // fused four-class probabilities, BoneQuality order
    std::array<float, 3> posterolateral{};   // Posterolateral order
  };

  struct VertebraResult
  {
    int index = 0;                   // cranial to caudal
    std::string level;               // "T7" when known, else empty
    std::string displayName;         // the level or "vertebra 3 of 12"
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
  };

  struct ModelIdentity
  {
    std::string name;
    std::string version;
    std::string architecture;
    std::string trainedOn;           // e.g. "synthetic CT phantoms": shown wherever results are
  };

  struct AnalysisResult
  {
    SeriesAttributes series;
    VolumeGeometry geometry;
    ModelIdentity model;
    std::vector<SliceResult> slices;         // only slices with a vertebra
    std::vector<VertebraResult> vertebrae;
    std::vector<std::string> warnings;       // repaired input defects

    // Study-level summary.
    bool lesionSuspected() const;            // any vertebra not normal
    BoneQuality highestBoneQuality() const;  // by SINS severity: lytic > mixed > blastic > normal
  };

  Json::Value toJson(const AnalysisResult& result);
  AnalysisResult resultFromJson(const Json::Value& json);     // throws std::invalid_argument
}
