// SPDX-License-Identifier: GPL-3.0-or-later
#include "Dispatcher.h"

#include "common/AnalysisError.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace spinemet
{
  namespace
  {
    // The change callback and the Worker wake the dispatcher; polling as well covers a wake-up
    // lost to a race and series that the REST API queued on another thread. On a queue shared by
    // a cluster, series are queued by other nodes, which cannot wake this one: it looks every
    // second (one indexed SELECT).
    std::chrono::milliseconds pollInterval(const PluginConfiguration& configuration)
    {
      return std::chrono::milliseconds(configuration.queueBackend == QueueBackend::PostgreSQL ? 1000 : 5000);
    }

    AnalysisOutcome failedBeforeTheWorker(AnalysisError error)
    {
      AnalysisOutcome outcome;
      outcome.error = std::move(error);
      return outcome;
    }
  }

  Dispatcher::Dispatcher(const PluginConfiguration& configuration, AnalysisQueue& queue, AnalysisHost& host,
                         std::shared_ptr<Engine> engine) :
    configuration_(configuration), queue_(queue), host_(host), node_(configuration.nodeName)
  {
    WorkerOptions options;
    options.maxInFlight = configuration.volumesInFlight;
    options.cpuThreads = configuration.volumesInFlight;
    options.batchSize = configuration.batchSize;
    options.onSlotFree = [this] { wake(); };
    worker_ = std::make_unique<Worker>(std::move(engine), options);
  }

  Dispatcher::~Dispatcher()
  {
    stop();
    worker_->shutdown(Worker::Shutdown::Abandon);   // nothing is left in it once stop() returned
  }

  void Dispatcher::start()
  {
    size_t interrupted = queue_.requeueInterrupted(node_);
    if (interrupted > 0)
    {
      host_.log(LogLevel::Warning, std::to_string(interrupted) +
                " analyses were interrupted by the last stop of Orthanc; they are queued again");
    }
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
    thread_ = std::thread(&Dispatcher::loop, this);
    if (analyses(configuration_.nodeRole))
    {
      heartbeatThread_ = std::thread(&Dispatcher::heartbeat, this);
    }
  }

  // A thread of its own, so that a slow change log or the storing of a large result on the
  // dispatcher thread never lets a lease run out while this node is alive. Three renewals per
  // lease: one lost to a busy database does not cost the claims.
  void Dispatcher::heartbeat()
  {
    const auto interval = std::chrono::duration<double>(configuration_.leaseSeconds / 3.0);
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_)
    {
      bool anyRunning = !running_.empty();
      lock.unlock();
      if (anyRunning)
      {
        try
        {
          queue_.renewLeases(node_);
        }
        catch (const std::exception& error)
        {
          host_.log(LogLevel::Warning,
                    std::string("cannot renew the leases of this node's analyses (will retry): ") + error.what());
        }
      }
      lock.lock();
      wakeUp_.wait_for(lock, interval, [this] { return stopping_; });
    }
  }

  void Dispatcher::stop()
  {
    std::vector<std::shared_ptr<AnalysisProgress>> running;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!thread_.joinable())
      {
        return;
      }
      stopping_ = true;
      for (auto& entry : running_) running.push_back(entry.second.progress);
    }
    // Stops the worker's part and the storing of outputs at their next check.
    for (auto& progress : running) progress->requestShutdown();
    wakeUp_.notify_all();
    thread_.join();
    if (heartbeatThread_.joinable())
    {
      heartbeatThread_.join();
    }
  }

  void Dispatcher::wake()
  {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      woken_ = true;
    }
    wakeUp_.notify_all();
  }

  bool Dispatcher::cancel(const std::string& series)
  {
    if (cancelRunning(series) || queue_.cancelQueued(series, "cancelled while queued"))
    {
      return true;
    }
    return cancelRunning(series);      // claimed between the two looks above: running now
  }

  bool Dispatcher::cancelRunning(const std::string& series)
  {
    std::shared_ptr<AnalysisProgress> progress = progressOf(series);
    if (!progress)
    {
      return false;
    }
    progress->requestCancel();         // the worker's request too, once it has one
    return true;
  }

  std::shared_ptr<AnalysisProgress> Dispatcher::progressOf(const std::string& series)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = running_.find(series);
    return found == running_.end() ? nullptr : found->second.progress;
  }

  void Dispatcher::loop()
  {
    host_.log(LogLevel::Info, "worker started");
    const double startTime = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    bool runBegun = false;
    bool caughtUp = false;
    for (;;)
    {
      if (queuesSeries(configuration_.nodeRole))
      {
        followChanges(startTime, runBegun, caughtUp);
      }
      handleCompletions();
      if (analyses(configuration_.nodeRole))
      {
        startAnalyses();
      }
      else
      {
        try
        {
          host_.publishQueueFigures(queue_.countByState(), 0);
        }
        catch (const std::exception& error)
        {
          host_.log(LogLevel::Error, std::string("the analysis queue failed: ") + error.what());
        }
      }

      const AnalysisProgress::Clock::time_point nextDeadline = enforceDeadlines();
      std::unique_lock<std::mutex> lock(mutex_);
      if (!stopping_)
      {
        const AnalysisProgress::Clock::time_point poll = AnalysisProgress::Clock::now() + pollInterval(configuration_);
        wakeUp_.wait_until(lock, std::min(poll, nextDeadline), [this] { return woken_ || stopping_; });
      }
      woken_ = false;
      if (stopping_)
      {
        break;
      }
    }
    finishShutdown();
    host_.log(LogLevel::Info, "worker stopped");
  }

  AnalysisProgress::Clock::time_point Dispatcher::enforceDeadlines()
  {
    AnalysisProgress::Clock::time_point next = AnalysisProgress::Clock::time_point::max();
    std::vector<std::shared_ptr<AnalysisProgress>> running;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& entry : running_) running.push_back(entry.second.progress);
    }
    for (const std::shared_ptr<AnalysisProgress>& progress : running)
    {
      if (progress->enforceDeadline())
      {
        host_.log(LogLevel::Warning,
                  "analysis of series " + progress->series() + ": " + progress->timeoutMessage());
      }
      else if (!progress->timedOut())
      {
        const std::optional<AnalysisProgress::Clock::time_point> deadline = progress->deadline();
        if (deadline) next = std::min(next, *deadline);
      }
    }
    return next;
  }

  void Dispatcher::followChanges(double startTime, bool& runBegun, bool& caughtUp)
  {
    try
    {
      if (!runBegun)
      {
        host_.beginChangeRun(startTime);
        runBegun = true;
      }
      host_.followChangeLog([this] {
        std::lock_guard<std::mutex> lock(mutex_);
        return stopping_;
      });
      if (!caughtUp)
      {
        host_.admitInterruptedArrivals();
        caughtUp = true;
      }
    }
    catch (const std::exception& error)
    {
      host_.log(LogLevel::Warning,
                std::string("cannot read Orthanc's change log now (will retry): ") + error.what());
    }
  }

  void Dispatcher::startAnalyses()
  {
    try
    {
      // A series the worker refused earlier (its last slot was still being released) goes first.
      for (auto& entry : running_)
      {
        if (entry.second.waitingForSlot && !submit(entry.first))
        {
          return;
        }
      }
      for (;;)
      {
        {
          std::lock_guard<std::mutex> lock(mutex_);
          if (stopping_ || running_.size() >= configuration_.volumesInFlight) break;
        }
        if (worker_->inFlight() >= configuration_.volumesInFlight) break;   // onSlotFree wakes us
        std::optional<AnalysisRecord> record = queue_.claim(node_);
        if (!record) break;
        bool runningHere;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          runningHere = running_.count(record->series) > 0;
        }
        if (runningHere)
        {
          // This node's own claim whose lease ran out while it still ran here (a stall longer
          // than LeaseSeconds): claiming it again renewed the lease; the run goes on, and its end
          // is recorded under the new claim's attempt.
          {
            std::lock_guard<std::mutex> lock(mutex_);
            running_.at(record->series).record.attempts = record->attempts;
            running_.at(record->series).record.node = record->node;
          }
          host_.log(LogLevel::Warning, "the lease of series " + record->series + " ran out while this node "
                    "analysed it (a stall longer than LeaseSeconds); the analysis goes on here");
          continue;
        }
        host_.reached("claimed", record->series);
        if (!launch(*record)) break;
      }
      size_t runningHere;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        runningHere = running_.size();
      }
      host_.publishQueueFigures(queue_.countByState(), runningHere);
    }
    catch (const std::exception& error)
    {
      host_.log(LogLevel::Error, std::string("the analysis queue failed: ") + error.what());
    }
  }

  bool Dispatcher::launch(const AnalysisRecord& record)
  {
    const std::string& series = record.series;
    auto progress = std::make_shared<AnalysisProgress>(record.series, record.study);
    if (record.attempts > static_cast<int>(configuration_.maximumAttempts))
    {
      std::string message = "the analysis was started " + std::to_string(record.attempts - 1) +
        " times and never finished (Orthanc stopped or crashed during it); MaximumAttempts is " +
        std::to_string(configuration_.maximumAttempts);
      queue_.end(series, record.wanted, holderOf(record), AnalysisError("interrupted", message));
      host_.log(LogLevel::Error, "analysis of series " + series + " failed: " + message);
      progress->end(AnalysisEnd::Failed, message);
      return true;
    }

    {
      std::lock_guard<std::mutex> lock(mutex_);
      RunningAnalysis& entry = running_[series];
      entry.record = record;
      entry.progress = progress;
      entry.start = AnalysisProgress::Clock::now();
    }
    host_.showAnalysis(progress);
    host_.log(LogLevel::Info, "analysing series " + series + " (attempt " + std::to_string(record.attempts) + ")");
    progress->report({Stage::Read, 0.0});

    RunningAnalysis& entry = running_.at(series);     // only this thread changes the map
    try
    {
      entry.instances = host_.openSeries(series);
    }
    catch (...)
    {
      complete(series, failedBeforeTheWorker(toAnalysisError(std::current_exception())));
      return true;
    }

    AnalysisRequest request;
    request.source = entry.instances.source;
    request.keepSeries = host_.needsSeries();
    request.onProgress = [progress](const StageProgress& report) { progress->report(report); };
    // The completion callback runs on a worker thread: it only hands the outcome over.
    request.onDone = [this, series](AnalysisOutcome&& outcome) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        completed_.emplace_back(series, std::move(outcome));
        woken_ = true;
      }
      wakeUp_.notify_all();
    };
    entry.waitingForSlot = std::move(request);
    return submit(series);
  }

  bool Dispatcher::submit(const std::string& series)
  {
    RunningAnalysis& entry = running_.at(series);
    std::optional<Worker::RequestId> id = worker_->trySubmit(*entry.waitingForSlot);
    if (!id)
    {
      return false;
    }
    entry.waitingForSlot.reset();
    // The watchdog's clock runs from admission: waiting for a slot is not the analysis' time.
    entry.progress->startDeadline(analysisTimeLimitSeconds(configuration_, entry.instances.source->count()));
    Worker* worker = worker_.get();
    const Worker::RequestId requestId = *id;
    entry.progress->setCanceller([worker, requestId] { worker->cancel(requestId); });
    host_.reached("analysing", series);
    return true;
  }

  void Dispatcher::handleCompletions()
  {
    for (;;)
    {
      std::pair<std::string, AnalysisOutcome> completion;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (completed_.empty())
        {
          return;
        }
        completion = std::move(completed_.front());
        completed_.pop_front();
      }
      try
      {
        complete(completion.first, std::move(completion.second));
      }
      catch (const std::exception& error)
      {
        // complete() records what it can itself; this only keeps the dispatcher thread alive.
        host_.log(LogLevel::Error, "cannot end the analysis of series " + completion.first + ": " + error.what());
        std::lock_guard<std::mutex> lock(mutex_);
        running_.erase(completion.first);
      }
    }
  }

  void Dispatcher::complete(const std::string& series, AnalysisOutcome outcome)
  {
    RunningAnalysis& entry = running_.at(series);
    const AnalysisRecord& record = entry.record;
    const ClaimHolder holder = holderOf(record);
    const std::shared_ptr<AnalysisProgress> progress = entry.progress;
    // This node stalled past its lease and the series was claimed again: that claim's end counts,
    // not this one's (docs/scale-out.md).
    auto takenOver = [&] {
      const std::string message = "the series was claimed again while this node analysed it (a stall longer "
                                  "than LeaseSeconds); this node's end of it is not recorded";
      host_.log(LogLevel::Warning, "analysis of series " + series + ": " + message);
      progress->end(AnalysisEnd::Interrupted, message);
    };
    std::optional<AnalysisError> error = std::move(outcome.error);
    if (!error)
    {
      try
      {
        FinishedAnalysis finished = store(entry, outcome);
        host_.reached("before-done", series);
        if (!queue_.finish(series, holder, finished))
        {
          takenOver();
        }
        else
        {
          host_.publishAnalysisFigures(finished.seconds, finished.slices, true);
          host_.log(LogLevel::Info, "series " + series + " analysed in " + std::to_string(finished.seconds) +
                    " s (" + std::to_string(finished.slices) + " slices, " +
                    std::to_string(finished.outputs.size()) + " outputs stored)");
          progress->end(AnalysisEnd::Done, "");
        }
      }
      catch (...)
      {
        error = toAnalysisError(std::current_exception());
      }
    }

    if (error)
    {
      try
      {
        if (progress->shutdownRequested())
        {
          // Left Running in the queue: the next start of Orthanc queues it again.
          host_.log(LogLevel::Warning, "analysis of series " + series +
                    " interrupted by Orthanc's shutdown; it runs again on the next start");
          progress->end(AnalysisEnd::Interrupted, "Orthanc is stopping");
        }
        else if (progress->cancelRequested())
        {
          if (!queue_.end(series, record.wanted, holder, AnalysisError("cancelled", "cancelled by a user")))
          {
            takenOver();
          }
          else
          {
            host_.log(LogLevel::Info, "analysis of series " + series + " cancelled");
            progress->end(AnalysisEnd::Cancelled, "cancelled by a user");
          }
        }
        else if (progress->timedOut())
        {
          const std::string message = progress->timeoutMessage();
          if (!queue_.end(series, record.wanted, holder, AnalysisError("timeout", message)))
          {
            takenOver();
          }
          else
          {
            host_.log(LogLevel::Error, "analysis of series " + series + " failed [timeout]: " + message);
            progress->end(AnalysisEnd::Failed, "[timeout] " + message);
          }
        }
        else if (!queue_.end(series, record.wanted, holder, *error))
        {
          takenOver();
        }
        else
        {
          host_.publishAnalysisFigures(0, 0, false);
          std::optional<AnalysisRecord> after = queue_.find(series);
          if (after && after->state == AnalysisState::Queued && after->retries > record.retries)
          {
            // A transient failure: this job ends, a new one starts with the retry.
            const double wait = std::max(0.0, after->retryAt - after->finishedAt);
            std::string message = "[" + error->code() + "] " + error->what() + "; retry " +
              std::to_string(after->retries) + " (attempt " + std::to_string(record.attempts + 1) + " of " +
              std::to_string(configuration_.maximumAttempts) + ") in " +
              std::to_string(static_cast<long>(wait + 0.5)) + " s";
            host_.log(LogLevel::Warning, "analysis of series " + series + " failed for now: " + message);
            progress->end(AnalysisEnd::Failed, message);
          }
          else
          {
            host_.log(LogLevel::Error, "analysis of series " + series + " failed [" + error->code() + "]: " +
                      error->what());
            progress->end(endOf(*error), "[" + error->code() + "] " + error->what());
          }
        }
      }
      catch (const std::exception& failure)
      {
        host_.log(LogLevel::Error, "cannot record the end of the analysis of series " + series + ": " +
                  failure.what());
        progress->end(AnalysisEnd::Failed, error->what());
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    running_.erase(series);
  }

  FinishedAnalysis Dispatcher::store(const RunningAnalysis& entry, const AnalysisOutcome& outcome)
  {
    AnalysisProgress& progress = *entry.progress;
    if (progress.shouldStop())
    {
      throw AnalysisError("cancelled", "the analysis was stopped before its outputs were stored");
    }
    progress.report({Stage::Write, 0.0});
    static const Series noSeries;
    std::vector<std::string> outputs = host_.storeOutputs(entry.record, outcome.result,
                                                          outcome.series ? *outcome.series : noSeries,
                                                          [&progress] { return progress.shouldStop(); });
    const AnalysisProgress::Clock::time_point end = AnalysisProgress::Clock::now();

    FinishedAnalysis finished;
    finished.claimed = entry.record.wanted;
    finished.analysed = {instancesFingerprint(entry.instances.instanceIds), entry.record.wanted.modelVersion};
    finished.outputs = std::move(outputs);
    finished.seconds = std::chrono::duration<double>(end - entry.start).count();
    finished.slices = outcome.result.geometry.slices;
    finished.stageSeconds = progress.stageSeconds(entry.start, end);
    return finished;
  }

  void Dispatcher::finishShutdown()
  {
    // stop() told every analysis to stop. One the worker never admitted ends here; the worker
    // hands each other one back through its onDone.
    std::vector<std::string> neverAdmitted;
    for (auto& entry : running_)
    {
      entry.second.progress->requestShutdown();     // also one launched while stop() began
      if (entry.second.waitingForSlot) neverAdmitted.push_back(entry.first);
    }
    for (const std::string& series : neverAdmitted)
    {
      complete(series, failedBeforeTheWorker(AnalysisError("cancelled", "Orthanc is stopping")));
    }
    for (;;)
    {
      handleCompletions();
      std::unique_lock<std::mutex> lock(mutex_);
      if (running_.empty())
      {
        return;
      }
      wakeUp_.wait(lock, [this] { return !completed_.empty(); });
    }
  }
}
