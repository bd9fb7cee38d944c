// SPDX-License-Identifier: GPL-3.0-or-later
#include "volume/SliceSource.h"

#include "common/AnalysisError.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

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

    // Closes a POSIX file descriptor when it goes out of scope.
    class OpenFile
    {
    public:
      explicit OpenFile(const std::string& path) : descriptor_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
      ~OpenFile()
      {
        if (descriptor_ >= 0)
        {
          ::close(descriptor_);
        }
      }
      OpenFile(const OpenFile&) = delete;
      OpenFile& operator=(const OpenFile&) = delete;

      int descriptor() const { return descriptor_; }

    private:
      int descriptor_;
    };

    AnalysisError unreadable(const std::string& path, const std::string& what, int error)
    {
      return AnalysisError("unreadable-file", "Cannot " + what + " " + path + ": " + std::strerror(error));
    }

    // Reads up to `wanted` bytes (fewer at the end of the file). A read error is reported, not
    // taken for the end of the file: a slice that cannot be read is a missing slice.
    size_t readSome(int descriptor, char* buffer, size_t wanted, const std::string& path)
    {
      size_t done = 0;
      while (done < wanted)
      {
        const ssize_t count = ::read(descriptor, buffer + done, wanted - done);
        if (count < 0 && errno == EINTR)
        {
          continue;
        }
        if (count < 0)
        {
          throw unreadable(path, "read", errno);
        }
        if (count == 0)
        {
          break;
        }
        done += static_cast<size_t>(count);
      }
      return done;
    }

    // A DICOM file (PS3.10) has a 128-byte preamble and then "DICM".
    bool hasDicomPrefix(const std::string& path)
    {
      const OpenFile file(path);
      if (file.descriptor() < 0)
      {
        throw unreadable(path, "open", errno);
      }
      char prefix[132];
      return readSome(file.descriptor(), prefix, sizeof(prefix), path) == sizeof(prefix) &&
             std::memcmp(prefix + 128, "DICM", 4) == 0;
    }

    // The DICOM files of a folder. An entry that cannot be followed (a symbolic link loop, a link
    // to nothing) or read is reported: it may well be a slice of the series.
    std::vector<std::string> dicomFilesIn(const std::string& folder)
    {
      namespace fs = std::filesystem;
      std::vector<std::string> files;
      std::error_code error;
      fs::directory_iterator entries(folder, error);
      if (error)
      {
        throw AnalysisError("unreadable-file", "Cannot list the folder " + folder + ": " + error.message());
      }
      for (; entries != fs::directory_iterator(); entries.increment(error))
      {
        if (error)
        {
          throw AnalysisError("unreadable-file", "Cannot list the folder " + folder + ": " + error.message());
        }
        const fs::path& path = entries->path();
        const fs::file_status status = entries->status(error);
        if (error)
        {
          throw AnalysisError("unreadable-file", path.string() + " in the series folder cannot be followed (" +
                                                 error.message() + ")");
        }
        if (fs::is_regular_file(status) && !isDicomDirectory(path) && hasDicomPrefix(path.string()))
        {
          files.push_back(path.string());
        }
      }
      std::sort(files.begin(), files.end());
      return files;
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
        const std::vector<std::string> inFolder = dicomFilesIn(input);
        paths_.insert(paths_.end(), inFolder.begin(), inFolder.end());
      }
      else if (!fs::is_regular_file(status))
      {
        // A pipe or a device: reading it could block for ever or never end.
        throw AnalysisError("unreadable-file", input + " is not a regular file (a pipe, a socket or a device)");
      }
      else if (!isDicomDirectory(input))
      {
        paths_.push_back(input);
      }
    }
  }

  std::string FileSliceSource::read(size_t index) const
  {
    const std::string& path = paths_.at(index);
    const OpenFile file(path);
    if (file.descriptor() < 0)
    {
      throw unreadable(path, "open", errno);
    }
    struct stat information{};
    if (::fstat(file.descriptor(), &information) != 0)
    {
      throw unreadable(path, "read", errno);
    }
    if (!S_ISREG(information.st_mode))
    {
      throw AnalysisError("unreadable-file", path + " is not a regular file (a pipe, a socket or a device)");
    }
    std::string bytes;
    bytes.reserve(static_cast<size_t>(information.st_size));
    char chunk[1 << 16];
    while (true)
    {
      const size_t count = readSome(file.descriptor(), chunk, sizeof(chunk), path);
      bytes.append(chunk, count);
      if (count < sizeof(chunk))
      {
        return bytes;
      }
    }
  }

  void MemorySliceSource::add(std::string name, std::string bytes)
  {
    instances_.push_back({std::move(name), std::move(bytes)});
  }
}
