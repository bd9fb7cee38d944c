// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "AnalysisQueue.h"

#include <cstdint>
#include <map>

namespace spinemet
{
  // SpineMet's figures in Orthanc's Prometheus endpoint (/tools/metrics-prometheus). The queue's
  // figures come from the queue, shared by every node of a cluster; the node's own are this
  // process's (each node serves its own endpoint):
  //   spinemet_queue_depth                 analyses queued or running (shared)
  //   spinemet_analyses_done               series whose current result is stored (shared)
  //   spinemet_analyses_failed             series whose last analysis failed (shared)
  //   spinemet_node_running                analyses running on this node
  //   spinemet_node_analysed               analyses this node finished since it started
  //   spinemet_node_failed                 analyses that failed on this node since it started
  //   spinemet_analysis_seconds            duration of this node's last finished analysis
  //   spinemet_slices_per_second           slices of this node's last finished analysis per second
  void publishQueueMetrics(std::map<AnalysisState, uint64_t> counts, size_t runningOnThisNode);
  void publishAnalysisMetrics(double seconds, uint64_t slices, bool succeeded);
}
