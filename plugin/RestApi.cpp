// SPDX-License-Identifier: GPL-3.0-or-later
#include "RestApi.h"

#include "OrthancApi.h"
#include "RestPayloads.h"
#include "Service.h"

#include <json/writer.h>

#include <optional>

namespace spinemet
{
  namespace
  {
    Service* service_ = nullptr;

    void answerJson(OrthancPluginRestOutput* output, const Json::Value& value, uint16_t status = 200)
    {
      Json::StreamWriterBuilder builder;
      builder["indentation"] = "  ";
      std::string body = Json::writeString(builder, value);
      if (status == 200)
      {
        OrthancPluginAnswerBuffer(orthanc::context(), output, body.data(), body.size(), "application/json");
      }
      else
      {
        OrthancPluginSendHttpStatus(orthanc::context(), output, status, body.data(), body.size());
      }
    }

    void answerError(OrthancPluginRestOutput* output, uint16_t status, const std::string& message)
    {
      Json::Value error;
      error["Error"] = message;
      answerJson(output, error, status);
    }

    using Handler = void (*)(OrthancPluginRestOutput*, const OrthancPluginHttpRequest*);

    // No exception crosses into Orthanc: a handler that throws answers 500 with the reason. Every
    // route but health needs an enabled plugin; disabled, they answer 503 with the reasons.
    template <Handler handler, OrthancPluginHttpMethod method, bool needsEnabled>
    OrthancPluginErrorCode guarded(OrthancPluginRestOutput* output, const char* url,
                                   const OrthancPluginHttpRequest* request)
    {
      try
      {
        if (request->method != method)
        {
          OrthancPluginSendMethodNotAllowed(orthanc::context(), output,
                                            method == OrthancPluginHttpMethod_Get ? "GET" : "POST");
        }
        else if (needsEnabled && !service_->enabled())
        {
          Json::Value answer = service_->health();
          answer["Error"] = "SpineMet is disabled";
          answerJson(output, answer, 503);
        }
        else
        {
          handler(output, request);
        }
        return OrthancPluginErrorCode_Success;
      }
      catch (const std::exception& error)
      {
        orthanc::logError(std::string("REST ") + url + ": " + error.what());
        answerError(output, 500, error.what());
        return OrthancPluginErrorCode_Success;
      }
      catch (...)
      {
        orthanc::logError(std::string("REST ") + url + ": unknown error");
        return OrthancPluginErrorCode_InternalError;
      }
    }

    std::string group(const OrthancPluginHttpRequest* request, uint32_t index)
    {
      return index < request->groupsCount ? request->groups[index] : "";
    }

    // The route's Orthanc ID, or nothing once a 400 naming what is wrong has been answered.
    std::optional<std::string> orthancId(OrthancPluginRestOutput* output, const OrthancPluginHttpRequest* request)
    {
      std::string id = group(request, 0);
      if (std::optional<std::string> problem = orthancIdProblem(id))
      {
        answerError(output, 400, *problem);
        return std::nullopt;
      }
      return id;
    }

    void getHealth(OrthancPluginRestOutput* output, const OrthancPluginHttpRequest*)
    {
      answerJson(output, service_->health());
    }

    void getModel(OrthancPluginRestOutput* output, const OrthancPluginHttpRequest*)
    {
      answerJson(output, service_->model());
    }

    void getQueue(OrthancPluginRestOutput* output, const OrthancPluginHttpRequest*)
    {
      answerJson(output, service_->queueStatus());
    }

    void getSeries(OrthancPluginRestOutput* output, const OrthancPluginHttpRequest* request)
    {
      std::optional<std::string> id = orthancId(output, request);
      if (!id) return;
      const std::string& series = *id;
      Json::Value status = service_->seriesStatus(series);
      if (status.isNull())
      {
        Json::Value seriesJson;
        if (!orthanc::tryGetJson("/series/" + series, seriesJson))
        {
          return answerError(output, 404, "Orthanc has no series " + series);
        }
        status["Series"] = series;
        status["State"] = "unknown";
        status["Reason"]["Message"] = "SpineMet has not seen this series (stored before SpineMet was installed, "
                                      "or not stable yet); POST /spinemet/series/" + series + "/analyse analyses it";
      }
      answerJson(output, status);
    }

    void postAnalyse(OrthancPluginRestOutput* output, const OrthancPluginHttpRequest* request)
    {
      std::optional<std::string> id = orthancId(output, request);
      if (!id) return;
      const std::string& series = *id;
      Json::Value answer = service_->requestAnalysis(series);
      if (answer.isNull())
      {
        return answerError(output, 404, "Orthanc has no series " + series);
      }
      answerJson(output, answer);
    }

    void postCancel(OrthancPluginRestOutput* output, const OrthancPluginHttpRequest* request)
    {
      std::optional<std::string> id = orthancId(output, request);
      if (!id) return;
      const std::string& series = *id;
      Json::Value answer;
      answer["Series"] = series;
      answer["Cancelled"] = service_->cancel(series);
      answerJson(output, answer);
    }

    void getStudy(OrthancPluginRestOutput* output, const OrthancPluginHttpRequest* request)
    {
      std::optional<std::string> id = orthancId(output, request);
      if (!id) return;
      const std::string& study = *id;
      Json::Value studyJson;
      if (!orthanc::tryGetJson("/studies/" + study, studyJson))
      {
        return answerError(output, 404, "Orthanc has no study " + study);
      }
      answerJson(output, service_->studyStatus(study));
    }

    template <Handler handler, OrthancPluginHttpMethod method, bool needsEnabled>
    void route(const char* pattern)
    {
      OrthancPluginRegisterRestCallbackNoLock(orthanc::context(), pattern, guarded<handler, method, needsEnabled>);
    }
  }

  void registerRestApi(Service& service)
  {
    service_ = &service;
    constexpr OrthancPluginHttpMethod GET = OrthancPluginHttpMethod_Get;
    constexpr OrthancPluginHttpMethod POST = OrthancPluginHttpMethod_Post;
    route<getHealth, GET, false>("/spinemet/health");
    route<getModel, GET, true>("/spinemet/model");
    route<getQueue, GET, true>("/spinemet/queue");
    route<getSeries, GET, true>("/spinemet/series/([^/]+)");
    route<postAnalyse, POST, true>("/spinemet/series/([^/]+)/analyse");
    route<postCancel, POST, true>("/spinemet/series/([^/]+)/cancel");
    route<getStudy, GET, true>("/spinemet/studies/([^/]+)");
  }
}
