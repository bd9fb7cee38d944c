// SPDX-License-Identifier: GPL-3.0-or-later
// The analysis result: SINS partial scores, the study summary, and its JSON form.

#include "common/AnalysisError.h"
#include "result/AnalysisResult.h"

#include <gtest/gtest.h>
#include <json/reader.h>
#include <json/writer.h>

#include <cmath>
#include <memory>
#include <sstream>

namespace spinemet
{
  namespace
  {
    VertebraResult vertebra(int index, BoneQuality quality, Posterolateral posterolateral)
    {
      VertebraResult v;
      v.index = index;
      v.level = index == 0 ? "T11" : "";
      v.displayName = index == 0 ? "T11" : "vertebra " + std::to_string(index + 1) + " of 2";
      v.firstSlice = 10 + 20 * index;
      v.lastSlice = v.firstSlice + 12;
      v.keySlice = v.firstSlice + 5;
      v.keySliceSopInstanceUid = "1.2.3.4." + std::to_string(v.keySlice);
      v.keySliceOutline = {{200.5, 260.25}, {310.0, 260.25}, {310.0, 330.75}, {200.5, 330.75}, {200.5, 260.25}};
      v.boneQuality = quality;
      v.boneQualityProbabilities = {0.1f, 0.2f, 0.3f, 0.4f};
      v.boneQualityProbabilities[static_cast<size_t>(quality)] = 0.7123456789f;
      v.boneQualityProbability = v.boneQualityProbabilities[static_cast<size_t>(quality)];
      v.posterolateral = posterolateral;
      v.posterolateralProbabilities = {0.2f, 0.3f, 0.1f};
      v.posterolateralProbabilities[static_cast<size_t>(posterolateral)] = 0.6f;
      v.posterolateralProbability = 0.6f;
      v.sinsBoneLesion = sinsBoneLesionScore(quality);
      v.sinsPosterolateral = sinsPosterolateralScore(posterolateral);
      return v;
    }

    AnalysisResult sample()
    {
      AnalysisResult result;
      result.series.patientName = "Phantom^Spine";
      result.series.patientId = "PH-001";
      result.series.studyInstanceUid = "1.2.826.0.1.3680043.10.1";
      result.series.seriesInstanceUid = "1.2.826.0.1.3680043.10.1.2";
      result.series.modality = "CT";
      result.series.specificCharacterSet = "ISO_IR 192";
      result.geometry.columns = 512;
      result.geometry.rows = 512;
      result.geometry.slices = 60;
      result.geometry.columnSpacing = 0.78125;
      result.geometry.rowSpacing = 0.78125;
      result.geometry.sliceSpacing = 2.5;
      result.geometry.sliceThickness = 2.5;
      result.geometry.origin = {-200.0, -180.5, -412.25};
      result.model = {"spinemet-demo", "0.1.0", "densenet multitask", "synthetic CT phantoms"};
      result.vertebrae = {vertebra(0, BoneQuality::Lytic, Posterolateral::Unilateral),
                          vertebra(1, BoneQuality::Blastic, Posterolateral::None)};
      for (size_t s = 10; s < 23; ++s)
      {
        SliceResult slice;
        slice.sliceIndex = s;
        slice.sopInstanceUid = "1.2.3.4." + std::to_string(s);
        slice.vertebra = 0;
        slice.blastic = 0.015625f * s;
        slice.lytic = 1.0f / 3.0f;
        slice.boneQuality = {0.1f, 0.2f, 0.3f, 0.4f};
        slice.posterolateral = {0.5f, 0.25f, 0.25f};
        result.slices.push_back(slice);
      }
      result.warnings = {"slice 12 duplicated: kept 1.2.3.4.12"};
      return result;
    }

    std::string write(const Json::Value& json)
    {
      Json::StreamWriterBuilder builder;
      return Json::writeString(builder, json);
    }

