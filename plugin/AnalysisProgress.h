// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// What one running analysis shares with Orthanc's job list and the REST API: where it is, and a
// way to ask it to stop. Written by the worker's progress reports and the dispatcher, read by
// anyone (the job's Step waits on it, a bounded time).

#include "common/AnalysisError.h"
#include "common/StageProgress.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace spinemet
{
  class AnalysisProgress
  {
  public:
    AnalysisProgress(std::string series, std::string study) :
      series_(std::move(series)), study_(std::move(study))
    {
    }

    const std::string& series() const { return series_; }
    const std::string& study() const { return study_; }

    using Clock = std::chrono::steady_clock;

    // Where the analysis is now; the time each stage is first reported is kept for stageSeconds().
    void report(const StageProgress& progress)
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (outcome_)
      {
        return;
      }
      current_ = progress;
      stageStarts_.emplace(progress.stage, Clock::now());   // the first report of a stage counts
    }

    // Seconds from `start` to the first report of the next stage, per stage ("read", "spine",
    // "classify", "write"); a stage never reported takes no time.
    std::map<std::string, double> stageSeconds(Clock::time_point start, Clock::time_point end) const
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const Stage stages[] = {Stage::Read, Stage::Spine, Stage::Classify, Stage::Write};
      Clock::time_point begins[5];
      begins[0] = start;
      begins[4] = end;
      for (int i = 3; i >= 1; --i)
      {
        auto found = stageStarts_.find(stages[i]);
        begins[i] = found == stageStarts_.end() ? begins[i + 1] : std::min(found->second, begins[i + 1]);
      }
      std::map<std::string, double> seconds;
      for (int i = 0; i < 4; ++i)
      {
        seconds[stageKey(stages[i])] = std::chrono::duration<double>(std::max(begins[i + 1], begins[i]) - begins[i]).count();
      }
      return seconds;
    }

    // Once: the analysis is over (and the canceller is dropped: nothing is left to stop).
    void end(AnalysisEnd outcome, const std::string& message)
    {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        outcome_ = outcome;
        message_ = message;
        if (outcome == AnalysisEnd::Done) current_ = StageProgress{Stage::Write, 1.0};
      }
      endedChanged_.notify_all();
      std::lock_guard<std::mutex> lock(cancellerMutex_);
      canceller_ = nullptr;
    }

    // Waits at most `timeout` for the end; true once the analysis has ended.
    bool waitForEnd(std::chrono::milliseconds timeout) const
    {
      std::unique_lock<std::mutex> lock(mutex_);
      return endedChanged_.wait_for(lock, timeout, [this] { return outcome_.has_value(); });
    }

    // "waiting" before the first report, the stage's words while it runs, the outcome once ended.
    std::string stage() const
    {
      std::lock_guard<std::mutex> lock(mutex_);
      return outcome_ ? toString(*outcome_) : current_ ? describe(current_->stage) : "waiting";
    }

    // The whole analysis, 0..1 (common/StageProgress.h: overallFraction).
    float progress() const
    {
      std::lock_guard<std::mutex> lock(mutex_);
      return current_ ? static_cast<float>(overallFraction(*current_)) : 0.0f;
    }

    // Nothing while it runs.
    std::optional<AnalysisEnd> outcome() const { std::lock_guard<std::mutex> lock(mutex_); return outcome_; }
    std::string message() const { std::lock_guard<std::mutex> lock(mutex_); return message_; }

    // A cancellation from Orthanc's job list or the REST API, a shutdown of Orthanc and the
    // watchdog's deadline all stop the analysis at its next check; only the first ends it as
    // cancelled, the last as failed ("timeout"). The canceller (set by
    // the dispatcher once the worker has the series) passes the request on to the worker.
    void requestCancel() { cancelRequested_ = true; passOnStop(); }
    void requestShutdown() { shutdownRequested_ = true; passOnStop(); }

    // The watchdog: from now on the analysis may run `limitSeconds` more. Past that, shouldStop()
    // says so, and enforceDeadline() (the dispatcher's loop) passes the stop on to the worker.
    void startDeadline(double limitSeconds)
    {
      std::lock_guard<std::mutex> lock(mutex_);
      limitSeconds_ = limitSeconds;
      deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limitSeconds));
    }
    std::optional<Clock::time_point> deadline() const { std::lock_guard<std::mutex> lock(mutex_); return deadline_; }
    // True (once, passing the stop on) when the deadline has just been found past.
    bool enforceDeadline()
    {
      if (timedOut_ || !deadlinePast()) return false;
      timedOut_ = true;
      passOnStop();
      return true;
    }
    // Past the deadline; the message says by how much the limit was exceeded.
    bool timedOut() const { return timedOut_ || deadlinePast(); }
    std::string timeoutMessage() const
    {
      std::lock_guard<std::mutex> lock(mutex_);
      char limit[32];
      std::snprintf(limit, sizeof limit, "%.0f", limitSeconds_);
      return std::string("the analysis ran longer than its limit of ") + limit +
        " s (SpineMet.AnalysisTimeout, scaled by the series' slices) and was stopped";
    }
    void setCanceller(std::function<void()> canceller)
    {
      {
        std::lock_guard<std::mutex> lock(cancellerMutex_);
        canceller_ = std::move(canceller);
      }
      if (shouldStop()) passOnStop();     // asked before the worker had it
    }
    bool cancelRequested() const { return cancelRequested_; }
    bool shutdownRequested() const { return shutdownRequested_; }
    bool shouldStop() const { return cancelRequested_ || shutdownRequested_ || timedOut(); }

  private:
    bool deadlinePast() const
    {
      std::lock_guard<std::mutex> lock(mutex_);
      return deadline_ && Clock::now() >= *deadline_;
    }

    void passOnStop()
    {
      std::lock_guard<std::mutex> lock(cancellerMutex_);
      if (canceller_) canceller_();
    }

    const std::string series_;
    const std::string study_;
    mutable std::mutex mutex_;
    mutable std::condition_variable endedChanged_;
    std::mutex cancellerMutex_;          // apart from mutex_: the canceller takes the worker's lock
    std::function<void()> canceller_;
    std::optional<StageProgress> current_;
    std::map<Stage, Clock::time_point> stageStarts_;
    std::optional<AnalysisEnd> outcome_;
    std::string message_;
    std::atomic<bool> cancelRequested_{false};
    std::atomic<bool> shutdownRequested_{false};
    std::atomic<bool> timedOut_{false};
    std::optional<Clock::time_point> deadline_;
    double limitSeconds_ = 0;
  };
}
