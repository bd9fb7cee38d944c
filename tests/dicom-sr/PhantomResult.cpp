// SPDX-License-Identifier: GPL-3.0-or-later
#include "PhantomResult.h"

#include <cmath>
#include <stdexcept>

namespace spinemet
{
  namespace testing
  {
    namespace
    {
      template <size_t N>
      std::array<float, N> confident(size_t truth, float probability)
      {
        std::array<float, N> values{};
        for (size_t i = 0; i < N; ++i)
        {
          values[i] = i == truth ? probability : (1 - probability) / (N - 1);
        }
        return values;
      }
    }

    AnalysisResult resultFromTruth(const PhantomStudy& study)
    {
      const Series& series = study.series;
      const VolumeGeometry& geometry = series.volume.geometry();
      AnalysisResult result;
      result.series = series.attributes;
      result.geometry = geometry;
      result.model = {"spinemet-test", "0.1.0", "DenseNet multi-task (test)", "synthetic CT phantoms"};

      for (const PhantomVertebra& truth : study.truth.vertebrae)
      {
        VertebraResult vertebra;
        vertebra.index = truth.index;
        vertebra.level = truth.level;
        vertebra.displayName = truth.level;
        bool found = false;
        double bestDistance = 1e9;
        for (size_t s = 0; s < series.slices.size(); ++s)
        {
          for (const std::string& uid : truth.sopInstanceUids)
          {
            if (series.slices[s].sopInstanceUid != uid)
            {
              continue;
            }
            vertebra.firstSlice = found ? std::min(vertebra.firstSlice, s) : s;
            vertebra.lastSlice = found ? std::max(vertebra.lastSlice, s) : s;
            found = true;
            const double distance = std::abs(series.slices[s].position - truth.bodyCentre[2]);
            if (distance < bestDistance)
            {
              bestDistance = distance;
              vertebra.keySlice = s;
            }
          }
        }
        if (!found)
        {
          throw std::runtime_error("phantom vertebra " + truth.level + " has no slice");
        }
        vertebra.keySliceSopInstanceUid = series.slices[vertebra.keySlice].sopInstanceUid;
        const double semiColumns = truth.bodyWidthMm / 2 / geometry.columnSpacing;
        const double semiRows = truth.bodyDepthMm / 2 / geometry.rowSpacing;
        for (int i = 0; i < 24; ++i)
        {
          const double angle = 2 * M_PI * i / 24;
          vertebra.keySliceOutline.push_back({truth.bodyCentreColumn + semiColumns * std::cos(angle),
                                              truth.bodyCentreRow + semiRows * std::sin(angle)});
        }
        vertebra.boneQuality = truth.boneQuality;
        vertebra.boneQualityProbabilities = confident<4>(static_cast<size_t>(truth.boneQuality), 0.8125f);
        vertebra.boneQualityProbability = vertebra.boneQualityProbabilities[static_cast<size_t>(truth.boneQuality)];
        vertebra.posterolateral = truth.posterolateral;
        vertebra.posterolateralProbabilities = confident<3>(static_cast<size_t>(truth.posterolateral), 0.875f);
        vertebra.posterolateralProbability = vertebra.posterolateralProbabilities[static_cast<size_t>(truth.posterolateral)];
        vertebra.sinsBoneLesion = sinsBoneLesionScore(vertebra.boneQuality);
        vertebra.sinsPosterolateral = sinsPosterolateralScore(vertebra.posterolateral);
        result.vertebrae.push_back(vertebra);
      }
      return result;
    }

    AnalysisResult withNotAssessableVertebrae(AnalysisResult result)
    {
      if (result.vertebrae.size() != 5)
      {
        throw std::runtime_error("withNotAssessableVertebrae expects the five vertebrae T11-L3");
      }
      result.assessment.outOfDistributionGate = true;
      result.assessment.outOfDistributionThreshold = 2.0;
      const float scores[] = {0.75f, 3.25f, 1.5f, 0.5f, 1.25f};
      for (size_t i = 0; i < result.vertebrae.size(); ++i)
      {
        result.vertebrae[i].outOfDistributionScore = scores[i];
      }
      markNotAssessable(result.vertebrae[1], {{NotAssessableReason::OutOfDistribution,
                                               "out-of-distribution score 3.25 above the gate's threshold 2"}});
      markNotAssessable(result.vertebrae[4], {{NotAssessableReason::CutBySeriesEdge, "the series ends 4 mm into the vertebra"},
                                              {NotAssessableReason::Metal, "12 voxels above 3000 HU in the vertebral body"}});
      return result;
    }

    AnalysisResult withNoVertebraAssessable(AnalysisResult result)
    {
      const NotAssessable thick{NotAssessableReason::SliceThickness,
                                "slices 8 mm thick, the model is validated for 0.5 to 5 mm"};
      result.assessment.seriesReasons = {thick};
      for (auto& vertebra : result.vertebrae)
      {
        markNotAssessable(vertebra, {thick});
      }
      return result;
    }

    PhantomWithResult makePhantomWithResult(uint64_t seed)
    {
      PhantomSettings settings;
      settings.seed = seed;
      settings.levels = "T11-L3";
      settings.matrix = 512;
      settings.pixelSpacingMm = 0.7;
      settings.sliceThicknessMm = 2.5;
      settings.labels = parsePhantomLabels("T11=normal,T12=lytic:bilateral,L1=blastic:unilateral-left,L2=mixed,"
                                           "L3=normal");
      PhantomWithResult made;
      made.study = generatePhantom(settings);
      made.result = resultFromTruth(made.study);
      return made;
    }
  }
}
