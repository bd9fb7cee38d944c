// SPDX-License-Identifier: GPL-3.0-or-later
#include "ChangeListener.h"

#include "OrthancApi.h"
#include "SeriesSelection.h"

#include <algorithm>
#include <chrono>
#include <optional>

namespace spinemet
{
  namespace
  {
    const unsigned CHANGES_PER_PAGE = 100;

    std::string tag(const Json::Value& tags, const char* name)
    {
      const Json::Value& value = tags[name];
      if (value.isString()) return value.asString();
      if (value.isArray())                        // multi-valued in the simplified form
      {
        std::string joined;
        for (const Json::Value& item : value) joined += (joined.empty() ? "" : "\\") + item.asString();
        return joined;
      }
      return "";
    }

    double secondsSinceEpoch()
    {
      return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    }
  }

  ChangeListener::ChangeListener(const PluginConfiguration& configuration, AnalysisQueue& queue,
                                 std::string modelVersion) :
    configuration_(configuration), queue_(queue), modelVersion_(std::move(modelVersion))
  {
  }

  void ChangeListener::beginRun(double startTime)
  {
    runStartChange_ = orthanc::getJson("/changes?last")["Last"].asInt64();
    runStartTime_ = startTime;
  }

  size_t ChangeListener::followChangeLog(const std::function<bool()>& stopping)
  {
    int64_t since = queue_.lastChange();
    if (since < 0)
    {
      // A new queue starts at the end of the log: installing SpineMet does not analyse the whole
      // archive (POST /spinemet/series/{id}/analyse does, series by series).
      Json::Value last = orthanc::getJson("/changes?last");
      queue_.setLastChange(last["Last"].asInt64());
      orthanc::logInfo("new queue, following Orthanc's change log from sequence " + last["Last"].asString());
      return 0;
    }

    size_t queued = 0;
    for (;;)
    {
      Json::Value page = orthanc::getJson("/changes?since=" + std::to_string(since) +
                                          "&limit=" + std::to_string(CHANGES_PER_PAGE));
      for (const Json::Value& change : page["Changes"])
      {
        if (stopping())
        {
          return queued;                // the sequence handled so far is stored
        }
        const std::string type = change["ChangeType"].asString();
        since = change["Seq"].asInt64();
        if (type == "NewSeries")
        {
          const bool earlierRun = since <= runStartChange_;
          queue_.noteReceiving(change["ID"].asString(), earlierRun ? runStartTime_ - 1 : secondsSinceEpoch());
          queue_.setLastChange(since);
        }
        else if (type == "NewInstance")
        {
          noteGrownSeries(change["ID"].asString(), since <= runStartChange_);
          queue_.setLastChange(since);
        }
        else if (type == "StableSeries")
        {
          const std::string series = change["ID"].asString();
          try
          {
            Admission admission = admit(series, "stable-series", false);
            if (admission.outcome == "queued") queued++;
          }
          catch (const std::exception& error)
          {
            if (stopping()) throw;      // Orthanc is going away: try again after the restart
            orthanc::logError("cannot check series " + series + " against the selection rules: " + error.what());
            queue_.skip(series, "", "unreadable", std::string("the series could not be checked: ") + error.what());
          }
          queue_.setLastChange(since);
        }
      }
      since = std::max(since, page["Last"].asInt64());
      queue_.setLastChange(since);
      if (page["Done"].asBool() || page["Changes"].empty())
      {
        return queued;
      }
    }
  }

  void ChangeListener::noteGrownSeries(const std::string& instance, bool earlierRun)
  {
    // The change log names the instance, not its series: one look-up in Orthanc's index.
    Json::Value instanceJson;
    try
    {
      if (!orthanc::tryGetJson("/instances/" + instance, instanceJson))
      {
        return;                         // deleted since: its series' StableSeries tells the rest
      }
    }
    catch (const std::exception& error)
    {
      orthanc::logWarning("cannot find the series of the new instance " + instance + ": " + error.what());
      return;
    }
    const std::string series = instanceJson["ParentSeries"].asString();
    if (!series.empty())
    {
      queue_.noteGrown(series, earlierRun ? runStartTime_ - 1 : secondsSinceEpoch());
    }
  }

  bool ChangeListener::resultMissing(const std::string& series)
  {
    std::optional<AnalysisRecord> record = queue_.find(series);
    if (!record || record->state != AnalysisState::Done)
    {
      return false;
    }
    Json::Value answer;
    if (!orthanc::tryGetJson("/series/" + series + "/attachments", answer) || !answer.isArray())
    {
      return true;
    }
    bool attached = false;
    for (const Json::Value& name : answer) attached = attached || name.asString() == RESULT_ATTACHMENT;
    if (!attached)
    {
      return true;
    }
    for (const std::string& output : record->outputs)
    {
      if (!orthanc::tryGetJson("/instances/" + output, answer))
      {
        return true;
      }
    }
    return false;
  }

