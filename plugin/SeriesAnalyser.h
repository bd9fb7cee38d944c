// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "AnalysisProgress.h"
#include "AnalysisQueue.h"
#include "Configuration.h"
#include "OrthancSliceSource.h"
#include "ResultWriter.h"

#include <chrono>
#include <memory>

namespace spinemet
{
  struct AnalysisOutcome;

  // The two ends of one series' analysis in Orthanc; the middle (volume, spine, model) is the
  // Worker's (inference/worker), driven by the Dispatcher. Both are called on the dispatcher's
  // thread.
  class SeriesAnalyser
  {
  public:
    explicit SeriesAnalyser(const PluginConfiguration& configuration);

    // The series' instances, read from Orthanc's storage as the worker asks for them. Throws
    // AnalysisError("series-deleted") when Orthanc no longer has the series.
    std::shared_ptr<const OrthancSliceSource> source(const std::string& series) const;

    // Whether the writer needs the loaded series (the overlays are drawn on its volume).
    bool needsSeries() const;

    // Stores the outputs of a Done outcome (ResultWriter) and says what was analysed, how long it
    // took (from `start`) and where the time went. Throws AnalysisError for outputs Orthanc refused
    // ("store", "dicom-write") and AnalysisError("cancelled") when the progress says stop.
    FinishedAnalysis store(const AnalysisRecord& record, const OrthancSliceSource& source,
                           const AnalysisOutcome& outcome, AnalysisProgress& progress,
                           AnalysisProgress::Clock::time_point start);

  private:
    const PluginConfiguration& configuration_;
    ResultWriter writer_;
  };
}
