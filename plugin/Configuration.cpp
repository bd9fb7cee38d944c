// SPDX-License-Identifier: GPL-3.0-or-later
#include "Configuration.h"

#include "TextPattern.h"
#include "common/JsonFields.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace spinemet
{
  namespace
  {
    // A regular expression of the series selection: checked here, where it is read, so that a
    // mistake is one problem line naming the setting (TextPattern says what is wrong with it).
    void pattern(JsonSettings& settings, const char* key, std::string& target)
    {
      settings.read(key, [&](const Json::Value& value) {
        if (!value.isString()) return settings.expected(key, "a regular expression (string)", value);
        try
        {
          TextPattern check(value.asString());
          target = value.asString();
        }
        catch (const std::invalid_argument& error)
        {
          settings.problem(key, "\"" + value.asString() + "\" is not a valid regular expression for SpineMet (" +
                                error.what() + "; see config/README.md)");
        }
      });
    }

    // A value in a libpq connection string: quoted, with ' and \ escaped.
    std::string connectionValue(const std::string& value)
    {
      std::string quoted = "'";
      for (char c : value)
      {
        if (c == '\'' || c == '\\') quoted += '\\';
        quoted += c;
      }
      return quoted + "'";
    }

    // The queue shares the database of Orthanc's PostgreSQL index unless told otherwise: the same
    // "PostgreSQL" section that the orthanc-postgresql plugin reads.
    std::string connectionFromOrthanc(const Json::Value& orthanc)
    {
      const Json::Value& section = orthanc["PostgreSQL"];
      if (!section.isObject())
      {
        return "";
      }
      if (section["ConnectionUri"].isString())
      {
        return section["ConnectionUri"].asString();
      }
      std::string connection;
      const std::pair<const char*, const char*> keys[] = {
        {"Host", "host"}, {"Port", "port"}, {"Database", "dbname"}, {"Username", "user"}, {"Password", "password"}};
      for (const auto& key : keys)
      {
        const Json::Value& value = section[key.first];
        if (value.isString() || value.isIntegral())
        {
          connection += (connection.empty() ? "" : " ") + std::string(key.second) + "=" +
                        connectionValue(value.isString() ? value.asString() : std::to_string(value.asInt64()));
        }
      }
      if (section["EnableSsl"].isBool() && section["EnableSsl"].asBool())
      {
        connection += " sslmode=require";
      }
      return connection;
    }

    std::string resolve(const std::string& folder, const std::string& path)
    {
      std::filesystem::path resolved(path);
      return resolved.is_absolute() ? path : (std::filesystem::path(folder) / resolved).lexically_normal().string();
    }

    void checkOrthancSettings(const Json::Value& orthanc, const std::string& folder,
                              PluginConfiguration& configuration, std::vector<std::string>& problems)
    {
      const Json::Value& contentTypes = orthanc["UserContentType"];
      if (!contentTypes.isObject() || !contentTypes.isMember(RESULT_ATTACHMENT))
      {
        problems.push_back(std::string("UserContentType: the result JSON is attached to each analysed series as \"") +
                           RESULT_ATTACHMENT + "\"; declare it in Orthanc's configuration, e.g. "
                           "\"UserContentType\": { \"" + RESULT_ATTACHMENT + "\": [ 4600, \"application/json\" ] }");
      }

      const Json::Value& modalities = orthanc["DicomModalities"];
      bool modalitiesInDatabase = orthanc["DicomModalitiesInDatabase"].isBool() &&
                                  orthanc["DicomModalitiesInDatabase"].asBool();
      if (!modalitiesInDatabase)
      {
        for (const std::string& name : configuration.forward.modalities)
        {
          if (!modalities.isObject() || !modalities.isMember(name))
          {
            problems.push_back("SpineMet.Forward.Modalities: \"" + name +
                               "\" is not one of Orthanc's DicomModalities");
          }
        }
      }

      if (configuration.queueBackend == QueueBackend::PostgreSQL)
      {
        if (configuration.queueConnection.empty())
        {
          configuration.queueConnection = connectionFromOrthanc(orthanc);
        }
        if (configuration.queueConnection.empty())
        {
          problems.push_back("SpineMet.QueueConnection: QueueBackend is \"PostgreSQL\" but neither QueueConnection "
                             "(a libpq connection string) nor Orthanc's \"PostgreSQL\" section says which database");
        }
        if (configuration.nodeName.empty())
        {
          char host[256] = "";
          if (gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "node");
          std::string port = orthanc["HttpPort"].isIntegral() ? std::to_string(orthanc["HttpPort"].asInt()) : "8042";
          configuration.nodeName = std::string(host) + ":" + port;
        }
      }
      else if (configuration.nodeRole != NodeRole::Both)
      {
        problems.push_back(std::string("SpineMet.NodeRole: \"") + toString(configuration.nodeRole) + "\" needs a queue "
                           "shared with other nodes (QueueBackend \"PostgreSQL\"); with SQLite one node does both");
      }
      if (configuration.nodeName.empty())
      {
        configuration.nodeName = "local";        // one SQLite queue per node
      }

      if (configuration.queueDatabase.empty())
      {
        std::string storage = orthanc["StorageDirectory"].isString() ?
          orthanc["StorageDirectory"].asString() : "OrthancStorage";     // Orthanc's own default
        configuration.queueDatabase = (std::filesystem::path(storage) / "spinemet-queue.sqlite").string();
      }
      configuration.queueDatabase = resolve(folder, configuration.queueDatabase);
      if (!configuration.modelPath.empty())
      {
        configuration.modelPath = resolve(folder, configuration.modelPath);
      }
    }
  }

  ConfigurationReading readConfiguration(const Json::Value& orthanc, const std::string& configurationFolder)
  {
    ConfigurationReading reading;
    PluginConfiguration& configuration = reading.configuration;
    std::vector<std::string>& problems = reading.problems;

    if (!orthanc.isObject() || !orthanc.isMember("SpineMet"))
    {
      problems.push_back("SpineMet: the configuration has no \"SpineMet\" section (see config/README.md)");
      return reading;
    }
    const Json::Value& section = orthanc["SpineMet"];
    if (!section.isObject())
    {
      problems.push_back("SpineMet: " + JsonFields::expectedButGot("an object", section));
      return reading;
    }

    JsonSettings reader(section, "SpineMet", problems);
    reader.flag("Enabled", configuration.enabled);
    reader.text("ModelPath", configuration.modelPath);
    reader.choice("Device", configuration.device, {"auto", "cpu", "cuda"});
    reader.count("Threads", configuration.threads, 0, MAXIMUM_THREADS, "each is a LibTorch thread started with Orthanc");
    reader.count("BatchSize", configuration.batchSize, 1, MAXIMUM_BATCH_SIZE, "crops held in memory at once");
    reader.count("VolumesInFlight", configuration.volumesInFlight, 1, MAXIMUM_VOLUMES_IN_FLIGHT,
                 "each is a volume in memory and an Orthanc job worker");
    reader.count("MaximumAttempts", configuration.maximumAttempts, 1, MAXIMUM_ATTEMPTS, "starts of one analysis");
    reader.count("AnalysisTimeout", configuration.analysisTimeoutSeconds, 1, MAXIMUM_ANALYSIS_TIMEOUT,
                 "seconds per series of up to 1000 slices");
    reader.text("QueueDatabase", configuration.queueDatabase);
    std::string backend = "SQLite";
    reader.choice("QueueBackend", backend, {"SQLite", "PostgreSQL"});
    configuration.queueBackend = backend == "PostgreSQL" ? QueueBackend::PostgreSQL : QueueBackend::Sqlite;
    reader.text("QueueConnection", configuration.queueConnection);
    reader.text("NodeName", configuration.nodeName);
    std::string role = "both";
    reader.choice("NodeRole", role, {"both", "ingest", "analyse"});
    configuration.nodeRole = role == "ingest" ? NodeRole::Ingest : role == "analyse" ? NodeRole::Analyse : NodeRole::Both;
    reader.count("LeaseSeconds", configuration.leaseSeconds, 2, MAXIMUM_LEASE_SECONDS,
                 "seconds before a dead node's analyses are taken over");
    reader.count("RetryDelay", configuration.retryDelaySeconds, 0, MAXIMUM_RETRY_DELAY,
                 "seconds before the first retry of a transient failure");
    reader.count("MaximumRetryDelay", configuration.maximumRetryDelaySeconds, 0, MAXIMUM_RETRY_DELAY,
                 "seconds between two retries at most");
    reader.section("Selection", [&](JsonSettings& selection) {
      selection.count("MinimumSlices", configuration.selection.minimumSlices, 1, MAXIMUM_MINIMUM_SLICES,
                      "a series with more slices is not a CT");
      selection.range("SliceThickness", configuration.selection.minimumSliceThickness,
                      configuration.selection.maximumSliceThickness, "millimetres");
      pattern(selection, "BodyPart", configuration.selection.bodyPartPattern);
      pattern(selection, "SeriesDescription", configuration.selection.seriesDescriptionPattern);
    });
    reader.section("Outputs", [&](JsonSettings& outputs) {
      outputs.flag("StructuredReport", configuration.outputs.structuredReport);
      outputs.flag("Overlays", configuration.outputs.overlays);
    });
    reader.section("Forward", [&](JsonSettings& forward) {
      forward.names("Modalities", configuration.forward.modalities);
      forward.text("Webhook", configuration.forward.webhook);
      forward.count("WebhookTimeout", configuration.forward.webhookTimeoutSeconds, 1, MAXIMUM_WEBHOOK_TIMEOUT,
                    "seconds that Orthanc's shutdown may wait for it");
      if (!configuration.forward.webhook.empty() &&
          configuration.forward.webhook.rfind("http://", 0) != 0 &&
          configuration.forward.webhook.rfind("https://", 0) != 0)
      {
        forward.problem("Webhook", "\"" + configuration.forward.webhook + "\" is not an http:// or https:// URL");
      }
    });
    std::string policy = "WhenChanged";
    reader.choice("ReanalysisPolicy", policy, {"WhenChanged", "Never"});
    configuration.reanalysis = policy == "Never" ? ReanalysisPolicy::Never : ReanalysisPolicy::WhenChanged;
    reader.reportUnknownKeys();

    if (configuration.enabled && configuration.modelPath.empty())
    {
      problems.push_back("SpineMet.ModelPath: missing; it names the TorchScript model file (docs/model-contract.md)");
    }

    checkOrthancSettings(orthanc, configurationFolder, configuration, problems);
    return reading;
  }

  bool analyses(NodeRole role)
  {
    return role != NodeRole::Ingest;
  }

  bool queuesSeries(NodeRole role)
  {
    return role != NodeRole::Analyse;
  }

  const char* toString(NodeRole role)
  {
    switch (role)
    {
      case NodeRole::Both: return "both";
      case NodeRole::Ingest: return "ingest";
      case NodeRole::Analyse: return "analyse";
    }
    return "?";
  }

  const char* toString(QueueBackend backend)
  {
    return backend == QueueBackend::PostgreSQL ? "PostgreSQL" : "SQLite";
  }

  const char* toString(ReanalysisPolicy policy)
  {
    return policy == ReanalysisPolicy::Never ? "Never" : "WhenChanged";
  }

  double analysisTimeLimitSeconds(const PluginConfiguration& configuration, size_t slices)
  {
    const double scale = std::max(1.0, static_cast<double>(slices) / ANALYSIS_TIMEOUT_SLICES);
    return configuration.analysisTimeoutSeconds * scale;
  }
}