    Json::Value read(const std::string& text)
    {
      Json::CharReaderBuilder builder;
      std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
      Json::Value json;
      std::string errors;
      EXPECT_TRUE(reader->parse(text.data(), text.data() + text.size(), &json, &errors)) << errors;
      return json;
    }

    std::string refusal(const Json::Value& json)
    {
      try
      {
        resultFromJson(json);
      }
      catch (const AnalysisError& error)
      {
        return error.what();
      }
      return "accepted";
    }
  }

  TEST(Sins, PartialScoresFollowFisher2010)
  {
    EXPECT_EQ(sinsBoneLesionScore(BoneQuality::Lytic), 2);
    EXPECT_EQ(sinsBoneLesionScore(BoneQuality::Mixed), 1);
    EXPECT_EQ(sinsBoneLesionScore(BoneQuality::Blastic), 0);
    EXPECT_EQ(sinsBoneLesionScore(BoneQuality::Normal), 0);
    EXPECT_EQ(sinsPosterolateralScore(Posterolateral::Bilateral), 3);
    EXPECT_EQ(sinsPosterolateralScore(Posterolateral::Unilateral), 1);
    EXPECT_EQ(sinsPosterolateralScore(Posterolateral::None), 0);
  }

  TEST(ResultNames, RoundTripAndRefuseUnknown)
  {
    for (auto q : {BoneQuality::Normal, BoneQuality::Blastic, BoneQuality::Lytic, BoneQuality::Mixed})
    {
      EXPECT_EQ(parseBoneQuality(toString(q)), q);
    }
    for (auto p : {Posterolateral::None, Posterolateral::Unilateral, Posterolateral::Bilateral})
    {
      EXPECT_EQ(parsePosterolateral(toString(p)), p);
    }
    EXPECT_STREQ(toString(BoneQuality::Mixed), "mixed");
    EXPECT_STREQ(toString(Posterolateral::Bilateral), "bilateral");
    EXPECT_THROW(parseBoneQuality("Lytic"), std::invalid_argument);
    EXPECT_THROW(parsePosterolateral("left"), std::invalid_argument);
  }

  TEST(StudySummary, HighestFindingBySinsSeverity)
  {
    AnalysisResult result;
    EXPECT_FALSE(result.lesionSuspected());
    EXPECT_EQ(result.highestBoneQuality(), BoneQuality::Normal);

    result.vertebrae = {vertebra(0, BoneQuality::Normal, Posterolateral::None)};
    EXPECT_FALSE(result.lesionSuspected());
    result.vertebrae.push_back(vertebra(1, BoneQuality::Blastic, Posterolateral::None));
    EXPECT_TRUE(result.lesionSuspected());
    EXPECT_EQ(result.highestBoneQuality(), BoneQuality::Blastic);
    result.vertebrae.push_back(vertebra(2, BoneQuality::Lytic, Posterolateral::None));
    result.vertebrae.push_back(vertebra(3, BoneQuality::Mixed, Posterolateral::None));
    EXPECT_EQ(result.highestBoneQuality(), BoneQuality::Lytic);
    result.vertebrae.erase(result.vertebrae.begin() + 2);
    EXPECT_EQ(result.highestBoneQuality(), BoneQuality::Mixed);
  }

