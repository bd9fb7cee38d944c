// SPDX-License-Identifier: GPL-3.0-or-later
// Levels from landmarks (docs/spine.md, "Levels"): rib-bearing vertebrae are thoracic, T1 carries
// the first rib, T12 the last. A level is given only where a landmark is in view and the
// landmarks agree; otherwise the note says why.

#include "spine/Spine.h"

#include <cmath>
#include <string>
#include <vector>

namespace spinemet
{
  namespace
  {
    // C1..C7, T1..T12, L1..L5 in a row; S1 and below are not named from ribs.
    constexpr int T1_RANK = 7;
    constexpr int T12_RANK = 18;
    constexpr int L5_RANK = 23;
    constexpr int THORACIC_COUNT = 12;
    constexpr double FIRST_RIB_MAXIMUM_REACH_MM = 80;

    std::string levelOfRank(int rank)
    {
      if (rank < 0 || rank > L5_RANK)
      {
        return {};
      }
      if (rank < T1_RANK)
      {
        return "C" + std::to_string(rank + 1);
      }
      if (rank <= T12_RANK)
      {
        return "T" + std::to_string(rank - T1_RANK + 1);
      }
      return "L" + std::to_string(rank - T12_RANK);
    }

    // Confidence at the anchor, and its loss per level counted away from it (a vertebra missed or
    // split by the finder shifts every level beyond it).
    constexpr double BOTH_RIBS_CONFIDENCE = 0.95;
    constexpr double FIRST_RIB_CONFIDENCE = 0.9;
    // 11 or 13 rib pairs (about 5-8 % of people) move the last rib off T12 unseen: below
    // UNCERTAIN, and the note says so.
    constexpr double LAST_RIB_CONFIDENCE = 0.75;
    constexpr double LOSS_PER_LEVEL = 0.01;
    constexpr double FILLED_GAP_LOSS = 0.1;
  }


  void nameLevels(SpineLayout& layout, size_t sliceCount)
  {
    std::vector<Vertebra>& vertebrae = layout.vertebrae;
    const size_t count = vertebrae.size();
    layout.levelEvidence.resize(count);
    std::vector<VertebraLevelEvidence>& evidence = layout.levelEvidence;
    if (count == 0)
    {
      return;
    }
    auto cutByScan = [&](const Vertebra& vertebra) {
      return vertebra.firstSlice == 0 || vertebra.lastSlice + 1 >= sliceCount;
    };
    std::vector<bool> ribs(count);
    for (size_t v = 0; v < count; ++v)
    {
      ribs[v] = evidence[v].ribLeft || evidence[v].ribRight;
    }
    // A single vertebra without a rib between two with ribs on both sides: a rib missed (thin,
    // osteoporotic, cut obliquely), not the end of the thorax.
    bool filledGap = false;
    for (size_t v = 1; v + 1 < count; ++v)
    {
      if (!ribs[v] && ribs[v - 1] && ribs[v + 1])
      {
        ribs[v] = true;
        filledGap = true;
      }
    }
    long top = -1;
    long bottom = -1;
    size_t runs = 0;
    for (size_t v = 0; v < count; ++v)
    {
      if (ribs[v] && (v == 0 || !ribs[v - 1]))
      {
        ++runs;
        top = top < 0 ? static_cast<long>(v) : top;
      }
      bottom = ribs[v] ? static_cast<long>(v) : bottom;
    }
    if (runs == 0)
    {
      layout.levelNote = "levels not named: no rib in view (and sacrum anchoring is not implemented)";
      return;
    }
    if (runs > 1)
    {
      layout.levelNote = "levels not named: the rib-bearing vertebrae are not one run (ribs found on "
                         "separate stretches of the column)";
      return;
    }
    const size_t ribCount = static_cast<size_t>(bottom - top + 1);
    // The first rib is in view when a whole vertebra without ribs lies above the topmost rib
    // and that rib is short, turning forward at once as only the first rib does (a rib missed
    // at the top of a thoracic scan must not pass for it); the last when a whole vertebra
    // without ribs lies below the lowest (a vertebra cut by the scan may hide its rib).
    const bool firstRibSeen = top > 0 && !cutByScan(vertebrae[static_cast<size_t>(top - 1)]) &&
                              evidence[static_cast<size_t>(top)].ribReachMm < FIRST_RIB_MAXIMUM_REACH_MM;
    const bool lastRibSeen = static_cast<size_t>(bottom) + 1 < count && !cutByScan(vertebrae[static_cast<size_t>(bottom + 1)]);

    long anchorIndex = 0;
    int anchorRank = 0;
    double anchorConfidence = 0;
    std::string landmark;
    if (firstRibSeen && lastRibSeen)
    {
      if (ribCount != THORACIC_COUNT)
      {
        layout.levelNote = "levels not named: " + std::to_string(ribCount) + " rib-bearing vertebrae from the first "
                           "rib to the last (12 expected): a rib variant (11 or 13 pairs, a cervical or lumbar rib) "
                           "or a vertebra missed; the first and the last rib disagree";
        return;
      }
      anchorIndex = top;
      anchorRank = T1_RANK;
      anchorConfidence = BOTH_RIBS_CONFIDENCE;
      landmark = "first and last ribs";
    }
    else if (firstRibSeen)
    {
      anchorIndex = top;
      anchorRank = T1_RANK;
      anchorConfidence = FIRST_RIB_CONFIDENCE;
      landmark = "first rib";
    }
    else if (lastRibSeen)
    {
      anchorIndex = bottom;
      anchorRank = T12_RANK;
      anchorConfidence = LAST_RIB_CONFIDENCE;
      landmark = "last rib";
    }
    else
    {
      layout.levelNote = "levels not named: ribs on every vertebra in view up to the scan's ends; neither the "
                         "first nor the last rib is in view";
      return;
    }
    if (ribCount > THORACIC_COUNT)
    {
      layout.levelNote = "levels not named: " + std::to_string(ribCount) + " rib-bearing vertebrae (at most 12 "
                         "expected): a rib variant or a vertebra split";
      return;
    }

    for (size_t v = 0; v < count; ++v)
    {
      const long distance = static_cast<long>(v) - anchorIndex;
      const std::string level = levelOfRank(anchorRank + static_cast<int>(distance));
      if (level.empty())
      {
        continue;
      }
      vertebrae[v].level = level;
      evidence[v].landmark = landmark;
      evidence[v].confidence = anchorConfidence - LOSS_PER_LEVEL * static_cast<double>(std::labs(distance)) -
                                     (filledGap ? FILLED_GAP_LOSS : 0);
    }
    layout.levelNote = "levels counted from the " + landmark + " (" + std::to_string(ribCount) +
                       " rib-bearing vertebrae in view" +
                       (filledGap ? ", a rib presumed missed where a vertebra between two rib-bearing ones showed none" : "") + ")";
    if (landmark == "last rib")
    {
      layout.levelNote += "; uncertain: the last rib is taken for T12, but with 11 or 13 rib pairs or a lumbar rib "
                          "(about 5-8 % of people) every level is one off, and no first rib or sacrum is in view to tell";
    }
  }
}
