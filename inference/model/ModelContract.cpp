// SPDX-License-Identifier: GPL-3.0-or-later
#include "model/ModelContract.h"

#include "common/AnalysisError.h"
#include "common/JsonFields.h"

#include <json/reader.h>

#include <cmath>
#include <memory>
#include <sstream>

namespace spinemet
{
  namespace
  {
    const char* const CONTRACT = "spinemet-model/1";
    const std::vector<std::string> OUTPUT_NAMES = {
      "blastic_logit", "lytic_logit", "bone_quality_logits", "posterolateral_logits"};
    // The engine maps logits onto BoneQuality / Posterolateral by position, so the order is fixed.
    const std::vector<std::string> BONE_QUALITY_CLASSES = {"normal", "blastic", "lytic", "mixed"};
    const std::vector<std::string> POSTEROLATERAL_CLASSES = {"none", "unilateral", "bilateral"};

    // The contract's fields, read and refused in one way (common/JsonFields.h).
    const JsonFields FIELDS("model-contract", "model metadata");

    [[noreturn]] void refuse(const std::string& field, const std::string& problem)
    {
      FIELDS.refuse(field, problem);
    }

    std::string joined(const std::vector<std::string>& names)
    {
      std::string result = "[";
      for (size_t i = 0; i < names.size(); ++i)
      {
        result += (i > 0 ? ", \"" : "\"") + names[i] + "\"";
      }
      return result + "]";
    }

    std::vector<std::string> exactNames(const Json::Value& parent, const std::string& path, const char* key,
                                        const std::vector<std::string>& expected)
    {
      const std::string field = path.empty() ? key : path + "." + key;
      const Json::Value& value = FIELDS.member(parent, path, key);
      bool matches = value.isArray() && value.size() == expected.size();
      for (Json::ArrayIndex i = 0; matches && i < value.size(); ++i)
      {
        matches = value[i].isString() && value[i].asString() == expected[i];
      }
      if (!matches)
      {
        refuse(field, "must be " + joined(expected) + " in this order");
      }
      return expected;
    }

    // A short name for the SR and the logs ("densenet multitask"); the structured description stays
    // in ModelMetadata::raw.
    std::string describeArchitecture(const Json::Value& architecture)
    {
      std::string description = FIELDS.nonEmptyText(architecture, "architecture", "family");
      if (architecture.isMember("variant"))
      {
        description += " " + FIELDS.nonEmptyText(architecture, "architecture", "variant");
      }
      return description;
    }
  }

  void validatePreprocessing(const Preprocessing& p)
  {
    const std::string path = "preprocessing";
    if (p.inputSize < 1 || p.inputSize > 4096)
    {
      refuse(path + ".input_size", "must be between 1 and 4096 pixels, not " + std::to_string(p.inputSize));
    }
    if (p.channels < 1 || p.channels > 64 || p.channels % 2 == 0)
    {
      refuse(path + ".channels", "must be an odd number between 1 and 63 (the slice itself in the middle), not " +
                                   std::to_string(p.channels));
    }
    if (!std::isfinite(p.channelSpacingMm) || p.channelSpacingMm < 0 ||
        (p.channels > 1 && p.channelSpacingMm <= 0))
    {
      refuse(path + ".channel_spacing_mm", "must be > 0 when channels > 1, and >= 0 otherwise");
    }
    if (!std::isfinite(p.cropMm) || p.cropMm <= 0)
    {
      refuse(path + ".crop_mm", "must be a positive size in mm");
    }
    if (!std::isfinite(p.windowLow) || !std::isfinite(p.windowHigh) || p.windowLow >= p.windowHigh)
    {
      refuse(path + ".window", "must be [low, high] HU with low < high");
    }
    if (!std::isfinite(p.mean))
    {
      refuse(path + ".mean", "must be a finite number");
    }
    if (!std::isfinite(p.std) || p.std <= 0)
    {
      refuse(path + ".std", "must be a positive number");
    }
  }

