// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Test input for the DICOM writers: a phantom study and an AnalysisResult whose vertebrae follow
// its ground truth exactly (classes, slice ranges, key slices, an elliptical outline of each
// vertebral body), as a perfect model would report them.

#include "phantom/Phantom.h"
#include "result/AnalysisResult.h"

namespace spinemet
{
  namespace testing
  {
    struct PhantomWithResult
    {
      PhantomStudy study;
      AnalysisResult result;
    };

    // T11 normal, T12 lytic bilateral, L1 blastic unilateral (left), L2 mixed, L3 normal,
    // on a 512 x 512 phantom.
    PhantomWithResult makePhantomWithResult(uint64_t seed = 7);

    // The result a perfect model would give for `study`.
    AnalysisResult resultFromTruth(const PhantomStudy& study);
  }
}
