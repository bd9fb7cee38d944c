// SPDX-License-Identifier: GPL-3.0-or-later
// Every defect of a series, made from a clean one by editing its datasets with DCMTK: each is
// either repaired with a warning or rejected with its own code and a message naming the culprit.
#include "SyntheticSeries.h"

#include "volume/SeriesLoader.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <gtest/gtest.h>

namespace spinemet::test
{
  namespace
  {
    struct Rejection
    {
      std::string code;
      std::string message;
    };

    Rejection rejectionOf(Datasets& files, const LoadOptions& options = {})
    {
      try
      {
        loadSeries(toSource(files), options);
      }
      catch (const AnalysisError& error)
      {
        return {error.code(), error.what()};
      }
      ADD_FAILURE() << "the series was accepted";
      return {};
    }

    Rejection rejectionOf(const SliceSource& source)
    {
      try
      {
        loadSeries(source);
      }
      catch (const AnalysisError& error)
      {
        return {error.code(), error.what()};
      }
      ADD_FAILURE() << "the series was accepted";
      return {};
    }

    DcmDataset& dataset(Datasets& files, size_t index)
    {
      return *files.at(index)->getDataset();
    }

    void put(Datasets& files, size_t index, const DcmTagKey& key, const std::string& value)
    {
      ASSERT_TRUE(dataset(files, index).putAndInsertString(key, value.c_str()).good());
    }

    std::string get(Datasets& files, size_t index, const DcmTagKey& key)
    {
      OFString value;
      dataset(files, index).findAndGetOFStringArray(key, value);
      return value.c_str();
    }

    bool contains(const std::string& text, const std::string& part)
    {
      return text.find(part) != std::string::npos;
    }
  }