  void ChangeListener::admitInterruptedArrivals()
  {
    for (const std::string& series : queue_.receivingBefore(runStartTime_))
    {
      Admission admission = admit(series, "restart", false);
      if (!admission.known)
      {
        queue_.skip(series, "", "series-deleted", admission.message);
      }
    }
  }

  ChangeListener::Admission ChangeListener::admit(const std::string& series, const std::string& trigger, bool force)
  {
    Admission admission;
    Json::Value seriesJson;
    if (!orthanc::tryGetJson("/series/" + series, seriesJson))
    {
      admission.known = false;
      admission.outcome = "unknown";
      admission.message = "Orthanc has no series " + series;
      return admission;
    }
    const std::string study = seriesJson["ParentStudy"].asString();
    const Json::Value& mainTags = seriesJson["MainDicomTags"];
    std::vector<std::string> instances;
    for (const Json::Value& instance : seriesJson["Instances"]) instances.push_back(instance.asString());

    SeriesFacts facts;
    facts.modality = tag(mainTags, "Modality");
    facts.seriesDescription = tag(mainTags, "SeriesDescription");
    facts.bodyPartExamined = tag(mainTags, "BodyPartExamined");
    facts.instanceCount = instances.size();
    size_t leftOut = 0;
    std::optional<SelectionVerdict> firstLeftOut;
    if (!instances.empty() && facts.modality == "CT")
    {
      // Judged from all instances, not the first: a localizer or scout stored in the axial series
      // (the loader drops it) is left out of the count, not the series. The look-ups stop once
      // the outcome is certain: MinimumSlices instances passed, or too few can still pass.
      const size_t wanted = std::max<size_t>(configuration_.selection.minimumSlices, 1);
      size_t passed = 0;
      std::optional<SeriesFacts> firstPassed, firstFailed;
      for (size_t i = 0; i < instances.size() && (i == 0 || (passed < wanted && instances.size() - leftOut >= wanted)); ++i)
      {
        Json::Value tags = orthanc::getJson("/instances/" + instances[i] + "/simplified-tags");
        SeriesFacts instance = facts;
        instance.sopClassUid = tag(tags, "SOPClassUID");
        instance.imageType = tag(tags, "ImageType");
        instance.sliceThickness = tag(tags, "SliceThickness");
        if (std::optional<SelectionVerdict> verdict = checkInstance(configuration_.selection, instance))
        {
          leftOut++;
          if (!firstFailed)
          {
            firstFailed = instance;
            firstLeftOut = verdict;
          }
        }
        else
        {
          passed++;
          if (!firstPassed) firstPassed = instance;
        }
      }
      const SeriesFacts& judged = firstPassed ? *firstPassed : *firstFailed;
      facts.sopClassUid = judged.sopClassUid;
      facts.imageType = judged.imageType;
      facts.sliceThickness = judged.sliceThickness;
      if (firstPassed) facts.instanceCount = instances.size() - leftOut;
    }

    if (std::optional<SelectionVerdict> verdict = checkSelection(configuration_.selection, facts))
    {
      if (verdict->code == "too-few-slices" && firstLeftOut)
      {
        verdict->message += " once " + std::to_string(leftOut) + " instance(s) are left out (" +
                            firstLeftOut->message + ")";
      }
      queue_.skip(series, study, verdict->code, verdict->message);
      orthanc::logInfo("series " + series + " not analysed: " + verdict->message);
      admission.outcome = "skipped";
      admission.code = verdict->code;
      admission.message = verdict->message;
      return admission;
    }

    if (!force && configuration_.reanalysis == ReanalysisPolicy::Never)
    {
      std::optional<AnalysisRecord> existing = queue_.find(series);
      if (existing && (existing->state == AnalysisState::Done || existing->state == AnalysisState::Failed))
      {
        admission.outcome = "up-to-date";
        admission.message = "ReanalysisPolicy is Never and the series was analysed before";
        return admission;
      }
    }

    EnqueueRequest request;
    request.series = series;
    request.study = study;
    request.key = {instancesFingerprint(instances), modelVersion_};
    request.trigger = trigger;
    request.force = force;
    EnqueueOutcome outcome = queue_.enqueue(request);
    if (outcome == EnqueueOutcome::UpToDate && resultMissing(series))
    {
      // The same instances, but the result is gone: the study was deleted and sent again (Orthanc
      // gives it the same IDs), or a user deleted the SR.
      request.force = true;
      request.trigger = trigger + ", result missing";
      outcome = queue_.enqueue(request);
    }
    admission.outcome = toString(outcome);
    if (outcome != EnqueueOutcome::UpToDate)
    {
      orthanc::logInfo("series " + series + " " + admission.outcome + " for analysis (" + trigger + ", " +
                       std::to_string(instances.size()) + " instances)");
    }
    return admission;
  }
}
