// SPDX-License-Identifier: GPL-3.0-or-later
#include "SeriesAnalyser.h"

#include "OrthancApi.h"
#include "OrthancSliceSource.h"
#include "common/AnalysisError.h"
#include "worker/Worker.h"

#include <chrono>
#include <future>
#include <sstream>

namespace spinemet
{
  namespace
  {
    using Clock = std::chrono::steady_clock;

    double secondsBetween(Clock::time_point from, Clock::time_point to)
    {
      return std::chrono::duration<double>(to - from).count();
    }

    std::vector<std::string> instancesOf(const std::string& series)
    {
      Json::Value instances;
      if (!orthanc::tryGetJson("/series/" + series + "/instances", instances))
      {
        throw AnalysisError("series-deleted", "Orthanc no longer has series " + series);
      }
      std::vector<std::string> ids;
      for (const Json::Value& instance : instances) ids.push_back(instance["ID"].asString());
      return ids;
    }
  }

  SeriesAnalyser::SeriesAnalyser(const PluginConfiguration& configuration, std::shared_ptr<Engine> engine) :
    configuration_(configuration),
    writer_(configuration)
  {
    WorkerOptions options;
    options.maxInFlight = configuration.volumesInFlight;
    options.cpuThreads = configuration.volumesInFlight;
    options.batchSize = configuration.batchSize;
    worker_ = std::make_unique<Worker>(std::move(engine), options);
  }

  SeriesAnalyser::~SeriesAnalyser()
  {
    worker_->shutdown(Worker::Shutdown::Abandon);
  }

  FinishedAnalysis SeriesAnalyser::run(const AnalysisRecord& record, AnalysisProgress& progress)
  {
    const Clock::time_point start = Clock::now();
    progress.report({Stage::Read, 0.0});
    std::vector<std::string> instances = instancesOf(record.series);

    auto done = std::make_shared<std::promise<AnalysisOutcome>>();
    std::future<AnalysisOutcome> outcomeFuture = done->get_future();

    AnalysisRequest request;
    request.source = std::make_shared<OrthancSliceSource>(instances);
    request.keepSeries = configuration_.outputs.overlays;
    request.onProgress = [&progress](const StageProgress& report) { progress.report(report); };
    request.onDone = [done](AnalysisOutcome&& outcome) { done->set_value(std::move(outcome)); };
    Worker::RequestId id = worker_->submit(std::move(request));

    while (outcomeFuture.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready)
    {
      if (progress.shouldStop())
      {
        worker_->cancel(id);
      }
    }
    AnalysisOutcome outcome = outcomeFuture.get();

    switch (outcome.status)
    {
      case AnalysisOutcome::Status::Done:
        break;
      case AnalysisOutcome::Status::Cancelled:
        throw AnalysisError("cancelled", "the analysis was stopped");
      case AnalysisOutcome::Status::Failed:
        throw AnalysisError(outcome.errorCode, outcome.errorMessage);
      case AnalysisOutcome::Status::InternalError:
        throw std::runtime_error(outcome.errorMessage);
    }
    if (progress.shouldStop())
    {
      throw AnalysisError("cancelled", "the analysis was stopped before its outputs were stored");
    }

    progress.report({Stage::Write, 0.0});
    static const Series noSeries;
    std::vector<std::string> outputs = writer_.write(record, outcome.result,
                                                     outcome.series ? *outcome.series : noSeries,
                                                     [&progress] { return progress.shouldStop(); });
    const Clock::time_point end = Clock::now();

    FinishedAnalysis finished;
    finished.claimed = record.wanted;
    finished.analysed = {instancesFingerprint(instances), record.wanted.modelVersion};
    finished.outputs = outputs;
    finished.seconds = secondsBetween(start, end);
    finished.slices = outcome.result.geometry.slices;
    finished.stageSeconds = progress.stageSeconds(start, end);
    return finished;
  }
}
