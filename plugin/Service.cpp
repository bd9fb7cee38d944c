// SPDX-License-Identifier: GPL-3.0-or-later
#include "Service.h"

#include "OrthancApi.h"
#include "SqliteAnalysisQueue.h"
#include "common/AnalysisError.h"
#include "engine/Engine.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <thread>

namespace spinemet
{
  namespace
  {
    // Milliseconds included: two analyses of a small series can end within the same second.
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

    // Threads 0: half of the cores. LibTorch's own default takes every core, and Orthanc inside the
    // same process still has to receive, index and serve while a series is classified.
    unsigned defaultModelThreads()
    {
      return std::max(1u, std::thread::hardware_concurrency() / 2);
    }
  }

  Service::Service(const Json::Value& orthancConfiguration, const std::string& configurationFolder)
  {
    ConfigurationReading reading = readConfiguration(orthancConfiguration, configurationFolder);
    configuration_ = reading.configuration;
    problems_ = reading.problems;
    for (const std::string& problem : problems_)
    {
      orthanc::logError("configuration: " + problem);
    }
    if (!configuration_.enabled)
    {
      problems_.push_back("SpineMet.Enabled is false");
    }
    if (!problems_.empty())
    {
      orthanc::logError("disabled until the configuration is fixed (GET /spinemet/health lists the reasons)");
      return;
    }

    try
    {
      EngineOptions options;
      options.device = configuration_.device;
      options.threads = static_cast<int>(configuration_.threads > 0 ? configuration_.threads : defaultModelThreads());
      engine_ = Engine::load(configuration_.modelPath, options);
    }
    catch (const std::exception& error)
    {
      problems_.push_back("SpineMet.ModelPath: the model " + configuration_.modelPath + " does not load: " + error.what());
    }

    if (problems_.empty())
    {
      try
      {
        // Plugins start before Orthanc creates its storage folder, where the queue lives by default.
        std::filesystem::create_directories(std::filesystem::path(configuration_.queueDatabase).parent_path());
        queue_ = std::make_unique<SqliteAnalysisQueue>(configuration_.queueDatabase);
      }
      catch (const std::exception& error)
      {
        problems_.push_back("SpineMet.QueueDatabase: " + std::string(error.what()));
      }
    }

    if (!problems_.empty())
    {
      for (const std::string& problem : problems_) orthanc::logError(problem);
      orthanc::logError("disabled (GET /spinemet/health lists the reasons)");
      engine_.reset();
      queue_.reset();
      return;
    }

    listener_ = std::make_unique<ChangeListener>(configuration_, *queue_, modelVersion());
    analyser_ = std::make_unique<SeriesAnalyser>(configuration_);
    dispatcher_ = std::make_unique<Dispatcher>(configuration_, *queue_, *listener_, *analyser_, engine_);
    orthanc::logWarning("model " + modelVersion() + " loaded from " + configuration_.modelPath +
                        ", LibTorch device " + deviceName() + ", queue " + configuration_.queueDatabase);
  }

  Service::~Service()
  {
    onOrthancStopped();
  }

  std::string Service::deviceName() const
  {
    return engine_ ? engine_->deviceName() : "";
  }

  std::string Service::modelVersion() const
  {
    return engine_ ? engine_->metadata().name + " " + engine_->metadata().version : "";
  }

  void Service::onOrthancStarted()
  {
    if (dispatcher_)
    {
      dispatcher_->start();
    }
  }

  void Service::onOrthancStopped()
  {
    if (dispatcher_)
    {
      dispatcher_->stop();
    }
  }

  void Service::onStableSeries()
  {
    if (dispatcher_)
    {
      dispatcher_->wake();
    }
  }

