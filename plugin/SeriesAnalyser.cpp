// SPDX-License-Identifier: GPL-3.0-or-later
#include "SeriesAnalyser.h"

#include "OrthancApi.h"
#include "OrthancSliceSource.h"
#include "common/AnalysisError.h"
#include "engine/Engine.h"

namespace spinemet
{
  SeriesAnalyser::SeriesAnalyser(const PluginConfiguration& configuration, std::shared_ptr<Engine> engine) :
    configuration_(configuration), engine_(std::move(engine))
  {
  }

  FinishedAnalysis SeriesAnalyser::run(const AnalysisRecord& record, AnalysisProgress& progress)
  {
    progress.setStage("fetching", 0);
    Json::Value series;
    if (!orthanc::tryGetJson("/series/" + record.series, series))
    {
      throw AnalysisError("series-deleted", "Orthanc no longer has series " + record.series);
    }
    throw AnalysisError("pipeline-missing", "the pipeline is not wired into the plugin yet");
  }
}