  Preprocessing parsePreprocessing(const Json::Value& json)
  {
    const std::string path = "preprocessing";
    if (!json.isObject())
    {
      refuse(path, "must be a JSON object");
    }
    Preprocessing p;
    p.inputSize = FIELDS.integer(json, path, "input_size");
    p.channels = FIELDS.integer(json, path, "channels");
    p.channelSpacingMm = FIELDS.number(json, path, "channel_spacing_mm");
    p.cropMm = FIELDS.number(json, path, "crop_mm");
    const Json::Value& window = FIELDS.member(json, path, "window");
    if (!window.isArray() || window.size() != 2 || !JsonFields::isNumber(window[0]) || !JsonFields::isNumber(window[1]))
    {
      refuse(path + ".window", "must be [low, high] HU, two numbers");
    }
    p.windowLow = window[0].asDouble();
    p.windowHigh = window[1].asDouble();
    p.mean = FIELDS.number(json, path, "mean");
    p.std = FIELDS.number(json, path, "std");
    validatePreprocessing(p);
    return p;
  }

  Json::Value toJson(const Preprocessing& p)
  {
    Json::Value json(Json::objectValue);
    json["input_size"] = p.inputSize;
    json["channels"] = p.channels;
    json["channel_spacing_mm"] = p.channelSpacingMm;
    json["crop_mm"] = p.cropMm;
    json["window"] = Json::Value(Json::arrayValue);
    json["window"].append(p.windowLow);
    json["window"].append(p.windowHigh);
    json["mean"] = p.mean;
    json["std"] = p.std;
    return json;
  }

  namespace
  {
    const char* const ASSESSABILITY_VERSION = "spinemet-assessability/1";

    std::optional<ValueRange> range(const Json::Value& domain, const char* key)
    {
      if (!domain.isMember(key))
      {
        return std::nullopt;
      }
      const Json::Value& value = domain[key];
      const std::string path = std::string("assessability.domain.") + key;
      if (!value.isArray() || value.size() != 2 || !JsonFields::isNumber(value[0]) || !JsonFields::isNumber(value[1]) ||
          !std::isfinite(value[0].asDouble()) || !std::isfinite(value[1].asDouble()) ||
          value[0].asDouble() > value[1].asDouble())
      {
        refuse(path, "must be [low, high], two finite numbers with low <= high");
      }
      return ValueRange{value[0].asDouble(), value[1].asDouble()};
    }

    Assessability parseAssessability(const Json::Value& section)
    {
      const std::string version = FIELDS.nonEmptyText(section, "assessability", "version");
      if (version != ASSESSABILITY_VERSION)
      {
        refuse("assessability.version", "is \"" + version + "\", this SpineMet reads \"" + ASSESSABILITY_VERSION + "\"");
      }
      Assessability assessability;
      if (section.isMember("out_of_distribution"))
      {
        const std::string path = "assessability.out_of_distribution";
        const Json::Value& json = FIELDS.object(section, "assessability", "out_of_distribution");
        if (FIELDS.nonEmptyText(json, path, "method") != "mahalanobis")
        {
          refuse(path + ".method", "must be \"mahalanobis\"");
        }
        OutOfDistributionGate gate;
        gate.featuresMethod = FIELDS.nonEmptyText(json, path, "features_method");
        gate.featureDimension = FIELDS.integer(json, path, "feature_dimension");
        gate.classMeansBuffer = FIELDS.nonEmptyText(json, path, "class_means_buffer");
        gate.precisionBuffer = FIELDS.nonEmptyText(json, path, "precision_buffer");
        gate.vertebraStatistic = FIELDS.nonEmptyText(json, path, "vertebra_statistic");
        gate.threshold = FIELDS.number(json, path, "threshold");
        if (gate.featureDimension <= 0)
        {
          refuse(path + ".feature_dimension", "must be positive");
        }
        if (gate.vertebraStatistic != "median")
        {
          refuse(path + ".vertebra_statistic", "must be \"median\"");
        }
        if (!(gate.threshold > 0))
        {
          refuse(path + ".threshold", "must be positive");
        }
        assessability.gate = gate;
      }
      if (section.isMember("domain"))
      {
        const Json::Value& domain = FIELDS.object(section, "assessability", "domain");
        assessability.domain.sliceThicknessMm = range(domain, "slice_thickness_mm");
        assessability.domain.pixelSpacingMm = range(domain, "pixel_spacing_mm");
        assessability.domain.imageNoiseHu = range(domain, "image_noise_hu");
      }
      return assessability;
    }
  }

