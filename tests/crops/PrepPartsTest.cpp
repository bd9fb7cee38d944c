// SPDX-License-Identifier: GPL-3.0-or-later
// The pieces of spinemet-prep that do not need a DICOM study: the labels table, the .npy writer,
// the labelling of found vertebrae against phantom ground truth.
#include "LabelsTable.h"
#include "Npy.h"
#include "PhantomTruth.h"
#include "common/AnalysisError.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>

namespace spinemet
{
  namespace
  {
    std::string errorMessage(const std::function<void()>& action, const std::string& code)
    {
      try
      {
        action();
      }
      catch (const AnalysisError& error)
      {
        EXPECT_EQ(error.code(), code) << error.what();
        return error.what();
      }
      ADD_FAILURE() << "no error";
      return "";
    }
  }

  TEST(LabelsTable, LevelListsAndRanges)
  {
    EXPECT_EQ(parseLevelList("T7-T9; l2, L4"), (std::vector<std::string>{"T7", "T8", "T9", "L2", "L4"}));
    EXPECT_EQ(parseLevelList("T12-L2"), (std::vector<std::string>{"T12", "L1", "L2"}));
    EXPECT_EQ(parseLevelList("C7 T1"), (std::vector<std::string>{"C7", "T1"}));
    EXPECT_TRUE(parseLevelList("").empty());
    EXPECT_TRUE(parseLevelList(" None ").empty());
    EXPECT_NE(errorMessage([] { parseLevelList("T7, X3"); }, "labels-table").find("\"X3\""), std::string::npos);
    EXPECT_NE(errorMessage([] { parseLevelList("L2-T12"); }, "labels-table").find("L2-T12"), std::string::npos);
    EXPECT_NE(errorMessage([] { parseLevelList("T13"); }, "labels-table").find("T13"), std::string::npos);
  }

  TEST(LabelsTable, CsvWithQuotesAndExtraColumns)
  {
    const std::string csv =
      "\xEF\xBB\xBF" "Case_ID,Age,Blastic_Levels,Lytic_Levels,Mixed_Levels\r\n"
      "10155,63,\"T7, T8\",,L1\r\n"
      "10156,71,,\"T12-L2\",\n"
      "\"10157\",55,none,\"\",\"\"\n";
    const LabelsTable table = LabelsTable::parse(csv, "table.csv");
    EXPECT_EQ(table.size(), 3u);
    const CaseLevels* first = table.find("10155");
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(first->boneQuality("T7"), "blastic");
    EXPECT_EQ(first->boneQuality("T8"), "blastic");
    EXPECT_EQ(first->boneQuality("L1"), "mixed");
    EXPECT_EQ(first->boneQuality("L2"), "normal");
    const CaseLevels* second = table.find("10156");
    ASSERT_NE(second, nullptr);
    EXPECT_EQ(second->boneQuality("L1"), "lytic");
    EXPECT_EQ(second->boneQuality("T11"), "normal");
    ASSERT_NE(table.find("10157"), nullptr);
    EXPECT_EQ(table.find("99999"), nullptr);
  }

  TEST(LabelsTable, BadTablesAreRefusedWithWhere)
  {
    EXPECT_NE(errorMessage([] { LabelsTable::parse("case_id,blastic_levels,lytic_levels\n1,,\n", "t.csv"); }, "labels-table")
                .find("\"mixed_levels\""), std::string::npos);
    EXPECT_NE(errorMessage([] { LabelsTable::parse("case_id,blastic_levels,lytic_levels,mixed_levels\n1,T7,T7,\n", "t.csv"); },
                           "labels-table").find("t.csv row 2: T7 is in both blastic_levels and lytic_levels"), std::string::npos);
    EXPECT_NE(errorMessage([] { LabelsTable::parse("case_id,blastic_levels,lytic_levels,mixed_levels\n1,,,\n1,,,\n", "t.csv"); },
                           "labels-table").find("row 3"), std::string::npos);
    EXPECT_NE(errorMessage([] { LabelsTable::parse("case_id,blastic_levels,lytic_levels,mixed_levels\n1,,Q9,\n", "t.csv"); },
                           "labels-table").find("row 2, column lytic_levels"), std::string::npos);
    errorMessage([] { LabelsTable::read("/nonexistent/labels.csv"); }, "labels-table");
  }

