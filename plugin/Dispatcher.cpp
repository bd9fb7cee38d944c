// SPDX-License-Identifier: GPL-3.0-or-later
#include "Dispatcher.h"

#include "Jobs.h"
#include "Metrics.h"
#include "OrthancApi.h"
#include "common/AnalysisError.h"

#include <chrono>

namespace spinemet
{
  namespace
  {
    // The change callback wakes the dispatcher; polling as well covers a wake-up lost to a race
    // and series that the REST API queued on another thread.
    const std::chrono::seconds POLL_INTERVAL(5);
  }

  Dispatcher::Dispatcher(const PluginConfiguration& configuration, AnalysisQueue& queue,
                         ChangeListener& listener, SeriesAnalyser& analyser) :
    configuration_(configuration), queue_(queue), listener_(listener), analyser_(analyser)
  {
  }

  Dispatcher::~Dispatcher()
  {
    stop();
  }

  void Dispatcher::start()
  {
    size_t interrupted = queue_.requeueInterrupted(node_);
    if (interrupted > 0)
    {
      orthanc::logWarning(std::to_string(interrupted) + " analyses were interrupted by the last stop of Orthanc; "
                          "they are queued again");
    }
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
    thread_ = std::thread(&Dispatcher::loop, this);
  }

  void Dispatcher::stop()
  {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!thread_.joinable())
      {
        return;
      }
      stopping_ = true;
    }
    wakeUp_.notify_all();
    thread_.join();
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
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = running_.find(series);
    if (found == running_.end())
    {
      return false;
    }
    found->second.progress->requestCancel();
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
    orthanc::logInfo("worker started");
    const double startTime = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    bool runBegun = false;
    bool caughtUp = false;
    for (;;)
    {
      try
      {
        if (!runBegun)
        {
          listener_.beginRun(startTime);
          runBegun = true;
        }
        listener_.followChangeLog([this] {
          std::lock_guard<std::mutex> lock(mutex_);
          return stopping_;
        });
        if (!caughtUp)
        {
          listener_.admitInterruptedArrivals();
          caughtUp = true;
        }
      }
      catch (const std::exception& error)
      {
        orthanc::logWarning(std::string("cannot read Orthanc's change log now (will retry): ") + error.what());
      }

      reapFinished();
      try
      {
        for (;;)
        {
          {
            std::lock_guard<std::mutex> lock(mutex_);
            if (stopping_ || running_.size() >= configuration_.volumesInFlight) break;
          }
          std::optional<AnalysisRecord> record = queue_.claim(node_);
          if (!record) break;
          launch(*record);
        }
        publishQueueMetrics(queue_);
      }
      catch (const std::exception& error)
      {
        orthanc::logError(std::string("the analysis queue failed: ") + error.what());
      }

      std::unique_lock<std::mutex> lock(mutex_);
      if (!stopping_)
      {
        wakeUp_.wait_for(lock, POLL_INTERVAL, [this] { return woken_ || stopping_; });
      }
      woken_ = false;
      if (stopping_)
      {
        for (auto& entry : running_) entry.second.progress->requestShutdown();
        break;
      }
    }

    std::map<std::string, RunningAnalysis> remaining;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      remaining.swap(running_);
    }
    for (auto& entry : remaining) entry.second.thread.join();
    orthanc::logInfo("worker stopped");
  }

  void Dispatcher::launch(const AnalysisRecord& record)
  {
    auto progress = std::make_shared<AnalysisProgress>(record.series, record.study);
    std::lock_guard<std::mutex> lock(mutex_);
    RunningAnalysis& running = running_[record.series];
    running.progress = progress;
    running.thread = std::thread(&Dispatcher::analyse, this, record, progress);
  }

  void Dispatcher::reapFinished()
  {
    std::list<std::thread> finished;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = running_.begin(); it != running_.end();)
      {
        if (it->second.progress->outcome() != AnalysisProgress::Outcome::Running)
        {
          finished.push_back(std::move(it->second.thread));
          it = running_.erase(it);
        }
        else
        {
          ++it;
        }
      }
    }
    for (std::thread& thread : finished) thread.join();
  }

  void Dispatcher::analyse(AnalysisRecord record, std::shared_ptr<AnalysisProgress> progress)
  {
    // The entry function of an analysis thread: anything escaping it would terminate Orthanc
    // (an SQLite error while recording a failure, say).
    try
    {
      runAnalysis(record, progress);
    }
    catch (const std::exception& error)
    {
      orthanc::logError("the analysis of series " + record.series + " ended in an internal error: " + error.what());
      progress->end(AnalysisProgress::Outcome::Failed, "internal error");
      wake();
    }
    catch (...)
    {
      progress->end(AnalysisProgress::Outcome::Failed, "internal error");
      wake();
    }
  }

  void Dispatcher::runAnalysis(const AnalysisRecord& record, const std::shared_ptr<AnalysisProgress>& progress)
  {
    const std::string& series = record.series;
    if (record.attempts > static_cast<int>(configuration_.maximumAttempts))
    {
      std::string message = "the analysis was started " + std::to_string(record.attempts - 1) +
        " times and never finished (Orthanc stopped or crashed during it); MaximumAttempts is " +
        std::to_string(configuration_.maximumAttempts);
      queue_.fail(series, record.wanted, "interrupted", message);
      orthanc::logError("analysis of series " + series + " failed: " + message);
      progress->end(AnalysisProgress::Outcome::Failed, message);
      wake();
      return;
    }

    submitAnalysisJob(progress);
    orthanc::logInfo("analysing series " + series + " (attempt " + std::to_string(record.attempts) + ")");

    std::string code;
    std::string message;
    try
    {
      FinishedAnalysis finished = analyser_.run(record, *progress);
      queue_.finish(series, finished);
      publishAnalysisMetrics(finished.seconds, finished.slices);
      orthanc::logInfo("series " + series + " analysed in " + std::to_string(finished.seconds) + " s (" +
                       std::to_string(finished.slices) + " slices, " + std::to_string(finished.outputs.size()) +
                       " outputs stored)");
      progress->end(AnalysisProgress::Outcome::Done, "");
      wake();
      return;
    }
    catch (const AnalysisError& error)
    {
      code = error.code();
      message = error.what();
    }
    catch (const std::exception& error)
    {
      code = "internal";
      message = std::string("internal error: ") + error.what();
    }
    catch (...)
    {
      code = "internal";
      message = "internal error of an unknown kind";
    }

    try
    {
      if (progress->shutdownRequested())
      {
        // Left Running in the queue: the next start of Orthanc queues it again.
        orthanc::logWarning("analysis of series " + series + " interrupted by Orthanc's shutdown; it runs again on the next start");
        progress->end(AnalysisProgress::Outcome::Interrupted, "Orthanc is stopping");
      }
      else if (progress->cancelRequested())
      {
        queue_.cancel(series, record.wanted, "cancelled by a user");
        orthanc::logInfo("analysis of series " + series + " cancelled");
        progress->end(AnalysisProgress::Outcome::Cancelled, "cancelled by a user");
      }
      else
      {
        queue_.fail(series, record.wanted, code, message);
        orthanc::logError("analysis of series " + series + " failed [" + code + "]: " + message);
        progress->end(AnalysisProgress::Outcome::Failed, "[" + code + "] " + message);
      }
    }
    catch (const std::exception& error)
    {
      orthanc::logError("cannot record the end of the analysis of series " + series + ": " + error.what());
      progress->end(AnalysisProgress::Outcome::Failed, message);
    }
    wake();
  }
}
