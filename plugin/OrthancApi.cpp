// SPDX-License-Identifier: GPL-3.0-or-later
#include "OrthancApi.h"

#include <json/reader.h>
#include <json/writer.h>

#include <memory>

namespace spinemet::orthanc
{
  namespace
  {
    OrthancPluginContext* context_ = nullptr;

    // Owns an answer of the SDK and hands its bytes over as a string.
    class Buffer
    {
    public:
      Buffer() { buffer_.data = nullptr; buffer_.size = 0; }
      ~Buffer()
      {
        if (buffer_.data != nullptr)
        {
          OrthancPluginFreeMemoryBuffer(context_, &buffer_);
        }
      }
      Buffer(const Buffer&) = delete;
      Buffer& operator=(const Buffer&) = delete;

      OrthancPluginMemoryBuffer* target() { return &buffer_; }
      std::string str() const
      {
        return buffer_.data == nullptr ? std::string() :
          std::string(static_cast<const char*>(buffer_.data), buffer_.size);
      }

    private:
      OrthancPluginMemoryBuffer buffer_;
    };

    std::string describeError(OrthancPluginErrorCode code)
    {
      const char* description = OrthancPluginGetErrorDescription(context_, code);
      return description == nullptr ? "error " + std::to_string(code) : std::string(description);
    }
  }

  void setContext(OrthancPluginContext* context)
  {
    context_ = context;
  }

  OrthancPluginContext* context()
  {
    return context_;
  }

  void logInfo(const std::string& message)
  {
    OrthancPluginLogInfo(context_, ("SpineMet: " + message).c_str());
  }

  void logWarning(const std::string& message)
  {
    OrthancPluginLogWarning(context_, ("SpineMet: " + message).c_str());
  }

  void logError(const std::string& message)
  {
    OrthancPluginLogError(context_, ("SpineMet: " + message).c_str());
  }

  RestError::RestError(const std::string& method, const std::string& uri, OrthancPluginErrorCode code) :
    std::runtime_error(method + " " + uri + " failed in Orthanc: " + describeError(code)),
    code_(code)
  {
  }

  std::string get(const std::string& uri)
  {
    Buffer answer;
    OrthancPluginErrorCode code = OrthancPluginRestApiGet(context_, answer.target(), uri.c_str());
    if (code != OrthancPluginErrorCode_Success)
    {
      throw RestError("GET", uri, code);
    }
    return answer.str();
  }

  Json::Value getJson(const std::string& uri)
  {
    return parseJson(get(uri), "the answer to GET " + uri);
  }

  bool tryGetJson(const std::string& uri, Json::Value& answer)
  {
    try
    {
      answer = getJson(uri);
      return true;
    }
    catch (const RestError& error)
    {
      if (error.unknownResource())
      {
        return false;
      }
      throw;
    }
  }

  std::string post(const std::string& uri, const std::string& body)
  {
    Buffer answer;
    OrthancPluginErrorCode code = OrthancPluginRestApiPost(context_, answer.target(), uri.c_str(),
                                                           body.data(), body.size());
    if (code != OrthancPluginErrorCode_Success)
    {
      throw RestError("POST", uri, code);
    }
    return answer.str();
  }

  Json::Value postJson(const std::string& uri, const std::string& body)
  {
    return parseJson(post(uri, body), "the answer to POST " + uri);
  }

  void put(const std::string& uri, const std::string& body)
  {
    Buffer answer;
    OrthancPluginErrorCode code = OrthancPluginRestApiPut(context_, answer.target(), uri.c_str(),
                                                          body.data(), body.size());
    if (code != OrthancPluginErrorCode_Success)
    {
      throw RestError("PUT", uri, code);
    }
  }

  bool remove(const std::string& uri)
  {
    OrthancPluginErrorCode code = OrthancPluginRestApiDelete(context_, uri.c_str());
    if (code == OrthancPluginErrorCode_UnknownResource)
    {
      return false;
    }
    if (code != OrthancPluginErrorCode_Success)
    {
      throw RestError("DELETE", uri, code);
    }
    return true;
  }

  std::string dicomOfInstance(const std::string& instanceId)
  {
    Buffer answer;
    OrthancPluginErrorCode code = OrthancPluginGetDicomForInstance(context_, answer.target(), instanceId.c_str());
    if (code != OrthancPluginErrorCode_Success)
    {
      throw RestError("GET", "/instances/" + instanceId + "/file", code);
    }
    return answer.str();
  }

  Json::Value parseJson(const std::string& text, const std::string& what)
  {
    Json::CharReaderBuilder builder;
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    Json::Value value;
    std::string errors;
    if (!reader->parse(text.data(), text.data() + text.size(), &value, &errors))
    {
      throw std::runtime_error(what + " is not valid JSON: " + errors);
    }
    return value;
  }

  std::string writeJson(const Json::Value& value)
  {
    Json::StreamWriterBuilder builder;
    builder["indentation"] = "";
    return Json::writeString(builder, value);
  }
}
