// SPDX-License-Identifier: GPL-3.0-or-later
#include "Metrics.h"

#include "OrthancApi.h"

namespace spinemet
{
  namespace
  {
    void set(const char* name, double value)
    {
      OrthancPluginSetMetricsValue(orthanc::context(), name, static_cast<float>(value),
                                   OrthancPluginMetricsType_Default);
    }
  }

  void publishQueueMetrics(AnalysisQueue& queue)
  {
    std::map<AnalysisState, uint64_t> counts = queue.countByState();
    set("spinemet_queue_depth", static_cast<double>(counts[AnalysisState::Queued] + counts[AnalysisState::Running]));
    set("spinemet_analyses_done", static_cast<double>(counts[AnalysisState::Done]));
    set("spinemet_analyses_failed", static_cast<double>(counts[AnalysisState::Failed]));
  }

  void publishAnalysisMetrics(double seconds, uint64_t slices)
  {
    set("spinemet_analysis_seconds", seconds);
    if (seconds > 0)
    {
      set("spinemet_slices_per_second", static_cast<double>(slices) / seconds);
    }
  }
}
