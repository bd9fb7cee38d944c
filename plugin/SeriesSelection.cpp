// SPDX-License-Identifier: GPL-3.0-or-later
#include "SeriesSelection.h"

#include "TextPattern.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>
#include <sstream>

namespace spinemet
{
  namespace
  {
    const char* const CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";

    std::string trim(const std::string& text)
    {
      size_t first = text.find_first_not_of(" \t\r\n");
      size_t last = text.find_last_not_of(" \t\r\n");
      return first == std::string::npos ? std::string() : text.substr(first, last - first + 1);
    }

    std::set<std::string> imageTypeValues(const std::string& imageType)
    {
      std::set<std::string> values;
      std::istringstream stream(imageType);
      std::string value;
      while (std::getline(stream, value, '\\'))
      {
        value = trim(value);
        std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return std::toupper(c); });
        values.insert(value);
      }
      return values;
    }

    bool matches(const std::string& pattern, const std::string& value)
    {
      // The configuration checked the pattern: it compiles. The value is the instance's: any length.
      return pattern.empty() || TextPattern(pattern).search(value);
    }

    SelectionVerdict verdict(const std::string& code, const std::string& message)
    {
      return SelectionVerdict{code, message};
    }
  }

  std::optional<SelectionVerdict> checkInstance(const SeriesSelection& selection, const SeriesFacts& facts)
  {
    SeriesFacts asSeries = facts;
    asSeries.modality = "CT";                                     // the series' rules are not this one's
    asSeries.instanceCount = std::max<size_t>(selection.minimumSlices, 1);
    asSeries.bodyPartExamined.clear();
    asSeries.seriesDescription.clear();
    SeriesSelection instanceRules = selection;
    instanceRules.bodyPartPattern.clear();
    instanceRules.seriesDescriptionPattern.clear();
    return checkSelection(instanceRules, asSeries);
  }

  std::optional<SelectionVerdict> checkSelection(const SeriesSelection& selection, const SeriesFacts& facts)
  {
    if (trim(facts.modality) != "CT")
    {
      return verdict("not-ct", "Modality is \"" + facts.modality + "\", SpineMet analyses CT only");
    }
    if (trim(facts.sopClassUid) != CT_IMAGE_STORAGE)
    {
      return verdict("not-ct-image", "SOP Class UID is " + facts.sopClassUid +
                     ", SpineMet analyses CT Image Storage (" + CT_IMAGE_STORAGE + ")");
    }
    std::set<std::string> imageType = imageTypeValues(facts.imageType);
    if (imageType.count("DERIVED") != 0 || imageType.count("SECONDARY") != 0)
    {
      return verdict("derived-image", "Image Type is " + facts.imageType +
                     ": derived and secondary images (reformats, SpineMet's own outputs) are not analysed");
    }
    if (imageType.count("ORIGINAL") == 0 || imageType.count("PRIMARY") == 0 || imageType.count("AXIAL") == 0)
    {
      return verdict("image-type", "Image Type is \"" + facts.imageType +
                     "\", SpineMet analyses ORIGINAL\\PRIMARY\\AXIAL slices (not localizers)");
    }
    if (facts.instanceCount < selection.minimumSlices)
    {
      return verdict("too-few-slices", "the series has " + std::to_string(facts.instanceCount) +
                     " instances, fewer than MinimumSlices (" + std::to_string(selection.minimumSlices) + ")");
    }
    std::string thicknessText = trim(facts.sliceThickness);
    if (!thicknessText.empty())
    {
      char* end = nullptr;
      double thickness = std::strtod(thicknessText.c_str(), &end);
      bool parsed = end != thicknessText.c_str() && *end == '\0';
      if (parsed && (thickness < selection.minimumSliceThickness || thickness > selection.maximumSliceThickness))
      {
        std::ostringstream message;
        message << "Slice Thickness is " << thicknessText << " mm, outside SliceThickness ["
                << selection.minimumSliceThickness << ", " << selection.maximumSliceThickness << "]";
        return verdict("slice-thickness", message.str());
      }
    }
    if (!matches(selection.bodyPartPattern, facts.bodyPartExamined))
    {
      return verdict("body-part", "Body Part Examined \"" + facts.bodyPartExamined +
                     "\" does not match BodyPart /" + selection.bodyPartPattern + "/");
    }
    if (!matches(selection.seriesDescriptionPattern, facts.seriesDescription))
    {
      return verdict("series-description", "Series Description \"" + facts.seriesDescription +
                     "\" does not match SeriesDescription /" + selection.seriesDescriptionPattern + "/");
    }
    return std::nullopt;
  }
}
