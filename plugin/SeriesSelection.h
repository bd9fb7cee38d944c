// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "Configuration.h"

#include <optional>
#include <string>

namespace spinemet
{
  // What the selection rules look at: the series' main tags in Orthanc's index plus the tags of one
  // of its instances that passed checkInstance (or, when none did, of the first one), and the count
  // of those that passed.
  struct SeriesFacts
  {
    std::string modality;
    size_t instanceCount = 0;
    std::string seriesDescription;
    std::string bodyPartExamined;
    std::string sopClassUid;
    std::string imageType;           // as stored, backslash-separated: "ORIGINAL\PRIMARY\AXIAL"
    std::string sliceThickness;      // as stored (DS), may be empty
  };

  struct SelectionVerdict
  {
    std::string code;                // "not-ct", "image-type", ... (docs/plugin.md)
    std::string message;
  };

  // Nothing when the series is one to analyse; otherwise the first rule it breaks.
  std::optional<SelectionVerdict> checkSelection(const SeriesSelection& selection, const SeriesFacts& facts);

  // The rules on one instance's tags only (SOP Class, Image Type, Slice Thickness): an instance
  // that breaks one (a localizer or scout stored in an axial series) is left out of the series'
  // count, not the series. `facts.modality`, the count and the series tags are not looked at.
  std::optional<SelectionVerdict> checkInstance(const SeriesSelection& selection, const SeriesFacts& facts);
}
