// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// What the Dispatcher needs from the Orthanc it runs in, and nothing more: the plugin's glue
// implements it on Orthanc's SDK (OrthancAnalysisHost), a test implements it where a running
// Orthanc would be (tests/plugin/DispatcherTest.cpp). The Dispatcher's own decisions (claims,
// trySubmit and its completion, leases, the watchdog, cancel, retries, shutdown) stay on this side
// of the line and are tested without Orthanc.

#include "AnalysisProgress.h"
#include "AnalysisQueue.h"
#include "result/AnalysisResult.h"
#include "volume/SliceSource.h"
#include "volume/Volume.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace spinemet
{
  // One series' instances as the host stores them.
  struct HostSeries
  {
    std::shared_ptr<const SliceSource> source;   // what the Worker reads
    std::vector<std::string> instanceIds;        // what the analysis covered (instancesFingerprint)
  };

  enum class LogLevel
  {
    Info,
    Warning,
    Error
  };

  class AnalysisHost
  {
  public:
    virtual ~AnalysisHost() = default;

    virtual void log(LogLevel level, const std::string& message) = 0;

    // The change log into the queue (queueing nodes, ChangeListener): where this run of the host
    // begins, then the log up to its end (or until `stopping`), then, once, the series that were
    // still arriving when an earlier run stopped. Each may throw: the dispatcher retries later.
    virtual void beginChangeRun(double startTime) = 0;
    virtual void followChangeLog(const std::function<bool()>& stopping) = 0;
    virtual void admitInterruptedArrivals() = 0;

    // The series' instances. Throws AnalysisError("series-deleted") when the host no longer has it.
    virtual HostSeries openSeries(const std::string& series) = 0;

    // Whether storeOutputs needs the loaded series (the overlays are drawn on its volume).
    virtual bool needsSeries() const = 0;

    // Stores a finished analysis' outputs; returns their IDs. Throws AnalysisError ("store",
    // "dicom-write": what the host refused; "cancelled" when `shouldStop` says so before the
    // outputs are complete), having removed what this call stored.
    virtual std::vector<std::string> storeOutputs(const AnalysisRecord& record, const AnalysisResult& result,
                                                  const Series& series, const std::function<bool()>& shouldStop) = 0;

    // Shows a running analysis to the host's users (Orthanc's job list), which may cancel it
    // through `progress`. A host that cannot show it lets the analysis run anyway.
    virtual void showAnalysis(const std::shared_ptr<AnalysisProgress>& progress) = 0;

    // The figures of the queue (shared by the nodes) and of this node (Metrics.h).
    virtual void publishQueueFigures(const std::map<AnalysisState, uint64_t>& counts, size_t runningHere) = 0;
    virtual void publishAnalysisFigures(double seconds, uint64_t slices, bool succeeded) = 0;

    // An analysis of `series` reached a named point (TestHooks.h: "claimed", "analysing",
    // "before-done"); a host may hold the calling thread there, for tests that stop it exactly there.
    virtual void reached(const char* point, const std::string& series) = 0;
  };
}
