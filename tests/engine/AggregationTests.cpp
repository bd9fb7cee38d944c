// SPDX-License-Identifier: GPL-3.0-or-later
// Slice -> vertebra aggregation: the rules of training/spinemet_train/aggregation.py, checked on
// hand-made vertebrae and against the Python implementation on random ones.

#include "engine/Aggregation.h"
#include "common/AnalysisError.h"

#include <gtest/gtest.h>
#include <json/reader.h>

#include <cstdlib>
#include <fstream>
#include <memory>

namespace spinemet
{
  namespace
  {
    SpineLayout layoutWith(const std::vector<std::pair<size_t, size_t>>& ranges, size_t slices)
    {
      SpineLayout layout;
      layout.slices.resize(slices);
      for (size_t v = 0; v < ranges.size(); ++v)
      {
        Vertebra vertebra;
        vertebra.index = static_cast<int>(v);
        vertebra.level = v == 0 ? "L1" : "";
        vertebra.firstSlice = ranges[v].first;
        vertebra.lastSlice = ranges[v].second;
        layout.vertebrae.push_back(vertebra);
        for (size_t s = ranges[v].first; s <= ranges[v].second; ++s)
        {
          layout.slices[s].vertebraPresent = true;
          layout.slices[s].vertebra = static_cast<int>(v);
          layout.slices[s].vertebralBody = {100.0 + s, 200.0, 150.0 + s, 240.0};
        }
      }
      return layout;
    }

    SliceResult slice(size_t index, int vertebra, std::array<float, 4> q, std::array<float, 3> r = {1, 0, 0},
                      float blastic = 0, float lytic = 0)
    {
      SliceResult s;
      s.sliceIndex = index;
      s.sopInstanceUid = "1.2.3." + std::to_string(index);
      s.vertebra = vertebra;
      s.boneQuality = q;
      s.posterolateral = r;
      s.blastic = blastic;
      s.lytic = lytic;
      return s;
    }

    ModelMetadata metadataWith(const std::string& aggregationJson)
    {
      Json::CharReaderBuilder builder;
      std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
      ModelMetadata metadata;
      std::string errors;
      Json::Value aggregation;
      EXPECT_TRUE(reader->parse(aggregationJson.data(), aggregationJson.data() + aggregationJson.size(), &aggregation,
                                &errors));
      metadata.raw["aggregation"] = aggregation;
      metadata.aggregation = aggregation.get("rule", "").asString();
      return metadata;
    }

    std::string refusal(const std::string& aggregationJson)
    {
      try
      {
        aggregationRuleFromMetadata(metadataWith(aggregationJson));
      }
      catch (const AnalysisError& error)
      {
        EXPECT_EQ(error.code(), "model-contract");
        return error.what();
      }
      return "accepted";
    }
  }

  TEST(Aggregation, MeanProbabilityKeySliceOutlineAndSins)
  {
    const SpineLayout layout = layoutWith({{5, 7}, {10, 11}}, 14);
    std::vector<SliceResult> slices = {
      slice(5, 0, {0.1f, 0.1f, 0.7f, 0.1f}, {0.2f, 0.7f, 0.1f}),
      slice(6, 0, {0.1f, 0.1f, 0.8f, 0.0f}, {0.2f, 0.6f, 0.2f}),
      slice(7, 0, {0.7f, 0.1f, 0.1f, 0.1f}, {0.9f, 0.05f, 0.05f}),
      slice(10, 1, {0.9f, 0.1f, 0.0f, 0.0f}),
      slice(11, 1, {0.8f, 0.2f, 0.0f, 0.0f}),
    };
    const auto vertebrae = aggregateVertebrae(slices, layout, AggregationRule());
    ASSERT_EQ(vertebrae.size(), 2u);

    const VertebraResult& first = vertebrae[0];
    EXPECT_EQ(first.displayName, "L1");
    EXPECT_EQ(first.boneQuality, BoneQuality::Lytic);
    EXPECT_NEAR(first.boneQualityProbability, (0.7 + 0.8 + 0.1) / 3, 1e-6);
    EXPECT_EQ(first.posterolateral, Posterolateral::Unilateral);
    EXPECT_NEAR(first.posterolateralProbabilities[1], (0.7 + 0.6 + 0.05) / 3, 1e-6);
    EXPECT_EQ(first.sinsBoneLesion, 2);
    EXPECT_EQ(first.sinsPosterolateral, 1);
    EXPECT_EQ(first.firstSlice, 5u);
    EXPECT_EQ(first.lastSlice, 7u);
    EXPECT_EQ(first.keySlice, 6u);                  // the most confident lytic slice
    EXPECT_EQ(first.keySliceSopInstanceUid, "1.2.3.6");
    ASSERT_EQ(first.keySliceOutline.size(), 5u);
    EXPECT_EQ(first.keySliceOutline[0], (std::array<double, 2>{106, 200}));
    EXPECT_EQ(first.keySliceOutline[2], (std::array<double, 2>{156, 240}));

    EXPECT_EQ(vertebrae[1].displayName, "vertebra 2 of 2");
    EXPECT_EQ(vertebrae[1].boneQuality, BoneQuality::Normal);
    EXPECT_EQ(vertebrae[1].sinsBoneLesion, 0);
    EXPECT_EQ(vertebrae[1].sinsPosterolateral, 0);
  }

