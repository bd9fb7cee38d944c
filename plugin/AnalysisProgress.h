// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// What one running analysis shares with Orthanc's job list and the REST API: where it is, and a
// way to ask it to stop. Written by the analysis thread, read by anyone.

#include <atomic>
#include <mutex>
#include <string>

namespace spinemet
{
  class AnalysisProgress
  {
  public:
    enum class Outcome { Running, Done, Failed, Cancelled, Interrupted };

    AnalysisProgress(std::string series, std::string study) :
      series_(std::move(series)), study_(std::move(study))
    {
    }

    const std::string& series() const { return series_; }
    const std::string& study() const { return study_; }

    void setStage(const std::string& stage, float progress)
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stage_ = stage;
      progress_ = progress;
    }

    void setProgress(float progress)
    {
      std::lock_guard<std::mutex> lock(mutex_);
      progress_ = progress;
    }

    void end(Outcome outcome, const std::string& message)
    {
      std::lock_guard<std::mutex> lock(mutex_);
      static const char* const names[] = {"running", "done", "failed", "cancelled", "interrupted"};
      outcome_ = outcome;
      message_ = message;
      stage_ = names[static_cast<int>(outcome)];
      if (outcome == Outcome::Done) progress_ = 1;
    }

    std::string stage() const { std::lock_guard<std::mutex> lock(mutex_); return stage_; }
    float progress() const { std::lock_guard<std::mutex> lock(mutex_); return progress_; }
    Outcome outcome() const { std::lock_guard<std::mutex> lock(mutex_); return outcome_; }
    std::string message() const { std::lock_guard<std::mutex> lock(mutex_); return message_; }

    // A cancellation from Orthanc's job list or the REST API, and a shutdown of Orthanc, both stop
    // the analysis at its next check; only the first ends it as cancelled.
    void requestCancel() { cancelRequested_ = true; }
    void requestShutdown() { shutdownRequested_ = true; }
    bool cancelRequested() const { return cancelRequested_; }
    bool shutdownRequested() const { return shutdownRequested_; }
    bool shouldStop() const { return cancelRequested_ || shutdownRequested_; }

  private:
    const std::string series_;
    const std::string study_;
    mutable std::mutex mutex_;
    std::string stage_ = "waiting";
    float progress_ = 0;
    Outcome outcome_ = Outcome::Running;
    std::string message_;
    std::atomic<bool> cancelRequested_{false};
    std::atomic<bool> shutdownRequested_{false};
  };
}
