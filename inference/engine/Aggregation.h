// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Slice predictions -> one finding per vertebra. No LibTorch here: the plugin, the tools and the
// tests aggregate without linking the engine.
//
// The rules are those of training/spinemet_train/aggregation.py (docs/training.md), which chooses
// one by measurement and records it in the model metadata's "aggregation" object:
//   {"rule": "...", "bone_quality": {"method": ..., ...}, "posterolateral": {"method": ..., ...}}
// Bone quality (q_s = the slice's four-class probabilities, pb_s / pl_s = P(blastic) / P(lytic)):
//   mean_probability           argmax_c mean_s q_s[c]
//   majority_vote              the most frequent argmax_c q_s[c]; a tie goes to the tied class with
//                              the larger mean_s q_s[c]
//   subtask_topk_mean {k, blastic_threshold, lytic_threshold} or {k, threshold}
//                              B = mean of the min(k, n) largest pb_s, L = the same for pl_s;
//                              blastic = B >= blastic threshold, lytic = L >= lytic threshold
//                              ("threshold" alone, as models up to 0.4.0 write it: the same for
//                              both; giving it together with the pair is refused); truth table
// Posterolateral (r_s = the slice's three-class probabilities):
//   mean_probability           argmax_c mean_s r_s[c]
//   topk_involvement_mean {k}  the min(k, n) slices with the largest 1 - r_s[none] (ties: lower
//                              slice first), argmax_c of the mean of their r_s[c]
// Ties in argmax go to the lower class index. A metadata object without "bone_quality" and
// "posterolateral" whose "rule" is "mean_probability" (or absent) means mean_probability for both.

#include "model/ModelContract.h"
#include "result/AnalysisResult.h"
#include "spine/Spine.h"

#include <cstddef>
#include <string>
#include <vector>

namespace spinemet
{
  struct AggregationRule
  {
    enum class BoneQualityMethod { MeanProbability, MajorityVote, SubtaskTopKMean };
    enum class PosterolateralMethod { MeanProbability, TopKInvolvementMean };

    BoneQualityMethod boneQuality = BoneQualityMethod::MeanProbability;
    size_t boneQualityK = 1;          // SubtaskTopKMean
    double blasticThreshold = 0.5;    // SubtaskTopKMean: B >= blasticThreshold calls blastic
    double lyticThreshold = 0.5;      // SubtaskTopKMean: L >= lyticThreshold calls lytic
    bool thresholdPerSubtask = false; // SubtaskTopKMean: the metadata gave the pair (for name())
    PosterolateralMethod posterolateral = PosterolateralMethod::MeanProbability;
    size_t posterolateralK = 1;       // TopKInvolvementMean

    // As training/spinemet_train/aggregation.py names it: "bone_quality=...; posterolateral=...".
    std::string name() const;
  };

  // The rule of the metadata's "aggregation" object. Throws AnalysisError("model-contract") for a
  // method this build does not know or a missing/invalid parameter, naming the field.
  AggregationRule aggregationRuleFromMetadata(const ModelMetadata& metadata);

  // Fills the vertebrae from the slice results, each slice carrying its layout vertebra in
  // `vertebra`, sorted by slice index. Per layout vertebra with classified slices: the classes by
  // `rule`, the class probabilities (below), the key slice (the slice with the highest
  // probability of the vertebra's bone-quality class; the lower slice on a tie) with the
  // vertebral-body box of that slice as outline, and the SINS partial scores. Vertebrae without
  // classified slices are left out, and `slices[i].vertebra` is rewritten to index the result.
  //
  // boneQualityProbabilities: mean_probability the mean q; majority_vote the fraction of slices
  // voting for each class; subtask_topk_mean the truth table over B and L taken as independent,
  // ((1-B)(1-L), B(1-L), (1-B)L, BL). posterolateralProbabilities: the mean of r over the slices
  // the rule uses. The class probability is the entry of the chosen class.
  std::vector<VertebraResult> aggregateVertebrae(std::vector<SliceResult>& slices,
                                                 const SpineLayout& layout,
                                                 const AggregationRule& rule);
}
