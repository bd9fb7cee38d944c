// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The model contract (docs/model-contract.md): what a SpineMet TorchScript file carries in its
// embedded "spinemet.json" and what the preprocessing reads from it. No LibTorch here: the crop
// code, the tools and the writers read the metadata without loading a model.

#include <json/value.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace spinemet
{
  // Everything that turns a slice into model input. Training (through spinemet-prep) and serving
  // run the same code with the same parameters.
  struct Preprocessing
  {
    int inputSize = 96;              // crops are inputSize x inputSize pixels
    int channels = 1;                // neighbouring slices stacked as channels (odd: centre slice in the middle)
    double channelSpacingMm = 0;     // distance between stacked slices, when channels > 1
    double cropMm = 100;             // physical side of the square crop
    double windowLow = -250;         // HU window, mapped to [0, 1] and clipped
    double windowHigh = 1250;
    double mean = 0;                 // then (value - mean) / std
    double std = 1;
  };

  // The optional "assessability" section ("spinemet-assessability/1", docs/model-contract.md):
  // the domain a model was validated on, so that a vertebra outside it is "not assessable" rather
  // than given a confident answer.

  // Class-conditional Mahalanobis distance with a shared covariance (Lee et al., NeurIPS 2018) of
  // the backbone's features: a crop's score is min over classes c of
  // sqrt((f - mu_c)^T P (f - mu_c)), f the features the model's `featuresMethod` returns (its
  // fifth output), mu_c and P float64 buffers of the TorchScript module. A vertebra's score is the
  // `vertebraStatistic` of its crops' scores; above `threshold` it is not assessable.
  struct OutOfDistributionGate
  {
    std::string featuresMethod;      // "forward_with_features": forward's four outputs + features [N, D]
    int featureDimension = 0;        // D
    std::string classMeansBuffer;    // module buffer [K, D] float64
    std::string precisionBuffer;     // module buffer [D, D] float64, the inverse shared covariance
    std::string vertebraStatistic;   // "median" (of the vertebra's crop scores)
    double threshold = 0;            // fitted on held-out in-distribution data at training time
  };

  struct ValueRange
  {
    double low = 0;
    double high = 0;
    bool contains(double value) const { return value >= low && value <= high; }
  };

  // The acquisitions the model was trained and tested on; an absent range is not checked.
  struct AcquisitionDomain
  {
    std::optional<ValueRange> sliceThicknessMm;
    std::optional<ValueRange> pixelSpacingMm;
    std::optional<ValueRange> imageNoiseHu;     // InputMeasurements::imageNoiseHu (assessment/)
  };

  struct Assessability
  {
    std::optional<OutOfDistributionGate> gate;
    AcquisitionDomain domain;
  };

  struct ModelMetadata
  {
    std::string contract;            // "spinemet-model/1"
    std::string name;
    std::string version;
    std::string architecture;
    Preprocessing preprocessing;
    std::vector<std::string> boneQualityClasses;     // normal, blastic, lytic, mixed
    std::vector<std::string> posterolateralClasses;  // none, unilateral, bilateral
    std::string aggregation;         // the slice-to-vertebra rule, by name
    std::string trainedOn;
    std::string date;
    std::optional<Assessability> assessability;   // absent in older models: no gate, no domain checks
    Json::Value raw;                 // the whole document, for model-info and the REST API
  };

  Preprocessing parsePreprocessing(const Json::Value& json);           // throws AnalysisError("model-contract")
  ModelMetadata parseModelMetadata(const std::string& jsonText);       // throws AnalysisError("model-contract")

  // Refuses parameters that no crop can be made with (also used for hand-built Preprocessing).
  void validatePreprocessing(const Preprocessing& preprocessing);     // throws AnalysisError("model-contract")

  // The "preprocessing" object of the contract, as parsePreprocessing reads it.
  Json::Value toJson(const Preprocessing& preprocessing);
}
