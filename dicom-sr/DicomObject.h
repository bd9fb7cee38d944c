// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// What the SR and overlay writers hand back: one DICOM Part 10 file in memory, with the UIDs a
// caller needs to file it (Orthanc upload, --dicom-out folder, storescu).

#include <string>

namespace spinemet
{
  struct DicomObject
  {
    std::string sopClassUid;
    std::string sopInstanceUid;
    std::string seriesInstanceUid;
    std::string studyInstanceUid;
    std::string bytes;               // Part 10: preamble, "DICM", meta header, dataset

    // Writes `bytes` to `path`; throws AnalysisError("dicom-write") naming the path.
    void save(const std::string& path) const;
  };

  // Options shared by both writers.
  struct DicomOutputOptions
  {
    std::string seriesInstanceUid;   // empty: a new one
    int seriesNumber = 0;            // 0: the writer's default (SR 9901, overlays 9902)
  };

  // A new UID under 2.25 (ITU-T X.667): from a random UUID, or derived from a text so that the
  // same text always gives the same UID (Tracking Unique Identifiers, device UIDs).
  std::string newUid();
  std::string uidFromText(const std::string& text);
}
