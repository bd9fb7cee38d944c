// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The durable record of what SpineMet has to do and has done, one row per Orthanc series. The
// dispatcher only talks to this interface: the embedded SQLite store (SqliteAnalysisQueue) serves a
// single Orthanc node; the store on PostgreSQL (PostgresAnalysisQueue) serves several nodes sharing
// one Orthanc index, with the same rules: claims are row locks (SELECT ... FOR UPDATE SKIP
// LOCKED) and each claim holds a lease that its node renews, so that the claims of a node that
// died are taken over by another once the lease ran out (docs/scale-out.md).

#include "common/AnalysisError.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace spinemet
{
  enum class AnalysisState
  {
    Receiving,   // instances are arriving; Orthanc has not called the series stable yet
    Queued,      // waiting for a worker
    Running,     // claimed by a node; back to Queued if that node restarts, or taken over by another
                 // node once its lease ran out
    Done,        // the current result is stored
    Failed,      // the reason (an AnalysisError) is in errorCode/message
    Skipped,     // not a series SpineMet analyses (the reason says which rule)
    Cancelled    // cancelled from Orthanc's job list or the REST API
  };

  static const int ANALYSIS_STATE_COUNT = 7;

  const char* toString(AnalysisState state);

  // The row's state once an analysis ended (common/AnalysisError.h): the same words (done, failed,
  // cancelled); an interrupted one stays Running until its node starts again.
  inline AnalysisState stateAfter(AnalysisEnd end)
  {
    switch (end)
    {
      case AnalysisEnd::Done: return AnalysisState::Done;
      case AnalysisEnd::Failed: return AnalysisState::Failed;
      case AnalysisEnd::Cancelled: return AnalysisState::Cancelled;
      case AnalysisEnd::Interrupted: return AnalysisState::Running;
    }
    return AnalysisState::Failed;
  }
  AnalysisState parseAnalysisState(const std::string& text);     // throws std::invalid_argument

  // What identifies one analysis: the same series with the same instances and model is the same
  // analysis, and is not run twice.
  struct AnalysisKey
  {
    std::string fingerprint;         // of the series' instances (see instancesFingerprint)
    std::string modelVersion;        // model name and version
  };

  struct AnalysisRecord
  {
    std::string series;              // Orthanc series ID
    std::string study;               // Orthanc study ID
    AnalysisState state = AnalysisState::Queued;
    AnalysisKey wanted;              // what the next analysis should cover
    AnalysisKey analysed;            // what the current result covers (empty before the first)
    std::string trigger;             // "stable-series", "manual", ...
    std::string errorCode;           // why it failed or was skipped
    std::string message;
    std::string node;                // the node that claimed it
    int attempts = 0;                // starts of the current analysis, restarts and retries included
    int retries = 0;                 // transient failures of the current analysis that were retried
    std::string lastFailure;         // "[code] message" of the last transient failure, retried or not
    double retryAt = 0;              // a queued retry is not claimed before (seconds since the epoch)
    double leaseUntil = 0;           // a running claim is taken over after it (seconds since the epoch)
    double queuedAt = 0;             // seconds since the epoch
    double startedAt = 0;
    double finishedAt = 0;
    std::vector<std::string> outputs;// Orthanc instance IDs of the current result's SR and overlays
    double seconds = 0;              // of the last finished analysis
    uint64_t slices = 0;
    std::map<std::string, double> stageSeconds;   // where that time went ("read", "classify", ...)
  };

  enum class EnqueueOutcome
  {
    Queued,          // a new analysis is waiting
    Updated,         // it was already waiting; its key is now the new one
    Pending,         // running: it will run again once the current run finishes
    UpToDate         // the current result (or failure) already covers this key
  };

  const char* toString(EnqueueOutcome outcome);

  struct EnqueueRequest
  {
    std::string series;
    std::string study;
    AnalysisKey key;
    std::string trigger;
    bool force = false;              // analyse again even if the current result covers the key
  };

  // What enqueue() does to the row, whichever store holds it: both stores read the row, call
  // decideEnqueue and write what it says, in one transaction.
  struct EnqueueDecision
  {
    enum class Write
    {
      QueueAfresh,       // Queued with the request's key, study and trigger; attempts, retries, reason cleared
      UpdateWaiting,     // still Queued: keeps its place, takes the request's key, study and trigger
      SetWantedKey,      // Running: the wanted key becomes the request's, so that it runs again afterwards
      ForgetWantedKey,   // Running, forced: the wanted key is cleared, so that it runs once more afterwards
      ClearGrown,        // up to date: it was looked at, so it no longer counts as grown
      Nothing            // Running with the same key
    };
    EnqueueOutcome outcome = EnqueueOutcome::Queued;
    Write write = Write::QueueAfresh;
  };

  // The enqueue rules: a new series is queued; a queued one keeps its place and covers the newest
  // instances; a running one runs again afterwards when its key changed or the request is forced;
  // an ended one (done, failed) is up to date when its key is the same (unless forced), otherwise
  // queued afresh; a receiving, skipped or cancelled one is always queued afresh. `existing` is the
  // row before the request (none: a new series).
  EnqueueDecision decideEnqueue(const std::optional<AnalysisRecord>& existing, const EnqueueRequest& request);

  // Who holds a running analysis: the node that claimed it and the attempt that claim started
  // (AnalysisRecord's node and attempts as claim() returned them). finish() and end() count only
  // while their node still holds the claim: once its lease ran out and the series was claimed again
  // (by another node, or by the same one), the attempt differs and a late end is refused.
  struct ClaimHolder
  {
    std::string node;
    int attempt = 0;
  };

  inline ClaimHolder holderOf(const AnalysisRecord& claimed)
  {
    return {claimed.node, claimed.attempts};
  }

  // Whether `row` is still the running claim of `holder`.
  bool holdsClaim(const AnalysisRecord& row, const ClaimHolder& holder);

  struct FinishedAnalysis
  {
    AnalysisKey claimed;             // the wanted key when the analysis was claimed
    AnalysisKey analysed;            // what was analysed (instances read, model used)
    std::vector<std::string> outputs;
    double seconds = 0;
    uint64_t slices = 0;
    std::map<std::string, double> stageSeconds;
  };

  // How long claims last and how failures of a transient kind are retried (Configuration.h:
  // LeaseSeconds, MaximumAttempts, RetryDelay, MaximumRetryDelay).
  struct QueuePolicy
  {
    double leaseSeconds = 60;          // a claim without a heartbeat for this long is taken over
    unsigned maximumAttempts = 3;      // starts of one analysis before a transient failure is final
    double retryDelaySeconds = 30;     // before the first retry; doubled for each further one
    double maximumRetryDelaySeconds = 600;
  };

  // A failure that may pass on a second try: Orthanc busy or timing out while the pixels are
  // read (fetch) or the outputs stored (store), the compute device unavailable, memory exhausted.
  // Everything else says something about the series or the model and is final at once.
  bool isTransientFailure(const AnalysisError& reason);

  // Seconds before retry number `retry` (1 for the first): the policy's delay, doubled each time,
  // at most its maximum.
  double retryDelay(const QueuePolicy& policy, int retry);

  // What end() makes of a row (both stores apply it in one transaction).
  struct QueueEnd
  {
    AnalysisState state = AnalysisState::Failed;
    std::string code;
    std::string message;
    int retries = 0;
    std::string lastFailure;
    double retryAt = 0;
    int attempts = 0;
    bool requeued = false;           // queued afresh (a new key): its place is now
  };

  QueueEnd decideEnd(const AnalysisRecord& existing, const AnalysisKey& claimed, const AnalysisError& reason,
                     const QueuePolicy& policy, double now);

  class AnalysisQueue
  {
  public:
    virtual ~AnalysisQueue() = default;

    virtual EnqueueOutcome enqueue(const EnqueueRequest& request) = 0;

    // Records a new series whose instances are arriving (Orthanc's NewSeries change), unless the
    // series is known already; `notedAt` (seconds since the epoch) says in which run of Orthanc it
    // arrived. Orthanc does not remember across a restart which series it has not yet called
    // stable, so the plugin does: see receivingBefore().
    virtual void noteReceiving(const std::string& series, double notedAt) = 0;

    // Records that an instance arrived in a series whose analysis had ended (done, failed, skipped,
    // cancelled): Orthanc calls it stable again and the series is admitted then, but not if
    // Orthanc stops first, so the mark (cleared by the next enqueue or skip) lasts across restarts.
    virtual void noteGrown(const std::string& series, double notedAt) = 0;

    // Series still Receiving, or grown after their analysis ended, that were noted before `time`
    // (seconds since the epoch).
    virtual std::vector<std::string> receivingBefore(double time) = 0;

    // Records a series that the selection rules leave out (or Orthanc no longer has).
    virtual void skip(const std::string& series, const std::string& study,
                      const std::string& code, const std::string& message) = 0;

    // The oldest queued series whose retry is due, or a running one whose lease ran out (its node
    // died), now Running on `node` with one more attempt and a fresh lease; nothing when idle.
    virtual std::optional<AnalysisRecord> claim(const std::string& node) = 0;

    // The heartbeat: extends the lease of every analysis `node` is running. Returns how many.
    virtual size_t renewLeases(const std::string& node) = 0;

    // Done; if the wanted key changed meanwhile (the series grew), straight back to Queued. False,
    // leaving the row as it is, when `holder` no longer holds the claim (holdsClaim).
    virtual bool finish(const std::string& series, const ClaimHolder& holder, const FinishedAnalysis& finished) = 0;

    // The run claimed with the wanted key `claimed` ended without a result. If the wanted key
    // changed meanwhile (the series grew, a new model, a manual request), the series goes straight
    // back to Queued instead: the failure or the cancel belongs to the instances of that run.
    // `reason` is the one error of the analysis (common/AnalysisError.h): "cancelled" leaves the row
    // Cancelled; a transient failure (isTransientFailure) before the policy's last attempt queues it
    // again with a backoff (retries, lastFailure, retryAt); any other code leaves it Failed with
    // that code and message (REST: Reason). False, leaving the row as it is, when `holder` no longer
    // holds the claim (holdsClaim).
    virtual bool end(const std::string& series, const AnalysisKey& claimed, const ClaimHolder& holder,
                     const AnalysisError& reason) = 0;

    // Cancels a series that waits in the queue; false if it is not Queued (any more).
    virtual bool cancelQueued(const std::string& series, const std::string& message) = 0;

    // Puts the series that `node` was running back in the queue: called when the node starts, so
    // that analyses interrupted by a stop or a crash run again. Returns how many.
    virtual size_t requeueInterrupted(const std::string& node) = 0;

    virtual std::optional<AnalysisRecord> find(const std::string& series) = 0;
    virtual std::vector<AnalysisRecord> listStudy(const std::string& study) = 0;
    virtual std::vector<AnalysisRecord> listStates(const std::vector<AnalysisState>& states, size_t limit) = 0;
    virtual std::map<AnalysisState, uint64_t> countByState() = 0;

    // The last sequence number of Orthanc's change log that has been handled (-1: never started).
    virtual int64_t lastChange() = 0;
    virtual void setLastChange(int64_t sequence) = 0;
  };

  // A stable digest of a series' instance IDs, whatever their order.
  std::string instancesFingerprint(std::vector<std::string> instanceIds);
}