  TEST(Aggregation, VertebraeWithoutSlicesAreLeftOutAndSlicesReindexed)
  {
    const SpineLayout layout = layoutWith({{1, 2}, {4, 5}, {7, 8}}, 10);
    std::vector<SliceResult> slices = {slice(1, 0, {1, 0, 0, 0}), slice(7, 2, {0, 1, 0, 0}), slice(8, 2, {0, 1, 0, 0})};
    const auto vertebrae = aggregateVertebrae(slices, layout, AggregationRule());
    ASSERT_EQ(vertebrae.size(), 2u);
    EXPECT_EQ(vertebrae[1].index, 1);
    EXPECT_EQ(vertebrae[1].boneQuality, BoneQuality::Blastic);
    EXPECT_EQ(vertebrae[1].displayName, "vertebra 3 of 3");
    EXPECT_EQ(slices[1].vertebra, 1);
    EXPECT_EQ(slices[0].vertebra, 0);
  }

  TEST(Aggregation, RefusesSlicesThatDoNotMatchTheLayout)
  {
    const SpineLayout layout = layoutWith({{1, 2}}, 4);
    std::vector<SliceResult> outside = {slice(1, 3, {1, 0, 0, 0})};
    EXPECT_THROW(aggregateVertebrae(outside, layout, AggregationRule()), std::invalid_argument);
    std::vector<SliceResult> unsorted = {slice(2, 0, {1, 0, 0, 0}), slice(1, 0, {1, 0, 0, 0})};
    EXPECT_THROW(aggregateVertebrae(unsorted, layout, AggregationRule()), std::invalid_argument);
  }

  TEST(Aggregation, SubtaskTopKUsesTheTruthTable)
  {
    const SpineLayout layout = layoutWith({{0, 3}}, 4);
    std::vector<SliceResult> slices = {
      slice(0, 0, {1, 0, 0, 0}, {1, 0, 0}, 0.1f, 0.9f), slice(1, 0, {1, 0, 0, 0}, {1, 0, 0}, 0.7f, 0.8f),
      slice(2, 0, {1, 0, 0, 0}, {1, 0, 0}, 0.1f, 0.1f), slice(3, 0, {1, 0, 0, 0}, {1, 0, 0}, 0.2f, 0.1f)};
    AggregationRule rule;
    rule.boneQuality = AggregationRule::BoneQualityMethod::SubtaskTopKMean;
    rule.boneQualityK = 2;
    rule.blasticThreshold = rule.lyticThreshold = 0.5;
    // B = (0.7 + 0.2) / 2 = 0.45 (not blastic), L = (0.9 + 0.8) / 2 = 0.85 (lytic).
    auto vertebrae = aggregateVertebrae(slices, layout, rule);
    EXPECT_EQ(vertebrae[0].boneQuality, BoneQuality::Lytic);
    EXPECT_NEAR(vertebrae[0].boneQualityProbability, (1 - 0.45) * 0.85, 1e-6);
    rule.boneQualityK = 1;   // B = 0.7, L = 0.9: both, mixed
    EXPECT_EQ(aggregateVertebrae(slices, layout, rule)[0].boneQuality, BoneQuality::Mixed);
  }

