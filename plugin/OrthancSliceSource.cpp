// SPDX-License-Identifier: GPL-3.0-or-later
#include "OrthancSliceSource.h"

#include "OrthancApi.h"
#include "common/AnalysisError.h"

namespace spinemet
{
  OrthancSliceSource::OrthancSliceSource(std::vector<std::string> instanceIds) :
    instanceIds_(std::move(instanceIds))
  {
  }

  std::string OrthancSliceSource::describe(size_t index) const
  {
    return "Orthanc instance " + instanceIds_.at(index);
  }

  std::string OrthancSliceSource::read(size_t index) const
  {
    try
    {
      return orthanc::dicomOfInstance(instanceIds_.at(index));
    }
    catch (const orthanc::RestError& error)
    {
      throw AnalysisError("fetch", "cannot read " + describe(index) + " from Orthanc's storage: " + error.what());
    }
  }
}
