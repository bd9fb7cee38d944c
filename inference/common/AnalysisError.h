// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

namespace spinemet
{
  // The reason an analysis cannot go on, worded for the person who reads it in Orthanc's job list,
  // the REST status or the command line: it names what is wrong and where (which file, tag, slice).
  // It is the one error type from the stages to every surface: the worker's outcome carries it,
  // the plugin records its code and message in the queue row (REST: Reason.Code, Reason.Message)
  // and the job, the command-line tool prints it and exits with exitStatus().
  class AnalysisError : public std::runtime_error
  {
  public:
    // `code` is a stable key that scripts and tests can match ("gantry-tilt", "no-spine", ...);
    // the full list lives in docs/errors.md.
    AnalysisError(std::string code, const std::string& message) :
      std::runtime_error(message),
      code_(std::move(code))
    {
    }

    const std::string& code() const
    {
      return code_;
    }

    // Not the input's fault: a bug or a resource failure (a model that fails during predict counts
    // here). The message says so itself ("internal error: ...").
    static AnalysisError internal(const std::string& what)
    {
      return AnalysisError("internal", "internal error: " + what);
    }

    bool isInternal() const
    {
      return code_ == "internal";
    }

    // Stopped on request (cancel from the job list, the REST API or a caller of the worker).
    bool isCancelled() const
    {
      return code_ == "cancelled";
    }

    // The command-line tools' exit status: 2 the input or the model cannot be used, 3 internal.
    int exitStatus() const
    {
      return isInternal() ? 3 : 2;
    }

  private:
    std::string code_;
  };

  // The one translation of whatever an analysis threw into the error every surface shows: an
  // AnalysisError as it is, anything else as an internal error with its what().
  inline AnalysisError toAnalysisError(const std::exception_ptr& thrown)
  {
    try
    {
      std::rethrow_exception(thrown);
    }
    catch (const AnalysisError& error)
    {
      return error;
    }
    catch (const std::exception& error)
    {
      return AnalysisError::internal(error.what());
    }
    catch (...)
    {
      return AnalysisError::internal("an exception of an unknown kind");
    }
  }

  // How an analysis ended, in the words every surface uses: the worker's outcome, the plugin's job
  // (Outcome) and the queue's state (docs/plugin.md). Interrupted: Orthanc stopped during it; the
  // queue keeps it running, to be queued again on the next start.
  enum class AnalysisEnd
  {
    Done,
    Failed,
    Cancelled,
    Interrupted
  };

  inline const char* toString(AnalysisEnd end)
  {
    switch (end)
    {
      case AnalysisEnd::Done: return "done";
      case AnalysisEnd::Failed: return "failed";
      case AnalysisEnd::Cancelled: return "cancelled";
      case AnalysisEnd::Interrupted: return "interrupted";
    }
    return "?";
  }

  // The end an error makes: cancelled, or failed (internal errors included: error.isInternal()).
  inline AnalysisEnd endOf(const AnalysisError& error)
  {
    return error.isCancelled() ? AnalysisEnd::Cancelled : AnalysisEnd::Failed;
  }
}
