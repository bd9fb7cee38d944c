// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// How both queue stores (SQLite, PostgreSQL) write a record's lists in one text column each, and
// read them back: the same words in either database.

#include <map>
#include <string>
#include <vector>

namespace spinemet
{
  // Output IDs are Orthanc IDs (hex and dashes): a space-separated list needs no escaping.
  std::string joinIds(const std::vector<std::string>& ids);
  std::vector<std::string> splitIds(const std::string& joined);

  // "read=1.25 classify=3.5": stage names are single words.
  std::string joinStages(const std::map<std::string, double>& stages);
  std::map<std::string, double> splitStages(const std::string& joined);

  // Seconds since the epoch, by this machine's clock.
  double secondsNow();
}
