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

    // When the Worker's progress passed the end of its stages (Pipeline.h: reading, spine search
    // and classification each take a third of it).
    struct StageClock
    {
      std::mutex mutex;
      Clock::time_point read{};
      Clock::time_point spine{};

      void seen(double fraction)
      {
        std::lock_guard<std::mutex> lock(mutex);
        Clock::time_point now = Clock::now();
        if (fraction >= 1.0 / 3 - 1e-6 && read == Clock::time_point{}) read = now;
        if (fraction >= 2.0 / 3 - 1e-6 && spine == Clock::time_point{}) spine = now;
      }
    };

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
    progress.setStage("reading instances", 0);
    std::vector<std::string> instances = instancesOf(record.series);

    auto stages = std::make_shared<StageClock>();
    auto done = std::make_shared<std::promise<AnalysisOutcome>>();
    std::future<AnalysisOutcome> outcomeFuture = done->get_future();

    AnalysisRequest request;
    request.source = std::make_shared<OrthancSliceSource>(instances);
    request.keepSeries = configuration_.outputs.overlays;
    // Progress shown: the pipeline up to 90 %, storing the outputs the rest.
    request.onProgress = [&progress, stages](double fraction) {
      stages->seen(fraction);
      progress.setStage(fraction < 1.0 / 3 ? "reading instances" : fraction < 2.0 / 3 ? "finding the spine" :
                        "classifying vertebrae", static_cast<float>(0.9 * fraction));
    };
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
    const Clock::time_point classified = Clock::now();

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

    progress.setStage("storing outputs", 0.9f);
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
    {
      std::lock_guard<std::mutex> lock(stages->mutex);
      Clock::time_point read = stages->read == Clock::time_point{} ? classified : stages->read;
      Clock::time_point spine = stages->spine == Clock::time_point{} ? classified : stages->spine;
      finished.stageSeconds = {
        {"read", secondsBetween(start, read)},
        {"spine", secondsBetween(read, spine)},
        {"classify", secondsBetween(spine, classified)},
        {"write", secondsBetween(classified, end)}};
    }
    return finished;
  }
}