  TEST(ResultJson, RoundTripThroughTextIsExact)
  {
    const AnalysisResult original = sample();
    const Json::Value json = toJson(original);
    EXPECT_EQ(json["schema"].asString(), "spinemet-result/2");
    EXPECT_EQ(json["summary"]["state"].asString(), "lesion-suspected");
    EXPECT_TRUE(json["vertebrae"][0]["assessable"].asBool());
    EXPECT_TRUE(json["vertebrae"][0]["out_of_distribution_score"].isNull());
    EXPECT_FALSE(json["assessment"]["out_of_distribution_gate"].asBool());
    EXPECT_TRUE(json["summary"]["lesion_suspected"].asBool());
    EXPECT_EQ(json["summary"]["highest_bone_quality"].asString(), "lytic");
    EXPECT_EQ(json["vertebrae"][0]["sins"]["bone_lesion"].asInt(), 2);
    EXPECT_EQ(json["vertebrae"][0]["sins"]["posterolateral"].asInt(), 1);
    EXPECT_TRUE(json["vertebrae"][1]["level"].isNull());
    EXPECT_EQ(json["vertebrae"][0]["bone_quality"]["class"].asString(), "lytic");

    const AnalysisResult back = resultFromJson(read(write(json)));
    EXPECT_EQ(write(toJson(back)), write(json));
    EXPECT_EQ(back.series.patientName, original.series.patientName);
    EXPECT_EQ(back.geometry.origin, original.geometry.origin);
    ASSERT_EQ(back.vertebrae.size(), 2u);
    EXPECT_EQ(back.vertebrae[0].boneQualityProbability, original.vertebrae[0].boneQualityProbability);
    EXPECT_EQ(back.vertebrae[0].keySliceOutline, original.vertebrae[0].keySliceOutline);
    EXPECT_EQ(back.vertebrae[1].level, "");
    ASSERT_EQ(back.slices.size(), original.slices.size());
    EXPECT_EQ(back.slices[3].lytic, original.slices[3].lytic);
    EXPECT_EQ(back.slices[3].posterolateral, original.slices[3].posterolateral);
    EXPECT_EQ(back.warnings, original.warnings);
  }

  TEST(ResultJson, RefusesWhatItCannotTrust)
  {
    const Json::Value good = toJson(sample());

    Json::Value otherSchema = good;
    otherSchema["schema"] = "spinemet-result/3";
    EXPECT_NE(refusal(otherSchema).find("\"schema\" is \"spinemet-result/3\""), std::string::npos);

    Json::Value missing = good;
    missing["vertebrae"][0].removeMember("key_slice");
    EXPECT_NE(refusal(missing).find("\"vertebrae[0].key_slice\" is missing"), std::string::npos);

    Json::Value unknownClass = good;
    unknownClass["vertebrae"][1]["bone_quality"]["class"] = "sclerotic";
    EXPECT_NE(refusal(unknownClass).find("vertebrae[1].bone_quality.class"), std::string::npos);

    Json::Value wrongSins = good;
    wrongSins["vertebrae"][0]["sins"]["bone_lesion"] = 1;
    EXPECT_NE(refusal(wrongSins).find("\"vertebrae[0].sins\" does not match"), std::string::npos);

    Json::Value danglingSlice = good;
    danglingSlice["slices"][0]["vertebra"] = 5;
    EXPECT_NE(refusal(danglingSlice).find("slices[0].vertebra"), std::string::npos);

    Json::Value wrongSummary = good;
    wrongSummary["summary"]["lesion_suspected"] = false;
    EXPECT_NE(refusal(wrongSummary).find("\"summary\" does not match"), std::string::npos);

    Json::Value wrongState = good;
    wrongState["summary"]["state"] = "no-lesion-found";
    EXPECT_NE(refusal(wrongState).find("\"summary\" does not match"), std::string::npos);

    EXPECT_NE(refusal(Json::Value("text")).find("must be an object"), std::string::npos);

    // The one JSON field reader's rules: true is not a number, a count is not negative, null
    // only where "unknown" is a meaning.
    Json::Value booleanProbability = good;
    booleanProbability["vertebrae"][0]["bone_quality"]["probability"] = true;
    EXPECT_EQ(refusal(booleanProbability),
              "spinemet result JSON: \"vertebrae[0].bone_quality.probability\" must be a number");
    Json::Value negativeCount = good;
    negativeCount["geometry"]["rows"] = -1;
    EXPECT_EQ(refusal(negativeCount), "spinemet result JSON: \"geometry.rows\" must be a non-negative integer");
    Json::Value numericLevel = good;
    numericLevel["vertebrae"][0]["level"] = 7;
    EXPECT_EQ(refusal(numericLevel), "spinemet result JSON: \"vertebrae[0].level\" must be a string or null");
  }

