// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <stdexcept>
#include <string>

namespace spinemet
{
  // The reason an analysis cannot go on, worded for the person who reads it in Orthanc's job list,
  // the REST status or the command line: it names what is wrong and where (which file, tag, slice).
  // Anything else thrown inside the pipeline is an internal error, not a problem with the input.
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

  private:
    std::string code_;
  };
}
