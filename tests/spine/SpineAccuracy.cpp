// SPDX-License-Identifier: GPL-3.0-or-later
// spinemet-spine-accuracy: the spine finder against the phantom ground truth over many seeds
// with random acquisitions (docs/spine.md, "Accuracy"). Figures are on phantoms only.
//   spinemet-spine-accuracy [first seed] [seed count] [--verbose] [--bone simple|realistic]
//                           [--bone-density HU] [--landmarks|--variants]
// --landmarks: levels drawn so that a landmark (first rib, last rib, sacrum) is in view;
// --variants: the same with a rib or lumbosacral variant (PhantomEvaluation.h); --bone-density:
// every phantom's cancellous density (realistic bone, 50-350 HU) instead of the seed's draw. The exit status
// is 1 when a level is wrong and not flagged uncertain (confidence >= 0.8), or when more than 1 %
// of the vertebrae get a wrong level (--landmarks), so that a test can run it.

#include "PhantomEvaluation.h"

#include "common/AnalysisError.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

using namespace spinemet;

int main(int argc, char** argv)
{
  const uint64_t first = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1;
  const uint64_t count = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 50;
  bool verbose = false, landmarks = false, variants = false;
  PhantomBoneModel bone = PhantomBoneModel::Simple;
  std::optional<double> boneDensityHu;
  for (int a = 3; a < argc; ++a)
  {
    if (std::strcmp(argv[a], "--verbose") == 0)
    {
      verbose = true;
    }
    else if (std::strcmp(argv[a], "--landmarks") == 0)
    {
      landmarks = true;
    }
    else if (std::strcmp(argv[a], "--variants") == 0)
    {
      variants = true;
    }
    else if (std::strcmp(argv[a], "--bone") == 0 && a + 1 < argc)
    {
      bone = parsePhantomBoneModel(argv[++a]);
    }
    else if (std::strcmp(argv[a], "--bone-density") == 0 && a + 1 < argc)
    {
      char* end = nullptr;
      boneDensityHu = std::strtod(argv[++a], &end);
      if (end == argv[a] || *end != '\0')
      {
        std::fprintf(stderr, "--bone-density needs a number of HU, not \"%s\"\n", argv[a]);
        return 2;
      }
    }
    else
    {
      std::fprintf(stderr, "unknown argument \"%s\" (expected --verbose, --landmarks, --variants, --bone simple|realistic or --bone-density HU)\n", argv[a]);
      return 2;
    }
  }
  if (boneDensityHu && (bone != PhantomBoneModel::Realistic || !(*boneDensityHu >= 50 && *boneDensityHu <= 350)))
  {
    std::fprintf(stderr, "--bone-density needs --bone realistic and 50 to 350 HU\n");
    return 2;
  }
  const SpineOptions options;

  size_t countCorrect = 0, acceptable = 0, edges = 0, edgesBeyond = 0, slices = 0, missed = 0, crops = 0, cropsMissing = 0;
  size_t levelsRight = 0, levelsWrong = 0, levelsUnnamed = 0, levelsWrongCertain = 0, notOnTheirOwn = 0;
  double edgeSum = 0, edgeMax = 0, centreSum = 0, centreMax = 0, seconds = 0, volumeSlices = 0;
  for (uint64_t seed = first; seed < first + count; ++seed)
  {
    PhantomSettings settings;
    settings.seed = seed;
    settings.randomAcquisition = true;
    if (landmarks || variants)
    {
      settings = test::landmarkPhantomSettings(seed, variants);
    }
    settings.bone = bone;
    settings.boneDensityHu = boneDensityHu;
    const PhantomStudy study = generatePhantom(settings);
    const auto start = std::chrono::steady_clock::now();
    test::SpineEvaluation evaluation;
    try
    {
      const SpineLayout layout = findSpine(study.series.volume, options);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      evaluation = test::evaluateSpine(study, layout, options.cropMm);
    }
    catch (const AnalysisError& error)
    {
      evaluation.truthVertebrae = study.truth.vertebrae.size();
      evaluation.problems.push_back(error.code() + ": " + error.what());
    }
    volumeSlices += static_cast<double>(study.series.volume.sliceCount());
    countCorrect += evaluation.countMatches ? 1 : 0;
    acceptable += evaluation.acceptable() ? 1 : 0;
    for (double error : evaluation.edgeErrorsMm)
    {
      edgeSum += error;
      edgeMax = std::max(edgeMax, error);
      ++edges;
    }
    edgesBeyond += evaluation.vertebraeBeyondTolerance;
    levelsRight += evaluation.levelsRight;
    levelsWrong += evaluation.levelsWrong;
    levelsUnnamed += evaluation.levelsUnnamed;
    levelsWrongCertain += evaluation.levelsWrongCertain;
    notOnTheirOwn += evaluation.vertebraeNotFoundOnTheirOwn;
    slices += evaluation.vertebraSlices;
    missed += evaluation.slicesMissed;
    crops += evaluation.cropsChecked;
    cropsMissing += evaluation.cropsMissingBody;
    centreSum += evaluation.bodyCentreErrorMeanMm * static_cast<double>(evaluation.cropsChecked);
    centreMax = std::max(centreMax, evaluation.bodyCentreErrorMaxMm);
    const PhantomAcquisition& a = study.acquisition;
    if (verbose || !evaluation.acceptable() || evaluation.levelsWrong > 0 ||
        ((landmarks || variants) && evaluation.levelsUnnamed > 0))
    {
      const std::string variant = settings.ribPairs != 12 ? std::to_string(settings.ribPairs) + " rib pairs" :
                                  settings.cervicalRib ? "cervical rib" :
                                  settings.transitional != TransitionalVertebra::None ? toString(settings.transitional) : "";
      std::printf("seed %llu (%s-%s%s%s, %zu px %.2f mm, slices %.3f mm, %s): %s\n",
                  static_cast<unsigned long long>(seed), a.firstLevel.c_str(), a.lastLevel.c_str(),
                  variant.empty() ? "" : ", ", variant.c_str(), a.matrix,
                  a.pixelSpacingMm, a.sliceSpacingMm, toString(a.order), test::summarise(evaluation).c_str());
      for (const std::string& problem : evaluation.problems)
      {
        if (verbose || problem.find(" named ") != std::string::npos) std::printf("    %s\n", problem.c_str());
      }
      if (evaluation.levelsUnnamed > 0 || verbose)
      {
        std::printf("    note: %s\n", evaluation.levelNote.c_str());
      }
    }
  }
  const std::string density = boneDensityHu ? ", cancellous density " + std::to_string(std::lround(*boneDensityHu)) + " HU" : "";
  std::printf("\n%llu phantoms (random acquisitions%s, %s bone%s; figures on phantoms only)\n",
              static_cast<unsigned long long>(count),
              variants ? ", a landmark and a rib or lumbosacral variant in view" : landmarks ? ", a landmark in view" : "",
              toString(bone), density.c_str());
  std::printf("vertebra count correct:        %zu/%llu (%.0f%%)\n", countCorrect, static_cast<unsigned long long>(count),
              100.0 * static_cast<double>(countCorrect) / static_cast<double>(count));
  std::printf("all criteria met:              %zu/%llu\n", acceptable, static_cast<unsigned long long>(count));
  std::printf("vertebra edge error:           mean %.2f mm, max %.2f mm, %zu of %zu vertebrae beyond one disc\n",
              edges ? edgeSum / static_cast<double>(edges) : 0.0, edgeMax, edgesBeyond, edges);
  std::printf("slices inside a vertebra missed: %zu/%zu\n", missed, slices);
  std::printf("crops missing the body:        %zu/%zu\n", cropsMissing, crops);
  std::printf("body centre error:             mean %.2f mm, max %.2f mm\n", crops ? centreSum / static_cast<double>(crops) : 0.0, centreMax);
  const size_t levelled = levelsRight + levelsWrong + levelsUnnamed;
  std::printf("levels (matched vertebrae):    %zu right (%.1f%%), %zu wrong (%zu of them not flagged uncertain), %zu not named\n",
              levelsRight, levelled ? 100.0 * static_cast<double>(levelsRight) / static_cast<double>(levelled) : 0.0,
              levelsWrong, levelsWrongCertain, levelsUnnamed);
  std::printf("vertebrae not found on their own: %zu (missed or merged: they show a neighbour's level)\n", notOnTheirOwn);
  std::printf("findSpine time:                %.1f ms per slice (%.0f slices), %.2f s per study\n", 1000 * seconds / volumeSlices,
              volumeSlices, seconds / static_cast<double>(count));
  const bool silentlyWrong = levelsWrongCertain > 0;
  const bool tooFewRight = landmarks && !variants && static_cast<double>(levelsRight) < 0.99 * static_cast<double>(levelled);
  return (landmarks || variants) && (silentlyWrong || tooFewRight) ? 1 : 0;
}
