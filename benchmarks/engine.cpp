// SPDX-License-Identifier: GPL-3.0-or-later
// spinemet-engine-bench: the engine and the whole pipeline on one series, timed (benchmarks/engine.sh).
//
//   spinemet-engine-bench pipeline SERIES MODEL [--threads N] [--batch N] [--graph none|freeze|optimize]
//                         [--channels-last on|off] [--json OUT] [--centres OUT]
//       the worker on one series end to end from the files, with the time of each stage and the model's share
//   spinemet-engine-bench levers SERIES MODEL [--threads N,N] [--batch N,N] [--crops N] [--rounds N]
//       the model stage alone over N crops of the series (default 96), for each CPU lever, best of
//       N interleaved rounds (default 3)
//   spinemet-engine-bench gate SERIES MODEL --without MODEL_WITHOUT_GATE [--threads N] [--batch N,N]
//                         [--crops N] [--rounds N] [--graph none|freeze|optimize]
//       the cost of the out-of-distribution gate: the model stage over N crops with the gate
//       (forward_with_features + float64 Mahalanobis scores) and the same weights without it
//       (forward), side by side, alternating batch by batch, the sum of each batch's best time
//   spinemet-engine-bench forward SERIES MODEL [--threads N] [--batch N] [--rounds N] [--centres OUT]
//       the model's own time (Engine::predict, as the worker calls it) over every crop the
//       pipeline classifies on the series, cut into batches once, best of N rounds (default 5),
//       on a thread of its own as the Worker runs the model;
//       the reference of benchmarks/overhead.py. --centres writes the crop centres for the
//       Python reference pipeline
//
// Not a test: it asserts nothing, it measures. Built on demand (EXCLUDE_FROM_ALL).

#include "engine/Engine.h"
#include "worker/Worker.h"

#include <ATen/Parallel.h>     // at::set_num_threads: the benchmark alternates thread counts
#include <torch/torch.h>        // the gate's arithmetic alone, as Engine.cpp does it

