// SPDX-License-Identifier: GPL-3.0-or-later
// The command-line reading shared by the data tools (spinemet-phantom, spinemet-hybrid): one table
// of options, "--name VALUE" and "--name=VALUE", numbers and seeds checked before any work starts,
// and one message for each mistake.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace spinemet
{
  // A mistake on the command line: the tool prints it with a pointer to --help and exits 2.
  struct UsageError : std::runtime_error
  {
    using std::runtime_error::runtime_error;
  };

  double parseNumber(const std::string& option, const std::string& text);
  // "a,b,c" with exactly `count` numbers
  std::vector<double> parseNumbers(const std::string& option, const std::string& text, size_t count);
  uint64_t parseSeed(const std::string& text);

  struct OptionTable
  {
    std::map<std::string, std::function<void(const std::string& value)>> withValue;
    std::map<std::string, std::function<void()>> switches;
  };

  struct GivenOptions
  {
    bool help = false;                                       // --help or -h: nothing else was read
    std::vector<std::pair<std::string, std::string>> values; // options with a value, in the order given
  };

  // Reads argv against the table. Switches take effect at once; the valued options come back in
  // their order, for the tool to apply (some tools apply one option before the others).
  GivenOptions readOptions(int argc, char** argv, const OptionTable& table);
  void applyOptions(const OptionTable& table, const GivenOptions& given);
}
