// SPDX-License-Identifier: GPL-3.0-or-later
// The one JSON field reader (inference/common/JsonFields.h): its throwing front stops at the first
// problem, its collecting front names every problem; both name a field by the same dotted path.
#include "common/JsonFields.h"

#include <gtest/gtest.h>
#include <json/reader.h>

#include <functional>
#include <memory>

namespace spinemet
{
  namespace
  {
    Json::Value parse(const std::string& text)
    {
      Json::CharReaderBuilder builder;
      std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
      Json::Value value;
      std::string errors;
      EXPECT_TRUE(reader->parse(text.data(), text.data() + text.size(), &value, &errors)) << errors;
      return value;
    }

    std::string refusal(const std::function<void()>& read)
    {
      try
      {
        read();
      }
      catch (const AnalysisError& error)
      {
        EXPECT_EQ(error.code(), "test-code");
        return error.what();
      }
      return "(not refused)";
    }
  }

  TEST(JsonFields, ThrowingFrontNamesTheDocumentAndTheDottedField)
  {
    const Json::Value document = parse(R"({ "outer": { "size": "big", "count": 0, "flag": 1 } })");
    const JsonFields fields("test-code", "test document");
    const Json::Value& outer = fields.object(document, "", "outer");
    EXPECT_EQ(refusal([&] { fields.number(outer, "outer", "size"); }), "test document: \"outer.size\" must be a number");
    EXPECT_EQ(refusal([&] { fields.positiveInteger(outer, "outer", "count"); }),
              "test document: \"outer.count\" must be a positive integer");
    EXPECT_EQ(refusal([&] { fields.optionalFlag(outer, "outer", "flag"); }),
              "test document: \"outer.flag\" must be true or false");
    EXPECT_EQ(refusal([&] { fields.text(outer, "outer", "absent"); }), "test document: \"outer.absent\" is missing");
    EXPECT_FALSE(fields.optionalFlag(outer, "outer", "absent").has_value());
  }

  TEST(JsonFields, CollectingFrontNamesEveryProblemAndKeepsTheDefaults)
  {
    const Json::Value document = parse(R"({
      "Count": 7, "Big": 11, "Mode": "fast", "Names": ["a", 2], "Flag": "yes",
      "Range": [3, 1], "Inner": { "Text": "kept", "Stray": true }, "Unknown": null })");
    std::vector<std::string> problems;
    unsigned count = 1;
    unsigned big = 2;
    std::string mode = "slow";
    std::vector<std::string> names = {"default"};
    bool flag = false;
    double low = 0.5;
    double high = 5;
    std::string text;
    JsonSettings settings(document, "Top", problems);
    settings.count("Count", count, 1, 10, "why it is bounded");
    settings.count("Big", big, 1, 10, "why it is bounded");
    settings.choice("Mode", mode, {"slow", "careful"});
    settings.names("Names", names);
    settings.flag("Flag", flag);
    settings.range("Range", low, high, "millimetres");
    settings.section("Inner", [&](JsonSettings& inner) { inner.text("Text", text); });
    settings.text("Absent", text);
    settings.reportUnknownKeys();

    EXPECT_EQ(count, 7u);
    EXPECT_EQ(big, 2u);
    EXPECT_EQ(mode, "slow");
    EXPECT_EQ(names, std::vector<std::string>{"default"});
    EXPECT_FALSE(flag);
    EXPECT_EQ(low, 0.5);
    EXPECT_EQ(high, 5);
    EXPECT_EQ(text, "kept");
    const std::vector<std::string> expected = {
      "Top.Big: expected an integer of at most 10 (why it is bounded), got 11 (an integer)",
      "Top.Mode: expected one of \"slow\", \"careful\", got \"fast\" (a string)",
      "Top.Names: expected an array of strings, got [\"a\",2] (an array)",
      "Top.Flag: expected true or false, got \"yes\" (a string)",
      "Top.Range: expected [minimum, maximum] in millimetres, 0 <= minimum <= maximum, got [3,1] (an array)",
      "Top.Inner: unknown setting \"Stray\" (known settings: Text)",
      "Top: unknown setting \"Unknown\" (known settings: Absent, Big, Count, Flag, Inner, Mode, Names, Range)",
    };
    EXPECT_EQ(problems, expected);
  }
}
