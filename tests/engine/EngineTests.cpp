// SPDX-License-Identifier: GPL-3.0-or-later
// The LibTorch engine against the Python model and against broken model files. The models are made
// at test time by make_test_models.py (the engine.models fixture) into SPINEMET_ENGINE_MODELS.

#include "engine/Engine.h"
#include "common/AnalysisError.h"
#include "NpyFile.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <thread>

namespace spinemet
{
  namespace
  {
    std::string modelPath(const std::string& name)
    {
      const char* folder = std::getenv("SPINEMET_ENGINE_MODELS");
      if (folder == nullptr)
      {
        throw std::runtime_error("SPINEMET_ENGINE_MODELS is not set (run through ctest)");
      }
      return std::string(folder) + "/" + name;
    }

    EngineOptions cpu(GraphOptimisation graph = GraphOptimisation::Freeze, bool channelsLast = false)
    {
      EngineOptions options;
      options.device = "cpu";
      options.threads = 1;
      options.graph = graph;
      options.channelsLast = channelsLast;
      return options;
    }

    CropBatch referenceBatch(size_t& count)
    {
      const NpyFloatArray inputs = readNpyFloat32(modelPath("reference-inputs.npy"));
      CropBatch batch;
      batch.channels = inputs.shape.at(1);
      batch.size = inputs.shape.at(2);
      count = inputs.shape.at(0);
      for (size_t i = 0; i < count; ++i)
      {
        batch.sliceIndices.push_back(i);
      }
      batch.values = inputs.values;
      return batch;
    }

    std::vector<float> flatten(const SlicePrediction& p)
    {
      std::vector<float> v{p.blastic, p.lytic};
      v.insert(v.end(), p.boneQuality.begin(), p.boneQuality.end());
      v.insert(v.end(), p.posterolateral.begin(), p.posterolateral.end());
      return v;
    }

    // The AnalysisError thrown by loading `name`, or a failure if it loads.
    AnalysisError loadError(const std::string& name, const EngineOptions& options = cpu())
    {
      try
      {
        Engine::load(modelPath(name), options);
      }
      catch (const AnalysisError& error)
      {
        return error;
      }
      ADD_FAILURE() << name << " was accepted";
      return AnalysisError("", "");
    }
  }

  class EngineAgainstPython : public ::testing::TestWithParam<std::tuple<GraphOptimisation, bool>>
  {
  };

  std::string graphTestName(const ::testing::TestParamInfo<std::tuple<GraphOptimisation, bool>>& info)
  {
    static const char* const names[] = {"Scripted", "Frozen", "OptimizedForInference"};
    return std::string(names[static_cast<int>(std::get<0>(info.param))]) +
           (std::get<1>(info.param) ? "ChannelsLast" : "");
  }

  TEST_P(EngineAgainstPython, OutputsEqualPythonWithin1e4)
  {
    auto engine = Engine::load(modelPath("tiny.pt"), cpu(std::get<0>(GetParam()), std::get<1>(GetParam())));
    size_t count = 0;
    const CropBatch batch = referenceBatch(count);
    const NpyFloatArray reference = readNpyFloat32(modelPath("reference-outputs.npy"));
    ASSERT_EQ(reference.shape, (std::vector<size_t>{count, 9}));

    const auto predictions = engine->predict(batch);
    ASSERT_EQ(predictions.size(), count);
    double worst = 0;
    for (size_t i = 0; i < count; ++i)
    {
      const auto actual = flatten(predictions[i]);
      for (size_t k = 0; k < 9; ++k)
      {
        const double difference = std::fabs(actual[k] - reference.values[i * 9 + k]);
        worst = std::max(worst, difference);
        EXPECT_LE(difference, 1e-4) << "crop " << i << " output " << k;
      }
    }
    RecordProperty("max_abs_difference", std::to_string(worst));
  }

  INSTANTIATE_TEST_SUITE_P(GraphOptimisations, EngineAgainstPython,
                           ::testing::Values(std::make_tuple(GraphOptimisation::None, false),
                                             std::make_tuple(GraphOptimisation::Freeze, false),
                                             std::make_tuple(GraphOptimisation::OptimizeForInference, false),
                                             std::make_tuple(GraphOptimisation::Freeze, true),
                                             std::make_tuple(GraphOptimisation::OptimizeForInference, true)),
                           graphTestName);

