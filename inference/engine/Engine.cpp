// SPDX-License-Identifier: GPL-3.0-or-later
// The only translation unit of SpineMet that includes LibTorch.
#include "engine/Engine.h"

#include "common/AnalysisError.h"
#include "engine/Aggregation.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/script.h>
#include <torch/csrc/jit/python/update_graph_executor_opt.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/cuda.h>
#include <torch/version.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <optional>
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

    // The out-of-distribution gate's statistics (ModelContract.h, OutOfDistributionGate), kept on
    // the host in float64: the score is a small [N, K, D] computation after the network, and
    // float32 would lose digits in (f - mu)^T P (f - mu) where P has a wide range of eigenvalues.
    struct GateBuffers
    {
      std::string method;
      int64_t featureDimension = 0;
      at::Tensor classMeans;     // [K, D] float64
      at::Tensor precision;      // [D, D] float64
    };

    at::Tensor gateBuffer(const torch::jit::Module& module, const std::string& name, const std::string& role,
                          int64_t rows, int64_t columns, const std::string& expected)
    {
      if (!module.hasattr(name) || !module.attr(name).isTensor())
      {
        throw AnalysisError("model-contract", "assessability.out_of_distribution names the " + role + " buffer \"" +
                                                name + "\", but the module has no tensor of that name");
      }
      at::Tensor tensor = module.attr(name).toTensor();
      const bool shapeOk = tensor.dim() == 2 && (rows < 0 || tensor.size(0) == rows) && tensor.size(0) > 0 &&
                           tensor.size(1) == columns;
      if (!shapeOk || tensor.scalar_type() != torch::kFloat64)
      {
        throw AnalysisError("model-contract", "the " + role + " buffer \"" + name + "\" is " +
                                                std::string(c10::toString(tensor.scalar_type())) + " " +
                                                shapeText(tensor) + ", the gate needs float64 " + expected);
      }
      // A copy: freezing below may drop or fold the module's attributes.
      return tensor.to(torch::kCPU).clone().contiguous();
    }

    // Checked before freezing, which keeps only what forward (and preserved methods) use.
    GateBuffers readGate(const torch::jit::Module& module, const OutOfDistributionGate& gate)
    {
      if (!module.find_method(gate.featuresMethod))
      {
        throw AnalysisError("model-contract", "assessability.out_of_distribution.features_method is \"" +
                                                gate.featuresMethod + "\", but the module has no such method");
      }
      GateBuffers buffers;
      buffers.method = gate.featuresMethod;
      buffers.featureDimension = gate.featureDimension;
      const std::string d = std::to_string(gate.featureDimension);
      buffers.classMeans = gateBuffer(module, gate.classMeansBuffer, "class means", -1, gate.featureDimension,
                                      "[K, " + d + "] (feature_dimension " + d + ")");
      buffers.precision = gateBuffer(module, gate.precisionBuffer, "precision", gate.featureDimension,
                                     gate.featureDimension, "[" + d + ", " + d + "] (feature_dimension " + d + ")");
      if (!torch::isfinite(buffers.classMeans).all().item<bool>() ||
          !torch::isfinite(buffers.precision).all().item<bool>())
      {
        throw AnalysisError("model-contract", "the out-of-distribution gate's buffers hold non-finite values");
      }
      return buffers;
    }

    // min over classes c of sqrt((f - mu_c)^T P (f - mu_c)): spinemet_train/mahalanobis.py, crop_scores.
    at::Tensor mahalanobisScores(const at::Tensor& features, const GateBuffers& gate)
    {
      const at::Tensor f = features.to(torch::kCPU, torch::kFloat64);
      const at::Tensor difference = f.unsqueeze(1) - gate.classMeans.unsqueeze(0);           // [N, K, D]
      const at::Tensor squared = (torch::matmul(difference, gate.precision) * difference).sum(-1);  // [N, K]
      return std::get<0>(squared.clamp_min(0).sqrt().min(1)).to(torch::kFloat32).contiguous();
    }

    // The embedded spinemet.json parsed and checked: the same words for load() and readMetadata().
    ModelMetadata checkedMetadata(const std::string& path, const std::string& metadataText)
    {
      if (metadataText.empty())
      {
        throw AnalysisError("model-contract", "model file \"" + path + "\" carries no embedded " + METADATA_FILE +
                                                " (export it with torch.jit.save(..., _extra_files={\"" +
                                                METADATA_FILE + "\": ...}), docs/model-contract.md)");
      }
      try
      {
        ModelMetadata metadata = parseModelMetadata(metadataText);
        aggregationRuleFromMetadata(metadata);     // a rule this build cannot apply is refused now
        return metadata;
      }
      catch (const AnalysisError& error)
      {
        throw AnalysisError(error.code(), "model file \"" + path + "\": " + error.what());
      }
    }

    class TorchEngine : public Engine
    {
    public:
      TorchEngine(torch::jit::Module module, ModelMetadata metadata, torch::Device device, bool channelsLast,
                  std::optional<GateBuffers> gate, bool graphPrepared) :
        module_(std::move(module)),
        metadata_(std::move(metadata)),
        device_(device),
        channelsLast_(channelsLast),
        gate_(std::move(gate)),
        graphPrepared_(graphPrepared)
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
        // TorchScript's profiling executor instruments a method's first call, optimises the
        // graph again on its second (for the shapes it saw), and keeps that plan. On a graph
        // that load() already froze and optimised for inference this gave the same operators,
        // but cost ~0.25 s on the first batch of the real size and ~0.05 s on the probe
        // (spinemet classify, docs/performance.md). So such a graph runs as it is, from its
        // first call. The switch is per thread (every calling thread sets it, for this call).
        const torch::jit::GraphOptimizerEnabledGuard executorOptimises(!graphPrepared_);
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
        // With a gate, one pass gives both the predictions and the features (the backbone is the
        // whole cost); the method's first four outputs are forward's.
        const c10::IValue output = gate_ ? module_.get_method(gate_->method)(inputs) : module_.forward(inputs);
        const size_t expectedOutputs = gate_ ? 5 : 4;
        if (!output.isTuple() || output.toTupleRef().elements().size() != expectedOutputs)
        {
          throw AnalysisError("model-contract", gate_ ? gate_->method + "() must return a tuple of 5 tensors (forward's "
                                                                        "four outputs, then the features [N, D])"
                                                      : std::string("forward() must return a tuple of 4 tensors "
                                                                    "(blastic_logit, lytic_logit, bone_quality_logits, "
                                                                    "posterolateral_logits)"));
        }
        // A vector: GCC cannot see that the size check above guards the tuple's small inline storage.
        const std::vector<c10::IValue> elements = output.toTupleRef().elements().vec();
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
        if (gate_)
        {
          const at::Tensor scores = mahalanobisScores(gateFeatures(elements[4], count), *gate_);
          const float* score = scores.data_ptr<float>();
          for (size_t i = 0; i < count; ++i)
          {
            predictions[i].outOfDistributionScore = score[i];
          }
        }
        return predictions;
      }

    private:
      at::Tensor gateFeatures(const c10::IValue& value, size_t count) const
      {
        const std::string expected = "[" + std::to_string(count) + ", " + std::to_string(gate_->featureDimension) + "]";
        if (!value.isTensor())
        {
          throw AnalysisError("model-contract", gate_->method + "() output 4 (features) is not a tensor; the gate "
                                                                "needs " + expected + " floating point");
        }
        const at::Tensor features = value.toTensor();
        if (features.dim() != 2 || features.size(0) != int64_t(count) || features.size(1) != gate_->featureDimension ||
            !features.is_floating_point())
        {
          throw AnalysisError("model-contract", gate_->method + "() output 4 (features) has shape " +
                                                  shapeText(features) + ", the gate's feature_dimension says " +
                                                  expected + " floating point");
        }
        return features;
      }

      torch::jit::Module module_;
      ModelMetadata metadata_;
      torch::Device device_;
      bool channelsLast_;
      std::optional<GateBuffers> gate_;
      bool graphPrepared_;     // frozen and optimised for inference at load: the executor adds nothing
    };
  }

  ModelMetadata Engine::readMetadata(const std::string& path)
  {
    if (!std::ifstream(path, std::ios::binary))
    {
      throw AnalysisError("model-load", "model file \"" + path + "\" does not exist or cannot be read");
    }
    std::string metadataText;
    try
    {
      // The archive's index and one record: torch::jit::load reads its extra files the same way.
      caffe2::serialize::PyTorchStreamReader reader(path);
      const std::string record = std::string("extra/") + METADATA_FILE;
      if (reader.hasRecord(record))
      {
        const auto [data, size] = reader.getRecord(record);
        metadataText.assign(static_cast<const char*>(data.get()), size);
      }
    }
    catch (const c10::Error& error)
    {
      throw AnalysisError("model-load", "model file \"" + path + "\" is not a TorchScript archive that LibTorch " +
                                          TORCH_VERSION + " can read: " + firstLine(error.what()));
    }
    return checkedMetadata(path, metadataText);
  }

  std::shared_ptr<Engine> Engine::load(const std::string& path, const EngineOptions& options)
  {
    if (!std::ifstream(path, std::ios::binary))
    {
      throw AnalysisError("model-load", "model file \"" + path + "\" does not exist or cannot be read");
    }
    const torch::Device device = chooseDevice(path, options.device);
    // Loading, freezing and optimising run many tiny parallel regions: with more than one
    // intra-op thread each waits for every OpenMP thread to be scheduled, and on a busy or
    // shared machine that spin-waiting cost 2-3 s of a 3.5 s startup (docs/performance.md). So
    // they run on one thread, and so does the probe batch (~150 parallel regions: with two
    // threads beside other busy threads it waited 2-8 s at load 7-10); the model's own calls
    // get the threads asked for.
    struct ThreadsForModelCalls
    {
      int threads;
      ~ThreadsForModelCalls() { at::set_num_threads(threads); }
    } restore{options.threads > 0 ? options.threads : at::get_num_threads()};
    // But first one empty parallel region with those threads, on this thread: its OpenMP team
    // (this thread and a worker, asleep after it) stays in the process, and with more OpenMP
    // threads than cores libgomp spins far less before it sleeps. Without a team here, the
    // model's calls on another thread took 10-55 s instead of ~1 s on the loaded 2-core machine,
    // their threads spinning at every parallel region (docs/performance.md, "OpenMP").
    at::set_num_threads(restore.threads);
    if (restore.threads > 1)
    {
      at::parallel_for(0, restore.threads, 1, [](int64_t, int64_t) {});
    }
    at::set_num_threads(1);

    EngineLoadSeconds unused;
    EngineLoadSeconds& seconds = options.loadSeconds ? *options.loadSeconds : unused;
    auto stepStart = std::chrono::steady_clock::now();
    auto stepSeconds = [&stepStart] {
      const auto now = std::chrono::steady_clock::now();
      const double elapsed = std::chrono::duration<double>(now - stepStart).count();
      stepStart = now;
      return elapsed;
    };

    torch::jit::ExtraFilesMap extraFiles{{METADATA_FILE, ""}};
    torch::jit::Module module;
    try
    {
      module = torch::jit::load(path, device, extraFiles);
      seconds.read = stepSeconds();
    }
    catch (const c10::Error& error)
    {
      throw AnalysisError("model-load", "model file \"" + path + "\" is not a TorchScript archive that LibTorch " +
                                          TORCH_VERSION + " can load: " + firstLine(error.what()));
    }

    ModelMetadata metadata = checkedMetadata(path, extraFiles[METADATA_FILE]);

    module.eval();
    std::optional<GateBuffers> gate;
    if (metadata.assessability && metadata.assessability->gate)
    {
      try
      {
        gate = readGate(module, *metadata.assessability->gate);
      }
      catch (const AnalysisError& error)
      {
        throw AnalysisError(error.code(), "model file \"" + path + "\": " + error.what());
      }
    }
    try
    {
      // Freezing works on a module in eval mode and needs no example input. It keeps forward
      // only, unless told otherwise: the gate's method must survive it. optimize_for_inference
      // freezes a module that is not frozen yet with nothing preserved, hence freeze first.
      const std::vector<std::string> methods = gate ? std::vector<std::string>{gate->method} : std::vector<std::string>{};
      if (options.graph == GraphOptimisation::Freeze || options.graph == GraphOptimisation::OptimizeForInference)
      {
        stepSeconds();
        module = torch::jit::freeze(module, methods);
        seconds.freeze = stepSeconds();
      }
      if (options.graph == GraphOptimisation::OptimizeForInference)
      {
        module = torch::jit::optimize_for_inference(module, methods);
        seconds.optimise = stepSeconds();
      }
    }
    catch (const c10::Error& error)
    {
      throw AnalysisError("model-load", "model file \"" + path + "\": its graph cannot be frozen/optimised: " +
                                          firstLine(error.what()));
    }

    const std::string probedMethod = gate ? gate->method : std::string("forward");
    auto engine = std::make_shared<TorchEngine>(std::move(module), std::move(metadata), device, options.channelsLast,
                                                std::move(gate),
                                                options.graph == GraphOptimisation::OptimizeForInference);

    // The probe batch: a model whose outputs break the contract is refused now, not on the first
    // series. Two crops, so that a model that drops the batch dimension is caught.
    const Preprocessing& p = engine->metadata().preprocessing;
    const at::Tensor probe = torch::zeros({2, p.channels, p.inputSize, p.inputSize}, torch::kFloat32);
    // On one thread (above), so it need not wait for idle cores.
    try
    {
      stepSeconds();
      engine->run(probe, 2);
      seconds.probe = stepSeconds();
    }
    catch (const AnalysisError& error)
    {
      throw AnalysisError(error.code(), "model file \"" + path + "\": " + error.what());
    }
    catch (const c10::Error& error)
    {
      throw AnalysisError("model-contract", "model file \"" + path + "\": " +
                                              probedMethod +
                                              "() fails on a [2, " +
                                              std::to_string(p.channels) + ", " + std::to_string(p.inputSize) + ", " +
                                              std::to_string(p.inputSize) + "] float32 input as its metadata " +
                                              "describes: " + firstLine(error.what()));
    }
    return engine;
  }
}
