// SPDX-License-Identifier: GPL-3.0-or-later
#include "ResultWriter.h"

#include "OrthancApi.h"
#include "SecondaryCaptureOverlays.h"
#include "TestHooks.h"
#include "Tid1500MeasurementReport.h"
#include "common/AnalysisError.h"

#include <algorithm>

namespace spinemet
{
  namespace
  {
    std::string reportSeriesUid(const std::string& sourceSeriesUid)
    {
      return uidFromText("spinemet/structured-report/" + sourceSeriesUid);
    }

    std::string overlaySeriesUid(const std::string& sourceSeriesUid)
    {
      return uidFromText("spinemet/overlays/" + sourceSeriesUid);
    }

    // Storing takes a REST call per output: a cancel or Orthanc's shutdown need not wait for all.
    void stopIfAsked(const std::function<bool()>& shouldStop)
    {
      if (shouldStop())
      {
        throw AnalysisError("cancelled", "the analysis was stopped while its outputs were stored");
      }
    }
  }

  ResultWriter::ResultWriter(const PluginConfiguration& configuration) :
    configuration_(configuration)
  {
  }

  std::vector<std::string> ResultWriter::write(const AnalysisRecord& record, const AnalysisResult& result,
                                               const Series& series, const std::function<bool()>& shouldStop)
  {
    const std::string& sourceUid = result.series.seriesInstanceUid;
    std::vector<DicomObject> outputs;
    if (configuration_.outputs.structuredReport)
    {
      DicomOutputOptions options;
      options.seriesInstanceUid = reportSeriesUid(sourceUid);
      outputs.push_back(writeMeasurementReport(result, options));
    }
    if (configuration_.outputs.overlays)
    {
      OverlayOptions options;
      options.seriesInstanceUid = overlaySeriesUid(sourceUid);
      for (Overlay& overlay : makeOverlays(result, series, options))
      {
        outputs.push_back(std::move(overlay.dicom));
      }
    }

    // Store first, delete after: a failure in between leaves the previous result in place, never none.
    const std::vector<std::string> previous =
      previousOutputs(record, {reportSeriesUid(sourceUid), overlaySeriesUid(sourceUid)});

    std::vector<std::string> stored;
    try
    {
      for (const DicomObject& output : outputs)
      {
        stopIfAsked(shouldStop);
        stored.push_back(store(output.bytes, "output " + output.sopInstanceUid));
        if (stored.size() == 1 && configuration_.outputs.structuredReport) holdIfAsked("after-sr", record.series);
      }
      holdIfAsked("after-overlays", record.series);
      stopIfAsked(shouldStop);
      try
      {
        orthanc::put("/series/" + record.series + "/attachments/" + RESULT_ATTACHMENT,
                     orthanc::writeJson(toJson(result)));
      }
      catch (const orthanc::RestError& error)
      {
        throw AnalysisError("store", std::string("cannot attach the result to the source series: ") + error.what());
      }
    }
    catch (const AnalysisError&)
    {
      deleteOutputs(record, stored, {});      // the previous result stays the current one
      throw;
    }

    deleteOutputs(record, previous, stored);
    forward(record, result, stored);
    return stored;
  }

  std::vector<std::string> ResultWriter::previousOutputs(const AnalysisRecord& record,
                                                         const std::vector<std::string>& outputSeriesUids)
  {
    // Found in Orthanc by their Series Instance UID tag (derived from the source series' UID), not
    // only by the queue's list of outputs: a kill between storing the outputs and marking the run
    // done leaves outputs that no list names.
    std::vector<std::string> instances(record.outputs);    // includes outputs written under other settings
    auto isOutputSeries = [&](const Json::Value& series) {
      const std::string uid = series["MainDicomTags"]["SeriesInstanceUID"].asString();
      return std::find(outputSeriesUids.begin(), outputSeriesUids.end(), uid) != outputSeriesUids.end();
    };
    try
    {
      std::vector<Json::Value> candidates;
      if (!record.study.empty())
      {
        const Json::Value studySeries = orthanc::getJson("/studies/" + record.study + "/series");
        for (const Json::Value& series : studySeries) candidates.push_back(series);
      }
      // The study may have been sent again under other Orthanc IDs: the UIDs find them anywhere.
      for (const std::string& uid : outputSeriesUids)
      {
        const Json::Value matches = orthanc::postJson("/tools/lookup", uid);
        for (const Json::Value& match : matches)
        {
          if (match["Type"].asString() == "Series")
          {
            candidates.push_back(orthanc::getJson("/series/" + match["ID"].asString()));
          }
        }
      }
      for (const Json::Value& series : candidates)
      {
        if (!isOutputSeries(series)) continue;
        for (const Json::Value& instance : series["Instances"])
        {
          const std::string id = instance.asString();
          if (std::find(instances.begin(), instances.end(), id) == instances.end()) instances.push_back(id);
        }
      }
    }
    catch (const std::exception& error)
    {
      throw AnalysisError("store", std::string("cannot list the previous SpineMet outputs of the series: ") + error.what());
    }
    return instances;
  }

