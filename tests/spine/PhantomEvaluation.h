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
      std::vector<std::string> problems;   // readable, for test failure messages

      bool acceptable() const
      {
        return countMatches && vertebraeBeyondTolerance == 0 && slicesMissed == 0 && cropsMissingBody == 0;
      }
    };

    SpineEvaluation evaluateSpine(const PhantomStudy& study, const SpineLayout& layout, double cropMm);

    // One line: count, edge errors, crops, body centres.
    std::string summarise(const SpineEvaluation& evaluation);
  }
}
