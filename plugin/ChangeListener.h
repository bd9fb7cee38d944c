// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "AnalysisQueue.h"
#include "Configuration.h"

#include <functional>
#include <string>

namespace spinemet
{
  // Turns Orthanc's change log into queued analyses. The change callback itself only wakes the
  // dispatcher (it runs inside Orthanc's core and must not block nor call the REST API); the
  // dispatcher thread then reads /changes from the last sequence it handled, which serves live
  // events, the catch-up after a stop or crash, and series stored while the plugin was disabled,
  // all the same way. Replaying a change is harmless: the queue de-duplicates.
  class ChangeListener
  {
  public:
    ChangeListener(const PluginConfiguration& configuration, AnalysisQueue& queue, std::string modelVersion);

    // Marks where this run of Orthanc begins in the change log, before the first
    // followChangeLog(): a NewSeries change logged before it belongs to an earlier run, whenever
    // the plugin reads it (it may not have read it before Orthanc died, or it was disabled).
    void beginRun(double startTime);

    // Reads the change log up to its end, or until `stopping` says so; returns how many series
    // were queued. A series that cannot be checked is recorded as failed with the reason, so that
    // one bad series does not hold up the change log.
    size_t followChangeLog(const std::function<bool()>& stopping);

    // Admits the series that were still arriving when an earlier run of Orthanc stopped: Orthanc
    // will not call them stable after its restart.
    void admitInterruptedArrivals();

    struct Admission
    {
      bool known = true;             // false: Orthanc does not have the series (any more)
      std::string outcome;           // "queued", "up-to-date", "skipped", ...
      std::string code;              // when skipped: the rule
      std::string message;
    };

    // Checks the selection rules on the series' real tags and queues it (trigger: "stable-series",
    // "manual"); `force` re-analyses a series whose current result is up to date.
    Admission admit(const std::string& series, const std::string& trigger, bool force);

  private:
    // A new instance in a series whose analysis had ended: marks the series as grown in the queue,
    // so that it is admitted after a restart even if Orthanc never calls it stable again.
    void noteGrownSeries(const std::string& instance, bool earlierRun);

    // A Done series whose result attachment or one of whose outputs Orthanc no longer has.
    bool resultMissing(const std::string& series);

    const PluginConfiguration& configuration_;
    AnalysisQueue& queue_;
    std::string modelVersion_;
    double runStartTime_ = 0;
    int64_t runStartChange_ = -1;    // the last change of the log when this run began
  };
}