  // The out-of-distribution gate: the same scores as the Python fit's arithmetic, whichever way
  // the graph is prepared (freezing must keep forward_with_features).
  TEST_P(EngineAgainstPython, GateScoresEqualPythonWithin1e4)
  {
    auto engine = Engine::load(modelPath("tiny-gate.pt"), cpu(std::get<0>(GetParam()), std::get<1>(GetParam())));
    ASSERT_TRUE(engine->metadata().assessability && engine->metadata().assessability->gate);
    size_t count = 0;
    const CropBatch batch = referenceBatch(count);
    const NpyFloatArray expectedScores = readNpyFloat32(modelPath("gate-reference-scores.npy"));
    ASSERT_EQ(expectedScores.shape, (std::vector<size_t>{count}));
    const NpyFloatArray reference = readNpyFloat32(modelPath("reference-outputs.npy"));

    const auto predictions = engine->predict(batch);
    ASSERT_EQ(predictions.size(), count);
    double worst = 0;
    for (size_t i = 0; i < count; ++i)
    {
      const double difference = std::fabs(predictions[i].outOfDistributionScore - expectedScores.values[i]);
      worst = std::max(worst, difference);
      EXPECT_LE(difference, 1e-4) << "crop " << i << ": engine " << predictions[i].outOfDistributionScore
                                  << ", Python " << expectedScores.values[i];
      // tiny-gate.pt has tiny.pt's weights: the gate's method gives forward's predictions.
      const auto actual = flatten(predictions[i]);
      for (size_t k = 0; k < 9; ++k)
      {
        EXPECT_LE(std::fabs(actual[k] - reference.values[i * 9 + k]), 1e-4) << "crop " << i << " output " << k;
      }
    }
    RecordProperty("max_abs_score_difference", std::to_string(worst));
  }

  TEST(Engine, ReadsItsGate)
  {
    auto engine = Engine::load(modelPath("tiny-gate.pt"), cpu());
    const auto& assessability = engine->metadata().assessability;
    ASSERT_TRUE(assessability.has_value());
    ASSERT_TRUE(assessability->gate.has_value());
    // The tiny backbone: 2 x (8 + 16) texture statistics, then its 16 pooled features.
    EXPECT_EQ(assessability->gate->featureDimension, 64);
    EXPECT_EQ(assessability->gate->featuresMethod, "forward_with_features");
    EXPECT_GT(assessability->gate->threshold, 0);
    ASSERT_TRUE(assessability->domain.sliceThicknessMm.has_value());
    EXPECT_DOUBLE_EQ(assessability->domain.sliceThicknessMm->high, 4.0);
  }

  TEST(Engine, AModelWithoutTheSectionLoadsWithTheGateOff)
  {
    auto engine = Engine::load(modelPath("tiny.pt"), cpu(GraphOptimisation::OptimizeForInference));
    EXPECT_FALSE(engine->metadata().assessability.has_value());
    size_t count = 0;
    const auto predictions = engine->predict(referenceBatch(count));
    ASSERT_EQ(predictions.size(), count);
    for (const auto& prediction : predictions)
    {
      EXPECT_TRUE(std::isnan(prediction.outOfDistributionScore));
    }
  }

  TEST(Engine, ReadsItsMetadata)
  {
    auto engine = Engine::load(modelPath("tiny.pt"), cpu());
    EXPECT_EQ(engine->metadata().name, "spinemet-tiny-test");
    EXPECT_EQ(engine->metadata().preprocessing.inputSize, 32);
    EXPECT_EQ(engine->metadata().preprocessing.channels, 1);
    EXPECT_EQ(engine->deviceName(), "cpu (1 threads)");

    auto threeChannels = Engine::load(modelPath("tiny-3ch.pt"), cpu());
    EXPECT_EQ(threeChannels->metadata().preprocessing.channels, 3);
  }

  TEST(Engine, PredictsOneBatchOrManyAlike)
  {
    auto engine = Engine::load(modelPath("tiny.pt"), cpu());
    size_t count = 0;
    const CropBatch batch = referenceBatch(count);
    const auto whole = engine->predict(batch);
    const size_t cropValues = batch.channels * batch.size * batch.size;
    for (size_t i = 0; i < count; ++i)
    {
      CropBatch single;
      single.channels = batch.channels;
      single.size = batch.size;
      single.sliceIndices = {i};
      single.values.assign(batch.crop(i), batch.crop(i) + cropValues);
      const auto one = engine->predict(single);
      ASSERT_EQ(one.size(), 1u);
      const auto a = flatten(one[0]);
      const auto b = flatten(whole[i]);
      for (size_t k = 0; k < a.size(); ++k)
      {
        EXPECT_NEAR(a[k], b[k], 1e-5) << "crop " << i;
      }
    }
  }

