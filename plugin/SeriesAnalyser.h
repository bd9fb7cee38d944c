// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "AnalysisProgress.h"
#include "AnalysisQueue.h"
#include "Configuration.h"

#include <memory>

namespace spinemet
{
  class Engine;

  // One analysis of one series, from Orthanc's storage back into Orthanc: fetch the instances,
  // run the pipeline (inference/), write and store the outputs (ResultWriter). Runs on a
  // dispatcher thread; checks `progress` for a cancellation between stages.
  class SeriesAnalyser
  {
  public:
    SeriesAnalyser(const PluginConfiguration& configuration, std::shared_ptr<Engine> engine);

    // Throws AnalysisError for anything wrong with the series or its outputs (the reason that the
    // REST status shows), AnalysisError("cancelled") when asked to stop.
    FinishedAnalysis run(const AnalysisRecord& record, AnalysisProgress& progress);

  private:
    const PluginConfiguration& configuration_;
    std::shared_ptr<Engine> engine_;
  };
}
