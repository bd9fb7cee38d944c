// SPDX-License-Identifier: GPL-3.0-or-later
#include "SqliteAnalysisQueue.h"

#include "QueueText.h"

#include <sqlite3.h>

#include <set>
#include <stdexcept>

namespace spinemet
{
  namespace
  {
    double now()
    {
      return secondsNow();
    }

    const char* const COLUMNS =
      "series, study, state, wantedFingerprint, wantedModel, analysedFingerprint, analysedModel, trigger, "
      "errorCode, message, node, attempts, queuedAt, startedAt, finishedAt, outputs, seconds, slices, stageSeconds, "
      "retries, lastFailure, retryAt, leaseUntil";

    // Columns that later schema versions added, with their definitions: an older queue file gets them.
    const char* const ADDED_COLUMNS[][2] = {
      {"grownAt", "REAL NOT NULL DEFAULT 0"},            // spinemet-queue/1
      {"retries", "INTEGER NOT NULL DEFAULT 0"},         // spinemet-queue/2
      {"lastFailure", "TEXT NOT NULL DEFAULT ''"},
      {"retryAt", "REAL NOT NULL DEFAULT 0"},
      {"leaseUntil", "REAL NOT NULL DEFAULT 0"},
    };
    const char* const SCHEMA_VERSION = "spinemet-queue/2";
  }

