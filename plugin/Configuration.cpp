// SPDX-License-Identifier: GPL-3.0-or-later
#include "Configuration.h"

#include "TextPattern.h"

#include <json/writer.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

namespace spinemet
{
  namespace
  {
    std::string typeName(const Json::Value& value)
    {
      switch (value.type())
      {
        case Json::nullValue: return "null";
        case Json::intValue:
        case Json::uintValue: return "an integer";
        case Json::realValue: return "a number";
        case Json::stringValue: return "a string";
        case Json::booleanValue: return "a boolean";
        case Json::arrayValue: return "an array";
        case Json::objectValue: return "an object";
      }
      return "a value";
    }

    std::string show(const Json::Value& value)
    {
      Json::StreamWriterBuilder builder;
      builder["indentation"] = "";
      return Json::writeString(builder, value);
    }

    // Reads one JSON object, reporting wrong types and unknown keys under its dotted path.
    class SectionReader
    {
    public:
      SectionReader(const Json::Value& section, std::string path, std::vector<std::string>& problems) :
        section_(section), path_(std::move(path)), problems_(problems)
      {
      }

      void boolean(const char* key, bool& target)
      {
        read(key, [&](const Json::Value& value) {
          if (!value.isBool()) return expected(key, "true or false", value);
          target = value.asBool();
        });
      }

      // `why` says what the maximum protects (threads started, memory): the message explains it.
      void count(const char* key, unsigned& target, unsigned minimum, unsigned maximum, const char* why)
      {
        read(key, [&](const Json::Value& value) {
          // asInt64() throws past INT64_MAX: a huge value is compared as unsigned.
          if (!value.isIntegral() || (!value.isUInt64() && value.asInt64() < 0) ||
              (value.isUInt64() && value.asUInt64() < minimum))
          {
            return expected(key, "an integer of at least " + std::to_string(minimum), value);
          }
          if (value.asUInt64() > maximum)
          {
            return expected(key, "an integer of at most " + std::to_string(maximum) + " (" + why + ")", value);
          }
          target = static_cast<unsigned>(value.asUInt64());
        });
      }

      void text(const char* key, std::string& target)
      {
        read(key, [&](const Json::Value& value) {
          if (!value.isString()) return expected(key, "a string", value);
          target = value.asString();
        });
      }

      void choice(const char* key, std::string& target, const std::vector<std::string>& choices)
      {
        read(key, [&](const Json::Value& value) {
          std::string list;
          for (const std::string& choice : choices) list += (list.empty() ? "\"" : ", \"") + choice + "\"";
          if (!value.isString()) return expected(key, "one of " + list, value);
          for (const std::string& choice : choices)
          {
            if (value.asString() == choice)
            {
              target = choice;
              return;
            }
          }
          expected(key, "one of " + list, value);
        });
      }

      void pattern(const char* key, std::string& target)
      {
        read(key, [&](const Json::Value& value) {
          if (!value.isString()) return expected(key, "a regular expression (string)", value);
          try
          {
            TextPattern check(value.asString());
            target = value.asString();
          }
          catch (const std::invalid_argument& error)
          {
            problem(key, "\"" + value.asString() + "\" is not a valid regular expression for SpineMet (" + error.what() +
                         "; see config/README.md)");
          }
        });
      }

      void names(const char* key, std::vector<std::string>& target)
      {
        read(key, [&](const Json::Value& value) {
          bool valid = value.isArray();
          for (Json::ArrayIndex i = 0; valid && i < value.size(); i++) valid = value[i].isString();
          if (!valid) return expected(key, "an array of strings", value);
          target.clear();
          for (const Json::Value& name : value) target.push_back(name.asString());
        });
      }

      void range(const char* key, double& low, double& high)
      {
        read(key, [&](const Json::Value& value) {
          if (!value.isArray() || value.size() != 2 || !value[0].isNumeric() || !value[1].isNumeric() ||
              value[0].asDouble() < 0 || value[0].asDouble() > value[1].asDouble())
          {
            return expected(key, "[minimum, maximum] in millimetres, 0 <= minimum <= maximum", value);
          }
          low = value[0].asDouble();
          high = value[1].asDouble();
        });
      }

      // A nested object: `readBody` gets a reader for it.
      void section(const char* key, const std::function<void(SectionReader&)>& readBody)
      {
        read(key, [&](const Json::Value& value) {
          if (!value.isObject()) return expected(key, "an object", value);
          SectionReader nested(value, path_ + "." + key, problems_);
          readBody(nested);
          nested.reportUnknownKeys();
        });
      }

      bool has(const char* key) const
      {
        return section_.isMember(key);
      }

      void problem(const std::string& key, const std::string& message)
      {
        problems_.push_back(path_ + "." + key + ": " + message);
      }

      void reportUnknownKeys()
      {
        for (const std::string& key : section_.getMemberNames())
        {
          if (known_.count(key) == 0)
          {
            std::string list;
            for (const std::string& name : known_) list += (list.empty() ? "" : ", ") + name;
            problems_.push_back(path_ + ": unknown setting \"" + key + "\" (known settings: " + list + ")");
          }
        }
      }

    private:
      void read(const char* key, const std::function<void(const Json::Value&)>& parse)
      {
        known_.insert(key);
        if (section_.isMember(key))
        {
          parse(section_[key]);
        }
      }

      void expected(const std::string& key, const std::string& what, const Json::Value& value)
      {
        problem(key, "expected " + what + ", got " + show(value) + " (" + typeName(value) + ")");
      }

      const Json::Value& section_;
      std::string path_;
      std::vector<std::string>& problems_;
      std::set<std::string> known_;
    };

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
      problems.push_back("SpineMet: expected an object, got " + show(section) + " (" + typeName(section) + ")");
      return reading;
    }

    SectionReader reader(section, "SpineMet", problems);
    reader.boolean("Enabled", configuration.enabled);
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
    reader.section("Selection", [&](SectionReader& selection) {
      selection.count("MinimumSlices", configuration.selection.minimumSlices, 1, MAXIMUM_MINIMUM_SLICES,
                      "a series with more slices is not a CT");
      selection.range("SliceThickness", configuration.selection.minimumSliceThickness,
                      configuration.selection.maximumSliceThickness);
      selection.pattern("BodyPart", configuration.selection.bodyPartPattern);
      selection.pattern("SeriesDescription", configuration.selection.seriesDescriptionPattern);
    });
    reader.section("Outputs", [&](SectionReader& outputs) {
      outputs.boolean("StructuredReport", configuration.outputs.structuredReport);
      outputs.boolean("Overlays", configuration.outputs.overlays);
    });
    reader.section("Forward", [&](SectionReader& forward) {
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
