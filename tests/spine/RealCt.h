// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The real CT series of ../shared/testdata read one file at a time into single-slice volumes.
// The series loader rightly refuses both series as a whole (gaps, a duplicate; gantry tilt), so
// the spine tests read the files themselves to look at the anatomy.

#include "volume/Volume.h"

#include <string>
#include <vector>

namespace spinemet
{
  namespace test
  {
    std::string realCtFolder(const std::string& name);   // absolute path under ../shared/testdata/real-ct

    // One Hounsfield-unit volume of one slice, geometry from the file's Image Plane module.
    Volume readSingleSliceVolume(const std::string& path);

    // Every file of the folder, each as its own volume, sorted by position along the normal.
    std::vector<Volume> readSingleSliceVolumes(const std::string& folder);

    // The files of the folder stacked in order of position along the normal, with the median
    // spacing: only for series whose gaps do not matter to the question asked (a head CT that
    // must show no spine).
    Volume readStackedVolume(const std::string& folder);
  }
}
