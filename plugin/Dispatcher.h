// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "AnalysisProgress.h"
#include "AnalysisQueue.h"
#include "ChangeListener.h"
#include "Configuration.h"
#include "SeriesAnalyser.h"

#include <condition_variable>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace spinemet
{
  // The plugin's worker: one thread, started when Orthanc has started and joined when it stops,
  // that follows the change log into the queue and runs up to VolumesInFlight analyses, each on
  // its own thread and each mirrored by an Orthanc job.
  class Dispatcher
  {
  public:
    Dispatcher(const PluginConfiguration& configuration, AnalysisQueue& queue,
               ChangeListener& listener, SeriesAnalyser& analyser);
    ~Dispatcher();

    void start();
    void stop();                     // interrupted analyses stay Running, to be queued again on start

    // Something may be waiting (a StableSeries change, a manual request): look now, not at the
    // next poll. Never blocks: the change callback calls it.
    void wake();

    // Cancels a running or queued analysis; false when there is none.
    bool cancel(const std::string& series);

    std::shared_ptr<AnalysisProgress> progressOf(const std::string& series);

  private:
    struct RunningAnalysis
    {
      std::shared_ptr<AnalysisProgress> progress;
      std::thread thread;
    };

    bool cancelRunning(const std::string& series);
    void loop();
    void launch(const AnalysisRecord& record);
    void analyse(AnalysisRecord record, std::shared_ptr<AnalysisProgress> progress);
    void runAnalysis(const AnalysisRecord& record, const std::shared_ptr<AnalysisProgress>& progress);
    void reapFinished();

    const PluginConfiguration& configuration_;
    AnalysisQueue& queue_;
    ChangeListener& listener_;
    SeriesAnalyser& analyser_;
    const std::string node_ = "local";   // one SQLite queue per Orthanc node

    std::mutex mutex_;
    std::condition_variable wakeUp_;
    bool woken_ = false;
    bool stopping_ = false;
    std::map<std::string, RunningAnalysis> running_;
    std::thread thread_;
  };
}
