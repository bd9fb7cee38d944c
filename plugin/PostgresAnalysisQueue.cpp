// SPDX-License-Identifier: GPL-3.0-or-later
#include "PostgresAnalysisQueue.h"

#include "QueueText.h"

#include <libpq-fe.h>

#include <cstdio>
#include <stdexcept>

namespace spinemet
{
  namespace
  {
    const char* const COLUMNS =
      "series, study, state, wantedFingerprint, wantedModel, analysedFingerprint, analysedModel, trigger, "
      "errorCode, message, node, attempts, queuedAt, startedAt, finishedAt, outputs, seconds, slices, stageSeconds, "
      "retries, lastFailure, retryAt, leaseUntil";

    // The database server's clock, in seconds since the epoch: every node compares leases and
    // retries with the same clock, whatever the nodes' own clocks say.
    const char* const SERVER_NOW = "EXTRACT(EPOCH FROM clock_timestamp())::double precision";

    // Whoever creates or migrates the schema holds this lock: nodes starting together wait for it.
    const char* const SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(4711201712)";

    // Schema versions, in order; the queue migrates a database step by step to the last one.
    const int SCHEMA_VERSION = 1;

    std::string number(double value)
    {
      char text[32];
      std::snprintf(text, sizeof(text), "%.17g", value);
      return text;
    }

    // The server and database of a connection string, without its password.
    std::string describeConnection(pg_conn* db)
    {
      const char* host = PQhost(db);
      const char* port = PQport(db);
      const char* name = PQdb(db);
      return std::string("PostgreSQL ") + (host ? host : "?") + ":" + (port ? port : "?") + "/" + (name ? name : "?");
    }
  }

  class PostgresAnalysisQueue::Result
  {
  public:
    explicit Result(PGresult* result) : result_(result) {}
    Result(Result&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
    Result(const Result&) = delete;
    ~Result() { PQclear(result_); }

    int rows() const { return PQntuples(result_); }
    size_t changed() const
    {
      const char* count = PQcmdTuples(result_);
      return count == nullptr || *count == 0 ? 0 : std::stoul(count);
    }
    std::string text(int row, int column) const { return PQgetvalue(result_, row, column); }
    int64_t integer(int row, int column) const
    {
      const std::string value = text(row, column);
      return value.empty() ? 0 : std::stoll(value);
    }
    double real(int row, int column) const
    {
      const std::string value = text(row, column);
      return value.empty() ? 0 : std::stod(value);
    }

    AnalysisRecord record(int row) const
    {
      AnalysisRecord record;
      record.series = text(row, 0);
      record.study = text(row, 1);
      record.state = parseAnalysisState(text(row, 2));
      record.wanted = {text(row, 3), text(row, 4)};
      record.analysed = {text(row, 5), text(row, 6)};
      record.trigger = text(row, 7);
      record.errorCode = text(row, 8);
      record.message = text(row, 9);
      record.node = text(row, 10);
      record.attempts = static_cast<int>(integer(row, 11));
      record.queuedAt = real(row, 12);
      record.startedAt = real(row, 13);
      record.finishedAt = real(row, 14);
      record.outputs = splitIds(text(row, 15));
      record.seconds = real(row, 16);
      record.slices = static_cast<uint64_t>(integer(row, 17));
      record.stageSeconds = splitStages(text(row, 18));
      record.retries = static_cast<int>(integer(row, 19));
      record.lastFailure = text(row, 20);
      record.retryAt = real(row, 21);
      record.leaseUntil = real(row, 22);
      return record;
    }

  private:
  public:
    PGresult* raw() const { return result_; }

  private:
    PGresult* result_;
  };

  class PostgresAnalysisQueue::Transaction
  {
  public:
    explicit Transaction(PostgresAnalysisQueue& queue) : queue_(queue)
    {
      queue_.execute("BEGIN");
    }
    ~Transaction()
    {
      if (!committed_)
      {
        PQclear(PQexec(queue_.db_, "ROLLBACK"));
      }
    }
    void commit()
    {
      queue_.execute("COMMIT");
      committed_ = true;
    }

  private:
    PostgresAnalysisQueue& queue_;
    bool committed_ = false;
  };

  const char* PostgresAnalysisQueue::schemaVersion()
  {
    return "spinemet-queue/1";
  }