  TEST(LabelsTable, SegStudyInheritsVertebraLabels)
  {
    SpineLayout layout;
    layout.slices.resize(6);
    for (size_t s = 0; s < 6; ++s)
    {
      layout.slices[s].vertebraPresent = s != 2;
      layout.slices[s].vertebra = s < 2 ? 1 : (s > 2 ? 0 : -1);
    }
    layout.vertebrae = {Vertebra{0, "T12", 3, 5}, Vertebra{1, "L1", 0, 1}};
    CaseLevels levels;
    levels.lytic = {"L1"};
    levels.blastic = {"T4"};
    const StudyTruth truth = labelTableStudy(layout, levels, "10155");
    EXPECT_EQ(truth.kind, "spine-mets-ct-seg");
    EXPECT_EQ(truth.vertebrae[0].label.boneQuality, 0);
    EXPECT_EQ(truth.vertebrae[1].label.boneQuality, 2);
    EXPECT_EQ(truth.vertebrae[1].label.posterolateral, -1);
    EXPECT_EQ(truth.slices[0].label.boneQuality, 2);
    EXPECT_EQ(truth.slices[0].sliceTruth, "vertebra");
    EXPECT_FALSE(truth.slices[0].visible.any.has_value());
    EXPECT_EQ(truth.slices[4].label.truthLevel, "T12");
    EXPECT_EQ(truth.slices[2].label.boneQuality, -1);
    ASSERT_EQ(truth.warnings.size(), 1u);
    EXPECT_NE(truth.warnings[0].find("T4"), std::string::npos);
  }

