// SPDX-License-Identifier: GPL-3.0-or-later
// spinemet-phantom: writes a synthetic spine CT study (one DICOM file per slice) and its
// ground_truth.json. Exit codes: 0 written, 1 generation or writing failed, 2 bad arguments.
#include "phantom/Phantom.h"

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

  const char* const USAGE = R"(Usage: spinemet-phantom --out DIR [options]

Writes a synthetic spine CT study: one CT Image Storage file per axial slice and
DIR/ground_truth.json (docs/phantom.md). Same seed and options, same bytes.

Study:
  --out DIR                    folder to write (created; existing files are overwritten)
  --seed N                     random seed (default 1)
  --levels FIRST-LAST          vertebral levels covered, C3..C7, T1..T12, L1..L5, S1 (default T12-L2)
  --random-acquisition         draw matrix, spacings, order, offsets, levels and transfer
                               syntax from the seed; options given explicitly still win
Acquisition:
  --matrix 512|256             rows and columns (default 512)
  --pixel-spacing MM           0.5 to 1.0 (default 0.7)
  --slice-thickness MM         0.625 to 5 (default 2.5)
  --slice-spacing MM           0.625 to 5 (default: the slice thickness)
  --order ascending|descending instance 1 most caudal / most cranial (default descending)
  --transfer-syntax SYNTAX     explicit (default), rle, jpeg-lossless (process 14 SV1), jpeg-ls
  --lateral-offset MM          body centre left (+) or right (-) of the image centre
  --ap-offset MM               body centre below (+) or above (-) the image centre
  --noise HU                   Gaussian noise sigma (default 20)
  --blur MM                    in-plane point spread sigma (default 0.45)
Findings:
  --difficulty easy|normal|hard        lesion size and contrast ranges (default normal)
  --rib-pairs 11|12|13                 rib variants: no rib on T12, or a lumbar rib on L1 (default 12)
  --bone simple|realistic              normal bone: smooth with a uniform texture (default), or
                                       realistic (trabecular texture, per-patient density, bone
                                       islands, Schmorl's nodes, sclerosis, osteophytes; none is a lesion)
  --bone-density HU                    realistic bone: the patient's cancellous density, 50-350
                                       (default: drawn from the seed, by age)
  --cervical-rib                       a short rib on C7, both sides (variant)
  --transitional none|sacralised-l5|lumbarised-s1
                                       a lumbosacral transitional vertebra (default none)
  --lesion-probability P               a vertebra has a lesion (default 0.5)
  --lesion-weights B,L,M               relative odds of blastic, lytic, mixed (default 1,1,1)
  --posterolateral-probability P       a lesion extends into the pedicles (default 0.5)
  --bilateral-probability P            given extension, both sides (default 0.4)
  --lesion-radius MIN,MAX              mm, overrides the difficulty
  --lytic-hu MIN,MAX                   overrides the difficulty
  --blastic-hu MIN,MAX                 overrides the difficulty
  --labels LEVEL=QUALITY[:EXTENSION],...
                               force labels, e.g. T11=lytic:bilateral,L1=blastic:unilateral-left,L2=normal
                               QUALITY normal|blastic|lytic|mixed; EXTENSION none|unilateral|
                               unilateral-left|unilateral-right|bilateral
  --help                       this text
)";
}