  PostgresAnalysisQueue::PostgresAnalysisQueue(const std::string& connection, const QueuePolicy& policy) :
    connection_(connection), policy_(policy)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    connect();
    try
    {
      createSchema();
    }
    catch (const std::exception& error)
    {
      PQfinish(db_);
      db_ = nullptr;
      throw std::runtime_error("cannot use the SpineMet queue in " + description_ + ": " + error.what());
    }
  }

  PostgresAnalysisQueue::~PostgresAnalysisQueue()
  {
    PQfinish(db_);
  }

  void PostgresAnalysisQueue::connect()
  {
    if (db_ != nullptr && PQstatus(db_) == CONNECTION_OK)
    {
      return;
    }
    if (db_ != nullptr)
    {
      PQreset(db_);
    }
    else
    {
      db_ = PQconnectdb(connection_.c_str());
    }
    if (db_ == nullptr)
    {
      throw std::runtime_error("cannot connect to PostgreSQL: out of memory");
    }
    description_ = describeConnection(db_);
    if (PQstatus(db_) != CONNECTION_OK)
    {
      std::string reason = PQerrorMessage(db_);
      while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
      throw std::runtime_error("cannot connect to the SpineMet queue in " + description_ + ": " + reason);
    }
    PQclear(PQexec(db_, "SET client_min_messages TO WARNING"));   // no NOTICE for IF NOT EXISTS
  }

  PostgresAnalysisQueue::Result PostgresAnalysisQueue::execute(const std::string& sql,
                                                               const std::vector<std::string>& parameters)
  {
    connect();
    std::vector<const char*> values;
    for (const std::string& parameter : parameters) values.push_back(parameter.c_str());
    Result result(PQexecParams(db_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.empty() ? nullptr : values.data(), nullptr, nullptr, 0));
    ExecStatusType status = PQresultStatus(result.raw());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    {
      std::string reason = PQerrorMessage(db_);
      while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
      throw std::runtime_error("PostgreSQL failed on \"" + sql + "\": " + reason);
    }
    return result;
  }

  void PostgresAnalysisQueue::createSchema()
  {
    Transaction transaction(*this);
    execute(SCHEMA_LOCK);
    execute("CREATE TABLE IF NOT EXISTS spinemet_properties(name TEXT PRIMARY KEY, value TEXT NOT NULL)");
    Result found = execute("SELECT value FROM spinemet_properties WHERE name = 'schema-version'");
    int version = found.rows() == 0 ? 0 : static_cast<int>(found.integer(0, 0));
    if (version > SCHEMA_VERSION)
    {
      throw std::runtime_error("the queue's schema is version " + std::to_string(version) + ", newer than this "
                               "SpineMet knows (" + std::to_string(SCHEMA_VERSION) + "): a newer SpineMet node "
                               "migrated it; run the same version on every node");
    }
    if (version < 1)
    {
      execute("CREATE TABLE spinemet_analyses("
              " series TEXT PRIMARY KEY, study TEXT NOT NULL, state TEXT NOT NULL,"
              " wantedFingerprint TEXT NOT NULL DEFAULT '', wantedModel TEXT NOT NULL DEFAULT '',"
              " analysedFingerprint TEXT NOT NULL DEFAULT '', analysedModel TEXT NOT NULL DEFAULT '',"
              " trigger TEXT NOT NULL DEFAULT '', errorCode TEXT NOT NULL DEFAULT '',"
              " message TEXT NOT NULL DEFAULT '', node TEXT NOT NULL DEFAULT '',"
              " attempts INTEGER NOT NULL DEFAULT 0, queuedAt DOUBLE PRECISION NOT NULL DEFAULT 0,"
              " startedAt DOUBLE PRECISION NOT NULL DEFAULT 0, finishedAt DOUBLE PRECISION NOT NULL DEFAULT 0,"
              " outputs TEXT NOT NULL DEFAULT '', seconds DOUBLE PRECISION NOT NULL DEFAULT 0,"
              " slices BIGINT NOT NULL DEFAULT 0, stageSeconds TEXT NOT NULL DEFAULT '',"
              " grownAt DOUBLE PRECISION NOT NULL DEFAULT 0, retries INTEGER NOT NULL DEFAULT 0,"
              " lastFailure TEXT NOT NULL DEFAULT '', retryAt DOUBLE PRECISION NOT NULL DEFAULT 0,"
              " leaseUntil DOUBLE PRECISION NOT NULL DEFAULT 0)");
      execute("CREATE INDEX spinemet_analyses_by_state ON spinemet_analyses(state, queuedAt)");
      execute("CREATE INDEX spinemet_analyses_by_study ON spinemet_analyses(study)");
    }
    // A later version adds its step here: if (version < 2) { ALTER TABLE ...; }
    execute("INSERT INTO spinemet_properties VALUES('schema-version', $1)"
            " ON CONFLICT(name) DO UPDATE SET value = excluded.value", {std::to_string(SCHEMA_VERSION)});
    transaction.commit();
  }

