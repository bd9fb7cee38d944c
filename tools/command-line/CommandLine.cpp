// SPDX-License-Identifier: GPL-3.0-or-later
#include "CommandLine.h"

#include <cerrno>
#include <cstdlib>

namespace spinemet
{
  double parseNumber(const std::string& option, const std::string& text)
  {
    char* end = nullptr;
    errno = 0;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end == nullptr || *end != '\0' || errno != 0)
    {
      throw UsageError(option + " expects a number, not \"" + text + "\"");
    }
    return value;
  }

  std::vector<double> parseNumbers(const std::string& option, const std::string& text, size_t count)
  {
    std::vector<double> values;
    size_t start = 0;
    while (start <= text.size())
    {
      const size_t comma = text.find(',', start);
      values.push_back(parseNumber(option, text.substr(start, comma == std::string::npos ? std::string::npos
                                                                                          : comma - start)));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (values.size() != count)
    {
      throw UsageError(option + " expects " + std::to_string(count) + " comma-separated numbers, not \"" + text +
                       "\"");
    }
    return values;
  }

  uint64_t parseSeed(const std::string& text)
  {
    char* end = nullptr;
    errno = 0;
    const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || text[0] == '-' || *end != '\0' || errno != 0)
    {
      throw UsageError("--seed expects a non-negative integer, not \"" + text + "\"");
    }
    return value;
  }

  GivenOptions readOptions(int argc, char** argv, const OptionTable& table)
  {
    GivenOptions given;
    for (int i = 1; i < argc; ++i)
    {
      std::string argument = argv[i];
      if (argument == "--help" || argument == "-h")
      {
        given.help = true;
        return given;
      }
      const auto switchOption = table.switches.find(argument);
      if (switchOption != table.switches.end())
      {
        switchOption->second();
        continue;
      }
      std::string value;
      bool hasValue = false;
      const size_t equals = argument.find('=');
      if (argument.rfind("--", 0) == 0 && equals != std::string::npos)
      {
        value = argument.substr(equals + 1);
        argument = argument.substr(0, equals);
        hasValue = true;
      }
      if (table.withValue.find(argument) == table.withValue.end())
      {
        throw UsageError("unknown option \"" + argument + "\"");
      }
      if (!hasValue)
      {
        if (i + 1 >= argc)
        {
          throw UsageError(argument + " needs a value");
        }
        value = argv[++i];
      }
      given.values.emplace_back(argument, value);
    }
    return given;
  }

  void applyOptions(const OptionTable& table, const GivenOptions& given)
  {
    for (const auto& [option, value] : given.values)
    {
      table.withValue.at(option)(value);
    }
  }
}
