// SPDX-License-Identifier: GPL-3.0-or-later
#include "SyntheticSeries.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <stdexcept>

namespace spinemet::test
{
  namespace
  {
    void check(const OFCondition& condition, const std::string& what)
    {
      if (condition.bad())
      {
        throw std::runtime_error(what + ": " + condition.text());
      }
    }

    std::string newUid()
    {
      char uid[100];
      return dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT);
    }

    std::string decimals(std::initializer_list<double> values)
    {
      std::ostringstream text;
      text.precision(10);
      bool first = true;
      for (double value : values)
      {
        text << (first ? "" : "\\") << value;
        first = false;
      }
      return text.str();
    }

    Vector3 cross(const Vector3& a, const Vector3& b)
    {
      return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
    }
  }

  int16_t expectedHu(const SeriesSpec& spec, size_t column, size_t row, size_t slice)
  {
    const double x = (column + 0.5) / spec.columns - 0.5;
    const double y = (row + 0.5) / spec.rows - 0.5;
    if (x * x / 0.2 + y * y / 0.16 > 1)
    {
      return -1000;
    }
    const double bx = x - 0.05;
    const double by = y - 0.15 + 0.005 * slice;
    if (bx * bx + by * by < 0.01)
    {
      return static_cast<int16_t>(700 + 20 * slice);
    }
    return static_cast<int16_t>(std::lround(40 + 60 * std::sin(12 * x + 0.3 * slice) + 40 * std::cos(9 * y)));
  }

  int32_t storedValue(const SeriesSpec& spec, int16_t hu)
  {
    return static_cast<int32_t>(std::lround((hu - spec.intercept) / spec.slope));
  }

  void setStoredPixels(DcmFileFormat& file, const SeriesSpec& spec, const std::vector<int32_t>& stored)
  {
    DcmDataset& dataset = *file.getDataset();
    if (spec.bitsAllocated == 8)
    {
      std::vector<Uint8> bytes(stored.begin(), stored.end());
      check(dataset.putAndInsertUint8Array(DCM_PixelData, bytes.data(), bytes.size()), "pixel data");
    }
    else
    {
      std::vector<Uint16> words(stored.size());
      for (size_t i = 0; i < stored.size(); ++i)
      {
        words[i] = static_cast<Uint16>(stored[i]);
      }
      check(dataset.putAndInsertUint16Array(DCM_PixelData, words.data(), words.size()), "pixel data");
    }
  }

  Datasets makeSeries(const SeriesSpec& spec)
  {
    const std::string studyUid = newUid();
    const std::string seriesUid = newUid();
    const std::string frameOfReferenceUid = newUid();
    const Vector3 normal = cross(spec.rowDirection, spec.columnDirection);
    const Vector3 stack = spec.stackDirection == Vector3{0, 0, 0} ? normal : spec.stackDirection;

    Datasets files;
    for (size_t slice = 0; slice < spec.slices; ++slice)
    {
      auto file = std::make_unique<DcmFileFormat>();
      DcmDataset& d = *file->getDataset();
      auto put = [&](const DcmTagKey& key, const std::string& value)
      {
        check(d.putAndInsertString(key, value.c_str()), DcmTag(key).getTagName());
      };
      put(DCM_SpecificCharacterSet, "ISO_IR 100");
      put(DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL");
      put(DCM_SOPClassUID, UID_CTImageStorage);
      put(DCM_SOPInstanceUID, newUid());
      put(DCM_StudyDate, "20240131");
      put(DCM_StudyTime, "101500");
      put(DCM_AccessionNumber, "ACC42");
      put(DCM_Modality, "CT");
      put(DCM_Manufacturer, "SpineMet tests");
      put(DCM_ReferringPhysicianName, "Referrer^Ray");
      put(DCM_StudyDescription, "Synthetic spine CT");
      put(DCM_SeriesDescription, "Axial 2.5 mm");
      put(DCM_PatientName, "Synthetic^Patient");
      put(DCM_PatientID, "SYN-001");
      put(DCM_PatientBirthDate, "19600101");
      put(DCM_PatientSex, "F");
      put(DCM_BodyPartExamined, "SPINE");
      put(DCM_SliceThickness, decimals({spec.sliceThickness}));
      put(DCM_StudyInstanceUID, studyUid);
      put(DCM_SeriesInstanceUID, seriesUid);
      put(DCM_StudyID, "S1");
      put(DCM_SeriesNumber, "3");
      put(DCM_InstanceNumber, std::to_string(slice + 1));
      const double offset = slice * spec.sliceSpacing;
      put(DCM_ImagePositionPatient, decimals({spec.origin[0] + offset * stack[0], spec.origin[1] + offset * stack[1],
                                              spec.origin[2] + offset * stack[2]}));
      put(DCM_ImageOrientationPatient,
          decimals({spec.rowDirection[0], spec.rowDirection[1], spec.rowDirection[2], spec.columnDirection[0],
                    spec.columnDirection[1], spec.columnDirection[2]}));
      put(DCM_FrameOfReferenceUID, frameOfReferenceUid);
      put(DCM_PositionReferenceIndicator, "");
      put(DCM_PhotometricInterpretation, spec.photometric);
      put(DCM_PixelSpacing, decimals({spec.rowSpacing, spec.columnSpacing}));
      put(DCM_RescaleIntercept, decimals({spec.intercept}));
      put(DCM_RescaleSlope, decimals({spec.slope}));
      put(DCM_RescaleType, "HU");
      put(DCM_KVP, "120");
      put(DCM_AcquisitionNumber, "1");
      check(d.putAndInsertUint16(DCM_SamplesPerPixel, 1), "SamplesPerPixel");
      check(d.putAndInsertUint16(DCM_Rows, static_cast<Uint16>(spec.rows)), "Rows");
      check(d.putAndInsertUint16(DCM_Columns, static_cast<Uint16>(spec.columns)), "Columns");
      check(d.putAndInsertUint16(DCM_BitsAllocated, static_cast<Uint16>(spec.bitsAllocated)), "BitsAllocated");
      check(d.putAndInsertUint16(DCM_BitsStored, static_cast<Uint16>(spec.bitsStored)), "BitsStored");
      check(d.putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(spec.bitsStored - 1)), "HighBit");
      check(d.putAndInsertUint16(DCM_PixelRepresentation, spec.signedPixels ? 1 : 0), "PixelRepresentation");

      std::vector<int32_t> stored(spec.rows * spec.columns);
      for (size_t row = 0; row < spec.rows; ++row)
      {
        for (size_t column = 0; column < spec.columns; ++column)
        {
          stored[row * spec.columns + column] = storedValue(spec, expectedHu(spec, column, row, slice));
        }
      }
      setStoredPixels(*file, spec, stored);
      files.push_back(std::move(file));
    }
    return files;
  }

  std::string toBytes(DcmFileFormat& file, E_TransferSyntax syntax)
  {
    TemporaryFolder folder;
    const std::filesystem::path path = folder.path() / "instance.dcm";
    check(file.saveFile(path.c_str(), syntax), "writing " + path.string());
    return readFile(path);
  }

  MemorySliceSource toSource(Datasets& files)
  {
    MemorySliceSource source;
    for (size_t i = 0; i < files.size(); ++i)
    {
      source.add("slice-" + std::to_string(i) + ".dcm", toBytes(*files[i]));
    }
    return source;
  }

  TemporaryFolder::TemporaryFolder()
  {
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() /
            ("spinemet-volume-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(path_);
  }

  TemporaryFolder::~TemporaryFolder()
  {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  std::vector<std::string> writeSeries(Datasets& files, const std::filesystem::path& folder,
                                       E_TransferSyntax syntax)
  {
    std::vector<std::string> paths;
    for (size_t i = 0; i < files.size(); ++i)
    {
      const std::filesystem::path path = folder / ("slice-" + std::to_string(i) + ".dcm");
      check(files[i]->saveFile(path.c_str(), syntax), "writing " + path.string());
      paths.push_back(path.string());
    }
    return paths;
  }

  void encapsulate(DcmFileFormat& file, E_TransferSyntax syntax, const std::string& codestream)
  {
    DcmDataset& dataset = *file.getDataset();
    DcmElement* element = nullptr;
    check(dataset.findAndGetElement(DCM_PixelData, element), "pixel data");
    DcmPixelData* pixelData = dynamic_cast<DcmPixelData*>(element);
    if (pixelData == nullptr)
    {
      throw std::runtime_error("no pixel data to encapsulate");
    }
    auto* fragments = new DcmPixelSequence(DCM_PixelSequenceTag);
    fragments->insert(new DcmPixelItem(DCM_PixelItemTag));   // empty Basic Offset Table
    DcmOffsetList offsets;
    std::vector<Uint8> bytes(codestream.begin(), codestream.end());
    check(fragments->storeCompressedFrame(offsets, bytes.data(), static_cast<Uint32>(bytes.size()), 0),
          "storing the frame");
    pixelData->putOriginalRepresentation(syntax, nullptr, fragments);
  }

  int runCommand(const std::string& command, std::string* output)
  {
    std::string captured;
    FILE* pipe = popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr)
    {
      throw std::runtime_error("cannot run " + command);
    }
    std::array<char, 4096> buffer;
    size_t count;
    while ((count = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    {
      captured.append(buffer.data(), count);
    }
    const int status = pclose(pipe);
    if (output != nullptr)
    {
      *output = captured;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string readFile(const std::filesystem::path& path)
  {
    std::ifstream stream(path, std::ios::binary);
    if (!stream)
    {
      throw std::runtime_error("cannot open " + path.string());
    }
    return std::string((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
  }

  std::filesystem::path testDataFolder()
  {
    return SPINEMET_TESTDATA_DIR;
  }
}
