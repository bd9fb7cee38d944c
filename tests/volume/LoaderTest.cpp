// SPDX-License-Identifier: GPL-3.0-or-later
// A clean series becomes the expected volume, whatever the order of its files, the encoding of its
// pixels (signed, unsigned, masked bits, padding, rescale) and the route it comes by.
#include "SyntheticSeries.h"

#include "volume/SeriesLoader.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>

namespace spinemet::test
{
  namespace
  {
    void expectVolume(const SeriesSpec& spec, const Volume& volume)
    {
      ASSERT_EQ(volume.columns(), spec.columns);
      ASSERT_EQ(volume.rows(), spec.rows);
      ASSERT_EQ(volume.sliceCount(), spec.slices);
      for (size_t s = 0; s < spec.slices; ++s)
      {
        for (size_t r = 0; r < spec.rows; ++r)
        {
          for (size_t c = 0; c < spec.columns; ++c)
          {
            ASSERT_EQ(volume.at(c, r, s), expectedHu(spec, c, r, s)) << "voxel " << c << "," << r << "," << s;
          }
        }
      }
    }

    bool sameVolume(const Volume& a, const Volume& b)
    {
      if (a.columns() != b.columns() || a.rows() != b.rows() || a.sliceCount() != b.sliceCount())
      {
        return false;
      }
      const size_t pixels = a.columns() * a.rows();
      for (size_t s = 0; s < a.sliceCount(); ++s)
      {
        if (!std::equal(a.slice(s), a.slice(s) + pixels, b.slice(s)))
        {
          return false;
        }
      }
      return true;
    }
  }

  TEST(Loader, CleanSeriesInShuffledOrderWithReversedInstanceNumbers)
  {
    SeriesSpec spec;
    Datasets files = makeSeries(spec);
    std::vector<std::string> uids;
    for (size_t i = 0; i < files.size(); ++i)
    {
      OFString uid;
      files[i]->getDataset()->findAndGetOFString(DCM_SOPInstanceUID, uid);
      uids.push_back(uid.c_str());
      // Instance Number must not decide the order.
      files[i]->getDataset()->putAndInsertString(DCM_InstanceNumber, std::to_string(100 - i).c_str());
    }
    std::mt19937 random(7);
    std::vector<size_t> order(files.size());
    for (size_t i = 0; i < order.size(); ++i)
    {
      order[i] = i;
    }
    std::shuffle(order.begin(), order.end(), random);
    Datasets shuffled;
    for (size_t i : order)
    {
      shuffled.push_back(std::move(files[i]));
    }

    std::vector<std::pair<size_t, size_t>> progress;
    const Series series = loadSeries(toSource(shuffled), {},
                                     [&](size_t done, size_t total) { progress.emplace_back(done, total); });

    expectVolume(spec, series.volume);
    EXPECT_TRUE(series.warnings.empty());
    ASSERT_EQ(progress.size(), spec.slices);
    EXPECT_EQ(progress.back(), std::make_pair(spec.slices, spec.slices));

    const VolumeGeometry& g = series.volume.geometry();
    EXPECT_DOUBLE_EQ(g.columnSpacing, 0.7);
    EXPECT_DOUBLE_EQ(g.rowSpacing, 0.8);
    EXPECT_NEAR(g.sliceSpacing, 2.5, 1e-9);
    EXPECT_DOUBLE_EQ(g.sliceThickness, 2.5);
    EXPECT_NEAR(g.origin[2], -100, 1e-9);
    EXPECT_EQ(g.sliceDirection, (Vector3{0, 0, 1}));
    const Vector3 corner = series.volume.toPatient(spec.columns - 1, spec.rows - 1, spec.slices - 1);
    EXPECT_NEAR(corner[0], -22.4 + 0.7 * (spec.columns - 1), 1e-9);
    EXPECT_NEAR(corner[1], -16.8 + 0.8 * (spec.rows - 1), 1e-9);
    EXPECT_NEAR(corner[2], -100 + 2.5 * (spec.slices - 1), 1e-9);

    ASSERT_EQ(series.slices.size(), spec.slices);
    for (size_t s = 0; s < spec.slices; ++s)
    {
      EXPECT_EQ(series.slices[s].sopInstanceUid, uids[s]);
      EXPECT_EQ(series.slices[s].sopClassUid, UID_CTImageStorage);
      EXPECT_NEAR(series.slices[s].position, -100 + 2.5 * s, 1e-9);
      EXPECT_EQ(series.slices[s].instanceNumber, static_cast<int>(100 - s));
    }

    const SeriesAttributes& a = series.attributes;
    EXPECT_EQ(a.patientName, "Synthetic^Patient");
    EXPECT_EQ(a.patientId, "SYN-001");
    EXPECT_EQ(a.patientBirthDate, "19600101");
    EXPECT_EQ(a.patientSex, "F");
    EXPECT_FALSE(a.studyInstanceUid.empty());
    EXPECT_EQ(a.studyDate, "20240131");
    EXPECT_EQ(a.studyTime, "101500");
    EXPECT_EQ(a.studyId, "S1");
    EXPECT_EQ(a.accessionNumber, "ACC42");
    EXPECT_EQ(a.referringPhysicianName, "Referrer^Ray");
    EXPECT_EQ(a.studyDescription, "Synthetic spine CT");
    EXPECT_FALSE(a.seriesInstanceUid.empty());
    EXPECT_EQ(a.seriesNumber, "3");
    EXPECT_EQ(a.seriesDescription, "Axial 2.5 mm");
    EXPECT_EQ(a.modality, "CT");
    EXPECT_EQ(a.bodyPartExamined, "SPINE");
    EXPECT_FALSE(a.frameOfReferenceUid.empty());
    EXPECT_EQ(a.manufacturer, "SpineMet tests");
    EXPECT_EQ(a.specificCharacterSet, "ISO_IR 100");
  }

