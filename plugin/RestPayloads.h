// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The JSON bodies of SpineMet's REST API (docs/plugin.md), built from the queue's records and the
// stored result documents, without Orthanc: Service.cpp fetches what Orthanc holds (the result
// attachment) and RestApi.cpp answers; what the answers say is decided here, and tested without
// Orthanc (tests/plugin/RestPayloadsTest.cpp).

#include "AnalysisQueue.h"

#include <json/value.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace spinemet
{
  // Why `id` is not an Orthanc resource ID (five groups of 8 lower-case hexadecimal digits joined
  // by '-', as Orthanc derives them from the DICOM UIDs); nothing when it is one. A route's ID is
  // pasted into Orthanc REST paths, so "<id>?x" (from "%3Fx") would name the same series under a
  // second queue row.
  std::optional<std::string> orthancIdProblem(const std::string& id);

  // "2026-12-07T06:10:46.123Z" (UTC, milliseconds: two analyses of a small series can end within
  // the same second); null for 0 (never).
  Json::Value isoTime(double secondsSinceEpoch);

  // The study state of a result's summary (docs/result-schema.md): "lesion-suspected",
  // "no-lesion-found" or "not-assessable". A spinemet-result/1 document has none: every vertebra in
  // it was assessed, so it is "lesion suspected" or "no lesion found".
  std::string studyStateOf(const Json::Value& summary);

  // Where a running analysis is (AnalysisProgress: the stage's words and the whole fraction).
  struct RunningStatus
  {
    std::string stage;
    float progress = 0;
  };

  // The result attachment of a series as Service read it from Orthanc: the document, or why not.
  struct StoredResult
  {
    Json::Value document;            // null when none could be read
    std::string error;               // why it could not be read (empty: read, or none asked for)
  };

  // One series' status (GET /spinemet/series/{id}, and each entry of /queue and /studies/{id}).
  // `running`: while it runs; `result`: when it was asked for and the series has a current result.
  Json::Value describeAnalysis(const AnalysisRecord& record, const std::optional<RunningStatus>& running,
                               const std::optional<StoredResult>& result);

  // Count per state, under the states' names.
  Json::Value stateCounts(const std::map<AnalysisState, uint64_t>& counts);

  // GET /spinemet/queue: the counts and the queued and running analyses (described).
  Json::Value queueStatus(const std::map<AnalysisState, uint64_t>& counts, const std::vector<Json::Value>& analyses);

  // GET /spinemet/studies/{id} from the described series of the study (skipped ones left out by
  // the caller). The study says what its most telling series says: a suspected lesion anywhere,
  // else "no lesion found" when some series could be assessed, else "not assessable"; null before
  // any result.
  Json::Value studyStatus(const std::string& study, const std::vector<Json::Value>& describedSeries);
}
