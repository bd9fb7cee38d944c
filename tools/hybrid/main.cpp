// SPDX-License-Identifier: GPL-3.0-or-later
// spinemet-hybrid: inserts synthetic lesions into the vertebrae of a real CT series and writes the
// result as DICOM beside ground_truth.json (docs/hybrid.md). Exit codes: 0 written, 1 the input
// cannot be used or writing failed, 2 bad arguments.
#include "hybrid/Hybrid.h"

#include "common/AnalysisError.h"

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace
{
  const int EXIT_WRITTEN = 0;
  const int EXIT_FAILED = 1;
  const int EXIT_USAGE = 2;

  const char* const USAGE = R"(Usage: spinemet-hybrid --background DIR --out DIR [options]

Inserts synthetic spinal lesions into a real, lesion-free CT series and writes the hybrid study:
the original files with the new pixels and new Study/Series/SOP Instance/Frame of Reference UIDs,
in the original transfer syntax, plus DIR/ground_truth.json in the phantom's schema
(docs/hybrid.md). Same background, seed and options: same bytes.

  --background DIR             folder holding the DICOM files of one axial CT series (any
                               lesion-free CT with the spine in view; a phantom study works too)
  --out DIR                    folder to write (created; must not be the background folder)
  --seed N                     random seed (default 1)
  --labels VERTEBRA=QUALITY[:EXTENSION],...
                               force labels; VERTEBRA is the found vertebra's index (0 = most
                               cranial) or its level (T11) where the spine finder names levels;
                               QUALITY normal|blastic|lytic|mixed; EXTENSION none|unilateral|
                               unilateral-left|unilateral-right|bilateral
                               e.g. 3=lytic:bilateral,5=blastic:none
  --lesion-probability P       vertebrae without a forced label get a lesion (default 0.5)
  --lesion-weights B,L,M       relative odds of blastic, lytic, mixed (default 1,1,1)
  --posterolateral-probability P  a lesion extends into the pedicles (default 0.5)
  --bilateral-probability P    given extension, both sides (default 0.4)
  --lesion-radius MIN,MAX      nominal body-lesion semi-axis in mm (default 5,10)
  --lytic-hu MIN,MAX           lytic target HU (default 0,80)
  --blastic-hu MIN,MAX         blastic target HU (default 400,1200)
  --withhold VERTEBRAE         e.g. 0-3,T12: kept lesion-free and marked withheld (a data split);
                               spinemet-prep gives their samples unknown labels
  --vertebrae FILE             the vertebral bodies by hand where the spine finder is unsure:
                               one per line "LEVEL Z_MIN_MM Z_MAX_MM" ("-" for no level)
  --help                       this text
)";

  struct UsageError
  {
    std::string message;
  };

  double parseNumber(const std::string& option, const std::string& text)
  {
    char* end = nullptr;
    errno = 0;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end == nullptr || *end != '\0' || errno != 0)
    {
      throw UsageError{option + " expects a number, not \"" + text + "\""};
    }
    return value;
  }

  std::vector<double> parseNumbers(const std::string& option, const std::string& text, size_t count)
  {
    std::vector<double> values;
    size_t start = 0;
    while (true)
    {
      const size_t comma = text.find(',', start);
      values.push_back(parseNumber(option, text.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (values.size() != count)
    {
      throw UsageError{option + " expects " + std::to_string(count) + " comma-separated numbers, not \"" + text + "\""};
    }
    return values;
  }
}

int main(int argc, char** argv)
{
  using namespace spinemet;
  HybridSettings settings;
  std::string background;
  std::string out;
  std::string handList;

  try
  {
    std::map<std::string, std::function<void(const std::string&)>> withValue = {
      {"--background", [&](const std::string& v) { background = v; }},
      {"--out", [&](const std::string& v) { out = v; }},
      {"--seed", [&](const std::string& v)
        {
          char* end = nullptr;
          errno = 0;
          const unsigned long long seed = std::strtoull(v.c_str(), &end, 10);
          if (v.empty() || v[0] == '-' || *end != '\0' || errno != 0)
            throw UsageError{"--seed expects a non-negative integer, not \"" + v + "\""};
          settings.seed = seed;
        }},
      {"--labels", [&](const std::string& v) { settings.labels = parseHybridLabels(v); }},
      {"--lesion-probability", [&](const std::string& v) { settings.lesionProbability = parseNumber("--lesion-probability", v); }},
      {"--lesion-weights", [&](const std::string& v)
        {
          const auto w = parseNumbers("--lesion-weights", v, 3);
          settings.lesionTypeWeights = {w[0], w[1], w[2]};
        }},
      {"--posterolateral-probability", [&](const std::string& v)
        { settings.posterolateralProbability = parseNumber("--posterolateral-probability", v); }},
      {"--bilateral-probability", [&](const std::string& v)
        { settings.bilateralProbability = parseNumber("--bilateral-probability", v); }},
      {"--lesion-radius", [&](const std::string& v)
        {
          const auto r = parseNumbers("--lesion-radius", v, 2);
          settings.ranges.radiusMinMm = r[0]; settings.ranges.radiusMaxMm = r[1];
        }},
      {"--lytic-hu", [&](const std::string& v)
        {
          const auto r = parseNumbers("--lytic-hu", v, 2);
          settings.ranges.lyticHuMin = r[0]; settings.ranges.lyticHuMax = r[1];
        }},
      {"--blastic-hu", [&](const std::string& v)
        {
          const auto r = parseNumbers("--blastic-hu", v, 2);
          settings.ranges.blasticHuMin = r[0]; settings.ranges.blasticHuMax = r[1];
        }},
      {"--withhold", [&](const std::string& v) { settings.withheld = parseHybridVertebrae(v); }},
      {"--vertebrae", [&](const std::string& v) { handList = v; }},
    };

    for (int i = 1; i < argc; ++i)
    {
      std::string argument = argv[i];
      if (argument == "--help" || argument == "-h")
      {
        std::cout << USAGE;
        return EXIT_WRITTEN;
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
      const auto option = withValue.find(argument);
      if (option == withValue.end())
      {
        throw UsageError{"unknown option \"" + argument + "\""};
      }
      if (!hasValue)
      {
        if (i + 1 >= argc) throw UsageError{argument + " needs a value"};
        value = argv[++i];
      }
      option->second(value);
    }
    if (background.empty()) throw UsageError{"--background DIR is required"};
    if (out.empty()) throw UsageError{"--out DIR is required"};
  }
  catch (const UsageError& error)
  {
    std::cerr << "spinemet-hybrid: " << error.message << "\n(see spinemet-hybrid --help)\n";
    return EXIT_USAGE;
  }
  catch (const AnalysisError& error)
  {
    std::cerr << "spinemet-hybrid: " << error.what() << "\n(see spinemet-hybrid --help)\n";
    return EXIT_USAGE;
  }

  try
  {
    if (!handList.empty())
    {
      settings.handVertebrae = readHandVertebrae(handList);
      settings.handVertebraeSource = handList;
    }
    const Series series = loadHybridBackground(background);
    const HybridStudy study = makeHybrid(series, settings);
    writeHybridStudy(study, background, out);
    for (const std::string& warning : study.warnings)
    {
      std::cerr << "spinemet-hybrid: warning: " << warning << "\n";
    }
    size_t lesional = 0;
    for (const PhantomVertebra& v : study.truth.vertebrae)
      if (v.boneQuality != BoneQuality::Normal) ++lesional;
    std::cout << "wrote " << study.series.slices.size() << " slices, " << study.truth.vertebrae.size()
              << " vertebrae (" << lesional << " with lesions, " << study.lesions.size() << " lesions; vertebrae from the "
              << study.vertebraSource << ") and ground_truth.json to " << out << "\n";
    return EXIT_WRITTEN;
  }
  catch (const AnalysisError& error)
  {
    std::cerr << "spinemet-hybrid: " << error.what() << " [" << error.code() << "]\n";
    return error.code() == "hybrid-settings" ? EXIT_USAGE : EXIT_FAILED;
  }
  catch (const std::exception& error)
  {
    std::cerr << "spinemet-hybrid: internal error: " << error.what() << "\n";
    return EXIT_FAILED;
  }
}
