// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The per-vertebra labels of real studies: the Spine-Mets-CT-SEG clinical spreadsheet exported as
// CSV (layout in docs/crops-and-prep.md).

#include "TrainingSamples.h"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace spinemet
{
  // Spinal levels C1..C7, T1..T12, L1..L5, S1 in cranio-caudal order.
  const std::vector<std::string>& spinalLevels();

  // "t7" -> "T7"; throws AnalysisError("labels-table") for anything that is not a level.
  std::string normaliseLevel(const std::string& text);

  // "T7-T9; L2, L4" -> T7, T8, T9, L2, L4. Empty, "none", "n/a", "-" -> nothing.
  // Throws AnalysisError("labels-table") naming the bad text.
  std::vector<std::string> parseLevelList(const std::string& text);

  // The lesion levels of one case; every other level of the case is normal.
  struct CaseLevels
  {
    std::set<std::string> blastic;
    std::set<std::string> lytic;
    std::set<std::string> mixed;

    // "normal", "blastic", "lytic" or "mixed".
    std::string boneQuality(const std::string& level) const;
  };

  // The whole table, by case id.
  class LabelsTable
  {
  public:
    // Throws AnalysisError("labels-table") naming the file, line and column at fault.
    static LabelsTable read(const std::string& path);
    static LabelsTable parse(const std::string& csvText, const std::string& describe);

    // nullptr when the case is not in the table.
    const CaseLevels* find(const std::string& caseId) const;
    size_t size() const { return cases_.size(); }

  private:
    std::map<std::string, CaseLevels> cases_;
  };

  // Labels for a study whose vertebrae (extents and levels) come from its SEG: each vertebra takes
  // the bone quality of its level in `levels`; posterolateral involvement and lesion visibility are
  // unknown. Vertebrae without a level get unknown labels; table levels that are not in the
  // study become warnings.
  StudyTruth labelTableStudy(const SpineLayout& layout, const CaseLevels& levels, const std::string& caseId);

  // RFC 4180 rows: comma separated, double-quoted fields may hold commas, quotes ("") and line
  // breaks; CRLF or LF line ends; a UTF-8 byte order mark is skipped.
  std::vector<std::vector<std::string>> parseCsv(const std::string& text);
}
