// SPDX-License-Identifier: GPL-3.0-or-later
#include "engine/Aggregation.h"

#include "common/AnalysisError.h"
#include "common/JsonFields.h"

#include <algorithm>

static_assert(static_cast<float>(spinemet::UNCERTAIN_LEVEL_CONFIDENCE) == spinemet::RESULT_UNCERTAIN_LEVEL_CONFIDENCE,
              "the result's and the spine stage's threshold of an uncertain level must agree");
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace spinemet
{
  namespace
  {
    // The rule's fields: the model metadata's "aggregation" object (common/JsonFields.h).
    const JsonFields FIELDS("model-contract", "model metadata");

    [[noreturn]] void refuse(const std::string& field, const std::string& problem)
    {
      FIELDS.refuse("aggregation." + field, problem);
    }

    std::string method(const Json::Value& object, const std::string& field)
    {
      if (!object.isObject() || !object["method"].isString())
      {
        refuse(field + ".method", "is missing or not a string");
      }
      return object["method"].asString();
    }

    size_t positiveInteger(const Json::Value& object, const std::string& field, const char* key)
    {
      return FIELDS.positiveInteger(object, "aggregation." + field, key);
    }

    // A subtask_topk_mean threshold: a probability strictly between 0 and 1.
    double probabilityThreshold(const Json::Value& boneQuality, const std::string& key)
    {
      const Json::Value& threshold = boneQuality[key];
      if (!threshold.isNumeric() || threshold.isBool() || threshold.asDouble() <= 0 || threshold.asDouble() >= 1)
      {
        refuse("bone_quality." + key, "is missing or not a number between 0 and 1");
      }
      return threshold.asDouble();
    }

    template <size_t N>
    std::array<float, N> mean(const std::vector<const std::array<float, N>*>& values)
    {
      std::array<double, N> sums{};
      for (const auto* v : values)
      {
        for (size_t c = 0; c < N; ++c)
        {
          sums[c] += (*v)[c];
        }
      }
      std::array<float, N> result{};
      for (size_t c = 0; c < N; ++c)
      {
        result[c] = static_cast<float>(sums[c] / values.size());
      }
      return result;
    }

    template <size_t N>
    size_t argmax(const std::array<float, N>& values)
    {
      return static_cast<size_t>(std::max_element(values.begin(), values.end()) - values.begin());
    }

    double topKMean(std::vector<float> values, size_t k)
    {
      k = std::min(k, values.size());
      std::partial_sort(values.begin(), values.begin() + k, values.end(), std::greater<float>());
      double sum = 0;
      for (size_t i = 0; i < k; ++i)
      {
        sum += values[i];
      }
      return sum / k;
    }

    void aggregateBoneQuality(const std::vector<const SliceResult*>& members, const AggregationRule& rule,
                              VertebraResult& vertebra)
    {
      std::vector<const std::array<float, 4>*> q;
      for (const auto* slice : members)
      {
        q.push_back(&slice->boneQuality);
      }
      const std::array<float, 4> meanQ = mean(q);
      std::array<float, 4> probabilities = meanQ;
      size_t chosen = argmax(meanQ);

      switch (rule.boneQuality)
      {
        case AggregationRule::BoneQualityMethod::MeanProbability:
          break;
        case AggregationRule::BoneQualityMethod::MajorityVote:
        {
          std::array<size_t, 4> votes{};
          for (const auto* slice : q)
          {
            ++votes[argmax(*slice)];
          }
          const size_t most = *std::max_element(votes.begin(), votes.end());
          chosen = 4;
          for (size_t c = 0; c < 4; ++c)
          {
            probabilities[c] = static_cast<float>(double(votes[c]) / q.size());
            if (votes[c] == most && (chosen == 4 || meanQ[c] > meanQ[chosen]))
            {
              chosen = c;
            }
          }
          break;
        }
        case AggregationRule::BoneQualityMethod::SubtaskTopKMean:
        {
          std::vector<float> blastic, lytic;
          for (const auto* slice : members)
          {
            blastic.push_back(slice->blastic);
            lytic.push_back(slice->lytic);
          }
          const double b = topKMean(blastic, rule.boneQualityK);
          const double l = topKMean(lytic, rule.boneQualityK);
          chosen = size_t(b >= rule.blasticThreshold) + 2 * size_t(l >= rule.lyticThreshold);
          probabilities = {float((1 - b) * (1 - l)), float(b * (1 - l)), float((1 - b) * l), float(b * l)};
          break;
        }
      }
      vertebra.boneQuality = static_cast<BoneQuality>(chosen);
      vertebra.boneQualityProbabilities = probabilities;
      vertebra.boneQualityProbability = probabilities[chosen];
    }

    void aggregatePosterolateral(const std::vector<const SliceResult*>& members, const AggregationRule& rule,
                                 VertebraResult& vertebra)
    {
      std::vector<const std::array<float, 3>*> r;
      for (const auto* slice : members)
      {
        r.push_back(&slice->posterolateral);
      }
      if (rule.posterolateral == AggregationRule::PosterolateralMethod::TopKInvolvementMean)
      {
        // members are in slice order, so a stable sort puts the lower slice first on a tie.
        std::stable_sort(r.begin(), r.end(), [](const auto* a, const auto* b) {
          return 1.0f - (*a)[0] > 1.0f - (*b)[0];
        });
        r.resize(std::min(rule.posterolateralK, r.size()));
      }
      vertebra.posterolateralProbabilities = mean(r);
      const size_t chosen = argmax(vertebra.posterolateralProbabilities);
      vertebra.posterolateral = static_cast<Posterolateral>(chosen);
      vertebra.posterolateralProbability = vertebra.posterolateralProbabilities[chosen];
    }

    std::vector<std::array<double, 2>> outline(const PixelBox& box)
    {
      return {{box.column0, box.row0}, {box.column1, box.row0}, {box.column1, box.row1},
              {box.column0, box.row1}, {box.column0, box.row0}};
    }
  }

  std::string AggregationRule::name() const
  {
    std::ostringstream out;
    out << "bone_quality=";
    switch (boneQuality)
    {
      case BoneQualityMethod::MeanProbability: out << "mean_probability"; break;
      case BoneQualityMethod::MajorityVote: out << "majority_vote"; break;
      case BoneQualityMethod::SubtaskTopKMean:
        out << "subtask_topk_mean(";
        if (!thresholdPerSubtask)
        {
          out << "k=" << boneQualityK << ",threshold=" << blasticThreshold << ")";
        }
        else
        {
          // Keys in sorted order, as aggregation.py's rule_name writes them.
          out << "blastic_threshold=" << blasticThreshold << ",k=" << boneQualityK
              << ",lytic_threshold=" << lyticThreshold << ")";
        }
        break;
    }
    out << "; posterolateral=";
    switch (posterolateral)
    {
      case PosterolateralMethod::MeanProbability: out << "mean_probability"; break;
      case PosterolateralMethod::TopKInvolvementMean: out << "topk_involvement_mean(k=" << posterolateralK << ")"; break;
    }
    return out.str();
  }

  AggregationRule aggregationRuleFromMetadata(const ModelMetadata& metadata)
  {
    AggregationRule rule;
    const Json::Value& aggregation = metadata.raw["aggregation"];
    if (!aggregation.isMember("bone_quality") && !aggregation.isMember("posterolateral"))
    {
      if (metadata.aggregation.empty() || metadata.aggregation == "mean_probability")
      {
        return rule;
      }
      refuse("rule", "is \"" + metadata.aggregation + "\", which this build does not know, and no " +
                       "\"bone_quality\"/\"posterolateral\" methods are given");
    }

    const Json::Value& boneQuality = aggregation["bone_quality"];
    const std::string bq = method(boneQuality, "bone_quality");
    if (bq == "mean_probability")
    {
      rule.boneQuality = AggregationRule::BoneQualityMethod::MeanProbability;
    }
    else if (bq == "majority_vote")
    {
      rule.boneQuality = AggregationRule::BoneQualityMethod::MajorityVote;
    }
    else if (bq == "subtask_topk_mean")
    {
      rule.boneQuality = AggregationRule::BoneQualityMethod::SubtaskTopKMean;
      rule.boneQualityK = positiveInteger(boneQuality, "bone_quality", "k");
      const bool perSubtask = boneQuality.isMember("blastic_threshold") || boneQuality.isMember("lytic_threshold");
      if (perSubtask && boneQuality.isMember("threshold"))
      {
        refuse("bone_quality.threshold", "is given together with blastic_threshold/lytic_threshold: give either "
                                         "one threshold or both subtask thresholds");
      }
      rule.thresholdPerSubtask = perSubtask;
      if (perSubtask)
      {
        rule.blasticThreshold = probabilityThreshold(boneQuality, "blastic_threshold");
        rule.lyticThreshold = probabilityThreshold(boneQuality, "lytic_threshold");
      }
      else
      {
        rule.blasticThreshold = rule.lyticThreshold = probabilityThreshold(boneQuality, "threshold");
      }
    }
    else
    {
      refuse("bone_quality.method", "is \"" + bq + "\", which this build does not know (mean_probability, "
                                    "majority_vote, subtask_topk_mean)");
    }

    const Json::Value& posterolateral = aggregation["posterolateral"];
    const std::string pl = method(posterolateral, "posterolateral");
    if (pl == "mean_probability")
    {
      rule.posterolateral = AggregationRule::PosterolateralMethod::MeanProbability;
    }
    else if (pl == "topk_involvement_mean")
    {
      rule.posterolateral = AggregationRule::PosterolateralMethod::TopKInvolvementMean;
      rule.posterolateralK = positiveInteger(posterolateral, "posterolateral", "k");
    }
    else
    {
      refuse("posterolateral.method", "is \"" + pl + "\", which this build does not know (mean_probability, "
                                      "topk_involvement_mean)");
    }
    return rule;
  }

  std::vector<VertebraResult> aggregateVertebrae(std::vector<SliceResult>& slices,
                                                 const SpineLayout& layout,
                                                 const AggregationRule& rule)
  {
    std::vector<std::vector<const SliceResult*>> members(layout.vertebrae.size());
    for (size_t i = 0; i < slices.size(); ++i)
    {
      const SliceResult& slice = slices[i];
      if (slice.vertebra < 0 || static_cast<size_t>(slice.vertebra) >= members.size())
      {
        throw std::invalid_argument("aggregateVertebrae: slice " + std::to_string(slice.sliceIndex) + " names vertebra " +
                                    std::to_string(slice.vertebra) + ", not one of the layout's");
      }
      if (i > 0 && slices[i - 1].sliceIndex >= slice.sliceIndex)
      {
        throw std::invalid_argument("aggregateVertebrae: slices are not sorted by slice index");
      }
      members[slice.vertebra].push_back(&slice);
    }

    std::vector<VertebraResult> vertebrae;
    std::vector<int> newIndex(layout.vertebrae.size(), -1);
    for (size_t v = 0; v < layout.vertebrae.size(); ++v)
    {
      if (members[v].empty())
      {
        continue;
      }
      const Vertebra& source = layout.vertebrae[v];
      VertebraResult result;
      result.index = static_cast<int>(vertebrae.size());
      result.level = source.level;
      result.displayName = source.displayName(layout.vertebrae.size());
      if (v < layout.levelEvidence.size() && !source.level.empty())
      {
        result.levelConfidence = static_cast<float>(layout.levelEvidence[v].confidence);
        result.levelLandmark = layout.levelEvidence[v].landmark;
        // Every surface shows the display name ("T12? lytic" on an overlay, in OHIF, in the SR's
        // tracking identifier): an uncertain level says so there too.
        if (layout.levelEvidence[v].confidence < UNCERTAIN_LEVEL_CONFIDENCE)
        {
          result.displayName = source.level + "?";
        }
      }
      result.firstSlice = members[v].front()->sliceIndex;
      result.lastSlice = members[v].back()->sliceIndex;
      aggregateBoneQuality(members[v], rule, result);
      aggregatePosterolateral(members[v], rule, result);
      result.sinsBoneLesion = sinsBoneLesionScore(result.boneQuality);
      result.sinsPosterolateral = sinsPosterolateralScore(result.posterolateral);

      const size_t cls = static_cast<size_t>(result.boneQuality);
      const SliceResult* key = members[v].front();
      for (const auto* slice : members[v])
      {
        if (slice->boneQuality[cls] > key->boneQuality[cls])
        {
          key = slice;
        }
      }
      result.keySlice = key->sliceIndex;
      result.keySliceSopInstanceUid = key->sopInstanceUid;
      if (key->sliceIndex < layout.slices.size())
      {
        result.keySliceOutline = outline(layout.slices[key->sliceIndex].vertebralBody);
      }
      newIndex[v] = result.index;
      vertebrae.push_back(std::move(result));
    }

    for (auto& slice : slices)
    {
      slice.vertebra = newIndex[slice.vertebra];
    }
    return vertebrae;
  }
}
