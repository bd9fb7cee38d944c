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

    // `ribs`, cranial first: '-' no rib, 'r' a rib, 'f' a first-rib-like (short) rib, 's' sacral
    // alae (with bone beside them that the rib finder takes for a rib, as beside S1). Each
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
        evidence.alae = ribs[v] == 's';
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

    // Lumbar without ribs or sacrum.
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


  TEST(LevelNaming, TheSacrumAloneNamesS1AndTheLumbarSpineAsUncertain)
  {
    size_t slices = 0;
    SpineLayout pelvic = layoutWithRibs("----s", true, slices);
    nameLevels(pelvic, slices);
    EXPECT_EQ(levels(pelvic), (std::vector<std::string>{"L2", "L3", "L4", "L5", "S1"})) << pelvic.levelNote;
    EXPECT_EQ(pelvic.levelEvidence[4].landmark, "sacrum");
    EXPECT_LT(pelvic.levelEvidence[4].confidence, UNCERTAIN_LEVEL_CONFIDENCE);
    EXPECT_NE(pelvic.levelNote.find("transitional"), std::string::npos) << pelvic.levelNote;
    // Alae further down the sacrum (S2 beside the sacroiliac joints) do not move S1.
    SpineLayout lower = layoutWithRibs("---ss", true, slices);
    nameLevels(lower, slices);
    EXPECT_EQ(lower.vertebrae[3].level, "S1") << lower.levelNote;
  }


  TEST(LevelNaming, FiveLumbarVertebraeBetweenTheLastRibAndTheSacrumAreConsistent)
  {
    size_t slices = 0;
    SpineLayout layout = layoutWithRibs("rr-----s", true, slices);
    nameLevels(layout, slices);
    EXPECT_EQ(levels(layout), (std::vector<std::string>{"T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1"}))
      << layout.levelNote;
    for (const VertebraLevelEvidence& evidence : layout.levelEvidence)
    {
      EXPECT_GE(evidence.confidence, UNCERTAIN_LEVEL_CONFIDENCE) << layout.levelNote;
      EXPECT_EQ(evidence.landmark, "last rib and sacrum");
    }
  }


  TEST(LevelNaming, FourOrSixLumbarVertebraeLeaveTheLevelsUnnamedAndNameTheVariants)
  {
    for (const std::string ribs : {"rr----s", "rr------s"})
    {
      size_t slices = 0;
      SpineLayout layout = layoutWithRibs(ribs, true, slices);
      nameLevels(layout, slices);
      for (const Vertebra& vertebra : layout.vertebrae)
      {
        EXPECT_TRUE(vertebra.level.empty()) << ribs << ": " << layout.levelNote;
      }
      EXPECT_NE(layout.levelNote.find("transitional lumbosacral vertebra"), std::string::npos) << layout.levelNote;
      EXPECT_NE(layout.levelNote.find("13 rib pairs"), std::string::npos) << layout.levelNote;
    }
  }


  TEST(LevelNaming, ThreeLandmarksOutvoteTheVariantAndNameIt)
  {
    // 12 rib pairs and four free lumbar vertebrae: a sacralised L5, named L5.
    size_t slices = 0;
    SpineLayout sacralised = layoutWithRibs("-frrrrrrrrrrr----s", false, slices);
    nameLevels(sacralised, slices);
    EXPECT_EQ(sacralised.vertebrae[1].level, "T1") << sacralised.levelNote;
    EXPECT_EQ(sacralised.vertebrae[17].level, "L5") << sacralised.levelNote;
    EXPECT_NE(sacralised.levelNote.find("sacralised L5"), std::string::npos) << sacralised.levelNote;

    // 13 rib-bearing vertebrae from the first rib, and the sacrum 17 below T1: a lumbar rib.
    SpineLayout lumbarRib = layoutWithRibs("-frrrrrrrrrrrr----s", false, slices);
    nameLevels(lumbarRib, slices);
    EXPECT_EQ(lumbarRib.vertebrae[13].level, "L1") << lumbarRib.levelNote;
    EXPECT_EQ(lumbarRib.vertebrae[18].level, "S1") << lumbarRib.levelNote;
    EXPECT_NE(lumbarRib.levelNote.find("lumbar rib"), std::string::npos) << lumbarRib.levelNote;

    // A short rib on the vertebra above the first rib, the last rib and the sacrum agreeing:
    // a cervical rib, and the vertebra carrying it is C7.
    SpineLayout cervical = layoutWithRibs("-ffrrrrrrrrrrr-----s", false, slices);
    nameLevels(cervical, slices);
    EXPECT_EQ(cervical.vertebrae[1].level, "C7") << cervical.levelNote;
    EXPECT_EQ(cervical.vertebrae[2].level, "T1") << cervical.levelNote;
    EXPECT_NE(cervical.levelNote.find("cervical rib"), std::string::npos) << cervical.levelNote;
  }


  TEST(LevelNaming, TwoShortRibsAtTheTopMakeTheFirstRibUncertain)
  {
    // A cervical rib on C7 and the first rib on T1 look alike: with only the top of the thorax in
    // view the count from the first rib is flagged.
    size_t slices = 0;
    SpineLayout layout = layoutWithRibs("-ffrrr", false, slices);
    nameLevels(layout, slices);
    for (size_t v = 0; v < layout.vertebrae.size(); ++v)
    {
      if (!layout.vertebrae[v].level.empty())
      {
        EXPECT_LT(layout.levelEvidence[v].confidence, UNCERTAIN_LEVEL_CONFIDENCE) << layout.levelNote;
      }
    }
    EXPECT_NE(layout.levelNote.find("cervical rib"), std::string::npos) << layout.levelNote;
  }
}
