// SPDX-License-Identifier: GPL-3.0-or-later
// One series through the worker, its only driver (Worker::analyse, as the command-line tool runs
// it), on phantom series: the result is consistent with the series and the spine.

#include "worker/Worker.h"
#include "WorkerFixtures.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>

namespace spinemet
{
  namespace
  {
    using test::phantomFolder;
    using test::tinyEngine;

    WorkerOptions oneSeries(size_t batchSize = 16)
    {
      WorkerOptions options;
      options.maxInFlight = 1;
      options.cpuThreads = 1;
      options.batchSize = batchSize;
      return options;
    }

    // The outcome's error as the exception the stages threw (as the command-line tool does).
    AnalysisOutcome analysed(Worker& worker, const std::string& input, ProgressCallback progress = {},
                             bool keepSeries = false)
    {
      AnalysisOutcome outcome =
        worker.analyse(std::make_shared<FileSliceSource>(std::vector<std::string>{input}), std::move(progress),
                       keepSeries).outcome.get();
      if (outcome.error)
      {
        throw *outcome.error;
      }
      return outcome;
    }
  }

  TEST(Pipeline, AnalysesAPhantomSeries)
  {
    Worker worker(tinyEngine(), oneSeries());
    std::vector<StageProgress> progress;
    const AnalysisOutcome outcome =
      analysed(worker, phantomFolder("medium"), [&](const StageProgress& p) { progress.push_back(p); }, true);
    const AnalysisResult& result = outcome.result;
    ASSERT_TRUE(outcome.series != nullptr);
    const Series& series = *outcome.series;

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
    EXPECT_EQ(progress.front().stage, Stage::Read);
    EXPECT_EQ(progress.back().stage, Stage::Classify);
    EXPECT_DOUBLE_EQ(progress.back().fraction, 1.0);
  }

  TEST(Pipeline, BatchSizeDoesNotChangeTheResult)
  {
    Worker one(tinyEngine(), oneSeries(1));
    Worker many(tinyEngine(), oneSeries(64));
    const AnalysisResult a = analysed(one, phantomFolder("small")).result;
    const AnalysisResult b = analysed(many, phantomFolder("small")).result;
    ASSERT_EQ(a.slices.size(), b.slices.size());
    for (size_t i = 0; i < a.slices.size(); ++i)
    {
      EXPECT_NEAR(a.slices[i].lytic, b.slices[i].lytic, 1e-5);
    }
  }

  TEST(Pipeline, StopsWhenAsked)
  {
    // Cancelled from its own progress callback after the third instance read: the worker stops at
    // its next check, between two instances.
    Worker worker(tinyEngine(), oneSeries());
    std::atomic<Worker::RequestId> id{0};
    int reports = 0;
    auto cancelAfterThree = [&](const StageProgress&) {
      if (++reports == 3)
      {
        while (id == 0)
        {
          std::this_thread::yield();
        }
        worker.cancel(id);
      }
    };
    Worker::Analysis analysis =
      worker.analyse(std::make_shared<FileSliceSource>(std::vector<std::string>{phantomFolder("small")}),
                     cancelAfterThree);
    id = analysis.id;
    const AnalysisOutcome outcome = analysis.outcome.get();
    try
    {
      if (outcome.error)
      {
        throw *outcome.error;
      }
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
    Worker worker(tinyEngine(), oneSeries());
    try
    {
      analysed(worker, file);
      FAIL() << "a text file was analysed";
    }
    catch (const AnalysisError& error)
    {
      EXPECT_NE(std::string(error.what()).find(file), std::string::npos) << error.what();
    }
  }
}
