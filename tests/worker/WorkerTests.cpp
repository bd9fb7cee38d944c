// SPDX-License-Identifier: GPL-3.0-or-later
// The worker on real phantom series (made at test time by make_phantoms.sh) and the tiny test
// model (made by tests/engine/make_test_models.py).

#include "worker/Worker.h"
#include "WorkerFixtures.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace spinemet
{
  namespace
  {
    using test::phantomFolder;
    using test::tinyEngine;

    std::string study(const std::string& name)
    {
      return phantomFolder(name);
    }

    std::shared_ptr<const SliceSource> source(const std::string& name)
    {
      return std::make_shared<FileSliceSource>(std::vector<std::string>{study(name)});
    }

    WorkerOptions smallBatches(size_t maxInFlight)
    {
      WorkerOptions options;
      options.maxInFlight = maxInFlight;
      options.cpuThreads = 2;
      options.batchSize = 8;
      options.cropChunk = 3;
      return options;
    }

    std::string why(const AnalysisOutcome& outcome)
    {
      return outcome.error ? outcome.error->what() : "";
    }

    // Collects outcomes; wait() returns them once `expected` have arrived.
    class Outcomes
    {
    public:
      std::function<void(AnalysisOutcome&&)> collector(const std::string& name)
      {
        return [this, name](AnalysisOutcome&& outcome) {
          std::lock_guard<std::mutex> lock(mutex_);
          ++calls_[name];
          outcomes_[name] = std::move(outcome);
          arrived_.notify_all();
        };
      }

      std::map<std::string, AnalysisOutcome> wait(size_t expected)
      {
        std::unique_lock<std::mutex> lock(mutex_);
        const bool all = arrived_.wait_for(lock, std::chrono::minutes(3), [&] { return outcomes_.size() >= expected; });
        EXPECT_TRUE(all) << "only " << outcomes_.size() << " of " << expected << " requests completed";
        return outcomes_;
      }

      int calls(const std::string& name)
      {
        std::lock_guard<std::mutex> lock(mutex_);
        return calls_[name];
      }

    private:
      std::mutex mutex_;
      std::condition_variable arrived_;
      std::map<std::string, AnalysisOutcome> outcomes_;
      std::map<std::string, int> calls_;
    };

    void expectSameResult(const AnalysisResult& a, const AnalysisResult& b, const std::string& name)
    {
      ASSERT_EQ(a.slices.size(), b.slices.size()) << name;
      ASSERT_EQ(a.vertebrae.size(), b.vertebrae.size()) << name;
      for (size_t i = 0; i < a.slices.size(); ++i)
      {
        EXPECT_EQ(a.slices[i].sliceIndex, b.slices[i].sliceIndex) << name;
        EXPECT_EQ(a.slices[i].vertebra, b.slices[i].vertebra) << name;
        for (size_t c = 0; c < 4; ++c)
        {
          // Batches differ in composition; LibTorch's CPU kernels give the same values to rounding.
          EXPECT_NEAR(a.slices[i].boneQuality[c], b.slices[i].boneQuality[c], 1e-5) << name << " slice " << i;
        }
        for (size_t c = 0; c < 3; ++c)
        {
          EXPECT_NEAR(a.slices[i].posterolateral[c], b.slices[i].posterolateral[c], 1e-5) << name << " slice " << i;
        }
      }
      for (size_t v = 0; v < a.vertebrae.size(); ++v)
      {
        EXPECT_EQ(a.vertebrae[v].boneQuality, b.vertebrae[v].boneQuality) << name << " vertebra " << v;
        EXPECT_EQ(a.vertebrae[v].posterolateral, b.vertebrae[v].posterolateral) << name << " vertebra " << v;
        EXPECT_EQ(a.vertebrae[v].keySlice, b.vertebrae[v].keySlice) << name << " vertebra " << v;
        EXPECT_NEAR(a.vertebrae[v].boneQualityProbability, b.vertebrae[v].boneQualityProbability, 1e-5) << name;
      }
    }
  }

  TEST(Worker, SeveralSeriesAtOnceGiveTheSameResultsAsOneAtATime)
  {
    const std::vector<std::string> names = {"large", "medium", "small"};
    std::map<std::string, AnalysisResult> alone;
    {
      WorkerOptions options;
      options.maxInFlight = 1;
      options.batchSize = 5;
      Worker oneAtATime(tinyEngine(), options);
      for (const auto& name : names)
      {
        AnalysisOutcome outcome = oneAtATime.analyse(source(name)).outcome.get();
        ASSERT_EQ(outcome.end(), AnalysisEnd::Done) << name << ": " << why(outcome);
        alone[name] = std::move(outcome.result);
        ASSERT_FALSE(alone[name].vertebrae.empty()) << name;
      }
    }

    Outcomes outcomes;
    std::map<std::string, std::vector<StageProgress>> progress;
    std::mutex progressMutex;
    {
      Worker worker(tinyEngine(), smallBatches(3));
      for (const auto& name : names)
      {
        worker.submit({source(name),
                       [&, name](const StageProgress& p) {
                         std::lock_guard<std::mutex> lock(progressMutex);
                         progress[name].push_back(p);
                       },
                       outcomes.collector(name)});
      }
      worker.shutdown(Worker::Shutdown::Finish);
    }
    const auto results = outcomes.wait(names.size());
    for (const auto& name : names)
    {
      const AnalysisOutcome& outcome = results.at(name);
      ASSERT_EQ(outcome.end(), AnalysisEnd::Done) << name << ": " << why(outcome);
      EXPECT_EQ(outcomes.calls(name), 1);
      expectSameResult(outcome.result, alone[name], name);
      const auto& fractions = progress[name];
      ASSERT_FALSE(fractions.empty());
      EXPECT_TRUE(std::is_sorted(fractions.begin(), fractions.end())) << name;
      EXPECT_EQ(fractions.back().stage, Stage::Classify) << name;
      EXPECT_DOUBLE_EQ(fractions.back().fraction, 1.0) << name;
    }
  }

  TEST(Worker, BackPressureHoldsTheInFlightLimit)
  {
    Outcomes outcomes;
    // A request runs from its first onProgress to the start of its onDone; all of this bookkeeping
    // under one mutex, so that `running` is exactly the number of requests in that span.
    std::mutex runningMutex;
    int running = 0;
    int mostRunning = 0;
    std::map<std::string, bool> started;
    std::map<std::string, bool> done;
    std::vector<std::string> progressAfterDone;
    Worker worker(tinyEngine(), smallBatches(2));

    auto request = [&](const std::string& label, const std::string& series) {
      auto inner = outcomes.collector(label);
      AnalysisRequest r;
      r.source = source(series);
      r.onProgress = [&, label](const StageProgress&) {
        std::lock_guard<std::mutex> lock(runningMutex);
        if (done[label])
        {
          progressAfterDone.push_back(label);
        }
        else if (!started[label])
        {
          started[label] = true;
          mostRunning = std::max(mostRunning, ++running);
        }
      };
      r.onDone = [&, label, inner](AnalysisOutcome&& outcome) {
        {
          std::lock_guard<std::mutex> lock(runningMutex);
          done[label] = true;
          running -= started[label] ? 1 : 0;
        }
        inner(std::move(outcome));
      };
      return r;
    };

    AnalysisRequest first = request("a", "large");
    AnalysisRequest second = request("b", "medium");
    AnalysisRequest third = request("c", "small");
    ASSERT_TRUE(worker.trySubmit(first).has_value());
    ASSERT_TRUE(worker.trySubmit(second).has_value());
    EXPECT_LE(worker.inFlight(), 2u);
    EXPECT_FALSE(worker.trySubmit(third).has_value()) << "a third series was admitted over the limit of 2";
    EXPECT_TRUE(static_cast<bool>(third.onDone)) << "a refused request must be left untouched";

    // Blocking submissions from another thread wait for slots.
    std::thread submitter([&] {
      worker.submit(std::move(third));
      worker.submit(request("d", "small"));
      worker.submit(request("e", "medium"));
    });
    submitter.join();
    const auto results = outcomes.wait(5);
    for (const auto& item : results)
    {
      EXPECT_EQ(item.second.end(), AnalysisEnd::Done) << item.first << ": " << why(item.second);
    }
    worker.shutdown(Worker::Shutdown::Finish);     // returns once every slot is free
    EXPECT_EQ(worker.inFlight(), 0u);
    std::lock_guard<std::mutex> lock(runningMutex);
    EXPECT_LE(mostRunning, 2);
    EXPECT_GE(mostRunning, 1);
    EXPECT_TRUE(progressAfterDone.empty()) << "onProgress after onDone for " << progressAfterDone.front();
  }

  TEST(Worker, ACancelledRequestStops)
  {
    Outcomes outcomes;
    Worker worker(tinyEngine(), smallBatches(2));

    // Cancelled while the model classifies its slices (a tenth of them done), from its own callback.
    std::atomic<Worker::RequestId> classifyingId{0};
    std::atomic<bool> cancelled{false};
    std::atomic<double> lastProgress{0};
    AnalysisRequest classifying;
    classifying.source = source("large");
    classifying.onProgress = [&](const StageProgress& p) {
      lastProgress = overallFraction(p);
      if (p.stage == Stage::Classify && p.fraction > 0.1 && !cancelled.exchange(true))
      {
        while (classifyingId == 0)
        {
          std::this_thread::yield();
        }
        worker.cancel(classifyingId);
      }
    };
    classifying.onDone = outcomes.collector("classifying");
    classifyingId = worker.submit(std::move(classifying));

    // Cancelled at once (while it is being read).
    const auto readingId = worker.submit({source("medium"), {}, outcomes.collector("reading")});
    EXPECT_TRUE(worker.cancel(readingId));

    const auto results = outcomes.wait(2);
    EXPECT_EQ(results.at("reading").end(), AnalysisEnd::Cancelled);
    ASSERT_TRUE(results.at("reading").error.has_value());
    EXPECT_EQ(results.at("reading").error->code(), "cancelled");
    EXPECT_EQ(results.at("classifying").end(), AnalysisEnd::Cancelled);
    EXPECT_TRUE(cancelled.load());
    EXPECT_LT(lastProgress.load(), overallFraction({Stage::Classify, 1.0}));
    EXPECT_FALSE(worker.cancel(readingId)) << "a completed request cannot be cancelled again";
    EXPECT_FALSE(worker.cancel(987654));
  }

  TEST(Worker, ShutdownUnderLoadReturnsAndCompletesEveryRequestOnce)
  {
    Outcomes outcomes;
    const std::vector<std::string> names = {"large", "medium", "small"};
    auto worker = std::make_unique<Worker>(tinyEngine(), smallBatches(3));
    for (const auto& name : names)
    {
      worker->submit({source(name), {}, outcomes.collector(name)});
    }
    auto stopped = std::async(std::launch::async, [&] { worker->shutdown(Worker::Shutdown::Abandon); });
    ASSERT_EQ(stopped.wait_for(std::chrono::minutes(2)), std::future_status::ready) << "shutdown hangs";
    const auto results = outcomes.wait(names.size());
    for (const auto& name : names)
    {
      EXPECT_EQ(outcomes.calls(name), 1) << name;
      const auto status = results.at(name).end();
      EXPECT_TRUE(status == AnalysisEnd::Cancelled || status == AnalysisEnd::Done) << name;
    }
    EXPECT_THROW(worker->submit({source("small"), {}, outcomes.collector("late")}), std::logic_error);
    worker.reset();   // a second shutdown (the destructor's) returns at once
  }

  TEST(Worker, BadInputFailsWithItsCodeAndTheWorkerGoesOn)
  {
    Outcomes outcomes;
    Worker worker(tinyEngine(), smallBatches(2));
    worker.submit({source("not-dicom/IM0001.dcm"), {}, outcomes.collector("bad")});
    AnalysisRequest good{source("small"), {}, outcomes.collector("good")};
    good.keepSeries = true;
    worker.submit(std::move(good));
    const auto results = outcomes.wait(2);
    const AnalysisOutcome& bad = results.at("bad");
    EXPECT_EQ(bad.end(), AnalysisEnd::Failed);
    ASSERT_TRUE(bad.error.has_value());
    EXPECT_FALSE(bad.error->code().empty());
    EXPECT_NE(bad.error->code(), "internal");
    EXPECT_NE(std::string(bad.error->what()).find("IM0001.dcm"), std::string::npos) << why(bad);

    const AnalysisOutcome& ok = results.at("good");
    ASSERT_EQ(ok.end(), AnalysisEnd::Done) << why(ok);
    ASSERT_TRUE(ok.series != nullptr);
    EXPECT_EQ(ok.series->volume.sliceCount(), ok.result.geometry.slices);
  }

  TEST(Worker, RefusesARequestWithoutSourceOrCallback)
  {
    Worker worker(tinyEngine(), smallBatches(1));
    EXPECT_THROW(worker.submit({nullptr, {}, [](AnalysisOutcome&&) {}}), std::invalid_argument);
    EXPECT_THROW(worker.submit({source("small"), {}, {}}), std::invalid_argument);
  }
}
