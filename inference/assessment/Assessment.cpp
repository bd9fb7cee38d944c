// SPDX-License-Identifier: GPL-3.0-or-later
#include "assessment/Assessment.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace spinemet
{
  float medianScore(std::vector<float> scores)
  {
    if (scores.empty() || std::any_of(scores.begin(), scores.end(), [](float s) { return std::isnan(s); }))
    {
      return std::numeric_limits<float>::quiet_NaN();
    }
    std::sort(scores.begin(), scores.end());
    const size_t n = scores.size();
    return n % 2 == 1 ? scores[n / 2] : 0.5f * (scores[n / 2 - 1] + scores[n / 2]);
  }

  void assessVertebrae(AnalysisResult& result,
                       const std::vector<NotAssessable>& seriesReasons,
                       const std::vector<std::vector<NotAssessable>>& vertebraReasons,
                       const std::vector<size_t>& layoutIndex,
                       const std::optional<OutOfDistributionGate>& gate)
  {
    if (layoutIndex.size() != result.vertebrae.size())
    {
      throw std::invalid_argument("assessVertebrae: " + std::to_string(layoutIndex.size()) + " layout indices for " +
                                  std::to_string(result.vertebrae.size()) + " vertebrae");
    }
    result.assessment.seriesReasons = seriesReasons;
    result.assessment.outOfDistributionGate = gate.has_value();
    result.assessment.outOfDistributionThreshold = gate ? gate->threshold : 0;

    std::vector<std::vector<float>> scores(result.vertebrae.size());
    for (const SliceResult& slice : result.slices)
    {
      scores.at(static_cast<size_t>(slice.vertebra)).push_back(slice.outOfDistributionScore);
    }
    for (size_t v = 0; v < result.vertebrae.size(); ++v)
    {
      VertebraResult& vertebra = result.vertebrae[v];
      std::vector<NotAssessable> reasons = seriesReasons;
      const auto& own = vertebraReasons.at(layoutIndex[v]);
      reasons.insert(reasons.end(), own.begin(), own.end());
      if (gate)
      {
        vertebra.outOfDistributionScore = medianScore(scores[v]);
        // A NaN score (no crop scored) is not evidence of anything: only a score above the
        // threshold withholds the finding.
        if (vertebra.outOfDistributionScore > gate->threshold)
        {
          char detail[160];
          std::snprintf(detail, sizeof(detail),
                        "unlike anything the model was trained on (out-of-distribution score %.1f, threshold %.1f)",
                        double(vertebra.outOfDistributionScore), gate->threshold);
          reasons.push_back({NotAssessableReason::OutOfDistribution, detail});
        }
      }
      markNotAssessable(vertebra, reasons);
    }
  }
}
