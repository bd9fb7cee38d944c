// SPDX-License-Identifier: GPL-3.0-or-later
// The spine finder on the real CTs of ../shared/testdata/real-ct (docs/spine.md, "Real-CT
// reference"): every vertebra in view found, no stretch of the column left without one. These
// series stay outside the repository; where the folder is absent the tests say so and are
// skipped, never passed silently.

#include "spine/Spine.h"
#include "volume/SeriesLoader.h"

#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

namespace spinemet
{
  namespace
  {
    struct RealCt
    {
      std::string folder;
      // Discs read on a sagittal reformat (docs/spine.md), in patient z (mm): the part of the
      // reference the finder is held to today. Each must fall inside the gap between two found
      // vertebrae, give or take `toleranceMm`.
      std::vector<double> discsZ;
      double toleranceMm;
    };

    void PrintTo(const RealCt& ct, std::ostream* stream)
    {
      *stream << ct.folder;
    }

    std::filesystem::path realCtFolder()
    {
      return std::filesystem::path(SPINEMET_TESTDATA_DIR) / "real-ct";
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

    class SpineOnRealCt : public ::testing::TestWithParam<RealCt>
    {
    };
  }


  TEST_P(SpineOnRealCt, EveryStretchOfTheColumnIsAVertebraOrADisc)
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

    // Each disc of the reference lies between two found vertebrae.
    for (double discZ : ct.discsZ)
    {
      bool between = false;
      for (size_t v = 0; v + 1 < layout.vertebrae.size(); ++v)
      {
        // Vertebrae are cranial first; their slice ranges follow the volume (caudal first).
        const Vertebra& upper = layout.vertebrae[v];
        const Vertebra& lower = layout.vertebrae[v + 1];
        const double upperBottom = std::min(series.slices[upper.firstSlice].position, series.slices[upper.lastSlice].position);
        const double lowerTop = std::max(series.slices[lower.firstSlice].position, series.slices[lower.lastSlice].position);
        between = between || (discZ <= upperBottom + ct.toleranceMm && discZ >= lowerTop - ct.toleranceMm);
      }
      EXPECT_TRUE(between) << ct.folder << ": no boundary between found vertebrae at the disc at z " << discZ;
    }
  }


  INSTANTIATE_TEST_SUITE_P(
    Real, SpineOnRealCt,
    ::testing::Values(
      // T3/T4 down to T10/T11 (docs/spine.md); above T4 the upper thoracic discs are not yet
      // found where they are.
      RealCt{"thorax-4dct", {31.5, 9, -12, -33, -56, -81, -105, -129}, 4},
      // Mid and lower thoracic discs, read at the body's centre (they are oblique).
      RealCt{"chest-lidc-0314", {-556, -577, -599, -622}, 5},
      RealCt{"abdomen-crlm-1006", {}, 5}),
    [](const ::testing::TestParamInfo<RealCt>& info) {
      std::string name = info.param.folder;
      for (char& c : name)
      {
        c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      }
      return name;
    });
}
