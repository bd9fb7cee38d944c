// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// DCMTK plumbing shared by the SR and overlay writers (internal: not installed with the public
// headers).

#include "volume/Volume.h"

#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/ofstd/ofcond.h>

#include <string>

namespace spinemet
{
  namespace dicom
  {
    // Throws AnalysisError(code, what + DCMTK's reason) when `condition` is bad.
    void check(const OFCondition& condition, const std::string& what, const char* code = "dicom-write");

    // Sets a string attribute, naming the tag in the error when DCMTK refuses the value.
    void put(DcmItem& item, const DcmTagKey& tag, const std::string& value);

    // The whole file (meta header included) as Part 10 bytes, explicit VR little endian.
    std::string toPart10(DcmFileFormat& file);

    // Parses Part 10 bytes; throws AnalysisError(errorCode) when they are not DICOM.
    void fromPart10(const std::string& bytes, DcmFileFormat& file, const char* errorCode);

    // Patient and General Study modules of the source series.
    void copyPatientAndStudy(const SeriesAttributes& source, DcmItem& target);

    // Current local date (YYYYMMDD) and time (HHMMSS).
    std::string currentDate();
    std::string currentTime();
  }
}