  std::optional<AnalysisRecord> PostgresAnalysisQueue::findLocked(const std::string& series, bool forUpdate)
  {
    Result result = execute(std::string("SELECT ") + COLUMNS + " FROM spinemet_analyses WHERE series = $1" +
                            (forUpdate ? " FOR UPDATE" : ""), {series});
    if (result.rows() == 0)
    {
      return std::nullopt;
    }
    return result.record(0);
  }

  std::vector<AnalysisRecord> PostgresAnalysisQueue::records(Result& result)
  {
    std::vector<AnalysisRecord> records;
    for (int row = 0; row < result.rows(); row++) records.push_back(result.record(row));
    return records;
  }

  EnqueueOutcome PostgresAnalysisQueue::enqueue(const EnqueueRequest& request)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction transaction(*this);
    // Two nodes may admit a new series at once: the insert decides which one made it, the row
    // lock orders the rest.
    Result inserted = execute("INSERT INTO spinemet_analyses(series, study, state) VALUES($1, $2, 'queued')"
                              " ON CONFLICT(series) DO NOTHING", {request.series, request.study});
    const bool isNew = inserted.changed() > 0;
    std::optional<AnalysisRecord> existing = findLocked(request.series, true);
    const EnqueueDecision decision = decideEnqueue(isNew ? std::nullopt : existing, request);

