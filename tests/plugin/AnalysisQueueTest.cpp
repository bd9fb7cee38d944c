// SPDX-License-Identifier: GPL-3.0-or-later
#include "PostgresAnalysisQueue.h"
#include "SqliteAnalysisQueue.h"
#include "ThrowawayPostgres.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <thread>

namespace spinemet
{
  namespace
  {
    // Every rule of the queue, checked against both stores: the embedded SQLite file and the
    // PostgreSQL database that the nodes of a cluster share (a throw-away server, ThrowawayPostgres).
    class AnalysisQueueTest : public ::testing::TestWithParam<std::string>
    {
    protected:
      void SetUp() override
      {
        if (postgres())
        {
          connection_ = ThrowawayPostgres::shared().createDatabase();
        }
        else
        {
          std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
          for (char& c : name) if (c == '/') c = '-';
          path_ = std::filesystem::temp_directory_path() /
            ("spinemet-queue-test-" + std::to_string(::getpid()) + "-" + name + ".sqlite");
          removeFiles();
        }
        queue_ = open();
      }

      void TearDown() override
      {
        queue_.reset();
        if (!postgres()) removeFiles();
      }

      bool postgres() const { return GetParam() == "postgresql"; }

      void removeFiles()
      {
        for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_.string() + suffix);
      }

      // Another connection to the same queue: another process of the same node (after a restart)
      // or another node of the cluster.
      std::unique_ptr<AnalysisQueue> open(const QueuePolicy& policy = QueuePolicy())
      {
        if (postgres()) return std::make_unique<PostgresAnalysisQueue>(connection_, policy);
        return std::make_unique<SqliteAnalysisQueue>(path_.string(), policy);
      }

      // What a restart of Orthanc does to the queue: a new process opens the same store.
      void reopen(const QueuePolicy& policy = QueuePolicy())
      {
        queue_.reset();
        queue_ = open(policy);
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

      // claim() as the dispatcher does it: the claim is remembered, and finish() and end() below
      // present it, as the dispatcher presents its own.
      std::optional<AnalysisRecord> claim(const std::string& node)
      {
        std::optional<AnalysisRecord> claimed = queue_->claim(node);
        if (claimed) claims_[claimed->series] = holderOf(*claimed);
        return claimed;
      }

      bool finish(const std::string& series, const FinishedAnalysis& finished)
      {
        const bool recorded = queue_->finish(series, claims_.at(series), finished);
        EXPECT_TRUE(recorded) << "the test's own claim of " << series << " is refused";
        return recorded;
      }

      bool end(const std::string& series, const AnalysisKey& claimed, const AnalysisError& reason)
      {
        const bool recorded = queue_->end(series, claimed, claims_.at(series), reason);
        EXPECT_TRUE(recorded) << "the test's own claim of " << series << " is refused";
        return recorded;
      }

      std::filesystem::path path_;
      std::string connection_;
      std::unique_ptr<AnalysisQueue> queue_;
      std::map<std::string, ClaimHolder> claims_;
    };
  }

