// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Turns the input checks and the out-of-distribution scores into each vertebra's assessability
// (docs/assessability.md). Runs on a result whose vertebrae carry the model's findings; withholds
// the finding of every vertebra that is not assessable.

#include "model/ModelContract.h"
#include "result/AnalysisResult.h"

#include <optional>
#include <vector>

namespace spinemet
{
  // `seriesReasons` apply to every vertebra; `vertebraReasons[i]` to the layout vertebra i, and
  // `layoutIndex[v]` is the layout vertebra of result.vertebrae[v]. With a gate, each vertebra's
  // score is the median of its slices' scores, and above the gate's threshold it is not
  // assessable.
  void assessVertebrae(AnalysisResult& result,
                       const std::vector<NotAssessable>& seriesReasons,
                       const std::vector<std::vector<NotAssessable>>& vertebraReasons,
                       const std::vector<size_t>& layoutIndex,
                       const std::optional<OutOfDistributionGate>& gate);

  // The median of the scores (NaN for none or any NaN: a gate that saw no crop decides nothing).
  float medianScore(std::vector<float> scores);
}
