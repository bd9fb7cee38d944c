// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace spinemet
{
  // Where the DICOM instances of one series come from: files on disk (command-line tools) or
  // buffers handed over by Orthanc (the plugin). The loader sees nothing else, so both routes
  // produce the same volume.
  class SliceSource
  {
  public:
    virtual ~SliceSource() = default;

    virtual size_t count() const = 0;

    // How to name instance `index` in a message: a path, an Orthanc instance ID.
    virtual std::string describe(size_t index) const = 0;

    // The DICOM Part 10 bytes of instance `index`.
    virtual std::string read(size_t index) const = 0;
  };

  // Every file given, and the DICOM files in the folders given (not recursive), in lexicographic
  // path order. In a folder, a DICOM file is a regular file with the PS3.10 prefix (preamble and
  // "DICM"): notes, JSON and thumbnails beside the images are left out, while a file named
  // explicitly is always read (and reported if it is not DICOM). Files named DICOMDIR are media
  // indexes, not instances, and are left out. A path that does not exist is
  // AnalysisError("missing-input").
  class FileSliceSource : public SliceSource
  {
  public:
    explicit FileSliceSource(const std::vector<std::string>& filesOrFolders);

    size_t count() const override { return paths_.size(); }
    std::string describe(size_t index) const override { return paths_[index]; }
    std::string read(size_t index) const override;

  private:
    std::vector<std::string> paths_;
  };

  // DICOM instances already in memory, each with the name that messages use for it.
  class MemorySliceSource : public SliceSource
  {
  public:
    void add(std::string name, std::string bytes);

    size_t count() const override { return instances_.size(); }
    std::string describe(size_t index) const override { return instances_[index].name; }
    std::string read(size_t index) const override { return instances_[index].bytes; }

  private:
    struct Instance
    {
      std::string name;
      std::string bytes;
    };
    std::vector<Instance> instances_;
  };
}
