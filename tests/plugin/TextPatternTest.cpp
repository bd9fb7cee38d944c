// SPDX-License-Identifier: GPL-3.0-or-later
#include "SeriesSelection.h"
#include "TextPattern.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace spinemet
{
  namespace
  {
    bool matches(const std::string& pattern, const std::string& text)
    {
      return TextPattern(pattern).search(text);
    }

    std::string refusal(const std::string& pattern)
    {
      try
      {
        TextPattern compiled(pattern);
      }
      catch (const std::invalid_argument& error)
      {
        return error.what();
      }
      return "";
    }
  }

  TEST(TextPattern, MatchesAnywhereCaseInsensitively)
  {
    EXPECT_TRUE(matches("spine", "L-SPINE"));
    EXPECT_TRUE(matches("chest|spine", "Chest"));
    EXPECT_FALSE(matches("chest|spine", "ABDOMEN"));
    EXPECT_TRUE(matches("", "anything"));
    EXPECT_TRUE(matches("", ""));
  }

  TEST(TextPattern, AnchorsClassesEscapesAndQuantifiers)
  {
    EXPECT_TRUE(matches("^lung", "Lung 1.0 B70f"));
    EXPECT_FALSE(matches("^lung", "Thorax lung"));
    EXPECT_TRUE(matches("b70f$", "Lung 1.0 B70f"));
    EXPECT_FALSE(matches("^b70f$", "Lung 1.0 B70f"));
    EXPECT_TRUE(matches("^(thorax|chest)\\s+\\d+(\\.\\d+)?\\s*mm$", "Chest 1.25 mm"));
    EXPECT_TRUE(matches("^(thorax|chest)\\s+\\d+(\\.\\d+)?\\s*mm$", "THORAX 3mm"));
    EXPECT_FALSE(matches("^(thorax|chest)\\s+\\d+(\\.\\d+)?\\s*mm$", "Chest 1. mm"));
    EXPECT_TRUE(matches("[a-c]x[^0-9]", "BxY"));
    EXPECT_FALSE(matches("[a-c]x[^0-9]", "bx7"));
    EXPECT_FALSE(matches("[^a]", "A"));                       // negation after case folding
    EXPECT_TRUE(matches("a.c", "abc"));
    EXPECT_FALSE(matches("a.c", "a\nc"));
    EXPECT_TRUE(matches("(?:ab)+$", "xababab"));
    EXPECT_TRUE(matches("colou?r", "COLOR"));
    EXPECT_TRUE(matches("a*?b", "aaab"));
    EXPECT_TRUE(matches("1\\.0", "1.0"));
    EXPECT_FALSE(matches("1\\.0", "100"));
    EXPECT_TRUE(matches("(a*)*b", "aab"));                    // an empty loop ends
  }

  TEST(TextPattern, RefusesWhatItDoesNotReadNamingThePosition)
  {
    EXPECT_EQ(refusal("(["), "a '[' without its ']' at character 3 of the pattern");
    EXPECT_EQ(refusal("a{2}"), "a counted repetition {m,n} (not supported: repeat the item, or use * + ?) "
                               "at character 2 of the pattern");
    EXPECT_EQ(refusal("(?=a)"), "a look-around or named group (not supported) at character 2 of the pattern");
    EXPECT_EQ(refusal("\\1"), "the escape '\\1' (not supported) at character 2 of the pattern");
    EXPECT_EQ(refusal("*a"), "a quantifier '*' with nothing before it at character 1 of the pattern");
    EXPECT_EQ(refusal("a)"), "an unmatched ')' at character 2 of the pattern");
    EXPECT_EQ(refusal("[z-a]"), "a range whose end comes before its start at character 5 of the pattern");
    EXPECT_NE(refusal(std::string(17, '(') + std::string(17, ')')).find("groups nested more than 16 deep"),
              std::string::npos);
    EXPECT_NE(refusal(std::string(300, 'a')).find("300 characters long, more than 256"), std::string::npos);
  }

  TEST(TextPattern, AVeryLongValueIsMatchedWithoutRecursion)
  {
    // std::regex recursed per character here and overflowed the stack; the patterns that
    // backtrack exponentially in a backtracking matcher are linear here too.
    const std::string value(8 * 1024 * 1024, 'a');
    EXPECT_TRUE(matches("^(a|aa)*$", value));
    EXPECT_FALSE(matches("^(a*)*b$", value));
    EXPECT_TRUE(matches("a+$", value));
    EXPECT_FALSE(matches("spine", value));
  }

  TEST(TextPattern, SelectionRulesReadAVeryLongTagValue)
  {
    SeriesSelection selection;
    selection.bodyPartPattern = "^(chest|spine)+$";
    selection.seriesDescriptionPattern = "(.*)*lung";
    SeriesFacts facts;
    facts.modality = "CT";
    facts.imageType = "ORIGINAL\\PRIMARY\\AXIAL";
    facts.instanceCount = 100;
    facts.sopClassUid = "1.2.840.10008.5.1.4.1.1.2";
    facts.sliceThickness = "1";
    facts.bodyPartExamined = std::string(1000000, 'x');
    facts.seriesDescription = std::string(1000000, 'y') + "LUNG";
    std::optional<SelectionVerdict> verdict = checkSelection(selection, facts);
    ASSERT_TRUE(verdict.has_value());
    EXPECT_EQ(verdict->code, "body-part");

    facts.bodyPartExamined = "CHESTSPINECHEST";
    EXPECT_FALSE(checkSelection(selection, facts).has_value());
  }
}