  TEST(Loader, FeetFirstSeriesIsOrderedAlongItsOwnNormal)
  {
    SeriesSpec spec;
    spec.rowDirection = {-1, 0, 0};       // feet first supine: the normal points to the feet
    spec.origin = {22.4, -16.8, -100};
    Datasets files = makeSeries(spec);
    const Series series = loadSeries(toSource(files));
    EXPECT_EQ(series.volume.geometry().sliceDirection, (Vector3{0, 0, -1}));
    expectVolume(spec, series.volume);
    EXPECT_NEAR(series.volume.geometry().origin[2], -100, 1e-9);
  }

  TEST(Loader, SignedPixelsWithoutIntercept)
  {
    SeriesSpec spec;
    spec.signedPixels = true;
    spec.bitsStored = 16;
    spec.intercept = 0;
    Datasets files = makeSeries(spec);
    expectVolume(spec, loadSeries(toSource(files)).volume);
  }

  TEST(Loader, HighBitsAboveBitsStoredAreIgnoredAndSignExtended)
  {
    SeriesSpec spec;
    spec.signedPixels = true;
    spec.bitsStored = 12;
    spec.intercept = 0;
    Datasets files = makeSeries(spec);
    for (size_t s = 0; s < files.size(); ++s)
    {
      std::vector<int32_t> stored(spec.rows * spec.columns);
      for (size_t r = 0; r < spec.rows; ++r)
      {
        for (size_t c = 0; c < spec.columns; ++c)
        {
          // 12-bit two's complement with junk (an overlay, say) in the 4 unused bits.
          const int32_t value = storedValue(spec, expectedHu(spec, c, r, s));
          stored[r * spec.columns + c] = (value & 0x0fff) | 0xa000;
        }
      }
      setStoredPixels(*files[s], spec, stored);
    }
    expectVolume(spec, loadSeries(toSource(files)).volume);
  }

  TEST(Loader, RescaleIsRoundedAndClamped)
  {
    SeriesSpec spec;
    spec.slope = 0.5;
    spec.intercept = -1024.25;
    spec.bitsStored = 16;
    Datasets files = makeSeries(spec);
    std::vector<int32_t> stored(spec.rows * spec.columns, 2000);   // 2000 * 0.5 - 1024.25 = -24.25
    stored[1] = 65535;                                              // 32767.5 - 1024.25 = 31743.25
    setStoredPixels(*files[0], spec, stored);
    files[1]->getDataset()->putAndInsertString(DCM_RescaleSlope, "2");
    files[1]->getDataset()->putAndInsertString(DCM_RescaleIntercept, "0");
    stored.assign(stored.size(), 20000);                            // 40000: beyond int16
    setStoredPixels(*files[1], spec, stored);
    const Series series = loadSeries(toSource(files));
    EXPECT_EQ(series.volume.at(0, 0, 0), -24);
    EXPECT_EQ(series.volume.at(1, 0, 0), 31743);
    EXPECT_EQ(series.volume.at(5, 5, 1), 32767);
  }

  TEST(Loader, PaddingValueAndRangeBecomeAir)
  {
    SeriesSpec spec;
    spec.signedPixels = true;
    spec.bitsStored = 16;
    spec.intercept = 0;
    spec.slope = 1;
    Datasets files = makeSeries(spec);
    for (auto& file : files)
    {
      // Written as US as an encoder unaware of the pixel representation would: the loader reads
      // the 16 bits as signed because the pixels are.
      file->getDataset()->putAndInsertUint16(DCM_PixelPaddingValue, static_cast<Uint16>(-3000));
    }
    std::vector<int32_t> stored(spec.rows * spec.columns, 100);
    stored[0] = -3000;
    stored[1] = -2999;
    setStoredPixels(*files[0], spec, stored);
    files[1]->getDataset()->putAndInsertSint16(DCM_PixelPaddingRangeLimit, -2000);
    std::vector<int32_t> ranged(spec.rows * spec.columns, 100);
    ranged[0] = -2500;
    ranged[1] = -1999;
    setStoredPixels(*files[1], spec, ranged);

    LoadOptions options;
    const Series series = loadSeries(toSource(files), options);
    EXPECT_EQ(series.volume.at(0, 0, 0), options.paddingHu);
    EXPECT_EQ(series.volume.at(1, 0, 0), -2999);
    EXPECT_EQ(series.volume.at(0, 0, 1), options.paddingHu);
    EXPECT_EQ(series.volume.at(1, 0, 1), -1999);
    EXPECT_EQ(series.volume.at(5, 0, 1), 100);
  }

