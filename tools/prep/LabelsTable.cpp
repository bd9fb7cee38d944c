// SPDX-License-Identifier: GPL-3.0-or-later
#include "LabelsTable.h"

#include "common/AnalysisError.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>

namespace spinemet
{
  namespace
  {
    std::string trim(const std::string& text)
    {
      const size_t first = text.find_first_not_of(" \t\r\n");
      if (first == std::string::npos)
      {
        return "";
      }
      const size_t last = text.find_last_not_of(" \t\r\n");
      return text.substr(first, last - first + 1);
    }

    std::string lower(std::string text)
    {
      std::transform(text.begin(), text.end(), text.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      return text;
    }

    size_t levelOrder(const std::string& level)
    {
      const auto& levels = spinalLevels();
      return static_cast<size_t>(std::find(levels.begin(), levels.end(), level) - levels.begin());
    }
  }

  const std::vector<std::string>& spinalLevels()
  {
    static const std::vector<std::string> levels = [] {
      std::vector<std::string> names;
      for (int i = 1; i <= 7; ++i)
      {
        names.push_back("C" + std::to_string(i));
      }
      for (int i = 1; i <= 12; ++i)
      {
        names.push_back("T" + std::to_string(i));
      }
      for (int i = 1; i <= 5; ++i)
      {
        names.push_back("L" + std::to_string(i));
      }
      names.push_back("S1");
      return names;
    }();
    return levels;
  }

