// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// LibTorch stays behind this header: nothing that includes it needs torch's include paths.

#include "crops/Crops.h"
#include "model/ModelContract.h"

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace spinemet
{
  struct EngineOptions
  {
    std::string device = "auto";    // "auto" (CUDA when LibTorch sees a GPU), "cpu", "cuda"
    int threads = 0;                 // CPU intra-op threads; 0 = LibTorch's default
  };

  // The model's outputs for one crop, as probabilities.
  struct SlicePrediction
  {
    float blastic = 0;
    float lytic = 0;
    std::array<float, 4> boneQuality{};
    std::array<float, 3> posterolateral{};
  };

  // A loaded TorchScript model honouring the contract. Loaded once, shared by all workers; predict()
  // may be called from several threads.
  class Engine
  {
  public:
    // Throws AnalysisError("model-load" / "model-contract") naming the file and what is wrong.
    static std::shared_ptr<Engine> load(const std::string& path, const EngineOptions& options);

    virtual ~Engine() = default;
    virtual const ModelMetadata& metadata() const = 0;
    virtual std::string deviceName() const = 0;
    virtual std::vector<SlicePrediction> predict(const CropBatch& batch) = 0;
  };
}