#include <json/writer.h>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace spinemet
{
  namespace
  {
    using Clock = std::chrono::steady_clock;

    double seconds(Clock::time_point from, Clock::time_point to = Clock::now())
    {
      return std::chrono::duration<double>(to - from).count();
    }

    double cpuSeconds()
    {
      rusage usage{};
      getrusage(RUSAGE_SELF, &usage);
      return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + 1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
    }

    // The calling thread's CPU time: with one intra-op thread LibTorch runs in the caller, and CPU
    // time does not count the waits for a core that the machine's other work holds.
    double threadCpuSeconds()
    {
      timespec now{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
      return now.tv_sec + 1e-9 * now.tv_nsec;
    }

    // `all` cut into batches of `batchSize` crops (the last one shorter), before any timed loop.
    std::vector<CropBatch> cutIntoBatches(const CropBatch& all, size_t batchSize)
    {
      const size_t cropValues = all.channels * all.size * all.size;
      std::vector<CropBatch> batches;
      for (size_t first = 0; first < all.count(); first += batchSize)
      {
        const size_t count = std::min(batchSize, all.count() - first);
        CropBatch batch;
        batch.channels = all.channels;
        batch.size = all.size;
        batch.sliceIndices.assign(all.sliceIndices.begin() + first, all.sliceIndices.begin() + first + count);
        batch.values.assign(all.crop(first), all.crop(first) + count * cropValues);
        batches.push_back(std::move(batch));
      }
      return batches;
    }

    double peakMiB()
    {
      rusage usage{};
      getrusage(RUSAGE_SELF, &usage);
      return usage.ru_maxrss / 1024.0;
    }

    std::vector<std::string> split(const std::string& text)
    {
      std::vector<std::string> items;
      std::stringstream stream(text);
      for (std::string item; std::getline(stream, item, ',');)
      {
        items.push_back(item);
      }
      return items;
    }

    GraphOptimisation parseGraph(const std::string& text)
    {
      if (text == "none") return GraphOptimisation::None;
      if (text == "freeze") return GraphOptimisation::Freeze;
      if (text == "optimize") return GraphOptimisation::OptimizeForInference;
      throw std::invalid_argument("--graph none|freeze|optimize");
    }

    const char* graphName(GraphOptimisation graph)
    {
      switch (graph)
      {
        case GraphOptimisation::None: return "scripted";
        case GraphOptimisation::Freeze: return "frozen";
        case GraphOptimisation::OptimizeForInference: return "optimize_for_inference";
      }
      return "?";
    }

    int pipeline(const std::string& series, const std::string& model, const std::map<std::string, std::string>& flags)
    {
      EngineOptions options;
      options.device = "cpu";
      options.threads = flags.count("--threads") ? std::stoi(flags.at("--threads")) : 0;
      options.graph = flags.count("--graph") ? parseGraph(flags.at("--graph")) : EngineOptions().graph;
      options.channelsLast = flags.count("--channels-last") ? flags.at("--channels-last") == "on" : EngineOptions().channelsLast;
      WorkerOptions workerOptions;      // one series, as the command-line tool runs it
      workerOptions.maxInFlight = 1;
      workerOptions.cpuThreads = 1;
      workerOptions.cropThreads = 1;
      if (flags.count("--batch"))
      {
        workerOptions.batchSize = std::stoul(flags.at("--batch"));
      }

      const auto loadStart = Clock::now();
      auto timedEngine = std::make_shared<TimedEngine>(Engine::load(model, options));
      TimedEngine& engine = *timedEngine;
      const double loadSeconds = seconds(loadStart);

      const auto source = std::make_shared<const FileSliceSource>(std::vector<std::string>{series});
      Clock::time_point readDone, spineDone;
      bool readSeen = false, spineSeen = false;
      Worker worker(timedEngine, workerOptions);
      const double cpuStart = cpuSeconds();
      const auto start = Clock::now();
      AnalysisOutcome outcome = worker.analyse(source, [&](const StageProgress& p) {
        if (!readSeen && p.stage > Stage::Read) { readDone = Clock::now(); readSeen = true; }
        if (!spineSeen && p.stage > Stage::Spine) { spineDone = Clock::now(); spineSeen = true; }
      }, true).outcome.get();
      const auto end = Clock::now();
      if (outcome.error)
      {
        std::fprintf(stderr, "the analysis failed [%s]: %s\n", outcome.error->code().c_str(), outcome.error->what());
        return 1;
      }
      const AnalysisResult& result = outcome.result;
      const Series& loaded = *outcome.series;
      const double total = seconds(start, end);
      const double cpu = cpuSeconds() - cpuStart;

      const size_t slices = result.geometry.slices;
      std::printf("spinemet pipeline: %zu slices (%zu x %zu), %zu classified, %zu vertebrae; model %s, %s, %s%s, batch %zu\n",
                  slices, result.geometry.columns, result.geometry.rows, result.slices.size(), result.vertebrae.size(),
                  engine.metadata().name.c_str(), engine.deviceName().c_str(), graphName(options.graph),
                  options.channelsLast ? ", channels-last" : "", workerOptions.batchSize);
      std::printf("  model load + probe            %7.2f s (once per process)\n", loadSeconds);
      std::printf("  read + decode + assemble      %7.2f s\n", seconds(start, readDone));
      std::printf("  spine                         %7.2f s\n", seconds(readDone, spineDone));
      std::printf("  crops + model + aggregation   %7.2f s (model %.2f s in %zu calls)\n", seconds(spineDone, end),
                  engine.seconds, engine.calls);
      std::printf("  end to end                    %7.2f s wall, %.2f s CPU: %.1f slices/s (series), %.1f classified/s\n",
                  total, cpu, slices / total, result.slices.size() / total);
      std::printf("  model share                   %7.1f %%\n", 100.0 * engine.seconds / total);
      std::printf("  peak resident memory          %7.0f MiB\n", peakMiB());

      if (flags.count("--json"))
      {
        std::ofstream(flags.at("--json")) << Json::writeString(Json::StreamWriterBuilder(), toJson(result));
      }
      if (flags.count("--centres"))
      {
        // What the Python reference needs to make the same crops without a spine finder of its own.
        Json::Value centres(Json::arrayValue);
        const SpineLayout layout = findSpine(loaded.volume, [&] {
          SpineOptions spine;
          spine.cropMm = engine.metadata().preprocessing.cropMm;
          return spine;
        }());
        for (const SliceResult& slice : result.slices)
        {
          Json::Value item;
          item["slice_index"] = Json::UInt64(slice.sliceIndex);
          item["sop_instance_uid"] = slice.sopInstanceUid;
          item["vertebra"] = layout.slices[slice.sliceIndex].vertebra;
          item["column"] = layout.slices[slice.sliceIndex].cropCentreColumn;
          item["row"] = layout.slices[slice.sliceIndex].cropCentreRow;
          item["lytic"] = slice.lytic;
          centres.append(item);
        }
        std::ofstream(flags.at("--centres")) << Json::writeString(Json::StreamWriterBuilder(), centres);
      }
      return 0;
    }

    // The crops' centres, for the Python reference pipelines (benchmarks/engine.py, overhead.py)
    // that have no spine finder of their own.
    void writeCentres(const std::string& path, const PreparedSeries& prepared,
                      const std::vector<SlicePrediction>& predictions)
    {
      Json::Value centres(Json::arrayValue);
      for (size_t i = 0; i < prepared.sliceIndices.size(); ++i)
      {
        const size_t s = prepared.sliceIndices[i];
        const SliceSpine& slice = prepared.layout.slices[s];
        Json::Value item;
        item["slice_index"] = Json::UInt64(s);
        item["sop_instance_uid"] = prepared.series.slices.at(s).sopInstanceUid;
        item["vertebra"] = slice.vertebra;
        item["column"] = slice.cropCentreColumn;
        item["row"] = slice.cropCentreRow;
        item["lytic"] = predictions.at(i).lytic;      // for the reference's agreement check
        centres.append(item);
      }
      std::ofstream(path) << Json::writeString(Json::StreamWriterBuilder(), centres);
    }

    int forward(const std::string& series, const std::string& model, const std::map<std::string, std::string>& flags)
    {
      EngineOptions options;
      options.device = "cpu";
      options.threads = flags.count("--threads") ? std::stoi(flags.at("--threads")) : 0;
      const size_t batchSize = flags.count("--batch") ? std::stoul(flags.at("--batch")) : WorkerOptions().batchSize;
      const int rounds = flags.count("--rounds") ? std::stoi(flags.at("--rounds")) : 5;
      const auto engine = Engine::load(model, options);
      const Preprocessing& preprocessing = engine->metadata().preprocessing;
      const FileSliceSource source({series});
      const PreparedSeries prepared = prepareSeries(source, preprocessing, PipelineOptions(), {}, {});
      const CropBatch all = makeCrops(prepared.series.volume, prepared.layout, prepared.sliceIndices, preprocessing);

      // Cut once, outside the timed loop: only the model calls count.
      const std::vector<CropBatch> batches = cutIntoBatches(all, batchSize);
      // On a thread of its own, as the Worker's model thread calls it: OpenMP then runs the same
      // teams as in spinemet classify (one on the loading thread, one on the model thread), and
      // waits as it does there (docs/performance.md, "OpenMP").
      double best = 1e30;
      std::vector<SlicePrediction> predictions;
      std::thread modelThread([&] {
        for (int round = 0; round < rounds; ++round)
        {
          const auto start = Clock::now();
          for (const CropBatch& batch : batches)
          {
            engine->predict(batch);
          }
          best = std::min(best, seconds(start));
        }
        for (const CropBatch& batch : batches)
        {
          const auto some = engine->predict(batch);
          predictions.insert(predictions.end(), some.begin(), some.end());
        }
      });
      modelThread.join();
      if (flags.count("--centres"))
      {
        writeCentres(flags.at("--centres"), prepared, predictions);
      }
      std::printf("model forward: %zu crops [%zu, %zu, %zu] in %zu batches of %zu, %s, %s: best of %d %.3f s\n",
                  all.count(), all.channels, all.size, all.size, batches.size(), batchSize, engine->deviceName().c_str(),
                  graphName(options.graph), rounds, best);
      return 0;
    }

    int levers(const std::string& series, const std::string& model, const std::map<std::string, std::string>& flags)
    {
      const std::vector<std::string> threadList = split(flags.count("--threads") ? flags.at("--threads") : "1,2");
      const std::vector<std::string> batchList = split(flags.count("--batch") ? flags.at("--batch") : "1,8,16,32,64");

      EngineOptions probeOptions;
      probeOptions.device = "cpu";
      const Preprocessing preprocessing = Engine::load(model, probeOptions)->metadata().preprocessing;
      const FileSliceSource source({series});
      PreparedSeries prepared = prepareSeries(source, preprocessing, PipelineOptions(), {}, {});
      // A sample of the series' crops spread along the column is enough for a per-crop rate.
      const size_t limit = flags.count("--crops") ? std::stoul(flags.at("--crops")) : 96;
      std::vector<size_t> sample;
      for (size_t i = 0; i < std::min(limit, prepared.sliceIndices.size()); ++i)
      {
        sample.push_back(prepared.sliceIndices[i * prepared.sliceIndices.size() / std::min(limit, prepared.sliceIndices.size())]);
      }
      const CropBatch all = makeCrops(prepared.series.volume, prepared.layout, sample, preprocessing);
      std::printf("model stage alone: %zu crops [%zu, %zu, %zu] of %s\n", all.count(), all.channels, all.size, all.size,
                  series.c_str());
      std::printf("%-24s %-14s %7s %6s %12s %10s\n", "graph", "layout", "threads", "batch", "crops/s", "ms/crop");

      // Every configuration is measured once per round and the rounds are interleaved, so that a
      // change of load on a shared machine hits all of them alike; the best round counts.
      struct Configuration
      {
        GraphOptimisation graph;
        bool channelsLast;
        int threads;
        size_t batch;
        std::shared_ptr<Engine> engine;
        double best = 1e30;
      };
      std::vector<Configuration> configurations;
      for (const std::string& threads : threadList)
      {
        for (GraphOptimisation graph :
             {GraphOptimisation::None, GraphOptimisation::Freeze, GraphOptimisation::OptimizeForInference})
        {
          for (bool channelsLast : {false, true})
          {
            EngineOptions options;
            options.device = "cpu";
            options.graph = graph;
            options.channelsLast = channelsLast;
            auto engine = Engine::load(model, options);
            for (const std::string& batchText : batchList)
            {
              configurations.push_back({graph, channelsLast, std::stoi(threads), std::stoul(batchText), engine});
            }
          }
        }
      }

      const size_t cropValues = all.channels * all.size * all.size;
      const int rounds = flags.count("--rounds") ? std::stoi(flags.at("--rounds")) : 3;
      for (int round = 0; round < rounds; ++round)
      {
        for (Configuration& c : configurations)
        {
          at::set_num_threads(c.threads);
          const auto start = Clock::now();
          for (size_t first = 0; first < all.count(); first += c.batch)
          {
            CropBatch batch;
            batch.channels = all.channels;
            batch.size = all.size;
            const size_t count = std::min(c.batch, all.count() - first);
            batch.sliceIndices.assign(all.sliceIndices.begin() + first, all.sliceIndices.begin() + first + count);
            batch.values.assign(all.crop(first), all.crop(first) + count * cropValues);
            c.engine->predict(batch);
          }
          c.best = std::min(c.best, seconds(start));
        }
      }
      for (const Configuration& c : configurations)
      {
        std::printf("%-24s %-14s %7d %6zu %12.1f %10.2f\n", graphName(c.graph), c.channelsLast ? "channels-last" : "NCHW",
                    c.threads, c.batch, all.count() / c.best, 1000 * c.best / all.count());
      }
      return 0;
    }

    int gate(const std::string& series, const std::string& model, const std::map<std::string, std::string>& flags)
    {
      if (!flags.count("--without"))
      {
        throw std::invalid_argument("gate: --without MODEL (the same weights without the assessability section)");
      }
      const int threads = flags.count("--threads") ? std::stoi(flags.at("--threads")) : 1;
      const std::vector<std::string> batchList = split(flags.count("--batch") ? flags.at("--batch") : "16");
      EngineOptions options;
      options.device = "cpu";
      options.threads = threads;
      options.graph = flags.count("--graph") ? parseGraph(flags.at("--graph")) : EngineOptions().graph;

      struct Variant
      {
        std::string name;
        std::shared_ptr<Engine> engine;
        double loadSeconds = 0;
      };
      std::vector<Variant> variants;
      for (const auto& [name, path] : {std::make_pair(std::string("with gate"), model),
                                       std::make_pair(std::string("without gate"), flags.at("--without"))})
      {
        const auto start = Clock::now();
        auto engine = Engine::load(path, options);
        variants.push_back({name, engine, seconds(start)});
      }
      const auto& assessability = variants[0].engine->metadata().assessability;
      if (!assessability || !assessability->gate)
      {
        throw std::invalid_argument(model + " carries no out-of-distribution gate");
      }
      if (variants[1].engine->metadata().assessability && variants[1].engine->metadata().assessability->gate)
      {
        throw std::invalid_argument(flags.at("--without") + " carries a gate too");
      }
      const Preprocessing preprocessing = variants[0].engine->metadata().preprocessing;
      const FileSliceSource source({series});
      PreparedSeries prepared = prepareSeries(source, preprocessing, PipelineOptions(), {}, {});
      const size_t limit = std::min(flags.count("--crops") ? std::stoul(flags.at("--crops")) : size_t(96),
                                    prepared.sliceIndices.size());
      std::vector<size_t> sample;
      for (size_t i = 0; i < limit; ++i)
      {
        sample.push_back(prepared.sliceIndices[i * prepared.sliceIndices.size() / limit]);
      }
      const CropBatch all = makeCrops(prepared.series.volume, prepared.layout, sample, preprocessing);
      const auto& g = *assessability->gate;
      std::printf("out-of-distribution gate: %zu crops [%zu, %zu, %zu], %d features, %s, %d thread(s), %s\n",
                  all.count(), all.channels, all.size, all.size, g.featureDimension,
                  variants[0].engine->metadata().name.c_str(), threads, graphName(options.graph));
      std::printf("  model load + probe: with gate %.2f s, without %.2f s\n", variants[0].loadSeconds,
                  variants[1].loadSeconds);

      const int rounds = flags.count("--rounds") ? std::stoi(flags.at("--rounds")) : 5;
      std::printf("  %6s %14s %14s %10s %14s %14s %10s\n", "batch", "with ms/crop", "without", "gate cost",
                  "with CPU ms", "without CPU", "CPU cost");
      for (const std::string& batchText : batchList)
      {
        const size_t batchSize = std::stoul(batchText);
        // The batches are cut once, outside the timed loop: only the model calls are compared.
        const std::vector<CropBatch> batches = cutIntoBatches(all, batchSize);
        // The two variants alternate batch by batch (which goes first alternates by round), and
        // each batch's best time over the rounds counts: a burst of load from the machine's other
        // work then rarely hits one variant only.
        std::vector<std::vector<double>> bestWall(variants.size(), std::vector<double>(batches.size(), 1e30));
        std::vector<std::vector<double>> bestCpu = bestWall;
        for (int round = 0; round < rounds; ++round)
        {
          for (size_t b = 0; b < batches.size(); ++b)
          {
            for (size_t turn = 0; turn < variants.size(); ++turn)
            {
              const size_t v = (turn + round) % variants.size();
              const double cpuStart = threadCpuSeconds();
              const auto start = Clock::now();
              variants[v].engine->predict(batches[b]);
              bestWall[v][b] = std::min(bestWall[v][b], seconds(start));
              bestCpu[v][b] = std::min(bestCpu[v][b], threadCpuSeconds() - cpuStart);
            }
          }
        }
        auto perCrop = [&](const std::vector<double>& times) {
          double total = 0;
          for (double t : times)
          {
            total += t;
          }
          return 1000 * total / all.count();
        };
        const double with = perCrop(bestWall[0]), without = perCrop(bestWall[1]);
        const double withCpu = perCrop(bestCpu[0]), withoutCpu = perCrop(bestCpu[1]);
        std::printf("  %6zu %14.3f %14.3f %+9.1f %% %14.3f %14.3f %+9.1f %%\n", batchSize, with, without,
                    100 * (with - without) / without, withCpu, withoutCpu, 100 * (withCpu - withoutCpu) / withoutCpu);
      }

      // The scores alone (the same LibTorch ops as Engine.cpp's mahalanobisScores, on random
      // buffers of the model's sizes): the floor of the gate's cost, free of the network's noise.
      torch::InferenceMode inferenceMode;
      const int64_t d = g.featureDimension, n = 64, k = 4;
      const at::Tensor features = torch::rand({n, d});
      const at::Tensor means = torch::rand({k, d}, torch::kFloat64);
      const at::Tensor root = torch::rand({d, d}, torch::kFloat64);
      const at::Tensor precision = torch::matmul(root, root.t());
      double bestScores = 1e30;
      for (int round = 0; round < 20; ++round)
      {
        const auto start = Clock::now();
        const at::Tensor difference = features.to(torch::kFloat64).unsqueeze(1) - means.unsqueeze(0);
        const at::Tensor squared = (torch::matmul(difference, precision) * difference).sum(-1);
        const at::Tensor scores = std::get<0>(squared.clamp_min(0).sqrt().min(1)).to(torch::kFloat32).contiguous();
        bestScores = std::min(bestScores, seconds(start));
      }
      std::printf("  scores alone (%lld crops, K %lld, D %lld, float64): %.4f ms/crop\n", static_cast<long long>(n),
                  static_cast<long long>(k), static_cast<long long>(d), 1000 * bestScores / n);
      return 0;
    }
  }
}

int main(int argc, char** argv)
{
  if (argc < 4)
  {
    std::cerr << "usage: spinemet-engine-bench pipeline|levers|gate|forward SERIES MODEL [flags]\n";
    return 1;
  }
  std::map<std::string, std::string> flags;
  for (int i = 4; i < argc; ++i)
  {
    const std::string flag = argv[i];
    flags[flag] = i + 1 < argc ? argv[++i] : "";
  }
  try
  {
    const std::string mode = argv[1];
    if (mode == "forward")
    {
      return spinemet::forward(argv[2], argv[3], flags);
    }
    if (mode == "gate")
    {
      return spinemet::gate(argv[2], argv[3], flags);
    }
    return mode == "levers" ? spinemet::levers(argv[2], argv[3], flags) : spinemet::pipeline(argv[2], argv[3], flags);
  }
  catch (const std::exception& error)
  {
    std::cerr << "spinemet-engine-bench: " << error.what() << "\n";
    return 2;
  }
}
