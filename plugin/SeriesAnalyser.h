// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "AnalysisProgress.h"
#include "AnalysisQueue.h"
#include "Configuration.h"
#include "ResultWriter.h"

#include <memory>

namespace spinemet
{
  class Engine;
  class Worker;

  // One analysis of one series, from Orthanc's storage back into Orthanc: the series' instances
  // go through the pipeline on the shared Worker (inference/worker: batching across series), the
  // outputs through the ResultWriter. run() is called on a dispatcher thread, which waits for the
  // Worker and relays cancellation to it.
  class SeriesAnalyser
  {
  public:
    SeriesAnalyser(const PluginConfiguration& configuration, std::shared_ptr<Engine> engine);
    ~SeriesAnalyser();               // abandons what the Worker still holds

    // Throws AnalysisError for anything wrong with the series or its outputs (the reason that the
    // REST status shows), AnalysisError("cancelled") when asked to stop.
    FinishedAnalysis run(const AnalysisRecord& record, AnalysisProgress& progress);

  private:
    const PluginConfiguration& configuration_;
    std::unique_ptr<Worker> worker_;
    ResultWriter writer_;
  };
}
