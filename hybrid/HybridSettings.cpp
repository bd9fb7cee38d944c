// SPDX-License-Identifier: GPL-3.0-or-later
// Parsers of the hybrid tool's labels, vertebra lists and the hand list of vertebral bodies.
#include "hybrid/Hybrid.h"

#include "common/AnalysisError.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace spinemet
{
  namespace
  {
    [[noreturn]] void settingsError(const std::string& message)
    {
      throw AnalysisError("hybrid-settings", message);
    }

    std::string trim(const std::string& text)
    {
      size_t begin = 0;
      size_t end = text.size();
      while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
      while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
      return text.substr(begin, end - begin);
    }

    bool isIndex(const std::string& key)
    {
      return !key.empty() && std::all_of(key.begin(), key.end(), [](unsigned char c) { return std::isdigit(c); });
    }

    // A vertebra key: a found-vertebra index ("3") or a level name ("T11"), upper case; a bad one
    // throws std::invalid_argument for the caller to name its entry.
    std::string vertebraKey(const std::string& text)
    {
      std::string key = trim(text);
      if (isIndex(key))
      {
        return std::to_string(std::strtoul(key.c_str(), nullptr, 10));
      }
      std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      const bool level = key.size() >= 2 && key.size() <= 3 && (key[0] == 'C' || key[0] == 'T' || key[0] == 'L' || key[0] == 'S') &&
                         std::all_of(key.begin() + 1, key.end(), [](unsigned char c) { return std::isdigit(c); });
      if (!level)
      {
        throw std::invalid_argument("\"" + text + "\" is neither a vertebra index (0 = most cranial found) nor a level like T11");
      }
      return key;
    }
  }

  std::map<std::string, HybridLabel> parseHybridLabels(const std::string& text)
  {
    try
    {
      return parseLabelList(text, vertebraKey,
                            "VERTEBRA=QUALITY[:POSTEROLATERAL], e.g. 3=lytic:bilateral");
    }
    catch (const std::invalid_argument& problem)
    {
      settingsError(problem.what());
    }
  }

  std::set<std::string> parseHybridVertebrae(const std::string& text)
  {
    std::set<std::string> keys;
    std::istringstream entries(text);
    std::string entry;
    while (std::getline(entries, entry, ','))
    {
      entry = trim(entry);
      if (entry.empty())
      {
        continue;
      }
      const size_t dash = entry.find('-');
      if (dash != std::string::npos && isIndex(trim(entry.substr(0, dash))) && isIndex(trim(entry.substr(dash + 1))))
      {
        const unsigned long first = std::strtoul(entry.substr(0, dash).c_str(), nullptr, 10);
        const unsigned long last = std::strtoul(entry.substr(dash + 1).c_str(), nullptr, 10);
        if (last < first || last - first > 100)
        {
          settingsError("vertebra range \"" + entry + "\" must be FIRST-LAST with FIRST <= LAST");
        }
        for (unsigned long i = first; i <= last; ++i)
        {
          keys.insert(std::to_string(i));
        }
        continue;
      }
      try
      {
        keys.insert(vertebraKey(entry));
      }
      catch (const std::invalid_argument& problem)
      {
        settingsError(std::string("vertebra list: ") + problem.what());
      }
    }
    return keys;
  }

  std::vector<HandVertebra> readHandVertebrae(const std::string& path)
  {
    std::ifstream stream(path);
    if (!stream)
    {
      throw AnalysisError("hybrid-vertebrae", "cannot read the hand list of vertebrae " + path);
    }
    std::vector<HandVertebra> vertebrae;
    std::string line;
    size_t number = 0;
    while (std::getline(stream, line))
    {
      ++number;
      const size_t hash = line.find('#');
      line = trim(hash == std::string::npos ? line : line.substr(0, hash));
      if (line.empty())
      {
        continue;
      }
      std::istringstream fields(line);
      std::string level;
      std::string low;
      std::string high;
      std::string extra;
      fields >> level >> low >> high;
      const std::string where = path + " line " + std::to_string(number);
      if (high.empty() || (fields >> extra))
      {
        throw AnalysisError("hybrid-vertebrae", where + ": expected \"LEVEL Z_MIN_MM Z_MAX_MM\", got \"" + line + "\"");
      }
      char* end = nullptr;
      HandVertebra vertebra;
      vertebra.zMinMm = std::strtod(low.c_str(), &end);
      const bool lowOk = end != nullptr && *end == '\0';
      vertebra.zMaxMm = std::strtod(high.c_str(), &end);
      const bool highOk = end != nullptr && *end == '\0';
      if (!lowOk || !highOk || !(vertebra.zMaxMm > vertebra.zMinMm))
      {
        throw AnalysisError("hybrid-vertebrae", where + ": Z_MIN_MM and Z_MAX_MM must be numbers with Z_MIN_MM < Z_MAX_MM");
      }
      vertebra.level = level == "-" ? "" : level;
      vertebrae.push_back(vertebra);
    }
    if (vertebrae.empty())
    {
      throw AnalysisError("hybrid-vertebrae", path + " lists no vertebra");
    }
    // cranial first, as the finder numbers them
    std::sort(vertebrae.begin(), vertebrae.end(),
              [](const HandVertebra& a, const HandVertebra& b) { return a.zMaxMm > b.zMaxMm; });
    for (size_t i = 1; i < vertebrae.size(); ++i)
    {
      if (vertebrae[i].zMaxMm > vertebrae[i - 1].zMinMm)
      {
        throw AnalysisError("hybrid-vertebrae", path + ": the vertebrae at " + std::to_string(vertebrae[i - 1].zMinMm) +
                            " and " + std::to_string(vertebrae[i].zMaxMm) + " mm overlap");
      }
    }
    return vertebrae;
  }
}
