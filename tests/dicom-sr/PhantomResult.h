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

    // `result` (of makePhantomWithResult) as a gated model would give it when it refuses two of
    // the five vertebrae: T12 (lytic in the phantom) out of distribution, L3 cut by the series
    // edge and next to metal. Every vertebra has an out-of-distribution score; the gate's
    // threshold is 2. L1 and L2 still carry their findings, so the study state is "lesion
    // suspected", and the most severe class is mixed (T12's lytic is withheld).
    AnalysisResult withNotAssessableVertebrae(AnalysisResult result);

    // `result` with no vertebra assessable, for a series-wide reason (slices too thick) and no
    // out-of-distribution gate: the study state is "not assessable".
    AnalysisResult withNoVertebraAssessable(AnalysisResult result);
  }
}
