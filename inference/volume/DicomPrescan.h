// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Internal to spinemet_volume: a walk over the bytes of a DICOM file before DCMTK parses it.
// DCMTK's reader recurses once per nested sequence (a file nested a few thousand deep overflows
// the stack) and allocates an element's declared length before finding that the file ends
// sooner (a 1 KB file can ask for 4 GB). The walk is a loop over the bytes with an explicit
// stack, so it cannot overflow, and it only reads.

#include <cstddef>
#include <string>

namespace spinemet
{
  struct PrescanLimits
  {
    size_t maximumSequenceDepth = 64;      // far beyond any image object (an SR tree is ~20)
    size_t maximumInflatedBytes = 0;       // a deflated dataset may not inflate beyond this
  };

  // Throws AnalysisError "nesting-too-deep" when sequences nest deeper than the limit,
  // "unreadable-file" when an element declares more bytes than the file holds, and
  // "memory-budget" when a deflated dataset inflates beyond the limit; `name` names the file.
  // Whatever the walk cannot follow (an unknown transfer syntax, a malformed header) is left to
  // DCMTK, which reports it: the walk never rejects what it does not understand.
  void prescanDicom(const std::string& bytes, const std::string& name, const PrescanLimits& limits);
}
