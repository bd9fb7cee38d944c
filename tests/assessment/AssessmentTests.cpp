// SPDX-License-Identifier: GPL-3.0-or-later
// Input checks and the vertebra-level out-of-distribution decision (docs/assessability.md).

#include "assessment/Assessment.h"
#include "assessment/InputChecks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace spinemet
{
  namespace
  {
    const size_t SIZE = 128;

    // A body of soft tissue (40 HU, Gaussian noise of `noiseHu`) in air, with a bone block where
    // the spine finder would put a vertebral body.
    Volume bodyInAir(size_t slices, double noiseHu, int shiftHu = 0)
    {
      VolumeGeometry g;
      g.columns = g.rows = SIZE;
      g.slices = slices;
      g.columnSpacing = g.rowSpacing = 1.0;
      g.sliceSpacing = g.sliceThickness = 2.0;
      std::mt19937 random(7);
      std::normal_distribution<double> noise(0.0, noiseHu);
      std::vector<std::vector<int16_t>> data(slices, std::vector<int16_t>(SIZE * SIZE));
      for (size_t s = 0; s < slices; ++s)
      {
        for (size_t r = 0; r < SIZE; ++r)
        {
          for (size_t c = 0; c < SIZE; ++c)
          {
            const double dx = double(c) - 64, dy = double(r) - 64;
            double hu = dx * dx + dy * dy < 50.0 * 50.0 ? 40.0 + noise(random) : -1000.0;
            if (c >= 54 && c < 74 && r >= 60 && r < 76)
            {
              hu = 250;
            }
            data[s][r * SIZE + c] = static_cast<int16_t>(std::lround(hu + shiftHu));
          }
        }
      }
      return Volume(g, std::move(data));
    }

    // Vertebrae of `height` slices with one-slice discs between them, body box where bodyInAir has bone.
    SpineLayout layoutOf(size_t slices, const std::vector<std::pair<size_t, size_t>>& ranges)
    {
      SpineLayout layout;
      layout.slices.resize(slices);
      for (size_t v = 0; v < ranges.size(); ++v)
      {
        Vertebra vertebra;
        vertebra.index = static_cast<int>(v);
        vertebra.firstSlice = ranges[v].first;
        vertebra.lastSlice = ranges[v].second;
        layout.vertebrae.push_back(vertebra);
        for (size_t s = vertebra.firstSlice; s <= vertebra.lastSlice; ++s)
        {
          layout.slices[s].vertebraPresent = true;
          layout.slices[s].onColumn = true;
          layout.slices[s].vertebra = static_cast<int>(v);
          layout.slices[s].vertebralBody = {54, 60, 74, 76};
        }
      }
      return layout;
    }

    bool has(const std::vector<NotAssessable>& reasons, NotAssessableReason reason)
    {
      for (const auto& entry : reasons)
      {
        if (entry.reason == reason)
        {
          return true;
        }
      }
      return false;
    }

    Assessability domain()
    {
      Assessability assessability;
      assessability.domain.sliceThicknessMm = ValueRange{1.0, 4.0};
      assessability.domain.pixelSpacingMm = ValueRange{0.5, 1.0};
      assessability.domain.imageNoiseHu = ValueRange{15, 30};
      return assessability;
    }

    VertebraResult lesionVertebra(int index)
    {
      VertebraResult v;
      v.index = index;
      v.boneQuality = BoneQuality::Lytic;
      v.boneQualityProbability = 0.9f;
      v.sinsBoneLesion = 2;
      return v;
    }

    SliceResult scoredSlice(int vertebra, float score)
    {
      SliceResult s;
      s.vertebra = vertebra;
      s.outOfDistributionScore = score;
      return s;
    }
  }

  TEST(InputMeasurements, NoiseAndCalibrationOfAKnownVolume)
  {
    const InputMeasurements m = measureInput(bodyInAir(20, 25.0));
    EXPECT_NEAR(m.imageNoiseHu, 25.0, 2.5);
    EXPECT_NEAR(m.bodyMedianHu, 40.0, 5.0);
    EXPECT_LT(m.denseFraction, 0.05);
    EXPECT_GT(m.softTissueFraction, 0.4);
    EXPECT_GT(m.sampledVoxels, 10000u);
    EXPECT_TRUE(checkSeries(m, VolumeGeometry(), std::nullopt).empty());

    EXPECT_NEAR(measureInput(bodyInAir(20, 80.0)).imageNoiseHu, 80.0, 8.0);
  }

  TEST(InputChecks, AMissingRescaleInterceptIsAnHuCalibrationReason)
  {
    // Stored values read as HU: air near 24 HU, soft tissue near 1064 HU.
    const InputMeasurements lifted = measureInput(bodyInAir(10, 20.0, 1024));
    const auto reasons = checkSeries(lifted, VolumeGeometry(), std::nullopt);
    ASSERT_EQ(reasons.size(), 1u);
    EXPECT_EQ(reasons[0].reason, NotAssessableReason::HuCalibration);
    EXPECT_NE(reasons[0].detail.find("Rescale Intercept"), std::string::npos);

    // An intercept applied twice: everything 1024 HU too low, almost nothing in the soft-tissue band.
    EXPECT_TRUE(has(checkSeries(measureInput(bodyInAir(10, 20.0, -1024)), VolumeGeometry(), std::nullopt),
                    NotAssessableReason::HuCalibration));
  }

  TEST(InputChecks, AcquisitionOutsideTheDeclaredDomain)
  {
    InputMeasurements m = measureInput(bodyInAir(10, 20.0));
    VolumeGeometry g;
    g.sliceThickness = 2.5;
    g.rowSpacing = g.columnSpacing = 0.7;
    EXPECT_TRUE(checkSeries(m, g, domain()).empty());

    g.sliceThickness = 5.0;
    auto reasons = checkSeries(m, g, domain());
    ASSERT_EQ(reasons.size(), 1u);
    EXPECT_EQ(reasons[0].reason, NotAssessableReason::SliceThickness);
    EXPECT_NE(reasons[0].detail.find("slices 5 mm thick"), std::string::npos) << reasons[0].detail;

    g.sliceThickness = 2.5;
    g.columnSpacing = 1.2;
    EXPECT_TRUE(has(checkSeries(m, g, domain()), NotAssessableReason::PixelSpacing));

    // Noise: only more than the domain's is a reason; a model without a domain checks none of it.
    g.columnSpacing = 0.7;
    m.imageNoiseHu = 90;
    EXPECT_TRUE(has(checkSeries(m, g, domain()), NotAssessableReason::ImageNoise));
    m.imageNoiseHu = 5;
    EXPECT_TRUE(checkSeries(m, g, domain()).empty());
    g.sliceThickness = 9;
    m.imageNoiseHu = 90;
    EXPECT_TRUE(checkSeries(m, g, Assessability()).empty());
  }

  TEST(InputChecks, MetalNextToOneVertebraOnly)
  {
    Volume volume = bodyInAir(30, 10.0);
    const SpineLayout layout = layoutOf(30, {{2, 9}, {11, 18}, {20, 27}});
    EXPECT_TRUE(checkVertebrae(volume, layout)[1].empty());

    // A screw cross-section of 3 x 3 mm behind the body of the middle vertebra, on two slices.
    for (size_t s : {14, 15})
    {
      for (size_t r = 80; r < 83; ++r)
      {
        for (size_t c = 58; c < 61; ++c)
        {
          volume.slice(s)[r * SIZE + c] = 3071;
        }
      }
    }
    const auto reasons = checkVertebrae(volume, layout);
    EXPECT_TRUE(reasons[0].empty());
    EXPECT_TRUE(reasons[2].empty());
    ASSERT_EQ(reasons[1].size(), 1u);
    EXPECT_EQ(reasons[1][0].reason, NotAssessableReason::Metal);
    EXPECT_NE(reasons[1][0].detail.find("9 mm2"), std::string::npos) << reasons[1][0].detail;

    // One hot voxel (noise on a sharp kernel) is not an implant.
    Volume speckled = bodyInAir(30, 10.0);
    speckled.slice(14)[80 * SIZE + 58] = 3071;
    EXPECT_TRUE(checkVertebrae(speckled, layout)[1].empty());
  }

  TEST(InputChecks, AVertebraCutByTheSeriesEdge)
  {
    const Volume volume = bodyInAir(30, 10.0);
    // Whole vertebrae are 8 slices; the first has 3 before the series begins, the last all 8.
    const auto reasons = checkVertebrae(volume, layoutOf(30, {{0, 2}, {4, 11}, {13, 20}, {22, 29}}));
    ASSERT_EQ(reasons[0].size(), 1u);
    EXPECT_EQ(reasons[0][0].reason, NotAssessableReason::CutBySeriesEdge);
    EXPECT_NE(reasons[0][0].detail.find("6 mm imaged of about 16 mm"), std::string::npos) << reasons[0][0].detail;
    EXPECT_TRUE(reasons[1].empty());
    EXPECT_TRUE(reasons[3].empty()) << "a whole vertebra that reaches the edge is not cut";

    // Nothing whole to compare with: the edge alone decides.
    const auto lone = checkVertebrae(volume, layoutOf(30, {{0, 29}}));
    EXPECT_TRUE(has(lone[0], NotAssessableReason::CutBySeriesEdge));
  }

  TEST(OutOfDistribution, MedianOfTheSliceScores)
  {
    EXPECT_EQ(medianScore({3, 1, 2}), 2.0f);
    EXPECT_EQ(medianScore({4, 1, 2, 3}), 2.5f);
    EXPECT_TRUE(std::isnan(medianScore({})));
    EXPECT_TRUE(std::isnan(medianScore({1, NAN, 3})));
  }

  TEST(OutOfDistribution, AVertebraAboveTheThresholdIsNotAssessable)
  {
    AnalysisResult result;
    result.vertebrae = {lesionVertebra(0), lesionVertebra(1), lesionVertebra(2)};
    // Vertebra 0 is in distribution except for one odd slice; vertebra 1 is far out; vertebra 2
    // has no scored slice.
    result.slices = {scoredSlice(0, 5), scoredSlice(0, 50), scoredSlice(0, 6),
                     scoredSlice(1, 40), scoredSlice(1, 45)};
    OutOfDistributionGate gate;
    gate.threshold = 20;
    // The result's vertebrae came from layout vertebrae 1, 3 and 4; layout vertebra 3 has metal.
    std::vector<std::vector<NotAssessable>> byLayout(5);
    byLayout[3] = {{NotAssessableReason::Metal, "metal"}};
    assessVertebrae(result, {}, byLayout, {1, 3, 4}, gate);

    EXPECT_TRUE(result.assessment.outOfDistributionGate);
    EXPECT_EQ(result.assessment.outOfDistributionThreshold, 20.0);
    EXPECT_TRUE(result.vertebrae[0].assessable);
    EXPECT_EQ(result.vertebrae[0].outOfDistributionScore, 6.0f);
    EXPECT_EQ(result.vertebrae[0].boneQuality, BoneQuality::Lytic);

    const VertebraResult& far = result.vertebrae[1];
    EXPECT_FALSE(far.assessable);
    EXPECT_EQ(far.outOfDistributionScore, 42.5f);
    ASSERT_EQ(far.notAssessableBecause.size(), 2u);
    EXPECT_EQ(far.notAssessableBecause[0].reason, NotAssessableReason::Metal);
    EXPECT_EQ(far.notAssessableBecause[1].reason, NotAssessableReason::OutOfDistribution);
    EXPECT_NE(far.notAssessableBecause[1].detail.find("score 42.5, threshold 20.0"), std::string::npos);
    EXPECT_EQ(far.boneQuality, BoneQuality::Normal);
    EXPECT_EQ(far.sinsBoneLesion, 0);

    EXPECT_TRUE(std::isnan(result.vertebrae[2].outOfDistributionScore));
    EXPECT_TRUE(result.vertebrae[2].assessable) << "no score is no evidence";
    EXPECT_EQ(result.state(), StudyState::LesionSuspected);
  }

  TEST(OutOfDistribution, SeriesReasonsWithholdEveryFindingAndNoGateScoresNothing)
  {
    AnalysisResult result;
    result.vertebrae = {lesionVertebra(0), lesionVertebra(1)};
    result.slices = {scoredSlice(0, 1), scoredSlice(1, 1)};
    const std::vector<NotAssessable> series = {{NotAssessableReason::SliceThickness, "slices 8 mm thick"}};
    assessVertebrae(result, series, {{}, {}}, {0, 1}, std::nullopt);
    EXPECT_FALSE(result.assessment.outOfDistributionGate);
    EXPECT_EQ(result.assessment.seriesReasons.size(), 1u);
    for (const auto& vertebra : result.vertebrae)
    {
      EXPECT_FALSE(vertebra.assessable);
      EXPECT_TRUE(std::isnan(vertebra.outOfDistributionScore));
    }
    EXPECT_EQ(result.state(), StudyState::NotAssessable);
    EXPECT_FALSE(result.lesionSuspected());

    EXPECT_THROW(assessVertebrae(result, {}, {{}}, {0}, std::nullopt), std::invalid_argument);
  }
}
