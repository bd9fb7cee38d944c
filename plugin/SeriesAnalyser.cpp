// SPDX-License-Identifier: GPL-3.0-or-later
#include "SeriesAnalyser.h"

#include "OrthancApi.h"
#include "common/AnalysisError.h"
#include "worker/Worker.h"

namespace spinemet
{
  SeriesAnalyser::SeriesAnalyser(const PluginConfiguration& configuration) :
    configuration_(configuration),
    writer_(configuration)
  {
  }

  std::shared_ptr<const OrthancSliceSource> SeriesAnalyser::source(const std::string& series) const
  {
    Json::Value instances;
    if (!orthanc::tryGetJson("/series/" + series + "/instances", instances))
    {
      throw AnalysisError("series-deleted", "Orthanc no longer has series " + series);
    }
    std::vector<std::string> ids;
    for (const Json::Value& instance : instances) ids.push_back(instance["ID"].asString());
    return std::make_shared<const OrthancSliceSource>(std::move(ids));
  }

  bool SeriesAnalyser::needsSeries() const
  {
    return configuration_.outputs.overlays;
  }

  FinishedAnalysis SeriesAnalyser::store(const AnalysisRecord& record, const OrthancSliceSource& source,
                                         const AnalysisOutcome& outcome, AnalysisProgress& progress,
                                         AnalysisProgress::Clock::time_point start)
  {
    if (progress.shouldStop())
    {
      throw AnalysisError("cancelled", "the analysis was stopped before its outputs were stored");
    }
    progress.report({Stage::Write, 0.0});
    static const Series noSeries;
    std::vector<std::string> outputs = writer_.write(record, outcome.result,
                                                     outcome.series ? *outcome.series : noSeries,
                                                     [&progress] { return progress.shouldStop(); });
    const AnalysisProgress::Clock::time_point end = AnalysisProgress::Clock::now();

    FinishedAnalysis finished;
    finished.claimed = record.wanted;
    finished.analysed = {instancesFingerprint(source.instanceIds()), record.wanted.modelVersion};
    finished.outputs = outputs;
    finished.seconds = std::chrono::duration<double>(end - start).count();
    finished.slices = outcome.result.geometry.slices;
    finished.stageSeconds = progress.stageSeconds(start, end);
    return finished;
  }
}
