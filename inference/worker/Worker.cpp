// SPDX-License-Identifier: GPL-3.0-or-later
#include "worker/Worker.h"

#include "common/AnalysisError.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

namespace spinemet
{
  namespace
  {
    enum class Phase { Preparing, Classifying, Finishing };

    // Crops made for one series and not yet given to the model.
    struct ReadyCrops
    {
      CropBatch crops;
      size_t firstPosition = 0;      // position of crop 0 in PreparedSeries::sliceIndices
      size_t taken = 0;
    };

    struct Request
    {
      Worker::RequestId id = 0;
      AnalysisRequest request;
      std::atomic<bool> stopRequested{false};

      // Held while this request's onProgress or onDone runs: the model thread's progress report
      // may race the finishing task's onDone, and no report may follow (or overlap) onDone.
      std::mutex callbackMutex;
      StageProgress lastProgress;    // guarded by callbackMutex; a late, lower report is dropped

      // Guarded by State::mutex from here on.
      Phase phase = Phase::Preparing;
      PreparedSeries prepared;
      size_t nextToCrop = 0;
      size_t cropping = 0;           // crops being made by crop tasks
      std::deque<ReadyCrops> ready;
      size_t readyCount = 0;
      size_t inModel = 0;            // crops of this series in the running batch
      std::vector<SlicePrediction> predictions;
      size_t predicted = 0;
      std::optional<AnalysisOutcome> stoppedWith;  // set once the request is stopping
      bool completing = false;                     // onDone is being called
    };

    using RequestPointer = std::shared_ptr<Request>;

    AnalysisOutcome failure(AnalysisError error)
    {
      AnalysisOutcome outcome;
      outcome.error = std::move(error);
      return outcome;
    }

    AnalysisOutcome outcomeOf(const std::exception_ptr& error)
    {
      return failure(toAnalysisError(error));
    }

    AnalysisOutcome cancelled()
    {
      return failure(AnalysisError("cancelled", "analysis cancelled"));
    }
  }

  struct Worker::State : std::enable_shared_from_this<Worker::State>
  {
    State(std::shared_ptr<Engine> engine, WorkerOptions options) :
      engine(std::move(engine)),
      options(std::move(options)),
      rule(aggregationRuleFromMetadata(this->engine->metadata())),
      preparePool(std::max<size_t>(1, this->options.cpuThreads)),
      cropPool(std::max<size_t>(1, this->options.cropThreads)),
      modelPool(1)
    {
      this->options.maxInFlight = std::max<size_t>(1, this->options.maxInFlight);
      this->options.batchSize = std::max<size_t>(1, this->options.batchSize);
      this->options.cropChunk = std::max<size_t>(1, this->options.cropChunk);
    }

    const std::shared_ptr<Engine> engine;
    WorkerOptions options;
    const AggregationRule rule;

    mutable std::mutex mutex;
    std::condition_variable changed;
    std::map<RequestId, RequestPointer> active;     // in id order: the round-robin order
    RequestId nextId = 1;
    RequestId lastServed = 0;
    bool accepting = true;
    bool batchRunning = false;
    bool joined = false;

    boost::asio::thread_pool preparePool;
    boost::asio::thread_pool cropPool;
    boost::asio::thread_pool modelPool;

    const Preprocessing& preprocessing() const
    {
      return engine->metadata().preprocessing;
    }

    RequestId admit(AnalysisRequest&& request)    // locked
    {
      auto entry = std::make_shared<Request>();
      entry->id = nextId++;
      entry->request = std::move(request);
      active.emplace(entry->id, entry);
      boost::asio::post(preparePool, [self = shared_from_this(), entry] { self->prepare(entry); });
      return entry->id;
    }

    // Never after onDone has begun, never concurrently for one request, never backwards.
    void progress(const RequestPointer& entry, const StageProgress& report)
    {
      if (!entry->request.onProgress)
      {
        return;
      }
      std::lock_guard<std::mutex> callbackLock(entry->callbackMutex);
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (entry->completing)
        {
          return;
        }
      }
      if (report < entry->lastProgress)
      {
        return;
      }
      entry->lastProgress = report;
      try
      {
        entry->request.onProgress(report);
      }
      catch (...)
      {
      }
    }