  TEST(Loader, EightBitPixels)
  {
    SeriesSpec spec;
    spec.bitsAllocated = 8;
    spec.bitsStored = 8;
    spec.slope = 10;
    spec.intercept = -1000;
    Datasets files = makeSeries(spec);
    const Series series = loadSeries(toSource(files));
    for (size_t r = 0; r < spec.rows; ++r)
    {
      for (size_t c = 0; c < spec.columns; ++c)
      {
        const int expected = storedValue(spec, expectedHu(spec, c, r, 3)) * 10 - 1000;
        ASSERT_EQ(series.volume.at(c, r, 3), expected);
      }
    }
  }

  TEST(Loader, Monochrome1IsReadWithAWarning)
  {
    SeriesSpec spec;
    spec.photometric = "MONOCHROME1";
    Datasets files = makeSeries(spec);
    const Series series = loadSeries(toSource(files));
    expectVolume(spec, series.volume);
    ASSERT_EQ(series.warnings.size(), 1u);
    EXPECT_NE(series.warnings[0].find("MONOCHROME1"), std::string::npos);
  }

  TEST(Loader, FileAndMemorySourcesGiveTheSameVolume)
  {
    SeriesSpec spec;
    Datasets files = makeSeries(spec);
    TemporaryFolder folder;
    writeSeries(files, folder.path());
    std::filesystem::create_directory(folder.path() / "subfolder");     // not recursed into
    std::ofstream(folder.path() / "subfolder" / "stray.dcm") << "not DICOM";
    std::ofstream(folder.path() / "DICOMDIR") << "a media index, skipped by name";
    std::ofstream(folder.path() / "ground_truth.json") << "{}";             // not DICOM: left out

    const FileSliceSource fromFolder({folder.path().string()});
    EXPECT_EQ(fromFolder.count(), spec.slices);
    const Series fromFiles = loadSeries(fromFolder);
    const Series fromMemory = loadSeries(toSource(files));
    EXPECT_TRUE(sameVolume(fromFiles.volume, fromMemory.volume));
    EXPECT_EQ(fromFiles.volume.geometry().origin, fromMemory.volume.geometry().origin);
    expectVolume(spec, fromFiles.volume);

    const FileSliceSource fromTwoFiles({(folder.path() / "slice-0.dcm").string(),
                                        (folder.path() / "slice-1.dcm").string()});
    EXPECT_EQ(fromTwoFiles.count(), 2u);

    // Named explicitly, a file that is not DICOM is read, and reported by name.
    std::vector<std::string> named;
    for (size_t i = 0; i < spec.slices; ++i)
    {
      named.push_back((folder.path() / ("slice-" + std::to_string(i) + ".dcm")).string());
    }
    named.push_back((folder.path() / "ground_truth.json").string());
    try
    {
      loadSeries(FileSliceSource(named));
      FAIL() << "accepted a JSON file as a slice";
    }
    catch (const AnalysisError& error)
    {
      EXPECT_EQ(error.code(), "unreadable-file");
      EXPECT_NE(std::string(error.what()).find("ground_truth.json"), std::string::npos) << error.what();
    }
  }

  TEST(Loader, MissingInputIsNamed)
  {
    try
    {
      FileSliceSource source({"/nonexistent/spinemet/series"});
      FAIL() << "no error";
    }
    catch (const AnalysisError& error)
    {
      EXPECT_EQ(error.code(), "missing-input");
      EXPECT_NE(std::string(error.what()).find("/nonexistent/spinemet/series"), std::string::npos);
    }
  }

  TEST(Loader, FullSizeMatrix)
  {
    // 512 x 512 x 60 keeps the test quick; the benchmark measures 512 x 512 x 300.
    SeriesSpec spec;
    spec.columns = 512;
    spec.rows = 512;
    spec.slices = 60;
    spec.rowSpacing = spec.columnSpacing = 0.7;
    Datasets files = makeSeries(spec);
    MemorySliceSource source = toSource(files);
    files.clear();
    const Series series = loadSeries(source);
    expectVolume(spec, series.volume);
  }
}