  std::string normaliseLevel(const std::string& text)
  {
    std::string level = trim(text);
    std::transform(level.begin(), level.end(), level.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (levelOrder(level) == spinalLevels().size())
    {
      throw AnalysisError("labels-table", "\"" + text + "\" is not a spinal level (C1-C7, T1-T12, L1-L5, S1)");
    }
    return level;
  }

  std::vector<std::string> parseLevelList(const std::string& text)
  {
    const std::string list = trim(text);
    const std::string lowered = lower(list);
    if (list.empty() || lowered == "none" || lowered == "n/a" || lowered == "na" || lowered == "-")
    {
      return {};
    }
    // Split on separators; keep '-' inside a token as a range.
    std::vector<std::string> tokens;
    std::string token;
    for (char c : list)
    {
      if (c == ';' || c == ',' || std::isspace(static_cast<unsigned char>(c)))
      {
        if (!token.empty())
        {
          tokens.push_back(token);
        }
        token.clear();
      }
      else
      {
        token += c;
      }
    }
    if (!token.empty())
    {
      tokens.push_back(token);
    }

    std::vector<std::string> levels;
    for (const std::string& item : tokens)
    {
      const size_t dash = item.find('-');
      if (dash == std::string::npos)
      {
        levels.push_back(normaliseLevel(item));
        continue;
      }
      const std::string first = normaliseLevel(item.substr(0, dash));
      const std::string last = normaliseLevel(item.substr(dash + 1));
      const size_t from = levelOrder(first);
      const size_t to = levelOrder(last);
      if (from > to)
      {
        throw AnalysisError("labels-table", "range \"" + item + "\" runs caudal to cranial; write it cranial first");
      }
      for (size_t i = from; i <= to; ++i)
      {
        levels.push_back(spinalLevels()[i]);
      }
    }
    return levels;
  }

  std::string CaseLevels::boneQuality(const std::string& level) const
  {
    if (mixed.count(level))
    {
      return "mixed";
    }
    if (blastic.count(level))
    {
      return "blastic";
    }
    if (lytic.count(level))
    {
      return "lytic";
    }
    return "normal";
  }

  std::vector<std::vector<std::string>> parseCsv(const std::string& text)
  {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string field;
    bool quoted = false;
    bool rowHasContent = false;
    size_t i = (text.compare(0, 3, "\xEF\xBB\xBF") == 0) ? 3 : 0;
    for (; i < text.size(); ++i)
    {
      const char c = text[i];
      if (quoted)
      {
        if (c == '"' && i + 1 < text.size() && text[i + 1] == '"')
        {
          field += '"';
          ++i;
        }
        else if (c == '"')
        {
          quoted = false;
        }
        else
        {
          field += c;
        }
      }
      else if (c == '"')
      {
        quoted = true;
        rowHasContent = true;
      }
      else if (c == ',')
      {
        row.push_back(field);
        field.clear();
        rowHasContent = true;
      }
      else if (c == '\n' || c == '\r')
      {
        if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n')
        {
          ++i;
        }
        if (rowHasContent || !field.empty())
        {
          row.push_back(field);
          rows.push_back(row);
        }
        row.clear();
        field.clear();
        rowHasContent = false;
      }
      else
      {
        field += c;
        rowHasContent = true;
      }
    }
    if (rowHasContent || !field.empty())
    {
      row.push_back(field);
      rows.push_back(row);
    }
    return rows;
  }

  LabelsTable LabelsTable::read(const std::string& path)
  {
    std::ifstream stream(path, std::ios::binary);
    if (!stream)
    {
      throw AnalysisError("labels-table", "cannot open the labels table " + path);
    }
    const std::string text((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
    return parse(text, path);
  }

  LabelsTable LabelsTable::parse(const std::string& csvText, const std::string& describe)
  {
    const std::vector<std::vector<std::string>> rows = parseCsv(csvText);
    if (rows.empty())
    {
      throw AnalysisError("labels-table", describe + ": empty, expected a header row");
    }
    const std::vector<std::string> required = {"case_id", "blastic_levels", "lytic_levels", "mixed_levels"};
    std::map<std::string, size_t> columns;
    for (size_t c = 0; c < rows[0].size(); ++c)
    {
      columns[lower(trim(rows[0][c]))] = c;
    }
    for (const std::string& name : required)
    {
      if (!columns.count(name))
      {
        throw AnalysisError("labels-table", describe + ": the header has no \"" + name +
                                              "\" column (needed: case_id, blastic_levels, lytic_levels, mixed_levels)");
      }
    }

    LabelsTable table;
    for (size_t r = 1; r < rows.size(); ++r)
    {
      const std::vector<std::string>& row = rows[r];
      const std::string where = describe + " row " + std::to_string(r + 1);
      auto cell = [&](const std::string& name) {
        const size_t c = columns[name];
        return c < row.size() ? row[c] : std::string();
      };
      const std::string caseId = trim(cell("case_id"));
      if (caseId.empty())
      {
        throw AnalysisError("labels-table", where + ": empty case_id");
      }
      if (table.cases_.count(caseId))
      {
        throw AnalysisError("labels-table", where + ": case \"" + caseId + "\" is listed twice");
      }
      CaseLevels levels;
      std::map<std::string, std::string> seen;   // level -> the column that named it
      const std::vector<std::pair<std::string, std::set<std::string>*>> lists = {
        {"blastic_levels", &levels.blastic}, {"lytic_levels", &levels.lytic}, {"mixed_levels", &levels.mixed}};
      for (const auto& [name, target] : lists)
      {
        std::vector<std::string> parsed;
        try
        {
          parsed = parseLevelList(cell(name));
        }
        catch (const AnalysisError& error)
        {
          throw AnalysisError("labels-table", where + ", column " + name + ": " + error.what());
        }
        for (const std::string& level : parsed)
        {
          const auto previous = seen.find(level);
          if (previous != seen.end() && previous->second != name)
          {
            throw AnalysisError("labels-table", where + ": " + level + " is in both " + previous->second +
                                                  " and " + name + " (a level has one bone quality; mixed is its own column)");
          }
          seen[level] = name;
          target->insert(level);
        }
      }
      table.cases_[caseId] = levels;
    }
    return table;
  }

  const CaseLevels* LabelsTable::find(const std::string& caseId) const
  {
    const auto found = cases_.find(trim(caseId));
    return found == cases_.end() ? nullptr : &found->second;
  }

  StudyTruth labelTableStudy(const SpineLayout& layout, const CaseLevels& levels, const std::string& caseId)
  {
    StudyTruth truth;
    truth.kind = "spine-mets-ct-seg";
    truth.caseId = caseId;
    truth.vertebrae.resize(layout.vertebrae.size());
    truth.slices.resize(layout.slices.size());
    std::set<std::string> present;
    for (size_t v = 0; v < layout.vertebrae.size(); ++v)
    {
      const std::string& level = layout.vertebrae[v].level;
      TruthLabel& label = truth.vertebrae[v].label;
      label.truthIndex = layout.vertebrae[v].index;
      if (level.empty() || levelOrder(level) == spinalLevels().size())
      {
        truth.warnings.push_back("vertebra " + std::to_string(v) + " has no spinal level (\"" + level +
                                 "\"): its samples have unknown labels");
        continue;
      }
      present.insert(level);
      label.truthLevel = level;
      label.boneQuality = boneQualityIndex(levels.boneQuality(level));
    }
    for (const std::set<std::string>* listed : {&levels.blastic, &levels.lytic, &levels.mixed})
    {
      for (const std::string& level : *listed)
      {
        if (!present.count(level))
        {
          truth.warnings.push_back("the labels table lists " + level + " for case " + caseId +
                                   ", but the SEG has no such vertebra");
        }
      }
    }
    for (size_t s = 0; s < layout.slices.size(); ++s)
    {
      const SliceSpine& spine = layout.slices[s];
      if (spine.vertebra >= 0 && static_cast<size_t>(spine.vertebra) < truth.vertebrae.size())
      {
        truth.slices[s].label = truth.vertebrae[spine.vertebra].label;
        truth.slices[s].sliceTruth = "vertebra";
      }
    }
    return truth;
  }
}
