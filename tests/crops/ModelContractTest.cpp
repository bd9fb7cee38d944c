// SPDX-License-Identifier: GPL-3.0-or-later
#include "common/AnalysisError.h"
#include "model/ModelContract.h"

#include <gtest/gtest.h>
#include <json/reader.h>
#include <json/writer.h>

#include <functional>
#include <sstream>
#include <string>

namespace spinemet
{
  namespace
  {
    const char* const COMPLETE = R"({
      "contract": "spinemet-model/1",
      "name": "spinemet-demo",
      "version": "0.1.0",
      "architecture": {"family": "densenet", "variant": "multitask", "growth_rate": 12, "block_config": [2, 4, 6]},
      "input": {"dtype": "float32", "layout": "NCHW"},
      "preprocessing": {"input_size": 64, "channels": 3, "channel_spacing_mm": 2.5,
                        "crop_mm": 90, "window": [-300, 1300], "mean": 0.25, "std": 0.5},
      "outputs": ["blastic_logit", "lytic_logit", "bone_quality_logits", "posterolateral_logits"],
      "classes": {"bone_quality": ["normal", "blastic", "lytic", "mixed"],
                  "posterolateral": ["none", "unilateral", "bilateral"]},
      "aggregation": {"rule": "mean-probability", "min_slices": 2},
      "trained_on": "synthetic CT phantoms (spinemet-phantom), not patient data",
      "evaluation": {"vertebra_sensitivity_lytic": 0.95},
      "date": "2026-11-29",
      "intended_use": "research and demonstration only; not for clinical use"
    })";

    Json::Value parse(const std::string& text)
    {
      Json::Value value;
      Json::CharReaderBuilder builder;
      std::string errors;
      std::istringstream stream(text);
      EXPECT_TRUE(Json::parseFromStream(builder, stream, &value, &errors)) << errors;
      return value;
    }

    std::string write(const Json::Value& value)
    {
      return Json::writeString(Json::StreamWriterBuilder(), value);
    }

    // The message of the model-contract error thrown for the document `edit` makes of COMPLETE.
    std::string refusal(const std::function<void(Json::Value&)>& edit)
    {
      Json::Value document = parse(COMPLETE);
      edit(document);
      try
      {
        parseModelMetadata(write(document));
      }
      catch (const AnalysisError& error)
      {
        EXPECT_EQ(error.code(), "model-contract");
        return error.what();
      }
      ADD_FAILURE() << "accepted: " << write(document);
      return "";
    }
  }

  TEST(ModelContract, CompleteDocumentParses)
  {
    const ModelMetadata metadata = parseModelMetadata(COMPLETE);
    EXPECT_EQ(metadata.contract, "spinemet-model/1");
    EXPECT_EQ(metadata.name, "spinemet-demo");
    EXPECT_EQ(metadata.version, "0.1.0");
    EXPECT_EQ(metadata.architecture, "densenet multitask");
    EXPECT_EQ(metadata.preprocessing.inputSize, 64);
    EXPECT_EQ(metadata.preprocessing.channels, 3);
    EXPECT_DOUBLE_EQ(metadata.preprocessing.channelSpacingMm, 2.5);
    EXPECT_DOUBLE_EQ(metadata.preprocessing.cropMm, 90);
    EXPECT_DOUBLE_EQ(metadata.preprocessing.windowLow, -300);
    EXPECT_DOUBLE_EQ(metadata.preprocessing.windowHigh, 1300);
    EXPECT_DOUBLE_EQ(metadata.preprocessing.mean, 0.25);
    EXPECT_DOUBLE_EQ(metadata.preprocessing.std, 0.5);
    EXPECT_EQ(metadata.boneQualityClasses, (std::vector<std::string>{"normal", "blastic", "lytic", "mixed"}));
    EXPECT_EQ(metadata.posterolateralClasses, (std::vector<std::string>{"none", "unilateral", "bilateral"}));
    EXPECT_EQ(metadata.aggregation, "mean-probability");
    EXPECT_EQ(metadata.trainedOn, "synthetic CT phantoms (spinemet-phantom), not patient data");
    EXPECT_EQ(metadata.date, "2026-11-29");
    EXPECT_EQ(metadata.raw["evaluation"]["vertebra_sensitivity_lytic"].asDouble(), 0.95);
  }

  TEST(ModelContract, PreprocessingRoundTripsThroughJson)
  {
    const Preprocessing original = parseModelMetadata(COMPLETE).preprocessing;
    const Preprocessing again = parsePreprocessing(toJson(original));
    EXPECT_EQ(again.inputSize, original.inputSize);
    EXPECT_EQ(again.channels, original.channels);
    EXPECT_DOUBLE_EQ(again.channelSpacingMm, original.channelSpacingMm);
    EXPECT_DOUBLE_EQ(again.cropMm, original.cropMm);
    EXPECT_DOUBLE_EQ(again.windowLow, original.windowLow);
    EXPECT_DOUBLE_EQ(again.windowHigh, original.windowHigh);
    EXPECT_DOUBLE_EQ(again.mean, original.mean);
    EXPECT_DOUBLE_EQ(again.std, original.std);
  }

  TEST(ModelContract, DefaultPreprocessingIsValid)
  {
    EXPECT_NO_THROW(validatePreprocessing(Preprocessing()));
    EXPECT_NO_THROW(parsePreprocessing(toJson(Preprocessing())));
  }

  TEST(ModelContract, EachMissingFieldIsNamed)
  {
    const std::vector<std::vector<std::string>> fields = {
      {"contract"}, {"name"}, {"version"}, {"architecture"}, {"architecture", "family"},
      {"input"}, {"input", "dtype"}, {"input", "layout"}, {"preprocessing"},
      {"preprocessing", "input_size"}, {"preprocessing", "channels"}, {"preprocessing", "channel_spacing_mm"},
      {"preprocessing", "crop_mm"}, {"preprocessing", "window"}, {"preprocessing", "mean"},
      {"preprocessing", "std"}, {"outputs"}, {"classes"}, {"classes", "bone_quality"},
      {"classes", "posterolateral"}, {"aggregation"}, {"aggregation", "rule"}, {"trained_on"},
      {"evaluation"}, {"date"}, {"intended_use"}};
    for (const auto& field : fields)
    {
      const std::string name = field.size() == 1 ? field[0] : field[0] + "." + field[1];
      const std::string message = refusal([&](Json::Value& document) {
        if (field.size() == 1)
        {
          document.removeMember(field[0]);
        }
        else
        {
          document[field[0]].removeMember(field[1]);
        }
      });
      EXPECT_NE(message.find("\"" + name + "\" is missing"), std::string::npos) << name << ": " << message;
    }
  }

  TEST(ModelContract, EachWrongFieldIsNamed)
  {
    struct Case
    {
      std::string field;
      std::function<void(Json::Value&)> edit;
    };
    const std::vector<Case> cases = {
      {"contract", [](Json::Value& d) { d["contract"] = "spinemet-model/2"; }},
      {"name", [](Json::Value& d) { d["name"] = ""; }},
      {"version", [](Json::Value& d) { d["version"] = 1; }},
      {"architecture", [](Json::Value& d) { d["architecture"] = "densenet"; }},
      {"input.dtype", [](Json::Value& d) { d["input"]["dtype"] = "float16"; }},
      {"input.layout", [](Json::Value& d) { d["input"]["layout"] = "NHWC"; }},
      {"preprocessing.input_size", [](Json::Value& d) { d["preprocessing"]["input_size"] = 0; }},
      {"preprocessing.input_size", [](Json::Value& d) { d["preprocessing"]["input_size"] = 95.5; }},
      {"preprocessing.input_size", [](Json::Value& d) { d["preprocessing"]["input_size"] = true; }},
      {"preprocessing.input_size", [](Json::Value& d) { d["preprocessing"]["input_size"] = "96"; }},
      {"preprocessing.channels", [](Json::Value& d) { d["preprocessing"]["channels"] = 2; }},
      {"preprocessing.channel_spacing_mm", [](Json::Value& d) { d["preprocessing"]["channel_spacing_mm"] = 0; }},
      {"preprocessing.channel_spacing_mm", [](Json::Value& d) { d["preprocessing"]["channel_spacing_mm"] = -1; }},
      {"preprocessing.crop_mm", [](Json::Value& d) { d["preprocessing"]["crop_mm"] = -5; }},
      {"preprocessing.window", [](Json::Value& d) {
         d["preprocessing"]["window"][0] = 1300;
         d["preprocessing"]["window"][1] = -300;
       }},
      {"preprocessing.window", [](Json::Value& d) { d["preprocessing"]["window"].append(5); }},
      {"preprocessing.window", [](Json::Value& d) { d["preprocessing"]["window"] = 1000; }},
      {"preprocessing.mean", [](Json::Value& d) { d["preprocessing"]["mean"] = "0"; }},
      {"preprocessing.std", [](Json::Value& d) { d["preprocessing"]["std"] = 0; }},
      {"outputs", [](Json::Value& d) { d["outputs"][0] = "lytic_logit"; d["outputs"][1] = "blastic_logit"; }},
      {"outputs", [](Json::Value& d) { d["outputs"].resize(3); }},
      {"classes.bone_quality", [](Json::Value& d) { d["classes"]["bone_quality"][3] = "sclerotic"; }},
      {"classes.posterolateral", [](Json::Value& d) { d["classes"]["posterolateral"].resize(2); }},
      {"aggregation", [](Json::Value& d) { d["aggregation"] = "mean"; }},
      {"aggregation.rule", [](Json::Value& d) { d["aggregation"]["rule"] = Json::Value(); }},
      {"trained_on", [](Json::Value& d) { d["trained_on"] = Json::Value(Json::arrayValue); }},
      {"evaluation", [](Json::Value& d) { d["evaluation"] = 0.9; }},
      {"date", [](Json::Value& d) { d["date"] = "29/11/2026"; }},
      {"date", [](Json::Value& d) { d["date"] = "2026-11-2x"; }},
      {"date", [](Json::Value& d) { d["date"] = "2026-11-290"; }},
      // A long value must not take the parser's stack (std::regex recursed per character).
      {"date", [](Json::Value& d) { d["date"] = "2026-11-29" + std::string(1 << 20, '9'); }},
      {"intended_use", [](Json::Value& d) { d["intended_use"] = ""; }}};
    for (const Case& c : cases)
    {
      const std::string message = refusal(c.edit);
      EXPECT_NE(message.find("\"" + c.field + "\""), std::string::npos) << c.field << ": " << message;
    }
  }

  TEST(ModelContract, NotJsonIsRefused)
  {
    for (const std::string& text : {std::string("{\"contract\": "), std::string("[1, 2]"), std::string("")})
    {
      try
      {
        parseModelMetadata(text);
        ADD_FAILURE() << "accepted: " << text;
      }
      catch (const AnalysisError& error)
      {
        EXPECT_EQ(error.code(), "model-contract");
      }
    }
  }

  TEST(ModelContract, PreprocessingMustBeAnObject)
  {
    try
    {
      parsePreprocessing(Json::Value(96));
      FAIL() << "accepted a number";
    }
    catch (const AnalysisError& error)
    {
      EXPECT_EQ(error.code(), "model-contract");
      EXPECT_NE(std::string(error.what()).find("\"preprocessing\""), std::string::npos);
    }
  }
}
