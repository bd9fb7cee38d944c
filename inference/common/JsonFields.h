// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The one reader of typed fields of a JSON document: a field that is missing or of the wrong type
// is refused with an AnalysisError that names the document and the field by its dotted path
// (model metadata: "preprocessing.crop_mm" must be a number). The model contract, its aggregation
// rule and the phantom ground truth read through it; the plugin's configuration keeps its own
// reader because it collects every problem (and unknown keys) instead of stopping at the first.
// Header only: whoever includes it links jsoncpp already.

#include "common/AnalysisError.h"

#include <json/value.h>

#include <cmath>
#include <cstddef>
#include <optional>
#include <string>

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

    std::string text(const Json::Value& object, const std::string& parent, const char* key) const
    {
      const Json::Value& value = member(object, parent, key);
      if (!value.isString())
      {
        refuse(name(parent, key), "must be a string");
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
}
