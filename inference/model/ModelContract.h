// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The model contract (docs/model-contract.md): what a SpineMet TorchScript file carries in its
// embedded "spinemet.json" and what the preprocessing reads from it. No LibTorch here: the crop
// code, the tools and the writers read the metadata without loading a model.

#include <json/value.h>

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
    Json::Value raw;                 // the whole document, for model-info and the REST API
  };

  Preprocessing parsePreprocessing(const Json::Value& json);           // throws AnalysisError("model-contract")
  ModelMetadata parseModelMetadata(const std::string& jsonText);       // throws AnalysisError("model-contract")

  // Refuses parameters that no crop can be made with (also used for hand-built Preprocessing).
  void validatePreprocessing(const Preprocessing& preprocessing);     // throws AnalysisError("model-contract")

  // The "preprocessing" object of the contract, as parsePreprocessing reads it.
  Json::Value toJson(const Preprocessing& preprocessing);
}
