// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "AnalysisQueue.h"

#include <mutex>
#include <string>
#include <vector>

struct pg_conn;

namespace spinemet
{
  // The analysis queue in PostgreSQL, shared by every Orthanc node of a cluster (docs/scale-out.md);
  // usually the database of Orthanc's own PostgreSQL index, beside whose tables it keeps its own
  // (spinemet_analyses, spinemet_properties). A claim is one statement that locks the oldest claimable
  // row with FOR UPDATE SKIP LOCKED, so that two nodes never claim the same series and never wait
  // for each other; times of leases and retries are the database server's clock, the one clock all
  // nodes share. Each call is one transaction; a broken connection is opened again on the next call.
  class PostgresAnalysisQueue : public AnalysisQueue
  {
  public:
    // `connection` is a libpq connection string ("host=... dbname=... user=..."); throws
    // std::runtime_error naming the server when it cannot connect or create its schema.
    PostgresAnalysisQueue(const std::string& connection, const QueuePolicy& policy = QueuePolicy());
    ~PostgresAnalysisQueue() override;

    PostgresAnalysisQueue(const PostgresAnalysisQueue&) = delete;
    PostgresAnalysisQueue& operator=(const PostgresAnalysisQueue&) = delete;

    EnqueueOutcome enqueue(const EnqueueRequest& request) override;
    void noteReceiving(const std::string& series, double notedAt) override;
    void noteGrown(const std::string& series, double notedAt) override;
    std::vector<std::string> receivingBefore(double time) override;
    void skip(const std::string& series, const std::string& study,
              const std::string& code, const std::string& message) override;
    std::optional<AnalysisRecord> claim(const std::string& node) override;
    size_t renewLeases(const std::string& node) override;
    bool finish(const std::string& series, const ClaimHolder& holder, const FinishedAnalysis& finished) override;
    bool end(const std::string& series, const AnalysisKey& claimed, const ClaimHolder& holder,
             const AnalysisError& reason) override;
    bool cancelQueued(const std::string& series, const std::string& message) override;
    size_t requeueInterrupted(const std::string& node) override;
    std::optional<AnalysisRecord> find(const std::string& series) override;
    std::vector<AnalysisRecord> listStudy(const std::string& study) override;
    std::vector<AnalysisRecord> listStates(const std::vector<AnalysisState>& states, size_t limit) override;
    std::map<AnalysisState, uint64_t> countByState() override;
    int64_t lastChange() override;
    void setLastChange(int64_t sequence) override;

    // The server and database, without the password (for logs and /spinemet/health).
    const std::string& description() const { return description_; }

    // The version of the schema the queue found or created ("spinemet-queue/1").
    static const char* schemaVersion();

  private:
    class Result;
    class Transaction;

    void connect();
    void createSchema();
    Result execute(const std::string& sql, const std::vector<std::string>& parameters = {});
    std::optional<AnalysisRecord> findLocked(const std::string& series, bool forUpdate);
    std::vector<AnalysisRecord> records(Result& result);

    std::string connection_;
    std::string description_;
    QueuePolicy policy_;
    pg_conn* db_ = nullptr;
    std::mutex mutex_;
  };
}
