// SPDX-License-Identifier: GPL-3.0-or-later
#include "OrthancAnalysisHost.h"

#include "Jobs.h"
#include "Metrics.h"
#include "OrthancApi.h"
#include "OrthancSliceSource.h"
#include "TestHooks.h"
#include "common/AnalysisError.h"

namespace spinemet
{
  OrthancAnalysisHost::OrthancAnalysisHost(const PluginConfiguration& configuration, ChangeListener& listener) :
    configuration_(configuration), listener_(listener), writer_(configuration)
  {
  }

  void OrthancAnalysisHost::log(LogLevel level, const std::string& message)
  {
    switch (level)
    {
      case LogLevel::Info: orthanc::logInfo(message); break;
      case LogLevel::Warning: orthanc::logWarning(message); break;
      case LogLevel::Error: orthanc::logError(message); break;
    }
  }

  void OrthancAnalysisHost::beginChangeRun(double startTime)
  {
    listener_.beginRun(startTime);
  }

  void OrthancAnalysisHost::followChangeLog(const std::function<bool()>& stopping)
  {
    listener_.followChangeLog(stopping);
  }

  void OrthancAnalysisHost::admitInterruptedArrivals()
  {
    listener_.admitInterruptedArrivals();
  }

  HostSeries OrthancAnalysisHost::openSeries(const std::string& series)
  {
    Json::Value instances;
    if (!orthanc::tryGetJson("/series/" + series + "/instances", instances))
    {
      throw AnalysisError("series-deleted", "Orthanc no longer has series " + series);
    }
    std::vector<std::string> ids;
    for (const Json::Value& instance : instances) ids.push_back(instance["ID"].asString());
    HostSeries opened;
    opened.instanceIds = ids;
    opened.source = std::make_shared<const OrthancSliceSource>(std::move(ids));
    return opened;
  }

  bool OrthancAnalysisHost::needsSeries() const
  {
    return configuration_.outputs.overlays;
  }

  std::vector<std::string> OrthancAnalysisHost::storeOutputs(const AnalysisRecord& record, const AnalysisResult& result,
                                                             const Series& series,
                                                             const std::function<bool()>& shouldStop)
  {
    return writer_.write(record, result, series, shouldStop);
  }

  void OrthancAnalysisHost::showAnalysis(const std::shared_ptr<AnalysisProgress>& progress)
  {
    submitAnalysisJob(progress);
  }

  void OrthancAnalysisHost::publishQueueFigures(const std::map<AnalysisState, uint64_t>& counts, size_t runningHere)
  {
    publishQueueMetrics(counts, runningHere);
  }

  void OrthancAnalysisHost::publishAnalysisFigures(double seconds, uint64_t slices, bool succeeded)
  {
    publishAnalysisMetrics(seconds, slices, succeeded);
  }

  void OrthancAnalysisHost::reached(const char* point, const std::string& series)
  {
    holdIfAsked(point, series);
  }
}
