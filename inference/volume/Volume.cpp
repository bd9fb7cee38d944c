// SPDX-License-Identifier: GPL-3.0-or-later
#include "volume/Volume.h"

#include <stdexcept>

namespace spinemet
{
  Volume::Volume(VolumeGeometry geometry, std::vector<std::vector<int16_t>> slices) :
    geometry_(geometry),
    slices_(std::move(slices))
  {
    if (slices_.size() != geometry_.slices)
    {
      throw std::invalid_argument("Volume: slice count does not match its geometry");
    }
    for (const auto& slice : slices_)
    {
      if (slice.size() != geometry_.columns * geometry_.rows)
      {
        throw std::invalid_argument("Volume: a slice does not have columns x rows values");
      }
    }
  }

  Vector3 Volume::toPatient(double column, double row, double sliceIndex) const
  {
    const VolumeGeometry& g = geometry_;
    Vector3 p;
    for (int axis = 0; axis < 3; ++axis)
    {
      p[axis] = g.origin[axis] +
                column * g.columnSpacing * g.rowDirection[axis] +
                row * g.rowSpacing * g.columnDirection[axis] +
                sliceIndex * g.sliceSpacing * g.sliceDirection[axis];
    }
    return p;
  }
}
