// SPDX-License-Identifier: GPL-3.0-or-later
// Levels from landmarks (docs/spine.md, "Levels"): rib-bearing vertebrae are thoracic, T1 carries
// the first rib, T12 the last, S1 is the topmost vertebra with sacral alae. A level is given only
// where a landmark is in view and the landmarks agree (or two of three do, the third then named
// as a variant); otherwise the note says why.

#include "spine/Spine.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace spinemet
{
  namespace
  {
    // C1..C7, T1..T12, L1..L5, S1 in a row; the sacral segments below S1 are not named.
    constexpr int T1_RANK = 7;
    constexpr int T12_RANK = 18;
    constexpr int S1_RANK = 24;
    constexpr int THORACIC_COUNT = 12;
    constexpr double FIRST_RIB_MAXIMUM_REACH_MM = 80;

    std::string levelOfRank(int rank)
    {
      if (rank < 0 || rank > S1_RANK)
      {
        return {};
      }
      if (rank == S1_RANK)
      {
        return "S1";
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
    constexpr double FIRST_RIB_CONFIDENCE = 0.9;
    // 11 or 13 rib pairs (about 5-8 % of people) move the last rib off T12 unseen: below
    // UNCERTAIN, and the note says so.
    constexpr double LAST_RIB_CONFIDENCE = 0.75;
    // The sacrum alone: a transitional lumbosacral vertebra (about 10 % of people) moves it.
    constexpr double SACRUM_CONFIDENCE = 0.75;
    // A first rib that may be a cervical rib's neighbour (see firstRibDoubtful).
    constexpr double DOUBTFUL_FIRST_RIB_CONFIDENCE = 0.7;
    // Two or three landmarks that agree (the count between them is the usual one).
    constexpr double TWO_LANDMARKS_CONFIDENCE = 0.95;
    constexpr double ALL_LANDMARKS_CONFIDENCE = 0.97;
    // Three landmarks of which two agree: the third is a variant, named in the note.
    constexpr double VARIANT_NAMED_CONFIDENCE = 0.9;
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
    // The sacrum: the topmost vertebra with alae below every other rib-bearing vertebra (S1,
    // the first fused segment; the segments below it may show alae too, or none). Bone found
    // beside it and below is the sacrum's and the ilium's, not a rib. Higher up, "alae" are a
    // cervical transverse process with a rib, or a thoracic rib beside the body: ribs.
    long sacrum = -1;
    for (size_t v = count; v-- > 0;)
    {
      const bool rib = evidence[v].ribLeft || evidence[v].ribRight;
      if (evidence[v].alae)
      {
        sacrum = static_cast<long>(v);
      }
      else if (rib)
      {
        break;
      }
    }
    for (size_t v = 0; v < count; ++v)
    {
      ribs[v] = (evidence[v].ribLeft || evidence[v].ribRight) && (sacrum < 0 || static_cast<long>(v) < sacrum);
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
    if (runs > 1)
    {
      layout.levelNote = "levels not named: the rib-bearing vertebrae are not one run (ribs found on "
                         "separate stretches of the column)";
      return;
    }
    const size_t ribCount = runs == 0 ? 0 : static_cast<size_t>(bottom - top + 1);
    // The first rib is in view when a whole vertebra without ribs lies above the topmost rib
    // and that rib is short, turning forward at once as only the first rib does (a rib missed
    // at the top of a thoracic scan must not pass for it); the last when a whole vertebra
    // without ribs lies below the lowest (a vertebra cut by the scan may hide its rib).
    const bool firstRibSeen = runs > 0 && top > 0 && !cutByScan(vertebrae[static_cast<size_t>(top - 1)]) &&
                              evidence[static_cast<size_t>(top)].ribReachMm < FIRST_RIB_MAXIMUM_REACH_MM;
    const bool lastRibSeen = runs > 0 && static_cast<size_t>(bottom) + 1 < count && !cutByScan(vertebrae[static_cast<size_t>(bottom + 1)]);

    // Each landmark in view says which rank (C1 = 0) one vertebra has; they agree when they
    // give every vertebra the same rank.
    struct Landmark
    {
      std::string name;
      long offset;       // rank - index
    };
    std::vector<Landmark> landmarks;
    if (firstRibSeen)
    {
      landmarks.push_back({"first rib", T1_RANK - top});
    }
    if (lastRibSeen)
    {
      landmarks.push_back({"last rib", T12_RANK - bottom});
    }
    if (sacrum >= 0)
    {
      landmarks.push_back({"sacrum", S1_RANK - sacrum});
    }
    // The first rib and a cervical rib on C7 above it both turn forward at once: when the
    // two topmost rib-bearing vertebrae both carry such a short rib, the upper may be C7.
    const bool firstRibDoubtful = firstRibSeen && static_cast<size_t>(top) + 1 < count &&
                                  ribs[static_cast<size_t>(top) + 1] &&
                                  evidence[static_cast<size_t>(top) + 1].ribReachMm > 0 &&
                                  evidence[static_cast<size_t>(top) + 1].ribReachMm < FIRST_RIB_MAXIMUM_REACH_MM;
    const std::string ribsInView = ribCount == 0 ? std::string("no rib in view")
                                                 : std::to_string(ribCount) + " rib-bearing vertebrae in view";
    if (landmarks.empty())
    {
      layout.levelNote = runs == 0 ? "levels not named: no rib and no sacrum in view"
                                   : "levels not named: ribs on every vertebra in view up to the scan's ends; neither the "
                                     "first nor the last rib is in view, and no sacrum";
      return;
    }

    long offset = 0;
    double anchorConfidence = 0;
    std::string landmark;
    std::string variant;
    auto has = [&](const std::string& name) {
      return std::any_of(landmarks.begin(), landmarks.end(), [&](const Landmark& l) { return l.name == name; });
    };
    auto offsetOf = [&](const std::string& name) {
      return std::find_if(landmarks.begin(), landmarks.end(), [&](const Landmark& l) { return l.name == name; })->offset;
    };
    const bool allAgree = std::all_of(landmarks.begin(), landmarks.end(),
                                      [&](const Landmark& l) { return l.offset == landmarks.front().offset; });
    if (allAgree)
    {
      offset = landmarks.front().offset;
      for (const Landmark& l : landmarks)
      {
        landmark += (landmark.empty() ? "" : " and ") + l.name;
      }
      if (landmark == "first rib and last rib")
      {
        landmark = "first and last ribs";
      }
      else if (landmark == "first rib and last rib and sacrum")
      {
        landmark = "first and last ribs and sacrum";
      }
      anchorConfidence = landmarks.size() >= 3 ? ALL_LANDMARKS_CONFIDENCE :
                         landmarks.size() == 2 ? TWO_LANDMARKS_CONFIDENCE :
                         landmark == "first rib" ? (firstRibDoubtful ? DOUBTFUL_FIRST_RIB_CONFIDENCE : FIRST_RIB_CONFIDENCE) :
                         landmark == "last rib" ? LAST_RIB_CONFIDENCE : SACRUM_CONFIDENCE;
      if (landmarks.size() == 1 && ribCount > THORACIC_COUNT)
      {
        layout.levelNote = "levels not named: " + std::to_string(ribCount) + " rib-bearing vertebrae (at most 12 "
                           "expected): a rib variant or a vertebra split";
        return;
      }
    }
    else if (landmarks.size() == 3)
    {
      // Two of three agree: the third is a variant, named.
      const long first = offsetOf("first rib");
      const long last = offsetOf("last rib");
      const long sacral = offsetOf("sacrum");
      anchorConfidence = VARIANT_NAMED_CONFIDENCE;
      if (first == sacral)
      {
        offset = first;
        landmark = "first rib and sacrum";
        variant = std::to_string(ribCount) + " rib-bearing vertebrae from the first rib to the last: a rib variant (" +
                  (ribCount > THORACIC_COUNT ? "13 rib pairs or a lumbar rib" : "11 rib pairs") +
                  "); the last rib is not T12";
      }
      else if (first == last)
      {
        offset = first;
        landmark = "first and last ribs";
        variant = sacral > first ? "a transitional lumbosacral vertebra: the vertebra named L5 carries alae "
                                   "(sacralised L5, four free lumbar vertebrae)"
                                 : "a transitional lumbosacral vertebra: six vertebrae without ribs or alae between "
                                   "the last rib and the sacrum (lumbarised S1)";
      }
      else if (last == sacral)
      {
        offset = last;
        landmark = "last rib and sacrum";
        variant = "the topmost rib-bearing vertebra is not T1: a cervical rib (on C7) or a first rib missed";
      }
      else
      {
        layout.levelNote = "levels not named: the first rib, the last rib and the sacrum disagree (" + ribsInView + ")";
        return;
      }
    }
    else
    {
      // Two landmarks that disagree: either may be the variant.
      std::string why;
      if (has("first rib") && has("last rib"))
      {
        why = std::to_string(ribCount) + " rib-bearing vertebrae from the first rib to the last (12 expected): a rib "
              "variant (11 or 13 pairs, a cervical or lumbar rib) or a vertebra missed; the first and the last rib disagree";
      }
      else if (has("last rib"))
      {
        const long lumbar = sacrum - bottom - 1;
        why = std::to_string(lumbar) + " vertebrae without ribs between the last rib and the sacrum (5 expected): a rib "
              "variant (11 or 13 rib pairs, a lumbar rib) or a transitional lumbosacral vertebra (sacralised L5 or "
              "lumbarised S1), or a vertebra missed; the last rib and the sacrum disagree";
      }
      else
      {
        why = "the first rib and the sacrum disagree: a rib or transitional variant, or a vertebra missed";
      }
      layout.levelNote = "levels not named: " + why;
      return;
    }

    for (size_t v = 0; v < count; ++v)
    {
      const std::string level = levelOfRank(static_cast<int>(static_cast<long>(v) + offset));
      if (level.empty())
      {
        continue;
      }
      // levels further from the landmarks are less sure: a vertebra missed or split between
      long distance = static_cast<long>(count);
      for (const Landmark& l : landmarks)
      {
        if (l.offset == offset)
        {
          const long anchor = l.name == "first rib" ? top : l.name == "last rib" ? bottom : sacrum;
          distance = std::min(distance, std::labs(static_cast<long>(v) - anchor));
        }
      }
      vertebrae[v].level = level;
      evidence[v].landmark = landmark;
      evidence[v].confidence = anchorConfidence - LOSS_PER_LEVEL * static_cast<double>(distance) -
                               (filledGap ? FILLED_GAP_LOSS : 0);
    }
    layout.levelNote = "levels counted from the " + landmark + " (" + ribsInView +
                       (filledGap ? ", a rib presumed missed where a vertebra between two rib-bearing ones showed none" : "") + ")";
    if (!variant.empty())
    {
      layout.levelNote += "; variant: " + variant;
    }
    if (landmark == "last rib")
    {
      layout.levelNote += "; uncertain: the last rib is taken for T12, but with 11 or 13 rib pairs or a lumbar rib "
                          "(about 5-8 % of people) every level is one off, and no first rib or sacrum is in view to tell";
    }
    else if (landmark == "sacrum")
    {
      layout.levelNote += "; uncertain: the topmost vertebra with alae is taken for S1, but a transitional lumbosacral "
                          "vertebra (a sacralised L5 or a lumbarised S1, about 10 % of people) moves every level by one, "
                          "and no rib is in view to tell";
    }
    else if (landmark == "first rib" && firstRibDoubtful)
    {
      layout.levelNote += "; uncertain: the two topmost rib-bearing vertebrae both carry a short rib turning forward, "
                          "so the upper may be C7 with a cervical rib rather than T1";
    }
  }
}
