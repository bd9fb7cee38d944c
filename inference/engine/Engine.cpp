// SPDX-License-Identifier: GPL-3.0-or-later
// The only translation unit of SpineMet that includes LibTorch.
#include "engine/Engine.h"

#include "common/AnalysisError.h"
#include "engine/Aggregation.h"

#include <torch/script.h>
#include <torch/cuda.h>
#include <torch/version.h>
#include <ATen/Parallel.h>

#include <fstream>
#include <mutex>
#include <sstream>

namespace spinemet
{
  namespace
  {
    const char* const METADATA_FILE = "spinemet.json";

    // LibTorch errors carry a C++ backtrace after the first line; users need only the first line.
    std::string firstLine(const std::string& text)
    {
      const size_t end = text.find('\n');
      return end == std::string::npos ? text : text.substr(0, end);
    }

    std::string shapeText(const at::Tensor& tensor)
    {
      std::ostringstream out;
      out << tensor.sizes();
      return out.str();
    }

    torch::Device chooseDevice(const std::string& path, const std::string& device)
    {
      if (device == "cpu")
      {
        return torch::kCPU;
      }
      if (device == "cuda" || device == "auto")
      {
        if (torch::cuda::is_available())
        {
          return torch::Device(torch::kCUDA, 0);
        }
        if (device == "cuda")
        {
          throw AnalysisError("device", path + ": device \"cuda\" asked for, but this LibTorch sees no CUDA device "
                                        "(Debian's LibTorch is built for the CPU only); use \"cpu\" or \"auto\"");
        }
        return torch::kCPU;
      }
      throw AnalysisError("device", "unknown device \"" + device + "\" (auto, cpu, cuda)");
    }

    class TorchEngine : public Engine
    {
    public:
      TorchEngine(torch::jit::Module module, ModelMetadata metadata, torch::Device device, bool channelsLast) :
        module_(std::move(module)),
        metadata_(std::move(metadata)),
        device_(device),
        channelsLast_(channelsLast)
      {
      }

      const ModelMetadata& metadata() const override
      {
        return metadata_;
      }

      std::string deviceName() const override
      {
        if (device_.is_cuda())
        {
          return "cuda:" + std::to_string(device_.index());
        }
        return "cpu (" + std::to_string(at::get_num_threads()) + " threads)";
      }

      std::vector<SlicePrediction> predict(const CropBatch& batch) override
      {
        const Preprocessing& p = metadata_.preprocessing;
        if (batch.channels != static_cast<size_t>(p.channels) || batch.size != static_cast<size_t>(p.inputSize) ||
            batch.values.size() != batch.count() * batch.channels * batch.size * batch.size)
        {
          throw std::invalid_argument("Engine::predict: the batch is not [N, " + std::to_string(p.channels) + ", " +
                                      std::to_string(p.inputSize) + ", " + std::to_string(p.inputSize) +
                                      "] float32 as the model's preprocessing says");
        }
        if (batch.count() == 0)
        {
          return {};
        }
        const auto n = static_cast<int64_t>(batch.count());
        const auto c = static_cast<int64_t>(batch.channels);
        const auto s = static_cast<int64_t>(batch.size);
        // from_blob wraps the crop buffer without a copy; the model never writes to its input.
        at::Tensor input = torch::from_blob(const_cast<float*>(batch.values.data()), {n, c, s, s}, torch::kFloat32);
        return run(input, batch.count());
      }

