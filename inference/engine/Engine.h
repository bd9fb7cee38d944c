// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// LibTorch stays behind this header: nothing that includes it needs torch's include paths.

#include "crops/Crops.h"
#include "model/ModelContract.h"

#include <array>
#include <chrono>
#include <exception>
#include <future>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace spinemet
{
  // How the TorchScript graph is prepared once at load time (benchmarks/README.md, engine section,
  // has the figures behind the default).
  enum class GraphOptimisation
  {
    None,                    // the scripted module as saved
    Freeze,                  // torch::jit::freeze: weights become constants, BatchNorm folded into convolutions
    OptimizeForInference     // freeze + torch::jit::optimize_for_inference (oneDNN/MKLDNN layouts on CPU)
  };

  // Where Engine::load spent its time (spinemet classify --timings), seconds of wall time.
  struct EngineLoadSeconds
  {
    double read = 0;             // torch::jit::load: the archive read, its code compiled
    double freeze = 0;           // torch::jit::freeze
    double optimise = 0;         // torch::jit::optimize_for_inference
    double probe = 0;            // the probe batch
  };

  struct EngineOptions
  {
    std::string device = "auto";    // "auto" (CUDA when LibTorch sees a GPU), "cpu", "cuda"
    int threads = 0;                 // CPU intra-op threads; 0 = LibTorch's default. Process-global
                                     // (at::set_num_threads): the last engine loaded sets it for all.
    GraphOptimisation graph = GraphOptimisation::OptimizeForInference;
    bool channelsLast = false;       // NHWC-strided input: no consistent gain measured, so off
    // Optional: filled by load() as it goes (the caller's, alive until load() returns).
    EngineLoadSeconds* loadSeconds = nullptr;
  };

  // The model's outputs for one crop, as probabilities.
  struct SlicePrediction
  {
    float blastic = 0;
    float lytic = 0;
    std::array<float, 4> boneQuality{};
    std::array<float, 3> posterolateral{};
    // The crop's Mahalanobis distance to the training features (ModelContract.h,
    // OutOfDistributionGate); NaN when the model carries no gate.
    float outOfDistributionScore = std::numeric_limits<float>::quiet_NaN();
  };

  // A loaded TorchScript model honouring the contract. Loaded once, shared by all workers; predict()
  // may be called from several threads at once (TorchScript's interpreter keeps per-call state;
  // the module's weights are only read under torch::InferenceMode).
  class Engine
  {
  public:
    // Throws AnalysisError naming the file and what is wrong: "model-load" (missing, unreadable, not
    // TorchScript), "model-contract" (no or bad spinemet.json, outputs that break the contract on a
    // probe batch run at load time), "device" (cuda asked for and not available).
    static std::shared_ptr<Engine> load(const std::string& path, const EngineOptions& options);

    // The model's metadata (its embedded spinemet.json) read from the archive without loading its
    // graph (milliseconds, not the ~0.5 s of load()), checked as load() checks it: the crop
    // geometry the stages before the model need, known while the model still loads. Throws
    // AnalysisError "model-load" (missing, not a TorchScript archive) or "model-contract".
    static ModelMetadata readMetadata(const std::string& path);

    virtual ~Engine() = default;
    virtual const ModelMetadata& metadata() const = 0;
    virtual std::string deviceName() const = 0;
    // One prediction per crop, in batch order. Throws std::invalid_argument for a batch whose
    // channels or size differ from metadata().preprocessing (a programming error, not bad input).
    virtual std::vector<SlicePrediction> predict(const CropBatch& batch) = 0;
  };

  // An engine whose model is still loading on another thread: its metadata (Engine::readMetadata)
  // is known at once, so that a Worker can read the series and search the spine meanwhile; the
  // first predict() waits until provide() hands over the loaded engine, or rethrows what fail()
  // was given. The command-line tool overlaps the model's loading with reading that way.
  class PendingEngine : public Engine
  {
  public:
    explicit PendingEngine(ModelMetadata metadata) : metadata_(std::move(metadata)), loaded_(promise_.get_future()) {}

    // Once, with an engine loaded from the same file. An engine whose metadata differs (the file
    // was replaced between the two reads) is refused: the crops were made for the first.
    void provide(std::shared_ptr<Engine> engine)
    {
      if (engine->metadata().raw != metadata_.raw)
      {
        throw std::logic_error("PendingEngine::provide: the loaded model's metadata differs from the one read before");
      }
      promise_.set_value(std::move(engine));
    }
    void fail(std::exception_ptr error) { promise_.set_exception(std::move(error)); }

    const ModelMetadata& metadata() const override { return metadata_; }
    std::string deviceName() const override { return loaded_.get()->deviceName(); }
    std::vector<SlicePrediction> predict(const CropBatch& batch) override
    {
      return loaded_.get()->predict(batch);
    }

  private:
    ModelMetadata metadata_;
    std::promise<std::shared_ptr<Engine>> promise_;
    std::shared_future<std::shared_ptr<Engine>> loaded_;
  };

  // Times the model's own calls of another engine without changing them (the CLI's --timings and
  // the benchmarks). Called from one model thread: the counters need no lock.
  class TimedEngine : public Engine
  {
  public:
    explicit TimedEngine(std::shared_ptr<Engine> engine) : engine_(std::move(engine)) {}
    const ModelMetadata& metadata() const override { return engine_->metadata(); }
    std::string deviceName() const override { return engine_->deviceName(); }
    std::vector<SlicePrediction> predict(const CropBatch& batch) override
    {
      const auto start = std::chrono::steady_clock::now();
      auto predictions = engine_->predict(batch);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      ++calls;
      return predictions;
    }

    double seconds = 0;   // in predict, summed
    size_t calls = 0;

  private:
    std::shared_ptr<Engine> engine_;
  };
}
