// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "AnalysisQueue.h"

namespace spinemet
{
  // SpineMet's figures in Orthanc's Prometheus endpoint (/tools/metrics-prometheus):
  //   spinemet_queue_depth                 analyses queued or running
  //   spinemet_analyses_done               series whose current result is stored
  //   spinemet_analyses_failed             series whose last analysis failed
  //   spinemet_analysis_seconds            duration of the last finished analysis
  //   spinemet_slices_per_second           slices of the last finished analysis per second
  void publishQueueMetrics(AnalysisQueue& queue);
  void publishAnalysisMetrics(double seconds, uint64_t slices);
}