  INSTANTIATE_TEST_SUITE_P(Backends, AnalysisQueueTest, ::testing::Values("sqlite", "postgresql"),
                           [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

  TEST_P(AnalysisQueueTest, ClaimsInArrivalOrderOnce)
  {
    EXPECT_EQ(queue_->enqueue(request("a", "f1")), EnqueueOutcome::Queued);
    EXPECT_EQ(queue_->enqueue(request("b", "f2")), EnqueueOutcome::Queued);

    std::optional<AnalysisRecord> first = claim("local");
    std::optional<AnalysisRecord> second = claim("local");
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->series, "a");
    EXPECT_EQ(second->series, "b");
    EXPECT_EQ(first->state, AnalysisState::Running);
    EXPECT_EQ(first->attempts, 1);
    EXPECT_EQ(first->wanted.fingerprint, "f1");
    EXPECT_FALSE(claim("local"));
  }

  TEST_P(AnalysisQueueTest, FinishedAnalysisKeepsItsOutputsAndFigures)
  {
    queue_->enqueue(request("a", "f1"));
    claim("local");
    finish("a", finished("f1"));

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

  TEST_P(AnalysisQueueTest, SameInstancesAndModelAreNotAnalysedAgain)
  {
    queue_->enqueue(request("a", "f1"));
    claim("local");
    finish("a", finished("f1"));

    EXPECT_EQ(queue_->enqueue(request("a", "f1")), EnqueueOutcome::UpToDate);
    EXPECT_FALSE(claim("local"));
    EXPECT_EQ(queue_->find("a")->state, AnalysisState::Done);
  }

  TEST_P(AnalysisQueueTest, GrownSeriesOrNewModelIsAnalysedAgainKeepingOldOutputsToReplace)
  {
    queue_->enqueue(request("a", "f1"));
    claim("local");
    finish("a", finished("f1"));

    EXPECT_EQ(queue_->enqueue(request("a", "f2")), EnqueueOutcome::Queued);
    std::optional<AnalysisRecord> regrown = claim("local");
    ASSERT_TRUE(regrown);
    EXPECT_EQ(regrown->wanted.fingerprint, "f2");
    EXPECT_EQ(regrown->outputs, (std::vector<std::string>{"sr-1", "sc-1"}));   // to be replaced
    finish("a", finished("f2", "demo 1", {"sr-2"}));
    EXPECT_EQ(queue_->find("a")->outputs, std::vector<std::string>{"sr-2"});

    EXPECT_EQ(queue_->enqueue(request("a", "f2", "demo 2")), EnqueueOutcome::Queued);
  }

  TEST_P(AnalysisQueueTest, SeriesThatGrowsWhileRunningRunsAgainAfterwards)
  {
    queue_->enqueue(request("a", "f1"));
    claim("local");
    EXPECT_EQ(queue_->enqueue(request("a", "f1")), EnqueueOutcome::UpToDate);
    EXPECT_EQ(queue_->enqueue(request("a", "f2")), EnqueueOutcome::Pending);
    finish("a", finished("f1"));

    std::optional<AnalysisRecord> again = claim("local");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->wanted.fingerprint, "f2");
    EXPECT_EQ(again->analysed.fingerprint, "f1");
  }

  TEST_P(AnalysisQueueTest, ManualRequestWhileRunningRunsOnceMoreNotForever)
  {
    queue_->enqueue(request("a", "f1"));
    claim("local");
    EnqueueRequest manual = request("a", "f1");
    manual.force = true;
    EXPECT_EQ(queue_->enqueue(manual), EnqueueOutcome::Pending);
    finish("a", finished("f1"));

    std::optional<AnalysisRecord> again = claim("local");
    ASSERT_TRUE(again) << "the manual request runs after the running analysis";
    FinishedAnalysis second = finished("f1");
    second.claimed = again->wanted;
    finish("a", second);
    EXPECT_FALSE(claim("local")) << "and then the series is done, not queued again";
    EXPECT_EQ(queue_->enqueue(request("a", "f1")), EnqueueOutcome::UpToDate);
  }

  TEST_P(AnalysisQueueTest, InstanceDeletedDuringTheAnalysisDoesNotLoop)
  {
    queue_->enqueue(request("a", "f-with-x"));
    std::optional<AnalysisRecord> claimed = claim("local");
    FinishedAnalysis done = finished("f-without-x");
    done.claimed = claimed->wanted;
    finish("a", done);
    EXPECT_FALSE(claim("local"));
    EXPECT_EQ(queue_->enqueue(request("a", "f-without-x")), EnqueueOutcome::UpToDate);
  }

  TEST_P(AnalysisQueueTest, QueuedSeriesKeepsOnePlaceWhenItGrows)
  {
    queue_->enqueue(request("a", "f1"));
    queue_->enqueue(request("b", "g1"));
    EXPECT_EQ(queue_->enqueue(request("a", "f2")), EnqueueOutcome::Updated);
    EXPECT_EQ(queue_->countByState()[AnalysisState::Queued], 2u);
    std::optional<AnalysisRecord> first = claim("local");
    EXPECT_EQ(first->series, "a");
    EXPECT_EQ(first->wanted.fingerprint, "f2");
  }

  TEST_P(AnalysisQueueTest, ForcedRequestAnalysesAnUpToDateSeries)
  {
    queue_->enqueue(request("a", "f1"));
    claim("local");
    finish("a", finished("f1"));
    EnqueueRequest manual = request("a", "f1");
    manual.force = true;
    manual.trigger = "manual";
    EXPECT_EQ(queue_->enqueue(manual), EnqueueOutcome::Queued);
    EXPECT_EQ(claim("local")->trigger, "manual");
  }

  TEST_P(AnalysisQueueTest, QueuedAndRunningAnalysesSurviveARestartAndRunOnce)
  {
    queue_->enqueue(request("running", "f1"));
    queue_->enqueue(request("queued", "f2"));
    claim("local");
    queue_->setLastChange(42);

    reopen();   // as after kill -9: nothing was closed cleanly
    EXPECT_EQ(queue_->lastChange(), 42);
    EXPECT_EQ(queue_->find("running")->state, AnalysisState::Running);
    EXPECT_EQ(queue_->requeueInterrupted("local"), 1u);
    EXPECT_EQ(queue_->requeueInterrupted("local"), 0u);

    std::optional<AnalysisRecord> first = claim("local");
    std::optional<AnalysisRecord> second = claim("local");
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->series, "running");
    EXPECT_EQ(first->attempts, 2);             // restarts count towards MaximumAttempts
    EXPECT_EQ(second->series, "queued");
    EXPECT_FALSE(claim("local"));
  }

