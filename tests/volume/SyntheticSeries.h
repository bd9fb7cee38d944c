// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Small clean CT series built with DCMTK in memory, which the tests then break one defect at a
// time, write in other transfer syntaxes, or hand to the loader.

#include "volume/SliceSource.h"
#include "volume/Volume.h"

#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace spinemet::test
{
  struct SeriesSpec
  {
    size_t columns = 64;
    size_t rows = 48;
    size_t slices = 12;
    double rowSpacing = 0.8;         // Pixel Spacing[0]
    double columnSpacing = 0.7;      // Pixel Spacing[1]
    double sliceSpacing = 2.5;
    double sliceThickness = 2.5;
    Vector3 origin{-22.4, -16.8, -100};
    Vector3 rowDirection{1, 0, 0};
    Vector3 columnDirection{0, 1, 0};
    Vector3 stackDirection{0, 0, 0}; // (0,0,0): along the normal
    double slope = 1;
    double intercept = -1024;
    bool signedPixels = false;
    unsigned bitsAllocated = 16;
    unsigned bitsStored = 12;
    std::string photometric = "MONOCHROME2";
  };

  // The HU of voxel (column, row, slice) of the series `spec` describes: a body-like ellipse of
  // soft tissue with a smooth pattern and a bone disc, air around it; slice index in stacking order.
  int16_t expectedHu(const SeriesSpec& spec, size_t column, size_t row, size_t slice);

  // The stored pixel value that gives `hu` through the spec's rescale.
  int32_t storedValue(const SeriesSpec& spec, int16_t hu);

  using Datasets = std::vector<std::unique_ptr<DcmFileFormat>>;

  // One CT Image Storage instance per slice, in stacking order, instance numbers 1..n.
  Datasets makeSeries(const SeriesSpec& spec);

  // Replaces the pixels of `file` with `stored` values (rows x columns of them).
  void setStoredPixels(DcmFileFormat& file, const SeriesSpec& spec, const std::vector<int32_t>& stored);

  std::string toBytes(DcmFileFormat& file, E_TransferSyntax syntax = EXS_LittleEndianExplicit);

  // Names the instances "slice-<index>.dcm" (index in the given order).
  MemorySliceSource toSource(Datasets& files);

  // A folder under the system temporary folder, removed with everything in it on destruction.
  class TemporaryFolder
  {
  public:
    TemporaryFolder();
    ~TemporaryFolder();
    TemporaryFolder(const TemporaryFolder&) = delete;
    TemporaryFolder& operator=(const TemporaryFolder&) = delete;

    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
  };

  // Writes "slice-<index>.dcm" files into `folder`; returns their paths.
  std::vector<std::string> writeSeries(Datasets& files, const std::filesystem::path& folder,
                                       E_TransferSyntax syntax = EXS_LittleEndianExplicit);

  // Replaces the native pixel data by one encapsulated frame (`codestream`) in `syntax`.
  void encapsulate(DcmFileFormat& file, E_TransferSyntax syntax, const std::string& codestream);

  // Runs a shell command; returns its exit status and fills `output` with stdout and stderr.
  int runCommand(const std::string& command, std::string* output = nullptr);

  std::string readFile(const std::filesystem::path& path);

  // Where the shared test data lives (../shared/testdata beside the repository).
  std::filesystem::path testDataFolder();
}
