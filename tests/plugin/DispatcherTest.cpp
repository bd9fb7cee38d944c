// SPDX-License-Identifier: GPL-3.0-or-later
// The plugin's Dispatcher without Orthanc: the real Dispatcher, the real Worker with the tiny test
// model (tests/engine/make_test_models.py), a real SQLite queue, on phantom series made at test time
// (tests/worker/make_phantoms.sh). Only Orthanc itself is replaced: FolderHost is the AnalysisHost
// whose "storage" is a folder per series and whose "job list" keeps the progress objects.

#include "Dispatcher.h"
#include "SqliteAnalysisQueue.h"
#include "engine/Engine.h"
#include "WorkerFixtures.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace spinemet
{
  namespace
  {
    using test::phantomFolder;
    using test::tinyEngine;

    const char* const NODE = "test-node";
    const char* const MODEL = "tiny 1";

    // The DICOM files of a phantom folder, as the volume loader picks them (not its ground truth).
    std::vector<std::string> instancesOf(const std::string& folder)
    {
      FileSliceSource files({folder});
      std::vector<std::string> paths;
      for (size_t i = 0; i < files.count(); i++) paths.push_back(files.describe(i));
      return paths;
    }

    // Where Orthanc would be: series are folders (or files) of DICOM, outputs are remembered, a test can
    // hold the dispatcher at one of its named points (as SPINEMET_TEST_HOLD_AT does in Orthanc).
    class FolderHost : public AnalysisHost
    {
    public:
      void addSeries(const std::string& series, const std::string& folder) { folders_[series] = folder; }

      // The next time the dispatcher reaches `point`, it waits there until release().
      void holdAt(const std::string& point)
      {
        std::lock_guard<std::mutex> lock(mutex_);
        holdPoint_ = point;
        held_.clear();
        released_ = false;
      }

      // The series held at the point, once the dispatcher has got there; empty after `limit`.
      std::string waitUntilHeld(std::chrono::seconds limit = std::chrono::seconds(120))
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait_for(lock, limit, [this] { return !held_.empty(); });
        return held_;
      }

      void release()
      {
        {
          std::lock_guard<std::mutex> lock(mutex_);
          released_ = true;
          holdPoint_.clear();
        }
        changed_.notify_all();
      }

      // The next `count` stores are refused as Orthanc refuses a store it cannot do now.
      void refuseStores(int count) { std::lock_guard<std::mutex> lock(mutex_); refusedStores_ = count; }

      std::map<std::string, AnalysisResult> stored()
      {
        std::lock_guard<std::mutex> lock(mutex_);
        return stored_;
      }

      std::vector<std::shared_ptr<AnalysisProgress>> shown()
      {
        std::lock_guard<std::mutex> lock(mutex_);
        return shown_;
      }

      std::string logText()
      {
        std::lock_guard<std::mutex> lock(mutex_);
        std::string text;
        for (const std::string& line : log_) text += line + "\n";
        return text;
      }

      void log(LogLevel, const std::string& message) override
      {
        std::lock_guard<std::mutex> lock(mutex_);
        log_.push_back(message);
      }

      // The tests put their series into the queue themselves: no change log to follow.
      void beginChangeRun(double) override {}
      void followChangeLog(const std::function<bool()>&) override {}
      void admitInterruptedArrivals() override {}

      HostSeries openSeries(const std::string& series) override
      {
        auto found = folders_.find(series);
        if (found == folders_.end())
        {
          throw AnalysisError("series-deleted", "the test host no longer has series " + series);
        }
        HostSeries opened;
        opened.instanceIds = instancesOf(found->second);
        opened.source = std::make_shared<FileSliceSource>(opened.instanceIds);
        return opened;
      }

      bool needsSeries() const override { return true; }

      std::vector<std::string> storeOutputs(const AnalysisRecord& record, const AnalysisResult& result,
                                            const Series& series, const std::function<bool()>& shouldStop) override
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (refusedStores_ > 0)
        {
          --refusedStores_;
          throw AnalysisError("store", "the test host refused the SR of series " + record.series);
        }
        if (shouldStop())
        {
          throw AnalysisError("cancelled", "stopped before the outputs were stored");
        }
        EXPECT_EQ(series.volume.sliceCount(), result.geometry.slices) << "the loaded series is handed over";
        stored_[record.series] = result;
        return {"sr-of-" + record.series};
      }

      void showAnalysis(const std::shared_ptr<AnalysisProgress>& progress) override
      {
        std::lock_guard<std::mutex> lock(mutex_);
        shown_.push_back(progress);
      }

      void publishQueueFigures(const std::map<AnalysisState, uint64_t>&, size_t) override {}
      void publishAnalysisFigures(double, uint64_t, bool) override {}

      void reached(const char* point, const std::string& series) override
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (holdPoint_ != point || !held_.empty())
        {
          return;
        }
        held_ = series;
        changed_.notify_all();
        changed_.wait_for(lock, std::chrono::minutes(5), [this] { return released_; });
      }

    private:
      std::map<std::string, std::string> folders_;
      std::mutex mutex_;
      std::condition_variable changed_;
      std::string holdPoint_;
      std::string held_;
      bool released_ = false;
      int refusedStores_ = 0;
      std::map<std::string, AnalysisResult> stored_;
      std::vector<std::shared_ptr<AnalysisProgress>> shown_;
      std::vector<std::string> log_;
    };

    class DispatcherTest : public ::testing::Test
    {
    protected:
      void SetUp() override
      {
        std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        path_ = std::filesystem::temp_directory_path() /
          ("spinemet-dispatcher-test-" + std::to_string(::getpid()) + "-" + name + ".sqlite");
        removeFiles();
        configuration_.nodeName = NODE;
        configuration_.volumesInFlight = 1;
        configuration_.batchSize = 8;
        configuration_.maximumAttempts = 3;
        policy_.retryDelaySeconds = 0;            // a retry is claimable at once
        host_.addSeries("small", phantomFolder("small"));
        host_.addSeries("medium", phantomFolder("medium"));
        host_.addSeries("not-dicom", phantomFolder("not-dicom/IM0001.dcm"));
      }

      void TearDown() override
      {
        host_.release();
        dispatcher_.reset();
        queue_.reset();
        removeFiles();
      }

      void removeFiles()
      {
        for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_.string() + suffix);
      }

      AnalysisQueue& queue()
      {
        if (!queue_) queue_ = std::make_unique<SqliteAnalysisQueue>(path_.string(), policy_);
        return *queue_;
      }

      void enqueue(const std::string& series)
      {
        EnqueueRequest request;
        request.series = series;
        request.study = "study-of-" + series;
        request.key = {"wanted-" + series, MODEL};
        request.trigger = "manual";
        ASSERT_EQ(queue().enqueue(request), EnqueueOutcome::Queued);
      }

      Dispatcher& start()
      {
        dispatcher_ = std::make_unique<Dispatcher>(configuration_, queue(), host_, tinyEngine());
        dispatcher_->start();
        return *dispatcher_;
      }

      // The series' row once `done` says so; the last row seen after two minutes (a bound for a
      // stuck test, not a timing assertion).
      AnalysisRecord waitForRow(const std::string& series, const std::function<bool(const AnalysisRecord&)>& done)
      {
        const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(2);
        AnalysisRecord row;
        while (std::chrono::steady_clock::now() < until)
        {
          std::optional<AnalysisRecord> found = queue().find(series);
          if (found)
          {
            row = *found;
            if (done(row)) break;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return row;
      }

      AnalysisRecord waitForState(const std::string& series, AnalysisState state)
      {
        return waitForRow(series, [state](const AnalysisRecord& row) { return row.state == state; });
      }

      std::shared_ptr<AnalysisProgress> lastShown()
      {
        std::vector<std::shared_ptr<AnalysisProgress>> shown = host_.shown();
        return shown.empty() ? nullptr : shown.back();
      }

      PluginConfiguration configuration_;
      QueuePolicy policy_;
      FolderHost host_;
      std::filesystem::path path_;
      std::unique_ptr<AnalysisQueue> queue_;
      std::unique_ptr<Dispatcher> dispatcher_;     // after the queue and the host: stopped first
    };
  }

  TEST_F(DispatcherTest, QueuedSeriesIsClaimedAnalysedAndFinished)
  {
    enqueue("small");
    start();
    const AnalysisRecord row = waitForState("small", AnalysisState::Done);
    ASSERT_EQ(row.state, AnalysisState::Done) << row.errorCode << " " << row.message << "\n" << host_.logText();
    EXPECT_EQ(row.node, NODE);
    EXPECT_EQ(host_.shown().size(), 1u) << "one job, one attempt";
    EXPECT_EQ(row.outputs, std::vector<std::string>{"sr-of-small"});
    EXPECT_EQ(row.analysed.fingerprint, instancesFingerprint(instancesOf(phantomFolder("small"))));
    EXPECT_EQ(row.analysed.modelVersion, MODEL);
    EXPECT_GT(row.seconds, 0);
    for (const char* stage : {"read", "spine", "classify", "write"})
    {
      EXPECT_EQ(row.stageSeconds.count(stage), 1u) << stage;
    }

    const std::map<std::string, AnalysisResult> stored = host_.stored();
    ASSERT_EQ(stored.count("small"), 1u);
    EXPECT_EQ(stored.at("small").geometry.slices, row.slices);
    EXPECT_GT(row.slices, 0u);
    EXPECT_FALSE(stored.at("small").vertebrae.empty());

    std::shared_ptr<AnalysisProgress> progress = lastShown();
    ASSERT_TRUE(progress != nullptr);
    ASSERT_TRUE(progress->waitForEnd(std::chrono::seconds(10)));
    EXPECT_EQ(progress->outcome(), AnalysisEnd::Done);
    EXPECT_FLOAT_EQ(progress->progress(), 1.0f);
    // The entry goes just after the progress ends (on the dispatcher thread).
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (dispatcher_->progressOf("small") != nullptr && std::chrono::steady_clock::now() < until)
    {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(dispatcher_->progressOf("small") == nullptr) << "nothing is left running";
  }

  TEST_F(DispatcherTest, FailureReasonReachesTheQueueRow)
  {
    enqueue("not-dicom");
    enqueue("gone");                             // queued, then deleted from the host before its turn
    start();

    const AnalysisRecord bad = waitForState("not-dicom", AnalysisState::Failed);
    ASSERT_EQ(bad.state, AnalysisState::Failed) << host_.logText();
    EXPECT_FALSE(bad.errorCode.empty());
    EXPECT_NE(bad.errorCode, "internal");
    EXPECT_NE(bad.message.find("IM0001.dcm"), std::string::npos) << bad.message;
    EXPECT_EQ(bad.retries, 0) << "a failure of the series itself is not retried";

    const AnalysisRecord gone = waitForState("gone", AnalysisState::Failed);
    ASSERT_EQ(gone.state, AnalysisState::Failed) << host_.logText();
    EXPECT_EQ(gone.errorCode, "series-deleted");
    EXPECT_NE(gone.message.find("gone"), std::string::npos) << gone.message;
    EXPECT_TRUE(host_.stored().empty());
  }

  TEST_F(DispatcherTest, RefusedStoreIsRetriedAndTheFailureKept)
  {
    host_.refuseStores(1);
    enqueue("small");
    start();
    const AnalysisRecord row = waitForState("small", AnalysisState::Done);
    ASSERT_EQ(row.state, AnalysisState::Done) << row.errorCode << " " << row.message << "\n" << host_.logText();
    EXPECT_EQ(row.retries, 1);
    EXPECT_NE(row.lastFailure.find("[store] the test host refused the SR"), std::string::npos) << row.lastFailure;
    EXPECT_EQ(host_.shown().size(), 2u) << "one job per attempt";
  }

  TEST_F(DispatcherTest, CancelStopsARunningAnalysisAndAQueuedOne)
  {
    enqueue("small");
    enqueue("medium");                           // VolumesInFlight 1: one waits behind the other
    host_.holdAt("analysing");
    Dispatcher& dispatcher = start();
    const std::string running = host_.waitUntilHeld();
    ASSERT_FALSE(running.empty()) << host_.logText();
    const std::string queued = running == "small" ? "medium" : "small";

    EXPECT_TRUE(dispatcher.cancel(queued));
    EXPECT_TRUE(dispatcher.cancel(running));
    EXPECT_FALSE(dispatcher.cancel("never-queued"));
    host_.release();

    const AnalysisRecord cancelledRunning = waitForState(running, AnalysisState::Cancelled);
    ASSERT_EQ(cancelledRunning.state, AnalysisState::Cancelled) << cancelledRunning.errorCode << "\n" << host_.logText();
    EXPECT_EQ(cancelledRunning.errorCode, "cancelled");
    const AnalysisRecord cancelledQueued = waitForState(queued, AnalysisState::Cancelled);
    EXPECT_EQ(cancelledQueued.state, AnalysisState::Cancelled);
    EXPECT_EQ(cancelledQueued.attempts, 0) << "never claimed";
    EXPECT_TRUE(host_.stored().empty());

    ASSERT_EQ(host_.shown().size(), 1u) << "the queued one never became a job";
    std::shared_ptr<AnalysisProgress> progress = lastShown();
    ASSERT_TRUE(progress->waitForEnd(std::chrono::seconds(10)));
    EXPECT_EQ(progress->series(), running);
    EXPECT_EQ(progress->outcome(), AnalysisEnd::Cancelled);
  }

  TEST_F(DispatcherTest, WatchdogStopsAnAnalysisPastItsDeadline)
  {
    configuration_.analysisTimeoutSeconds = 1;
    enqueue("small");
    host_.holdAt("analysing");
    Dispatcher& dispatcher = start();
    ASSERT_EQ(host_.waitUntilHeld(), "small");
    // Held until the deadline is past, whether or not the worker has finished meanwhile.
    std::shared_ptr<AnalysisProgress> progress = dispatcher.progressOf("small");
    ASSERT_TRUE(progress != nullptr);
    ASSERT_TRUE(progress->deadline().has_value()) << "the watchdog's clock runs from the worker's admission";
    std::this_thread::sleep_until(*progress->deadline() + std::chrono::milliseconds(50));
    host_.release();

    const AnalysisRecord row = waitForRow("small", [](const AnalysisRecord& row) {
      return row.state != AnalysisState::Running && row.state != AnalysisState::Queued;
    });
    ASSERT_EQ(row.state, AnalysisState::Failed) << row.errorCode << "\n" << host_.logText();
    EXPECT_EQ(row.errorCode, "timeout");
    EXPECT_NE(row.message.find("AnalysisTimeout"), std::string::npos) << row.message;
    EXPECT_EQ(row.retries, 0) << "a timeout is final";
    EXPECT_TRUE(host_.stored().empty()) << "no outputs of a stopped analysis";
    ASSERT_TRUE(progress->waitForEnd(std::chrono::seconds(10)));
    EXPECT_EQ(progress->outcome(), AnalysisEnd::Failed);
    EXPECT_NE(progress->message().find("[timeout]"), std::string::npos) << progress->message();
  }

  TEST_F(DispatcherTest, ShutdownWithAnAnalysisInFlightLeavesItsRowToBeClaimedAgain)
  {
    enqueue("small");
    host_.holdAt("analysing");
    Dispatcher& dispatcher = start();
    ASSERT_EQ(host_.waitUntilHeld(), "small");
    std::shared_ptr<AnalysisProgress> progress = dispatcher.progressOf("small");
    ASSERT_TRUE(progress != nullptr);

    // Orthanc stops while the series is in the worker.
    std::thread stopping([&dispatcher] { dispatcher.stop(); });
    const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (!progress->shutdownRequested() && std::chrono::steady_clock::now() < until)
    {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(progress->shutdownRequested());
    host_.release();
    stopping.join();

    AnalysisRecord row = *queue().find("small");
    EXPECT_EQ(row.state, AnalysisState::Running) << "left for the next start of this node";
    EXPECT_EQ(row.node, NODE);
    EXPECT_TRUE(host_.stored().empty());
    EXPECT_EQ(progress->outcome(), AnalysisEnd::Interrupted);

    // The next start of the node (a new process: a new queue connection and dispatcher) runs it.
    dispatcher_.reset();
    queue_.reset();
    start();
    row = waitForState("small", AnalysisState::Done);
    ASSERT_EQ(row.state, AnalysisState::Done) << row.errorCode << " " << row.message << "\n" << host_.logText();
    EXPECT_EQ(host_.shown().size(), 2u) << "the interrupted attempt and the one after the restart";
    EXPECT_EQ(host_.stored().count("small"), 1u);
  }
}
