// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "AnalysisQueue.h"

#include <mutex>
#include <string>

struct sqlite3;

namespace spinemet
{
  // The analysis queue in one SQLite file beside Orthanc's storage. Every change is one transaction
  // in WAL mode, so a process killed at any point leaves the last committed state.
  class SqliteAnalysisQueue : public AnalysisQueue
  {
  public:
    // throws std::runtime_error naming the file
    explicit SqliteAnalysisQueue(const std::string& path, const QueuePolicy& policy = QueuePolicy());
    ~SqliteAnalysisQueue() override;

    SqliteAnalysisQueue(const SqliteAnalysisQueue&) = delete;
    SqliteAnalysisQueue& operator=(const SqliteAnalysisQueue&) = delete;

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

    const std::string& path() const { return path_; }

  private:
    class Statement;
    class Transaction;

    void execute(const char* sql);
    std::optional<AnalysisRecord> findLocked(const std::string& series);

    std::string path_;
    QueuePolicy policy_;
    sqlite3* db_ = nullptr;
    std::mutex mutex_;
  };
}
