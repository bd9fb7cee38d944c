// SPDX-License-Identifier: GPL-3.0-or-later
#include "Jobs.h"

#include "OrthancApi.h"

#include <json/value.h>

#include <chrono>

namespace spinemet
{
  namespace
  {
    // Orthanc calls a job's callbacks from one thread at a time, so the job needs no lock of its own.
    struct AnalysisJob
    {
      std::shared_ptr<AnalysisProgress> progress;
      std::string content;           // must outlive the call that returns it
    };

    AnalysisJob& job(void* pointer)
    {
      return *static_cast<AnalysisJob*>(pointer);
    }

    const char* describeJob(AnalysisJob& analysisJob)
    {
      const AnalysisProgress& progress = *analysisJob.progress;
      Json::Value content;
      content["Series"] = progress.series();
      content["Study"] = progress.study();
      content["Stage"] = progress.stage();
      const std::optional<AnalysisEnd> outcome = progress.outcome();
      content["Outcome"] = outcome ? toString(*outcome) : "running";
      content["Message"] = progress.message();
      content["Status"] = "/spinemet/series/" + progress.series();
      analysisJob.content = orthanc::writeJson(content);
      return analysisJob.content.c_str();
    }

    OrthancPluginJobStepStatus waitForOutcome(const AnalysisJob& analysisJob)
    {
      // Orthanc steps a job in a loop: waiting here on the analysis' end, a bounded time, keeps
      // that loop from spinning while the analysis runs on the worker's threads. Orthanc passes a
      // cancel from /jobs on (Stop) only once the running Step has returned, so the wait is short:
      // with the analysis' own checks, a cancel ends the work well within a second.
      const AnalysisProgress& progress = *analysisJob.progress;
      progress.waitForEnd(std::chrono::milliseconds(200));
      const std::optional<AnalysisEnd> outcome = progress.outcome();
      return !outcome ? OrthancPluginJobStepStatus_Continue :
        *outcome == AnalysisEnd::Done ? OrthancPluginJobStepStatus_Success : OrthancPluginJobStepStatus_Failure;
    }

    // Every callback below is called by Orthanc's core through the plugin's C boundary: no
    // exception may leave it.

    void finalizeJob(void* pointer)
    {
      delete static_cast<AnalysisJob*>(pointer);
    }

    float getProgress(void* pointer)
    {
      try
      {
        return job(pointer).progress->progress();
      }
      catch (...)
      {
        return 0;
      }
    }

    const char* getContent(void* pointer)
    {
      try
      {
        return describeJob(job(pointer));
      }
      catch (...)
      {
        return "{}";
      }
    }

    const char* getSerialized(void*)
    {
      return nullptr;                // not persisted: the queue database is the record
    }

    OrthancPluginJobStepStatus step(void* pointer)
    {
      try
      {
        return waitForOutcome(job(pointer));
      }
      catch (...)
      {
        return OrthancPluginJobStepStatus_Failure;
      }
    }

    OrthancPluginErrorCode stop(void* pointer, OrthancPluginJobStopReason reason)
    {
      try
      {
        if (reason == OrthancPluginJobStopReason_Canceled)
        {
          job(pointer).progress->requestCancel();
        }
        return OrthancPluginErrorCode_Success;
      }
      catch (...)
      {
        return OrthancPluginErrorCode_InternalError;
      }
    }

    OrthancPluginErrorCode reset(void*)
    {
      // Resubmitting the job shows the same analysis again; a new analysis is asked for with
      // POST /spinemet/series/{id}/analyse.
      return OrthancPluginErrorCode_Success;
    }
  }

  std::string submitAnalysisJob(const std::shared_ptr<AnalysisProgress>& progress)
  {
    AnalysisJob* analysisJob = new AnalysisJob{progress, {}};
    OrthancPluginJob* handle = OrthancPluginCreateJob(orthanc::context(), analysisJob, finalizeJob,
                                                      ANALYSIS_JOB_TYPE, getProgress, getContent,
                                                      getSerialized, step, stop, reset);
    if (handle == nullptr)
    {
      delete analysisJob;
      orthanc::logWarning("Orthanc refused the job for series " + progress->series());
      return "";
    }
    char* id = OrthancPluginSubmitJob(orthanc::context(), handle, 0);   // Orthanc owns the job now
    if (id == nullptr)
    {
      orthanc::logWarning("Orthanc did not accept the job for series " + progress->series());
      return "";
    }
    std::string jobId(id);
    OrthancPluginFreeString(orthanc::context(), id);
    return jobId;
  }
}
