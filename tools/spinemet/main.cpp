// SPDX-License-Identifier: GPL-3.0-or-later
// spinemet: the whole SpineMet pipeline on a folder of DICOM files, without Orthanc.
//
//   spinemet classify <series folder or files>... [--model FILE] [--json OUT] [--device auto|cpu|cuda]
//                     [--threads N] [--batch-size N] [--dicom-out DIR] [--memory-budget MiB] [--quiet]
//                     [--timings]
//   spinemet model-info FILE
//
// Exit status: 0 done, 1 usage error, 2 the input or the model cannot be used (AnalysisError: the
// message names what and where), 3 internal error.

#include "AssessabilityText.h"
#include "Tid1500MeasurementReport.h"
#include "SecondaryCaptureOverlays.h"
#include "common/AnalysisError.h"
#include "engine/Aggregation.h"
#include "engine/Engine.h"
#include "worker/Worker.h"

#include <json/writer.h>

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace spinemet
{
  namespace
  {
    const int EXIT_USAGE = 1;       // 2 and 3: AnalysisError::exitStatus()

    const char* const USAGE = R"(Usage:
  spinemet classify <series folder or files>... [options]
  spinemet model-info FILE
  spinemet --help | --version

classify: runs the SpineMet pipeline (series -> volume -> spine -> crops -> model -> vertebrae)
on one CT series and prints one line per vertebra.
  --model FILE        TorchScript model (default: the installed demo model, else the source tree's
                      Resources/model/spinemet-demo.pt)
  --json OUT          write the result as JSON (schema spinemet-result/2, docs/result-schema.md)
  --device D          auto (default: CUDA when LibTorch sees a GPU), cpu, cuda
  --threads N         CPU threads for the model (default: LibTorch's choice)
  --batch-size N      crops per model call (default 16)
  --dicom-out DIR     write the TID 1500 Structured Report and the Secondary Capture overlays
  --memory-budget MB  memory a series may take while it is read, in MiB (default 2048); a larger
                      series is refused (memory-budget) before it is decoded
  --quiet             no progress bar, no table (errors still go to stderr)
  --timings           print where the time went to stderr, one "timings:" line per figure
                      (benchmarks/overhead.py reads them)

model-info: prints the metadata embedded in a model file (and checks it honours the contract).

Exit status: 0 done, 1 usage error, 2 bad input or model (the message says what and where),
3 internal error.
)";

    struct UsageError : std::runtime_error
    {
      using std::runtime_error::runtime_error;
    };

    // --timings: the wall clock (seconds since the epoch), so that a caller can set the moments of
    // this process against the moment it started it; intervals use the steady clock.
    double epochSeconds()
    {
      timespec now{};
      clock_gettime(CLOCK_REALTIME, &now);
      return now.tv_sec + 1e-9 * now.tv_nsec;
    }

    // VmRSS or VmHWM (the peak) of this process from /proc, in MiB; 0 where /proc has none.
    double residentMiB(const std::string& field)
    {
      std::ifstream status("/proc/self/status");
      for (std::string line; std::getline(status, line);)
      {
        if (line.rfind(field + ":", 0) == 0)
        {
          return std::stod(line.substr(field.size() + 1)) / 1024.0;    // "VmHWM:   123456 kB"
        }
      }
      return 0;
    }

    // The peak of anonymous resident memory (the heap: the volume, LibTorch's arenas; not the
    // libraries' file-backed pages, which other processes share), which /proc keeps no peak of:
    // sampled from /proc/self/statm (resident minus shared pages) every 5 ms while it lives
    // (--timings only). A peak shorter than 5 ms can be missed; VmHWM is the exact peak of both.
    class AnonymousPeakSampler
    {
    public:
      AnonymousPeakSampler() : thread_([this] { sample(); }) {}
      ~AnonymousPeakSampler()
      {
        {
          const std::lock_guard<std::mutex> lock(mutex_);
          stop_ = true;
        }
        wake_.notify_one();
        thread_.join();
      }

      double peakMiB()
      {
        const std::lock_guard<std::mutex> lock(mutex_);
        return peakPages_ * pageMiB_;
      }

      // The current anonymous resident memory, in MiB.
      static double nowMiB() { return pages() * pageMiB_; }

    private:
      static long pages()
      {
        std::ifstream statm("/proc/self/statm");
        long size = 0, resident = 0, shared = 0;
        statm >> size >> resident >> shared;
        return resident - shared;
      }

      void sample()
      {
        std::unique_lock<std::mutex> lock(mutex_);
        while (!stop_)
        {
          peakPages_ = std::max(peakPages_, pages());
          wake_.wait_for(lock, std::chrono::milliseconds(5));
        }
        peakPages_ = std::max(peakPages_, pages());
      }

      static inline const double pageMiB_ = sysconf(_SC_PAGESIZE) / 1048576.0;
      std::mutex mutex_;
      std::condition_variable wake_;
      bool stop_ = false;
      long peakPages_ = 0;
      std::thread thread_;
    };

    double since(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to)
    {
      return std::chrono::duration<double>(to - from).count();
    }

    double mainEnteredEpoch = 0;

    std::string defaultModelPath()
    {
      for (const char* candidate : {SPINEMET_INSTALLED_MODEL, SPINEMET_SOURCE_MODEL})
      {
        if (std::filesystem::exists(candidate))
        {
          return candidate;
        }
      }
      return SPINEMET_INSTALLED_MODEL;
    }

    // A whole number from 1 to `maximum`: a thread count or a batch size beyond any machine
    // would start the work and fail late (or never), so it is refused before anything starts.
    size_t positive(const std::string& option, const std::string& text, long maximum)
    {
      try
      {
        size_t used = 0;
        const long value = std::stol(text, &used);
        if (used == text.size() && value > 0 && value <= maximum)
        {
          return static_cast<size_t>(value);
        }
      }
      catch (const std::exception&)
      {
      }
      throw UsageError(option + " expects a whole number from 1 to " + std::to_string(maximum) + ", not \"" + text +
                       "\"");
    }

    // The outputs are checked before the analysis starts, so that a typing error in a path
    // does not cost a whole analysis.
    void checkOutputPaths(const std::string& jsonPath, const std::string& dicomOut)
    {
      namespace fs = std::filesystem;
      std::error_code error;
      if (!jsonPath.empty())
      {
        const fs::path path(jsonPath);
        const fs::path folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
        if (fs::is_directory(path, error))
        {
          throw AnalysisError("output-write", "--json " + jsonPath + " is a folder; it must name a file");
        }
        if (!fs::is_directory(folder, error))
        {
          throw AnalysisError("output-write", "--json " + jsonPath + ": the folder " + folder.string() +
                                              " does not exist");
        }
        if (access(folder.c_str(), W_OK) != 0)
        {
          throw AnalysisError("output-write", "--json " + jsonPath + ": the folder " + folder.string() +
                                              " is not writable");
        }
      }
      if (!dicomOut.empty())
      {
        if (fs::exists(dicomOut, error) && !fs::is_directory(dicomOut, error))
        {
          throw AnalysisError("output-write", "--dicom-out " + dicomOut + " exists and is not a folder");
        }
        fs::create_directories(dicomOut, error);
        if (error || access(dicomOut.c_str(), W_OK) != 0)
        {
          throw AnalysisError("output-write", "--dicom-out " + dicomOut + " cannot be created or written" +
                                              (error ? ": " + error.message() : std::string()));
        }
      }
    }

    // A one-line bar on stderr, redrawn in place; only on a terminal. It shows the stage the
    // analysis is in and the whole analysis' fraction (common/StageProgress.h).
    class ProgressBar
    {
    public:
      explicit ProgressBar(bool enabled) : enabled_(enabled && isatty(STDERR_FILENO)) {}

      // Called from the worker's threads, one report at a time.
      void update(const StageProgress& progress)
      {
        if (!enabled_)
        {
          return;
        }
        const std::lock_guard<std::mutex> lock(mutex_);
        const double fraction = overallFraction(progress);
        const int width = 40;
        const int filled = static_cast<int>(fraction * width + 0.5);
        const int percent = static_cast<int>(fraction * 100 + 0.5);
        if (percent == lastPercent_ && progress.stage == lastStage_)
        {
          return;
        }
        lastPercent_ = percent;
        lastStage_ = progress.stage;
        std::cerr << "\r" << padded(describe(progress.stage), 22) << "[" << std::string(filled, '#')
                  << std::string(width - filled, ' ') << "] " << std::setw(3) << percent << "%" << std::flush;
      }

      void finish()
      {
        const std::lock_guard<std::mutex> lock(mutex_);
        clearLine();
      }

      // Prints above the bar while the worker may be reporting (the header, once the model has
      // loaded beside the reading); the next report draws the bar again.
      void printAbove(const std::function<void()>& print)
      {
        const std::lock_guard<std::mutex> lock(mutex_);
        clearLine();
        lastPercent_ = -1;
        print();
      }

    private:
      void clearLine()
      {
        if (enabled_ && lastPercent_ >= 0)
        {
          std::cerr << "\r" << std::string(72, ' ') << "\r" << std::flush;
        }
      }

      static std::string padded(const std::string& text, size_t width)
      {
        return text.size() >= width ? text + " " : text + std::string(width - text.size(), ' ');
      }

      std::mutex mutex_;
      bool enabled_;
      int lastPercent_ = -1;
      Stage lastStage_ = Stage::Read;
    };

    std::string fixed(double value, int decimals)
    {
      std::ostringstream out;
      out << std::fixed << std::setprecision(decimals) << value;
      return out.str();
    }

    std::string padded(const std::string& text, size_t width)
    {
      return text.size() >= width ? text + " " : text + std::string(width - text.size(), ' ');
    }

    void printHeader(std::ostream& out, const Engine& engine, const AggregationRule& rule)
    {
      const ModelMetadata& m = engine.metadata();
      out << "SpineMet " << SPINEMET_VERSION << ": model " << m.name << " " << m.version << " (" << m.architecture
          << "), " << engine.deviceName() << "\n";
      out << "Model trained on: " << m.trainedOn << "\n";
      out << "Research and demonstration only; not for clinical use.\n";
      out << "Aggregation: " << rule.name() << "\n";
    }

    void printTable(std::ostream& out, const AnalysisResult& result, double seconds)
    {
      out << "Series " << result.series.seriesInstanceUid << " (" << result.series.modality << ", "
          << result.geometry.slices << " slices, " << result.slices.size() << " classified) in " << fixed(seconds, 1)
          << " s\n";
      for (const auto& warning : result.warnings)
      {
        out << "Warning: " << warning << "\n";
      }
      out << "\n"
          << padded("vertebra", 18) << padded("slices", 10) << padded("bone quality", 14) << padded("P", 7)
          << padded("posterolateral", 16) << padded("P", 7) << padded("SINS lesion", 13) << "SINS posterolateral\n";
      for (const auto& v : result.vertebrae)
      {
        out << padded(v.displayName, 18) << padded(std::to_string(v.firstSlice) + "-" + std::to_string(v.lastSlice), 10);
        if (!v.assessable)
        {
          // No class, probability or SINS point: the row says why there is none.
          out << "not assessable (" << reasonsInWords(v.notAssessableBecause) << ")\n";
          continue;
        }
        out << padded(toString(v.boneQuality), 14) << padded(fixed(v.boneQualityProbability, 2), 7)
            << padded(toString(v.posterolateral), 16) << padded(fixed(v.posterolateralProbability, 2), 7)
            << padded(std::to_string(v.sinsBoneLesion), 13) << v.sinsPosterolateral << "\n";
      }
      // The levels' footing: where they were counted from and how far each can be trusted.
      if (!result.levelNote.empty())
      {
        out << "\nLevels: " << result.levelNote;
        std::string separator = "; confidence ";
        for (const auto& v : result.vertebrae)
        {
          if (!v.level.empty())
          {
            out << separator << v.level << " " << fixed(v.levelConfidence, 2);
            separator = ", ";
          }
        }
        out << "\n";
      }
      out << "\nStudy: " << studyStateStatement(result);
      if (result.state() != StudyState::NotAssessable)
      {
        out << ", highest bone quality finding: " << toString(result.highestBoneQuality());
      }
      out << "\n";
      for (const auto& v : result.vertebrae)
      {
        for (const auto& reason : v.notAssessableBecause)
        {
          out << "Not assessable: " << v.displayName << ", " << reasonInWords(reason.reason)
              << (reason.detail.empty() ? std::string() : ": " + reason.detail) << "\n";
        }
      }
      out << "SINS: only the bone-lesion and posterolateral partial scores; the SINS total needs the "
             "other four components.\n";
    }

    void writeJson(const AnalysisResult& result, const std::string& path)
    {
      Json::StreamWriterBuilder builder;
      builder["indentation"] = " ";
      // float32 values round-trip with 9 significant digits.
      builder["precision"] = 9;
      std::ofstream file(path, std::ios::binary);
      file << Json::writeString(builder, toJson(result)) << "\n";
      file.close();
      if (!file)
      {
        throw AnalysisError("output-write", "cannot write the JSON result to \"" + path + "\"");
      }
    }

    // Returns how many files it wrote.
    size_t writeDicom(const AnalysisResult& result, const Series& series, const std::string& folder)
    {
      std::error_code error;
      std::filesystem::create_directories(folder, error);
      if (error)
      {
        throw AnalysisError("output-write", "cannot create the folder \"" + folder + "\": " + error.message());
      }
      const DicomObject report = writeMeasurementReport(result);
      report.save(folder + "/sr-" + report.sopInstanceUid + ".dcm");
      size_t written = 1;
      for (const Overlay& overlay : makeOverlays(result, series))
      {
        overlay.dicom.save(folder + "/sc-" + overlay.dicom.sopInstanceUid + ".dcm");
        ++written;
      }
      return written;
    }

    int classify(const std::vector<std::string>& args)
    {
      std::vector<std::string> inputs;
      std::string modelPath = defaultModelPath();
      std::string jsonPath;
      std::string dicomOut;
      EngineOptions engineOptions;
      // One series: one slot, one reading thread; the model thread batches its crops.
      WorkerOptions workerOptions;
      workerOptions.maxInFlight = 1;
      workerOptions.cpuThreads = 1;
      workerOptions.cropThreads = 1;
      bool quiet = false;
      bool timings = false;
      for (size_t i = 0; i < args.size(); ++i)
      {
        const std::string& arg = args[i];
        auto value = [&]() -> std::string {
          if (i + 1 >= args.size())
          {
            throw UsageError(arg + " expects a value");
          }
          return args[++i];
        };
        if (arg == "--model")
          modelPath = value();
        else if (arg == "--json")
          jsonPath = value();
        else if (arg == "--dicom-out")
          dicomOut = value();
        else if (arg == "--device")
        {
          engineOptions.device = value();
          if (engineOptions.device != "auto" && engineOptions.device != "cpu" && engineOptions.device != "cuda")
          {
            throw UsageError("--device expects auto, cpu or cuda, not \"" + engineOptions.device + "\"");
          }
        }
        else if (arg == "--threads")
          engineOptions.threads = static_cast<int>(positive(arg, value(), 1024));
        else if (arg == "--batch-size")
          workerOptions.batchSize = positive(arg, value(), 4096);
        else if (arg == "--memory-budget")
          workerOptions.pipeline.load.memoryBudgetBytes = positive(arg, value(), 1L << 22) << 20;   // up to 4 TiB
        else if (arg == "--quiet")
          quiet = true;
        else if (arg == "--timings")
          timings = true;
        else if (arg.rfind("--", 0) == 0)
          throw UsageError("unknown option " + arg);
        else
          inputs.push_back(arg);
      }
      if (inputs.empty())
      {
        throw UsageError("classify needs a series folder or files");
      }

      // One series: while the spine is searched nothing else runs, so its per-slice passes take
      // the threads the model gets (the same result for any number: docs/spine.md).
      workerOptions.pipeline.spine.threads =
        engineOptions.threads > 0 ? static_cast<size_t>(engineOptions.threads)
                                  : std::max<size_t>(1, std::thread::hardware_concurrency());

      checkOutputPaths(jsonPath, dicomOut);
      // A missing input is reported before the model loads.
      const auto source = std::make_shared<const FileSliceSource>(inputs);

      // The model loads on this thread while the worker reads the series and searches its spine:
      // those need only the crop geometry, which the model file's metadata gives at once
      // (docs/performance.md). A file whose metadata cannot be read is loaded before anything
      // else, as Engine::load reports its problem in its own words.
      std::shared_ptr<PendingEngine> pendingEngine;
      try
      {
        pendingEngine = std::make_shared<PendingEngine>(Engine::readMetadata(modelPath));
      }
      catch (const AnalysisError&)
      {
      }
      std::shared_ptr<TimedEngine> timedEngine;
      double modelReadyEpoch = 0, residentAtModelReady = 0, residentFileAtModelReady = 0;
      std::chrono::steady_clock::time_point modelReady;
      EngineLoadSeconds loadSeconds;
      engineOptions.loadSeconds = &loadSeconds;
      auto loadModel = [&]() -> std::shared_ptr<Engine> {
        std::shared_ptr<Engine> loaded = Engine::load(modelPath, engineOptions);
        modelReady = std::chrono::steady_clock::now();
        if (timings)
        {
          modelReadyEpoch = epochSeconds();
          residentAtModelReady = residentMiB("VmRSS");
          residentFileAtModelReady = residentMiB("RssFile");
          timedEngine = std::make_shared<TimedEngine>(loaded);
          loaded = timedEngine;
        }
        return loaded;
      };
      std::optional<AnonymousPeakSampler> anonymousPeak;
      if (timings)
      {
        anonymousPeak.emplace();
      }
      const std::shared_ptr<Engine> engine = pendingEngine ? std::shared_ptr<Engine>(pendingEngine) : loadModel();
      const AggregationRule rule = aggregationRuleFromMetadata(engine->metadata());

      ProgressBar bar(!quiet);
      const auto start = std::chrono::steady_clock::now();
      // The end of each stage, as the progress reports show it (one report at a time): reading
      // ends with the first report of the spine search, which ends with its last report.
      std::chrono::steady_clock::time_point readDone = start, spineDone = start;
      bool spineStarted = false;
      double peakAfterRead = 0, peakAfterSpine = 0, peakAfterClassify = 0;
      AnalysisOutcome outcome;
      {
        Worker worker(engine, workerOptions);
        Worker::Analysis analysis = worker.analyse(
          source,
          [&](const StageProgress& p) {
            if (p.stage == Stage::Spine)
            {
              spineDone = std::chrono::steady_clock::now();
              if (!spineStarted)
              {
                readDone = spineDone;
                spineStarted = true;
                if (timings)
                {
                  peakAfterRead = residentMiB("VmHWM");
                }
              }
              if (timings && p.fraction >= 1.0)
              {
                peakAfterSpine = residentMiB("VmHWM");
              }
            }

            bar.update(p);
          },
          !dicomOut.empty());
        if (pendingEngine)
        {
          // The graph is read, frozen and optimised, and the probe batch run, on one thread
          // beside the reading and the spine search (Engine::load): run on the model's threads,
          // their OpenMP threads spin-waited beside the search's (docs/performance.md).
          try
          {
            pendingEngine->provide(loadModel());
          }
          catch (...)
          {
            // The model's problem is reported, as when it loaded first; the analysis stops.
            pendingEngine->fail(std::current_exception());
            worker.cancel(analysis.id);
            worker.shutdown(Worker::Shutdown::Abandon);
            bar.finish();
            throw;
          }
        }
        if (!quiet)
        {
          bar.printAbove([&] {
            printHeader(std::cout, *engine, rule);
            std::cout << std::flush;
          });
        }
        outcome = analysis.outcome.get();
        worker.shutdown(Worker::Shutdown::Finish);
      }
      if (outcome.error)
      {
        bar.finish();
        throw *outcome.error;
      }
      const AnalysisResult& result = outcome.result;
      const auto classifyDone = std::chrono::steady_clock::now();
      if (timings)
      {
        peakAfterClassify = residentMiB("VmHWM");
      }
      const double seconds = since(start, classifyDone);

      // The outputs, counted as the Write stage of the bar.
      const size_t outputs = (jsonPath.empty() ? 0 : 1) + (dicomOut.empty() ? 0 : 1);
      size_t written = 0;
      size_t dicomFiles = 0;
      try
      {
        bar.update({Stage::Write, 0.0});
        if (!jsonPath.empty())
        {
          writeJson(result, jsonPath);
          bar.update({Stage::Write, double(++written) / outputs});
        }
        if (!dicomOut.empty())
        {
          dicomFiles = writeDicom(result, *outcome.series, dicomOut);
          bar.update({Stage::Write, double(++written) / outputs});
        }
      }
      catch (...)
      {
        bar.finish();
        throw;
      }
      bar.finish();
      if (timings)
      {
        const auto writeDone = std::chrono::steady_clock::now();
        std::fprintf(stderr, "timings: read %.4f\ntimings: spine %.4f\ntimings: classify %.4f\n",
                     since(start, readDone), since(readDone, spineDone), since(spineDone, classifyDone));
        std::fprintf(stderr, "timings: model %.4f\ntimings: model-calls %zu\ntimings: write %.4f\n",
                     timedEngine->seconds, timedEngine->calls, since(classifyDone, writeDone));
        std::fprintf(stderr, "timings: analysis %.4f\n", since(start, writeDone));
        // Process start to model ready is the caller's to compute from these two moments; the
        // model now loads during the analysis (model-ready-in-analysis: how far into it).
        std::fprintf(stderr, "timings: main-entered-epoch %.6f\ntimings: model-ready-epoch %.6f\n", mainEnteredEpoch,
                     modelReadyEpoch);
        std::fprintf(stderr, "timings: model-ready-in-analysis %.4f\n", since(start, modelReady));
        // The model's loading, step by step.
        std::fprintf(stderr, "timings: model-load-read %.4f\ntimings: model-load-freeze %.4f\n"
                             "timings: model-load-optimise %.4f\ntimings: model-load-probe %.4f\n",
                     loadSeconds.read, loadSeconds.freeze, loadSeconds.optimise, loadSeconds.probe);
        // Resident: file-backed (the libraries' pages, shared with other processes) and anonymous.
        std::fprintf(stderr, "timings: resident-model-ready-mib %.1f\ntimings: resident-file-model-ready-mib %.1f\n",
                     residentAtModelReady, residentFileAtModelReady);
        std::fprintf(stderr, "timings: resident-peak-after-read-mib %.1f\n", peakAfterRead);
        std::fprintf(stderr, "timings: resident-peak-after-spine-mib %.1f\n", peakAfterSpine);
        std::fprintf(stderr, "timings: resident-peak-after-classify-mib %.1f\n", peakAfterClassify);
        std::fprintf(stderr, "timings: resident-end-mib %.1f\ntimings: resident-peak-mib %.1f\n",
                     residentMiB("VmRSS"), residentMiB("VmHWM"));
        std::fprintf(stderr, "timings: resident-anon-end-mib %.1f\ntimings: resident-anon-peak-mib %.1f\n",
                     AnonymousPeakSampler::nowMiB(), anonymousPeak->peakMiB());
      }

      if (!quiet)
      {
        printTable(std::cout, result, seconds);
      }
      if (dicomFiles > 0)
      {
        std::cerr << "Wrote " << dicomFiles << " DICOM files (1 SR, " << dicomFiles - 1 << " overlays) to " << dicomOut
                  << "\n";
      }
      return 0;
    }

    int modelInfo(const std::vector<std::string>& args)
    {
      if (args.size() != 1)
      {
        throw UsageError("model-info needs exactly one model file");
      }
      EngineOptions options;
      options.device = "cpu";
      const auto engine = Engine::load(args[0], options);
      const ModelMetadata& m = engine->metadata();
      const Preprocessing& p = m.preprocessing;
      std::cout << "File:          " << args[0] << "\n"
                << "Contract:      " << m.contract << " (honoured: outputs checked on a probe batch)\n"
                << "Name:          " << m.name << " " << m.version << " (" << m.date << ")\n"
                << "Architecture:  " << m.architecture << "\n"
                << "Input:         [N, " << p.channels << ", " << p.inputSize << ", " << p.inputSize << "] float32, "
                << p.cropMm << " mm crops, window [" << p.windowLow << ", " << p.windowHigh << "] HU\n"
                << "Aggregation:   " << aggregationRuleFromMetadata(m).name() << "\n"
                << "Trained on:    " << m.trainedOn << "\n"
                << "Intended use:  " << m.raw.get("intended_use", "").asString() << "\n"
                << "Metadata (spinemet.json):\n";
      Json::StreamWriterBuilder builder;
      builder["indentation"] = "  ";
      std::cout << Json::writeString(builder, m.raw) << "\n";
      return 0;
    }

    int run(const std::vector<std::string>& args)
    {
      if (args.empty())
      {
        throw UsageError("no command");
      }
      if (args[0] == "--help" || args[0] == "-h" || args[0] == "help")
      {
        std::cout << USAGE;
        return 0;
      }
      if (args[0] == "--version")
      {
        std::cout << "spinemet " << SPINEMET_VERSION << "\n";
        return 0;
      }
      const std::vector<std::string> rest(args.begin() + 1, args.end());
      if (args[0] == "classify")
      {
        return classify(rest);
      }
      if (args[0] == "model-info")
      {
        return modelInfo(rest);
      }
      throw UsageError("unknown command \"" + args[0] + "\"");
    }
  }
}

int main(int argc, char** argv)
{
  using namespace spinemet;
  mainEnteredEpoch = epochSeconds();
  try
  {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  }
  catch (const UsageError& error)
  {
    std::cerr << "spinemet: " << error.what() << "\n\n" << USAGE;
    return EXIT_USAGE;
  }
  catch (...)
  {
    // Every other error, from the stages, the model or the writers, as the one AnalysisError.
    const AnalysisError error = toAnalysisError(std::current_exception());
    if (error.isInternal())
    {
      std::cerr << "spinemet: " << error.what() << "\n";      // "internal error: ..."
    }
    else
    {
      std::cerr << "spinemet: error [" << error.code() << "]: " << error.what() << "\n";
    }
    return error.exitStatus();
  }
}
