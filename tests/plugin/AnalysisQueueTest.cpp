// SPDX-License-Identifier: GPL-3.0-or-later
#include "SqliteAnalysisQueue.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <memory>

namespace spinemet
{
  namespace
  {
    class AnalysisQueueTest : public ::testing::Test
    {
    protected:
      void SetUp() override
      {
        path_ = std::filesystem::temp_directory_path() /
          ("spinemet-queue-test-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".sqlite");
        removeFiles();
        queue_ = std::make_unique<SqliteAnalysisQueue>(path_.string());
      }

      void TearDown() override
      {
        queue_.reset();
        removeFiles();
      }

      void removeFiles()
      {
        for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_.string() + suffix);
      }

      // What a restart of Orthanc does to the queue: a new process opens the same file.
      void reopen()
      {
        queue_.reset();
        queue_ = std::make_unique<SqliteAnalysisQueue>(path_.string());
      }

      static EnqueueRequest request(const std::string& series, const std::string& fingerprint,
                                    const std::string& model = "demo 1")
      {
        EnqueueRequest request;
        request.series = series;
        request.study = "study-of-" + series;
        request.key = {fingerprint, model};
        request.trigger = "stable-series";
        return request;
      }

      static FinishedAnalysis finished(const std::string& fingerprint, const std::string& model = "demo 1",
                                       std::vector<std::string> outputs = {"sr-1", "sc-1"})
      {
        FinishedAnalysis finished;
        finished.claimed = {fingerprint, model};
        finished.analysed = {fingerprint, model};
        finished.outputs = std::move(outputs);
        finished.seconds = 2.5;
        finished.slices = 120;
        finished.stageSeconds = {{"read", 1.5}, {"classify", 0.75}};
        return finished;
      }

      std::filesystem::path path_;
      std::unique_ptr<SqliteAnalysisQueue> queue_;
    };
  }

