// SPDX-License-Identifier: GPL-3.0-or-later
// analyseSeries on phantom series: the result is consistent with the series and the spine.

#include "worker/Pipeline.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace spinemet
{
  namespace
  {
    // Where the test fixtures write (tests/worker/CMakeLists.txt).
    std::string phantomFolder(const std::string& name)
    {
      return std::string(SPINEMET_WORKER_PHANTOMS) + "/" + name;
    }

    std::shared_ptr<Engine> tinyEngine()
    {
      EngineOptions options;
      options.device = "cpu";
      options.threads = 1;
      return Engine::load(std::string(SPINEMET_ENGINE_MODELS) + "/tiny.pt", options);
    }
  }

  TEST(Pipeline, AnalysesAPhantomSeries)
  {
    const FileSliceSource source({phantomFolder("medium")});
    auto engine = tinyEngine();
    std::vector<double> progress;
    Series series;
    const AnalysisResult result = analyseSeries(source, *engine, {}, [&](double f) { progress.push_back(f); }, {},
                                                &series);

    EXPECT_EQ(result.model.name, "spinemet-tiny-test");
    EXPECT_EQ(result.series.modality, "CT");
    EXPECT_EQ(result.geometry.slices, series.volume.sliceCount());
    ASSERT_FALSE(result.vertebrae.empty());
    ASSERT_FALSE(result.slices.empty());
    for (size_t i = 0; i < result.slices.size(); ++i)
    {
      const SliceResult& slice = result.slices[i];
      EXPECT_EQ(slice.sopInstanceUid, series.slices.at(slice.sliceIndex).sopInstanceUid);
      ASSERT_GE(slice.vertebra, 0);
      ASSERT_LT(static_cast<size_t>(slice.vertebra), result.vertebrae.size());
      float sum = 0;
      for (float p : slice.boneQuality)
      {
        sum += p;
      }
      EXPECT_NEAR(sum, 1.0f, 1e-5);
    }
    for (const VertebraResult& v : result.vertebrae)
    {
      EXPECT_LE(v.firstSlice, v.keySlice);
      EXPECT_LE(v.keySlice, v.lastSlice);
      EXPECT_EQ(v.keySliceSopInstanceUid, series.slices.at(v.keySlice).sopInstanceUid);
      ASSERT_EQ(v.keySliceOutline.size(), 5u);
      EXPECT_EQ(v.keySliceOutline.front(), v.keySliceOutline.back());
      EXPECT_LT(v.keySliceOutline[0][0], v.keySliceOutline[1][0]);
      EXPECT_EQ(v.sinsBoneLesion, sinsBoneLesionScore(v.boneQuality));
      EXPECT_FALSE(v.displayName.empty());
    }
    ASSERT_FALSE(progress.empty());
    EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
    EXPECT_DOUBLE_EQ(progress.back(), 1.0);
  }

  TEST(Pipeline, BatchSizeDoesNotChangeTheResult)
  {
    const FileSliceSource source({phantomFolder("small")});
    auto engine = tinyEngine();
    PipelineOptions one;
    one.batchSize = 1;
    PipelineOptions many;
    many.batchSize = 64;
    const AnalysisResult a = analyseSeries(source, *engine, one);
    const AnalysisResult b = analyseSeries(source, *engine, many);
    ASSERT_EQ(a.slices.size(), b.slices.size());
    for (size_t i = 0; i < a.slices.size(); ++i)
    {
      EXPECT_NEAR(a.slices[i].lytic, b.slices[i].lytic, 1e-5);
    }
  }

  TEST(Pipeline, StopsWhenAsked)
  {
    const FileSliceSource source({phantomFolder("small")});
    auto engine = tinyEngine();
    int checks = 0;
    try
    {
      analyseSeries(source, *engine, {}, {}, [&] { return ++checks > 3; });
      FAIL() << "not stopped";
    }
    catch (const AnalysisError& error)
    {
      EXPECT_EQ(error.code(), "cancelled");
      EXPECT_NE(std::string(error.what()).find("reading instance"), std::string::npos) << error.what();
    }
  }

  TEST(Pipeline, BadInputIsAnAnalysisError)
  {
    const std::string file = phantomFolder("not-dicom/IM0001.dcm");
    const FileSliceSource source({file});
    auto engine = tinyEngine();
    try
    {
      analyseSeries(source, *engine);
      FAIL() << "a text file was analysed";
    }
    catch (const AnalysisError& error)
    {
      EXPECT_NE(std::string(error.what()).find(file), std::string::npos) << error.what();
    }
  }
}
