// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "volume/SliceSource.h"

#include <string>
#include <vector>

namespace spinemet
{
  // The instances of one Orthanc series, read from Orthanc's storage area on demand (no copy on
  // disk, no HTTP): the volume loader sees the same bytes as from files.
  class OrthancSliceSource : public SliceSource
  {
  public:
    explicit OrthancSliceSource(std::vector<std::string> instanceIds);

    size_t count() const override { return instanceIds_.size(); }
    std::string describe(size_t index) const override;
    std::string read(size_t index) const override;       // throws AnalysisError("fetch")

    const std::vector<std::string>& instanceIds() const { return instanceIds_; }

  private:
    std::vector<std::string> instanceIds_;
  };
}
