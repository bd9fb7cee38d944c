// SPDX-License-Identifier: GPL-3.0-or-later
#include "StudyFiles.h"

#include "common/AnalysisError.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <algorithm>
#include <filesystem>
#include <map>

namespace spinemet
{
  namespace
  {
    struct Identity
    {
      std::string sopClassUid;
      std::string seriesInstanceUid;
      std::string patientId;
    };

    // Reads the header only: parsing stops at Study ID (0020,0010), after SOP Class UID,
    // Patient ID and Series Instance UID (0020,000E), before any pixel data.
    bool readIdentity(const std::string& path, Identity& identity)
    {
      DcmFileFormat file;
      if (file.loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect,
                                DCM_StudyID).bad())
      {
        return false;
      }
      DcmDataset* dataset = file.getDataset();
      OFString value;
      if (dataset == nullptr || dataset->findAndGetOFString(DCM_SOPClassUID, value).bad())
      {
        return false;
      }
      identity.sopClassUid = value.c_str();
      identity.seriesInstanceUid = dataset->findAndGetOFString(DCM_SeriesInstanceUID, value).good() ? value.c_str() : "";
      identity.patientId = dataset->findAndGetOFString(DCM_PatientID, value).good() ? value.c_str() : "";
      return true;
    }
  }

  StudyFiles findStudyFiles(const std::string& folder)
  {
    namespace fs = std::filesystem;
    std::vector<std::string> paths;
    std::error_code error;
    for (fs::recursive_directory_iterator it(folder, error), end; !error && it != end; it.increment(error))
    {
      if (it->is_regular_file() && it->path().filename().string().front() != '.')
      {
        paths.push_back(it->path().string());
      }
    }
    if (error)
    {
      throw AnalysisError("prep-study", "cannot list " + folder + ": " + error.message());
    }
    std::sort(paths.begin(), paths.end());

    StudyFiles files;
    std::map<std::string, std::vector<std::string>> ctSeries;   // series UID -> files
    std::map<std::string, std::string> patientOfSeries;
    std::vector<std::string> segFiles;
    for (const std::string& path : paths)
    {
      Identity identity;
      if (!readIdentity(path, identity))
      {
        files.ignored.push_back(path);
      }
      else if (identity.sopClassUid == UID_CTImageStorage)
      {
        ctSeries[identity.seriesInstanceUid].push_back(path);
        patientOfSeries[identity.seriesInstanceUid] = identity.patientId;
      }
      else if (identity.sopClassUid == UID_SegmentationStorage)
      {
        segFiles.push_back(path);
      }
      else
      {
        files.ignored.push_back(path);
      }
    }
    if (ctSeries.size() != 1)
    {
      throw AnalysisError("prep-study", folder + ": " + std::to_string(ctSeries.size()) +
                                          " CT series found (CT Image Storage), expected exactly one");
    }
    if (segFiles.size() != 1)
    {
      throw AnalysisError("prep-study", folder + ": " + std::to_string(segFiles.size()) +
                                          " DICOM SEG objects found, expected exactly one (one segment per vertebra)");
    }
    files.ctFiles = ctSeries.begin()->second;
    files.patientId = patientOfSeries.begin()->second;
    files.segFile = segFiles.front();
    return files;
  }
}
