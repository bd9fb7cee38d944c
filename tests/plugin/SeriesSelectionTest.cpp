// SPDX-License-Identifier: GPL-3.0-or-later
#include "SeriesSelection.h"

#include <gtest/gtest.h>

namespace spinemet
{
  namespace
  {
    SeriesFacts axialCt()
    {
      SeriesFacts facts;
      facts.modality = "CT";
      facts.instanceCount = 120;
      facts.seriesDescription = "Thorax 1.25 bone";
      facts.bodyPartExamined = "CHEST";
      facts.sopClassUid = "1.2.840.10008.5.1.4.1.1.2";
      facts.imageType = "ORIGINAL\\PRIMARY\\AXIAL";
      facts.sliceThickness = "1.25";
      return facts;
    }

    std::string rejection(const SeriesSelection& selection, const SeriesFacts& facts)
    {
      std::optional<SelectionVerdict> verdict = checkSelection(selection, facts);
      return verdict ? verdict->code : "";
    }
  }

  TEST(SeriesSelection, AxialOriginalCtIsAnalysed)
  {
    EXPECT_EQ(rejection(SeriesSelection(), axialCt()), "");
  }

  TEST(SeriesSelection, EachRuleRejectsWithItsCode)
  {
    SeriesSelection selection;
    SeriesFacts facts = axialCt();
    facts.modality = "MR";
    EXPECT_EQ(rejection(selection, facts), "not-ct");

    facts = axialCt();
    facts.modality = "SR";                                       // SpineMet's own report
    EXPECT_EQ(rejection(selection, facts), "not-ct");

    facts = axialCt();
    facts.sopClassUid = "1.2.840.10008.5.1.4.1.1.7";             // secondary capture
    EXPECT_EQ(rejection(selection, facts), "not-ct-image");

    facts = axialCt();
    facts.imageType = "ORIGINAL\\PRIMARY\\LOCALIZER";
    EXPECT_EQ(rejection(selection, facts), "image-type");

    facts = axialCt();
    facts.imageType = "DERIVED\\SECONDARY\\AXIAL";
    EXPECT_EQ(rejection(selection, facts), "derived-image");

    facts = axialCt();
    facts.instanceCount = 3;
    EXPECT_EQ(rejection(selection, facts), "too-few-slices");

    facts = axialCt();
    facts.sliceThickness = "10";
    EXPECT_EQ(rejection(selection, facts), "slice-thickness");

    selection.bodyPartPattern = "SPINE";
    EXPECT_EQ(rejection(selection, axialCt()), "body-part");
    selection.bodyPartPattern = "chest|spine";                    // case-insensitive
    EXPECT_EQ(rejection(selection, axialCt()), "");

    selection.seriesDescriptionPattern = "^lung";
    EXPECT_EQ(rejection(selection, axialCt()), "series-description");
  }

  TEST(SeriesSelection, MessageNamesTheValueAndTheRule)
  {
    SeriesFacts facts = axialCt();
    facts.sliceThickness = "7.5";
    std::optional<SelectionVerdict> verdict = checkSelection(SeriesSelection(), facts);
    ASSERT_TRUE(verdict);
    EXPECT_EQ(verdict->message, "Slice Thickness is 7.5 mm, outside SliceThickness [0.5, 5]");
  }

  TEST(SeriesSelection, ImageTypeValuesAreMatchedWholeAndTrimmed)
  {
    SeriesFacts facts = axialCt();
    facts.imageType = "ORIGINAL\\PRIMARY\\AXIAL\\HELIX ";
    EXPECT_EQ(rejection(SeriesSelection(), facts), "");
    facts.imageType = "ORIGINAL\\PRIMARYX\\AXIAL";
    EXPECT_EQ(rejection(SeriesSelection(), facts), "image-type");
  }

  TEST(SeriesSelection, InstanceRulesLeaveOutALocalizerNotTheSeries)
  {
    SeriesSelection selection;
    selection.bodyPartPattern = "spine";               // a series rule: not one of an instance
    SeriesFacts localizer = axialCt();
    localizer.imageType = "ORIGINAL\\PRIMARY\\LOCALIZER";
    localizer.instanceCount = 1;                       // nor is the count
    ASSERT_TRUE(checkInstance(selection, localizer).has_value());
    EXPECT_EQ(checkInstance(selection, localizer)->code, "image-type");
    SeriesFacts axial = axialCt();
    axial.instanceCount = 1;
    EXPECT_FALSE(checkInstance(selection, axial).has_value());
    axial.sliceThickness = "12";
    EXPECT_EQ(checkInstance(selection, axial)->code, "slice-thickness");
  }
}
