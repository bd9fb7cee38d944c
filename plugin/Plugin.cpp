// SPDX-License-Identifier: GPL-3.0-or-later
// The entry points that Orthanc calls: set up the service, register the callbacks, tear down.

#include "OrthancApi.h"
#include "RestApi.h"
#include "Service.h"

#include <filesystem>
#include <memory>

namespace
{
  std::unique_ptr<spinemet::Service> service;

  // Runs synchronously inside Orthanc's core: it only hands events over, never blocks, never calls
  // the REST API (the SDK forbids it here).
  OrthancPluginErrorCode onChange(OrthancPluginChangeType changeType, OrthancPluginResourceType, const char*)
  {
    try
    {
      switch (changeType)
      {
        case OrthancPluginChangeType_OrthancStarted:
          service->onOrthancStarted();
          break;
        case OrthancPluginChangeType_OrthancStopped:
          service->onOrthancStopped();
          break;
        case OrthancPluginChangeType_StableSeries:
          service->onStableSeries();
          break;
        default:
          break;
      }
    }
    catch (const std::exception& error)
    {
      spinemet::orthanc::logError(std::string("change callback: ") + error.what());
    }
    return OrthancPluginErrorCode_Success;
  }
}

namespace
{
  // Orthanc resolves relative paths of its configuration from the folder of the configuration file
  // (or from the folder given on the command line); so does SpineMet.
  std::string configurationFolder(OrthancPluginContext* context)
  {
    char* path = OrthancPluginGetConfigurationPath(context);
    if (path == nullptr)
    {
      return ".";
    }
    std::filesystem::path configuration(path);
    OrthancPluginFreeString(context, path);
    return std::filesystem::is_directory(configuration) ? configuration.string() :
      configuration.parent_path().string();
  }
}

namespace spinemet
{
  extern const char* const EXPLORER_SCRIPT;     // OrthancExplorer.js, embedded at build time
}

extern "C"
{
  ORTHANC_PLUGINS_API int32_t OrthancPluginInitialize(OrthancPluginContext* context)
  {
    spinemet::orthanc::setContext(context);
    if (OrthancPluginCheckVersion(context) == 0)
    {
      spinemet::orthanc::logError("needs Orthanc " + std::to_string(ORTHANC_PLUGINS_MINIMAL_MAJOR_NUMBER) + "." +
                                  std::to_string(ORTHANC_PLUGINS_MINIMAL_MINOR_NUMBER) + "." +
                                  std::to_string(ORTHANC_PLUGINS_MINIMAL_REVISION_NUMBER) + " or newer, this is " +
                                  context->orthancVersion);
      return -1;
    }
    OrthancPluginSetDescription(context, "SpineMet: triage of spinal metastases on CT (research use only).");

    try
    {
      char* configuration = OrthancPluginGetConfiguration(context);
      Json::Value orthancConfiguration;
      if (configuration != nullptr)
      {
        std::string text(configuration);
        OrthancPluginFreeString(context, configuration);
        orthancConfiguration = spinemet::orthanc::parseJson(text, "Orthanc's configuration");
      }
      spinemet::orthanc::logWarning(std::string("SpineMet ") + SPINEMET_VERSION + " initialising");
      service = std::make_unique<spinemet::Service>(orthancConfiguration, configurationFolder(context));
    }
    catch (const std::exception& error)
    {
      spinemet::orthanc::logError(std::string("cannot initialise: ") + error.what());
      return -1;
    }

    spinemet::registerRestApi(*service);
    OrthancPluginRegisterOnChangeCallback(context, onChange);
    OrthancPluginExtendOrthancExplorer(context, spinemet::EXPLORER_SCRIPT);
    return 0;
  }

  ORTHANC_PLUGINS_API void OrthancPluginFinalize()
  {
    service.reset();
    spinemet::orthanc::logWarning("SpineMet finalised");
  }

  ORTHANC_PLUGINS_API const char* OrthancPluginGetName()
  {
    return "spinemet";
  }

  ORTHANC_PLUGINS_API const char* OrthancPluginGetVersion()
  {
    return SPINEMET_VERSION;
  }
}