  TEST(Geometry, MixedOrientation)
  {
    Datasets files = makeSeries({});
    put(files, 4, DCM_ImageOrientationPatient, "1\\0\\0\\0\\0.9961947\\0.0871557");   // 5 degrees
    const Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "mixed-orientation");
    EXPECT_TRUE(contains(r.message, "slice-4.dcm")) << r.message;
    EXPECT_TRUE(contains(r.message, "Image Orientation (Patient) (0020,0037)")) << r.message;
  }

  TEST(Geometry, SagittalSeriesIsNotAxial)
  {
    SeriesSpec spec;
    spec.rowDirection = {0, 1, 0};
    spec.columnDirection = {0, 0, -1};
    Datasets files = makeSeries(spec);
    const Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "not-axial");
    EXPECT_TRUE(contains(r.message, "90 degrees")) << r.message;
    EXPECT_TRUE(contains(r.message, "is sagittal")) << r.message;
  }

  TEST(Geometry, SagittalOrientationOverAxialPositionsIsNamedSagittalNotDuplicate)
  {
    // Positions stepping along z, as an axial series has them, under a sagittal orientation:
    // measured along the sagittal normal every slice is at one position. The plane is named.
    SeriesSpec spec;
    spec.rowDirection = {0, 1, 0};
    spec.columnDirection = {0, 0, -1};
    spec.stackDirection = {0, 0, 1};
    Datasets files = makeSeries(spec);
    const Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "not-axial");
    EXPECT_TRUE(contains(r.message, "is sagittal")) << r.message;
    EXPECT_FALSE(contains(r.message, "share a position")) << r.message;
  }

  TEST(Geometry, SlightlyObliqueSeriesWithinToleranceIsAccepted)
  {
    SeriesSpec spec;
    spec.columnDirection = {0, 0.9986295, -0.0523360};   // 3 degrees, stacked along its normal
    Datasets files = makeSeries(spec);
    EXPECT_NO_THROW(loadSeries(toSource(files)));
    LoadOptions strict;
    strict.axialToleranceDegrees = 2;
    EXPECT_EQ(rejectionOf(files, strict).code, "not-axial");
  }

  TEST(Geometry, GantryTiltShearsTheStack)
  {
    // What a tilted gantry writes: images tilted by 15 degrees, positions moving along the table.
    SeriesSpec spec;
    spec.columnDirection = {0, 0.9659258, -0.2588190};
    spec.stackDirection = {0, 0, 1};
    Datasets files = makeSeries(spec);
    for (size_t i = 0; i < files.size(); ++i)
    {
      put(files, i, DCM_GantryDetectorTilt, "15");
    }
    const Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "gantry-tilt");
    EXPECT_TRUE(contains(r.message, "15 degrees off")) << r.message;
    EXPECT_TRUE(contains(r.message, "Gantry/Detector Tilt (0018,1120) is 15")) << r.message;
    EXPECT_FALSE(contains(r.message, "not axial")) << r.message;
  }

  TEST(Geometry, GantryTiltIsFoundFromPositionsAlone)
  {
    SeriesSpec spec;
    spec.stackDirection = {0, 0.2588190, 0.9659258};   // axial images, positions drifting in y
    Datasets files = makeSeries(spec);
    EXPECT_EQ(rejectionOf(files).code, "gantry-tilt");
  }

  TEST(Geometry, RecordedTiltOfAStraightStackIsOnlyAWarning)
  {
    Datasets files = makeSeries({});
    for (size_t i = 0; i < files.size(); ++i)
    {
      put(files, i, DCM_GantryDetectorTilt, "12");
    }
    const Series series = loadSeries(toSource(files));
    ASSERT_EQ(series.warnings.size(), 1u);
    EXPECT_TRUE(contains(series.warnings[0], "Gantry/Detector Tilt (0018,1120) is 12")) << series.warnings[0];
  }

  TEST(Geometry, TwoDifferentImagesAtOnePositionAreRejected)
  {
    Datasets files = makeSeries({});
    put(files, 7, DCM_ImagePositionPatient, get(files, 6, DCM_ImagePositionPatient));
    const Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "duplicate-position");
    EXPECT_TRUE(contains(r.message, "slice-6.dcm and slice-7.dcm at -85 mm")) << r.message;
  }

  TEST(Geometry, IdenticalImageUnderANewUidIsRemoved)
  {
    SeriesSpec spec;
    Datasets files = makeSeries(spec);
    Datasets extra = makeSeries(spec);
    extra[3]->getDataset()->putAndInsertString(DCM_SeriesInstanceUID, get(files, 0, DCM_SeriesInstanceUID).c_str());
    extra[3]->getDataset()->putAndInsertString(DCM_StudyInstanceUID, get(files, 0, DCM_StudyInstanceUID).c_str());
    extra[3]->getDataset()->putAndInsertString(DCM_FrameOfReferenceUID,
                                               get(files, 0, DCM_FrameOfReferenceUID).c_str());
    files.push_back(std::move(extra[3]));
    const Series series = loadSeries(toSource(files));
    EXPECT_EQ(series.volume.sliceCount(), spec.slices);
    ASSERT_EQ(series.warnings.size(), 1u);
    EXPECT_TRUE(contains(series.warnings[0], "identical pixel data")) << series.warnings[0];
    EXPECT_TRUE(contains(series.warnings[0], "-92.5 mm")) << series.warnings[0];
  }

  TEST(Geometry, SameInstanceTwiceIsRemoved)
  {
    SeriesSpec spec;
    Datasets files = makeSeries(spec);
    MemorySliceSource source = toSource(files);
    source.add("copy-of-slice-5.dcm", toBytes(*files[5]));
    const Series series = loadSeries(source);
    EXPECT_EQ(series.volume.sliceCount(), spec.slices);
    ASSERT_EQ(series.warnings.size(), 1u);
    EXPECT_TRUE(contains(series.warnings[0], "same SOP Instance UID")) << series.warnings[0];
  }

  TEST(Geometry, SameUidAtTwoPositionsIsRejected)
  {
    Datasets files = makeSeries({});
    put(files, 8, DCM_SOPInstanceUID, get(files, 2, DCM_SOPInstanceUID));
    EXPECT_EQ(rejectionOf(files).code, "duplicate-sop-instance-uid");
  }

  TEST(Geometry, MissingSliceIsAGap)
  {
    Datasets files = makeSeries({});
    files.erase(files.begin() + 5);
    const Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "slice-gap");
    EXPECT_TRUE(contains(r.message, "5 mm between slice-4.dcm at -90 mm and slice-5.dcm at -85 mm")) << r.message;
    EXPECT_TRUE(contains(r.message, "median spacing is 2.5 mm")) << r.message;
  }

  TEST(Geometry, ExtraSliceInBetweenIsIrregularSpacing)
  {
    SeriesSpec spec;
    Datasets files = makeSeries(spec);
    Datasets extra = makeSeries(spec);
    for (const DcmTagKey& key : {DCM_SeriesInstanceUID, DCM_StudyInstanceUID, DCM_FrameOfReferenceUID})
    {
      extra[0]->getDataset()->putAndInsertString(key, get(files, 0, key).c_str());
    }
    extra[0]->getDataset()->putAndInsertString(DCM_ImagePositionPatient, "-22.4\\-16.8\\-88.75");
    files.push_back(std::move(extra[0]));   // halfway between -90 and -87.5
    const Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "irregular-spacing");
    EXPECT_TRUE(contains(r.message, "1.25 mm between slice-4.dcm at -90 mm and slice-12.dcm at -88.75 mm"))
      << r.message;
  }

  TEST(Geometry, SmallJitterWithinToleranceIsAccepted)
  {
    Datasets files = makeSeries({});
    put(files, 5, DCM_ImagePositionPatient, "-22.4\\-16.8\\-87.45");   // 0.05 mm off
    EXPECT_NO_THROW(loadSeries(toSource(files)));
  }

  TEST(Geometry, InconsistentMatrix)
  {
    SeriesSpec spec;
    Datasets files = makeSeries(spec);
    SeriesSpec smaller = spec;
    smaller.rows = 40;
    ASSERT_TRUE(dataset(files, 3).putAndInsertUint16(DCM_Rows, 40).good());
    setStoredPixels(*files[3], smaller, std::vector<int32_t>(smaller.rows * smaller.columns, 1024));
    const Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "inconsistent-matrix");
    EXPECT_TRUE(contains(r.message, "64x40 and 64x48")) << r.message;
  }

  TEST(Geometry, InconsistentPixelSpacing)
  {
    Datasets files = makeSeries({});
    put(files, 9, DCM_PixelSpacing, "0.8\\0.75");
    const Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "inconsistent-pixel-spacing");
    EXPECT_TRUE(contains(r.message, "slice-9.dcm")) << r.message;
  }

  TEST(Geometry, LocalizerIsDroppedWithAWarning)
  {
    SeriesSpec spec;
    Datasets files = makeSeries(spec);
    SeriesSpec scout = spec;
    scout.rows = 32;
    scout.rowDirection = {1, 0, 0};
    scout.columnDirection = {0, 0, -1};
    scout.slices = 1;
    Datasets localizer = makeSeries(scout);
    DcmDataset& l = *localizer[0]->getDataset();
    l.putAndInsertString(DCM_ImageType, "ORIGINAL\\PRIMARY\\LOCALIZER");
    for (const DcmTagKey& key : {DCM_SeriesInstanceUID, DCM_StudyInstanceUID, DCM_FrameOfReferenceUID})
    {
      l.putAndInsertString(key, get(files, 0, key).c_str());
    }
    files.insert(files.begin() + 2, std::move(localizer[0]));

    const Series series = loadSeries(toSource(files));
    EXPECT_EQ(series.volume.sliceCount(), spec.slices);
    ASSERT_EQ(series.warnings.size(), 1u);
    EXPECT_TRUE(contains(series.warnings[0], "localizer")) << series.warnings[0];
    EXPECT_TRUE(contains(series.warnings[0], "slice-2.dcm")) << series.warnings[0];

    LoadOptions keep;
    keep.dropLocalizers = false;
    const Rejection r = rejectionOf(files, keep);
    EXPECT_EQ(r.code, "localizer-mixed");
    EXPECT_TRUE(contains(r.message, "slice-2.dcm")) << r.message;
  }

  TEST(Geometry, LocalizersOnly)
  {
    Datasets files = makeSeries({});
    for (size_t i = 0; i < files.size(); ++i)
    {
      put(files, i, DCM_ImageType, "ORIGINAL\\PRIMARY\\LOCALIZER");
    }
    EXPECT_EQ(rejectionOf(files).code, "localizer-only");
  }

  TEST(Geometry, DerivedImagesMixedIn)
  {
    Datasets files = makeSeries({});
    put(files, 6, DCM_ImageType, "DERIVED\\SECONDARY\\AXIAL");
    const Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "mixed-image-types");
    EXPECT_TRUE(contains(r.message, "DERIVED\\SECONDARY\\AXIAL")) << r.message;
    EXPECT_TRUE(contains(r.message, "slice-6.dcm")) << r.message;
  }

  TEST(Geometry, AllDerivedSeriesIsAcceptedWithAWarning)
  {
    Datasets files = makeSeries({});
    for (size_t i = 0; i < files.size(); ++i)
    {
      put(files, i, DCM_ImageType, "DERIVED\\PRIMARY\\AXIAL");
    }
    const Series series = loadSeries(toSource(files));
    ASSERT_EQ(series.warnings.size(), 1u);
    EXPECT_TRUE(contains(series.warnings[0], "DERIVED")) << series.warnings[0];
  }

  TEST(Geometry, MultiFrameObject)
  {
    Datasets files = makeSeries({});
    put(files, 0, DCM_NumberOfFrames, "2");
    Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "multi-frame");
    EXPECT_TRUE(contains(r.message, "slice-0.dcm")) << r.message;

    Datasets enhanced = makeSeries({});
    put(enhanced, 1, DCM_SOPClassUID, UID_EnhancedCTImageStorage);
    r = rejectionOf(enhanced);
    EXPECT_EQ(r.code, "multi-frame");
    EXPECT_TRUE(contains(r.message, "EnhancedCTImageStorage")) << r.message;
  }

  TEST(Geometry, MissingPositionNamesTagAndFile)
  {
    Datasets files = makeSeries({});
    dataset(files, 3).findAndDeleteElement(DCM_ImagePositionPatient);
    const Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "missing-tag");
    EXPECT_TRUE(contains(r.message, "slice-3.dcm has no ImagePositionPatient (0020,0032)")) << r.message;
  }

  TEST(Geometry, MissingRescaleSlope)
  {
    Datasets files = makeSeries({});
    dataset(files, 2).findAndDeleteElement(DCM_RescaleSlope);
    const Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "missing-tag");
    EXPECT_TRUE(contains(r.message, "RescaleSlope (0028,1053)")) << r.message;
  }

  TEST(Geometry, MissingPixelData)
  {
    Datasets files = makeSeries({});
    dataset(files, 2).findAndDeleteElement(DCM_PixelData);
    const Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "missing-tag");
    EXPECT_TRUE(contains(r.message, "PixelData (7fe0,0010)")) << r.message;
  }

  TEST(Geometry, MalformedOrientation)
  {
    Datasets files = makeSeries({});
    put(files, 1, DCM_ImageOrientationPatient, "1\\0\\0\\0\\1");
    Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "invalid-tag");
    EXPECT_TRUE(contains(r.message, "5 values instead of 6")) << r.message;

    put(files, 1, DCM_ImageOrientationPatient, "1\\0\\0\\1\\0\\0");
    r = rejectionOf(files);
    EXPECT_EQ(r.code, "invalid-tag");
    EXPECT_TRUE(contains(r.message, "orthogonal")) << r.message;
  }

  TEST(Geometry, NotCt)
  {
    Datasets files = makeSeries({});
    put(files, 5, DCM_Modality, "MR");
    const Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "not-ct");
    EXPECT_TRUE(contains(r.message, "slice-5.dcm is a MR image")) << r.message;
  }

  TEST(Geometry, SecondaryCaptureIsNotACtImage)
  {
    Datasets files = makeSeries({});
    put(files, 0, DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
    const Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "unsupported-sop-class");
    EXPECT_TRUE(contains(r.message, "SecondaryCaptureImageStorage")) << r.message;
  }

  TEST(Geometry, TooFewSlices)
  {
    SeriesSpec spec;
    spec.slices = 2;
    Datasets files = makeSeries(spec);
    const Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "too-few-slices");
    EXPECT_TRUE(contains(r.message, "2 usable slice(s)")) << r.message;
  }

  TEST(Geometry, MixedSeries)
  {
    Datasets files = makeSeries({});
    put(files, 10, DCM_SeriesInstanceUID, "1.2.3.4.5");
    const Rejection r = rejectionOf(files);
    EXPECT_EQ(r.code, "mixed-series");
    EXPECT_TRUE(contains(r.message, "slice-10.dcm and slice-0.dcm")) << r.message;
  }

  TEST(Geometry, MixedFrameOfReference)
  {
    Datasets files = makeSeries({});
    put(files, 10, DCM_FrameOfReferenceUID, "1.2.3.4.6");
    EXPECT_EQ(rejectionOf(files).code, "mixed-frame-of-reference");
  }

  TEST(Geometry, UnreadableFileIsNamed)
  {
    Datasets files = makeSeries({});
    MemorySliceSource source = toSource(files);
    source.add("notes.txt", "This folder holds the CT of patient X.\n");
    Rejection r = rejectionOf(source);
    EXPECT_EQ(r.code, "unreadable-file");
    EXPECT_TRUE(contains(r.message, "notes.txt")) << r.message;

    MemorySliceSource truncated = toSource(files);
    const std::string bytes = toBytes(*files[0]);
    truncated.add("truncated.dcm", bytes.substr(0, bytes.size() - 100));   // cut inside the pixel data
    r = rejectionOf(truncated);
    EXPECT_EQ(r.code, "unreadable-file");
    EXPECT_TRUE(contains(r.message, "truncated.dcm")) << r.message;
  }

  TEST(Geometry, UnsupportedTransferSyntaxIsNamed)
  {
    Datasets files = makeSeries({});
    encapsulate(*files[4], EXS_MPEG2MainProfileAtMainLevel, std::string(100, '\x42'));
    MemorySliceSource source;
    for (size_t i = 0; i < files.size(); ++i)
    {
      source.add("slice-" + std::to_string(i) + ".dcm",
                 toBytes(*files[i], i == 4 ? EXS_MPEG2MainProfileAtMainLevel : EXS_LittleEndianExplicit));
    }
    const Rejection r = rejectionOf(source);
    EXPECT_EQ(r.code, "unsupported-transfer-syntax");
    EXPECT_TRUE(contains(r.message, "slice-4.dcm")) << r.message;
    EXPECT_TRUE(contains(r.message, "MPEG2")) << r.message;
    EXPECT_TRUE(contains(r.message, "1.2.840.10008.1.2.4.100")) << r.message;
  }

  TEST(Geometry, HighThroughputJpeg2000IsNamed)
  {
    // DCMTK 3.6.7 cannot write a syntax it does not know: write JPEG 2000, then relabel the file
    // meta information as HTJ2K (1.2.840.10008.1.2.4.201) byte by byte.
    Datasets files = makeSeries({});
    encapsulate(*files[4], EXS_JPEG2000LosslessOnly, std::string(100, '\x42'));
    std::string bytes = toBytes(*files[4], EXS_JPEG2000LosslessOnly);
    const std::string j2k = UID_JPEG2000LosslessOnlyTransferSyntax;   // 22 characters, no padding
    const std::string htj2k = std::string("1.2.840.10008.1.2.4.201") + '\0';
    const size_t at = bytes.find(j2k);
    ASSERT_NE(at, std::string::npos);
    ASSERT_EQ(static_cast<unsigned char>(bytes[at - 2]), j2k.size());
    bytes[at - 2] = static_cast<char>(htj2k.size());
    bytes.replace(at, j2k.size(), htj2k);
    bytes[140] = static_cast<char>(static_cast<unsigned char>(bytes[140]) + 2);   // group length (0002,0000)

    files.erase(files.begin() + 4);
    MemorySliceSource source = toSource(files);
    source.add("htj2k.dcm", bytes);
    const Rejection r = rejectionOf(source);
    EXPECT_EQ(r.code, "unsupported-transfer-syntax");
    EXPECT_TRUE(contains(r.message, "htj2k.dcm is encoded in High-Throughput JPEG 2000 (Lossless Only) "
                                    "(1.2.840.10008.1.2.4.201)")) << r.message;
  }

  TEST(Geometry, CorruptJpeg2000IsBrokenPixelData)
  {
    Datasets files = makeSeries({});
    encapsulate(*files[4], EXS_JPEG2000LosslessOnly, std::string("\xff\x4f\xff\x51 garbage"));
    MemorySliceSource source;
    for (size_t i = 0; i < files.size(); ++i)
    {
      source.add("slice-" + std::to_string(i) + ".dcm",
                 toBytes(*files[i], i == 4 ? EXS_JPEG2000LosslessOnly : EXS_LittleEndianExplicit));
    }
    const Rejection r = rejectionOf(source);
    EXPECT_EQ(r.code, "broken-pixel-data");
    EXPECT_TRUE(contains(r.message, "slice-4.dcm")) << r.message;
  }

  TEST(Geometry, MixedThicknessIsReportedAsAWarning)
  {
    Datasets files = makeSeries({});
    put(files, 0, DCM_SliceThickness, "5");
    const Series series = loadSeries(toSource(files));
    ASSERT_EQ(series.warnings.size(), 1u);
    EXPECT_TRUE(contains(series.warnings[0], "2.5 mm (11 slices)")) << series.warnings[0];
    EXPECT_TRUE(contains(series.warnings[0], "5 mm (1 slices)")) << series.warnings[0];
    EXPECT_DOUBLE_EQ(series.volume.geometry().sliceThickness, 5);
  }

  TEST(Geometry, SeveralProblemsAreAllListed)
  {
    Datasets files = makeSeries({});
    put(files, 7, DCM_ImagePositionPatient, get(files, 6, DCM_ImagePositionPatient));
    files.erase(files.begin() + 2);
    try
    {
      loadSeries(toSource(files));
      FAIL() << "accepted";
    }
    catch (const SeriesRejected& rejected)
    {
      ASSERT_EQ(rejected.problems().size(), 2u);
      EXPECT_EQ(rejected.code(), "duplicate-position");
      EXPECT_EQ(rejected.problems()[1].code, "slice-gap");
      EXPECT_TRUE(contains(rejected.what(), "Also: 2 gap(s)")) << rejected.what();
    }
  }
}
