// SPDX-License-Identifier: GPL-3.0-or-later
#include "volume/SliceSource.h"

#include "common/AnalysisError.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace spinemet
{
  namespace
  {
    bool isDicomDirectory(const std::filesystem::path& path)
    {
      std::string name = path.filename().string();
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      return name == "DICOMDIR";
    }

    // A DICOM file (PS3.10) has a 128-byte preamble and then "DICM".
    bool hasDicomPrefix(const std::filesystem::path& path)
    {
      std::ifstream stream(path, std::ios::binary);
      char prefix[132];
      return stream.read(prefix, sizeof(prefix)) && std::string(prefix + 128, 4) == "DICM";
    }
  }

  FileSliceSource::FileSliceSource(const std::vector<std::string>& filesOrFolders)
  {
    namespace fs = std::filesystem;
    for (const std::string& input : filesOrFolders)
    {
      std::error_code error;
      const fs::file_status status = fs::status(input, error);
      if (error || !fs::exists(status))
      {
        throw AnalysisError("missing-input", "No such file or folder: " + input);
      }
      if (fs::is_directory(status))
      {
        std::vector<std::string> inFolder;
        for (const fs::directory_entry& entry : fs::directory_iterator(input))
        {
          if (entry.is_regular_file() && !isDicomDirectory(entry.path()) && hasDicomPrefix(entry.path()))
          {
            inFolder.push_back(entry.path().string());
          }
        }
        std::sort(inFolder.begin(), inFolder.end());
        paths_.insert(paths_.end(), inFolder.begin(), inFolder.end());
      }
      else if (fs::is_regular_file(status) && !isDicomDirectory(input))
      {
        paths_.push_back(input);
      }
    }
  }

  std::string FileSliceSource::read(size_t index) const
  {
    const std::string& path = paths_.at(index);
    std::ifstream stream(path, std::ios::binary);
    if (!stream)
    {
      throw AnalysisError("unreadable-file", "Cannot open " + path);
    }
    std::string bytes((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
    if (stream.bad())
    {
      throw AnalysisError("unreadable-file", "Cannot read " + path);
    }
    return bytes;
  }

  void MemorySliceSource::add(std::string name, std::string bytes)
  {
    instances_.push_back({std::move(name), std::move(bytes)});
  }
}
