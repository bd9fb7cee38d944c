// SPDX-License-Identifier: GPL-3.0-or-later
#include "RestPayloads.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace spinemet
{
  std::optional<std::string> orthancIdProblem(const std::string& id)
  {
    const size_t LENGTH = 44;      // 5 x 8 digits + 4 dashes
    bool valid = id.size() == LENGTH;
    for (size_t i = 0; valid && i < LENGTH; ++i)
    {
      const char c = id[i];
      valid = i % 9 == 8 ? c == '-' : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    }
    if (valid)
    {
      return std::nullopt;
    }
    std::string shown = id.size() > 60 ? id.substr(0, 60) + "..." : id;
    for (char& c : shown)
    {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    }
    return "\"" + shown + "\" is not an Orthanc ID (5 groups of 8 lower-case hexadecimal digits joined by '-', "
           "as in /series or /studies)";
  }

  Json::Value isoTime(double secondsSinceEpoch)
  {
    if (secondsSinceEpoch <= 0) return Json::nullValue;
    const double wholeSeconds = std::floor(secondsSinceEpoch);
    std::time_t time = static_cast<std::time_t>(wholeSeconds);
    std::tm utc{};
    gmtime_r(&time, &utc);
    char text[32];
    std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
    char milliseconds[16];
    std::snprintf(milliseconds, sizeof(milliseconds), ".%03dZ",
                  std::min(999, static_cast<int>((secondsSinceEpoch - wholeSeconds) * 1000)));
    return std::string(text) + milliseconds;
  }

  std::string studyStateOf(const Json::Value& summary)
  {
    if (summary["state"].isString())
    {
      return summary["state"].asString();
    }
    return summary["lesion_suspected"].asBool() ? "lesion-suspected" : "no-lesion-found";
  }

  Json::Value describeAnalysis(const AnalysisRecord& record, const std::optional<RunningStatus>& running,
                               const std::optional<StoredResult>& result)
  {
    Json::Value status;
    status["Series"] = record.series;
    status["Study"] = record.study;
    status["State"] = toString(record.state);
    status["Trigger"] = record.trigger;
    if (!record.errorCode.empty())
    {
      status["Reason"]["Code"] = record.errorCode;
      status["Reason"]["Message"] = record.message;
    }
    status["Attempts"] = record.attempts;
    // The node that analyses the series (running) or analysed it last (done, failed): its Orthanc
    // holds the job. Empty while it waits.
    status["Node"] = record.node;
    status["Retries"] = record.retries;
    status["LastFailure"] = record.lastFailure.empty() ? Json::Value(Json::nullValue) : Json::Value(record.lastFailure);
    status["RetryAt"] = record.state == AnalysisState::Queued ? isoTime(record.retryAt) : Json::Value(Json::nullValue);
    status["QueuedAt"] = isoTime(record.queuedAt);
    status["StartedAt"] = isoTime(record.startedAt);
    status["FinishedAt"] = isoTime(record.finishedAt);
    status["Instances"] = record.wanted.fingerprint;
    status["AnalysedInstances"] = record.analysed.fingerprint;
    status["Model"] = record.analysed.modelVersion;
    status["Seconds"] = record.seconds;
    status["Slices"] = Json::UInt64(record.slices);
    status["StageSeconds"] = Json::objectValue;
    for (const auto& stage : record.stageSeconds) status["StageSeconds"][stage.first] = stage.second;
    status["Outputs"] = Json::arrayValue;
    for (const std::string& output : record.outputs) status["Outputs"].append(output);

    if (record.state == AnalysisState::Running && running)
    {
      status["Stage"] = running->stage;
      status["Progress"] = running->progress;
    }

    if (result)
    {
      if (result->error.empty())
      {
        status["Result"] = result->document;
        const Json::Value summary = result->document.get("summary", Json::Value());   // read, never add
        if (summary.isObject())
        {
          status["StudyState"] = studyStateOf(summary);
        }
      }
      else
      {
        status["Result"] = Json::nullValue;
        status["ResultError"] = result->error;
      }
    }
    return status;
  }

  Json::Value stateCounts(const std::map<AnalysisState, uint64_t>& counts)
  {
    Json::Value json;
    for (const auto& count : counts) json[toString(count.first)] = Json::UInt64(count.second);
    return json;
  }

  Json::Value queueStatus(const std::map<AnalysisState, uint64_t>& counts, const std::vector<Json::Value>& analyses)
  {
    Json::Value status;
    status["Counts"] = stateCounts(counts);
    status["Analyses"] = Json::arrayValue;
    for (const Json::Value& analysis : analyses) status["Analyses"].append(analysis);
    return status;
  }

  Json::Value studyStatus(const std::string& study, const std::vector<Json::Value>& describedSeries)
  {
    Json::Value status;
    status["Study"] = study;
    status["Series"] = Json::arrayValue;
    bool suspected = false;
    bool analysed = false;
    bool lesionFreeSeries = false;   // some series was assessed and showed no lesion
    for (const Json::Value& series : describedSeries)
    {
      const Json::Value& summary = series["Result"]["summary"];   // docs/result-schema.md
      if (summary.isObject())
      {
        analysed = true;
        const std::string state = studyStateOf(summary);
        suspected = suspected || state == "lesion-suspected";
        lesionFreeSeries = lesionFreeSeries || state == "no-lesion-found";
      }
      status["Series"].append(series);
    }
    status["Analysed"] = analysed;
    status["LesionSuspected"] = suspected;
    if (analysed)
    {
      status["StudyState"] = suspected ? "lesion-suspected" : lesionFreeSeries ? "no-lesion-found" : "not-assessable";
    }
    else
    {
      status["StudyState"] = Json::nullValue;
    }
    return status;
  }
}