    void prepare(const RequestPointer& entry)
    {
      PreparedSeries prepared;
      try
      {
        prepared = prepareSeries(*entry->request.source, preprocessing(), options.pipeline,
                                 [&](const StageProgress& report) { progress(entry, report); },
                                 [&] { return entry->stopRequested.load(); });
      }
      catch (...)
      {
        complete(entry, outcomeOf(std::current_exception()));
        return;
      }

      std::unique_lock<std::mutex> lock(mutex);
      if (entry->stopRequested)
      {
        lock.unlock();
        complete(entry, entry->stoppedWith ? *entry->stoppedWith : cancelled());
        return;
      }
      entry->prepared = std::move(prepared);
      entry->predictions.resize(entry->prepared.sliceIndices.size());
      if (entry->prepared.sliceIndices.empty())
      {
        startFinishing(entry);
        return;
      }
      entry->phase = Phase::Classifying;
      scheduleCrops(entry);
    }

    // Keeps up to two batches of crops made or being made per series: enough to fill the next
    // batch from one series alone, little enough to bound memory.
    void scheduleCrops(const RequestPointer& entry)    // locked
    {
      const size_t total = entry->prepared.sliceIndices.size();
      const size_t ahead = 2 * options.batchSize;
      while (!entry->stoppedWith && entry->nextToCrop < total && entry->readyCount + entry->cropping < ahead)
      {
        const size_t first = entry->nextToCrop;
        const size_t count = std::min(options.cropChunk, total - first);
        entry->nextToCrop += count;
        entry->cropping += count;
        boost::asio::post(cropPool, [self = shared_from_this(), entry, first, count] {
          self->makeCropChunk(entry, first, count);
        });
      }
    }

    void makeCropChunk(const RequestPointer& entry, size_t first, size_t count)
    {
      ReadyCrops chunk;
      chunk.firstPosition = first;
      std::exception_ptr error;
      if (!entry->stopRequested)
      {
        try
        {
          // The volume and layout are not written while the series is classifying.
          const auto& indices = entry->prepared.sliceIndices;
          chunk.crops = makeCrops(entry->prepared.series.volume, entry->prepared.layout,
                                  std::vector<size_t>(indices.begin() + first, indices.begin() + first + count),
                                  preprocessing());
        }
        catch (...)
        {
          error = std::current_exception();
        }
      }

      std::lock_guard<std::mutex> lock(mutex);
      entry->cropping -= count;
      if (error)
      {
        stop(entry, outcomeOf(error));
      }
      else if (!entry->stoppedWith && !entry->stopRequested)
      {
        entry->readyCount += count;
        entry->ready.push_back(std::move(chunk));
      }
      else if (!entry->stoppedWith)
      {
        stop(entry, cancelled());
      }
      retireIfIdle(entry);
      startBatchIfWorthIt();
    }

    // Runs the model when a batch is full, or when no crops are on their way (a partial batch
    // now beats an idle model).
    void startBatchIfWorthIt()    // locked
    {
      if (batchRunning)
      {
        return;
      }
      size_t ready = 0;
      bool moreComing = false;
      for (const auto& item : active)
      {
        ready += item.second->readyCount;
        moreComing = moreComing || item.second->cropping > 0;
      }
      if (ready == 0 || (ready < options.batchSize && moreComing))
      {
        return;
      }

      // Round robin, one crop per series in turn, starting after the series served last.
      std::vector<RequestPointer> order;
      for (auto it = active.upper_bound(lastServed); it != active.end(); ++it)
      {
        order.push_back(it->second);
      }
      for (auto it = active.begin(); it != active.end() && it->first <= lastServed; ++it)
      {
        order.push_back(it->second);
      }

      const Preprocessing& p = preprocessing();
      const size_t cropValues = size_t(p.channels) * p.inputSize * p.inputSize;
      auto batch = std::make_shared<CropBatch>();
      batch->channels = p.channels;
      batch->size = p.inputSize;
      batch->values.reserve(std::min(ready, options.batchSize) * cropValues);
      auto owners = std::make_shared<std::vector<std::pair<RequestPointer, size_t>>>();

      bool tookAny = true;
      while (batch->count() < options.batchSize && tookAny)
      {
        tookAny = false;
        for (const auto& entry : order)
        {
          if (batch->count() == options.batchSize)
          {
            break;
          }
          if (entry->readyCount == 0)
          {
            continue;
          }
          ReadyCrops& chunk = entry->ready.front();
          const float* crop = chunk.crops.crop(chunk.taken);
          batch->values.insert(batch->values.end(), crop, crop + cropValues);
          batch->sliceIndices.push_back(chunk.crops.sliceIndices[chunk.taken]);
          owners->emplace_back(entry, chunk.firstPosition + chunk.taken);
          if (++chunk.taken == chunk.crops.count())
          {
            entry->ready.pop_front();
          }
          --entry->readyCount;
          ++entry->inModel;
          lastServed = entry->id;
          tookAny = true;
        }
      }
      for (const auto& entry : order)
      {
        if (entry->phase == Phase::Classifying)
        {
          scheduleCrops(entry);
        }
      }

      batchRunning = true;
      boost::asio::post(modelPool, [self = shared_from_this(), batch, owners] { self->runBatch(batch, owners); });
    }

