// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The few calls into Orthanc that the plugin makes, as C++: JSON in and out, exceptions instead of
// error codes. Callable from any thread (the Orthanc SDK is thread-safe for these services).

#include <orthanc/OrthancCPlugin.h>

#include <json/value.h>

#include <stdexcept>
#include <string>

namespace spinemet::orthanc
{
  void setContext(OrthancPluginContext* context);
  OrthancPluginContext* context();

  void logInfo(const std::string& message);
  void logWarning(const std::string& message);
  void logError(const std::string& message);

  // A call into Orthanc's REST API that did not succeed.
  class RestError : public std::runtime_error
  {
  public:
    RestError(const std::string& method, const std::string& uri, OrthancPluginErrorCode code);
    OrthancPluginErrorCode code() const { return code_; }
    bool unknownResource() const { return code_ == OrthancPluginErrorCode_UnknownResource; }

  private:
    OrthancPluginErrorCode code_;
  };

  std::string get(const std::string& uri);
  Json::Value getJson(const std::string& uri);
  bool tryGetJson(const std::string& uri, Json::Value& answer);    // false when the resource is unknown
  std::string post(const std::string& uri, const std::string& body);
  Json::Value postJson(const std::string& uri, const std::string& body);
  void put(const std::string& uri, const std::string& body);
  bool remove(const std::string& uri);                             // false when already gone

  // The DICOM Part 10 bytes of a stored instance, straight from the storage area.
  std::string dicomOfInstance(const std::string& instanceId);

  Json::Value parseJson(const std::string& text, const std::string& what);   // throws std::runtime_error
  std::string writeJson(const Json::Value& value);                           // compact
}
