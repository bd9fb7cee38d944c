// SPDX-License-Identifier: GPL-3.0-or-later
#include "Metrics.h"

#include "OrthancApi.h"

#include <atomic>

namespace spinemet
{
  namespace
  {
    std::atomic<uint64_t> analysedHere(0);
    std::atomic<uint64_t> failedHere(0);

    void set(const char* name, double value)
    {
      OrthancPluginSetMetricsValue(orthanc::context(), name, static_cast<float>(value),
                                   OrthancPluginMetricsType_Default);
    }
  }

  void publishQueueMetrics(std::map<AnalysisState, uint64_t> counts, size_t runningOnThisNode)
  {
    set("spinemet_queue_depth", static_cast<double>(counts[AnalysisState::Queued] + counts[AnalysisState::Running]));
    set("spinemet_analyses_done", static_cast<double>(counts[AnalysisState::Done]));
    set("spinemet_analyses_failed", static_cast<double>(counts[AnalysisState::Failed]));
    set("spinemet_node_running", static_cast<double>(runningOnThisNode));
    set("spinemet_node_analysed", static_cast<double>(analysedHere.load()));
    set("spinemet_node_failed", static_cast<double>(failedHere.load()));
  }

  void publishAnalysisMetrics(double seconds, uint64_t slices, bool succeeded)
  {
    if (!succeeded)
    {
      failedHere++;
      set("spinemet_node_failed", static_cast<double>(failedHere.load()));
      return;
    }
    analysedHere++;
    set("spinemet_node_analysed", static_cast<double>(analysedHere.load()));
    set("spinemet_analysis_seconds", seconds);
    if (seconds > 0)
    {
      set("spinemet_slices_per_second", static_cast<double>(slices) / seconds);
    }
  }
}