  TEST(Npy, HeaderIsNumpyVersion1Aligned)
  {
    const std::string header = npyHeader({3, 1, 8, 8});
    EXPECT_EQ(header.size() % 64, 0u);
    EXPECT_EQ(header.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
    EXPECT_NE(header.find("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 1, 8, 8), }"), std::string::npos);
    EXPECT_EQ(header.back(), '\n');
    EXPECT_NE(npyHeader({5}).find("'shape': (5,)"), std::string::npos);
  }

  TEST(Npy, NumpyLoadsIt)
  {
    const std::filesystem::path folder = std::filesystem::temp_directory_path() /
                                         ("spinemet-npy-" + std::to_string(::getpid()));
    std::filesystem::create_directories(folder);
    const std::string path = (folder / "values.npy").string();
    std::vector<float> values(2 * 3 * 4 * 5);
    for (size_t i = 0; i < values.size(); ++i)
    {
      values[i] = static_cast<float>(i) * 0.5f - 7.25f;
    }
    writeNpyFloat32(path, {2, 3, 4, 5}, values.data());
    const std::string command =
      "/usr/bin/python3 -c \"import numpy, sys; a = numpy.load(sys.argv[1]); "
      "b = numpy.load(sys.argv[1], mmap_mode='r'); "
      "assert a.dtype == numpy.float32 and a.shape == (2, 3, 4, 5), (a.dtype, a.shape); "
      "assert (a.ravel() == numpy.arange(120, dtype=numpy.float32) * 0.5 - 7.25).all(); "
      "assert a[1, 2, 3, 4] == 119 * 0.5 - 7.25 and (b == a).all()\" " + path;
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    std::filesystem::remove_all(folder);
  }

  namespace
  {
    // A series of 10 slices, 2 mm apart from z = 0, UIDs "1.2.<s>".
    Series makeSeries()
    {
      VolumeGeometry geometry;
      geometry.columns = 4;
      geometry.rows = 4;
      geometry.slices = 10;
      geometry.sliceSpacing = 2;
      Series series;
      series.volume = Volume(geometry, std::vector<std::vector<int16_t>>(10, std::vector<int16_t>(16, 0)));
      for (size_t s = 0; s < 10; ++s)
      {
        SliceReference reference;
        reference.sopInstanceUid = "1.2." + std::to_string(s);
        reference.position = 2.0 * static_cast<double>(s);
        series.slices.push_back(reference);
      }
      return series;
    }

    // Truth: vertebra 0 (L1, lytic unilateral left) on slices 6-8, a disc on 5, vertebra 1 (L2,
    // normal) on slices 1-4, nothing on 0 and 9. The UIDs of slices 3 and 4 are unknown to the
    // truth (found by z).
    PhantomTruth makeTruth()
    {
      PhantomTruth truth;
      truth.seed = 42;
      truth.vertebrae = {PhantomTruthVertebra{0, "L1", 11.0, 17.0, 2, 1, "left"},
                         PhantomTruthVertebra{1, "L2", 1.0, 9.0, 0, 0, "none"}};
      for (size_t s = 0; s < 10; ++s)
      {
        PhantomTruthSlice slice;
        slice.sopInstanceUid = (s == 3 || s == 4) ? "9.9." + std::to_string(s) : "1.2." + std::to_string(s);
        slice.zMm = 2.0 * static_cast<double>(s) + 0.3;
        slice.vertebra = (s >= 6 && s <= 8) ? 0 : (s >= 1 && s <= 4) ? 1 : -1;
        slice.visible.any = s == 7;
        truth.slices.push_back(slice);
      }
      return truth;
    }
  }

  TEST(PhantomLabels, FoundVertebraeTakeTheTruthTheyOverlapMost)
  {
    const Series series = makeSeries();
    // The finder sees vertebra 0 on slices 5-8 (one disc slice too many), vertebra 1 on 2-4
    // (missing slice 1), and nothing else.
    SpineLayout layout;
    layout.slices.resize(10);
    for (size_t s = 2; s <= 8; ++s)
    {
      layout.slices[s].vertebraPresent = true;
      layout.slices[s].vertebra = s >= 5 ? 0 : 1;
    }
    layout.vertebrae = {Vertebra{0, "", 5, 8}, Vertebra{1, "", 2, 4}};
    const StudyTruth truth = labelPhantomStudy(series, layout, makeTruth());
    EXPECT_EQ(truth.kind, "phantom");
    EXPECT_EQ(truth.seed, 42);
    ASSERT_EQ(truth.vertebrae.size(), 2u);
    EXPECT_EQ(truth.vertebrae[0].label.truthIndex, 0);
    EXPECT_EQ(truth.vertebrae[0].label.truthLevel, "L1");
    EXPECT_EQ(truth.vertebrae[0].label.boneQuality, 2);
    EXPECT_EQ(truth.vertebrae[0].label.posterolateral, 1);
    EXPECT_EQ(truth.vertebrae[0].label.posterolateralSide, "left");
    EXPECT_DOUBLE_EQ(*truth.vertebrae[0].overlap, 0.75);
    EXPECT_EQ(truth.vertebrae[1].label.truthIndex, 1);
    EXPECT_EQ(truth.vertebrae[1].label.boneQuality, 0);
    EXPECT_EQ(truth.vertebrae[1].label.posterolateralSide, "");
    EXPECT_DOUBLE_EQ(*truth.vertebrae[1].overlap, 1.0);
    EXPECT_EQ(truth.slices[5].sliceTruth, "disc");
    EXPECT_EQ(truth.slices[5].label.boneQuality, 2);      // kept, with its found vertebra's label
    EXPECT_EQ(truth.slices[6].sliceTruth, "vertebra");
    EXPECT_EQ(truth.slices[3].sliceTruth, "vertebra");    // matched by z
    EXPECT_EQ(truth.slices[7].visible.any, true);
    EXPECT_EQ(truth.slices[6].visible.any, false);
    EXPECT_EQ(truth.truthVertebraSlicesMissed, 1u);       // slice 1
    EXPECT_TRUE(truth.warnings.empty());
  }

  TEST(PhantomLabels, SliceMissingFromTheTruthIsRefused)
  {
    const Series series = makeSeries();
    SpineLayout layout;
    layout.slices.resize(10);
    PhantomTruth truth = makeTruth();
    truth.slices[3].zMm = 50;
    const std::string message = errorMessage([&] { labelPhantomStudy(series, layout, truth); }, "ground-truth");
    EXPECT_NE(message.find("volume slice 3"), std::string::npos) << message;
  }

  TEST(PhantomLabels, SamplesDocumentCarriesTheLabels)
  {
    const Series series = makeSeries();
    SpineLayout layout;
    layout.slices.resize(10);
    for (size_t s = 6; s <= 8; ++s)
    {
      layout.slices[s].vertebraPresent = true;
      layout.slices[s].vertebra = 0;
      layout.slices[s].cropCentreColumn = 2;
      layout.slices[s].cropCentreRow = 2;
    }
    layout.vertebrae = {Vertebra{0, "", 6, 8}};
    const StudyTruth truth = labelPhantomStudy(series, layout, makeTruth());
    Preprocessing preprocessing;
    preprocessing.inputSize = 4;
    const CropBatch crops = makeCrops(series.volume, layout, {6, 7, 8}, preprocessing);
    const Json::Value document = samplesDocument(series, layout, crops, preprocessing, truth, {"/studies/p1", "p1"});
    EXPECT_EQ(document["format"].asString(), "spinemet-samples/1");
    EXPECT_EQ(document["crops"]["shape"][0].asUInt(), 3u);
    EXPECT_EQ(document["crops"]["shape"][3].asUInt(), 4u);
    EXPECT_EQ(document["preprocessing"]["input_size"].asInt(), 4);
    EXPECT_EQ(document["study"]["seed"].asInt(), 42);
    EXPECT_TRUE(document["study"]["case_id"].isNull());
    ASSERT_EQ(document["samples"].size(), 3u);
    const Json::Value& sample = document["samples"][1];
    EXPECT_EQ(sample["crop_index"].asInt(), 1);
    EXPECT_EQ(sample["slice_index"].asInt(), 7);
    EXPECT_DOUBLE_EQ(sample["z_mm"].asDouble(), 14.0);
    EXPECT_EQ(sample["sop_instance_uid"].asString(), "1.2.7");
    EXPECT_EQ(sample["vertebra_index"].asInt(), 0);
    EXPECT_TRUE(sample["vertebra_level"].isNull());
    EXPECT_EQ(sample["truth_vertebra_level"].asString(), "L1");
    EXPECT_EQ(sample["bone_quality"].asString(), "lytic");
    EXPECT_EQ(sample["bone_quality_index"].asInt(), 2);
    EXPECT_EQ(sample["blastic"].asInt(), 0);
    EXPECT_EQ(sample["lytic"].asInt(), 1);
    EXPECT_EQ(sample["posterolateral"].asString(), "unilateral");
    EXPECT_EQ(sample["posterolateral_index"].asInt(), 1);
    EXPECT_EQ(sample["posterolateral_side"].asString(), "left");
    EXPECT_EQ(sample["lesion_visible"].asBool(), true);
    EXPECT_EQ(sample["slice_truth"].asString(), "vertebra");
    EXPECT_EQ(document["vertebrae"][0]["crops"].asInt(), 3);
    EXPECT_EQ(document["vertebrae"][0]["truth_index"].asInt(), 0);
  }
}

namespace spinemet
{
  namespace
  {
    const char* const TRUTH = R"({
      "schema": "spinemet-phantom-truth/1", "seed": 7,
      "vertebrae": [
        {"index": 0, "level": "T12", "z_min_mm": 10, "z_max_mm": 30, "bone_quality": "mixed",
         "posterolateral": "bilateral", "side": "both"},
        {"index": 1, "level": "L1", "z_min_mm": -20, "z_max_mm": 2, "bone_quality": "normal",
         "posterolateral": "none", "side": "none"}],
      "slices": [
        {"sop_instance_uid": "1.2.3", "z_mm": 20, "vertebra": 0, "lesion_visible": true,
         "blastic_lesion_visible": false, "lytic_lesion_visible": true, "posterolateral_lesion_visible": false},
        {"sop_instance_uid": "1.2.4", "z_mm": 5, "vertebra": null, "lesion_visible": false}]
    })";
  }

  TEST(PhantomTruthFile, Parses)
  {
    const PhantomTruth truth = parsePhantomTruth(TRUTH, "ground_truth.json");
    EXPECT_EQ(truth.seed, 7);
    ASSERT_EQ(truth.vertebrae.size(), 2u);
    EXPECT_EQ(truth.vertebrae[0].level, "T12");
    EXPECT_EQ(truth.vertebrae[0].boneQuality, 3);
    EXPECT_EQ(truth.vertebrae[0].posterolateral, 2);
    EXPECT_EQ(truth.vertebrae[0].side, "both");
    EXPECT_DOUBLE_EQ(truth.vertebrae[1].zMinMm, -20);
    ASSERT_EQ(truth.slices.size(), 2u);
    EXPECT_EQ(truth.slices[0].vertebra, 0);
    EXPECT_EQ(truth.slices[0].visible.any, true);
    EXPECT_EQ(truth.slices[0].visible.blastic, false);
    EXPECT_EQ(truth.slices[0].visible.lytic, true);
    EXPECT_EQ(truth.slices[0].visible.posterolateral, false);
    EXPECT_FALSE(truth.slices[1].visible.blastic.has_value());
    EXPECT_EQ(truth.slices[1].vertebra, -1);
    EXPECT_FALSE(truth.slices[1].visible.posterolateral.has_value());
  }

  TEST(PhantomTruthFile, WrongFieldsAreNamed)
  {
    const std::vector<std::pair<std::string, std::string>> edits = {
      {"\"schema\": \"spinemet-phantom-truth/1\"", "\"schema\": \"other/1\""},
      {"\"seed\": 7", "\"seed\": \"7\""},
      {"\"level\": \"T12\", ", ""},
      {"\"bone_quality\": \"mixed\"", "\"bone_quality\": \"sclerotic\""},
      {"\"side\": \"both\"", "\"side\": \"middle\""},
      {"\"vertebra\": 0", "\"vertebra\": 5"},
      {"\"z_mm\": 5", "\"z_mm\": \"5\""}};
    const std::vector<std::string> named = {"\"schema\"", "\"seed\"", "\"vertebrae[0].level\" is missing",
                                            "vertebrae[0]: unknown bone quality \"sclerotic\"",
                                            "\"vertebrae[0].side\"", "\"slices[0].vertebra\"", "\"slices[1].z_mm\""};
    for (size_t i = 0; i < edits.size(); ++i)
    {
      std::string text = TRUTH;
      const size_t at = text.find(edits[i].first);
      ASSERT_NE(at, std::string::npos) << edits[i].first;
      text.replace(at, edits[i].first.size(), edits[i].second);
      const std::string message = errorMessage([&] { parsePhantomTruth(text, "gt.json"); }, "ground-truth");
      EXPECT_NE(message.find(named[i]), std::string::npos) << message;
      EXPECT_NE(message.find("gt.json"), std::string::npos) << message;
    }
  }
}
