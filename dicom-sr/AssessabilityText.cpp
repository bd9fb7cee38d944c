// SPDX-License-Identifier: GPL-3.0-or-later
#include "AssessabilityText.h"

#include <algorithm>

namespace spinemet
{
  std::string reasonInWords(NotAssessableReason reason)
  {
    switch (reason)
    {
      case NotAssessableReason::OutOfDistribution: return "out of distribution";
      case NotAssessableReason::HuCalibration: return "HU calibration";
      case NotAssessableReason::SliceThickness: return "slice thickness";
      case NotAssessableReason::PixelSpacing: return "pixel spacing";
      case NotAssessableReason::ImageNoise: return "image noise";
      case NotAssessableReason::Metal: return "metal";
      case NotAssessableReason::CutBySeriesEdge: return "cut by series edge";
    }
    return toString(reason);
  }

  std::string reasonsInWords(const std::vector<NotAssessable>& reasons)
  {
    std::vector<NotAssessableReason> seen;
    std::string text;
    for (const auto& entry : reasons)
    {
      if (std::find(seen.begin(), seen.end(), entry.reason) != seen.end())
      {
        continue;
      }
      seen.push_back(entry.reason);
      text += (text.empty() ? "" : ", ") + reasonInWords(entry.reason);
    }
    return text;
  }

  std::string notAssessableStatement(const VertebraResult& vertebra)
  {
    return vertebra.displayName + " not assessable: " + reasonsInWords(vertebra.notAssessableBecause);
  }

  std::string studyStateStatement(const AnalysisResult& result)
  {
    const size_t assessed = result.assessableVertebrae();
    const std::string counted =
      std::to_string(assessed) + " of " + std::to_string(result.vertebrae.size()) + " vertebrae assessed";
    switch (result.state())
    {
      case StudyState::LesionSuspected:
        return assessed == result.vertebrae.size() ? "lesion suspected" : "lesion suspected in " + counted;
      case StudyState::NoLesionFound:
        return "no lesion found in " + counted;
      case StudyState::NotAssessable:
      {
        std::vector<NotAssessable> all = result.assessment.seriesReasons;
        for (const auto& vertebra : result.vertebrae)
        {
          all.insert(all.end(), vertebra.notAssessableBecause.begin(), vertebra.notAssessableBecause.end());
        }
        const std::string reasons = reasonsInWords(all);
        return reasons.empty() ? "not assessable" : "not assessable: " + reasons;
      }
    }
    return toString(result.state());
  }
}
