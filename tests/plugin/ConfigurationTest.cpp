// SPDX-License-Identifier: GPL-3.0-or-later
#include "Configuration.h"

#include <gtest/gtest.h>
#include <json/reader.h>

#include <memory>

namespace spinemet
{
  namespace
  {
    Json::Value parse(const std::string& text)
    {
      Json::CharReaderBuilder builder;
      std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
      Json::Value value;
      std::string errors;
      EXPECT_TRUE(reader->parse(text.data(), text.data() + text.size(), &value, &errors)) << errors;
      return value;
    }

    // A valid Orthanc configuration with the given SpineMet section.
    Json::Value orthancWith(const std::string& section)
    {
      return parse(R"({
        "StorageDirectory": "/var/lib/orthanc/db",
        "UserContentType": { "spinemet-result": [4600, "application/json"] },
        "DicomModalities": { "PACS": ["PACS", "127.0.0.1", 4242] },
        "SpineMet": )" + section + "}");
    }

    // The same with Orthanc on a PostgreSQL index, as the orthanc-postgresql plugin reads it.
    Json::Value orthancWithCluster(const std::string& section)
    {
      Json::Value orthanc = orthancWith(section);
      orthanc["PostgreSQL"] = parse(R"({ "EnableIndex": true, "Host": "db.example", "Port": 5432,
        "Database": "orthanc", "Username": "orthanc", "Password": "it's" })");
      return orthanc;
    }

    bool mentions(const std::vector<std::string>& problems, const std::string& text)
    {
      for (const std::string& problem : problems)
      {
        if (problem.find(text) != std::string::npos) return true;
      }
      return false;
    }
  }

  TEST(Configuration, CompleteSectionIsRead)
  {
    ConfigurationReading reading = readConfiguration(orthancWith(R"({
      "Enabled": true, "ModelPath": "/models/demo.pt", "Device": "cpu", "Threads": 2, "BatchSize": 16,
      "VolumesInFlight": 2, "MaximumAttempts": 4, "QueueDatabase": "/tmp/q.sqlite",
      "Selection": { "MinimumSlices": 30, "SliceThickness": [0.6, 3], "BodyPart": "SPINE|CHEST",
                     "SeriesDescription": "bone" },
      "Outputs": { "StructuredReport": true, "Overlays": false },
      "Forward": { "Modalities": ["PACS"], "Webhook": "http://127.0.0.1:9/hook", "WebhookTimeout": 3 },
      "ReanalysisPolicy": "Never" })"));
    EXPECT_TRUE(reading.problems.empty()) << reading.problems.front();
    const PluginConfiguration& c = reading.configuration;
    EXPECT_EQ(c.modelPath, "/models/demo.pt");
    EXPECT_EQ(c.device, "cpu");
    EXPECT_EQ(c.threads, 2u);
    EXPECT_EQ(c.batchSize, 16u);
    EXPECT_EQ(c.volumesInFlight, 2u);
    EXPECT_EQ(c.maximumAttempts, 4u);
    EXPECT_EQ(c.queueDatabase, "/tmp/q.sqlite");
    EXPECT_EQ(c.selection.minimumSlices, 30u);
    EXPECT_DOUBLE_EQ(c.selection.minimumSliceThickness, 0.6);
    EXPECT_DOUBLE_EQ(c.selection.maximumSliceThickness, 3);
    EXPECT_EQ(c.selection.bodyPartPattern, "SPINE|CHEST");
    EXPECT_FALSE(c.outputs.overlays);
    EXPECT_EQ(c.forward.modalities, std::vector<std::string>{"PACS"});
    EXPECT_EQ(c.forward.webhook, "http://127.0.0.1:9/hook");
    EXPECT_EQ(c.forward.webhookTimeoutSeconds, 3u);
    EXPECT_EQ(c.reanalysis, ReanalysisPolicy::Never);
  }

  TEST(Configuration, DefaultsNeedOnlyTheModel)
  {
    ConfigurationReading reading = readConfiguration(orthancWith(R"({ "ModelPath": "/m.pt" })"));
    EXPECT_TRUE(reading.problems.empty());
    EXPECT_EQ(reading.configuration.queueDatabase, "/var/lib/orthanc/db/spinemet-queue.sqlite");
    EXPECT_EQ(reading.configuration.device, "auto");
    EXPECT_EQ(reading.configuration.reanalysis, ReanalysisPolicy::WhenChanged);
  }

  TEST(Configuration, CountsPastTheirBoundAreRefusedNamingTheSetting)
  {
    ConfigurationReading reading = readConfiguration(orthancWith(R"({
      "ModelPath": "/m.pt", "Threads": 1000, "VolumesInFlight": 2000, "BatchSize": 1e9,
      "MaximumAttempts": 18446744073709551615, "Forward": { "WebhookTimeout": 86400 } })"));
    const std::vector<std::string>& problems = reading.problems;
    EXPECT_TRUE(mentions(problems, "SpineMet.Threads: expected an integer of at most 256")) << problems.size();
    EXPECT_TRUE(mentions(problems, "SpineMet.VolumesInFlight: expected an integer of at most 16"));
    EXPECT_TRUE(mentions(problems, "SpineMet.BatchSize: expected an integer"));
    EXPECT_TRUE(mentions(problems, "SpineMet.MaximumAttempts: expected an integer of at most 100"));
    EXPECT_TRUE(mentions(problems, "SpineMet.Forward.WebhookTimeout: expected an integer of at most 600"));
    EXPECT_EQ(problems.size(), 5u);
    EXPECT_EQ(reading.configuration.volumesInFlight, 1u);     // the default stays

    reading = readConfiguration(orthancWith(R"({ "ModelPath": "/m.pt", "Threads": 256, "VolumesInFlight": 16 })"));
    EXPECT_TRUE(reading.problems.empty());
  }

  TEST(Configuration, AnalysisTimeoutIsBoundedAndScaledBySlices)
  {
    ConfigurationReading reading = readConfiguration(orthancWith(R"({ "ModelPath": "/m.pt" })"));
    EXPECT_EQ(reading.configuration.analysisTimeoutSeconds, 300u);
    EXPECT_DOUBLE_EQ(analysisTimeLimitSeconds(reading.configuration, 1), 300);
    EXPECT_DOUBLE_EQ(analysisTimeLimitSeconds(reading.configuration, 1000), 300);
    EXPECT_DOUBLE_EQ(analysisTimeLimitSeconds(reading.configuration, 3000), 900);

    for (const char* wrong : {"0", "86401", "-5", "\"60\"", "2.5"})
    {
      reading = readConfiguration(orthancWith(std::string(R"({ "ModelPath": "/m.pt", "AnalysisTimeout": )") + wrong + "}"));
      ASSERT_EQ(reading.problems.size(), 1u) << wrong;
      EXPECT_TRUE(mentions(reading.problems, "SpineMet.AnalysisTimeout: expected an integer")) << reading.problems[0];
      EXPECT_EQ(reading.configuration.analysisTimeoutSeconds, 300u);
    }
    reading = readConfiguration(orthancWith(R"({ "ModelPath": "/m.pt", "AnalysisTimeout": 86400 })"));
    EXPECT_TRUE(reading.problems.empty());
    EXPECT_EQ(reading.configuration.analysisTimeoutSeconds, 86400u);
  }

  TEST(Configuration, EachMistakeIsOneProblemNamingTheSetting)
  {
    ConfigurationReading reading = readConfiguration(orthancWith(R"({
      "ModelPath": "/m.pt", "Treads": 2, "Device": "gpu", "BatchSize": "32", "VolumesInFlight": 0,
      "Selection": { "MinimumSlices": 10, "BodyPart": "([", "Colour": 1, "SliceThickness": [5, 1] },
      "Forward": { "Modalities": ["NOWHERE"], "Webhook": "ftp://x" },
      "ReanalysisPolicy": "Sometimes" })"));
    const std::vector<std::string>& problems = reading.problems;
    EXPECT_TRUE(mentions(problems, "SpineMet: unknown setting \"Treads\"")) << problems.size();
    EXPECT_TRUE(mentions(problems, "SpineMet.Device: expected one of \"auto\", \"cpu\", \"cuda\", got \"gpu\""));
    EXPECT_TRUE(mentions(problems, "SpineMet.BatchSize: expected an integer of at least 1, got \"32\" (a string)"));
    EXPECT_TRUE(mentions(problems, "SpineMet.VolumesInFlight: expected an integer of at least 1, got 0"));
    EXPECT_TRUE(mentions(problems, "SpineMet.Selection.BodyPart: \"([\" is not a valid regular expression"));
    EXPECT_TRUE(mentions(problems, "SpineMet.Selection: unknown setting \"Colour\""));
    EXPECT_TRUE(mentions(problems, "SpineMet.Selection.SliceThickness: expected [minimum, maximum]"));
    EXPECT_TRUE(mentions(problems, "SpineMet.Forward.Modalities: \"NOWHERE\" is not one of Orthanc's DicomModalities"));
    EXPECT_TRUE(mentions(problems, "SpineMet.Forward.Webhook: \"ftp://x\" is not an http"));
    EXPECT_TRUE(mentions(problems, "SpineMet.ReanalysisPolicy: expected one of \"WhenChanged\", \"Never\""));
    EXPECT_EQ(problems.size(), 10u);
  }

  TEST(Configuration, MissingSectionModelOrAttachmentTypeIsReported)
  {
    EXPECT_TRUE(mentions(readConfiguration(parse("{}")).problems, "no \"SpineMet\" section"));
    EXPECT_TRUE(mentions(readConfiguration(orthancWith("{}")).problems, "SpineMet.ModelPath: missing"));
    EXPECT_TRUE(mentions(readConfiguration(orthancWith("[1]")).problems, "SpineMet: expected an object"));
    Json::Value withoutType = orthancWith(R"({ "ModelPath": "/m.pt" })");
    withoutType.removeMember("UserContentType");
    EXPECT_TRUE(mentions(readConfiguration(withoutType).problems, "\"spinemet-result\""));
  }

  TEST(Configuration, ModalitiesKeptInOrthancsDatabaseAreNotCheckedAtStart)
  {
    Json::Value orthanc = orthancWith(R"({ "ModelPath": "/m.pt", "Forward": { "Modalities": ["LATER"] } })");
    orthanc["DicomModalitiesInDatabase"] = true;
    EXPECT_TRUE(readConfiguration(orthanc).problems.empty());
  }
}