    void runBatch(const std::shared_ptr<CropBatch>& batch,
                  const std::shared_ptr<std::vector<std::pair<RequestPointer, size_t>>>& owners)
    {
      std::vector<SlicePrediction> predictions;
      std::exception_ptr error;
      try
      {
        predictions = engine->predict(*batch);
      }
      catch (...)
      {
        error = std::current_exception();
      }

      std::vector<std::pair<RequestPointer, StageProgress>> progressed;
      {
        std::lock_guard<std::mutex> lock(mutex);
        for (size_t i = 0; i < owners->size(); ++i)
        {
          const RequestPointer& entry = (*owners)[i].first;
          --entry->inModel;
          if (error)
          {
            // The model failing is never the series' fault.
            const AnalysisError thrown = toAnalysisError(error);
            stop(entry, failure(thrown.isInternal() || thrown.isCancelled()
                                  ? thrown
                                  : AnalysisError::internal(std::string("the model failed: ") + thrown.what())));
          }
          else if (!entry->stoppedWith)
          {
            entry->predictions[(*owners)[i].second] = predictions[i];
            ++entry->predicted;
          }
        }
        for (const auto& owner : *owners)
        {
          const RequestPointer& entry = owner.first;
          if (entry->stoppedWith)
          {
            retireIfIdle(entry);
          }
          else if (entry->phase == Phase::Classifying)
          {
            const size_t total = entry->predictions.size();
            if (progressed.empty() || progressed.back().first != entry)
            {
              progressed.emplace_back(entry, StageProgress{Stage::Classify, double(entry->predicted) / total});
            }
            if (entry->predicted == total)
            {
              startFinishing(entry);
            }
          }
        }
        batchRunning = false;
        startBatchIfWorthIt();
      }
      for (const auto& item : progressed)
      {
        progress(item.first, item.second);
      }
    }

    void startFinishing(const RequestPointer& entry)    // locked
    {
      entry->phase = Phase::Finishing;
      boost::asio::post(cropPool, [self = shared_from_this(), entry] { self->finish(entry); });
    }

    void finish(const RequestPointer& entry)
    {
      AnalysisOutcome outcome;
      if (entry->stopRequested)
      {
        outcome = cancelled();
      }
      else
      {
        try
        {
          outcome.result = assembleResult(entry->prepared, entry->predictions, engine->metadata(), rule);
          if (entry->request.keepSeries)
          {
            outcome.series = std::make_shared<const Series>(std::move(entry->prepared.series));
          }
          progress(entry, {Stage::Classify, 1.0});
        }
        catch (...)
        {
          outcome = outcomeOf(std::current_exception());
        }
      }
      complete(entry, std::move(outcome));
    }

    // Marks a classifying request as stopping; it completes once no task holds its crops.
    void stop(const RequestPointer& entry, AnalysisOutcome outcome)    // locked
    {
      entry->stopRequested = true;
      if (!entry->stoppedWith)
      {
        entry->stoppedWith = std::move(outcome);
      }
      entry->ready.clear();
      entry->readyCount = 0;
    }

    void retireIfIdle(const RequestPointer& entry)    // locked
    {
      if (entry->stoppedWith && entry->phase == Phase::Classifying && entry->cropping == 0 && entry->inModel == 0 &&
          active.count(entry->id) != 0)
      {
        entry->phase = Phase::Finishing;     // so that it is retired once
        boost::asio::post(cropPool, [self = shared_from_this(), entry] {
          self->complete(entry, std::move(*entry->stoppedWith));
        });
      }
    }

