// SPDX-License-Identifier: GPL-3.0-or-later
// The spine finder (docs/spine.md): vertebral-body candidates on every slice, the most
// convincing continuous track through them, the bone profile along that track, and the discs in
// that profile.

#include "spine/Spine.h"
#include "spine/ColumnPartition.h"
#include "spine/SliceAnalysis.h"

#include "common/AnalysisError.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace spinemet
{
  namespace
  {
    using spine_detail::Footprint;
    using spine_detail::SliceAnalyser;
    using spine_detail::SliceGrid;

    constexpr size_t CANDIDATES_PER_SLICE = 6;
    constexpr double GAP_COST_PER_MM = 0.25;        // track value lost per mm without a body
    constexpr double JUMP_COST_PER_MM = 0.05;       // track value lost per mm of displacement
    constexpr double OUTLIER_WINDOW_MM = 15;        // running median of the track, each side
    constexpr double OUTLIER_DISTANCE_MM = 8;
    constexpr double SMOOTHING_WINDOW_MM = 4;       // moving average of the track, each side
    constexpr double SIZE_WINDOW_MM = 15;           // running median of the body size, each side
    constexpr double POSTERIOR_WINDOW_MM = 20;      // running upper quartile of the posterior elements
    constexpr double EXTENSION_MM = 10;             // the column may continue past the track

    struct TrackPoint
    {
      size_t slice = 0;
      int candidate = 0;
    };

    double quantile(std::vector<double> values, double q)
    {
      if (values.empty())
      {
        return 0;
      }
      const size_t rank = std::min(values.size() - 1, static_cast<size_t>(q * static_cast<double>(values.size())));
      std::nth_element(values.begin(), values.begin() + static_cast<long>(rank), values.end());
      return values[rank];
    }

    double median(std::vector<double> values)
    {
      return quantile(std::move(values), 0.5);
    }

    std::string formatMm(double value)
    {
      std::ostringstream text;
      text.precision(1);
      text << std::fixed << value << " mm";
      return text.str();
    }

    // The best chain of candidates along z: every chosen slice adds its score per mm, every
    // skipped mm and every mm of sideways jump costs. Dynamic programming over (slice,
    // candidate), each linked to the best predecessor up to maximumTrackGapMm back.
    std::vector<TrackPoint> chooseTrack(const std::vector<std::vector<BodyCandidate>>& candidates,
                                        const SliceGrid& grid, double sliceMm,
                                        const SpineOptions& options)
    {
      const size_t n = candidates.size();
      const long maximumStep = std::max(1L, static_cast<long>(std::floor(options.maximumTrackGapMm / sliceMm)) + 1);

      struct Node
      {
        double value = 0;
        long previousSlice = -1;
        int previousCandidate = -1;
      };
      std::vector<std::vector<Node>> nodes(n);
      double bestValue = 0;
      long bestSlice = -1;
      int bestCandidate = -1;

      for (size_t s = 0; s < n; ++s)
      {
        nodes[s].resize(candidates[s].size());
        for (size_t k = 0; k < candidates[s].size(); ++k)
        {
          const BodyCandidate& here = candidates[s][k];
          Node node;
          node.value = here.score * sliceMm;
          const double own = node.value;
          for (long step = 1; step <= maximumStep && step <= static_cast<long>(s); ++step)
          {
            const size_t previous = s - static_cast<size_t>(step);
            const double dz = static_cast<double>(step) * sliceMm;
            for (size_t j = 0; j < candidates[previous].size(); ++j)
            {
              const BodyCandidate& there = candidates[previous][j];
              const double dx = (here.column - there.column) * grid.columnMm;
              const double dy = (here.row - there.row) * grid.rowMm;
              const double jump = std::sqrt(dx * dx + dy * dy);
              if (jump > options.trackJumpMm + options.trackSlope * dz)
              {
                continue;
              }
              const double value = own + nodes[previous][j].value -
                                   GAP_COST_PER_MM * (dz - sliceMm) - JUMP_COST_PER_MM * jump;
              if (value > node.value)
              {
                node.value = value;
                node.previousSlice = static_cast<long>(previous);
                node.previousCandidate = static_cast<int>(j);
              }
            }
          }
          nodes[s][k] = node;
          if (node.value > bestValue)
          {
            bestValue = node.value;
            bestSlice = static_cast<long>(s);
            bestCandidate = static_cast<int>(k);
          }
        }
      }

      std::vector<TrackPoint> track;
      for (long s = bestSlice; s >= 0;)
      {
        track.push_back(TrackPoint{static_cast<size_t>(s), bestCandidate});
        const Node& node = nodes[static_cast<size_t>(s)][static_cast<size_t>(bestCandidate)];
        s = node.previousSlice;
        bestCandidate = node.previousCandidate;
      }
      std::reverse(track.begin(), track.end());
      return track;
    }

    // Runs work(analyser, s) for every slice s in [first, end): slices are independent, each
    // thread has its own SliceAnalyser, and every slice's result goes to its own place, so the
    // outcome is the same for any number of threads. The calling thread takes slices too and
    // alone calls `progress` (with the slices done so far, never less than before, lastly
    // end - first); that call may throw to cancel, and then the helpers stop after their slice.
    template <typename Work>
    void forEachSlice(size_t first, size_t end, const SliceGrid& grid, const SpineOptions& options, Work&& work,
                      const std::function<void(size_t done, size_t total)>& progress)
    {
      if (first >= end)
      {
        return;
      }
      const size_t total = end - first;
      const size_t threads = std::min<size_t>(std::max<size_t>(1, options.threads), std::max<size_t>(1, total / 8));
      if (threads == 1)
      {
        SliceAnalyser analyser(grid, options);
        for (size_t s = first; s < end; ++s)
        {
          work(analyser, s);
          if (progress)
          {
            progress(s - first + 1, total);
          }
        }
        return;
      }

      std::atomic<size_t> next{first};
      std::atomic<size_t> done{0};
      std::atomic<bool> abandon{false};
      std::mutex errorMutex;
      std::exception_ptr helperError;
      size_t reported = 0;       // by the calling thread
      auto takeSlices = [&](SliceAnalyser& analyser, bool reporting) {
        for (size_t s = next++; s < end && !abandon; s = next++)
        {
          work(analyser, s);
          const size_t finished = ++done;
          if (reporting && progress)
          {
            reported = finished;
            progress(finished, total);
          }
        }
      };
      std::vector<std::thread> helpers;
      // Joined on every way out, an exception from the calling thread's share included.
      struct JoinHelpers
      {
        std::vector<std::thread>& helpers;
        std::atomic<bool>& abandon;
        ~JoinHelpers()
        {
          abandon = true;
          for (std::thread& helper : helpers)
          {
            helper.join();
          }
        }
      } joinHelpers{helpers, abandon};
      for (size_t t = 1; t < threads; ++t)
      {
        helpers.emplace_back([&] {
          try
          {
            SliceAnalyser analyser(grid, options);
            takeSlices(analyser, false);
          }
          catch (...)
          {
            std::lock_guard<std::mutex> lock(errorMutex);
            helperError = std::current_exception();
            abandon = true;
          }
        });
      }
      SliceAnalyser analyser(grid, options);
      takeSlices(analyser, true);
      for (std::thread& helper : helpers)
      {
        helper.join();
      }
      helpers.clear();
      if (helperError)
      {
        std::rethrow_exception(helperError);
      }
      if (progress && reported < total)
      {
        progress(total, total);       // the helpers' last slices
      }
    }

  }


  std::string Vertebra::displayName(size_t vertebraCount) const
  {
    if (!level.empty())
    {
      return level;
    }
    return "vertebra " + std::to_string(index + 1) + " of " + std::to_string(vertebraCount);
  }


  std::vector<BodyCandidate> findBodyCandidates(const Volume& volume, size_t slice,
                                                const SpineOptions& options)
  {
    if (slice >= volume.sliceCount())
    {
      throw std::out_of_range("findBodyCandidates: no slice " + std::to_string(slice));
    }
    SliceAnalyser analyser(spine_detail::makeSliceGrid(volume.geometry()), options);
    analyser.load(volume.slice(slice));
    return analyser.candidates();
  }


  SpineLayout findSpine(const Volume& volume, const SpineOptions& options)
  {
    const VolumeGeometry& geometry = volume.geometry();
    const size_t n = volume.sliceCount();
    if (n == 0 || geometry.columns == 0 || geometry.rows == 0)
    {
      throw AnalysisError("no-spine", "no spine found: the volume has no pixels");
    }
    // The scans below step and widen windows in millimetres; a spacing that is not a finite
    // number would never end them (issue 16). loadSeries never builds such a volume.
    for (const double spacing : {geometry.sliceSpacing, geometry.columnSpacing, geometry.rowSpacing})
    {
      if (!std::isfinite(spacing))
      {
        throw std::invalid_argument("findSpine: the volume's spacings must be finite numbers");
      }
    }
    const SliceGrid grid = spine_detail::makeSliceGrid(geometry);
    const double sliceMm = geometry.sliceSpacing > 0 ? geometry.sliceSpacing : 1.0;

    // Pass 1: candidates on every slice (options.threads share the slices): those of the bone
    // threshold, and with them those of the porous look (SpineOptions::porousBoneHu).
    std::vector<std::vector<BodyCandidate>> candidates(n);       // the column's, once chosen
    std::vector<std::vector<BodyCandidate>> withPorous(n);
    std::vector<uint8_t> patientOnSlice(n, 0);
    std::vector<spine_detail::PatientOutline> outlines(n);      // for pass 2: a few kB a slice
    forEachSlice(0, n, grid, options, [&](SliceAnalyser& analyser, size_t s) {
      analyser.load(volume.slice(s));
      patientOnSlice[s] = analyser.patientFound() ? 1 : 0;
      outlines[s] = analyser.patientOutline();
      withPorous[s] = analyser.candidates();
      for (const BodyCandidate& candidate : withPorous[s])
      {
        if (candidate.foundAtHu >= options.boneHu && candidates[s].size() < CANDIDATES_PER_SLICE)
        {
          candidates[s].push_back(candidate);
        }
      }
      if (withPorous[s].size() > CANDIDATES_PER_SLICE)
      {
        withPorous[s].resize(CANDIDATES_PER_SLICE);
      }
    }, options.progress);
    const size_t slicesWithPatient = static_cast<size_t>(std::count(patientOnSlice.begin(), patientOnSlice.end(), 1));
    if (slicesWithPatient == 0)
    {
      throw AnalysisError("no-spine", "no spine found: no slice shows anything denser than air");
    }
    auto trackLengthMm = [&](const std::vector<TrackPoint>& chosen) {
      return chosen.empty() ? 0.0 : static_cast<double>(chosen.back().slice - chosen.front().slice + 1) * sliceMm;
    };
    std::vector<TrackPoint> track = chooseTrack(candidates, grid, sliceMm, options);
    if (!options.porousBoneHu.empty())
    {
      // The column of all candidates, where its bodies are osteopenic or boneHu alone finds no
      // column. Normal bone keeps the column of boneHu alone: its layout is what it was.
      const std::vector<TrackPoint> porousTrack = chooseTrack(withPorous, grid, sliceMm, options);
      std::vector<double> densities;
      for (const TrackPoint& point : porousTrack)
      {
        densities.push_back(withPorous[point.slice][static_cast<size_t>(point.candidate)].cancellousHu);
      }
      const bool boneColumn = trackLengthMm(track) >= options.minimumColumnMm;
      const bool porousColumn = trackLengthMm(porousTrack) >= options.minimumColumnMm;
      // Without any column, the longer track says what was found (the no-spine message).
      const bool longer = !boneColumn && !porousColumn && trackLengthMm(porousTrack) > trackLengthMm(track);
      if ((porousColumn && (!boneColumn || median(densities) < options.osteopenicColumnHu)) || longer)
      {
        track = porousTrack;
        candidates.swap(withPorous);
      }
    }
    if (track.empty())
    {
      throw AnalysisError("no-spine", "no spine found: no slice shows a dense, compact bone "
                          "structure of the size of a vertebral body near the midline");
    }

    const size_t first = track.front().slice;
    const size_t last = track.back().slice;
    const double trackMm = trackLengthMm(track);
    if (trackMm < options.minimumColumnMm)
    {
      throw AnalysisError("no-spine", "no spine found: the longest column of vertebral-body "
                          "candidates spans only " + formatMm(trackMm) + " (slices " +
                          std::to_string(first) + " to " + std::to_string(last) + " of " +
                          std::to_string(n) + "); a spine needs at least " +
                          formatMm(options.minimumColumnMm));
    }

    // The track's points, outliers (a neighbouring structure chosen on one slice) removed by
    // their distance from the running median.
    struct Point
    {
      size_t slice;
      const BodyCandidate* candidate;
    };
    std::vector<Point> points;
    for (const TrackPoint& point : track)
    {
      points.push_back(Point{point.slice, &candidates[point.slice][static_cast<size_t>(point.candidate)]});
    }
    {
      std::vector<Point> kept;
      for (const Point& point : points)
      {
        std::vector<double> columns;
        std::vector<double> rows;
        for (const Point& other : points)
        {
          if (std::fabs(static_cast<double>(other.slice) - static_cast<double>(point.slice)) * sliceMm <= OUTLIER_WINDOW_MM)
          {
            columns.push_back(other.candidate->column);
            rows.push_back(other.candidate->row);
          }
        }
        const double dx = (point.candidate->column - median(columns)) * grid.columnMm;
        const double dy = (point.candidate->row - median(rows)) * grid.rowMm;
        if (std::sqrt(dx * dx + dy * dy) <= OUTLIER_DISTANCE_MM)
        {
          kept.push_back(point);
        }
      }
      if (!kept.empty())
      {
        points.swap(kept);
      }
    }

    // The footprint on every slice of the column (and a little beyond, where the column may go
    // on): centre interpolated between the points and smoothed, size from the running median.
    const size_t extension = static_cast<size_t>(std::floor(EXTENSION_MM / sliceMm));
    const size_t columnFirst = first >= extension ? first - extension : 0;
    const size_t columnLast = std::min(n - 1, last + extension);
    std::vector<Footprint> footprints(n);
    {
      std::vector<double> centreColumns(n, 0);
      std::vector<double> centreRows(n, 0);
      size_t next = 0;   // the first point at or after s
      for (size_t s = columnFirst; s <= columnLast; ++s)
      {
        while (next + 1 < points.size() && points[next].slice < s)
        {
          ++next;
        }
        const Point& after = points[next];
        const Point& before = (after.slice > s && next > 0) ? points[next - 1] : after;
        double t = 0;
        if (after.slice != before.slice)
        {
          t = std::clamp((static_cast<double>(s) - static_cast<double>(before.slice)) /
                         (static_cast<double>(after.slice) - static_cast<double>(before.slice)), 0.0, 1.0);
        }
        centreColumns[s] = before.candidate->column + t * (after.candidate->column - before.candidate->column);
        centreRows[s] = before.candidate->row + t * (after.candidate->row - before.candidate->row);
      }
      const long smoothing = static_cast<long>(std::floor(SMOOTHING_WINDOW_MM / sliceMm));
      for (size_t s = columnFirst; s <= columnLast; ++s)
      {
        double sumColumns = 0;
        double sumRows = 0;
        int count = 0;
        for (long k = -smoothing; k <= smoothing; ++k)
        {
          const long j = static_cast<long>(s) + k;
          if (j >= static_cast<long>(columnFirst) && j <= static_cast<long>(columnLast))
          {
            sumColumns += centreColumns[static_cast<size_t>(j)];
            sumRows += centreRows[static_cast<size_t>(j)];
            ++count;
          }
        }
        footprints[s].column = sumColumns / count;
        footprints[s].row = sumRows / count;

        std::vector<double> widths;
        std::vector<double> depths;
        // Doubling the window reaches every point after a bounded number of rounds (points is
        // never empty: the track has at least one); the bound keeps it so if it ever were.
        for (double window = SIZE_WINDOW_MM; widths.empty() && window < 1e300; window *= 2)
        {
          for (const Point& point : points)
          {
            if (std::fabs(static_cast<double>(point.slice) - static_cast<double>(s)) * sliceMm <= window)
            {
              widths.push_back(point.candidate->body.column1 - point.candidate->body.column0);
              depths.push_back(point.candidate->body.row1 - point.candidate->body.row0);
            }
          }
        }
        footprints[s].halfWidth = median(widths) / 2;
        footprints[s].halfDepth = median(depths) / 2;
      }
    }

    // Pass 2, along the column: the bone profile and the posterior elements.
    std::vector<double> profile(n, 0);
    std::vector<double> posteriorRows(n, 0);
    std::vector<spine_detail::BodyDensities> densities(n);
    // The patient outlines of pass 1: the same bone mask without labelling each slice again. The
    // checkpoint runs after each slice the calling thread finishes (it may throw to stop).
    const std::function<void(size_t, size_t)> checkpointPerSlice =
        options.checkpoint ? std::function<void(size_t, size_t)>([&options](size_t, size_t) { options.checkpoint(); })
                           : nullptr;
    forEachSlice(columnFirst, columnLast + 1, grid, options, [&](SliceAnalyser& analyser, size_t s) {
      analyser.loadWithOutline(volume.slice(s), outlines[s]);
      profile[s] = analyser.boneProfile(footprints[s]);
      densities[s] = analyser.bodyDensities(footprints[s]);
      posteriorRows[s] = analyser.posteriorElementsRow(footprints[s]);
    }, checkpointPerSlice);

    // The column: the track, extended while the profile stays bony.
    size_t top = last;
    while (top < columnLast && profile[top + 1] >= options.discProfile)
    {
      ++top;
    }
    size_t bottom = first;
    while (bottom > columnFirst && profile[bottom - 1] >= options.discProfile)
    {
      --bottom;
    }

    const bool cranialIsHigh = geometry.sliceDirection[2] >= 0;
    spine_detail::ColumnSignals column;
    for (size_t s = bottom; s <= top; ++s)
    {
      column.densities.push_back(densities[s]);
      column.profile.push_back(profile[s]);
      column.bodyDepthMm.push_back(2 * footprints[s].halfDepth * grid.rowMm);
    }
    // Always cut cranial to caudal, so that the vertebrae do not depend on the slice order.
    const std::vector<spine_detail::SliceRange> runs =
      spine_detail::partitionColumn(column, sliceMm, !cranialIsHigh, cranialIsHigh ? top == n - 1 : bottom == 0,
                                    cranialIsHigh ? bottom == 0 : top == n - 1, options);
    if (runs.empty())
    {
      throw AnalysisError("no-spine", "no spine found: a column of bone spans slices " +
                          std::to_string(bottom) + " to " + std::to_string(top) +
                          " but no vertebra can be told apart along it");
    }

    SpineLayout layout;
    layout.slices.resize(n);
    for (size_t r = 0; r < runs.size(); ++r)
    {
      const spine_detail::SliceRange& run = cranialIsHigh ? runs[runs.size() - 1 - r] : runs[r];
      Vertebra vertebra;
      vertebra.index = static_cast<int>(r);
      vertebra.firstSlice = bottom + run.first;
      vertebra.lastSlice = bottom + run.last;
      layout.vertebrae.push_back(vertebra);
    }

    const size_t firstVertebraSlice = layout.vertebrae.empty() ? 0 : std::min(layout.vertebrae.front().firstSlice, layout.vertebrae.back().firstSlice);
    const size_t lastVertebraSlice = std::max(layout.vertebrae.front().lastSlice, layout.vertebrae.back().lastSlice);
    const long posteriorWindow = static_cast<long>(std::floor(POSTERIOR_WINDOW_MM / sliceMm));
    const double usableMm = options.cropMm - 2 * options.cropAnteriorMarginMm;
    for (size_t s = columnFirst; s <= columnLast; ++s)
    {
      SliceSpine& slice = layout.slices[s];
      slice.boneProfile = profile[s];
      slice.onColumn = s >= firstVertebraSlice && s <= lastVertebraSlice;
      if (!slice.onColumn)
      {
        continue;
      }
      const Footprint& body = footprints[s];
      slice.vertebralBody = PixelBox{body.column - body.halfWidth, body.row - body.halfDepth,
                                     body.column + body.halfWidth, body.row + body.halfDepth};
      for (const Point& point : points)
      {
        if (point.slice != s)
        {
          continue;
        }
        // The box measured on this slice, where it agrees with the column around it.
        const PixelBox& measured = point.candidate->body;
        const double dx = (point.candidate->column - body.column) * grid.columnMm;
        const double dy = (point.candidate->row - body.row) * grid.rowMm;
        const double widthRatio = (measured.column1 - measured.column0) / (2 * body.halfWidth);
        const double depthRatio = (measured.row1 - measured.row0) / (2 * body.halfDepth);
        if (std::sqrt(dx * dx + dy * dy) <= 4 && std::fabs(widthRatio - 1) <= 0.25 && std::fabs(depthRatio - 1) <= 0.25)
        {
          slice.vertebralBody = measured;
        }
      }

      // The crop: the body and, as far as they fit, the posterior elements behind it. The
      // spinous process is not on every slice (interspinous gaps, lytic arches): the upper
      // quartile over the neighbourhood gives how far back the arch reaches.
      std::vector<double> tips;
      for (long k = -posteriorWindow; k <= posteriorWindow; ++k)
      {
        const long j = static_cast<long>(s) + k;
        if (j >= static_cast<long>(columnFirst) && j <= static_cast<long>(columnLast))
        {
          tips.push_back((posteriorRows[static_cast<size_t>(j)] - footprints[static_cast<size_t>(j)].row) * grid.posteriorRowSign);
        }
      }
      const double tipFromCentre = std::max(quantile(tips, 0.75), body.halfDepth);   // rows, posterior
      const double anteriorFromCentre = -body.halfDepth;
      const double spanMm = (tipFromCentre - anteriorFromCentre) * grid.rowMm;
      double centreFromBody;
      if (spanMm <= usableMm)
      {
        centreFromBody = (tipFromCentre + anteriorFromCentre) / 2;
      }
      else
      {
        centreFromBody = anteriorFromCentre + (options.cropMm / 2 - options.cropAnteriorMarginMm) / grid.rowMm;
      }
      slice.cropCentreColumn = body.column;
      slice.cropCentreRow = body.row + grid.posteriorRowSign * centreFromBody;
    }
    for (const Vertebra& vertebra : layout.vertebrae)
    {
      for (size_t s = vertebra.firstSlice; s <= vertebra.lastSlice; ++s)
      {
        layout.slices[s].vertebraPresent = true;
        layout.slices[s].vertebra = vertebra.index;
      }
    }
    if (options.checkpoint) options.checkpoint();
    findRibs(volume, layout);
    if (options.checkpoint) options.checkpoint();
    findSacrum(volume, layout);
    nameLevels(layout, n);
    return layout;
  }
}
