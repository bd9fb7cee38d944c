// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The "SpineMet" section of Orthanc's configuration (documented in config/README.md). Parsing never
// throws: every mistake becomes one problem line, and a configuration with problems leaves the
// plugin loaded but disabled, its health route saying why.

#include <json/value.h>

#include <cstddef>
#include <string>
#include <vector>

namespace spinemet
{
  // Which stored series are worth analysing. Modality CT and an ORIGINAL\PRIMARY\AXIAL Image Type are
  // not settings: the model reads Hounsfield units of acquired axial slices.
  struct SeriesSelection
  {
    unsigned minimumSlices = 20;
    double minimumSliceThickness = 0.5;      // mm, inclusive
    double maximumSliceThickness = 5.0;
    std::string bodyPartPattern;             // ECMAScript regex, case-insensitive; empty: any
    std::string seriesDescriptionPattern;
  };

  struct OutputSettings
  {
    bool structuredReport = true;            // TID 1500 SR
    bool overlays = true;                    // Secondary Capture key images
  };

  struct ForwardSettings
  {
    std::vector<std::string> modalities;     // symbolic names from Orthanc's "DicomModalities"
    std::string webhook;                     // URL that gets a POST for studies with a suspected lesion
    unsigned webhookTimeoutSeconds = 10;
  };

  enum class ReanalysisPolicy
  {
    WhenChanged,                             // new instances or a new model version: analyse again
    Never                                    // one automatic analysis per series; manual ones still run
  };

  // The bounds of the counts (docs/plugin.md): past them a value starts too many threads, holds
  // too much memory or makes a shutdown wait, and the plugin stays disabled naming the setting.
  constexpr unsigned MAXIMUM_THREADS = 256;
  constexpr unsigned MAXIMUM_BATCH_SIZE = 1024;
  constexpr unsigned MAXIMUM_VOLUMES_IN_FLIGHT = 16;
  constexpr unsigned MAXIMUM_ATTEMPTS = 100;
  constexpr unsigned MAXIMUM_MINIMUM_SLICES = 100000;
  constexpr unsigned MAXIMUM_WEBHOOK_TIMEOUT = 600;
  constexpr unsigned MAXIMUM_LEASE_SECONDS = 3600;
  constexpr unsigned MAXIMUM_RETRY_DELAY = 86400;

  enum class QueueBackend
  {
    Sqlite,                                  // one file beside the storage: one Orthanc node
    PostgreSQL                               // shared by the nodes of a cluster (docs/scale-out.md)
  };

  // What this node does in a cluster: every node answers the REST API from the shared queue.
  enum class NodeRole
  {
    Both,                                    // queues the series it hears of and analyses queued series
    Ingest,                                  // queues series; never claims one
    Analyse                                  // analyses queued series; leaves the change log to others
  };

  constexpr unsigned MAXIMUM_ANALYSIS_TIMEOUT = 86400;   // seconds: a day
  // AnalysisTimeout is the limit for a series of up to this many slices; a larger one gets
  // proportionally more (reading, the spine search and the crops grow with the slices).
  constexpr unsigned ANALYSIS_TIMEOUT_SLICES = 1000;

  struct PluginConfiguration
  {
    bool enabled = true;
    std::string modelPath;
    std::string device = "auto";             // auto | cpu | cuda
    unsigned threads = 0;                    // LibTorch intra-op threads, 0: half of the cores
    unsigned batchSize = 32;                 // crops per forward pass
    unsigned volumesInFlight = 1;            // series analysed at the same time
    unsigned maximumAttempts = 3;            // starts of one analysis (restarts count) before it fails
    unsigned analysisTimeoutSeconds = 300;   // watchdog: an analysis of up to ANALYSIS_TIMEOUT_SLICES
                                             // slices that runs longer fails as "timeout"
    SeriesSelection selection;
    OutputSettings outputs;
    ForwardSettings forward;
    ReanalysisPolicy reanalysis = ReanalysisPolicy::WhenChanged;
    std::string queueDatabase;               // default: <StorageDirectory>/spinemet-queue.sqlite
    QueueBackend queueBackend = QueueBackend::Sqlite;
    std::string queueConnection;             // libpq string; default: from Orthanc's "PostgreSQL" section
    std::string nodeName;                    // default: "local" (SQLite), <host>:<HttpPort> (PostgreSQL)
    NodeRole nodeRole = NodeRole::Both;
    unsigned leaseSeconds = 60;              // a claim not renewed for this long is taken over
    unsigned retryDelaySeconds = 30;         // before the first retry of a transient failure, then doubled
    unsigned maximumRetryDelaySeconds = 600;
  };

  bool analyses(NodeRole role);              // claims and runs analyses
  bool queuesSeries(NodeRole role);          // follows the change log into the queue
  const char* toString(NodeRole role);
  const char* toString(QueueBackend backend);

  // The user content type under which the result JSON is attached to the source series.
  static const char* const RESULT_ATTACHMENT = "spinemet-result";

  struct ConfigurationReading
  {
    PluginConfiguration configuration;
    std::vector<std::string> problems;       // one line each, naming the setting
  };

  // `orthanc` is Orthanc's whole configuration (OrthancPluginGetConfiguration): the SpineMet section
  // plus what the plugin needs from Orthanc's own settings (StorageDirectory, UserContentType,
  // DicomModalities). Relative paths are taken from `configurationFolder`, as Orthanc does.
  ConfigurationReading readConfiguration(const Json::Value& orthanc, const std::string& configurationFolder = ".");

  const char* toString(ReanalysisPolicy policy);

  // The watchdog's limit for one analysis of `slices` instances: AnalysisTimeout, scaled up
  // linearly past ANALYSIS_TIMEOUT_SLICES slices.
  double analysisTimeLimitSeconds(const PluginConfiguration& configuration, size_t slices);
}