    // The slot is released only after onDone has returned, so that at most maxInFlight series
    // exist between admission and the end of their callback (an outcome may carry the series).
    void complete(const RequestPointer& entry, AnalysisOutcome outcome)
    {
      {
        std::lock_guard<std::mutex> lock(mutex);
        entry->completing = true;
        entry->prepared = PreparedSeries();     // the volume, unless the outcome took it
        entry->ready.clear();
      }
      {
        // Waits for a progress report under way; `completing` turns away any later one.
        std::lock_guard<std::mutex> callbackLock(entry->callbackMutex);
        try
        {
          entry->request.onDone(std::move(outcome));
        }
        catch (...)
        {
        }
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        active.erase(entry->id);
      }
      changed.notify_all();
      if (options.onSlotFree)
      {
        try
        {
          options.onSlotFree();
        }
        catch (...)
        {
        }
      }
    }

    bool cancel(RequestId id)
    {
      std::lock_guard<std::mutex> lock(mutex);
      const auto it = active.find(id);
      if (it == active.end() || it->second->completing)
      {
        return false;
      }
      const RequestPointer& entry = it->second;
      entry->stopRequested = true;
      if (entry->phase == Phase::Classifying)
      {
        stop(entry, cancelled());
        retireIfIdle(entry);
        startBatchIfWorthIt();
      }
      return true;
    }
  };

  Worker::Worker(std::shared_ptr<Engine> engine, WorkerOptions options)
  {
    if (!engine)
    {
      throw std::invalid_argument("Worker: no engine");
    }
    state_ = std::make_shared<State>(std::move(engine), std::move(options));
  }

  Worker::~Worker()
  {
    shutdown(Shutdown::Abandon);
  }

  Worker::RequestId Worker::submit(AnalysisRequest request)
  {
    if (!request.source || !request.onDone)
    {
      throw std::invalid_argument("Worker::submit: a request needs a source and an onDone callback");
    }
    std::unique_lock<std::mutex> lock(state_->mutex);
    state_->changed.wait(lock, [&] {
      return !state_->accepting || state_->active.size() < state_->options.maxInFlight;
    });
    if (!state_->accepting)
    {
      throw std::logic_error("Worker::submit: the worker is shutting down");
    }
    return state_->admit(std::move(request));
  }

  std::optional<Worker::RequestId> Worker::trySubmit(AnalysisRequest& request)
  {
    if (!request.source || !request.onDone)
    {
      throw std::invalid_argument("Worker::trySubmit: a request needs a source and an onDone callback");
    }
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!state_->accepting)
    {
      throw std::logic_error("Worker::trySubmit: the worker is shutting down");
    }
    if (state_->active.size() >= state_->options.maxInFlight)
    {
      return std::nullopt;
    }
    return state_->admit(std::move(request));
  }

  Worker::Analysis Worker::analyse(std::shared_ptr<const SliceSource> source, ProgressCallback onProgress,
                                   bool keepSeries)
  {
    auto promise = std::make_shared<std::promise<AnalysisOutcome>>();
    Analysis analysis;
    analysis.outcome = promise->get_future();
    AnalysisRequest request;
    request.source = std::move(source);
    request.onProgress = std::move(onProgress);
    request.onDone = [promise](AnalysisOutcome&& outcome) { promise->set_value(std::move(outcome)); };
    request.keepSeries = keepSeries;
    analysis.id = submit(std::move(request));
    return analysis;
  }

  bool Worker::cancel(RequestId id)
  {
    return state_->cancel(id);
  }

  size_t Worker::inFlight() const
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->active.size();
  }

  void Worker::shutdown(Shutdown mode)
  {
    std::vector<RequestId> toCancel;
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      if (state_->joined)
      {
        return;
      }
      state_->accepting = false;
      if (mode == Shutdown::Abandon)
      {
        for (const auto& item : state_->active)
        {
          toCancel.push_back(item.first);
        }
      }
    }
    state_->changed.notify_all();
    for (RequestId id : toCancel)
    {
      state_->cancel(id);
    }
    {
      std::unique_lock<std::mutex> lock(state_->mutex);
      state_->changed.wait(lock, [&] { return state_->active.empty(); });
    }
    // Every request has completed; what is left in the pools ends without new work.
    state_->preparePool.join();
    state_->cropPool.join();
    state_->modelPool.join();
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->joined = true;
  }
}
