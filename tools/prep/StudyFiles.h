// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The files of a real study folder (the TCIA Spine-Mets-CT-SEG layout: case / study / series
// folders): one CT series and one vertebra SEG, told apart by their SOP Class.

#include <string>
#include <vector>

namespace spinemet
{
  struct StudyFiles
  {
    std::vector<std::string> ctFiles;        // CT Image Storage, one series
    std::string segFile;                     // Segmentation Storage
    std::string patientId;                   // of the CT: the labels table's case id
    std::vector<std::string> ignored;        // other DICOM objects and non-DICOM files, for warnings
  };

  // Searches `folder` recursively. Throws AnalysisError("prep-study") when there is not exactly
  // one CT series and one SEG.
  StudyFiles findStudyFiles(const std::string& folder);
}
