// SPDX-License-Identifier: GPL-3.0-or-later
// Level naming from the rib-bearing vertebrae (docs/spine.md, "Levels"), on layouts written by
// hand: which landmark is used, the rib variants that must leave the levels unnamed, and the
// partial coverage that must say why.

#include "spine/Spine.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spinemet
{
  namespace
  {
    constexpr double FIRST_RIB_REACH_MM = 65;   // a short rib turning forward: the first
    constexpr double RIB_REACH_MM = 110;

    // `ribs`, cranial first: '-' no rib, 'r' a rib, 'f' a first-rib-like (short) rib. Each
    // vertebra 10 slices high; the scan cuts the first and last when `cutEnds`.
    SpineLayout layoutWithRibs(const std::string& ribs, bool cutEnds, size_t& sliceCount)
    {
      SpineLayout layout;
      const size_t n = ribs.size();
      sliceCount = n * 12 + (cutEnds ? 0 : 4);
      for (size_t v = 0; v < n; ++v)
      {
        Vertebra vertebra;
        vertebra.index = static_cast<int>(v);
        // Volume order is caudal first: the cranial vertebra has the highest slices.
        const size_t top = sliceCount - 1 - (cutEnds ? 0 : 2) - v * 12;
        vertebra.firstSlice = top - 9;
        vertebra.lastSlice = top;
        if (cutEnds && v + 1 == n)
        {
          vertebra.firstSlice = 0;
        }
        layout.vertebrae.push_back(vertebra);
        VertebraLevelEvidence evidence;
        evidence.ribLeft = ribs[v] != '-';
        evidence.ribRight = ribs[v] != '-';
        evidence.ribReachMm = ribs[v] == 'f' ? FIRST_RIB_REACH_MM : ribs[v] == 'r' ? RIB_REACH_MM : 0;
        layout.levelEvidence.push_back(evidence);
      }
      return layout;
    }

    std::vector<std::string> levels(const SpineLayout& layout)
    {
      std::vector<std::string> names;
      for (const Vertebra& vertebra : layout.vertebrae)
      {
        names.push_back(vertebra.level);
      }
      return names;
    }
  }


  TEST(LevelNaming, FirstRibNamesT1AndCountsDown)
  {
    size_t slices = 0;
    SpineLayout layout = layoutWithRibs("--frrr", true, slices);
    nameLevels(layout, slices);
    EXPECT_EQ(levels(layout), (std::vector<std::string>{"C6", "C7", "T1", "T2", "T3", "T4"})) << layout.levelNote;
    EXPECT_EQ(layout.levelEvidence[2].landmark, "first rib");
    EXPECT_GT(layout.levelEvidence[2].confidence, layout.levelEvidence[5].confidence);
  }


  TEST(LevelNaming, LastRibNamesT12AndTheLumbarSpine)
  {
    size_t slices = 0;
    SpineLayout layout = layoutWithRibs("rrr-----", true, slices);
    nameLevels(layout, slices);
    EXPECT_EQ(levels(layout), (std::vector<std::string>{"T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5"}))
      << layout.levelNote;
    EXPECT_EQ(layout.levelEvidence[2].landmark, "last rib");
    // 11 or 13 rib pairs move the last rib unseen: less trusted than the first rib.
    EXPECT_LT(layout.levelEvidence[2].confidence, 0.9);
  }


  TEST(LevelNaming, TwelveRibPairsBetweenBothLandmarksAreTrustedMost)
  {
    size_t slices = 0;
    SpineLayout layout = layoutWithRibs("-frrrrrrrrrrr-", false, slices);
    nameLevels(layout, slices);
    EXPECT_EQ(layout.vertebrae[1].level, "T1") << layout.levelNote;
    EXPECT_EQ(layout.vertebrae[12].level, "T12");
    EXPECT_EQ(layout.vertebrae[13].level, "L1");
    EXPECT_EQ(layout.levelEvidence[1].landmark, "first and last ribs");
  }


  TEST(LevelNaming, ElevenOrThirteenRibPairsLeaveTheLevelsUnnamedAndSaySo)
  {
    for (const std::string ribs : {"-frrrrrrrrrr-", "-frrrrrrrrrrrr-"})
    {
      size_t slices = 0;
      SpineLayout layout = layoutWithRibs(ribs, false, slices);
      nameLevels(layout, slices);
      for (const Vertebra& vertebra : layout.vertebrae)
      {
        EXPECT_TRUE(vertebra.level.empty()) << ribs;
      }
      EXPECT_NE(layout.levelNote.find("rib variant"), std::string::npos) << layout.levelNote;
    }
  }


  TEST(LevelNaming, WithoutALandmarkInViewNoLevelIsGiven)
  {
    size_t slices = 0;
    // Mid-thoracic: ribs up to both ends of the scan.
    SpineLayout thoracic = layoutWithRibs("rrrrr", true, slices);
    nameLevels(thoracic, slices);
    EXPECT_TRUE(thoracic.vertebrae[2].level.empty());
    EXPECT_NE(thoracic.levelNote.find("neither the first nor the last rib"), std::string::npos) << thoracic.levelNote;

    // Lumbar without ribs (sacrum anchoring is not implemented).
    SpineLayout lumbar = layoutWithRibs("-----", true, slices);
    nameLevels(lumbar, slices);
    EXPECT_TRUE(lumbar.vertebrae[2].level.empty());
    EXPECT_NE(lumbar.levelNote.find("no rib"), std::string::npos) << lumbar.levelNote;

    // The topmost rib of a thoracic scan that was missed on the vertebra above is no first
    // rib: it reaches far round the chest.
    SpineLayout missed = layoutWithRibs("-rrrr", true, slices);
    nameLevels(missed, slices);
    EXPECT_TRUE(missed.vertebrae[1].level.empty()) << missed.levelNote;

    // The vertebra below the last rib is cut by the scan: its rib may be out of view.
    SpineLayout cut = layoutWithRibs("rrr-", true, slices);
    nameLevels(cut, slices);
    EXPECT_TRUE(cut.vertebrae[0].level.empty()) << cut.levelNote;
  }


  TEST(LevelNaming, ASingleMissedRibInsideTheRunIsPresumedAndLowersTheConfidence)
  {
    size_t slices = 0;
    SpineLayout clean = layoutWithRibs("rrrr---", true, slices);
    nameLevels(clean, slices);
    SpineLayout gap = layoutWithRibs("rr-r---", true, slices);
    nameLevels(gap, slices);
    EXPECT_EQ(levels(gap), levels(clean)) << gap.levelNote;
    EXPECT_LT(gap.levelEvidence[3].confidence, clean.levelEvidence[3].confidence);

    // Two separate runs of ribs are not one thorax.
    SpineLayout split = layoutWithRibs("rr--r---", true, slices);
    nameLevels(split, slices);
    EXPECT_TRUE(split.vertebrae[0].level.empty()) << split.levelNote;
  }
}