namespace spinemet
{
  TEST(Configuration, ClusterSettingsAreReadAndTheQueueSharesOrthancsPostgreSQLIndex)
  {
    Json::Value orthanc = orthancWithCluster(R"({
      "ModelPath": "/m.pt", "QueueBackend": "PostgreSQL", "NodeName": "ct-node-2", "NodeRole": "analyse",
      "LeaseSeconds": 20, "RetryDelay": 5, "MaximumRetryDelay": 60 })");
    ConfigurationReading reading = readConfiguration(orthanc);
    EXPECT_TRUE(reading.problems.empty()) << reading.problems.front();
    const PluginConfiguration& c = reading.configuration;
    EXPECT_EQ(c.queueBackend, QueueBackend::PostgreSQL);
    EXPECT_EQ(c.queueConnection, "host='db.example' port='5432' dbname='orthanc' user='orthanc' password='it\\'s'");
    EXPECT_EQ(c.nodeName, "ct-node-2");
    EXPECT_EQ(c.nodeRole, NodeRole::Analyse);
    EXPECT_TRUE(analyses(c.nodeRole));
    EXPECT_FALSE(queuesSeries(c.nodeRole));
    EXPECT_EQ(c.leaseSeconds, 20u);
    EXPECT_EQ(c.retryDelaySeconds, 5u);
    EXPECT_EQ(c.maximumRetryDelaySeconds, 60u);
  }

  TEST(Configuration, ClusterDefaultsAndMistakesAreNamed)
  {
    ConfigurationReading single = readConfiguration(orthancWithCluster(R"({ "ModelPath": "/m.pt" })"));
    EXPECT_EQ(single.configuration.queueBackend, QueueBackend::Sqlite);
    EXPECT_EQ(single.configuration.nodeName, "local");
    EXPECT_EQ(single.configuration.nodeRole, NodeRole::Both);

    ConfigurationReading named = readConfiguration(orthancWithCluster(R"({ "ModelPath": "/m.pt",
      "QueueBackend": "PostgreSQL", "QueueConnection": "host=/run/postgresql dbname=q" })"));
    EXPECT_TRUE(named.problems.empty()) << named.problems.front();
    EXPECT_EQ(named.configuration.queueConnection, "host=/run/postgresql dbname=q");
    EXPECT_NE(named.configuration.nodeName.find(":8042"), std::string::npos) << named.configuration.nodeName;

    Json::Value noDatabase = orthancWithCluster(R"({ "ModelPath": "/m.pt", "QueueBackend": "PostgreSQL" })");
    noDatabase.removeMember("PostgreSQL");
    EXPECT_TRUE(mentions(readConfiguration(noDatabase).problems, "SpineMet.QueueConnection"));

    EXPECT_TRUE(mentions(readConfiguration(orthancWithCluster(R"({ "ModelPath": "/m.pt", "NodeRole": "ingest" })"))
                         .problems, "SpineMet.NodeRole: \"ingest\" needs a queue shared"));
    EXPECT_TRUE(mentions(readConfiguration(orthancWithCluster(R"({ "ModelPath": "/m.pt", "NodeRole": "worker" })"))
                         .problems, "SpineMet.NodeRole"));
    EXPECT_TRUE(mentions(readConfiguration(orthancWithCluster(R"({ "ModelPath": "/m.pt", "QueueBackend": "MySQL" })"))
                         .problems, "SpineMet.QueueBackend"));
    EXPECT_TRUE(mentions(readConfiguration(orthancWithCluster(R"({ "ModelPath": "/m.pt", "LeaseSeconds": 1 })"))
                         .problems, "SpineMet.LeaseSeconds"));
    EXPECT_TRUE(mentions(readConfiguration(orthancWithCluster(R"({ "ModelPath": "/m.pt", "RetryDelay": 100000 })"))
                         .problems, "SpineMet.RetryDelay"));
  }
}
