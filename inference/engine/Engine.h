// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// LibTorch stays behind this header: nothing that includes it needs torch's include paths.

#include "crops/Crops.h"
#include "model/ModelContract.h"

#include <array>
#include <chrono>
#include <limits>
#include <memory>
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

  struct EngineOptions
  {
    std::string device = "auto";    // "auto" (CUDA when LibTorch sees a GPU), "cpu", "cuda"
    int threads = 0;                 // CPU intra-op threads; 0 = LibTorch's default. Process-global
                                     // (at::set_num_threads): the last engine loaded sets it for all.
    GraphOptimisation graph = GraphOptimisation::OptimizeForInference;
    bool channelsLast = false;       // NHWC-strided input: no consistent gain measured, so off
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

    virtual ~Engine() = default;
    virtual const ModelMetadata& metadata() const = 0;
    virtual std::string deviceName() const = 0;
    // One prediction per crop, in batch order. Throws std::invalid_argument for a batch whose
    // channels or size differ from metadata().preprocessing (a programming error, not bad input).
    virtual std::vector<SlicePrediction> predict(const CropBatch& batch) = 0;
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
