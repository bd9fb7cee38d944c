// SPDX-License-Identifier: GPL-3.0-or-later
#include "Service.h"

#include "OrthancApi.h"
#include "RestPayloads.h"
#include "PostgresAnalysisQueue.h"
#include "SqliteAnalysisQueue.h"
#include "common/AnalysisError.h"
#include "engine/Engine.h"

#include <algorithm>
#include <filesystem>
#include <thread>

namespace spinemet
{
  namespace
  {
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
        QueuePolicy policy;
        policy.leaseSeconds = configuration_.leaseSeconds;
        policy.maximumAttempts = configuration_.maximumAttempts;
        policy.retryDelaySeconds = configuration_.retryDelaySeconds;
        policy.maximumRetryDelaySeconds = configuration_.maximumRetryDelaySeconds;
        if (configuration_.queueBackend == QueueBackend::PostgreSQL)
        {
          auto queue = std::make_unique<PostgresAnalysisQueue>(configuration_.queueConnection, policy);
          queueDescription_ = queue->description();
          queue_ = std::move(queue);
        }
        else
        {
          // Plugins start before Orthanc creates its storage folder, where the queue lives by default.
          std::filesystem::create_directories(std::filesystem::path(configuration_.queueDatabase).parent_path());
          queue_ = std::make_unique<SqliteAnalysisQueue>(configuration_.queueDatabase, policy);
          queueDescription_ = configuration_.queueDatabase;
        }
      }
      catch (const std::exception& error)
      {
        problems_.push_back(std::string(configuration_.queueBackend == QueueBackend::PostgreSQL ?
                                        "SpineMet.QueueConnection: " : "SpineMet.QueueDatabase: ") + error.what());
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
    host_ = std::make_unique<OrthancAnalysisHost>(configuration_, *listener_);
    dispatcher_ = std::make_unique<Dispatcher>(configuration_, *queue_, *host_, engine_);
    orthanc::logWarning("model " + modelVersion() + " loaded from " + configuration_.modelPath +
                        ", LibTorch device " + deviceName() + ", queue " + queueDescription_ +
                        ", node " + configuration_.nodeName + " (" + toString(configuration_.nodeRole) + ")");
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
      health["QueueDatabase"] = queueDescription_;
      health["QueueBackend"] = toString(configuration_.queueBackend);
      health["Node"] = configuration_.nodeName;
      health["NodeRole"] = toString(configuration_.nodeRole);
      health["ReanalysisPolicy"] = toString(configuration_.reanalysis);
      health["VolumesInFlight"] = configuration_.volumesInFlight;
      health["Analyses"] = stateCounts(queue_->countByState());
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
    std::vector<Json::Value> analyses;
    for (const AnalysisRecord& record : queue_->listStates({AnalysisState::Running, AnalysisState::Queued}, 1000))
    {
      analyses.push_back(describe(record, false));
    }
    return spinemet::queueStatus(queue_->countByState(), analyses);
  }

  // What Orthanc and the dispatcher know of the series now; the body itself is RestPayloads'.
  Json::Value Service::describe(const AnalysisRecord& record, bool withResult)
  {
    std::optional<RunningStatus> running;
    if (record.state == AnalysisState::Running && dispatcher_)
    {
      if (std::shared_ptr<AnalysisProgress> progress = dispatcher_->progressOf(record.series))
      {
        running = RunningStatus{progress->stage(), progress->progress()};
      }
    }

    std::optional<StoredResult> result;
    if (withResult && !record.analysed.fingerprint.empty())
    {
      result = StoredResult();
      try
      {
        result->document = orthanc::parseJson(
          orthanc::get("/series/" + record.series + "/attachments/" + RESULT_ATTACHMENT + "/data"),
          "the SpineMet result attached to series " + record.series);
      }
      catch (const std::exception& error)
      {
        result->error = error.what();
      }
    }
    return describeAnalysis(record, running, result);
  }

  Json::Value Service::seriesStatus(const std::string& series)
  {
    std::optional<AnalysisRecord> record = queue_->find(series);
    return record ? describe(*record, true) : Json::Value(Json::nullValue);
  }

  Json::Value Service::studyStatus(const std::string& study)
  {
    std::vector<Json::Value> series;
    for (const AnalysisRecord& record : queue_->listStudy(study))
    {
      if (record.state == AnalysisState::Skipped) continue;
      series.push_back(describe(record, true));
    }
    return spinemet::studyStatus(study, series);
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