  TEST(ResultJson, RefusalIsTheOneErrorTypeWithItsCode)
  {
    Json::Value missing = toJson(sample());
    missing.removeMember("warnings");
    try
    {
      resultFromJson(missing);
      FAIL() << "a result without warnings was accepted";
    }
    catch (const AnalysisError& error)
    {
      EXPECT_EQ(error.code(), "result-json");
      EXPECT_STREQ(error.what(), "spinemet result JSON: \"warnings\" is missing");
    }
  }

  TEST(Assessability, AVertebraThatIsNotAssessableCarriesNoFinding)
  {
    AnalysisResult result = sample();
    markNotAssessable(result.vertebrae[0], {{NotAssessableReason::Metal, "metal next to the vertebra (3071 HU)"}});
    const VertebraResult& withheld = result.vertebrae[0];
    EXPECT_FALSE(withheld.assessable);
    EXPECT_EQ(withheld.boneQuality, BoneQuality::Normal);
    EXPECT_EQ(withheld.boneQualityProbability, 0.0f);
    EXPECT_EQ(withheld.sinsBoneLesion, 0);
    EXPECT_EQ(withheld.sinsPosterolateral, 0);
    // The other vertebra is blastic, so the study is still a lesion call, from that vertebra alone.
    EXPECT_EQ(result.assessableVertebrae(), 1u);
    EXPECT_EQ(result.state(), StudyState::LesionSuspected);
    EXPECT_EQ(result.highestBoneQuality(), BoneQuality::Blastic);

    markNotAssessable(result.vertebrae[1], {{NotAssessableReason::OutOfDistribution, "score 41.2 above 30.0"}});
    EXPECT_FALSE(result.lesionSuspected());
    EXPECT_EQ(result.highestBoneQuality(), BoneQuality::Normal);
    EXPECT_EQ(result.state(), StudyState::NotAssessable);

    result.vertebrae.push_back(vertebra(2, BoneQuality::Normal, Posterolateral::None));
    EXPECT_EQ(result.state(), StudyState::NoLesionFound);
    EXPECT_EQ(StudyState::NotAssessable, AnalysisResult().state());
  }

  TEST(Assessability, RoundTripOfReasonsScoresAndTheGate)
  {
    AnalysisResult original = sample();
    original.assessment.outOfDistributionGate = true;
    original.assessment.outOfDistributionThreshold = 30.5;
    original.assessment.seriesReasons = {{NotAssessableReason::SliceThickness, "slices 8 mm thick"}};
    for (auto& vertebra : original.vertebrae)
    {
      vertebra.outOfDistributionScore = 12.25f;
      markNotAssessable(vertebra, original.assessment.seriesReasons);
    }
    markNotAssessable(original.vertebrae[1], {{NotAssessableReason::CutBySeriesEdge, "runs out of the series"}});
    original.slices[2].outOfDistributionScore = 7.125f;

    const Json::Value json = toJson(original);
    EXPECT_EQ(json["summary"]["state"].asString(), "not-assessable");
    EXPECT_EQ(json["summary"]["assessable_vertebrae"].asUInt(), 0u);
    EXPECT_TRUE(json["vertebrae"][0]["bone_quality"]["class"].isNull());
    EXPECT_TRUE(json["vertebrae"][0]["bone_quality"]["probabilities"].isNull());
    EXPECT_TRUE(json["vertebrae"][0]["posterolateral"]["class"].isNull());
    EXPECT_TRUE(json["vertebrae"][0]["sins"]["bone_lesion"].isNull());
    EXPECT_TRUE(json["vertebrae"][0]["sins"]["posterolateral"].isNull());
    EXPECT_EQ(json["vertebrae"][1]["not_assessable_reasons"][1]["reason"].asString(), "cut-by-series-edge");
    EXPECT_EQ(json["assessment"]["series_reasons"][0]["reason"].asString(), "slice-thickness");

    const AnalysisResult back = resultFromJson(read(write(json)));
    EXPECT_EQ(write(toJson(back)), write(json));
    EXPECT_EQ(back.vertebrae[1].notAssessableBecause.size(), 2u);
    EXPECT_EQ(back.vertebrae[0].outOfDistributionScore, 12.25f);
    EXPECT_EQ(back.slices[2].outOfDistributionScore, 7.125f);
    EXPECT_TRUE(std::isnan(back.slices[3].outOfDistributionScore));
    EXPECT_EQ(back.assessment.outOfDistributionThreshold, 30.5);

    Json::Value findingOnWithheld = json;
    findingOnWithheld["vertebrae"][0]["sins"] = toJson(sample())["vertebrae"][0]["sins"];
    EXPECT_NE(refusal(findingOnWithheld).find("\"vertebrae[0].sins\" must hold nothing but nulls"), std::string::npos);

    Json::Value reasonless = json;
    reasonless["vertebrae"][0]["not_assessable_reasons"] = Json::Value(Json::arrayValue);
    EXPECT_NE(refusal(reasonless).find("must name why"), std::string::npos);

    Json::Value unknownReason = json;
    unknownReason["vertebrae"][0]["not_assessable_reasons"][0]["reason"] = "cloudy";
    EXPECT_NE(refusal(unknownReason).find("unknown not-assessable reason \"cloudy\""), std::string::npos);
  }