  TEST_P(AnalysisQueueTest, OtherNodesRunningAnalysesAreLeftAlone)
  {
    queue_->enqueue(request("a", "f1"));
    claim("node-1");
    EXPECT_EQ(queue_->requeueInterrupted("node-2"), 0u);
    EXPECT_EQ(queue_->find("a")->node, "node-1");
  }

  TEST_P(AnalysisQueueTest, FailureKeepsItsReasonAndIsNotRetriedForTheSameKey)
  {
    queue_->enqueue(request("a", "f1"));
    claim("local");
    end("a", {"f1", "demo 1"}, AnalysisError("no-spine", "no vertebra found in 40 slices"));
    std::optional<AnalysisRecord> failed = queue_->find("a");
    EXPECT_EQ(failed->state, AnalysisState::Failed);
    EXPECT_EQ(failed->errorCode, "no-spine");
    EXPECT_EQ(failed->message, "no vertebra found in 40 slices");
    EXPECT_EQ(queue_->enqueue(request("a", "f1")), EnqueueOutcome::UpToDate);
    EXPECT_EQ(queue_->enqueue(request("a", "f2")), EnqueueOutcome::Queued);
    EXPECT_EQ(queue_->find("a")->errorCode, "");
  }

  TEST_P(AnalysisQueueTest, SkippedAndCancelledSeriesAreRecordedWithTheirReason)
  {
    queue_->skip("mr", "s", "not-ct", "Modality is \"MR\"");
    EXPECT_EQ(queue_->find("mr")->state, AnalysisState::Skipped);
    EXPECT_EQ(queue_->find("mr")->errorCode, "not-ct");
    EXPECT_FALSE(claim("local"));

    queue_->enqueue(request("a", "f1"));
    EXPECT_TRUE(queue_->cancelQueued("a", "cancelled while queued"));
    EXPECT_EQ(queue_->find("a")->state, AnalysisState::Cancelled);
    EXPECT_FALSE(queue_->cancelQueued("a", "again"));
    EXPECT_FALSE(claim("local"));
    EXPECT_EQ(queue_->enqueue(request("a", "f1")), EnqueueOutcome::Queued);

    claim("local");
    EXPECT_FALSE(queue_->cancelQueued("a", "running: the dispatcher cancels the run itself"));
    end("a", {"f1", "demo 1"}, AnalysisError("cancelled", "cancelled by a user"));
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

  TEST_P(AnalysisQueueTest, RunThatFailsOrIsCancelledWhileTheSeriesGrewLeavesTheGrownSeriesQueued)
  {
    queue_->enqueue(request("a", "f1"));
    claim("local");
    EXPECT_EQ(queue_->enqueue(request("a", "f2")), EnqueueOutcome::Pending);
    end("a", {"f1", "demo 1"}, AnalysisError("no-spine", "no vertebra found in 10 slices"));
    std::optional<AnalysisRecord> record = queue_->find("a");
    EXPECT_EQ(record->state, AnalysisState::Queued);
    EXPECT_EQ(record->wanted.fingerprint, "f2");
    EXPECT_EQ(record->errorCode, "");

    claim("local");
    EXPECT_EQ(queue_->enqueue(request("a", "f3")), EnqueueOutcome::Pending);
    end("a", {"f2", "demo 1"}, AnalysisError("cancelled", "cancelled by a user"));
    EXPECT_EQ(queue_->find("a")->state, AnalysisState::Queued);

    claim("local");
    end("a", {"f3", "demo 1"}, AnalysisError("no-spine", "no vertebra found in 30 slices"));
    EXPECT_EQ(queue_->find("a")->state, AnalysisState::Failed);
    EXPECT_EQ(queue_->enqueue(request("a", "f3")), EnqueueOutcome::UpToDate);
  }

  TEST_P(AnalysisQueueTest, ListsByStudyAndState)
  {
    queue_->enqueue(request("a", "f1"));
    queue_->enqueue(request("b", "f2"));
    claim("local");
    EXPECT_EQ(queue_->listStudy("study-of-a").size(), 1u);
    EXPECT_EQ(queue_->listStates({AnalysisState::Queued, AnalysisState::Running}, 10).size(), 2u);
    EXPECT_EQ(queue_->listStates({AnalysisState::Done}, 10).size(), 0u);
    EXPECT_EQ(queue_->lastChange(), -1);
  }

  TEST_P(AnalysisQueueTest, SeriesStillArrivingAtARestartAreFoundAgain)
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

  TEST_P(AnalysisQueueTest, SeriesThatGrewAfterItsAnalysisIsFoundAgainAfterARestart)
  {
    queue_->enqueue(request("done-grows", "f1"));
    claim("local");
    finish("done-grows", finished("f1"));
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
    ASSERT_EQ(claim("local")->series, "queued");       // queued first
    ASSERT_EQ(claim("local")->series, "done-grows");
    ASSERT_TRUE(finish("done-grows", finished("f2")));
    queue_->noteGrown("done-grows", 200);
    EXPECT_EQ(queue_->enqueue(request("done-grows", "f2")), EnqueueOutcome::UpToDate);
    EXPECT_TRUE(queue_->receivingBefore(1e12).empty());
  }

  TEST_P(AnalysisQueueTest, TransientFailureIsRetriedUntilTheLastAttemptThenFails)
  {
    QueuePolicy policy;
    policy.maximumAttempts = 3;
    policy.retryDelaySeconds = 0;           // due at once: the backoff has its own test
    reopen(policy);
    queue_->enqueue(request("a", "f1"));
    for (int attempt = 1; attempt <= 3; attempt++)
    {
      std::optional<AnalysisRecord> claimed = claim("node-1");
      ASSERT_TRUE(claimed) << "attempt " << attempt;
      EXPECT_EQ(claimed->attempts, attempt);
      EXPECT_EQ(claimed->retries, attempt - 1);
      end("a", claimed->wanted, AnalysisError("fetch", "Orthanc answered 503 for slice " +
                                                      std::to_string(attempt)));
      std::optional<AnalysisRecord> after = queue_->find("a");
      if (attempt < 3)
      {
        EXPECT_EQ(after->state, AnalysisState::Queued);
        EXPECT_EQ(after->retries, attempt);
        EXPECT_EQ(after->errorCode, "");
        EXPECT_EQ(after->node, "");
      }
      EXPECT_EQ(after->lastFailure, "[fetch] Orthanc answered 503 for slice " + std::to_string(attempt));
    }
    std::optional<AnalysisRecord> failed = queue_->find("a");
    EXPECT_EQ(failed->state, AnalysisState::Failed);
    EXPECT_EQ(failed->errorCode, "fetch");
    EXPECT_NE(failed->message.find("attempt 3 of 3"), std::string::npos) << failed->message;
    EXPECT_EQ(failed->retries, 2);
    EXPECT_FALSE(claim("node-1"));
    // A new key is a new analysis with its own attempts.
    EXPECT_EQ(queue_->enqueue(request("a", "f2")), EnqueueOutcome::Queued);
    EXPECT_EQ(queue_->find("a")->retries, 0);
    EXPECT_EQ(queue_->find("a")->lastFailure, "");
  }

  TEST_P(AnalysisQueueTest, RetryWaitsForItsBackoffAndKeepsItsPlace)
  {
    QueuePolicy policy;
    policy.retryDelaySeconds = 1000;
    reopen(policy);
    queue_->enqueue(request("a", "f1"));
    queue_->enqueue(request("b", "f2"));
    std::optional<AnalysisRecord> claimed = claim("node-1");
    ASSERT_EQ(claimed->series, "a");
    end("a", claimed->wanted, AnalysisError("store", "Orthanc refused the SR: 500"));
    std::optional<AnalysisRecord> waiting = queue_->find("a");
    EXPECT_EQ(waiting->state, AnalysisState::Queued);
    EXPECT_GT(waiting->retryAt, waiting->finishedAt + 900);
    EXPECT_EQ(claim("node-1")->series, "b") << "a waits for its backoff";
    EXPECT_FALSE(claim("node-1"));
  }

  TEST_P(AnalysisQueueTest, FailureOfTheSeriesItselfIsNotRetried)
  {
    queue_->enqueue(request("a", "f1"));
    std::optional<AnalysisRecord> claimed = claim("node-1");
    end("a", claimed->wanted, AnalysisError("gantry-tilt", "Gantry/Detector Tilt is 12 degrees"));
    EXPECT_EQ(queue_->find("a")->state, AnalysisState::Failed);
    EXPECT_EQ(queue_->find("a")->retries, 0);
    EXPECT_EQ(queue_->find("a")->node, "node-1") << "REST says which node analysed it";
  }

  TEST_P(AnalysisQueueTest, ExpiredLeaseIsTakenOverByAnotherNodeAndRenewedOneIsNot)
  {
    QueuePolicy policy;
    policy.leaseSeconds = 2;
    reopen(policy);
    std::unique_ptr<AnalysisQueue> otherNode = open(policy);
    queue_->enqueue(request("a", "f1"));
    queue_->enqueue(request("b", "f2"));
    ASSERT_EQ(claim("node-1")->series, "a");
    ASSERT_EQ(otherNode->claim("node-2")->series, "b");
    EXPECT_FALSE(otherNode->claim("node-2")) << "node-1's lease still holds";
    EXPECT_GT(queue_->find("a")->leaseUntil, queue_->find("a")->startedAt);

    // node-1 dies (no more heartbeats); node-2 keeps renewing.
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    EXPECT_EQ(otherNode->renewLeases("node-2"), 1u);
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    std::optional<AnalysisRecord> takenOver = otherNode->claim("node-2");
    ASSERT_TRUE(takenOver);
    EXPECT_EQ(takenOver->series, "a");
    EXPECT_EQ(takenOver->node, "node-2");
    EXPECT_EQ(takenOver->attempts, 2) << "a take-over counts towards MaximumAttempts";
    EXPECT_FALSE(otherNode->claim("node-2")) << "b's lease was renewed";
    EXPECT_EQ(queue_->renewLeases("node-1"), 0u) << "node-1 holds nothing any more";

    EXPECT_TRUE(otherNode->finish("a", holderOf(*takenOver), finished("f1")));
    EXPECT_EQ(queue_->find("a")->state, AnalysisState::Done);
    EXPECT_EQ(queue_->find("a")->node, "node-2");
    EXPECT_EQ(queue_->find("a")->leaseUntil, 0);
  }

  TEST_P(AnalysisQueueTest, StalledNodeWhoseClaimWasTakenOverCannotFinishOrFailIt)
  {
    QueuePolicy policy;
    policy.leaseSeconds = 1;
    reopen(policy);
    std::unique_ptr<AnalysisQueue> otherNode = open(policy);
    queue_->enqueue(request("a", "f1"));
    std::optional<AnalysisRecord> stalled = queue_->claim("node-1");
    ASSERT_TRUE(stalled);

    // node-1 stalls past its lease (no heartbeat); node-2 takes the series over.
    std::this_thread::sleep_for(std::chrono::milliseconds(1300));
    std::optional<AnalysisRecord> takenOver = otherNode->claim("node-2");
    ASSERT_TRUE(takenOver);
    ASSERT_EQ(takenOver->series, "a");

    // node-1 wakes up and ends its run in every way it could: each is refused, the row untouched.
    EXPECT_FALSE(queue_->finish("a", holderOf(*stalled), finished("f1", "demo 1", {"sr-of-node-1"})));
    EXPECT_FALSE(queue_->end("a", stalled->wanted, holderOf(*stalled), AnalysisError("fetch", "Orthanc answered 503")));
    EXPECT_FALSE(queue_->end("a", stalled->wanted, holderOf(*stalled), AnalysisError("cancelled", "by a user")));
    std::optional<AnalysisRecord> row = queue_->find("a");
    EXPECT_EQ(row->state, AnalysisState::Running);
    EXPECT_EQ(row->node, "node-2");
    EXPECT_EQ(row->attempts, 2);
    EXPECT_EQ(row->retries, 0);
    EXPECT_TRUE(row->outputs.empty());

    // Only the holder of the claim ends it.
    EXPECT_TRUE(otherNode->finish("a", holderOf(*takenOver), finished("f1", "demo 1", {"sr-of-node-2"})));
    row = queue_->find("a");
    EXPECT_EQ(row->state, AnalysisState::Done);
    EXPECT_EQ(row->outputs, std::vector<std::string>{"sr-of-node-2"});
    EXPECT_FALSE(queue_->finish("a", holderOf(*stalled), finished("f1"))) << "nor once it is done";
  }

  TEST_P(AnalysisQueueTest, NodeThatClaimedItsOwnExpiredClaimAgainEndsItUnderTheNewClaim)
  {
    QueuePolicy policy;
    policy.leaseSeconds = 1;
    reopen(policy);
    queue_->enqueue(request("a", "f1"));
    std::optional<AnalysisRecord> first = queue_->claim("node-1");
    ASSERT_TRUE(first);
    std::this_thread::sleep_for(std::chrono::milliseconds(1300));
    std::optional<AnalysisRecord> again = queue_->claim("node-1");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->attempts, first->attempts + 1);

    EXPECT_FALSE(queue_->end("a", first->wanted, holderOf(*first), AnalysisError("no-spine", "no vertebra")));
    EXPECT_EQ(queue_->find("a")->state, AnalysisState::Running);
    EXPECT_TRUE(queue_->end("a", again->wanted, holderOf(*again), AnalysisError("no-spine", "no vertebra")));
    EXPECT_EQ(queue_->find("a")->state, AnalysisState::Failed);
    EXPECT_EQ(queue_->find("a")->errorCode, "no-spine");
  }

