// SPDX-License-Identifier: GPL-3.0-or-later
#include "worker/Pipeline.h"

#include "assessment/Assessment.h"
#include "common/AnalysisError.h"

#include <algorithm>

namespace spinemet
{
  namespace
  {
    void report(const ProgressCallback& progress, Stage stage, size_t done, size_t total)
    {
      if (progress)
      {
        progress({stage, total == 0 ? 1.0 : std::min(1.0, double(done) / double(total))});
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
      report(progress, Stage::Read, done, total);
    });

    SpineOptions spine = options.spine;
    spine.cropMm = preprocessing.cropMm;
    spine.progress = [&](size_t done, size_t total) {
      stopIfAsked(shouldStop, "searching slice " + std::to_string(done) + " of " + std::to_string(total) +
                                " for the spine");
      report(progress, Stage::Spine, done, total);
    };
    spine.checkpoint = [&] { stopIfAsked(shouldStop, "following the spine"); };
    const Volume& volume = prepared.series.volume;
    stopIfAsked(shouldStop, "measuring the series");
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
    stopIfAsked(shouldStop, "checking the vertebrae");
    prepared.vertebraReasons = checkVertebrae(volume, prepared.layout);

    for (size_t s = 0; s < prepared.layout.slices.size(); ++s)
    {
      if (prepared.layout.slices[s].vertebra >= 0)
      {
        prepared.sliceIndices.push_back(s);
      }
    }
    report(progress, Stage::Spine, 1, 1);
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
}