  TEST(Aggregation, SubtaskTopKWithAThresholdPerSubtask)
  {
    const SpineLayout layout = layoutWith({{0, 1}}, 2);
    // B = 0.7, L = 0.6 (k = 1).
    std::vector<SliceResult> slices = {slice(0, 0, {1, 0, 0, 0}, {1, 0, 0}, 0.7f, 0.2f),
                                       slice(1, 0, {1, 0, 0, 0}, {1, 0, 0}, 0.3f, 0.6f)};
    AggregationRule rule;
    rule.boneQuality = AggregationRule::BoneQualityMethod::SubtaskTopKMean;
    rule.boneQualityK = 1;
    rule.blasticThreshold = 0.8;
    rule.lyticThreshold = 0.5;
    EXPECT_EQ(aggregateVertebrae(slices, layout, rule)[0].boneQuality, BoneQuality::Lytic);
    rule.blasticThreshold = 0.5;
    rule.lyticThreshold = 0.8;
    EXPECT_EQ(aggregateVertebrae(slices, layout, rule)[0].boneQuality, BoneQuality::Blastic);
    rule.lyticThreshold = 0.6;   // L >= threshold: called
    EXPECT_EQ(aggregateVertebrae(slices, layout, rule)[0].boneQuality, BoneQuality::Mixed);
    rule.blasticThreshold = 0.71;
    rule.lyticThreshold = 0.61;
    EXPECT_EQ(aggregateVertebrae(slices, layout, rule)[0].boneQuality, BoneQuality::Normal);
  }

  TEST(Aggregation, PerSubtaskThresholdsFromMetadata)
  {
    const AggregationRule rule = aggregationRuleFromMetadata(metadataWith(
      R"({"bone_quality": {"method": "subtask_topk_mean", "k": 1, "blastic_threshold": 0.97,
                           "lytic_threshold": 0.9}, "posterolateral": {"method": "mean_probability"}})"));
    EXPECT_DOUBLE_EQ(rule.blasticThreshold, 0.97);
    EXPECT_DOUBLE_EQ(rule.lyticThreshold, 0.9);
    EXPECT_EQ(rule.name(), "bone_quality=subtask_topk_mean(blastic_threshold=0.97,k=1,lytic_threshold=0.9); "
                           "posterolateral=mean_probability");

