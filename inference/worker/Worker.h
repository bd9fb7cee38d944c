// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The queue between the arrival of series and the model: many series analysed at once, the model
// fed with batches of crops drawn from all of them. No Boost or LibTorch in this header.
//
//   Worker worker(Engine::load(path, {}), options);
//   Worker::Analysis analysis = worker.analyse(std::make_shared<FileSliceSource>(paths),
//                                              [](const StageProgress& p) { ... });
//   AnalysisOutcome outcome = analysis.outcome.get();        // the command-line tool
//
//   AnalysisRequest request{source, onProgress, [](AnalysisOutcome&& outcome) { ... }};
//   std::optional<Worker::RequestId> id = worker.trySubmit(request);   // never waits: the plugin
//   worker.cancel(*id);                      // optional
//   worker.shutdown(Worker::Shutdown::Finish);
//
// The worker is the only driver of an analysis (the stages are in Pipeline.h): the command-line
// tool waits on analyse()'s future, the plugin's dispatcher submits with trySubmit() and is called
// back.
//
// Inside (docs/engine-and-worker.md): a Boost.Asio thread pool reads, decodes and assembles the
// series and finds their spines (WorkerOptions::cpuThreads series at a time); a second pool makes
// the crops a few at a time, at most two batches ahead per series; one model thread takes crops
// from every series in turn (round robin, one crop each) until a batch is full, or until no crops
// are on their way, and runs Engine::predict. So a small series is not stuck behind a large one
// and the model is never idle while crops are ready. Memory is bounded by maxInFlight: a series
// holds its volume from admission until its onDone has returned (the slot is freed only then),
// and nothing waits inside the worker unadmitted: submit() blocks (trySubmit() refuses) until a
// series completes. Callers that must never block (the Orthanc plugin) keep their own durable
// queue, use trySubmit() and try again when WorkerOptions::onSlotFree says a slot is free.

#include "common/AnalysisError.h"
#include "worker/Pipeline.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <future>
#include <optional>
#include <string>

namespace spinemet
{
  struct WorkerOptions
  {
    size_t maxInFlight = 2;          // series admitted at once, each holding its volume
                                     // (512 x 512 x 300 slices: 150 MiB of HU)
    size_t cpuThreads = 2;           // series read / assembled / searched for the spine in parallel
    size_t cropThreads = 1;          // crop makers, shared by all series
    size_t batchSize = 16;           // crops per Engine::predict call
    size_t cropChunk = 4;            // crops made per task
    PipelineOptions pipeline;        // load and spine options

    // Optional: called each time a series' slot is free again (after its onDone has returned), on
    // a worker thread without the worker's lock, so that a caller that never waits (trySubmit)
    // knows when to try again. The same rules as for the requests' callbacks apply.
    std::function<void()> onSlotFree;
  };

  // How one request ended. Exactly one per accepted request, also on cancellation and shutdown.
  struct AnalysisOutcome
  {
    AnalysisResult result;                 // Done: the analysis
    std::shared_ptr<const Series> series;  // Done and AnalysisRequest::keepSeries only: the loaded
                                           // series (for the overlays); no longer counted in flight
    std::optional<AnalysisError> error;    // every end but Done: the input's problem (its code,
                                           // docs/errors.md), "cancelled" (cancel() or
                                           // shutdown(Abandon)) or "internal" (a bug or resource
                                           // failure, a model failing in predict: not the input's)

    AnalysisEnd end() const { return error ? endOf(*error) : AnalysisEnd::Done; }
  };

  struct AnalysisRequest
  {
    std::shared_ptr<const SliceSource> source;           // kept alive until the request completes
    ProgressCallback onProgress;                          // optional; Read, Spine, Classify
                                                          // (Pipeline.h), never decreasing, never
                                                          // after onDone has begun
    std::function<void(AnalysisOutcome&& outcome)> onDone;
    bool keepSeries = false;                              // hand the loaded series to onDone
  };

  // Thread-safe. Callbacks run on the worker's threads: keep them short, do not let them throw
  // (an exception is swallowed), and never call submit() (it may wait for the very slot the
  // callback holds), shutdown() or destroy the worker from inside one; trySubmit() and cancel()
  // are fine. The callbacks of one request never overlap, and once its onDone has begun it gets
  // no further onProgress (a report racing the completion is dropped, or onDone waits for it).
  class Worker
  {
  public:
    using RequestId = std::uint64_t;
    enum class Shutdown
    {
      Finish,            // accept nothing more, complete every accepted request
      Abandon            // accept nothing more, cancel the rest (each still gets its onDone)
    };

    Worker(std::shared_ptr<Engine> engine, WorkerOptions options = {});
    ~Worker();           // shutdown(Shutdown::Abandon)
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Admits the request, waiting while maxInFlight series are in flight. Throws
    // std::invalid_argument for a request without source or onDone, std::logic_error after
    // shutdown() has begun.
    RequestId submit(AnalysisRequest request);

    // Admits the request if a slot is free now, else returns nothing (the request is untouched).
    std::optional<RequestId> trySubmit(AnalysisRequest& request);

    // One series whose outcome is a future, for a caller that waits for it (the command-line tool):
    // submit() with an onDone that fulfils the future. Waits while the worker is full. The future
    // is ready as onDone runs, a moment before the series' slot is free again.
    struct Analysis
    {
      RequestId id = 0;
      std::future<AnalysisOutcome> outcome;
    };
    Analysis analyse(std::shared_ptr<const SliceSource> source, ProgressCallback onProgress = {},
                     bool keepSeries = false);

    // Stops a request at its next check (between instances, slices, crop chunks or batches); it
    // then completes as Cancelled. False if the id is unknown or already completed. A request
    // whose predictions are all in may still complete as Done. False as well once its onDone runs.
    bool cancel(RequestId id);

    size_t inFlight() const;

    // Returns once every accepted request has completed and the threads are joined. Idempotent.
    void shutdown(Shutdown mode);

  private:
    struct State;
    std::shared_ptr<State> state_;
  };
}