  TEST_P(AnalysisQueueTest, NodesClaimingAtOnceNeverShareASeries)
  {
    const int seriesCount = 40;
    for (int i = 0; i < seriesCount; i++) queue_->enqueue(request("s" + std::to_string(100 + i), "f"));
    const int nodeCount = 4;
    std::vector<std::unique_ptr<AnalysisQueue>> nodes;
    for (int n = 0; n < nodeCount; n++) nodes.push_back(open());
    std::vector<std::vector<std::string>> claimed(nodeCount);
    std::vector<std::string> errors(nodeCount);
    std::vector<std::thread> threads;
    for (int n = 0; n < nodeCount; n++)
    {
      threads.emplace_back([&, n] {
        try
        {
          while (std::optional<AnalysisRecord> record = nodes[n]->claim("node-" + std::to_string(n)))
          {
            claimed[n].push_back(record->series);
            if (!nodes[n]->finish(record->series, holderOf(*record), finished("f")))
            {
              errors[n] = "the claim of " + record->series + " was refused to the node that made it";
            }
          }
        }
        catch (const std::exception& error)
        {
          errors[n] = error.what();
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    std::multiset<std::string> all;
    for (int n = 0; n < nodeCount; n++)
    {
      EXPECT_EQ(errors[n], "") << "node " << n;
      all.insert(claimed[n].begin(), claimed[n].end());
    }
    EXPECT_EQ(all.size(), static_cast<size_t>(seriesCount));
    for (const std::string& series : all) EXPECT_EQ(all.count(series), 1u) << series << " claimed twice";
    EXPECT_EQ(queue_->countByState()[AnalysisState::Done], static_cast<uint64_t>(seriesCount));
  }

  TEST_P(AnalysisQueueTest, LastChangeOnlyMovesForward)
  {
    queue_->setLastChange(50);
    queue_->setLastChange(80);
    EXPECT_EQ(queue_->lastChange(), 80);
    if (postgres())
    {
      // Nodes following the shared change log: one that read less does not take the mark back.
      queue_->setLastChange(60);
      EXPECT_EQ(queue_->lastChange(), 80);
    }
  }

  // The enqueue rules themselves (decideEnqueue), without a store; the tests above check that both
  // stores write what it decides.
  namespace
  {
    AnalysisRecord row(AnalysisState state, const std::string& fingerprint, const std::string& model = "demo 1")
    {
      AnalysisRecord record;
      record.series = "a";
      record.study = "s";
      record.state = state;
      record.wanted = {fingerprint, model};
      return record;
    }

    EnqueueRequest asking(const std::string& fingerprint, bool force = false, const std::string& model = "demo 1")
    {
      EnqueueRequest request;
      request.series = "a";
      request.study = "s";
      request.key = {fingerprint, model};
      request.trigger = force ? "manual" : "stable-series";
      request.force = force;
      return request;
    }

    void expectDecision(const std::optional<AnalysisRecord>& existing, const EnqueueRequest& request,
                        EnqueueOutcome outcome, EnqueueDecision::Write write)
    {
      const EnqueueDecision decision = decideEnqueue(existing, request);
      EXPECT_EQ(toString(decision.outcome), std::string(toString(outcome)));
      EXPECT_EQ(static_cast<int>(decision.write), static_cast<int>(write));
    }
  }

  TEST(EnqueueDecision, NewSeriesIsQueued)
  {
    expectDecision(std::nullopt, asking("f1"), EnqueueOutcome::Queued, EnqueueDecision::Write::QueueAfresh);
    expectDecision(std::nullopt, asking("f1", true), EnqueueOutcome::Queued, EnqueueDecision::Write::QueueAfresh);
  }

  TEST(EnqueueDecision, QueuedSeriesKeepsItsPlaceAndTakesTheNewestKey)
  {
    using Write = EnqueueDecision::Write;
    expectDecision(row(AnalysisState::Queued, "f1"), asking("f1"), EnqueueOutcome::Updated, Write::UpdateWaiting);
    expectDecision(row(AnalysisState::Queued, "f1"), asking("f2"), EnqueueOutcome::Updated, Write::UpdateWaiting);
    expectDecision(row(AnalysisState::Queued, "f1"), asking("f1", true), EnqueueOutcome::Updated, Write::UpdateWaiting);
  }

  TEST(EnqueueDecision, RunningSeriesRunsAgainOnlyForANewKeyOrAForcedRequest)
  {
    using Write = EnqueueDecision::Write;
    expectDecision(row(AnalysisState::Running, "f1"), asking("f1"), EnqueueOutcome::UpToDate, Write::Nothing);
    expectDecision(row(AnalysisState::Running, "f1"), asking("f2"), EnqueueOutcome::Pending, Write::SetWantedKey);
    expectDecision(row(AnalysisState::Running, "f1"), asking("f1", false, "demo 2"), EnqueueOutcome::Pending,
                   Write::SetWantedKey);
    expectDecision(row(AnalysisState::Running, "f1"), asking("f1", true), EnqueueOutcome::Pending,
                   Write::ForgetWantedKey);
  }

  TEST(EnqueueDecision, EndedSeriesIsUpToDateForItsKeyAndQueuedAfreshForAnother)
  {
    using Write = EnqueueDecision::Write;
    for (AnalysisState ended : {AnalysisState::Done, AnalysisState::Failed})
    {
      SCOPED_TRACE(toString(ended));
      expectDecision(row(ended, "f1"), asking("f1"), EnqueueOutcome::UpToDate, Write::ClearGrown);
      expectDecision(row(ended, "f1"), asking("f2"), EnqueueOutcome::Queued, Write::QueueAfresh);
      expectDecision(row(ended, "f1"), asking("f1", false, "demo 2"), EnqueueOutcome::Queued, Write::QueueAfresh);
      expectDecision(row(ended, "f1"), asking("f1", true), EnqueueOutcome::Queued, Write::QueueAfresh);
    }
  }

  TEST(EnqueueDecision, ReceivingSkippedOrCancelledSeriesIsQueuedEvenForTheSameKey)
  {
    for (AnalysisState state : {AnalysisState::Receiving, AnalysisState::Skipped, AnalysisState::Cancelled})
    {
      SCOPED_TRACE(toString(state));
      expectDecision(row(state, "f1"), asking("f1"), EnqueueOutcome::Queued, EnqueueDecision::Write::QueueAfresh);
    }
  }

  TEST(RetryDelay, DoublesFromTheDelayUpToTheMaximum)
  {
    QueuePolicy policy;
    policy.retryDelaySeconds = 30;
    policy.maximumRetryDelaySeconds = 100;
    EXPECT_DOUBLE_EQ(retryDelay(policy, 1), 30);
    EXPECT_DOUBLE_EQ(retryDelay(policy, 2), 60);
    EXPECT_DOUBLE_EQ(retryDelay(policy, 3), 100);
    EXPECT_DOUBLE_EQ(retryDelay(policy, 60), 100);
  }

  TEST(TransientFailure, OnlyFailuresThatMayPassOnASecondTry)
  {
    EXPECT_TRUE(isTransientFailure(AnalysisError("fetch", "Orthanc answered 503")));
    EXPECT_TRUE(isTransientFailure(AnalysisError("store", "Orthanc refused the SR")));
    EXPECT_TRUE(isTransientFailure(AnalysisError::internal("std::bad_alloc")));
    EXPECT_FALSE(isTransientFailure(AnalysisError::internal("vector::_M_range_check")));
    EXPECT_FALSE(isTransientFailure(AnalysisError("no-spine", "no vertebra")));
    EXPECT_FALSE(isTransientFailure(AnalysisError("cancelled", "by a user")));
  }

  TEST(PostgresQueue, SchemaIsVersionedAndANewerOneIsRefused)
  {
    const std::string connection = ThrowawayPostgres::shared().createDatabase();
    {
      PostgresAnalysisQueue queue(connection);
      PostgresAnalysisQueue again(connection);      // a second node finds the schema made
      again.enqueue(EnqueueRequest{"a", "s", {"f", "m"}, "manual", false});
      EXPECT_EQ(queue.find("a")->state, AnalysisState::Queued);
    }
    PGconn* db = PQconnectdb(connection.c_str());
    ASSERT_EQ(PQstatus(db), CONNECTION_OK);
    PGresult* version = PQexec(db, "SELECT value FROM spinemet_properties WHERE name = 'schema-version'");
    ASSERT_EQ(PQntuples(version), 1);
    EXPECT_STREQ(PQgetvalue(version, 0, 0), "1");
    PQclear(version);
    PQclear(PQexec(db, "UPDATE spinemet_properties SET value = '99' WHERE name = 'schema-version'"));
    PQfinish(db);
    try
    {
      PostgresAnalysisQueue queue(connection);
      FAIL() << "opened a queue of a newer schema";
    }
    catch (const std::runtime_error& error)
    {
      EXPECT_NE(std::string(error.what()).find("version 99"), std::string::npos) << error.what();
    }
  }

  TEST(PostgresQueue, UnreachableServerIsNamedInTheError)
  {
    try
    {
      PostgresAnalysisQueue queue("host=/nonexistent-socket-folder port=5999 dbname=orthanc user=orthanc "
                                  "connect_timeout=5");
      FAIL() << "connected to nothing";
    }
    catch (const std::runtime_error& error)
    {
      EXPECT_NE(std::string(error.what()).find("/nonexistent-socket-folder:5999/orthanc"), std::string::npos)
        << error.what();
    }
  }

  TEST(AnalysisQueueFile, OlderQueueFileIsMigratedKeepingItsRows)
  {
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("spinemet-queue-v1-" + std::to_string(::getpid()) + ".sqlite")).string();
    std::filesystem::remove(path);
    {
      sqlite3* db = nullptr;
      ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
      // The spinemet-queue/1 table, as a file of that version holds it.
      ASSERT_EQ(sqlite3_exec(db,
        "CREATE TABLE analyses(series TEXT PRIMARY KEY, study TEXT NOT NULL, state TEXT NOT NULL,"
        " wantedFingerprint TEXT NOT NULL DEFAULT '', wantedModel TEXT NOT NULL DEFAULT '',"
        " analysedFingerprint TEXT NOT NULL DEFAULT '', analysedModel TEXT NOT NULL DEFAULT '',"
        " trigger TEXT NOT NULL DEFAULT '', errorCode TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',"
        " node TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0, queuedAt REAL NOT NULL DEFAULT 0,"
        " startedAt REAL NOT NULL DEFAULT 0, finishedAt REAL NOT NULL DEFAULT 0, outputs TEXT NOT NULL DEFAULT '',"
        " seconds REAL NOT NULL DEFAULT 0, slices INTEGER NOT NULL DEFAULT 0, stageSeconds TEXT NOT NULL DEFAULT '',"
        " grownAt REAL NOT NULL DEFAULT 0);"
        "CREATE TABLE properties(name TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO properties VALUES('schema', 'spinemet-queue/1');"
        "INSERT INTO analyses(series, study, state, wantedFingerprint, wantedModel) VALUES('old', 's', 'queued', 'f', 'm');",
        nullptr, nullptr, nullptr), SQLITE_OK);
      sqlite3_close(db);
    }
    {
      SqliteAnalysisQueue queue(path);
      std::optional<AnalysisRecord> claimed = queue.claim("local");
      ASSERT_TRUE(claimed);
      EXPECT_EQ(claimed->series, "old");
      EXPECT_EQ(claimed->retries, 0);
      EXPECT_GT(claimed->leaseUntil, 0);
    }
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
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
