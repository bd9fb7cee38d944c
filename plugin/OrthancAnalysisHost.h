// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "AnalysisHost.h"
#include "ChangeListener.h"
#include "Configuration.h"
#include "ResultWriter.h"

namespace spinemet
{
  // The Dispatcher's host inside Orthanc: the change log through the ChangeListener, a series'
  // instances from Orthanc's storage (OrthancSliceSource), the outputs through the ResultWriter,
  // the analysis as an Orthanc job, the figures as Orthanc metrics, the test hooks (TestHooks.h).
  class OrthancAnalysisHost : public AnalysisHost
  {
  public:
    OrthancAnalysisHost(const PluginConfiguration& configuration, ChangeListener& listener);

    void log(LogLevel level, const std::string& message) override;

    void beginChangeRun(double startTime) override;
    void followChangeLog(const std::function<bool()>& stopping) override;
    void admitInterruptedArrivals() override;

    HostSeries openSeries(const std::string& series) override;
    bool needsSeries() const override;
    std::vector<std::string> storeOutputs(const AnalysisRecord& record, const AnalysisResult& result,
                                          const Series& series, const std::function<bool()>& shouldStop) override;

    void showAnalysis(const std::shared_ptr<AnalysisProgress>& progress) override;
    void publishQueueFigures(const std::map<AnalysisState, uint64_t>& counts, size_t runningHere) override;
    void publishAnalysisFigures(double seconds, uint64_t slices, bool succeeded) override;
    void reached(const char* point, const std::string& series) override;

  private:
    const PluginConfiguration& configuration_;
    ChangeListener& listener_;
    ResultWriter writer_;
  };
}
