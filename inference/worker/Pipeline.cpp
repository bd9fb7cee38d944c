// SPDX-License-Identifier: GPL-3.0-or-later
#include "worker/Pipeline.h"

#include "assessment/Assessment.h"
#include "common/AnalysisError.h"

#include <algorithm>

namespace spinemet
{
  namespace
  {
    void report(const ProgressCallback& progress, double fraction)
    {
      if (progress)
      {
        progress(std::min(1.0, std::max(0.0, fraction)));
      }
    }
  }

  void stopIfAsked(const StopCheck& shouldStop, const std::string& what)
  {
    if (shouldStop && shouldStop())
    {
      throw AnalysisError("cancelled", "analysis cancelled while " + what);
    }
  }

  PreparedSeries prepareSeries(const SliceSource& source,
                               const Preprocessing& preprocessing,
                               const PipelineOptions& options,
                               const ProgressCallback& progress,
                               const StopCheck& shouldStop)
  {
    stopIfAsked(shouldStop, "waiting to start");
    PreparedSeries prepared;
    prepared.series = loadSeries(source, options.load, [&](size_t done, size_t total) {
      // Throwing from here unwinds loadSeries between two instances: that is its cancellation point.
      stopIfAsked(shouldStop, "reading instance " + std::to_string(done) + " of " + std::to_string(total));
      report(progress, total == 0 ? 0.0 : (double(done) / total) / 3.0);
    });

    SpineOptions spine = options.spine;
    spine.cropMm = preprocessing.cropMm;
    spine.progress = [&](size_t done, size_t total) {
      stopIfAsked(shouldStop, "searching slice " + std::to_string(done) + " of " + std::to_string(total) +
                                " for the spine");
      report(progress, (1.0 + (total == 0 ? 0.0 : double(done) / total)) / 3.0);
    };
    const Volume& volume = prepared.series.volume;
    prepared.measurements = measureInput(volume);
    try
    {
      prepared.layout = findSpine(volume, spine);
    }
    catch (const AnalysisError& error)
    {
      const std::vector<NotAssessable> calibration = checkSeries(prepared.measurements, volume.geometry(), std::nullopt);
      if (error.code() == "no-spine" && !calibration.empty())
      {
        throw AnalysisError("hu-calibration", std::string(error.what()) + "; " + calibration.front().detail);
      }
      throw;
    }
    prepared.vertebraReasons = checkVertebrae(volume, prepared.layout);

    for (size_t s = 0; s < prepared.layout.slices.size(); ++s)
    {
      if (prepared.layout.slices[s].vertebra >= 0)
      {
        prepared.sliceIndices.push_back(s);
      }
    }
    report(progress, 2.0 / 3.0);
    return prepared;
  }

  AnalysisResult assembleResult(const PreparedSeries& prepared,
                                const std::vector<SlicePrediction>& predictions,
                                const ModelMetadata& metadata,
                                const AggregationRule& rule)
  {
    if (predictions.size() != prepared.sliceIndices.size())
    {
      throw std::invalid_argument("assembleResult: " + std::to_string(predictions.size()) + " predictions for " +
                                  std::to_string(prepared.sliceIndices.size()) + " slices");
    }
    AnalysisResult result;
    result.series = prepared.series.attributes;
    result.geometry = prepared.series.volume.geometry();
    result.model.name = metadata.name;
    result.model.version = metadata.version;
    result.model.architecture = metadata.architecture;
    result.model.trainedOn = metadata.trainedOn;
    result.warnings = prepared.series.warnings;
    result.assessment.measurements = prepared.measurements;

    result.slices.reserve(predictions.size());
    for (size_t i = 0; i < predictions.size(); ++i)
    {
      const size_t s = prepared.sliceIndices[i];
      SliceResult slice;
      slice.sliceIndex = s;
      slice.sopInstanceUid = prepared.series.slices.at(s).sopInstanceUid;
      slice.vertebra = prepared.layout.slices.at(s).vertebra;
      slice.blastic = predictions[i].blastic;
      slice.lytic = predictions[i].lytic;
      slice.boneQuality = predictions[i].boneQuality;
      slice.posterolateral = predictions[i].posterolateral;
      slice.outOfDistributionScore = predictions[i].outOfDistributionScore;
      result.slices.push_back(std::move(slice));
    }
    std::vector<int> layoutVertebra(result.slices.size());
    for (size_t i = 0; i < result.slices.size(); ++i)
    {
      layoutVertebra[i] = result.slices[i].vertebra;
    }
    result.vertebrae = aggregateVertebrae(result.slices, prepared.layout, rule);
    result.levelNote = prepared.layout.levelNote;
    // aggregateVertebrae renumbers the slices' vertebrae to index the result: pair the numbers up.
    std::vector<size_t> layoutIndex(result.vertebrae.size());
    for (size_t i = 0; i < result.slices.size(); ++i)
    {
      layoutIndex.at(static_cast<size_t>(result.slices[i].vertebra)) = static_cast<size_t>(layoutVertebra[i]);
    }
    const std::optional<OutOfDistributionGate> gate =
      metadata.assessability ? metadata.assessability->gate : std::nullopt;
    assessVertebrae(result, checkSeries(prepared.measurements, result.geometry, metadata.assessability),
                    prepared.vertebraReasons, layoutIndex, gate);
    return result;
  }

  AnalysisResult analyseSeries(const SliceSource& source,
                               Engine& engine,
                               const PipelineOptions& options,
                               const ProgressCallback& progress,
                               const StopCheck& shouldStop,
                               Series* keepSeries)
  {
    const ModelMetadata& metadata = engine.metadata();
    const AggregationRule rule = aggregationRuleFromMetadata(metadata);
    PreparedSeries prepared = prepareSeries(source, metadata.preprocessing, options, progress, shouldStop);

    const size_t total = prepared.sliceIndices.size();
    const size_t batchSize = std::max<size_t>(1, options.batchSize);
    std::vector<SlicePrediction> predictions;
    predictions.reserve(total);
    for (size_t first = 0; first < total; first += batchSize)
    {
      stopIfAsked(shouldStop, "classifying slice " + std::to_string(first) + " of " + std::to_string(total));
      const std::vector<size_t> indices(prepared.sliceIndices.begin() + first,
                                        prepared.sliceIndices.begin() + std::min(total, first + batchSize));
      const CropBatch crops = makeCrops(prepared.series.volume, prepared.layout, indices, metadata.preprocessing);
      const std::vector<SlicePrediction> batch = engine.predict(crops);
      predictions.insert(predictions.end(), batch.begin(), batch.end());
      report(progress, (2.0 + double(predictions.size()) / total) / 3.0);
    }
    AnalysisResult result = assembleResult(prepared, predictions, metadata, rule);
    if (keepSeries != nullptr)
    {
      *keepSeries = std::move(prepared.series);
    }
    report(progress, 1.0);
    return result;
  }
}
