// SPDX-License-Identifier: GPL-3.0-or-later
// Which vertebrae carry sacral alae (docs/spine.md, "Levels"): at S1 bone runs without a break
// from the body's side out to the sacroiliac joints, level with the back half of the body. A
// lumbar vertebra has soft tissue there (the psoas); its transverse processes leave behind the
// body, and the iliac crests beside L5 lie apart from it.

#include "spine/Spine.h"
#include "spine/SliceAnalysis.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace spinemet
{
  namespace
  {
    // Where an ala is looked for: the rows from the body's centre to its posterior wall, out to
    // this distance from the body's centre (an L5 body is at most ~30 mm wide each side; the
    // sacral alae reach the sacroiliac joints 45-60 mm out).
    constexpr double ALA_REACH_MM = 45;
    // Bone along the row: the mean of three pixels at least this dense (osteopenic alae are
    // sparse), with breaks of at most this length (noise, a vascular foramen).
    constexpr double ALA_HU = 120;
    constexpr double ALA_BREAK_MM = 3;
    // A vertebra carries alae when both sides show one on at least this share of its slices
    // (the alae span most of S1's height; at 5 mm slices S1 may show only three slices).
    constexpr double ALA_SLICE_SHARE = 0.35;
  }

  void findSacrum(const Volume& volume, SpineLayout& layout)
  {
    const VolumeGeometry& geometry = volume.geometry();
    const spine_detail::SliceGrid grid = spine_detail::makeSliceGrid(geometry);
    layout.levelEvidence.resize(layout.vertebrae.size());
    const long maximumBreak = std::max(1L, std::lround(ALA_BREAK_MM / grid.columnMm));

    // How far bone runs out from the body's centre along one row, towards one side (mm).
    auto boneRun = [&](const int16_t* hu, long row, double centreColumn, double side, double limitMm)
    {
      const long steps = std::lround(limitMm / grid.columnMm);
      long lastBone = 0;
      for (long step = 0; step <= steps; ++step)
      {
        const long column = std::lround(centreColumn + side * static_cast<double>(step));
        if (column < 1 || column + 1 >= static_cast<long>(grid.columns))
        {
          break;
        }
        const size_t at = static_cast<size_t>(row) * grid.columns + static_cast<size_t>(column);
        const double mean = (hu[at - 1] + hu[at] + hu[at + 1]) / 3.0;
        if (mean >= ALA_HU)
        {
          lastBone = step;
        }
        else if (step - lastBone > maximumBreak)
        {
          break;
        }
      }
      return static_cast<double>(lastBone) * grid.columnMm;
    };

    for (size_t v = 0; v < layout.vertebrae.size(); ++v)
    {
      const Vertebra& vertebra = layout.vertebrae[v];
      size_t slices = 0;
      size_t withAlae = 0;
      for (size_t s = vertebra.firstSlice; s <= vertebra.lastSlice && s < layout.slices.size(); ++s)
      {
        const SliceSpine& spine = layout.slices[s];
        if (!spine.vertebraPresent)
        {
          continue;
        }
        ++slices;
        const PixelBox& body = spine.vertebralBody;
        const double centreColumn = (body.column0 + body.column1) / 2;
        const double centreRow = (body.row0 + body.row1) / 2;
        const double halfDepthRows = (body.row1 - body.row0) / 2;
        const int16_t* hu = volume.slice(s);
        bool left = false;
        bool right = false;
        for (long offset = 0; offset <= std::lround(halfDepthRows); ++offset)
        {
          const long row = std::lround(centreRow + grid.posteriorRowSign * static_cast<double>(offset));
          if (row < 0 || row >= static_cast<long>(grid.rows))
          {
            continue;
          }
          left = left || boneRun(hu, row, centreColumn, 1, ALA_REACH_MM + 5) >= ALA_REACH_MM;
          right = right || boneRun(hu, row, centreColumn, -1, ALA_REACH_MM + 5) >= ALA_REACH_MM;
        }
        withAlae += left && right ? 1 : 0;
      }
      layout.levelEvidence[v].alae =
        slices > 0 && static_cast<double>(withAlae) >= ALA_SLICE_SHARE * static_cast<double>(slices);
    }
  }
}
