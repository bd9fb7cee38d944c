// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Everything the plugin holds while Orthanc runs. Built once in OrthancPluginInitialize; when the
// configuration or the model is wrong it is built disabled, with the reasons, so that Orthanc keeps
// running and /spinemet/health says what to fix.

#include "AnalysisQueue.h"
#include "ChangeListener.h"
#include "Configuration.h"
#include "Dispatcher.h"
#include "OrthancAnalysisHost.h"

#include <json/value.h>

#include <memory>
#include <string>
#include <vector>

namespace spinemet
{
  class Engine;

  class Service
  {
  public:
    // `orthancConfiguration` is Orthanc's whole configuration, read from `configurationFolder`.
    Service(const Json::Value& orthancConfiguration, const std::string& configurationFolder);
    ~Service();

    bool enabled() const { return dispatcher_ != nullptr; }
    const std::vector<std::string>& problems() const { return problems_; }
    const PluginConfiguration& configuration() const { return configuration_; }
    std::string deviceName() const;
    std::string modelVersion() const;

    void onOrthancStarted();
    void onOrthancStopped();
    void onStableSeries();

    // What the REST API serves (RestApi.cpp).
    Json::Value health();
    Json::Value model();
    Json::Value queueStatus();
    Json::Value seriesStatus(const std::string& series);     // null when SpineMet knows nothing of it
    Json::Value studyStatus(const std::string& study);
    Json::Value requestAnalysis(const std::string& series);  // null when Orthanc has no such series
    bool cancel(const std::string& series);

  private:
    Json::Value describe(const AnalysisRecord& record, bool withResult);

    PluginConfiguration configuration_;
    std::vector<std::string> problems_;
    std::shared_ptr<Engine> engine_;
    std::unique_ptr<AnalysisQueue> queue_;
    std::string queueDescription_;          // the file, or the PostgreSQL server and database
    std::unique_ptr<ChangeListener> listener_;
    std::unique_ptr<OrthancAnalysisHost> host_;
    std::unique_ptr<Dispatcher> dispatcher_;
  };
}
