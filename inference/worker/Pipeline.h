// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// One series through the whole pipeline: loadSeries -> findSpine -> makeCrops -> Engine ->
// aggregateVertebrae -> AnalysisResult. analyseSeries() runs it on the calling thread (the
// command-line tool); the Worker (Worker.h) runs the same stages for many series at once.

#include "assessment/InputChecks.h"
#include "crops/Crops.h"
#include "engine/Aggregation.h"
#include "engine/Engine.h"
#include "result/AnalysisResult.h"
#include "spine/Spine.h"
#include "volume/SeriesLoader.h"
#include "volume/SliceSource.h"

#include <cstddef>
#include <functional>
#include <vector>

namespace spinemet
{
  struct PipelineOptions
  {
    LoadOptions load;
    SpineOptions spine;              // cropMm is taken from the model's preprocessing
    size_t batchSize = 16;           // crops per Engine::predict call (benchmarks/README.md)
  };

  // Progress of one series, 0..1, in three equal parts: instances read, slices searched for the
  // spine, vertebra slices classified. Called from the thread doing the work; keep it quick.
  using ProgressCallback = std::function<void(double fraction)>;

  // Asked between slices; when it returns true the analysis stops with AnalysisError("cancelled").
  using StopCheck = std::function<bool()>;

  // The whole pipeline for one series. Throws AnalysisError for anything wrong with the input
  // (its code says what: docs/errors.md), AnalysisError("cancelled") when `shouldStop` says so;
  // anything else is an internal error. With `keepSeries`, the loaded series (the volume the
  // Secondary Capture overlays are drawn on) is moved there.
  AnalysisResult analyseSeries(const SliceSource& source,
                               Engine& engine,
                               const PipelineOptions& options = {},
                               const ProgressCallback& progress = {},
                               const StopCheck& shouldStop = {},
                               Series* keepSeries = nullptr);

  // The stages, for the Worker and the tests.

  // A series that is ready for the model: its volume, its spine, and the slices to classify.
  struct PreparedSeries
  {
    Series series;
    SpineLayout layout;
    std::vector<size_t> sliceIndices;        // every slice that carries a vertebra, ascending
    InputMeasurements measurements;          // for the series checks against the model's domain
    std::vector<std::vector<NotAssessable>> vertebraReasons;   // per layout vertebra: metal, cut
  };

  // loadSeries + measureInput + findSpine + checkVertebrae. Progress goes from 0 to 2/3. A series
  // without a spine whose Hounsfield units are implausible fails as "hu-calibration", the likelier
  // cause, rather than "no-spine".
  PreparedSeries prepareSeries(const SliceSource& source,
                               const Preprocessing& preprocessing,
                               const PipelineOptions& options,
                               const ProgressCallback& progress,
                               const StopCheck& shouldStop);

  // Slice predictions (one per prepared.sliceIndices, same order) -> the result, each vertebra
  // assessed (assessment/Assessment.h) against the model's declared domain and gate.
  AnalysisResult assembleResult(const PreparedSeries& prepared,
                                const std::vector<SlicePrediction>& predictions,
                                const ModelMetadata& metadata,
                                const AggregationRule& rule);

  // Throws AnalysisError("cancelled") naming `what` when `shouldStop` says so.
  void stopIfAsked(const StopCheck& shouldStop, const std::string& what);
}
