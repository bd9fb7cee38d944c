// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Internal to the spine stage: the column along z cut into vertebrae at its discs
// (docs/spine.md, "Discs"). Separate from SpineFinder.cpp so that each step can be tested on a
// density profile alone.

#include "spine/Spine.h"

#include <array>
#include <cstddef>
#include <vector>

namespace spinemet
{
  namespace spine_detail
  {
    // Mean HU across the middle of the body's footprint on one slice, in STRIP_BINS bins from
    // front (-0.8 of the half depth) to back (+0.8): one row of a sagittal reformat through the
    // body. A disc is tilted in a kyphotic or lordotic column (in the upper thoracic spine by
    // up to 10 mm across the body): lines through this strip at several tilts follow it.
    constexpr size_t STRIP_BINS = 9;
    using BodyDensities = std::array<double, STRIP_BINS>;
    // Where bin k lies, as a fraction of the half depth (posterior positive).
    inline double stripBinPosition(size_t k)
    {
      return -0.8 + 1.6 * static_cast<double>(k) / static_cast<double>(STRIP_BINS - 1);
    }

    // How much each slice looks like a disc: the depth of the narrowest density valley through
    // it, measured against the densest slices (the end plates) within a few millimetres on
    // either side, also in the bone profile. A disc lies between two end plates close by; the middle of a body
    // with little cancellous bone is a valley too, but its end plates are far away.
    // Each signal's depth is scaled by what a clear disc gives, so that 1 is a clear disc.
    struct DiscEvidence
    {
      std::vector<double> strength;     // >= 0, 1 is a clear disc
      std::vector<int> part;            // the signal that showed it: an index into `signals`
      std::vector<std::vector<double>> signals;   // the bone profile, then the tilted lines
    };
    DiscEvidence measureDiscEvidence(const std::vector<BodyDensities>& densities,
                                     const std::vector<double>& profile,
                                     const std::vector<double>& bodyDepthMm, double sliceMm);

    // The discs: the set of valleys, cranial to caudal, that best explains the profile as a
    // column of vertebrae whose height changes slowly from one to the next (dynamic programming
    // over chains of discs), no two closer than a fraction of the body's depth (`bodyDepthMm`,
    // per slice). Slice indices into the profile.
    std::vector<size_t> chooseDiscs(const DiscEvidence& evidence, const std::vector<double>& bodyDepthMm,
                                    double sliceMm);

    // Inclusive slice ranges of the vertebrae between the discs; each disc is as wide as its
    // valley at half depth. Segments cut by the scan (touching index 0 or the end, when
    // `startIsScanEdge` / `endIsScanEdge`) are kept however short; others need
    // `minimumVertebraMm`.
    struct SliceRange
    {
      size_t first = 0;
      size_t last = 0;
    };
    std::vector<SliceRange> splitLongVertebrae(std::vector<SliceRange> vertebrae, const DiscEvidence& evidence,
                                               double sliceMm, size_t sliceCount, const SpineOptions& options);
    std::vector<SliceRange> vertebraeBetweenDiscs(const std::vector<size_t>& discs,
                                                  const DiscEvidence& evidence,
                                                  const std::vector<double>& profile, double sliceMm, bool startIsScanEdge,
                                                  bool endIsScanEdge, const SpineOptions& options);

    // The signals along the column, one entry per slice (volume order).
    struct ColumnSignals
    {
      std::vector<BodyDensities> densities;
      std::vector<double> profile;         // SliceSpine::boneProfile
      std::vector<double> bodyDepthMm;     // the footprint's depth
    };

    // The three steps above, run from the cranial end (`firstIsCranial` says which end of the
    // signals that is), so that ties fall the same way whatever the slice order. Ranges are
    // indices into the signals, in their order.
    std::vector<SliceRange> partitionColumn(const ColumnSignals& column, double sliceMm, bool firstIsCranial,
                                            bool cranialIsScanEdge, bool caudalIsScanEdge,
                                            const SpineOptions& options);
  }
}