  TEST(Assessability, AVersion1DocumentReadsAsAssessedWithoutAGate)
  {
    Json::Value json = toJson(sample());
    json["schema"] = "spinemet-result/1";
    json.removeMember("assessment");
    json["summary"].removeMember("state");
    json["summary"].removeMember("assessable_vertebrae");
    for (auto& vertebra : json["vertebrae"])
    {
      vertebra.removeMember("assessable");
      vertebra.removeMember("not_assessable_reasons");
      vertebra.removeMember("out_of_distribution_score");
    }
    for (auto& slice : json["slices"])
    {
      slice.removeMember("out_of_distribution_score");
    }
    const AnalysisResult back = resultFromJson(json);
    EXPECT_FALSE(back.assessment.outOfDistributionGate);
    EXPECT_TRUE(back.vertebrae[0].assessable);
    EXPECT_EQ(back.state(), StudyState::LesionSuspected);
  }


  TEST(LevelNaming, ConfidenceLandmarkAndNoteRoundTripAndMayBeAbsent)
  {
    AnalysisResult result = sample();
    result.vertebrae[0].levelConfidence = 0.85f;
    result.vertebrae[0].levelLandmark = "last rib";
    result.levelNote = "levels counted from the last rib (3 rib-bearing vertebrae in view)";
    Json::Value json = toJson(result);
    EXPECT_EQ(json["vertebrae"][0]["level_landmark"].asString(), "last rib");
    EXPECT_FLOAT_EQ(json["vertebrae"][0]["level_confidence"].asFloat(), 0.85f);
    // A vertebra without a level carries neither.
    EXPECT_TRUE(json["vertebrae"][1]["level_confidence"].isNull());
    EXPECT_TRUE(json["vertebrae"][1]["level_landmark"].isNull());
    const AnalysisResult back = resultFromJson(read(write(json)));
    EXPECT_EQ(back.vertebrae[0].levelLandmark, "last rib");
    EXPECT_FLOAT_EQ(back.vertebrae[0].levelConfidence, 0.85f);
    EXPECT_EQ(back.levelNote, result.levelNote);

    // Documents written before these members existed still read.
    json["vertebrae"][0].removeMember("level_confidence");
    json["vertebrae"][0].removeMember("level_landmark");
    json.removeMember("level_note");
    const AnalysisResult older = resultFromJson(json);
    EXPECT_TRUE(older.vertebrae[0].levelLandmark.empty());
    EXPECT_TRUE(older.levelNote.empty());
  }
}