  class SqliteAnalysisQueue::Statement
  {
  public:
    Statement(sqlite3* db, const std::string& sql) : db_(db)
    {
      if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement_, nullptr) != SQLITE_OK)
      {
        throw std::runtime_error(std::string("SQLite cannot prepare \"") + sql + "\": " + sqlite3_errmsg(db));
      }
    }
    ~Statement() { sqlite3_finalize(statement_); }

    Statement& bind(int index, const std::string& value)
    {
      check(sqlite3_bind_text(statement_, index, value.c_str(), -1, SQLITE_TRANSIENT));
      return *this;
    }
    Statement& bind(int index, int64_t value)
    {
      check(sqlite3_bind_int64(statement_, index, value));
      return *this;
    }
    Statement& bindDouble(int index, double value)
    {
      check(sqlite3_bind_double(statement_, index, value));
      return *this;
    }

    bool step()   // true while a row is available
    {
      int code = sqlite3_step(statement_);
      if (code == SQLITE_ROW) return true;
      if (code == SQLITE_DONE) return false;
      throw std::runtime_error(std::string("SQLite statement failed: ") + sqlite3_errmsg(db_));
    }

    std::string text(int column) const
    {
      const unsigned char* value = sqlite3_column_text(statement_, column);
      return value == nullptr ? std::string() : reinterpret_cast<const char*>(value);
    }
    int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }
    double real(int column) const { return sqlite3_column_double(statement_, column); }

    AnalysisRecord record() const
    {
      AnalysisRecord record;
      record.series = text(0);
      record.study = text(1);
      record.state = parseAnalysisState(text(2));
      record.wanted = {text(3), text(4)};
      record.analysed = {text(5), text(6)};
      record.trigger = text(7);
      record.errorCode = text(8);
      record.message = text(9);
      record.node = text(10);
      record.attempts = static_cast<int>(integer(11));
      record.queuedAt = real(12);
      record.startedAt = real(13);
      record.finishedAt = real(14);
      record.outputs = splitIds(text(15));
      record.seconds = real(16);
      record.slices = static_cast<uint64_t>(integer(17));
      record.stageSeconds = splitStages(text(18));
      record.retries = static_cast<int>(integer(19));
      record.lastFailure = text(20);
      record.retryAt = real(21);
      record.leaseUntil = real(22);
      return record;
    }

  private:
    void check(int code)
    {
      if (code != SQLITE_OK)
      {
        throw std::runtime_error(std::string("SQLite cannot bind a value: ") + sqlite3_errmsg(db_));
      }
    }

    sqlite3* db_;
    sqlite3_stmt* statement_ = nullptr;
  };

  // BEGIN IMMEDIATE: the write lock is taken up front, so two processes sharing the file (a test
  // tool next to Orthanc) never deadlock upgrading a read lock.
  class SqliteAnalysisQueue::Transaction
  {
  public:
    explicit Transaction(SqliteAnalysisQueue& queue) : queue_(queue)
    {
      queue_.execute("BEGIN IMMEDIATE");
    }
    ~Transaction()
    {
      if (!committed_)
      {
        sqlite3_exec(queue_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
      }
    }
    void commit()
    {
      queue_.execute("COMMIT");
      committed_ = true;
    }

  private:
    SqliteAnalysisQueue& queue_;
    bool committed_ = false;
  };

  SqliteAnalysisQueue::SqliteAnalysisQueue(const std::string& path, const QueuePolicy& policy) :
    path_(path), policy_(policy)
  {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK)
    {
      std::string reason = db_ == nullptr ? "out of memory" : sqlite3_errmsg(db_);
      sqlite3_close(db_);
      throw std::runtime_error("cannot open the SpineMet queue database " + path + ": " + reason);
    }
    try
    {
      sqlite3_busy_timeout(db_, 10000);
      execute("PRAGMA journal_mode=WAL");
      execute("PRAGMA synchronous=FULL");
      execute("CREATE TABLE IF NOT EXISTS analyses("
              " series TEXT PRIMARY KEY, study TEXT NOT NULL, state TEXT NOT NULL,"
              " wantedFingerprint TEXT NOT NULL DEFAULT '', wantedModel TEXT NOT NULL DEFAULT '',"
              " analysedFingerprint TEXT NOT NULL DEFAULT '', analysedModel TEXT NOT NULL DEFAULT '',"
              " trigger TEXT NOT NULL DEFAULT '', errorCode TEXT NOT NULL DEFAULT '',"
              " message TEXT NOT NULL DEFAULT '', node TEXT NOT NULL DEFAULT '',"
              " attempts INTEGER NOT NULL DEFAULT 0, queuedAt REAL NOT NULL DEFAULT 0,"
              " startedAt REAL NOT NULL DEFAULT 0, finishedAt REAL NOT NULL DEFAULT 0,"
              " outputs TEXT NOT NULL DEFAULT '', seconds REAL NOT NULL DEFAULT 0,"
              " slices INTEGER NOT NULL DEFAULT 0, stageSeconds TEXT NOT NULL DEFAULT '',"
              " grownAt REAL NOT NULL DEFAULT 0, retries INTEGER NOT NULL DEFAULT 0,"
              " lastFailure TEXT NOT NULL DEFAULT '', retryAt REAL NOT NULL DEFAULT 0,"
              " leaseUntil REAL NOT NULL DEFAULT 0)");
      // A queue database of an earlier version lacks the columns added since.
      std::set<std::string> existing;
      {
        Statement columns(db_, "PRAGMA table_info(analyses)");
        while (columns.step()) existing.insert(columns.text(1));
      }
      for (const auto& column : ADDED_COLUMNS)
      {
        if (existing.count(column[0]) == 0)
        {
          execute((std::string("ALTER TABLE analyses ADD COLUMN ") + column[0] + " " + column[1]).c_str());
        }
      }
      execute("CREATE INDEX IF NOT EXISTS analysesByState ON analyses(state, queuedAt)");
      execute("CREATE INDEX IF NOT EXISTS analysesByStudy ON analyses(study)");
      execute("CREATE TABLE IF NOT EXISTS properties(name TEXT PRIMARY KEY, value TEXT NOT NULL)");
      Statement version(db_, "INSERT INTO properties VALUES('schema', ?)"
                             " ON CONFLICT(name) DO UPDATE SET value = excluded.value");
      version.bind(1, std::string(SCHEMA_VERSION)).step();
    }
    catch (const std::exception& error)
    {
      sqlite3_close(db_);
      throw std::runtime_error("cannot use the SpineMet queue database " + path + ": " + error.what());
    }
  }

  SqliteAnalysisQueue::~SqliteAnalysisQueue()
  {
    sqlite3_close(db_);
  }

  void SqliteAnalysisQueue::execute(const char* sql)
  {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK)
    {
      std::string message = error == nullptr ? "unknown error" : error;
      sqlite3_free(error);
      throw std::runtime_error(std::string("SQLite failed on \"") + sql + "\": " + message);
    }
  }

  std::optional<AnalysisRecord> SqliteAnalysisQueue::findLocked(const std::string& series)
  {
    Statement select(db_, std::string("SELECT ") + COLUMNS + " FROM analyses WHERE series = ?");
    select.bind(1, series);
    if (select.step())
    {
      return select.record();
    }
    return std::nullopt;
  }

  EnqueueOutcome SqliteAnalysisQueue::enqueue(const EnqueueRequest& request)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction transaction(*this);
    std::optional<AnalysisRecord> existing = findLocked(request.series);
    const EnqueueDecision decision = decideEnqueue(existing, request);
    if (!existing)
    {
      Statement insert(db_, "INSERT INTO analyses(series, study, state) VALUES(?, ?, 'queued')");
      insert.bind(1, request.series).bind(2, request.study).step();
    }

    switch (decision.write)
    {
      case EnqueueDecision::Write::QueueAfresh:
      {
        Statement update(db_,
          "UPDATE analyses SET study = ?, wantedFingerprint = ?, wantedModel = ?, trigger = ?, state = 'queued',"
          " errorCode = '', message = '', node = '', attempts = 0, queuedAt = ?, grownAt = 0, retries = 0,"
          " lastFailure = '', retryAt = 0, leaseUntil = 0 WHERE series = ?");
        update.bind(1, request.study).bind(2, request.key.fingerprint).bind(3, request.key.modelVersion)
              .bind(4, request.trigger).bindDouble(5, now()).bind(6, request.series).step();
        break;
      }
      case EnqueueDecision::Write::UpdateWaiting:
      {
        Statement update(db_,
          "UPDATE analyses SET study = ?, wantedFingerprint = ?, wantedModel = ?, trigger = ? WHERE series = ?");
        update.bind(1, request.study).bind(2, request.key.fingerprint).bind(3, request.key.modelVersion)
              .bind(4, request.trigger).bind(5, request.series).step();
        break;
      }
      case EnqueueDecision::Write::SetWantedKey:
      {
        Statement update(db_, "UPDATE analyses SET wantedFingerprint = ?, wantedModel = ? WHERE series = ?");
        update.bind(1, request.key.fingerprint).bind(2, request.key.modelVersion).bind(3, request.series).step();
        break;
      }
      case EnqueueDecision::Write::ForgetWantedKey:
      {
        Statement reset(db_, "UPDATE analyses SET wantedFingerprint = '' WHERE series = ?");
        reset.bind(1, request.series).step();
        break;
      }
      case EnqueueDecision::Write::ClearGrown:
      {
        Statement clear(db_, "UPDATE analyses SET grownAt = 0 WHERE series = ? AND grownAt != 0");
        clear.bind(1, request.series).step();
        break;
      }
      case EnqueueDecision::Write::Nothing:
        break;
    }
    transaction.commit();
    return decision.outcome;
  }

  void SqliteAnalysisQueue::noteReceiving(const std::string& series, double notedAt)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement insert(db_, "INSERT OR IGNORE INTO analyses(series, study, state, queuedAt) VALUES(?, '', 'receiving', ?)");
    insert.bind(1, series).bindDouble(2, notedAt).step();
  }

  void SqliteAnalysisQueue::noteGrown(const std::string& series, double notedAt)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Only an ended row: a receiving, queued or running one covers the new instances already. The
    // first arrival counts, so that a series still growing at a restart is found by its run.
    Statement update(db_, "UPDATE analyses SET grownAt = ? WHERE series = ? AND grownAt = 0"
                          " AND state IN ('done', 'failed', 'skipped', 'cancelled')");
    update.bindDouble(1, notedAt).bind(2, series).step();
  }

  std::vector<std::string> SqliteAnalysisQueue::receivingBefore(double time)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement select(db_, "SELECT series FROM analyses WHERE (state = 'receiving' AND queuedAt < ?)"
                          " OR (grownAt > 0 AND grownAt < ?) ORDER BY CASE WHEN state = 'receiving' THEN queuedAt ELSE grownAt END, series");
    select.bindDouble(1, time).bindDouble(2, time);
    std::vector<std::string> series;
    while (select.step()) series.push_back(select.text(0));
    return series;
  }

  void SqliteAnalysisQueue::skip(const std::string& series, const std::string& study,
                                 const std::string& code, const std::string& message)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement upsert(db_,
      "INSERT INTO analyses(series, study, state, errorCode, message, finishedAt) VALUES(?, ?, 'skipped', ?, ?, ?)"
      " ON CONFLICT(series) DO UPDATE SET state = 'skipped', errorCode = excluded.errorCode,"
      " message = excluded.message, finishedAt = excluded.finishedAt, node = '', grownAt = 0");
    upsert.bind(1, series).bind(2, study).bind(3, code).bind(4, message).bindDouble(5, now()).step();
  }

  std::optional<AnalysisRecord> SqliteAnalysisQueue::claim(const std::string& node)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction transaction(*this);
    const double time = now();
    std::optional<std::string> series;
    {
      Statement oldest(db_, "SELECT series FROM analyses WHERE (state = 'queued' AND retryAt <= ?)"
                            " OR (state = 'running' AND leaseUntil > 0 AND leaseUntil < ?)"
                            " ORDER BY queuedAt, series LIMIT 1");
      oldest.bindDouble(1, time).bindDouble(2, time);
      if (oldest.step())
      {
        series = oldest.text(0);
      }
    }
    if (!series)
    {
      return std::nullopt;
    }
    Statement update(db_, "UPDATE analyses SET state = 'running', node = ?, attempts = attempts + 1,"
                          " startedAt = ?, leaseUntil = ? WHERE series = ?");
    update.bind(1, node).bindDouble(2, time).bindDouble(3, time + policy_.leaseSeconds).bind(4, *series).step();
    std::optional<AnalysisRecord> claimed = findLocked(*series);
    transaction.commit();
    return claimed;
  }

  size_t SqliteAnalysisQueue::renewLeases(const std::string& node)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement update(db_, "UPDATE analyses SET leaseUntil = ? WHERE state = 'running' AND node = ?");
    update.bindDouble(1, now() + policy_.leaseSeconds).bind(2, node).step();
    return static_cast<size_t>(sqlite3_changes(db_));
  }

  bool SqliteAnalysisQueue::finish(const std::string& series, const ClaimHolder& holder, const FinishedAnalysis& finished)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction transaction(*this);
    std::optional<AnalysisRecord> existing = findLocked(series);
    if (!existing)
    {
      throw std::runtime_error("the queue has no analysis of series " + series);
    }
    if (!holdsClaim(*existing, holder))
    {
      return false;          // taken over once its lease ran out: the new claim's end counts
    }
    // Queued again only when the wanted key changed while the analysis ran (the series grew, a new
    // model, a manual request). Comparing with the analysed key instead would loop forever on a
    // series whose instances differ from what was wanted (a forced request, a deleted instance).
    bool changedWhileRunning = existing->wanted.fingerprint != finished.claimed.fingerprint ||
                               existing->wanted.modelVersion != finished.claimed.modelVersion;
    const char* state = changedWhileRunning ? "queued" : "done";
    // A finished analysis wants what it analysed, so that the next StableSeries compares with that.
    const AnalysisKey& wanted = changedWhileRunning ? existing->wanted : finished.analysed;
    Statement update(db_,
      "UPDATE analyses SET state = ?, analysedFingerprint = ?, analysedModel = ?, outputs = ?, seconds = ?,"
      " slices = ?, finishedAt = ?, errorCode = '', message = '', attempts = 0, leaseUntil = 0, retryAt = 0,"
      " queuedAt = CASE WHEN ? = 'queued' THEN ? ELSE queuedAt END, stageSeconds = ?,"
      " wantedFingerprint = ?, wantedModel = ? WHERE series = ?");
    double time = now();
    update.bind(1, state).bind(2, finished.analysed.fingerprint).bind(3, finished.analysed.modelVersion)
          .bind(4, joinIds(finished.outputs)).bindDouble(5, finished.seconds)
          .bind(6, static_cast<int64_t>(finished.slices)).bindDouble(7, time).bind(8, state)
          .bindDouble(9, time).bind(10, joinStages(finished.stageSeconds))
          .bind(11, wanted.fingerprint).bind(12, wanted.modelVersion).bind(13, series).step();
    transaction.commit();
    return true;
  }

  bool SqliteAnalysisQueue::end(const std::string& series, const AnalysisKey& claimed, const ClaimHolder& holder,
                               const AnalysisError& reason)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction transaction(*this);
    std::optional<AnalysisRecord> existing = findLocked(series);
    if (!existing)
    {
      throw std::runtime_error("the queue has no analysis of series " + series);
    }
    if (!holdsClaim(*existing, holder))
    {
      return false;          // taken over once its lease ran out: the new claim's end counts
    }
    const double time = now();
    const QueueEnd decision = decideEnd(*existing, claimed, reason, policy_, time);
    const bool queued = decision.state == AnalysisState::Queued;
    Statement update(db_, "UPDATE analyses SET state = ?, errorCode = ?, message = ?, retries = ?, lastFailure = ?,"
                          " retryAt = ?, leaseUntil = 0, attempts = ?,"
                          " queuedAt = CASE WHEN ? THEN ? ELSE queuedAt END,"
                          " finishedAt = CASE WHEN ? THEN finishedAt ELSE ? END,"
                          " node = CASE WHEN ? THEN '' ELSE node END WHERE series = ?");
    update.bind(1, std::string(toString(decision.state))).bind(2, decision.code).bind(3, decision.message)
          .bind(4, static_cast<int64_t>(decision.retries)).bind(5, decision.lastFailure)
          .bindDouble(6, decision.retryAt).bind(7, static_cast<int64_t>(decision.attempts))
          .bind(8, static_cast<int64_t>(decision.requeued)).bindDouble(9, time)
          .bind(10, static_cast<int64_t>(queued)).bindDouble(11, time)
          .bind(12, static_cast<int64_t>(queued)).bind(13, series).step();
    transaction.commit();
    return true;
  }

  bool SqliteAnalysisQueue::cancelQueued(const std::string& series, const std::string& message)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement update(db_, "UPDATE analyses SET state = 'cancelled', errorCode = 'cancelled', message = ?,"
                          " finishedAt = ? WHERE series = ? AND state = 'queued'");
    update.bind(1, message).bindDouble(2, now()).bind(3, series).step();
    return sqlite3_changes(db_) > 0;
  }

  size_t SqliteAnalysisQueue::requeueInterrupted(const std::string& node)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement update(db_, "UPDATE analyses SET state = 'queued', node = '' WHERE state = 'running' AND node = ?");
    update.bind(1, node).step();
    return static_cast<size_t>(sqlite3_changes(db_));
  }

  std::optional<AnalysisRecord> SqliteAnalysisQueue::find(const std::string& series)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return findLocked(series);
  }

  std::vector<AnalysisRecord> SqliteAnalysisQueue::listStudy(const std::string& study)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement select(db_, std::string("SELECT ") + COLUMNS + " FROM analyses WHERE study = ? ORDER BY series");
    select.bind(1, study);
    std::vector<AnalysisRecord> records;
    while (select.step()) records.push_back(select.record());
    return records;
  }

  std::vector<AnalysisRecord> SqliteAnalysisQueue::listStates(const std::vector<AnalysisState>& states, size_t limit)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string placeholders;
    for (size_t i = 0; i < states.size(); i++) placeholders += i == 0 ? "?" : ", ?";
    Statement select(db_, std::string("SELECT ") + COLUMNS + " FROM analyses WHERE state IN (" + placeholders +
                          ") ORDER BY queuedAt, series LIMIT ?");
    int index = 1;
    for (AnalysisState state : states) select.bind(index++, std::string(toString(state)));
    select.bind(index, static_cast<int64_t>(limit));
    std::vector<AnalysisRecord> records;
    while (select.step()) records.push_back(select.record());
    return records;
  }

  std::map<AnalysisState, uint64_t> SqliteAnalysisQueue::countByState()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::map<AnalysisState, uint64_t> counts;
    for (int i = 0; i < ANALYSIS_STATE_COUNT; i++) counts[static_cast<AnalysisState>(i)] = 0;
    Statement select(db_, "SELECT state, COUNT(*) FROM analyses GROUP BY state");
    while (select.step()) counts[parseAnalysisState(select.text(0))] = static_cast<uint64_t>(select.integer(1));
    return counts;
  }

  int64_t SqliteAnalysisQueue::lastChange()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement select(db_, "SELECT value FROM properties WHERE name = 'lastChange'");
    return select.step() ? std::stoll(select.text(0)) : -1;
  }

  void SqliteAnalysisQueue::setLastChange(int64_t sequence)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement upsert(db_, "INSERT INTO properties VALUES('lastChange', ?)"
                          " ON CONFLICT(name) DO UPDATE SET value = excluded.value");
    upsert.bind(1, std::to_string(sequence)).step();
  }
}
