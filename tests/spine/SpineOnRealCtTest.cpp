// SPDX-License-Identifier: GPL-3.0-or-later
// The spine finder on the real CTs of ../shared/testdata/real-ct (docs/spine.md, "Real-CT
// reference"): every vertebra in view found, no stretch of the column left without one. These
// series stay outside the repository; where the folder is absent the tests say so and are
// skipped, never passed silently.

#include "spine/Spine.h"
#include "volume/SeriesLoader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <filesystem>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace spinemet
{
  namespace
  {
    struct RealCt
    {
      std::string folder;
      // Discs read on a sagittal reformat (docs/spine.md), in patient z (mm). Each must fall
      // inside the gap between two found vertebrae, give or take `toleranceMm`.
      std::vector<double> discsZ;
      double toleranceMm;
      // The level of the vertebra around each z (docs/spine.md), counted from the ribs by hand,
      // and the landmark the finder must have used.
      std::vector<std::pair<double, std::string>> levels;
      std::string landmark;
    };

    void PrintTo(const RealCt& ct, std::ostream* stream)
    {
      *stream << ct.folder;
    }

    std::string realCtName(const ::testing::TestParamInfo<RealCt>& info)
    {
      std::string name = info.param.folder;
      for (char& c : name)
      {
        c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      }
      return name;
    }

    std::filesystem::path realCtFolder()
    {
      return std::filesystem::path(SPINEMET_SHARED_TESTDATA_DIR) / "real-ct";
    }

    Series loadRealCt(const std::string& folder)
    {
      return loadSeries(FileSliceSource({(realCtFolder() / folder).string()}));
    }

    // The longest stretch of the column (first to last vertebra-bearing slice) without a vertebra.
    double longestStretchWithoutVertebraMm(const SpineLayout& layout, const Series& series)
    {
      double longest = 0;
      double start = 0;
      bool inGap = false;
      bool seen = false;
      for (size_t s = 0; s < layout.slices.size(); ++s)
      {
        if (layout.slices[s].vertebraPresent)
        {
          if (inGap && seen)
          {
            longest = std::max(longest, series.slices[s].position - start);
          }
          inGap = false;
          seen = true;
        }
        else if (!inGap)
        {
          inGap = true;
          start = series.slices[s].position;
        }
      }
      return longest;
    }

    class RealCtReference : public ::testing::TestWithParam<RealCt>
    {
    };
  }


  TEST_P(RealCtReference, EveryVertebraInViewIsFoundBetweenItsDiscs)
  {
    const RealCt& ct = GetParam();
    if (!std::filesystem::is_directory(realCtFolder() / ct.folder))
    {
      GTEST_SKIP() << "real-CT check NOT RUN: " << (realCtFolder() / ct.folder).string() << " is absent";
    }
    const Series series = loadRealCt(ct.folder);
    const SpineLayout layout = findSpine(series.volume);
    ASSERT_GE(layout.vertebrae.size(), 5u);

    // The complaint of issue 15: 34 and 38 mm of the thoracic column with no vertebra. A disc
    // is at most 12 mm high, and two slices of partial volume either side.
    const double sliceMm = series.volume.geometry().sliceSpacing;
    EXPECT_LE(longestStretchWithoutVertebraMm(layout, series), 12 + 2 * sliceMm);

    // Each disc of the reference lies between two found vertebrae, and between the first and
    // the last of them the finder places no other disc: the vertebrae in between are found
    // one for one.
    struct Boundary
    {
      double caudalZ;   // the top of the vertebra below
      double cranialZ;  // the bottom of the vertebra above
    };
    std::vector<Boundary> boundaries;
    for (size_t v = 0; v + 1 < layout.vertebrae.size(); ++v)
    {
      // Vertebrae are cranial first; their slice ranges follow the volume (caudal first).
      const Vertebra& upper = layout.vertebrae[v];
      const Vertebra& lower = layout.vertebrae[v + 1];
      boundaries.push_back(Boundary{std::max(series.slices[lower.firstSlice].position, series.slices[lower.lastSlice].position),
                                    std::min(series.slices[upper.firstSlice].position, series.slices[upper.lastSlice].position)});
    }
    for (double discZ : ct.discsZ)
    {
      bool found = false;
      for (const Boundary& boundary : boundaries)
      {
        found = found || (discZ >= boundary.caudalZ - ct.toleranceMm && discZ <= boundary.cranialZ + ct.toleranceMm);
      }
      EXPECT_TRUE(found) << ct.folder << ": no boundary between found vertebrae at the disc at z " << discZ;
    }
    if (!ct.discsZ.empty())
    {
      const auto [lowest, highest] = std::minmax_element(ct.discsZ.begin(), ct.discsZ.end());
      size_t inside = 0;
      for (const Boundary& boundary : boundaries)
      {
        inside += boundary.cranialZ >= *lowest - ct.toleranceMm && boundary.caudalZ <= *highest + ct.toleranceMm ? 1 : 0;
      }
      EXPECT_EQ(inside, ct.discsZ.size()) << ct.folder << ": discs found between z " << *lowest << " and " << *highest;
    }
  }


  TEST_P(RealCtReference, LevelsAreTheOnesCountedFromTheRibs)
  {
    const RealCt& ct = GetParam();
    if (!std::filesystem::is_directory(realCtFolder() / ct.folder))
    {
      GTEST_SKIP() << "real-CT check NOT RUN: " << (realCtFolder() / ct.folder).string() << " is absent";
    }
    const Series series = loadRealCt(ct.folder);
    const SpineLayout layout = findSpine(series.volume);
    ASSERT_EQ(layout.levelEvidence.size(), layout.vertebrae.size());
    for (const auto& [z, level] : ct.levels)
    {
      const Vertebra* found = nullptr;
      for (const Vertebra& vertebra : layout.vertebrae)
      {
        const double low = std::min(series.slices[vertebra.firstSlice].position, series.slices[vertebra.lastSlice].position);
        const double high = std::max(series.slices[vertebra.firstSlice].position, series.slices[vertebra.lastSlice].position);
        found = z >= low && z <= high ? &vertebra : found;
      }
      ASSERT_NE(found, nullptr) << ct.folder << ": no vertebra at z " << z;
      EXPECT_EQ(found->level, level) << ct.folder << " at z " << z << ": " << layout.levelNote;
      const VertebraLevelEvidence& evidence = layout.levelEvidence[static_cast<size_t>(found->index)];
      EXPECT_EQ(evidence.landmark, ct.landmark) << ct.folder << " at z " << z;
      EXPECT_GT(evidence.confidence, 0.5) << ct.folder << " at z " << z;
    }
  }


  // A real vertebra with a lesion (painted into the real body: a lytic hole over most of its
  // height, or a dense blastic focus) is still found with the same extent, and no level moves.
  // Not yet true on thorax-4dct, so it is not claimed there (issue 15, docs/spine.md): the lytic
  // hole in its osteopenic, noisy T5 re-arranges the upper thoracic discs (edges of T1-T6 move)
  // and the blastic focus adds a vertebra.
  class RealCtWithLesion : public RealCtReference
  {
  };

  TEST_P(RealCtWithLesion, ALesionInOneVertebraMovesNoVertebraAndNoLevel)
  {
    const RealCt& ct = GetParam();
    if (!std::filesystem::is_directory(realCtFolder() / ct.folder))
    {
      GTEST_SKIP() << "real-CT check NOT RUN: " << (realCtFolder() / ct.folder).string() << " is absent";
    }
    const Series series = loadRealCt(ct.folder);
    const SpineLayout before = findSpine(series.volume);
    ASSERT_GE(before.vertebrae.size(), 5u);
    const Vertebra& target = before.vertebrae[before.vertebrae.size() / 2];
    const VolumeGeometry& g = series.volume.geometry();
    for (const int16_t lesionHu : {int16_t{30}, int16_t{900}})
    {
      Volume volume = series.volume;
      const double middle = (static_cast<double>(target.firstSlice) + static_cast<double>(target.lastSlice)) / 2;
      const double halfHeightMm = (static_cast<double>(target.lastSlice - target.firstSlice) + 1) * g.sliceSpacing / 2;
      const PixelBox& body = before.slices[static_cast<size_t>(std::lround(middle))].vertebralBody;
      const double centreColumn = (body.column0 + body.column1) / 2;
      const double centreRow = (body.row0 + body.row1) / 2;
      // Half the body's width and depth, most of its height.
      const double radiusXMm = (body.column1 - body.column0) * g.columnSpacing * 0.3;
      const double radiusYMm = (body.row1 - body.row0) * g.rowSpacing * 0.35;
      const double radiusZMm = halfHeightMm * 0.7;
      for (size_t s = target.firstSlice; s <= target.lastSlice; ++s)
      {
        int16_t* hu = volume.slice(s);
        const double dz = (static_cast<double>(s) - middle) * g.sliceSpacing / radiusZMm;
        for (size_t r = 0; r < g.rows; ++r)
        {
          for (size_t c = 0; c < g.columns; ++c)
          {
            const double dx = (static_cast<double>(c) - centreColumn) * g.columnSpacing / radiusXMm;
            const double dy = (static_cast<double>(r) - centreRow) * g.rowSpacing / radiusYMm;
            if (dx * dx + dy * dy + dz * dz <= 1)
            {
              hu[r * g.columns + c] = lesionHu;
            }
          }
        }
      }
      const SpineLayout after = findSpine(volume);
      ASSERT_EQ(after.vertebrae.size(), before.vertebrae.size()) << ct.folder << ", lesion of " << lesionHu << " HU";
      for (size_t v = 0; v < after.vertebrae.size(); ++v)
      {
        EXPECT_EQ(after.vertebrae[v].level, before.vertebrae[v].level) << ct.folder << ", lesion of " << lesionHu << " HU";
        EXPECT_NEAR(static_cast<double>(after.vertebrae[v].firstSlice), static_cast<double>(before.vertebrae[v].firstSlice), 1.0)
          << ct.folder << " vertebra " << v << ", lesion of " << lesionHu << " HU";
        EXPECT_NEAR(static_cast<double>(after.vertebrae[v].lastSlice), static_cast<double>(before.vertebrae[v].lastSlice), 1.0)
          << ct.folder << " vertebra " << v << ", lesion of " << lesionHu << " HU";
      }
    }
  }


  INSTANTIATE_TEST_SUITE_P(
    Real, RealCtReference,
    ::testing::Values(
      // Discs at the middle of the body's depth on a sagittal reformat (docs/spine.md, "Real-CT
      // reference"); the upper thoracic ones are tilted by up to 8 mm from front to back, hence
      // the tolerance.
      // Levels at each body's middle: C7 has no rib, T1 carries the first (it turns forward
      // at once), rib pairs down to T11; only the top 3-4 mm of T12 are in view, not found.
      RealCt{"thorax-4dct", {100, 88, 72, 52, 32, 9, -12, -33, -56, -81, -105, -129}, 6,
             {{91, "C7"}, {75, "T1"}, {59.5, "T2"}, {42.5, "T3"}, {23.5, "T4"}, {0, "T5"}, {-21.5, "T6"}, {-45.5, "T7"},
              {-69.5, "T8"}, {-92.5, "T9"}, {-117.5, "T10"}, {-145.5, "T11"}},
             "first rib"},
      // C7 has no rib (its transverse processes only, z -413 to -429); the first ribs leave T1.
      RealCt{"chest-lidc-0314", {-429.5, -445.3, -460.3, -476.8, -494.8, -516, -534.5, -553.5, -576, -598, -622, -646}, 6,
             {{-421, "C7"}, {-437, "T1"}, {-453, "T2"}, {-468, "T3"}, {-486, "T4"}, {-505, "T5"}, {-525, "T6"},
              {-544, "T7"}, {-565, "T8"}, {-587, "T9"}, {-610, "T10"}, {-634, "T11"}, {-660, "T12"}},
             "first rib"},
      // 5 mm slices: the lumbar discs are plain, the thoracolumbar ones above -221 are not.
      // The last ribs leave T12 (z -193 to -221); five lumbar vertebrae follow, the iliac crests
      // appear beside L5 at the scan's lower end.
      RealCt{"abdomen-crlm-1006", {-346, -311, -281, -251, -221}, 6,
             {{-210, "T12"}, {-238, "L1"}, {-266, "L2"}, {-296, "L3"}, {-328, "L4"}},
             "last rib"}),
    realCtName);

  INSTANTIATE_TEST_SUITE_P(Real, RealCtWithLesion,
                           ::testing::Values(RealCt{"chest-lidc-0314", {}, 0, {}, ""},
                                             RealCt{"abdomen-crlm-1006", {}, 0, {}, ""}),
                           realCtName);
}