  void ResultWriter::deleteOutputs(const AnalysisRecord& record, const std::vector<std::string>& previous,
                                   const std::vector<std::string>& current)
  {
    // New outputs get new SOP Instance UIDs, so nothing just stored is in `previous`; the check
    // guards against a future writer that reuses them.
    for (const std::string& instance : previous)
    {
      if (std::find(current.begin(), current.end(), instance) != current.end())
      {
        continue;
      }
      try
      {
        orthanc::remove("/instances/" + instance);
      }
      catch (const std::exception& error)
      {
        // The new result is stored; the next analysis of the series finds the leftover by its series UID.
        orthanc::logWarning("series " + record.series + ": cannot delete the previous SpineMet output " + instance +
                            ": " + error.what());
      }
    }
  }

  std::string ResultWriter::store(const std::string& bytes, const std::string& what)
  {
    Json::Value answer;
    try
    {
      answer = orthanc::postJson("/instances", bytes);
    }
    catch (const std::exception& error)
    {
      throw AnalysisError("store", "Orthanc refused " + what + ": " + error.what());
    }
    if (!answer["ID"].isString())
    {
      throw AnalysisError("store", "Orthanc did not store " + what + ": " + orthanc::writeJson(answer));
    }
    return answer["ID"].asString();
  }

  void ResultWriter::forward(const AnalysisRecord& record, const AnalysisResult& result,
                             const std::vector<std::string>& outputs)
  {
    // Only a suspected lesion travels: a study with no lesion found, or one the model could not
    // assess, must not reach a worklist as if it had a finding. A forward that fails does not undo
    // the analysis: the result is stored, the log says what did not reach its destination.
    const StudyState state = result.state();
    if (state != StudyState::LesionSuspected)
    {
      if (!configuration_.forward.modalities.empty() || !configuration_.forward.webhook.empty())
      {
        orthanc::logInfo("series " + record.series + ": " + toString(state) + ", nothing forwarded");
      }
      return;
    }
    if (!outputs.empty())
    {
      Json::Value request;
      request["Resources"] = Json::arrayValue;
      for (const std::string& output : outputs) request["Resources"].append(output);
      request["Asynchronous"] = true;
      for (const std::string& modality : configuration_.forward.modalities)
      {
        try
        {
          orthanc::post("/modalities/" + modality + "/store", orthanc::writeJson(request));
        }
        catch (const std::exception& error)
        {
          orthanc::logWarning("cannot forward the outputs of series " + record.series + " to " + modality + ": " + error.what());
        }
      }
    }

    if (!configuration_.forward.webhook.empty())
    {
      Json::Value notice;
      notice["Event"] = "spinemet-lesion-suspected";
      notice["State"] = toString(state);
      notice["Vertebrae"] = Json::UInt64(result.vertebrae.size());
      notice["AssessableVertebrae"] = Json::UInt64(result.assessableVertebrae());
      notice["Study"] = record.study;
      notice["Series"] = record.series;
      notice["StudyInstanceUID"] = result.series.studyInstanceUid;
      notice["SeriesInstanceUID"] = result.series.seriesInstanceUid;
      notice["HighestBoneQuality"] = toString(result.highestBoneQuality());
      notice["Outputs"] = Json::arrayValue;
      for (const std::string& output : outputs) notice["Outputs"].append(output);
      notice["Status"] = "/spinemet/series/" + record.series;
      std::string body = orthanc::writeJson(notice);

      const char* headerKeys[] = {"Content-Type"};
      const char* headerValues[] = {"application/json"};
      OrthancPluginMemoryBuffer answer{nullptr, 0};
      uint16_t status = 0;
      OrthancPluginErrorCode code = OrthancPluginHttpClient(
        orthanc::context(), &answer, nullptr, &status, OrthancPluginHttpMethod_Post,
        configuration_.forward.webhook.c_str(), 1, headerKeys, headerValues, body.data(),
        static_cast<uint32_t>(body.size()), nullptr, nullptr, configuration_.forward.webhookTimeoutSeconds,
        nullptr, nullptr, nullptr, 0);
      if (answer.data != nullptr)
      {
        OrthancPluginFreeMemoryBuffer(orthanc::context(), &answer);
      }
      if (code != OrthancPluginErrorCode_Success)
      {
        orthanc::logWarning("the webhook " + configuration_.forward.webhook + " did not take the notice for series " +
                            record.series + " (HTTP status " + std::to_string(status) + ", " +
                            OrthancPluginGetErrorDescription(orthanc::context(), code) + ")");
      }
    }
  }
}
