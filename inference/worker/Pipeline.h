// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The stages of one series' analysis: loadSeries -> findSpine -> makeCrops -> Engine ->
// aggregateVertebrae -> AnalysisResult. The Worker (Worker.h) is their only driver, for the
// command-line tool and the Orthanc plugin alike: it calls prepareSeries, makes the crops and runs
// the model in batches across series, then calls assembleResult.

#include "assessment/InputChecks.h"
#include "common/StageProgress.h"
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
  };

  // Progress of one series: the stage (Read, Spine, Classify) and the fraction done within it.
  // Called from the thread doing the work; keep it quick.
  using ProgressCallback = std::function<void(const StageProgress& progress)>;

  // Asked between slices; when it returns true the analysis stops with AnalysisError("cancelled").
  using StopCheck = std::function<bool()>;

  // The stages, for the Worker, the tests and the benchmarks.

  // A series that is ready for the model: its volume, its spine, and the slices to classify.
  struct PreparedSeries
  {
    Series series;
    SpineLayout layout;
    std::vector<size_t> sliceIndices;        // every slice that carries a vertebra, ascending
    InputMeasurements measurements;          // for the series checks against the model's domain
    std::vector<std::vector<NotAssessable>> vertebraReasons;   // per layout vertebra: metal, cut
  };

  // loadSeries + measureInput + findSpine + checkVertebrae: Stage::Read then Stage::Spine. A series
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
