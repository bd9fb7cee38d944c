// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// How well a SpineLayout matches a phantom's ground truth: the tests assert on it, and
// spinemet-spine-accuracy reports it over many seeds. Figures are on phantoms only.

#include "phantom/Phantom.h"
#include "spine/Spine.h"

#include <string>
#include <vector>

namespace spinemet
{
  namespace test
  {
    struct SpineEvaluation
    {
      size_t truthVertebrae = 0;
      size_t foundVertebrae = 0;
      bool countMatches = false;
      // Per matched vertebra: the larger of its two edge errors (first and last slice), in mm;
      // and how many vertebrae are off by more than one disc (the thicker neighbouring disc,
      // at least one slice spacing).
      std::vector<double> edgeErrorsMm;
      size_t vertebraeBeyondTolerance = 0;
      // Slices inside a true vertebra (one tolerance away from its ends) without a vertebra.
      size_t vertebraSlices = 0;
      size_t slicesMissed = 0;
      // Slices with a vertebra whose crop does not contain the true vertebral body.
      size_t cropsChecked = 0;
      size_t cropsMissingBody = 0;
      // Distance between the found and the true body centre, mm.
      double bodyCentreErrorMeanMm = 0;
      double bodyCentreErrorMaxMm = 0;
      // Levels of the found vertebra matched to each true one: right, wrong, or not named.
      size_t levelsRight = 0;
      size_t levelsWrong = 0;
      size_t levelsUnnamed = 0;
      // Wrong levels given with a confidence of UNCERTAIN_LEVEL_CONFIDENCE or more to a vertebra
      // found on its own: silently wrong.
      size_t levelsWrongCertain = 0;
      // True vertebrae whose best-matching found vertebra overlaps another true one more (missed
      // or merged into a neighbour): their "level" is the neighbour's.
      size_t vertebraeNotFoundOnTheirOwn = 0;
      std::vector<std::string> problems;   // readable, for test failure messages
      std::string levelNote;               // SpineLayout::levelNote

      bool acceptable() const
      {
        return countMatches && vertebraeBeyondTolerance == 0 && slicesMissed == 0 && cropsMissingBody == 0;
      }
    };

    SpineEvaluation evaluateSpine(const PhantomStudy& study, const SpineLayout& layout, double cropMm);

    // One line: count, edge errors, crops, body centres.
    std::string summarise(const SpineEvaluation& evaluation);

    // Settings for the level accuracy (docs/spine.md, "Accuracy"): a random acquisition whose
    // levels are drawn, from the seed, so that a landmark is in view: the first rib (C3-C6 down
    // to T2-T8), the last rib (T6-T12 down to L1-L5) or the sacrum (T10-L4 down to S1). With
    // `variant`, one of 11 or 13 rib pairs, a cervical rib, a sacralised L5 or a lumbarised S1
    // is drawn as well, with the levels where it shows.
    PhantomSettings landmarkPhantomSettings(uint64_t seed, bool variant);
  }
}
