// SPDX-License-Identifier: GPL-3.0-or-later
// spinemet-hybrid: inserts synthetic lesions into the vertebrae of a real CT series and writes the
// result as DICOM beside ground_truth.json (docs/hybrid.md). Exit codes: 0 written, 1 the input
// cannot be used or writing failed, 2 bad arguments.
#include "hybrid/Hybrid.h"

#include "LesionOptions.h"
#include "common/AnalysisError.h"

#include <cstdlib>
#include <iostream>
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
    OptionTable options;
    options.withValue = {
      {"--background", [&](const std::string& v) { background = v; }},
      {"--out", [&](const std::string& v) { out = v; }},
      {"--seed", [&](const std::string& v) { settings.seed = parseSeed(v); }},
      {"--labels", [&](const std::string& v) { settings.labels = parseHybridLabels(v); }},
      {"--withhold", [&](const std::string& v) { settings.withheld = parseHybridVertebrae(v); }},
      {"--vertebrae", [&](const std::string& v) { handList = v; }},
    };
    addLesionOptions(options, settings, settings.ranges);

    const GivenOptions given = readOptions(argc, argv, options);
    if (given.help)
    {
      std::cout << USAGE;
      return EXIT_WRITTEN;
    }
    applyOptions(options, given);
    if (background.empty()) throw UsageError{"--background DIR is required"};
    if (out.empty()) throw UsageError{"--out DIR is required"};
  }
  catch (const UsageError& error)
  {
    std::cerr << "spinemet-hybrid: " << error.what() << "\n(see spinemet-hybrid --help)\n";
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
