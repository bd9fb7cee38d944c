// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The one reader of typed fields of a JSON document, with two fronts over one core (dotted field
// names, what counts as a number, how a wrong value is shown):
// - JsonFields stops at the first problem: a field that is missing or of the wrong type is refused
//   with an AnalysisError that names the document and the field by its dotted path
//   (model metadata: "preprocessing.crop_mm" must be a number). The model contract, its
//   aggregation rule, the phantom ground truth and the analysis result read back read through it.
// - JsonSettings collects every problem of a settings object (wrong types, values out of range,
//   unknown keys) as one line each and leaves the default of a setting it refused: the plugin's
//   configuration reads through it, so that one start names every mistake.
// Header only: whoever includes it links jsoncpp already.

#include "common/AnalysisError.h"

#include <json/value.h>
#include <json/writer.h>

#include <cmath>
#include <cstddef>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace spinemet
{
  class JsonFields
  {
  public:
    // `code`: the AnalysisError code of a refusal; `document`: what the reader reads, as the
    // message names it ("model metadata", "study/truth.json").
    JsonFields(std::string code, std::string document) : code_(std::move(code)), document_(std::move(document)) {}

    // "preprocessing" and "crop_mm" -> "preprocessing.crop_mm"; an empty parent is the root.
    static std::string name(const std::string& parent, const std::string& key)
    {
      return parent.empty() ? key : parent + "." + key;
    }

    // A real JSON number: jsoncpp turns true into 1 on request, and a size of `true` is wrong.
    static bool isNumber(const Json::Value& value)
    {
      return value.type() == Json::intValue || value.type() == Json::uintValue || value.type() == Json::realValue;
    }

    // What kind of value a wrong value is, as a message names it ("a string", "an array").
    static std::string typeName(const Json::Value& value)
    {
      switch (value.type())
      {
        case Json::nullValue: return "null";
        case Json::intValue:
        case Json::uintValue: return "an integer";
        case Json::realValue: return "a number";
        case Json::stringValue: return "a string";
        case Json::booleanValue: return "a boolean";
        case Json::arrayValue: return "an array";
        case Json::objectValue: return "an object";
      }
      return "a value";
    }

    // A wrong value as the user wrote it, on one line.
    static std::string show(const Json::Value& value)
    {
      Json::StreamWriterBuilder builder;
      builder["indentation"] = "";
      return Json::writeString(builder, value);
    }

    // "expected an array of strings, got 3 (an integer)": what a collected problem says of a value.
    static std::string expectedButGot(const std::string& expected, const Json::Value& value)
    {
      return "expected " + expected + ", got " + show(value) + " (" + typeName(value) + ")";
    }

    [[noreturn]] void refuse(const std::string& field, const std::string& problem) const
    {
      throw AnalysisError(code_, document_ + ": \"" + field + "\" " + problem);
    }

    const Json::Value& member(const Json::Value& object, const std::string& parent, const char* key) const
    {
      if (!object.isObject() || !object.isMember(key))
      {
        refuse(name(parent, key), "is missing");
      }
      return object[key];
    }

    double number(const Json::Value& object, const std::string& parent, const char* key) const
    {
      const Json::Value& value = member(object, parent, key);
      if (!isNumber(value) || !std::isfinite(value.asDouble()))
      {
        refuse(name(parent, key), "must be a number");
      }
      return value.asDouble();
    }

    int integer(const Json::Value& object, const std::string& parent, const char* key) const
    {
      const Json::Value& value = member(object, parent, key);
      if (!isNumber(value) || !value.isInt())
      {
        refuse(name(parent, key), "must be an integer");
      }
      return value.asInt();
    }

    // Absent counts as not positive: a count that must be there and above zero.
    size_t positiveInteger(const Json::Value& object, const std::string& parent, const char* key) const
    {
      const Json::Value value = object.isObject() ? object.get(key, Json::Value()) : Json::Value();
      if (!isNumber(value) || !value.isUInt() || value.asUInt() == 0)
      {
        refuse(name(parent, key), "must be a positive integer");
      }
      return value.asUInt();
    }

    size_t count(const Json::Value& object, const std::string& parent, const char* key) const
    {
      const Json::Value& value = member(object, parent, key);
      if (!isNumber(value) || !value.isUInt64())
      {
        refuse(name(parent, key), "must be a non-negative integer");
      }
      return static_cast<size_t>(value.asUInt64());
    }

    // Null where "unknown" is the meaning: NaN.
    double numberOrNull(const Json::Value& object, const std::string& parent, const char* key) const
    {
      const Json::Value& value = member(object, parent, key);
      if (value.isNull())
      {
        return std::nan("");
      }
      if (!isNumber(value) || !std::isfinite(value.asDouble()))
      {
        refuse(name(parent, key), "must be a number or null");
      }
      return value.asDouble();
    }

    std::string text(const Json::Value& object, const std::string& parent, const char* key) const
    {
      const Json::Value& value = member(object, parent, key);
      if (!value.isString())
      {
        refuse(name(parent, key), "must be a string");
      }
      return value.asString();
    }

    // Null where "unknown" is the meaning: the empty string.
    std::string textOrNull(const Json::Value& object, const std::string& parent, const char* key) const
    {
      const Json::Value& value = member(object, parent, key);
      if (value.isNull())
      {
        return std::string();
      }
      if (!value.isString())
      {
        refuse(name(parent, key), "must be a string or null");
      }
      return value.asString();
    }

    std::string nonEmptyText(const Json::Value& object, const std::string& parent, const char* key) const
    {
      const Json::Value& value = member(object, parent, key);
      if (!value.isString() || value.asString().empty())
      {
        refuse(name(parent, key), "must be a non-empty string");
      }
      return value.asString();
    }

    const Json::Value& object(const Json::Value& parentObject, const std::string& parent, const char* key) const
    {
      const Json::Value& value = member(parentObject, parent, key);
      if (!value.isObject())
      {
        refuse(name(parent, key), "must be a JSON object");
      }
      return value;
    }

    const Json::Value& array(const Json::Value& parentObject, const std::string& parent, const char* key) const
    {
      const Json::Value& value = member(parentObject, parent, key);
      if (!value.isArray())
      {
        refuse(name(parent, key), "must be an array");
      }
      return value;
    }

    // Absent or null: not said.
    std::optional<bool> optionalFlag(const Json::Value& object, const std::string& parent, const char* key) const
    {
      if (!object.isObject() || !object.isMember(key) || object[key].isNull())
      {
        return std::nullopt;
      }
      if (!object[key].isBool())
      {
        refuse(name(parent, key), "must be true or false");
      }
      return object[key].asBool();
    }

  private:
    std::string code_;
    std::string document_;
  };
  // The collecting front: reads one object of a settings document whose keys are all optional (an
  // absent key keeps the caller's default). Each problem becomes one line "Path.Key: ..." in
  // `problems` and the setting keeps its default; reportUnknownKeys() then names every key that no
  // read asked for.
  class JsonSettings
  {
  public:
    JsonSettings(const Json::Value& object, std::string path, std::vector<std::string>& problems) :
      object_(object), path_(std::move(path)), problems_(problems)
    {
    }

    // Reads `key` with `parse` when it is there: the hook for checks of one document only.
    void read(const char* key, const std::function<void(const Json::Value&)>& parse)
    {
      known_.insert(key);
      if (object_.isMember(key))
      {
        parse(object_[key]);
      }
    }

    void flag(const char* key, bool& target)
    {
      read(key, [&](const Json::Value& value) {
        if (!value.isBool()) return expected(key, "true or false", value);
        target = value.asBool();
      });
    }

    // `why` says what the maximum protects (threads started, memory): the message explains it.
    void count(const char* key, unsigned& target, unsigned minimum, unsigned maximum, const char* why)
    {
      read(key, [&](const Json::Value& value) {
        // asInt64() throws past INT64_MAX: a huge value is compared as unsigned.
        if (!value.isIntegral() || (!value.isUInt64() && value.asInt64() < 0) ||
            (value.isUInt64() && value.asUInt64() < minimum))
        {
          return expected(key, "an integer of at least " + std::to_string(minimum), value);
        }
        if (value.asUInt64() > maximum)
        {
          return expected(key, "an integer of at most " + std::to_string(maximum) + " (" + why + ")", value);
        }
        target = static_cast<unsigned>(value.asUInt64());
      });
    }

    void text(const char* key, std::string& target)
    {
      read(key, [&](const Json::Value& value) {
        if (!value.isString()) return expected(key, "a string", value);
        target = value.asString();
      });
    }

    void choice(const char* key, std::string& target, const std::vector<std::string>& choices)
    {
      read(key, [&](const Json::Value& value) {
        std::string list;
        for (const std::string& choice : choices) list += (list.empty() ? "\"" : ", \"") + choice + "\"";
        if (value.isString())
        {
          for (const std::string& choice : choices)
          {
            if (value.asString() == choice)
            {
              target = choice;
              return;
            }
          }
        }
        expected(key, "one of " + list, value);
      });
    }

    void names(const char* key, std::vector<std::string>& target)
    {
      read(key, [&](const Json::Value& value) {
        bool valid = value.isArray();
        for (Json::ArrayIndex i = 0; valid && i < value.size(); i++) valid = value[i].isString();
        if (!valid) return expected(key, "an array of strings", value);
        target.clear();
        for (const Json::Value& name : value) target.push_back(name.asString());
      });
    }

    // [low, high] with 0 <= low <= high; `unit` names what the numbers measure ("millimetres").
    void range(const char* key, double& low, double& high, const std::string& unit)
    {
      read(key, [&](const Json::Value& value) {
        if (!value.isArray() || value.size() != 2 || !value[0].isNumeric() || !value[1].isNumeric() || value[0].asDouble() < 0 || value[0].asDouble() > value[1].asDouble())
        {
          return expected(key, "[minimum, maximum] in " + unit + ", 0 <= minimum <= maximum", value);
        }
        low = value[0].asDouble();
        high = value[1].asDouble();
      });
    }

    // A nested object: `readBody` gets a front for it, whose unknown keys are reported too.
    void section(const char* key, const std::function<void(JsonSettings&)>& readBody)
    {
      read(key, [&](const Json::Value& value) {
        if (!value.isObject()) return expected(key, "an object", value);
        JsonSettings nested(value, JsonFields::name(path_, key), problems_);
        readBody(nested);
        nested.reportUnknownKeys();
      });
    }

    bool has(const char* key) const
    {
      return object_.isMember(key);
    }

    void problem(const std::string& key, const std::string& message)
    {
      problems_.push_back(JsonFields::name(path_, key) + ": " + message);
    }

    void expected(const std::string& key, const std::string& what, const Json::Value& value)
    {
      problem(key, JsonFields::expectedButGot(what, value));
    }

    void reportUnknownKeys()
    {
      for (const std::string& key : object_.getMemberNames())
      {
        if (known_.count(key) == 0)
        {
          std::string list;
          for (const std::string& name : known_) list += (list.empty() ? "" : ", ") + name;
          problems_.push_back(path_ + ": unknown setting \"" + key + "\" (known settings: " + list + ")");
        }
      }
    }

  private:
    const Json::Value& object_;
    std::string path_;
    std::vector<std::string>& problems_;
    std::set<std::string> known_;
  };
}