  TEST(Engine, PredictIsSafeFromSeveralThreads)
  {
    auto engine = Engine::load(modelPath("tiny.pt"), cpu());
    size_t count = 0;
    const CropBatch batch = referenceBatch(count);
    const auto expected = engine->predict(batch);
    std::vector<std::vector<SlicePrediction>> results(4);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < results.size(); ++t)
    {
      threads.emplace_back([&, t] {
        for (int repeat = 0; repeat < 5; ++repeat)
        {
          results[t] = engine->predict(batch);
        }
      });
    }
    for (auto& thread : threads)
    {
      thread.join();
    }
    for (const auto& result : results)
    {
      ASSERT_EQ(result.size(), count);
      for (size_t i = 0; i < count; ++i)
      {
        EXPECT_EQ(flatten(result[i]), flatten(expected[i]));
      }
    }
  }

  TEST(Engine, EmptyBatchGivesNoPredictions)
  {
    auto engine = Engine::load(modelPath("tiny.pt"), cpu());
    CropBatch empty;
    empty.channels = 1;
    empty.size = 32;
    EXPECT_TRUE(engine->predict(empty).empty());
  }

  TEST(Engine, RefusesABatchOfTheWrongShape)
  {
    auto engine = Engine::load(modelPath("tiny.pt"), cpu());
    CropBatch batch;
    batch.channels = 1;
    batch.size = 64;
    batch.sliceIndices = {0};
    batch.values.assign(64 * 64, 0.0f);
    EXPECT_THROW(engine->predict(batch), std::invalid_argument);
  }

  TEST(EngineRefuses, AMissingFile)
  {
    const AnalysisError error = loadError("does-not-exist.pt");
    EXPECT_EQ(error.code(), "model-load");
    EXPECT_NE(std::string(error.what()).find("does-not-exist.pt\" does not exist"), std::string::npos) << error.what();
  }

  TEST(EngineRefuses, GarbageBytes)
  {
    const AnalysisError error = loadError("garbage.pt");
    EXPECT_EQ(error.code(), "model-load");
    EXPECT_NE(std::string(error.what()).find("is not a TorchScript archive"), std::string::npos) << error.what();
    EXPECT_EQ(std::string(error.what()).find('\n'), std::string::npos) << "no LibTorch backtrace: " << error.what();
  }

  TEST(EngineRefuses, TorchScriptWithoutMetadata)
  {
    const AnalysisError error = loadError("no-metadata.pt");
    EXPECT_EQ(error.code(), "model-contract");
    EXPECT_NE(std::string(error.what()).find("carries no embedded spinemet.json"), std::string::npos) << error.what();
  }

  TEST(EngineRefuses, AModelWithThreeOutputs)
  {
    const AnalysisError error = loadError("wrong-outputs.pt");
    EXPECT_EQ(error.code(), "model-contract");
    EXPECT_NE(std::string(error.what()).find("must return a tuple of 4 tensors"), std::string::npos) << error.what();
  }

  TEST(EngineRefuses, AModelWithAWrongOutputShape)
  {
    const AnalysisError error = loadError("wrong-shape.pt");
    EXPECT_EQ(error.code(), "model-contract");
    EXPECT_NE(std::string(error.what()).find("output 2 (bone_quality_logits) has shape [2, 5], the contract says [2, 4]"),
              std::string::npos) << error.what();
  }

  TEST(EngineRefuses, MetadataOfAnotherContract)
  {
    const AnalysisError error = loadError("bad-metadata.pt");
    EXPECT_EQ(error.code(), "model-contract");
    EXPECT_NE(std::string(error.what()).find("bad-metadata.pt"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("contract"), std::string::npos) << error.what();
  }

  TEST(EngineRefuses, AnUnknownAggregationRule)
  {
    const AnalysisError error = loadError("unknown-rule.pt");
    EXPECT_EQ(error.code(), "model-contract");
    EXPECT_NE(std::string(error.what()).find("\"median_of_modes\", which this build does not know"), std::string::npos)
      << error.what();
  }

  TEST(EngineRefuses, AGateWhoseBufferIsMissing)
  {
    const AnalysisError error = loadError("gate-missing-buffer.pt");
    EXPECT_EQ(error.code(), "model-contract");
    EXPECT_NE(std::string(error.what()).find("precision buffer \"ood_absent\", but the module has no tensor of that name"),
              std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("gate-missing-buffer.pt"), std::string::npos) << error.what();
  }

  TEST(EngineRefuses, AGateOfTheWrongDimension)
  {
    const AnalysisError error = loadError("gate-wrong-dimension.pt");
    EXPECT_EQ(error.code(), "model-contract");
    EXPECT_NE(std::string(error.what()).find("\"ood_class_means\" is Double [4, 64], the gate needs float64 [K, 17]"),
              std::string::npos) << error.what();
  }

  TEST(EngineRefuses, GateBuffersInFloat32)
  {
    const AnalysisError error = loadError("gate-float32.pt");
    EXPECT_EQ(error.code(), "model-contract");
    EXPECT_NE(std::string(error.what()).find("\"ood_precision\" is Float [64, 64], the gate needs float64 [64, 64]"),
              std::string::npos) << error.what();
  }

  TEST(EngineRefuses, AGateWithoutItsFeaturesMethod)
  {
    const AnalysisError error = loadError("gate-no-method.pt");
    EXPECT_EQ(error.code(), "model-contract");
    EXPECT_NE(std::string(error.what()).find("features_method is \"forward_with_features\", but the module has no such method"),
              std::string::npos) << error.what();
  }

  // readMetadata: the metadata load() gives, without the graph, and the same refusals.
  TEST(EngineReadMetadata, GivesWhatLoadGives)
  {
    for (const char* name : {"tiny.pt", "tiny-3ch.pt", "tiny-gate.pt"})
    {
      const ModelMetadata read = Engine::readMetadata(modelPath(name));
      const auto loaded = Engine::load(modelPath(name), cpu());
      EXPECT_EQ(read.raw, loaded->metadata().raw) << name;
      EXPECT_EQ(read.preprocessing.inputSize, loaded->metadata().preprocessing.inputSize) << name;
      EXPECT_EQ(read.preprocessing.channels, loaded->metadata().preprocessing.channels) << name;
      EXPECT_EQ(read.preprocessing.cropMm, loaded->metadata().preprocessing.cropMm) << name;
    }
  }

  TEST(EngineReadMetadata, RefusesWhatLoadRefusesBeforeTheGraph)
  {
    const std::pair<const char*, const char*> cases[] = {
      {"does-not-exist.pt", "model-load"}, {"garbage.pt", "model-load"}, {"no-metadata.pt", "model-contract"},
      {"bad-metadata.pt", "model-contract"}, {"unknown-rule.pt", "model-contract"}};
    for (const auto& [name, code] : cases)
    {
      try
      {
        Engine::readMetadata(modelPath(name));
        ADD_FAILURE() << name << " was accepted";
      }
      catch (const AnalysisError& error)
      {
        EXPECT_EQ(error.code(), code) << name << ": " << error.what();
        EXPECT_NE(std::string(error.what()).find(name), std::string::npos) << error.what();
        EXPECT_EQ(loadError(name).code(), code) << name;
      }
    }
  }

  // PendingEngine: metadata at once; predict waits for the loaded engine and then gives its outputs.
  TEST(PendingEngine, PredictWaitsForTheLoadedEngineAndGivesItsOutputs)
  {
    auto pending = std::make_shared<PendingEngine>(Engine::readMetadata(modelPath("tiny.pt")));
    EXPECT_EQ(pending->metadata().preprocessing.inputSize, 32);
    size_t count = 0;
    const CropBatch batch = referenceBatch(count);
    std::vector<SlicePrediction> waited;
    std::thread modelThread([&] { waited = pending->predict(batch); });
    const auto loaded = Engine::load(modelPath("tiny.pt"), cpu());
    pending->provide(loaded);
    modelThread.join();
    const std::vector<SlicePrediction> direct = loaded->predict(batch);
    ASSERT_EQ(waited.size(), count);
    ASSERT_EQ(direct.size(), count);
    for (size_t i = 0; i < count; ++i)
    {
      EXPECT_EQ(flatten(waited[i]), flatten(direct[i])) << "crop " << i;
    }
    EXPECT_EQ(pending->deviceName(), loaded->deviceName());
  }

  TEST(PendingEngine, PredictRethrowsTheLoadsFailure)
  {
    auto pending = std::make_shared<PendingEngine>(Engine::readMetadata(modelPath("tiny.pt")));
    try
    {
      Engine::load(modelPath("garbage.pt"), cpu());
    }
    catch (...)
    {
      pending->fail(std::current_exception());
    }
    size_t count = 0;
    EXPECT_THROW(pending->predict(referenceBatch(count)), AnalysisError);
  }

  TEST(PendingEngine, RefusesAnEngineOfOtherMetadata)
  {
    PendingEngine pending(Engine::readMetadata(modelPath("tiny.pt")));
    EXPECT_THROW(pending.provide(Engine::load(modelPath("tiny-3ch.pt"), cpu())), std::logic_error);
  }

  TEST(EngineRefuses, AnUnknownDevice)
  {
    EngineOptions options = cpu();
    options.device = "tpu";
    EXPECT_EQ(loadError("tiny.pt", options).code(), "device");
  }

  TEST(Engine, CudaWhereLibTorchSeesAGpuElseAClearRefusal)
  {
    EngineOptions options = cpu();
    options.device = "cuda";
    std::shared_ptr<Engine> engine;
    try
    {
      engine = Engine::load(modelPath("tiny.pt"), options);
    }
    catch (const AnalysisError& error)
    {
      EXPECT_EQ(error.code(), "device");
      EXPECT_NE(std::string(error.what()).find("sees no CUDA device"), std::string::npos) << error.what();
      options.device = "auto";
      EXPECT_EQ(Engine::load(modelPath("tiny.pt"), options)->deviceName().rfind("cpu", 0), 0u);
      return;
    }
    EXPECT_EQ(engine->deviceName(), "cuda:0");
  }
}