  Json::Value Service::health()
  {
    Json::Value health;
    health["Name"] = "SpineMet";
    health["Version"] = SPINEMET_VERSION;
    health["Enabled"] = enabled();
    health["Status"] = enabled() ? "enabled" : "disabled";
    health["Problems"] = Json::arrayValue;
    for (const std::string& problem : problems_) health["Problems"].append(problem);
    if (enabled())
    {
      health["Device"] = deviceName();
      health["Model"] = modelVersion();
      health["ModelPath"] = configuration_.modelPath;
      health["QueueDatabase"] = configuration_.queueDatabase;
      health["ReanalysisPolicy"] = toString(configuration_.reanalysis);
      health["VolumesInFlight"] = configuration_.volumesInFlight;
      Json::Value counts;
      for (const auto& count : queue_->countByState()) counts[toString(count.first)] = Json::UInt64(count.second);
      health["Analyses"] = counts;
      health["LastChange"] = Json::Int64(queue_->lastChange());   // of Orthanc's change log, handled
    }
    return health;
  }

  Json::Value Service::model()
  {
    Json::Value model = engine_->metadata().raw;
    model["Device"] = deviceName();
    model["Path"] = configuration_.modelPath;
    return model;
  }

  Json::Value Service::queueStatus()
  {
    Json::Value status;
    Json::Value counts;
    for (const auto& count : queue_->countByState()) counts[toString(count.first)] = Json::UInt64(count.second);
    status["Counts"] = counts;
    status["Analyses"] = Json::arrayValue;
    for (const AnalysisRecord& record : queue_->listStates({AnalysisState::Running, AnalysisState::Queued}, 1000))
    {
      status["Analyses"].append(describe(record, false));
    }
    return status;
  }

  namespace
  {
    // The study state of a result's summary (docs/result-schema.md). A spinemet-result/1 document
    // has none: every vertebra in it was assessed, so it is "lesion suspected" or "no lesion found".
    std::string studyStateOf(const Json::Value& summary)
    {
      if (summary["state"].isString())
      {
        return summary["state"].asString();
      }
      return summary["lesion_suspected"].asBool() ? "lesion-suspected" : "no-lesion-found";
    }
  }

  Json::Value Service::describe(const AnalysisRecord& record, bool withResult)
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

    if (record.state == AnalysisState::Running && dispatcher_)
    {
      if (std::shared_ptr<AnalysisProgress> progress = dispatcher_->progressOf(record.series))
      {
        status["Stage"] = progress->stage();
        status["Progress"] = progress->progress();
      }
    }

    if (withResult && !record.analysed.fingerprint.empty())
    {
      try
      {
        status["Result"] = orthanc::parseJson(
          orthanc::get("/series/" + record.series + "/attachments/" + RESULT_ATTACHMENT + "/data"),
          "the SpineMet result attached to series " + record.series);
        const Json::Value summary = status["Result"].get("summary", Json::Value());   // read, never add
        if (summary.isObject())
        {
          status["StudyState"] = studyStateOf(summary);
        }
      }
      catch (const std::exception& error)
      {
        status["Result"] = Json::nullValue;
        status["ResultError"] = error.what();
      }
    }
    return status;
  }

  Json::Value Service::seriesStatus(const std::string& series)
  {
    std::optional<AnalysisRecord> record = queue_->find(series);
    return record ? describe(*record, true) : Json::Value(Json::nullValue);
  }

  Json::Value Service::studyStatus(const std::string& study)
  {
    Json::Value status;
    status["Study"] = study;
    status["Series"] = Json::arrayValue;
    bool suspected = false;
    bool analysed = false;
    bool lesionFreeSeries = false;   // some series was assessed and showed no lesion
    for (const AnalysisRecord& record : queue_->listStudy(study))
    {
      if (record.state == AnalysisState::Skipped) continue;
      Json::Value series = describe(record, true);
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
    // The study says what its most telling series says: a suspected lesion anywhere, else "no
    // lesion found" when some series could be assessed, else "not assessable".
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

  Json::Value Service::requestAnalysis(const std::string& series)
  {
    ChangeListener::Admission admission = listener_->admit(series, "manual", true);
    if (!admission.known)
    {
      return Json::nullValue;
    }
    dispatcher_->wake();
    Json::Value answer;
    answer["Series"] = series;
    answer["Outcome"] = admission.outcome;
    if (!admission.code.empty())
    {
      answer["Reason"]["Code"] = admission.code;
      answer["Reason"]["Message"] = admission.message;
    }
    answer["Status"] = "/spinemet/series/" + series;
    return answer;
  }

  bool Service::cancel(const std::string& series)
  {
    return dispatcher_->cancel(series);
  }
}
