// SPDX-License-Identifier: GPL-3.0-or-later
// The REST API's bodies (plugin/RestPayloads.h) from queue records and result documents, without
// Orthanc; plugin.analysis checks the same routes inside a real Orthanc.

#include "RestPayloads.h"

#include <gtest/gtest.h>

namespace spinemet
{
  namespace
  {
    Json::Value summaryResult(const std::string& state)
    {
      Json::Value result;
      result["schema"] = "spinemet-result/2";
      result["summary"]["state"] = state;
      return result;
    }

    Json::Value describedWith(const std::string& series, const Json::Value& document)
    {
      AnalysisRecord record;
      record.series = series;
      record.state = AnalysisState::Done;
      record.analysed = {"fingerprint", "demo 1"};
      return describeAnalysis(record, std::nullopt, StoredResult{document, ""});
    }
  }

  TEST(RestPayloads, RouteIdsMustBeOrthancIds)
  {
    const std::string series = "63e7197c-ef54b1bf-ccdb6f4f-4a16a620-6afbbd8e";
    EXPECT_FALSE(orthancIdProblem(series).has_value());
    for (const std::string& wrong : {series + "?x", series.substr(0, 43), std::string(""), std::string("..%2F"),
                                     std::string("63E7197C-ef54b1bf-ccdb6f4f-4a16a620-6afbbd8e"),
                                     std::string("63e7197c_ef54b1bf-ccdb6f4f-4a16a620-6afbbd8e")})
    {
      ASSERT_TRUE(orthancIdProblem(wrong).has_value()) << wrong;
      EXPECT_NE(orthancIdProblem(wrong)->find("is not an Orthanc ID"), std::string::npos);
    }
    EXPECT_LT(orthancIdProblem(std::string(100000, 'a'))->size(), 200u);   // a long ID is not echoed whole
  }

  TEST(RestPayloads, TimesAreUtcWithMillisecondsAndNullWhenNever)
  {
    EXPECT_TRUE(isoTime(0).isNull());
    EXPECT_EQ(isoTime(1700000000.25).asString(), "2023-11-14T22:13:20.250Z");
  }

  TEST(RestPayloads, AFailedSeriesShowsItsReasonAndARunningOneItsStage)
  {
    AnalysisRecord failed;
    failed.series = "s1";
    failed.study = "st";
    failed.state = AnalysisState::Failed;
    failed.errorCode = "no-spine";
    failed.message = "no vertebra found in 40 slices";
    failed.stageSeconds = {{"read", 1.5}, {"spine", 0.5}};
    const Json::Value status = describeAnalysis(failed, RunningStatus{"ignored", 0.5f}, std::nullopt);
    EXPECT_EQ(status["State"].asString(), "failed");
    EXPECT_EQ(status["Reason"]["Code"].asString(), "no-spine");
    EXPECT_EQ(status["Reason"]["Message"].asString(), "no vertebra found in 40 slices");
    EXPECT_DOUBLE_EQ(status["StageSeconds"]["read"].asDouble(), 1.5);
    EXPECT_FALSE(status.isMember("Stage")) << "only a running analysis has a stage";
    EXPECT_FALSE(status.isMember("Result"));

    AnalysisRecord running;
    running.series = "s2";
    running.state = AnalysisState::Running;
    const Json::Value runningStatus = describeAnalysis(running, RunningStatus{"finding the spine", 0.4f}, std::nullopt);
    EXPECT_EQ(runningStatus["Stage"].asString(), "finding the spine");
    EXPECT_FLOAT_EQ(runningStatus["Progress"].asFloat(), 0.4f);
    EXPECT_FALSE(runningStatus.isMember("Reason"));
  }

  TEST(RestPayloads, TheResultBringsItsStudyStateAndAnUnreadableOneItsError)
  {
    const Json::Value done = describedWith("s", summaryResult("not-assessable"));
    EXPECT_EQ(done["StudyState"].asString(), "not-assessable");
    EXPECT_EQ(done["Result"]["schema"].asString(), "spinemet-result/2");

    Json::Value first;      // spinemet-result/1: no state, only lesion_suspected
    first["summary"]["lesion_suspected"] = true;
    EXPECT_EQ(describedWith("s", first)["StudyState"].asString(), "lesion-suspected");

    AnalysisRecord record;
    record.series = "s";
    record.state = AnalysisState::Done;
    const Json::Value broken = describeAnalysis(record, std::nullopt, StoredResult{Json::nullValue, "no attachment"});
    EXPECT_TRUE(broken["Result"].isNull());
    EXPECT_EQ(broken["ResultError"].asString(), "no attachment");
    EXPECT_FALSE(broken.isMember("StudyState"));
  }

  TEST(RestPayloads, AStudySaysWhatItsMostTellingSeriesSays)
  {
    const Json::Value lesion = describedWith("a", summaryResult("lesion-suspected"));
    const Json::Value clear = describedWith("b", summaryResult("no-lesion-found"));
    const Json::Value unassessable = describedWith("c", summaryResult("not-assessable"));
    AnalysisRecord queued;
    queued.series = "d";
    queued.state = AnalysisState::Queued;
    const Json::Value waiting = describeAnalysis(queued, std::nullopt, std::nullopt);

    const Json::Value mixed = studyStatus("st", {unassessable, clear, lesion, waiting});
    EXPECT_EQ(mixed["StudyState"].asString(), "lesion-suspected");
    EXPECT_TRUE(mixed["LesionSuspected"].asBool());
    EXPECT_TRUE(mixed["Analysed"].asBool());
    EXPECT_EQ(mixed["Series"].size(), 4u);

    EXPECT_EQ(studyStatus("st", {unassessable, clear})["StudyState"].asString(), "no-lesion-found");
    EXPECT_EQ(studyStatus("st", {unassessable})["StudyState"].asString(), "not-assessable");
    const Json::Value nothingYet = studyStatus("st", {waiting});
    EXPECT_TRUE(nothingYet["StudyState"].isNull());
    EXPECT_FALSE(nothingYet["Analysed"].asBool());
  }

  TEST(RestPayloads, TheQueueCountsEachStateUnderItsName)
  {
    const Json::Value status = queueStatus({{AnalysisState::Queued, 2}, {AnalysisState::Failed, 1}}, {});
    EXPECT_EQ(status["Counts"]["queued"].asUInt64(), 2u);
    EXPECT_EQ(status["Counts"]["failed"].asUInt64(), 1u);
    EXPECT_TRUE(status["Analyses"].isArray());
  }
}
