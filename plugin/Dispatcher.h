// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "AnalysisHost.h"
#include "AnalysisProgress.h"
#include "AnalysisQueue.h"
#include "Configuration.h"
#include "worker/Worker.h"

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace spinemet
{
  class Engine;

  // The plugin's one thread, started when Orthanc has started and joined when it stops. It follows
  // the change log into the queue, claims queued series and hands them to the Worker with
  // trySubmit (never waiting: at most VolumesInFlight analyses, each mirrored by an Orthanc job),
  // and, called back by the Worker when a series is classified, stores its outputs and records
  // how it ended in the queue. No thread per analysis, no polling of one.
  //
  // Orthanc-free: what it needs from Orthanc (the change log, a series' instances, storing the
  // outputs, the job list, metrics, logging) goes through AnalysisHost.
  class Dispatcher
  {
  public:
    Dispatcher(const PluginConfiguration& configuration, AnalysisQueue& queue, AnalysisHost& host,
               std::shared_ptr<Engine> engine);
    ~Dispatcher();

    void start();
    void stop();                     // interrupted analyses stay Running, to be queued again on start

    // Something may be waiting (a StableSeries change, a manual request, a finished analysis): look
    // now, not at the next poll. Never blocks: the change callback calls it.
    void wake();

    // Cancels a running or queued analysis; false when there is none.
    bool cancel(const std::string& series);

    std::shared_ptr<AnalysisProgress> progressOf(const std::string& series);

  private:
    struct RunningAnalysis
    {
      AnalysisRecord record;
      std::shared_ptr<AnalysisProgress> progress;
      HostSeries instances;
      AnalysisProgress::Clock::time_point start;
      std::optional<AnalysisRequest> waitingForSlot;   // refused by trySubmit: tried again on wake-up
    };

    bool cancelRunning(const std::string& series);
    void loop();
    // The watchdog: stops every analysis past its deadline; returns the nearest deadline to come.
    AnalysisProgress::Clock::time_point enforceDeadlines();
    void followChanges(double startTime, bool& runBegun, bool& caughtUp);
    void startAnalyses();
    bool launch(const AnalysisRecord& record);        // false: the worker has no slot free
    bool submit(const std::string& series);           // the running entry's request to the worker
    void handleCompletions();
    void complete(const std::string& series, AnalysisOutcome outcome);
    void finishShutdown();
    FinishedAnalysis store(const RunningAnalysis& entry, const AnalysisOutcome& outcome);

    const PluginConfiguration& configuration_;
    AnalysisQueue& queue_;
    AnalysisHost& host_;
    void heartbeat();                                 // the lease thread's loop

    const std::string node_;                          // this node's name in the queue (NodeName)

    std::mutex mutex_;
    std::condition_variable wakeUp_;
    bool woken_ = false;
    bool stopping_ = false;
    std::map<std::string, RunningAnalysis> running_;   // from claim until recorded in the queue
    std::deque<std::pair<std::string, AnalysisOutcome>> completed_;   // from the Worker's onDone
    std::thread thread_;
    std::thread heartbeatThread_;                      // renews the leases of this node's claims
    std::unique_ptr<Worker> worker_;                   // last member: shut down first
  };
}
