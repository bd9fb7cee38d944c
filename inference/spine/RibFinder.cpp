// SPDX-License-Identifier: GPL-3.0-or-later
// Which vertebrae bear ribs (docs/spine.md, "Levels"): on each side, the bone lateral to the
// column, posterior arcs only, split into 3-D connected pieces; a piece is a rib when it leaves
// the column's side (the costotransverse joint), reaches well beyond any transverse process, and
// is thin and short along z (not the iliac wing, the scapula, the table).

#include "spine/Spine.h"
#include "spine/SliceAnalysis.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace spinemet
{
  namespace
  {
    // The column's own bone (body, pedicles, transverse processes of the thoracic spine) lies
    // within this lateral distance of the body's centre; the rib leaves it at the
    // costotransverse joint.
    constexpr double COLUMN_HALF_WIDTH_MM = 40;
    // How far out a piece is followed, and the band beside the column where a rib must start.
    constexpr double OUTER_LATERAL_MM = 120;
    constexpr double MEDIAL_BAND_MM = 6;
    // Lumbar transverse processes end 40-55 mm from the midline; ribs go on round the chest.
    constexpr double RIB_REACH_MM = 62;
    constexpr double TURNING_RIB_REACH_MM = 50;
    // Posterior arcs: from just in front of the body's centre (the aorta lies further forward)
    // to the back.
    constexpr double FRONT_MM = -5;
    constexpr double BACK_MM = 75;
    constexpr double RIB_HU = 200;
    // A rib's posterior arc is 6-15 mm thick from front to back at any lateral position and
    // spans at most about 60 mm of z; an iliac wing or a scapula is thicker or longer.
    // The lower ribs slope steeply: their posterior arcs span up to about 90 mm of z.
    constexpr double MAXIMUM_THICKNESS_MM = 20;
    constexpr double MAXIMUM_Z_EXTENT_MM = 100;
    // Fragments (a transverse process's tip, a thin sliver of a scapula, partial volume) are
    // smaller or thinner than the shortest rib's arc.
    constexpr double MINIMUM_VOLUME_MM3 = 800;
    constexpr double MINIMUM_THICKNESS_MM = 4;
    // Beside the column a rib lies at the level of the disc above its vertebra, or lower where
    // it slopes: it is looked up this far caudal.
    constexpr double HEAD_SHIFT_MM = 10;
    // A rib crosses the band beside the column within about 10 mm of z; crossings of one piece
    // further apart than this are two ribs joined further out.
    constexpr double SEPARATE_CROSSINGS_MM = 8;
    // Beside a vertebra found, a rib is looked up within this distance of its head.
    constexpr double ASSIGNMENT_TOLERANCE_MM = 6;
    // How far below the column's caudal end the ribs are followed: the lower ribs' posterior
    // arcs fall 20-35 mm from the column to 120 mm out (the real CTs' pieces span 20-50 mm of
    // z), and the column's last body can end a disc or more short of its true lower end.
    constexpr double CAUDAL_EXTENSION_MM = 30;

    struct Piece
    {
      size_t voxels = 0;
      double minimumLateralMm = 1e9;
      double frontMostMm = 1e9;    // front to back, from the body's centre
      double maximumLateralMm = 0;
      size_t firstSlice = SIZE_MAX;
      size_t lastSlice = 0;
      double medialZSum = 0;       // slice index sums of the voxels in the medial band
      size_t medialVoxels = 0;
      std::vector<uint16_t> thickness;   // rows per (slice, lateral step), gathered below
    };
  }


  void findRibs(const Volume& volume, SpineLayout& layout)
  {
    const VolumeGeometry& geometry = volume.geometry();
    const spine_detail::SliceGrid grid = spine_detail::makeSliceGrid(geometry);
    const size_t n = volume.sliceCount();
    size_t first = n;
    size_t last = 0;
    for (size_t s = 0; s < n && s < layout.slices.size(); ++s)
    {
      if (layout.slices[s].onColumn)
      {
        first = std::min(first, s);
        last = std::max(last, s);
      }
    }
    layout.levelEvidence.resize(layout.vertebrae.size());
    if (first > last || layout.vertebrae.empty())
    {
      return;
    }
    const double sliceMm = geometry.sliceSpacing > 0 ? geometry.sliceSpacing : 1.0;
    // The step along slice indices towards the feet.
    const double caudalSign = geometry.sliceDirection[2] >= 0 ? -1 : 1;
    // The grid runs on beyond the column's caudal end, beside the end slice's body: the ribs
    // slope down from where they leave the column, and the column can end short of its last
    // body (an osteopenic or cut body whose lower slices the finder did not keep).
    const size_t columnFirst = first;
    const size_t columnLast = last;
    const size_t extension = static_cast<size_t>(std::lround(CAUDAL_EXTENSION_MM / sliceMm));
    if (caudalSign < 0)
    {
      first = first > extension ? first - extension : 0;
    }
    else
    {
      last = std::min(n - 1, last + extension);
    }
    const size_t depth = last - first + 1;
    const size_t lateralSteps = static_cast<size_t>(std::ceil((OUTER_LATERAL_MM - COLUMN_HALF_WIDTH_MM) / grid.columnMm));
    const size_t apSteps = static_cast<size_t>(std::ceil((BACK_MM - FRONT_MM) / grid.rowMm));
    // +1: columns run towards the patient's left (LPS +x).
    const double leftColumnSign = geometry.rowDirection[0] >= 0 ? 1 : -1;

    for (int side = 0; side < 2; ++side)
    {
      const double columnSign = side == 0 ? leftColumnSign : -leftColumnSign;   // 0 left, 1 right
      // The side's grid follows the column: (slice, lateral step, front-to-back step).
      std::vector<uint8_t> bone(depth * lateralSteps * apSteps, 0);
      auto at = [&](size_t z, size_t lateral, size_t ap) { return (z * lateralSteps + lateral) * apSteps + ap; };
      for (size_t z = 0; z < depth; ++z)
      {
        const size_t s = first + z;
        const PixelBox& body = layout.slices[std::clamp(s, columnFirst, columnLast)].vertebralBody;
        const double centreColumn = (body.column0 + body.column1) / 2;
        const double centreRow = (body.row0 + body.row1) / 2;
        const int16_t* hu = volume.slice(s);
        for (size_t lateral = 0; lateral < lateralSteps; ++lateral)
        {
          const double lateralMm = COLUMN_HALF_WIDTH_MM + static_cast<double>(lateral) * grid.columnMm;
          const long column = std::lround(centreColumn + columnSign * lateralMm / grid.columnMm);
          if (column < 0 || column >= static_cast<long>(grid.columns))
          {
            continue;
          }
          for (size_t ap = 0; ap < apSteps; ++ap)
          {
            const double apMm = FRONT_MM + static_cast<double>(ap) * grid.rowMm;
            const long row = std::lround(centreRow + grid.posteriorRowSign * apMm / grid.rowMm);
            if (row < 0 || row >= static_cast<long>(grid.rows))
            {
              continue;
            }
            bone[at(z, lateral, ap)] = hu[static_cast<size_t>(row) * grid.columns + static_cast<size_t>(column)] >= RIB_HU;
          }
        }
      }

      // 6-connected pieces, flood fill.
      std::vector<int32_t> label(bone.size(), 0);
      std::vector<size_t> stack;
      int32_t pieces = 0;
      for (size_t start = 0; start < bone.size(); ++start)
      {
        if (!bone[start] || label[start] != 0)
        {
          continue;
        }
        ++pieces;
        Piece piece;
        std::vector<size_t> members;
        stack.assign(1, start);
        label[start] = pieces;
        while (!stack.empty())
        {
          const size_t index = stack.back();
          stack.pop_back();
          members.push_back(index);
          const size_t ap = index % apSteps;
          const size_t lateral = (index / apSteps) % lateralSteps;
          const size_t z = index / (apSteps * lateralSteps);
          auto visit = [&](size_t next) {
            if (bone[next] && label[next] == 0)
            {
              label[next] = pieces;
              stack.push_back(next);
            }
          };
          if (ap > 0) visit(index - 1);
          if (ap + 1 < apSteps) visit(index + 1);
          if (lateral > 0) visit(index - apSteps);
          if (lateral + 1 < lateralSteps) visit(index + apSteps);
          if (z > 0) visit(index - apSteps * lateralSteps);
          if (z + 1 < depth) visit(index + apSteps * lateralSteps);
        }

        // The piece's measures.
        std::vector<uint16_t> rowsAt(depth * lateralSteps, 0);
        std::vector<size_t> medialAt(depth, 0);
        for (size_t index : members)
        {
          piece.frontMostMm = std::min(piece.frontMostMm, FRONT_MM + static_cast<double>(index % apSteps) * grid.rowMm);
          const size_t lateral = (index / apSteps) % lateralSteps;
          const size_t z = index / (apSteps * lateralSteps);
          const double lateralMm = COLUMN_HALF_WIDTH_MM + static_cast<double>(lateral) * grid.columnMm;
          piece.minimumLateralMm = std::min(piece.minimumLateralMm, lateralMm);
          piece.maximumLateralMm = std::max(piece.maximumLateralMm, lateralMm);
          piece.firstSlice = std::min(piece.firstSlice, z);
          piece.lastSlice = std::max(piece.lastSlice, z);
          if (lateralMm < COLUMN_HALF_WIDTH_MM + MEDIAL_BAND_MM)
          {
            piece.medialZSum += static_cast<double>(z);
            ++piece.medialVoxels;
            ++medialAt[z];
          }
          ++rowsAt[z * lateralSteps + lateral];
        }
        piece.voxels = members.size();
        const double volumeMm3 = static_cast<double>(piece.voxels) * grid.columnMm * grid.rowMm * sliceMm;
        const double zExtentMm = static_cast<double>(piece.lastSlice - piece.firstSlice + 1) * sliceMm;
        std::vector<uint16_t> thicknesses;
        for (uint16_t rows : rowsAt)
        {
          if (rows > 0)
          {
            thicknesses.push_back(rows);
          }
        }
        std::nth_element(thicknesses.begin(), thicknesses.begin() + static_cast<long>(thicknesses.size() * 9 / 10), thicknesses.end());
        const double thicknessMm = static_cast<double>(thicknesses[thicknesses.size() * 9 / 10]) * grid.rowMm;
        // The first ribs are short but turn forward at once, which no transverse process does.
        const bool reachesOut = piece.maximumLateralMm >= RIB_REACH_MM ||
                                (piece.maximumLateralMm >= TURNING_RIB_REACH_MM && piece.frontMostMm <= 0);
        const bool rib = piece.medialVoxels > 0 && reachesOut &&
                         volumeMm3 >= MINIMUM_VOLUME_MM3 && zExtentMm <= MAXIMUM_Z_EXTENT_MM &&
                         thicknessMm <= MAXIMUM_THICKNESS_MM && thicknessMm >= MINIMUM_THICKNESS_MM;
        if (!rib)
        {
          continue;
        }
        // Where it leaves the column. Beside it, ribs 1-9 lie at about the level of the disc
        // above their vertebra (rib 1 rises to its tubercle, the others meet the disc), ribs 10-12
        // a little lower, on their own body: looked up HEAD_SHIFT_MM caudal, the vertebra there or
        // the nearest. At thick slices two neighbouring ribs can touch further out and make one
        // piece; it then leaves the column in separate stretches of z, each a rib of its own.
        std::vector<std::pair<double, size_t>> crossings;   // (z sum, voxels) per stretch
        size_t lastZ = 0;
        for (size_t z = 0; z < depth; ++z)
        {
          if (medialAt[z] == 0)
          {
            continue;
          }
          if (crossings.empty() || static_cast<double>(z - lastZ) * sliceMm > SEPARATE_CROSSINGS_MM)
          {
            crossings.emplace_back(0.0, 0);
          }
          crossings.back().first += static_cast<double>(z) * static_cast<double>(medialAt[z]);
          crossings.back().second += medialAt[z];
          lastZ = z;
        }
        for (const auto& crossing : crossings)
        {
          const double crossingIndex = static_cast<double>(first) + crossing.first / static_cast<double>(crossing.second);
          const double headIndex = crossingIndex + caudalSign * HEAD_SHIFT_MM / sliceMm;
          const size_t headSlice = static_cast<size_t>(std::clamp(std::lround(headIndex), 0L, static_cast<long>(n) - 1));
          int best = -1;
          double bestDistance = 1e9;
          for (const Vertebra& vertebra : layout.vertebrae)
          {
            const double distance = headSlice < vertebra.firstSlice ? static_cast<double>(vertebra.firstSlice - headSlice)
                                    : headSlice > vertebra.lastSlice ? static_cast<double>(headSlice - vertebra.lastSlice)
                                    : 0.0;
            if (distance < bestDistance)
            {
              bestDistance = distance;
              best = vertebra.index;
            }
          }
          if (best < 0 || bestDistance * sliceMm > ASSIGNMENT_TOLERANCE_MM)
          {
            // Below the column's last vertebra the head meets nothing found. Where the rib
            // leaves the column beside that vertebra itself (within the same tolerance), it is
            // that vertebra's rib: the finder cut the body short (its lower slices osteopenic,
            // or the column's end not seen as bone), and no vertebra below it was found to take
            // the rib. A rib of an unfound vertebra further down leaves the column lower still;
            // and were one taken here, it could only add a rib to a vertebra above a rib-bearing
            // one, which bears its own.
            const Vertebra& lowest = layout.vertebrae.back();
            const double crossingDistanceMm = sliceMm * std::max({0.0, static_cast<double>(lowest.firstSlice) - crossingIndex,
                                                                  crossingIndex - static_cast<double>(lowest.lastSlice)});
            const bool headBelowColumn = caudalSign < 0 ? headSlice < lowest.firstSlice : headSlice > lowest.lastSlice;
            const bool crossesBesideLowest = crossingDistanceMm <= ASSIGNMENT_TOLERANCE_MM;
            if (!headBelowColumn || !crossesBesideLowest)
            {
              continue;
            }
            best = lowest.index;
          }
          VertebraLevelEvidence& evidence = layout.levelEvidence[static_cast<size_t>(best)];
          const bool firstRib = !evidence.ribLeft && !evidence.ribRight;
          (side == 0 ? evidence.ribLeft : evidence.ribRight) = true;
          evidence.ribReachMm = firstRib ? piece.maximumLateralMm : std::min(evidence.ribReachMm, piece.maximumLateralMm);
        }
      }
    }
  }
}
