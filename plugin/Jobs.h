// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "AnalysisProgress.h"

#include <memory>
#include <string>

namespace spinemet
{
  // Shows one analysis in Orthanc's job list (/jobs, Orthanc Explorer) with its progress; cancelling
  // the job there cancels the analysis. The job only mirrors the analysis, which runs on the
  // plugin's own threads: the durable queue, not Orthanc's job registry, is the record (the job is
  // not serialised, so it does not come back after a restart, but the analysis does).
  // Returns the job ID, or an empty string if Orthanc refused the job (the analysis runs anyway).
  std::string submitAnalysisJob(const std::shared_ptr<AnalysisProgress>& progress);

  static const char* const ANALYSIS_JOB_TYPE = "SpineMetAnalysis";
}