    EXPECT_NE(refusal(R"({"bone_quality": {"method": "subtask_topk_mean", "k": 1, "blastic_threshold": 0.9},
                          "posterolateral": {"method": "mean_probability"}})")
                .find("aggregation.bone_quality.lytic_threshold"), std::string::npos);
    EXPECT_NE(refusal(R"({"bone_quality": {"method": "subtask_topk_mean", "k": 1, "blastic_threshold": 1.5,
                          "lytic_threshold": 0.9}, "posterolateral": {"method": "mean_probability"}})")
                .find("aggregation.bone_quality.blastic_threshold"), std::string::npos);
    EXPECT_NE(refusal(R"({"bone_quality": {"method": "subtask_topk_mean", "k": 1, "threshold": 0.5,
                          "blastic_threshold": 0.9, "lytic_threshold": 0.9},
                          "posterolateral": {"method": "mean_probability"}})")
                .find("given together"), std::string::npos);
  }

  TEST(Aggregation, RuleFromMetadata)
  {
    EXPECT_EQ(aggregationRuleFromMetadata(metadataWith(R"({"rule": "mean_probability"})")).name(),
              "bone_quality=mean_probability; posterolateral=mean_probability");
    const AggregationRule rule = aggregationRuleFromMetadata(metadataWith(
      R"({"rule": "x", "bone_quality": {"method": "subtask_topk_mean", "k": 3, "threshold": 0.4},
          "posterolateral": {"method": "topk_involvement_mean", "k": 2}})"));
    EXPECT_EQ(rule.boneQuality, AggregationRule::BoneQualityMethod::SubtaskTopKMean);
    EXPECT_EQ(rule.boneQualityK, 3u);
    EXPECT_DOUBLE_EQ(rule.blasticThreshold, 0.4);   // the single threshold of models up to 0.4.0: both
    EXPECT_DOUBLE_EQ(rule.lyticThreshold, 0.4);
    EXPECT_EQ(rule.posterolateral, AggregationRule::PosterolateralMethod::TopKInvolvementMean);
    EXPECT_EQ(rule.posterolateralK, 2u);
    EXPECT_EQ(rule.name(),
              "bone_quality=subtask_topk_mean(k=3,threshold=0.4); posterolateral=topk_involvement_mean(k=2)");

    EXPECT_NE(refusal(R"({"rule": "median"})").find("\"aggregation.rule\" is \"median\""), std::string::npos);
    EXPECT_NE(refusal(R"({"bone_quality": {"method": "median"}, "posterolateral": {"method": "mean_probability"}})")
                .find("aggregation.bone_quality.method"), std::string::npos);
    EXPECT_NE(refusal(R"({"bone_quality": {"method": "subtask_topk_mean", "threshold": 0.5},
                          "posterolateral": {"method": "mean_probability"}})")
                .find("aggregation.bone_quality.k"), std::string::npos);
    EXPECT_NE(refusal(R"({"bone_quality": {"method": "majority_vote"}})").find("aggregation.posterolateral.method"),
              std::string::npos);
  }

  TEST(Aggregation, SameClassesAsThePythonRules)
  {
    const char* folder = std::getenv("SPINEMET_ENGINE_MODELS");
    ASSERT_NE(folder, nullptr);
    std::ifstream file(std::string(folder) + "/aggregation-cases.json");
    Json::Value cases;
    std::string errors;
    ASSERT_TRUE(Json::parseFromStream(Json::CharReaderBuilder(), file, &cases, &errors)) << errors;
    ASSERT_GE(cases.size(), 10u);

    size_t checked = 0;
    for (const Json::Value& c : cases)
    {
      const size_t n = c["blastic"].size();
      const SpineLayout layout = layoutWith({{0, n - 1}}, n);
      std::vector<SliceResult> slices;
      for (Json::ArrayIndex s = 0; s < n; ++s)
      {
        SliceResult result = slice(s, 0, {}, {}, c["blastic"][s].asFloat(), c["lytic"][s].asFloat());
        for (Json::ArrayIndex k = 0; k < 4; ++k)
        {
          result.boneQuality[k] = c["bone_quality"][s][k].asFloat();
        }
        for (Json::ArrayIndex k = 0; k < 3; ++k)
        {
          result.posterolateral[k] = c["posterolateral"][s][k].asFloat();
        }
        slices.push_back(result);
      }
      for (const Json::Value& boneQuality : c["bone_quality_rules"])
      {
        for (const Json::Value& posterolateral : c["posterolateral_rules"])
        {
          ModelMetadata metadata;
          metadata.raw["aggregation"]["bone_quality"] = boneQuality["rule"];
          metadata.raw["aggregation"]["posterolateral"] = posterolateral["rule"];
          const AggregationRule rule = aggregationRuleFromMetadata(metadata);
          std::vector<SliceResult> copy = slices;
          const auto vertebrae = aggregateVertebrae(copy, layout, rule);
          ASSERT_EQ(vertebrae.size(), 1u);
          EXPECT_EQ(static_cast<int>(vertebrae[0].boneQuality), boneQuality["class"].asInt()) << rule.name();
          EXPECT_EQ(static_cast<int>(vertebrae[0].posterolateral), posterolateral["class"].asInt()) << rule.name();
          ++checked;
        }
      }
    }
    RecordProperty("combinations_checked", static_cast<int>(checked));
  }

  TEST(Aggregation, LevelsCarryTheirConfidenceAndAnUncertainOneSaysSoInItsName)
  {
    SpineLayout layout = layoutWith({{1, 2}, {4, 5}}, 8);
    layout.vertebrae[1].level = "L2";
    layout.levelEvidence = {VertebraLevelEvidence{0.75, "last rib"}, VertebraLevelEvidence{0.9, "first rib"}};
    std::vector<SliceResult> slices = {slice(1, 0, {1, 0, 0, 0}), slice(4, 1, {1, 0, 0, 0})};
    const auto vertebrae = aggregateVertebrae(slices, layout, AggregationRule());
    ASSERT_EQ(vertebrae.size(), 2u);
    EXPECT_EQ(vertebrae[0].level, "L1");
    EXPECT_EQ(vertebrae[0].displayName, "L1?");     // below UNCERTAIN_LEVEL_CONFIDENCE
    EXPECT_FLOAT_EQ(vertebrae[0].levelConfidence, 0.75f);
    EXPECT_EQ(vertebrae[0].levelLandmark, "last rib");
    EXPECT_EQ(vertebrae[1].displayName, "L2");
    EXPECT_EQ(vertebrae[1].levelLandmark, "first rib");
  }
}
