// SPDX-License-Identifier: GPL-3.0-or-later
// What both queue stores share: the states' names, the fingerprint, the retry policy, the text columns.

#include "AnalysisQueue.h"
#include "QueueText.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace spinemet
{
  namespace
  {
    const char* const STATE_NAMES[] = {"receiving", "queued", "running", "done", "failed", "skipped", "cancelled"};
  }

  const char* toString(AnalysisState state)
  {
    return STATE_NAMES[static_cast<int>(state)];
  }

  AnalysisState parseAnalysisState(const std::string& text)
  {
    for (int i = 0; i < ANALYSIS_STATE_COUNT; i++)
    {
      if (text == STATE_NAMES[i]) return static_cast<AnalysisState>(i);
    }
    throw std::invalid_argument("unknown analysis state \"" + text + "\"");
  }

  const char* toString(EnqueueOutcome outcome)
  {
    switch (outcome)
    {
      case EnqueueOutcome::Queued: return "queued";
      case EnqueueOutcome::Updated: return "updated";
      case EnqueueOutcome::Pending: return "pending";
      case EnqueueOutcome::UpToDate: return "up-to-date";
    }
    return "?";
  }

  std::string instancesFingerprint(std::vector<std::string> instanceIds)
  {
    std::sort(instanceIds.begin(), instanceIds.end());
    uint64_t hash = 1469598103934665603ull;            // FNV-1a, 64 bits
    for (const std::string& id : instanceIds)
    {
      for (unsigned char c : id + "\n")
      {
        hash ^= c;
        hash *= 1099511628211ull;
      }
    }
    char digest[17];
    std::snprintf(digest, sizeof(digest), "%016llx", static_cast<unsigned long long>(hash));
    return std::to_string(instanceIds.size()) + "-" + digest;
  }

  bool isTransientFailure(const AnalysisError& reason)
  {
    const std::string& code = reason.code();
    if (code == "fetch" || code == "store" || code == "device")
    {
      return true;
    }
    // Memory exhausted reaches the worker as std::bad_alloc, an internal error; another series
    // running beside it may have been the cause.
    return reason.isInternal() && std::string(reason.what()).find("bad_alloc") != std::string::npos;
  }

  double retryDelay(const QueuePolicy& policy, int retry)
  {
    double delay = policy.retryDelaySeconds * std::pow(2.0, std::max(0, retry - 1));
    return std::min(delay, policy.maximumRetryDelaySeconds);
  }

  std::string joinIds(const std::vector<std::string>& ids)
  {
    std::string joined;
    for (const std::string& id : ids) joined += (joined.empty() ? "" : " ") + id;
    return joined;
  }

  std::vector<std::string> splitIds(const std::string& joined)
  {
    std::vector<std::string> ids;
    size_t start = 0;
    while (start < joined.size())
    {
      size_t end = joined.find(' ', start);
      if (end == std::string::npos) end = joined.size();
      if (end > start) ids.push_back(joined.substr(start, end - start));
      start = end + 1;
    }
    return ids;
  }

  std::string joinStages(const std::map<std::string, double>& stages)
  {
    std::string joined;
    for (const auto& stage : stages)
    {
      joined += (joined.empty() ? "" : " ") + stage.first + "=" + std::to_string(stage.second);
    }
    return joined;
  }

  std::map<std::string, double> splitStages(const std::string& joined)
  {
    std::map<std::string, double> stages;
    for (const std::string& item : splitIds(joined))
    {
      size_t equals = item.find('=');
      if (equals != std::string::npos) stages[item.substr(0, equals)] = std::atof(item.c_str() + equals + 1);
    }
    return stages;
  }

  double secondsNow()
  {
    using namespace std::chrono;
    return duration_cast<duration<double>>(system_clock::now().time_since_epoch()).count();
  }
}

namespace spinemet
{
  bool holdsClaim(const AnalysisRecord& row, const ClaimHolder& holder)
  {
    return row.state == AnalysisState::Running && row.node == holder.node && row.attempts == holder.attempt;
  }

  EnqueueDecision decideEnqueue(const std::optional<AnalysisRecord>& existing, const EnqueueRequest& request)
  {
    using Write = EnqueueDecision::Write;
    if (!existing)
    {
      return {EnqueueOutcome::Queued, Write::QueueAfresh};
    }
    const bool sameKey = existing->wanted.fingerprint == request.key.fingerprint &&
                         existing->wanted.modelVersion == request.key.modelVersion;
    switch (existing->state)
    {
      case AnalysisState::Queued:
        return {EnqueueOutcome::Updated, Write::UpdateWaiting};
      case AnalysisState::Running:
        // finish() and end() compare the wanted key with the claimed one and queue the series again.
        if (request.force) return {EnqueueOutcome::Pending, Write::ForgetWantedKey};
        if (!sameKey) return {EnqueueOutcome::Pending, Write::SetWantedKey};
        return {EnqueueOutcome::UpToDate, Write::Nothing};
      case AnalysisState::Done:
      case AnalysisState::Failed:
        // The current result (or the failure) covers these instances with this model.
        if (sameKey && !request.force) return {EnqueueOutcome::UpToDate, Write::ClearGrown};
        return {EnqueueOutcome::Queued, Write::QueueAfresh};
      case AnalysisState::Receiving:
      case AnalysisState::Skipped:
      case AnalysisState::Cancelled:
        break;
    }
    return {EnqueueOutcome::Queued, Write::QueueAfresh};
  }

  QueueEnd decideEnd(const AnalysisRecord& existing, const AnalysisKey& claimed, const AnalysisError& reason,
                     const QueuePolicy& policy, double now)
  {
    QueueEnd decision;
    decision.retries = existing.retries;
    decision.lastFailure = existing.lastFailure;
    decision.attempts = existing.attempts;

    // The failure or the cancel belongs to the instances of that run: a grown series, a new model
    // or a manual request is a new analysis, queued afresh.
    if (existing.wanted.fingerprint != claimed.fingerprint || existing.wanted.modelVersion != claimed.modelVersion)
    {
      decision.state = AnalysisState::Queued;
      decision.retries = 0;
      decision.lastFailure.clear();
      decision.attempts = 0;
      decision.requeued = true;
      return decision;
    }

    const bool transient = !reason.isCancelled() && isTransientFailure(reason);
    if (transient)
    {
      decision.lastFailure = "[" + reason.code() + "] " + reason.what();
      if (existing.attempts < static_cast<int>(policy.maximumAttempts))
      {
        // Keeps its place in the queue, claimed again once the backoff has passed.
        decision.state = AnalysisState::Queued;
        decision.retries = existing.retries + 1;
        decision.retryAt = now + retryDelay(policy, decision.retries);
        return decision;
      }
    }

    decision.state = stateAfter(endOf(reason));
    decision.code = reason.code();
    decision.message = reason.what();
    if (transient)
    {
      decision.message += " (attempt " + std::to_string(existing.attempts) + " of " +
                          std::to_string(policy.maximumAttempts) + ", MaximumAttempts; the last one)";
    }
    return decision;
  }
}