int main(int argc, char** argv)
{
  using namespace spinemet;
  PhantomSettings settings;
  std::string out;
  PhantomLesionRanges ranges;
  bool customRanges = false;

  try
  {
    OptionTable options;
    options.withValue = {
      {"--out", [&](const std::string& v) { out = v; }},
      {"--seed", [&](const std::string& v) { settings.seed = parseSeed(v); }},
      {"--levels", [&](const std::string& v) { settings.levels = v; }},
      {"--matrix", [&](const std::string& v)
        {
          const double m = parseNumber("--matrix", v);
          if (m != 256 && m != 512) throw UsageError{"--matrix must be 512 or 256, not " + v};
          settings.matrix = static_cast<size_t>(m);
        }},
      {"--pixel-spacing", [&](const std::string& v) { settings.pixelSpacingMm = parseNumber("--pixel-spacing", v); }},
      {"--slice-thickness", [&](const std::string& v) { settings.sliceThicknessMm = parseNumber("--slice-thickness", v); }},
      {"--slice-spacing", [&](const std::string& v) { settings.sliceSpacingMm = parseNumber("--slice-spacing", v); }},
      {"--order", [&](const std::string& v) { settings.order = parsePhantomSliceOrder(v); }},
      {"--transfer-syntax", [&](const std::string& v) { settings.transferSyntax = parsePhantomTransferSyntax(v); }},
      {"--lateral-offset", [&](const std::string& v) { settings.lateralOffsetMm = parseNumber("--lateral-offset", v); }},
      {"--ap-offset", [&](const std::string& v) { settings.anteriorPosteriorOffsetMm = parseNumber("--ap-offset", v); }},
      {"--noise", [&](const std::string& v) { settings.noiseSigmaHu = parseNumber("--noise", v); }},
      {"--blur", [&](const std::string& v) { settings.inPlaneBlurMm = parseNumber("--blur", v); }},
      {"--difficulty", [&](const std::string& v) { settings.difficulty = parsePhantomDifficulty(v); }},
      {"--rib-pairs", [&](const std::string& v)
        {
          const double pairs = parseNumber("--rib-pairs", v);
          if (pairs != 11 && pairs != 12 && pairs != 13) throw UsageError{"--rib-pairs must be 11, 12 or 13, not " + v};
          settings.ribPairs = static_cast<int>(pairs);
        }},
      {"--bone", [&](const std::string& v)
        {
          if (v != "simple" && v != "realistic") throw UsageError{"--bone must be simple or realistic, not " + v};
          settings.bone = parsePhantomBoneModel(v);
        }},
      {"--bone-density", [&](const std::string& v) { settings.boneDensityHu = parseNumber("--bone-density", v); }},
      {"--transitional", [&](const std::string& v) { settings.transitional = parseTransitionalVertebra(v); }},
      {"--labels", [&](const std::string& v) { settings.labels = parsePhantomLabels(v); }},
    };
    options.switches = {
      {"--random-acquisition", [&] { settings.randomAcquisition = true; }},
      {"--cervical-rib", [&] { settings.cervicalRib = true; }},
    };
    addLesionOptions(options, settings, ranges, [&] { customRanges = true; });

    GivenOptions given = readOptions(argc, argv, options);
    if (given.help)
    {
      std::cout << USAGE;
      return EXIT_WRITTEN;
    }
    // the difficulty first, so that explicit ranges override its defaults in any order
    for (const auto& [option, value] : given.values)
    {
      if (option == "--difficulty")
      {
        options.withValue["--difficulty"](value);
      }
    }
    ranges = phantomLesionRanges(settings.difficulty);
    applyOptions(options, given);
    if (customRanges)
    {
      settings.lesionRanges = ranges;
    }
    if (out.empty())
    {
      throw UsageError{"--out DIR is required"};
    }
  }
  catch (const UsageError& error)
  {
    std::cerr << "spinemet-phantom: " << error.what() << "\n(see spinemet-phantom --help)\n";
    return EXIT_USAGE;
  }
  catch (const AnalysisError& error)
  {
    std::cerr << "spinemet-phantom: " << error.what() << "\n(see spinemet-phantom --help)\n";
    return EXIT_USAGE;
  }

  try
  {
    const PhantomStudy study = generatePhantom(settings);
    writePhantomStudy(study, out);
    std::cout << "wrote " << study.truth.slices.size() << " slices (" << study.acquisition.firstLevel << "-"
              << study.acquisition.lastLevel << ", " << study.acquisition.matrix << "x" << study.acquisition.matrix
              << ", " << toString(study.acquisition.transferSyntax) << ") and ground_truth.json to " << out
              << "\n";
    return EXIT_WRITTEN;
  }
  catch (const AnalysisError& error)
  {
    std::cerr << "spinemet-phantom: " << error.what() << " [" << error.code() << "]\n";
    return error.code() == "phantom-settings" ? EXIT_USAGE : EXIT_FAILED;
  }
  catch (const std::exception& error)
  {
    std::cerr << "spinemet-phantom: internal error: " << error.what() << "\n";
    return EXIT_FAILED;
  }
}