      // Runs the model and checks that its outputs honour the contract; used by predict() and by
      // load() on a probe batch.
      std::vector<SlicePrediction> run(const at::Tensor& hostInput, size_t count)
      {
        torch::InferenceMode inferenceMode;
        at::Tensor input = hostInput;
        if (channelsLast_)
        {
          input = input.contiguous(at::MemoryFormat::ChannelsLast);
        }
        if (!device_.is_cpu())
        {
          input = input.to(device_, /*non_blocking=*/false, /*copy=*/false);
        }
        std::vector<c10::IValue> inputs{input};
        const c10::IValue output = module_.forward(inputs);

        if (!output.isTuple() || output.toTupleRef().elements().size() != 4)
        {
          throw AnalysisError("model-contract", "forward() must return a tuple of 4 tensors (blastic_logit, lytic_logit, "
                                                "bone_quality_logits, posterolateral_logits)");
        }
        const auto& elements = output.toTupleRef().elements();
        static const char* const names[] = {"blastic_logit", "lytic_logit", "bone_quality_logits",
                                            "posterolateral_logits"};
        static const int64_t widths[] = {0, 0, 4, 3};
        std::array<at::Tensor, 4> tensors;
        for (size_t i = 0; i < 4; ++i)
        {
          if (!elements[i].isTensor())
          {
            throw AnalysisError("model-contract", std::string("output ") + std::to_string(i) + " (" + names[i] +
                                                    ") is not a tensor");
          }
          at::Tensor t = elements[i].toTensor();
          const bool shapeOk = widths[i] == 0 ? (t.dim() == 1 && t.size(0) == int64_t(count))
                                              : (t.dim() == 2 && t.size(0) == int64_t(count) && t.size(1) == widths[i]);
          if (!shapeOk || !t.is_floating_point())
          {
            const std::string expected = widths[i] == 0 ? "[" + std::to_string(count) + "]"
                                                        : "[" + std::to_string(count) + ", " + std::to_string(widths[i]) + "]";
            throw AnalysisError("model-contract", std::string("output ") + std::to_string(i) + " (" + names[i] +
                                                    ") has shape " + shapeText(t) + ", the contract says " + expected +
                                                    " floating point");
          }
          tensors[i] = t.to(torch::kCPU, torch::kFloat32).contiguous();
        }

        const at::Tensor blastic = torch::sigmoid(tensors[0]);
        const at::Tensor lytic = torch::sigmoid(tensors[1]);
        const at::Tensor boneQuality = torch::softmax(tensors[2], 1);
        const at::Tensor posterolateral = torch::softmax(tensors[3], 1);
        const float* b = blastic.data_ptr<float>();
        const float* l = lytic.data_ptr<float>();
        const float* q = boneQuality.data_ptr<float>();
        const float* pl = posterolateral.data_ptr<float>();

        std::vector<SlicePrediction> predictions(count);
        for (size_t i = 0; i < count; ++i)
        {
          predictions[i].blastic = b[i];
          predictions[i].lytic = l[i];
          std::copy(q + 4 * i, q + 4 * i + 4, predictions[i].boneQuality.begin());
          std::copy(pl + 3 * i, pl + 3 * i + 3, predictions[i].posterolateral.begin());
        }
        return predictions;
      }

    private:
      torch::jit::Module module_;
      ModelMetadata metadata_;
      torch::Device device_;
      bool channelsLast_;
    };
  }

  std::shared_ptr<Engine> Engine::load(const std::string& path, const EngineOptions& options)
  {
    if (!std::ifstream(path, std::ios::binary))
    {
      throw AnalysisError("model-load", "model file \"" + path + "\" does not exist or cannot be read");
    }
    const torch::Device device = chooseDevice(path, options.device);
    if (options.threads > 0)
    {
      at::set_num_threads(options.threads);
    }

    torch::jit::ExtraFilesMap extraFiles{{METADATA_FILE, ""}};
    torch::jit::Module module;
    try
    {
      module = torch::jit::load(path, device, extraFiles);
    }
    catch (const c10::Error& error)
    {
      throw AnalysisError("model-load", "model file \"" + path + "\" is not a TorchScript archive that LibTorch " +
                                          TORCH_VERSION + " can load: " + firstLine(error.what()));
    }

    const std::string& metadataText = extraFiles[METADATA_FILE];
    if (metadataText.empty())
    {
      throw AnalysisError("model-contract", "model file \"" + path + "\" carries no embedded " + METADATA_FILE +
                                              " (export it with torch.jit.save(..., _extra_files={\"" +
                                              METADATA_FILE + "\": ...}), docs/model-contract.md)");
    }
    ModelMetadata metadata;
    try
    {
      metadata = parseModelMetadata(metadataText);
      aggregationRuleFromMetadata(metadata);     // a rule this build cannot apply is refused now
    }
    catch (const AnalysisError& error)
    {
      throw AnalysisError(error.code(), "model file \"" + path + "\": " + error.what());
    }

    module.eval();
    try
    {
      // Freezing works on a module in eval mode and needs no example input.
      if (options.graph == GraphOptimisation::Freeze)
      {
        module = torch::jit::freeze(module);
      }
      else if (options.graph == GraphOptimisation::OptimizeForInference)
      {
        module = torch::jit::optimize_for_inference(module);
      }
    }
    catch (const c10::Error& error)
    {
      throw AnalysisError("model-load", "model file \"" + path + "\": its graph cannot be frozen/optimised: " +
                                          firstLine(error.what()));
    }

    auto engine = std::make_shared<TorchEngine>(std::move(module), std::move(metadata), device, options.channelsLast);

    // The probe batch: a model whose outputs break the contract is refused now, not on the first
    // series. Two crops, so that a model that drops the batch dimension is caught.
    const Preprocessing& p = engine->metadata().preprocessing;
    const at::Tensor probe = torch::zeros({2, p.channels, p.inputSize, p.inputSize}, torch::kFloat32);
    try
    {
      engine->run(probe, 2);
    }
    catch (const AnalysisError& error)
    {
      throw AnalysisError(error.code(), "model file \"" + path + "\": " + error.what());
    }
    catch (const c10::Error& error)
    {
      throw AnalysisError("model-contract", "model file \"" + path + "\": forward() fails on a [2, " +
                                              std::to_string(p.channels) + ", " + std::to_string(p.inputSize) + ", " +
                                              std::to_string(p.inputSize) + "] float32 input as its metadata " +
                                              "describes: " + firstLine(error.what()));
    }
    return engine;
  }
}
