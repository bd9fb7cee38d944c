// SPDX-License-Identifier: GPL-3.0-or-later
// The lesion options that spinemet-phantom and spinemet-hybrid share: how often a vertebra gets a
// lesion, of which kind, with which extension, how big and how dense. One table, so that the two
// tools cannot drift apart in name or meaning.
#pragma once

#include "CommandLine.h"

namespace spinemet
{
  // Settings: PhantomSettings or HybridSettings; Ranges: their lesion ranges. `onRangeGiven` is
  // called whenever a range option is given (the phantom's ranges otherwise follow its difficulty).
  template <class Settings, class Ranges>
  void addLesionOptions(OptionTable& table, Settings& settings, Ranges& ranges,
                        std::function<void()> onRangeGiven = [] {})
  {
    table.withValue["--lesion-probability"] = [&settings](const std::string& v)
    { settings.lesionProbability = parseNumber("--lesion-probability", v); };
    table.withValue["--lesion-weights"] = [&settings](const std::string& v)
    {
      const auto w = parseNumbers("--lesion-weights", v, 3);
      settings.lesionTypeWeights = {w[0], w[1], w[2]};
    };
    table.withValue["--posterolateral-probability"] = [&settings](const std::string& v)
    { settings.posterolateralProbability = parseNumber("--posterolateral-probability", v); };
    table.withValue["--bilateral-probability"] = [&settings](const std::string& v)
    { settings.bilateralProbability = parseNumber("--bilateral-probability", v); };
    table.withValue["--lesion-radius"] = [&ranges, onRangeGiven](const std::string& v)
    {
      const auto r = parseNumbers("--lesion-radius", v, 2);
      ranges.radiusMinMm = r[0];
      ranges.radiusMaxMm = r[1];
      onRangeGiven();
    };
    table.withValue["--lytic-hu"] = [&ranges, onRangeGiven](const std::string& v)
    {
      const auto r = parseNumbers("--lytic-hu", v, 2);
      ranges.lyticHuMin = r[0];
      ranges.lyticHuMax = r[1];
      onRangeGiven();
    };
    table.withValue["--blastic-hu"] = [&ranges, onRangeGiven](const std::string& v)
    {
      const auto r = parseNumbers("--blastic-hu", v, 2);
      ranges.blasticHuMin = r[0];
      ranges.blasticHuMax = r[1];
      onRangeGiven();
    };
  }
}