    switch (decision.write)
    {
      case EnqueueDecision::Write::QueueAfresh:
        execute(std::string("UPDATE spinemet_analyses SET study = $1, wantedFingerprint = $2, wantedModel = $3,"
                " trigger = $4, state = 'queued', errorCode = '', message = '', node = '', attempts = 0,"
                " queuedAt = ") + SERVER_NOW + ", grownAt = 0, retries = 0, lastFailure = '', retryAt = 0,"
                " leaseUntil = 0 WHERE series = $5",
                {request.study, request.key.fingerprint, request.key.modelVersion, request.trigger, request.series});
        break;
      case EnqueueDecision::Write::UpdateWaiting:
        execute("UPDATE spinemet_analyses SET study = $1, wantedFingerprint = $2, wantedModel = $3, trigger = $4"
                " WHERE series = $5",
                {request.study, request.key.fingerprint, request.key.modelVersion, request.trigger, request.series});
        break;
      case EnqueueDecision::Write::SetWantedKey:
        execute("UPDATE spinemet_analyses SET wantedFingerprint = $1, wantedModel = $2 WHERE series = $3",
                {request.key.fingerprint, request.key.modelVersion, request.series});
        break;
      case EnqueueDecision::Write::ForgetWantedKey:
        execute("UPDATE spinemet_analyses SET wantedFingerprint = '' WHERE series = $1", {request.series});
        break;
      case EnqueueDecision::Write::ClearGrown:
        execute("UPDATE spinemet_analyses SET grownAt = 0 WHERE series = $1 AND grownAt != 0", {request.series});
        break;
      case EnqueueDecision::Write::Nothing:
        break;
    }
    transaction.commit();
    return decision.outcome;
  }

  void PostgresAnalysisQueue::noteReceiving(const std::string& series, double notedAt)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    execute("INSERT INTO spinemet_analyses(series, study, state, queuedAt) VALUES($1, '', 'receiving', $2)"
            " ON CONFLICT(series) DO NOTHING", {series, number(notedAt)});
  }

  void PostgresAnalysisQueue::noteGrown(const std::string& series, double notedAt)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    execute("UPDATE spinemet_analyses SET grownAt = $1 WHERE series = $2 AND grownAt = 0"
            " AND state IN ('done', 'failed', 'skipped', 'cancelled')", {number(notedAt), series});
  }

  std::vector<std::string> PostgresAnalysisQueue::receivingBefore(double time)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Result result = execute("SELECT series FROM spinemet_analyses WHERE (state = 'receiving' AND queuedAt < $1)"
                            " OR (grownAt > 0 AND grownAt < $1)"
                            " ORDER BY CASE WHEN state = 'receiving' THEN queuedAt ELSE grownAt END, series",
                            {number(time)});
    std::vector<std::string> series;
    for (int row = 0; row < result.rows(); row++) series.push_back(result.text(row, 0));
    return series;
  }

  void PostgresAnalysisQueue::skip(const std::string& series, const std::string& study,
                                   const std::string& code, const std::string& message)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    execute(std::string("INSERT INTO spinemet_analyses(series, study, state, errorCode, message, finishedAt)"
            " VALUES($1, $2, 'skipped', $3, $4, ") + SERVER_NOW + ")"
            " ON CONFLICT(series) DO UPDATE SET state = 'skipped', errorCode = excluded.errorCode,"
            " message = excluded.message, finishedAt = excluded.finishedAt, node = '', grownAt = 0, leaseUntil = 0",
            {series, study, code, message});
  }

  std::optional<AnalysisRecord> PostgresAnalysisQueue::claim(const std::string& node)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // One statement: the oldest claimable row is locked (rows other nodes are claiming right now
    // are skipped, not waited for) and becomes this node's.
    Result result = execute(
      std::string("WITH claimable AS (SELECT series FROM spinemet_analyses") +
      " WHERE (state = 'queued' AND retryAt <= " + SERVER_NOW + ")"
      " OR (state = 'running' AND leaseUntil > 0 AND leaseUntil < " + SERVER_NOW + ")"
      " ORDER BY queuedAt, series LIMIT 1 FOR UPDATE SKIP LOCKED)"
      " UPDATE spinemet_analyses AS a SET state = 'running', node = $1, attempts = a.attempts + 1,"
      " startedAt = " + SERVER_NOW + ", leaseUntil = " + SERVER_NOW + " + $2::double precision"
      " FROM claimable WHERE a.series = claimable.series RETURNING " +
      "a.series, a.study, a.state, a.wantedFingerprint, a.wantedModel, a.analysedFingerprint, a.analysedModel,"
      " a.trigger, a.errorCode, a.message, a.node, a.attempts, a.queuedAt, a.startedAt, a.finishedAt, a.outputs,"
      " a.seconds, a.slices, a.stageSeconds, a.retries, a.lastFailure, a.retryAt, a.leaseUntil",
      {node, number(policy_.leaseSeconds)});
    if (result.rows() == 0)
    {
      return std::nullopt;
    }
    return result.record(0);
  }

  size_t PostgresAnalysisQueue::renewLeases(const std::string& node)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return execute(std::string("UPDATE spinemet_analyses SET leaseUntil = ") + SERVER_NOW +
                   " + $1::double precision WHERE state = 'running' AND node = $2",
                   {number(policy_.leaseSeconds), node}).changed();
  }

  bool PostgresAnalysisQueue::finish(const std::string& series, const ClaimHolder& holder, const FinishedAnalysis& finished)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction transaction(*this);
    std::optional<AnalysisRecord> existing = findLocked(series, true);
    if (!existing)
    {
      throw std::runtime_error("the queue has no analysis of series " + series);
    }
    if (!holdsClaim(*existing, holder))
    {
      return false;          // taken over once its lease ran out: the new claim's end counts
    }
    // As SqliteAnalysisQueue::finish: queued again only when the wanted key changed while it ran.
    bool changedWhileRunning = existing->wanted.fingerprint != finished.claimed.fingerprint ||
                               existing->wanted.modelVersion != finished.claimed.modelVersion;
    const std::string state = changedWhileRunning ? "queued" : "done";
    const AnalysisKey& wanted = changedWhileRunning ? existing->wanted : finished.analysed;
    execute(std::string("UPDATE spinemet_analyses SET state = $1, analysedFingerprint = $2, analysedModel = $3,"
            " outputs = $4, seconds = $5, slices = $6, finishedAt = ") + SERVER_NOW + ", errorCode = '',"
            " message = '', attempts = 0, leaseUntil = 0, retryAt = 0,"
            " queuedAt = CASE WHEN $1 = 'queued' THEN " + SERVER_NOW + " ELSE queuedAt END, stageSeconds = $7,"
            " wantedFingerprint = $8, wantedModel = $9 WHERE series = $10",
            {state, finished.analysed.fingerprint, finished.analysed.modelVersion, joinIds(finished.outputs),
             number(finished.seconds), std::to_string(finished.slices), joinStages(finished.stageSeconds),
             wanted.fingerprint, wanted.modelVersion, series});
    transaction.commit();
    return true;
  }

  bool PostgresAnalysisQueue::end(const std::string& series, const AnalysisKey& claimed, const ClaimHolder& holder,
                               const AnalysisError& reason)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction transaction(*this);
    std::optional<AnalysisRecord> existing = findLocked(series, true);
    if (!existing)
    {
      throw std::runtime_error("the queue has no analysis of series " + series);
    }
    if (!holdsClaim(*existing, holder))
    {
      return false;          // taken over once its lease ran out: the new claim's end counts
    }
    const double time = execute(std::string("SELECT ") + SERVER_NOW).real(0, 0);
    const QueueEnd decision = decideEnd(*existing, claimed, reason, policy_, time);
    const bool queued = decision.state == AnalysisState::Queued;
    execute("UPDATE spinemet_analyses SET state = $1, errorCode = $2, message = $3, retries = $4, lastFailure = $5,"
            " retryAt = $6, leaseUntil = 0, attempts = $7,"
            " queuedAt = CASE WHEN $8::boolean THEN $9 ELSE queuedAt END,"
            " finishedAt = CASE WHEN $10::boolean THEN finishedAt ELSE $9 END,"
            " node = CASE WHEN $10::boolean THEN '' ELSE node END WHERE series = $11",
            {toString(decision.state), decision.code, decision.message, std::to_string(decision.retries),
             decision.lastFailure, number(decision.retryAt), std::to_string(decision.attempts),
             decision.requeued ? "true" : "false", number(time), queued ? "true" : "false", series});
    transaction.commit();
    return true;
  }

  bool PostgresAnalysisQueue::cancelQueued(const std::string& series, const std::string& message)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return execute(std::string("UPDATE spinemet_analyses SET state = 'cancelled', errorCode = 'cancelled',"
                   " message = $1, finishedAt = ") + SERVER_NOW + " WHERE series = $2 AND state = 'queued'",
                   {message, series}).changed() > 0;
  }

  size_t PostgresAnalysisQueue::requeueInterrupted(const std::string& node)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return execute("UPDATE spinemet_analyses SET state = 'queued', node = '', leaseUntil = 0"
                   " WHERE state = 'running' AND node = $1", {node}).changed();
  }

  std::optional<AnalysisRecord> PostgresAnalysisQueue::find(const std::string& series)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return findLocked(series, false);
  }

  std::vector<AnalysisRecord> PostgresAnalysisQueue::listStudy(const std::string& study)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Result result = execute(std::string("SELECT ") + COLUMNS +
                            " FROM spinemet_analyses WHERE study = $1 ORDER BY series", {study});
    return records(result);
  }

  std::vector<AnalysisRecord> PostgresAnalysisQueue::listStates(const std::vector<AnalysisState>& states,
                                                                size_t limit)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> parameters;
    std::string placeholders;
    for (AnalysisState state : states)
    {
      parameters.push_back(toString(state));
      placeholders += (placeholders.empty() ? "$" : ", $") + std::to_string(parameters.size());
    }
    if (parameters.empty())
    {
      return {};
    }
    parameters.push_back(std::to_string(limit));
    Result result = execute(std::string("SELECT ") + COLUMNS + " FROM spinemet_analyses WHERE state IN (" +
                            placeholders + ") ORDER BY queuedAt, series LIMIT $" + std::to_string(parameters.size()),
                            parameters);
    return records(result);
  }

  std::map<AnalysisState, uint64_t> PostgresAnalysisQueue::countByState()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::map<AnalysisState, uint64_t> counts;
    for (int i = 0; i < ANALYSIS_STATE_COUNT; i++) counts[static_cast<AnalysisState>(i)] = 0;
    Result result = execute("SELECT state, COUNT(*) FROM spinemet_analyses GROUP BY state");
    for (int row = 0; row < result.rows(); row++)
    {
      counts[parseAnalysisState(result.text(row, 0))] = static_cast<uint64_t>(result.integer(row, 1));
    }
    return counts;
  }

  int64_t PostgresAnalysisQueue::lastChange()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Result result = execute("SELECT value FROM spinemet_properties WHERE name = 'lastChange'");
    return result.rows() == 0 ? -1 : result.integer(0, 0);
  }

  void PostgresAnalysisQueue::setLastChange(int64_t sequence)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Every node that queues series follows the one change log of the shared index: the mark
    // only moves forward, whichever node read further.
    execute("INSERT INTO spinemet_properties VALUES('lastChange', $1)"
            " ON CONFLICT(name) DO UPDATE SET value ="
            " GREATEST(spinemet_properties.value::bigint, excluded.value::bigint)::text",
            {std::to_string(sequence)});
  }
}