  ModelMetadata parseModelMetadata(const std::string& jsonText)
  {
    Json::Value root;
    {
      Json::CharReaderBuilder builder;
      builder["collectComments"] = false;
      builder["rejectDupKeys"] = true;
      std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
      std::string errors;
      if (!reader->parse(jsonText.data(), jsonText.data() + jsonText.size(), &root, &errors))
      {
        throw AnalysisError("model-contract", "model metadata is not valid JSON: " + errors);
      }
    }
    if (!root.isObject())
    {
      throw AnalysisError("model-contract", "model metadata must be a JSON object");
    }

    ModelMetadata metadata;
    metadata.contract = FIELDS.nonEmptyText(root, "", "contract");
    if (metadata.contract != CONTRACT)
    {
      refuse("contract", std::string("is \"") + metadata.contract + "\", this SpineMet reads \"" + CONTRACT + "\"");
    }
    metadata.name = FIELDS.nonEmptyText(root, "", "name");
    metadata.version = FIELDS.nonEmptyText(root, "", "version");
    metadata.architecture = describeArchitecture(FIELDS.object(root, "", "architecture"));

    const Json::Value& input = FIELDS.object(root, "", "input");
    if (FIELDS.nonEmptyText(input, "input", "dtype") != "float32")
    {
      refuse("input.dtype", "must be \"float32\"");
    }
    if (FIELDS.nonEmptyText(input, "input", "layout") != "NCHW")
    {
      refuse("input.layout", "must be \"NCHW\"");
    }

    metadata.preprocessing = parsePreprocessing(FIELDS.object(root, "", "preprocessing"));
    exactNames(root, "", "outputs", OUTPUT_NAMES);
    const Json::Value& classes = FIELDS.object(root, "", "classes");
    metadata.boneQualityClasses = exactNames(classes, "classes", "bone_quality", BONE_QUALITY_CLASSES);
    metadata.posterolateralClasses = exactNames(classes, "classes", "posterolateral", POSTEROLATERAL_CLASSES);
    metadata.aggregation = FIELDS.nonEmptyText(FIELDS.object(root, "", "aggregation"), "aggregation", "rule");
    metadata.trainedOn = FIELDS.nonEmptyText(root, "", "trained_on");
    FIELDS.object(root, "", "evaluation");
    metadata.date = FIELDS.nonEmptyText(root, "", "date");
    // YYYY-MM-DD, checked by hand: std::regex recurses per character of the input (a long
    // value in a model file could overflow the stack).
    const std::string& date = metadata.date;
    bool isoDate = date.size() == 10 && date[4] == '-' && date[7] == '-';
    for (size_t i = 0; isoDate && i < date.size(); ++i)
    {
      isoDate = i == 4 || i == 7 || (date[i] >= '0' && date[i] <= '9');
    }
    if (!isoDate)
    {
      refuse("date", "must be YYYY-MM-DD, not \"" + metadata.date + "\"");
    }
    FIELDS.nonEmptyText(root, "", "intended_use");
    if (root.isMember("assessability"))
    {
      metadata.assessability = parseAssessability(FIELDS.object(root, "", "assessability"));
    }
    metadata.raw = root;
    return metadata;
  }
}
