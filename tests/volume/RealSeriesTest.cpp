// SPDX-License-Identifier: GPL-3.0-or-later
// The real CT series in tests/data (copied from ../shared/testdata, licences in tests/data/README.md): their defects are found and told.
#include "SyntheticSeries.h"

#include "volume/SeriesLoader.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace spinemet::test
{
  namespace
  {
    bool contains(const std::string& text, const std::string& part)
    {
      return text.find(part) != std::string::npos;
    }

    bool anyContains(const std::vector<std::string>& texts, const std::string& part)
    {
      return std::any_of(texts.begin(), texts.end(), [&](const std::string& t) { return contains(t, part); });
    }
  }

  TEST(RealSeries, AbdomenGapsAndDuplicatedPosition)
  {
    const FileSliceSource source({(testDataFolder() / "real-ct" / "abdomen-gaps-duplicates").string()});
    ASSERT_EQ(source.count(), 11u);
    try
    {
      loadSeries(source);
      FAIL() << "a series with gaps was accepted";
    }
    catch (const SeriesRejected& rejected)
    {
      const std::string message = rejected.what();
      EXPECT_EQ(rejected.code(), "slice-gap") << message;
      // Slices at -352.5 and -245 mm are 107.5 mm apart where the median spacing is 32.5 mm.
      EXPECT_TRUE(contains(message, "107.5 mm between")) << message;
      EXPECT_TRUE(contains(message, "CT20.dcm at -352.5 mm and ")) << message;
      EXPECT_TRUE(contains(message, "median spacing is 32.5 mm")) << message;
      // CT26 and CT28 hold the same image at -90 mm under two SOP Instance UIDs: one is removed,
      // and the message says so.
      EXPECT_TRUE(anyContains(rejected.warnings(), "a duplicate of")) << message;
      EXPECT_TRUE(contains(message, "CT28.dcm, a duplicate of")) << message;
      EXPECT_TRUE(contains(message, "CT26.dcm at position -90 mm (identical pixel data)")) << message;
      const auto& problems = rejected.problems();
      EXPECT_TRUE(std::any_of(problems.begin(), problems.end(),
                              [](const SeriesProblem& p) { return p.code == "irregular-spacing"; }));
    }
  }

  TEST(RealSeries, HeadGantryTiltAndMixedThickness)
  {
    const FileSliceSource source({(testDataFolder() / "real-ct" / "head-gantry-tilt").string()});
    ASSERT_EQ(source.count(), 28u);
    try
    {
      loadSeries(source);
      FAIL() << "a tilted series was accepted";
    }
    catch (const SeriesRejected& rejected)
    {
      const std::string message = rejected.what();
      EXPECT_EQ(rejected.code(), "gantry-tilt") << message;
      EXPECT_TRUE(contains(message, "18.5 degrees off")) << message;
      EXPECT_TRUE(contains(message, "Gantry/Detector Tilt (0018,1120) is 18.5 degrees")) << message;
      EXPECT_TRUE(anyContains(rejected.warnings(), "Slice Thickness (0018,0050) varies")) << message;
      EXPECT_TRUE(contains(message, "4 mm (14 slices)")) << message;
      EXPECT_TRUE(contains(message, "7 mm (14 slices)")) << message;
    }
  }

  TEST(RealSeries, TiltedHeadLoadsWhenTheCallerAcceptsItsGeometry)
  {
    // How the pipeline gets this head CT as far as "no spine found": tilt and spacing accepted.
    LoadOptions options;
    options.acceptedProblems = {"gantry-tilt", "slice-gap", "irregular-spacing"};
    const Series series =
      loadSeries(FileSliceSource({(testDataFolder() / "real-ct" / "head-gantry-tilt").string()}), options);
    ASSERT_EQ(series.volume.sliceCount(), 28u);
    EXPECT_TRUE(anyContains(series.warnings, "Accepted gantry-tilt: Gantry tilt")) << series.warnings[0];
    EXPECT_TRUE(anyContains(series.warnings, "Accepted slice-gap"));
    EXPECT_TRUE(anyContains(series.warnings, "Slice Thickness (0018,0050) varies"));
    EXPECT_NEAR(series.slices.front().position, -33.67, 0.01);
    EXPECT_NEAR(series.slices.back().position, 110.42, 0.01);
    EXPECT_NEAR(series.slices[14].position - series.slices[13].position, 1.08, 0.01);   // exact, per slice

    LoadOptions gapsOnly;
    gapsOnly.acceptedProblems = {"slice-gap", "irregular-spacing"};
    const Series abdomen =
      loadSeries(FileSliceSource({(testDataFolder() / "real-ct" / "abdomen-gaps-duplicates").string()}), gapsOnly);
    EXPECT_EQ(abdomen.volume.sliceCount(), 10u);   // 11 files, one duplicate removed

    LoadOptions wrong;
    wrong.acceptedProblems = {"duplicate-position"};
    EXPECT_THROW(loadSeries(FileSliceSource({(testDataFolder() / "real-ct" / "abdomen-gaps-duplicates").string()}),
                            wrong),
                 std::invalid_argument);
  }
}