  TEST_F(AnalysisQueueTest, ClaimsInArrivalOrderOnce)
  {
    EXPECT_EQ(queue_->enqueue(request("a", "f1")), EnqueueOutcome::Queued);
    EXPECT_EQ(queue_->enqueue(request("b", "f2")), EnqueueOutcome::Queued);

    std::optional<AnalysisRecord> first = queue_->claim("local");
    std::optional<AnalysisRecord> second = queue_->claim("local");
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->series, "a");
    EXPECT_EQ(second->series, "b");
    EXPECT_EQ(first->state, AnalysisState::Running);
    EXPECT_EQ(first->attempts, 1);
    EXPECT_EQ(first->wanted.fingerprint, "f1");
    EXPECT_FALSE(queue_->claim("local"));
  }

  TEST_F(AnalysisQueueTest, FinishedAnalysisKeepsItsOutputsAndFigures)
  {
    queue_->enqueue(request("a", "f1"));
    queue_->claim("local");
    queue_->finish("a", finished("f1"));

    std::optional<AnalysisRecord> record = queue_->find("a");
    ASSERT_TRUE(record);
    EXPECT_EQ(record->state, AnalysisState::Done);
    EXPECT_EQ(record->analysed.fingerprint, "f1");
    EXPECT_EQ(record->analysed.modelVersion, "demo 1");
    EXPECT_EQ(record->outputs, (std::vector<std::string>{"sr-1", "sc-1"}));
    EXPECT_EQ(record->slices, 120u);
    EXPECT_DOUBLE_EQ(record->seconds, 2.5);
    EXPECT_EQ(record->stageSeconds, (std::map<std::string, double>{{"classify", 0.75}, {"read", 1.5}}));
    EXPECT_GT(record->finishedAt, 0);
  }

  TEST_F(AnalysisQueueTest, SameInstancesAndModelAreNotAnalysedAgain)
  {
    queue_->enqueue(request("a", "f1"));
    queue_->claim("local");
    queue_->finish("a", finished("f1"));

    EXPECT_EQ(queue_->enqueue(request("a", "f1")), EnqueueOutcome::UpToDate);
    EXPECT_FALSE(queue_->claim("local"));
    EXPECT_EQ(queue_->find("a")->state, AnalysisState::Done);
  }

  TEST_F(AnalysisQueueTest, GrownSeriesOrNewModelIsAnalysedAgainKeepingOldOutputsToReplace)
  {
    queue_->enqueue(request("a", "f1"));
    queue_->claim("local");
    queue_->finish("a", finished("f1"));

    EXPECT_EQ(queue_->enqueue(request("a", "f2")), EnqueueOutcome::Queued);
    std::optional<AnalysisRecord> regrown = queue_->claim("local");
    ASSERT_TRUE(regrown);
    EXPECT_EQ(regrown->wanted.fingerprint, "f2");
    EXPECT_EQ(regrown->outputs, (std::vector<std::string>{"sr-1", "sc-1"}));   // to be replaced
    queue_->finish("a", finished("f2", "demo 1", {"sr-2"}));
    EXPECT_EQ(queue_->find("a")->outputs, std::vector<std::string>{"sr-2"});

    EXPECT_EQ(queue_->enqueue(request("a", "f2", "demo 2")), EnqueueOutcome::Queued);
  }

  TEST_F(AnalysisQueueTest, SeriesThatGrowsWhileRunningRunsAgainAfterwards)
  {
    queue_->enqueue(request("a", "f1"));
    queue_->claim("local");
    EXPECT_EQ(queue_->enqueue(request("a", "f1")), EnqueueOutcome::UpToDate);
    EXPECT_EQ(queue_->enqueue(request("a", "f2")), EnqueueOutcome::Pending);
    queue_->finish("a", finished("f1"));

    std::optional<AnalysisRecord> again = queue_->claim("local");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->wanted.fingerprint, "f2");
    EXPECT_EQ(again->analysed.fingerprint, "f1");
  }

  TEST_F(AnalysisQueueTest, ManualRequestWhileRunningRunsOnceMoreNotForever)
  {
    queue_->enqueue(request("a", "f1"));
    queue_->claim("local");
    EnqueueRequest manual = request("a", "f1");
    manual.force = true;
    EXPECT_EQ(queue_->enqueue(manual), EnqueueOutcome::Pending);
    queue_->finish("a", finished("f1"));

    std::optional<AnalysisRecord> again = queue_->claim("local");
    ASSERT_TRUE(again) << "the manual request runs after the running analysis";
    FinishedAnalysis second = finished("f1");
    second.claimed = again->wanted;
    queue_->finish("a", second);
    EXPECT_FALSE(queue_->claim("local")) << "and then the series is done, not queued again";
    EXPECT_EQ(queue_->enqueue(request("a", "f1")), EnqueueOutcome::UpToDate);
  }

  TEST_F(AnalysisQueueTest, InstanceDeletedDuringTheAnalysisDoesNotLoop)
  {
    queue_->enqueue(request("a", "f-with-x"));
    std::optional<AnalysisRecord> claimed = queue_->claim("local");
    FinishedAnalysis done = finished("f-without-x");
    done.claimed = claimed->wanted;
    queue_->finish("a", done);
    EXPECT_FALSE(queue_->claim("local"));
    EXPECT_EQ(queue_->enqueue(request("a", "f-without-x")), EnqueueOutcome::UpToDate);
  }

  TEST_F(AnalysisQueueTest, QueuedSeriesKeepsOnePlaceWhenItGrows)
  {
    queue_->enqueue(request("a", "f1"));
    queue_->enqueue(request("b", "g1"));
    EXPECT_EQ(queue_->enqueue(request("a", "f2")), EnqueueOutcome::Updated);
    EXPECT_EQ(queue_->countByState()[AnalysisState::Queued], 2u);
    std::optional<AnalysisRecord> first = queue_->claim("local");
    EXPECT_EQ(first->series, "a");
    EXPECT_EQ(first->wanted.fingerprint, "f2");
  }

  TEST_F(AnalysisQueueTest, ForcedRequestAnalysesAnUpToDateSeries)
  {
    queue_->enqueue(request("a", "f1"));
    queue_->claim("local");
    queue_->finish("a", finished("f1"));
    EnqueueRequest manual = request("a", "f1");
    manual.force = true;
    manual.trigger = "manual";
    EXPECT_EQ(queue_->enqueue(manual), EnqueueOutcome::Queued);
    EXPECT_EQ(queue_->claim("local")->trigger, "manual");
  }

  TEST_F(AnalysisQueueTest, QueuedAndRunningAnalysesSurviveARestartAndRunOnce)
  {
    queue_->enqueue(request("running", "f1"));
    queue_->enqueue(request("queued", "f2"));
    queue_->claim("local");
    queue_->setLastChange(42);

    reopen();   // as after kill -9: nothing was closed cleanly
    EXPECT_EQ(queue_->lastChange(), 42);
    EXPECT_EQ(queue_->find("running")->state, AnalysisState::Running);
    EXPECT_EQ(queue_->requeueInterrupted("local"), 1u);
    EXPECT_EQ(queue_->requeueInterrupted("local"), 0u);

    std::optional<AnalysisRecord> first = queue_->claim("local");
    std::optional<AnalysisRecord> second = queue_->claim("local");
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->series, "running");
    EXPECT_EQ(first->attempts, 2);             // restarts count towards MaximumAttempts
    EXPECT_EQ(second->series, "queued");
    EXPECT_FALSE(queue_->claim("local"));
  }

  TEST_F(AnalysisQueueTest, OtherNodesRunningAnalysesAreLeftAlone)
  {
    queue_->enqueue(request("a", "f1"));
    queue_->claim("node-1");
    EXPECT_EQ(queue_->requeueInterrupted("node-2"), 0u);
    EXPECT_EQ(queue_->find("a")->node, "node-1");
  }

  TEST_F(AnalysisQueueTest, FailureKeepsItsReasonAndIsNotRetriedForTheSameKey)
  {
    queue_->enqueue(request("a", "f1"));
    queue_->claim("local");
    queue_->end("a", {"f1", "demo 1"}, AnalysisError("no-spine", "no vertebra found in 40 slices"));
    std::optional<AnalysisRecord> failed = queue_->find("a");
    EXPECT_EQ(failed->state, AnalysisState::Failed);
    EXPECT_EQ(failed->errorCode, "no-spine");
    EXPECT_EQ(failed->message, "no vertebra found in 40 slices");
    EXPECT_EQ(queue_->enqueue(request("a", "f1")), EnqueueOutcome::UpToDate);
    EXPECT_EQ(queue_->enqueue(request("a", "f2")), EnqueueOutcome::Queued);
    EXPECT_EQ(queue_->find("a")->errorCode, "");
  }

  TEST_F(AnalysisQueueTest, SkippedAndCancelledSeriesAreRecordedWithTheirReason)
  {
    queue_->skip("mr", "s", "not-ct", "Modality is \"MR\"");
    EXPECT_EQ(queue_->find("mr")->state, AnalysisState::Skipped);
    EXPECT_EQ(queue_->find("mr")->errorCode, "not-ct");
    EXPECT_FALSE(queue_->claim("local"));

    queue_->enqueue(request("a", "f1"));
    EXPECT_TRUE(queue_->cancelQueued("a", "cancelled while queued"));
    EXPECT_EQ(queue_->find("a")->state, AnalysisState::Cancelled);
    EXPECT_FALSE(queue_->cancelQueued("a", "again"));
    EXPECT_FALSE(queue_->claim("local"));
    EXPECT_EQ(queue_->enqueue(request("a", "f1")), EnqueueOutcome::Queued);

    queue_->claim("local");
    EXPECT_FALSE(queue_->cancelQueued("a", "running: the dispatcher cancels the run itself"));
    queue_->end("a", {"f1", "demo 1"}, AnalysisError("cancelled", "cancelled by a user"));
    EXPECT_EQ(queue_->find("a")->state, AnalysisState::Cancelled);
  }

  TEST(AnalysisEnd, AnEndIsNamedAsTheQueueStateItLeaves)
  {
    for (AnalysisEnd end : {AnalysisEnd::Done, AnalysisEnd::Failed, AnalysisEnd::Cancelled})
    {
      EXPECT_STREQ(toString(stateAfter(end)), toString(end));
    }
    EXPECT_EQ(stateAfter(AnalysisEnd::Interrupted), AnalysisState::Running);
    EXPECT_EQ(endOf(AnalysisError("cancelled", "by a user")), AnalysisEnd::Cancelled);
    EXPECT_EQ(endOf(AnalysisError::internal("a bug")), AnalysisEnd::Failed);
    EXPECT_EQ(std::string(AnalysisError::internal("a bug").what()), "internal error: a bug");
    EXPECT_EQ(AnalysisError::internal("a bug").exitStatus(), 3);
    EXPECT_EQ(AnalysisError("no-spine", "none").exitStatus(), 2);
    EXPECT_EQ(toAnalysisError(std::make_exception_ptr(std::runtime_error("boom"))).code(), "internal");
    EXPECT_EQ(toAnalysisError(std::make_exception_ptr(AnalysisError("gantry-tilt", "t"))).code(), "gantry-tilt");
  }

  TEST_F(AnalysisQueueTest, RunThatFailsOrIsCancelledWhileTheSeriesGrewLeavesTheGrownSeriesQueued)
  {
    queue_->enqueue(request("a", "f1"));
    queue_->claim("local");
    EXPECT_EQ(queue_->enqueue(request("a", "f2")), EnqueueOutcome::Pending);
    queue_->end("a", {"f1", "demo 1"}, AnalysisError("no-spine", "no vertebra found in 10 slices"));
    std::optional<AnalysisRecord> record = queue_->find("a");
    EXPECT_EQ(record->state, AnalysisState::Queued);
    EXPECT_EQ(record->wanted.fingerprint, "f2");
    EXPECT_EQ(record->errorCode, "");

    queue_->claim("local");
    EXPECT_EQ(queue_->enqueue(request("a", "f3")), EnqueueOutcome::Pending);
    queue_->end("a", {"f2", "demo 1"}, AnalysisError("cancelled", "cancelled by a user"));
    EXPECT_EQ(queue_->find("a")->state, AnalysisState::Queued);

    queue_->claim("local");
    queue_->end("a", {"f3", "demo 1"}, AnalysisError("no-spine", "no vertebra found in 30 slices"));
    EXPECT_EQ(queue_->find("a")->state, AnalysisState::Failed);
    EXPECT_EQ(queue_->enqueue(request("a", "f3")), EnqueueOutcome::UpToDate);
  }

  TEST_F(AnalysisQueueTest, ListsByStudyAndState)
  {
    queue_->enqueue(request("a", "f1"));
    queue_->enqueue(request("b", "f2"));
    queue_->claim("local");
    EXPECT_EQ(queue_->listStudy("study-of-a").size(), 1u);
    EXPECT_EQ(queue_->listStates({AnalysisState::Queued, AnalysisState::Running}, 10).size(), 2u);
    EXPECT_EQ(queue_->listStates({AnalysisState::Done}, 10).size(), 0u);
    EXPECT_EQ(queue_->lastChange(), -1);
  }

  TEST_F(AnalysisQueueTest, SeriesStillArrivingAtARestartAreFoundAgain)
  {
    queue_->noteReceiving("arriving", 100);
    queue_->noteReceiving("analysed", 100);
    queue_->enqueue(request("analysed", "f1"));
    queue_->noteReceiving("analysed", 100);           // known already: left as it is
    EXPECT_EQ(queue_->find("arriving")->state, AnalysisState::Receiving);
    EXPECT_EQ(queue_->find("analysed")->state, AnalysisState::Queued);

    reopen();
    EXPECT_EQ(queue_->receivingBefore(101), std::vector<std::string>{"arriving"});
    EXPECT_TRUE(queue_->receivingBefore(100).empty());
    EXPECT_EQ(queue_->enqueue(request("arriving", "f9")), EnqueueOutcome::Queued);
    EXPECT_TRUE(queue_->receivingBefore(1e12).empty());
  }

  TEST_F(AnalysisQueueTest, SeriesThatGrewAfterItsAnalysisIsFoundAgainAfterARestart)
  {
    queue_->enqueue(request("done-grows", "f1"));
    queue_->claim("local");
    queue_->finish("done-grows", finished("f1"));
    queue_->skip("skipped-grows", "study", "too-few-slices", "2 instances");
    queue_->enqueue(request("queued", "f3"));
    queue_->noteGrown("done-grows", 100);
    queue_->noteGrown("done-grows", 150);            // the first arrival counts
    queue_->noteGrown("skipped-grows", 100);
    queue_->noteGrown("queued", 100);                // waiting already: covers the new instances
    EXPECT_EQ(queue_->find("done-grows")->state, AnalysisState::Done);

    reopen();
    EXPECT_EQ(queue_->receivingBefore(101), (std::vector<std::string>{"done-grows", "skipped-grows"}));
    EXPECT_TRUE(queue_->receivingBefore(100).empty());
    EXPECT_EQ(queue_->enqueue(request("done-grows", "f2")), EnqueueOutcome::Queued);
    queue_->skip("skipped-grows", "study", "too-few-slices", "still 3 instances");
    EXPECT_TRUE(queue_->receivingBefore(1e12).empty());

    // an instance that came back (same fingerprint): looked at, up to date, no longer grown
    queue_->claim("local");
    queue_->finish("done-grows", finished("f2"));
    queue_->noteGrown("done-grows", 200);
    EXPECT_EQ(queue_->enqueue(request("done-grows", "f2")), EnqueueOutcome::UpToDate);
    EXPECT_TRUE(queue_->receivingBefore(1e12).empty());
  }

  TEST(InstancesFingerprint, IgnoresOrderAndSeesEveryInstance)
  {
    EXPECT_EQ(instancesFingerprint({"x", "y", "z"}), instancesFingerprint({"z", "x", "y"}));
    EXPECT_NE(instancesFingerprint({"x", "y", "z"}), instancesFingerprint({"x", "y"}));
    EXPECT_NE(instancesFingerprint({"x", "y"}), instancesFingerprint({"x", "w"}));
    EXPECT_EQ(instancesFingerprint({"x", "y"}).substr(0, 2), "2-");
  }

  TEST(AnalysisQueueFile, UnwritableLocationIsNamedInTheError)
  {
    try
    {
      SqliteAnalysisQueue queue("/proc/no-such-folder/queue.sqlite");
      FAIL() << "opened an impossible path";
    }
    catch (const std::runtime_error& error)
    {
      EXPECT_NE(std::string(error.what()).find("/proc/no-such-folder/queue.sqlite"), std::string::npos);
    }
  }
}
