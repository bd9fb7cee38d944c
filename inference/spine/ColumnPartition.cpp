// SPDX-License-Identifier: GPL-3.0-or-later
// Discs along the column (docs/spine.md, "Discs"): valleys of density between end plates, and
// the chain of them that reads as a column of vertebrae.

#include "spine/ColumnPartition.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace spinemet
{
  namespace spine_detail
  {
    namespace
    {
      // End plates are looked for this far on either side of a disc. A disc with its end plates
      // is 3-14 mm high; the middle of a vertebral body is 7 mm or more from either end plate
      // (bodies are at least 14 mm high).
      constexpr double END_PLATE_REACH_MM = 6;
      // Vertebral pitch (body and disc), C3 (about 15 mm) to L5 (about 40 mm), with margin.
      constexpr double MINIMUM_PITCH_MM = 12;
      constexpr double MAXIMUM_PITCH_MM = 50;
      // A vertebra (body and disc) is about as high as its body is deep, C3 to L5 (0.8-1.2 in
      // adults): a pitch well below the depth is half a vertebra, a valley in a body's middle
      // taken for a disc. The depth measured on the slices can be short (a thin anterior shell),
      // rarely long, hence a low bound.
      constexpr double MINIMUM_PITCH_PER_DEPTH = 0.6;
      // Adjacent vertebrae differ in height by a few per cent; a lesion or a transitional
      // vertebra by more, but not by a third.
      constexpr double MAXIMUM_PITCH_RATIO = 1.35;
      constexpr double PITCH_CHANGE_WEIGHT = 3;
      // Evidence is scaled by its upper decile (the clear discs of this scan); a disc must
      // bring more than this to be worth placing.
      constexpr double EVIDENCE_QUANTILE = 0.9;
      constexpr double COST_PER_DISC = 0.35;
      constexpr double MINIMUM_CANDIDATE = 0.15;
      constexpr double SATURATED_EVIDENCE = 1.5;
      constexpr double PROFILE_CLEAR_DEPTH = 0.5;
      constexpr double MAXIMUM_HALF_DISC_MM = 3.5;    // lumbar discs are up to 12 mm high
      constexpr double LONG_VERTEBRA_FACTOR = 1.5;    // a vertebra this much higher than its neighbours is two
      // Tilts of the disc lines: mm along z per mm from front to back.
      constexpr std::array<double, 7> DISC_SLOPES{-0.6, -0.4, -0.2, 0, 0.2, 0.4, 0.6};
    }


    namespace
    {
      // Depth of the valley through each slice in one signal: the lower of the highest values
      // within `reach` slices above and below, minus the slice's own. At thick slices a disc
      // can share itself between two slices, neither of them a valley alone: a valley with a
      // floor of two slices is measured too (against its higher slice) and given to the lower.
      std::vector<double> valleyDepth(const std::vector<double>& signal, size_t reach)
      {
        const size_t n = signal.size();
        std::vector<double> depth(n, 0);
        auto highest = [&](long from, long to) {   // inclusive, clipped to the column
          double value = -std::numeric_limits<double>::infinity();
          for (long k = std::max(0L, from); k <= std::min(static_cast<long>(n) - 1, to); ++k)
          {
            value = std::max(value, signal[static_cast<size_t>(k)]);
          }
          return value;
        };
        // Near the column's ends one side is cut off: a valley needs its whole reach on both.
        const long r = static_cast<long>(reach);
        for (long s = r; s + r < static_cast<long>(n); ++s)
        {
          const size_t here = static_cast<size_t>(s);
          const double single = std::min(highest(s - r, s - 1), highest(s + 1, s + r)) - signal[here];
          depth[here] = std::max(depth[here], single);
          if (s + 1 + r < static_cast<long>(n))
          {
            const size_t next = here + 1;
            const double floor = std::max(signal[here], signal[next]);
            const double pair = std::min(highest(s - r, s - 1), highest(s + 2, s + 1 + r)) - floor;
            const size_t lower = signal[here] <= signal[next] ? here : next;
            depth[lower] = std::max(depth[lower], pair);
          }
        }
        return depth;
      }

      // The scan's own scale of disc valleys: the upper decile of the positive depths.
      double upperDecile(const std::vector<double>& depth)
      {
        std::vector<double> positive;
        for (double value : depth)
        {
          if (value > 0)
          {
            positive.push_back(value);
          }
        }
        if (positive.empty())
        {
          return 0;
        }
        std::sort(positive.begin(), positive.end());
        return positive[std::min(positive.size() - 1, static_cast<size_t>(EVIDENCE_QUANTILE * static_cast<double>(positive.size())))];
      }
    }


    DiscEvidence measureDiscEvidence(const std::vector<BodyDensities>& densities,
                                     const std::vector<double>& profile,
                                     const std::vector<double>& bodyDepthMm, double sliceMm)
    {
      const size_t n = densities.size();
      const size_t reach = std::max<size_t>(1, static_cast<size_t>(std::lround(END_PLATE_REACH_MM / sliceMm)));
      DiscEvidence evidence;
      evidence.strength.assign(n, 0);
      evidence.part.assign(n, 0);
      // The bone profile's valleys (scaled so that a drop of half the profile's range counts as a
      // clear disc): at thick slices a disc shows there even where the density valley is
      // shallow.
      evidence.signals.push_back(profile);
      const std::vector<double> profileDepth = valleyDepth(profile, reach);
      for (size_t s = 0; s < n; ++s)
      {
        evidence.strength[s] = profileDepth[s] / PROFILE_CLEAR_DEPTH;
      }
      // The density valleys along lines through the sagittal strip at each tilt: where the
      // cancellous bone is sparse and the shell thin (older patients) the profile is noisy, and
      // the end plates either side of a disc tell it. One scale for all tilts, so that a tilt
      // that only sees noise does not weigh as much as one that follows a disc.
      std::vector<std::vector<double>> depths;
      for (double slope : DISC_SLOPES)
      {
        std::vector<double> line(n, 0);
        for (size_t s = 0; s < n; ++s)
        {
          double sum = 0;
          for (size_t k = 0; k < STRIP_BINS; ++k)
          {
            const double offsetMm = slope * stripBinPosition(k) * bodyDepthMm[s] / 2;
            const long at = std::clamp(static_cast<long>(s) + std::lround(offsetMm / sliceMm), 0L, static_cast<long>(n) - 1);
            sum += densities[static_cast<size_t>(at)][k];
          }
          line[s] = sum / static_cast<double>(STRIP_BINS);
        }
        depths.push_back(valleyDepth(line, reach));
        evidence.signals.push_back(std::move(line));
      }
      std::vector<double> deepest(n, 0);
      for (const std::vector<double>& depth : depths)
      {
        for (size_t s = 0; s < n; ++s)
        {
          deepest[s] = std::max(deepest[s], depth[s]);
        }
      }
      const double scale = upperDecile(deepest);
      for (size_t t = 0; scale > 0 && t < depths.size(); ++t)
      {
        for (size_t s = 0; s < n; ++s)
        {
          if (depths[t][s] / scale > evidence.strength[s])
          {
            evidence.strength[s] = depths[t][s] / scale;
            evidence.part[s] = static_cast<int>(t + 1);
          }
        }
      }
      return evidence;
    }


    std::vector<size_t> chooseDiscs(const DiscEvidence& evidence, const std::vector<double>& bodyDepthMm, double sliceMm)
    {
      const std::vector<double>& depth = evidence.strength;
      const size_t n = depth.size();
      if (n < 3)
      {
        return {};
      }
      const double scale = 1;

      // Candidates: every slice with some evidence.
      std::vector<size_t> candidates;
      std::vector<double> strength;
      for (size_t s = 1; s + 1 < n; ++s)
      {
        // Saturated: a valley deeper than a clear disc (a lytic hole, a fracture cleft) is no
        // more of a disc, and must not outweigh the clear discs around it.
        const double value = std::min(depth[s] / scale, SATURATED_EVIDENCE);
        // Not only local maxima: at thick slices a disc can show most on the slice beside it.
        if (value >= MINIMUM_CANDIDATE)
        {
          candidates.push_back(s);
          strength.push_back(value);
        }
      }
      const size_t m = candidates.size();
      const double lastMm = static_cast<double>(n - 1) * sliceMm;
      auto mm = [&](size_t i) { return static_cast<double>(candidates[i]) * sliceMm; };

      // best[i][j]: the best chain ending with disc j then disc i (j == m: i is the first).
      constexpr double NONE = -std::numeric_limits<double>::infinity();
      std::vector<std::vector<double>> best(m, std::vector<double>(m + 1, NONE));
      std::vector<std::vector<size_t>> previous(m, std::vector<size_t>(m + 1, m));
      for (size_t i = 0; i < m; ++i)
      {
        const double gain = strength[i] - COST_PER_DISC;
        if (mm(i) <= MAXIMUM_PITCH_MM)
        {
          best[i][m] = gain;
        }
        for (size_t j = 0; j < i; ++j)
        {
          const double pitch = mm(i) - mm(j);
          const double depthMm = (bodyDepthMm[candidates[i]] + bodyDepthMm[candidates[j]]) / 2;
          if (pitch < std::max(MINIMUM_PITCH_MM, MINIMUM_PITCH_PER_DEPTH * depthMm) || pitch > MAXIMUM_PITCH_MM)
          {
            continue;
          }
          for (size_t h = 0; h <= m; ++h)
          {
            if (best[j][h] == NONE)
            {
              continue;
            }
            double penalty = 0;
            if (h < m)
            {
              const double change = std::fabs(std::log(pitch / (mm(j) - mm(h))));
              if (change > std::log(MAXIMUM_PITCH_RATIO))
              {
                continue;
              }
              penalty = PITCH_CHANGE_WEIGHT * change * change;
            }
            const double value = best[j][h] + gain - penalty;
            if (value > best[i][j])
            {
              best[i][j] = value;
              previous[i][j] = h;
            }
          }
        }
      }

      // The chain must end within one pitch of the column's end; no disc at all is a chain too
      // when the column is no longer than one vertebra.
      double bestValue = lastMm <= MAXIMUM_PITCH_MM ? 0 : NONE;
      size_t bestI = m;
      size_t bestJ = m;
      for (size_t i = 0; i < m; ++i)
      {
        if (lastMm - mm(i) > MAXIMUM_PITCH_MM)
        {
          continue;
        }
        for (size_t j = 0; j <= m; ++j)
        {
          if (best[i][j] > bestValue)
          {
            bestValue = best[i][j];
            bestI = i;
            bestJ = j;
          }
        }
      }
      std::vector<size_t> discs;
      while (bestI < m)
      {
        discs.push_back(candidates[bestI]);
        const size_t before = bestJ < m ? previous[bestI][bestJ] : m;
        bestI = bestJ;
        bestJ = before;
      }
      std::reverse(discs.begin(), discs.end());
      return discs;
    }


    std::vector<SliceRange> splitLongVertebrae(std::vector<SliceRange> vertebrae, const DiscEvidence& evidence,
                                               double sliceMm, size_t n, const SpineOptions& options)
    {
      // A disc that fell between two thick slices leaves no valley: two vertebrae read as one,
      // half again as high as their neighbours. Split at the strongest evidence inside, else
      // into parts of the neighbours' height.
      for (bool changed = true; changed;)
      {
        changed = false;
        for (size_t v = 0; v < vertebrae.size() && !changed; ++v)
        {
          auto heightMm = [&](const SliceRange& range) { return static_cast<double>(range.last - range.first + 1) * sliceMm; };
          std::vector<double> neighbours;
          for (size_t other = 0; other < vertebrae.size(); ++other)
          {
            const bool cut = vertebrae[other].first == 0 || vertebrae[other].last + 1 == n;
            const size_t distance = other > v ? other - v : v - other;
            if (other != v && !cut && distance <= 2)
            {
              neighbours.push_back(heightMm(vertebrae[other]));
            }
          }
          if (neighbours.empty())
          {
            continue;
          }
          std::sort(neighbours.begin(), neighbours.end());
          const double typicalMm = neighbours[neighbours.size() / 2];
          const SliceRange range = vertebrae[v];
          const size_t margin = static_cast<size_t>(std::ceil(options.minimumVertebraMm / sliceMm));
          if (heightMm(range) <= LONG_VERTEBRA_FACTOR * typicalMm || range.last - range.first + 1 <= 2 * margin + 1)
          {
            continue;
          }
          size_t cut = range.first + margin;
          for (size_t s = range.first + margin; s + margin <= range.last; ++s)
          {
            if (evidence.strength[s] > evidence.strength[cut])
            {
              cut = s;
            }
          }
          if (evidence.strength[cut] < MINIMUM_CANDIDATE)
          {
            const double parts = std::max(2.0, std::round(heightMm(range) / typicalMm));
            cut = range.first + static_cast<size_t>(std::lround(static_cast<double>(range.last - range.first + 1) / parts));
            vertebrae[v].last = cut - 1;
            vertebrae.insert(vertebrae.begin() + static_cast<long>(v) + 1, SliceRange{cut, range.last});
          }
          else
          {
            vertebrae[v].last = cut - 1;
            vertebrae.insert(vertebrae.begin() + static_cast<long>(v) + 1, SliceRange{cut + 1, range.last});
          }
          changed = true;
        }
      }
      return vertebrae;
    }


    std::vector<SliceRange> vertebraeBetweenDiscs(const std::vector<size_t>& discs,
                                                  const DiscEvidence& evidence,
                                                  const std::vector<double>& profile, double sliceMm, bool startIsScanEdge,
                                                  bool endIsScanEdge, const SpineOptions& options)
    {
      const size_t n = profile.size();
      if (n == 0)
      {
        return {};
      }
      // Each disc's extent: the valley at half its depth, in the signal that showed it.
      std::vector<bool> disc(n, false);
      const size_t reach = std::max<size_t>(1, static_cast<size_t>(std::lround(END_PLATE_REACH_MM / sliceMm)));
      // Half a disc at most: a noisy profile would otherwise eat into the bodies beside it.
      const size_t halfDisc = static_cast<size_t>(std::floor(MAXIMUM_HALF_DISC_MM / sliceMm));
      for (size_t d : discs)
      {
        const int part = evidence.part[d];
        auto signal = [&](size_t s) { return evidence.signals[static_cast<size_t>(part)][s]; };
        std::vector<double> around;
        for (size_t s = d >= reach ? d - reach : 0; s <= std::min(n - 1, d + reach); ++s)
        {
          around.push_back(signal(s));
        }
        const double halfDepth = (signal(d) + *std::max_element(around.begin(), around.end())) / 2;
        disc[d] = true;
        for (size_t s = d; s > 0 && d - s < halfDisc && signal(s - 1) < halfDepth; --s)
        {
          disc[s - 1] = true;
        }
        for (size_t s = d + 1; s < n && s - d <= halfDisc && signal(s) < halfDepth; ++s)
        {
          disc[s] = true;
        }
      }
      std::vector<SliceRange> vertebrae;
      for (size_t s = 0; s < n;)
      {
        if (disc[s])
        {
          ++s;
          continue;
        }
        SliceRange run{s, s};
        while (run.last + 1 < n && !disc[run.last + 1])
        {
          ++run.last;
        }
        s = run.last + 1;
        const double heightMm = static_cast<double>(run.last - run.first + 1) * sliceMm;
        const bool cutByScan = (run.first == 0 && startIsScanEdge) || (run.last + 1 == n && endIsScanEdge);
        // Between two discs the chain's pitch already vouches for a vertebra.
        const bool betweenDiscs = run.first > 0 && run.last + 1 < n && !discs.empty() &&
                                  discs.front() < run.first && discs.back() > run.last;
        // Without any disc, a stretch without a shell or end plate anywhere is no vertebra (a
        // vessel followed along z). Between discs, an osteoporotic body's profile can be low
        // throughout: its discs speak for it.
        const bool bony = !discs.empty() || *std::max_element(profile.begin() + static_cast<long>(run.first),
                                            profile.begin() + static_cast<long>(run.last) + 1) >= options.discProfile;
        if (bony && (heightMm >= options.minimumVertebraMm || cutByScan || betweenDiscs))
        {
          vertebrae.push_back(run);
        }
      }
      return splitLongVertebrae(std::move(vertebrae), evidence, sliceMm, n, options);
    }


    std::vector<SliceRange> partitionColumn(const ColumnSignals& column, double sliceMm, bool firstIsCranial,
                                            bool cranialIsScanEdge, bool caudalIsScanEdge,
                                            const SpineOptions& options)
    {
      ColumnSignals cranialFirst = column;
      if (!firstIsCranial)
      {
        std::reverse(cranialFirst.densities.begin(), cranialFirst.densities.end());
        std::reverse(cranialFirst.profile.begin(), cranialFirst.profile.end());
        std::reverse(cranialFirst.bodyDepthMm.begin(), cranialFirst.bodyDepthMm.end());
      }
      const DiscEvidence evidence = measureDiscEvidence(cranialFirst.densities, cranialFirst.profile,
                                                        cranialFirst.bodyDepthMm, sliceMm);
      const std::vector<size_t> discs = chooseDiscs(evidence, cranialFirst.bodyDepthMm, sliceMm);
      std::vector<SliceRange> ranges = vertebraeBetweenDiscs(discs, evidence, cranialFirst.profile,
                                                             sliceMm, cranialIsScanEdge, caudalIsScanEdge, options);
      if (!firstIsCranial)
      {
        const size_t last = column.profile.size() - 1;
        for (SliceRange& range : ranges)
        {
          range = SliceRange{last - range.last, last - range.first};
        }
        std::reverse(ranges.begin(), ranges.end());
      }
      return ranges;
    }
  }
}
