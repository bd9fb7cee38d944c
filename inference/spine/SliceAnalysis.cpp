// SPDX-License-Identifier: GPL-3.0-or-later
#include "spine/SliceAnalysis.h"

#include "common/AnalysisError.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace spinemet
{
  namespace spine_detail
  {
    namespace
    {
      // 0 below `low`, 1 above `high`, linear between.
      double ramp(double value, double low, double high)
      {
        if (value <= low)
        {
          return 0;
        }
        if (value >= high)
        {
          return 1;
        }
        return (value - low) / (high - low);
      }

      constexpr int RIM_SECTORS = 24;
      // Wider than this (an L5 body is about 50 mm, with osteophytes 60; the size evidence
      // falls to nothing at 90 mm), a component is measured by its run through the centre
      // column instead (SliceAnalyser::candidates).
      constexpr double MAXIMUM_PLAIN_BODY_WIDTH_MM = 90;
      constexpr double BILATERAL_EXTENSION_MM = 20;
      // How far from the patient's midline the front of a sacral body is looked for.
      constexpr double SACRAL_BODY_SEARCH_MM = 35;
      constexpr double PI = 3.14159265358979323846;
      // A body seen only at the porous threshold must show its cortical shell in at least this
      // fraction of the sectors: below boneHu the shell is what tells a porous body from a
      // disc, muscle or an organ.
      constexpr double POROUS_MINIMUM_RIM = 0.25;
      // A candidate found before with its centre inside a porous one's box and at least this
      // share of its area saw that body whole already; a smaller one saw a fragment of it.
      constexpr double SEEN_WHOLE_AREA = 0.6;
      // A candidate of boneHu with a canal behind it, at least this much of its shell and this
      // score is a whole body: its slice needs no porous look.
      constexpr double WHOLE_BODY_RIM = 0.5;
      constexpr double WHOLE_BODY_SCORE = 0.5;

      int sectorOf(double dx, double dy)
      {
        const double angle = std::atan2(dy, dx) + PI;   // 0 .. 2 pi
        return std::min(RIM_SECTORS - 1, static_cast<int>(angle / (2 * PI) * RIM_SECTORS));
      }
    }


    SliceGrid makeSliceGrid(const VolumeGeometry& geometry)
    {
      // The posterior (+y in LPS) component of the two in-plane axes decides which one runs
      // front to back; the volume loader guarantees axial slices, possibly flipped.
      const double rowsPosterior = geometry.columnDirection[1];
      const double columnsPosterior = geometry.rowDirection[1];
      if (std::fabs(rowsPosterior) < 0.7 || std::fabs(columnsPosterior) > 0.7)
      {
        throw AnalysisError("spine-orientation",
                            "the spine finder needs axial slices whose rows run from the patient's "
                            "front to back; Image Orientation (Patient) gives a column direction of (" +
                            std::to_string(geometry.columnDirection[0]) + ", " +
                            std::to_string(geometry.columnDirection[1]) + ", " +
                            std::to_string(geometry.columnDirection[2]) + ")");
      }
      SliceGrid grid;
      grid.columns = geometry.columns;
      grid.rows = geometry.rows;
      grid.columnMm = geometry.columnSpacing;
      grid.rowMm = geometry.rowSpacing;
      grid.posteriorRowSign = rowsPosterior > 0 ? 1 : -1;
      return grid;
    }


    int labelComponents(const std::vector<uint8_t>& mask, size_t columns, size_t rows,
                        bool eightConnected, std::vector<int32_t>& labels,
                        std::vector<size_t>& stack, std::vector<size_t>* areas)
    {
      if (areas)
      {
        areas->assign(1, 0);
      }
      // Scanline flood fill: each popped seed fills its whole run along the row, then seeds the
      // runs it touches on the rows above and below (diagonally too when 8-connected).
      labels.resize(columns * rows);
      std::fill(labels.begin(), labels.end(), 0);
      const size_t reach = eightConnected ? 1 : 0;
      int count = 0;
      const size_t pixels = mask.size();
      for (size_t start = 0; start < pixels; ++start)
      {
        // Most of a bone or core mask is 0: eight bytes at a time past it.
        while (start + 8 <= pixels)
        {
          uint64_t word;
          std::memcpy(&word, mask.data() + start, sizeof word);
          if (word != 0)
          {
            break;
          }
          start += 8;
        }
        if (start >= pixels)
        {
          break;
        }
        if (!mask[start] || labels[start] != 0)
        {
          continue;
        }
        ++count;
        if (areas)
        {
          areas->push_back(0);
        }
        stack.clear();
        stack.push_back(start);
        while (!stack.empty())
        {
          const size_t seed = stack.back();
          stack.pop_back();
          if (labels[seed] != 0)
          {
            continue;
          }
          const size_t row = seed / columns;
          const size_t rowStart = row * columns;
          size_t left = seed - rowStart;
          size_t right = left;
          while (left > 0 && mask[rowStart + left - 1] && labels[rowStart + left - 1] == 0)
          {
            --left;
          }
          while (right + 1 < columns && mask[rowStart + right + 1] && labels[rowStart + right + 1] == 0)
          {
            ++right;
          }
          std::fill(labels.begin() + static_cast<long>(rowStart + left),
                    labels.begin() + static_cast<long>(rowStart + right + 1), count);
          if (areas)
          {
            areas->back() += right - left + 1;
          }
          const size_t from = left >= reach ? left - reach : 0;
          const size_t to = std::min(columns - 1, right + reach);
          for (int direction = -1; direction <= 1; direction += 2)
          {
            if ((direction < 0 && row == 0) || (direction > 0 && row + 1 >= rows))
            {
              continue;
            }
            const size_t neighbourStart = (direction < 0 ? row - 1 : row + 1) * columns;
            bool inRun = false;
            for (size_t c = from; c <= to; ++c)
            {
              const size_t q = neighbourStart + c;
              const bool open = mask[q] && labels[q] == 0;
              if (open && !inRun)
              {
                stack.push_back(q);
              }
              inRun = open;
            }
          }
        }
      }
      return count;
    }


    SliceAnalyser::SliceAnalyser(const SliceGrid& grid, const SpineOptions& options) :
      grid_(grid),
      options_(options)
    {
      windowHalfColumns_ = std::max(1L, std::lround(options.coreWindowMm / grid.columnMm / 2));
      windowHalfRows_ = std::max(1L, std::lround(options.coreWindowMm / grid.rowMm / 2));
      const size_t pixels = grid.columns * grid.rows;
      smoothed_.resize(pixels);
      patient_.resize(pixels);
      bone_.resize(pixels);
      integral_.resize((grid.columns + 1) * (grid.rows + 1));
      porousBone_.resize(pixels);
      porousIntegral_.resize(integral_.size());     // its first row and column stay 0, as integral_'s
      rowSums_.resize(3 * grid.columns);
      core_.resize(pixels);
      labels_.resize(pixels);
    }


    void SliceAnalyser::load(const int16_t* hu)
    {
      smooth(hu);
      findPatient();
      markBone(options_.boneHu, true);
    }


    void SliceAnalyser::loadWithOutline(const int16_t* hu, const PatientOutline& outline)
    {
      smooth(hu);
      std::fill(patient_.begin(), patient_.end(), 0);
      for (size_t i = 0; i + 1 < outline.runs.size(); i += 2)
      {
        std::fill(patient_.begin() + outline.runs[i], patient_.begin() + outline.runs[i + 1], 1);
      }
      patientRuns_ = outline.runs;
      patientFound_ = outline.found;
      patientMidColumn_ = outline.midColumn;
      patientAnteriorRow_ = outline.anteriorRow;
      patientPosteriorRow_ = outline.posteriorRow;
      markBone(options_.boneHu, false);
    }


    PatientOutline SliceAnalyser::patientOutline() const
    {
      PatientOutline outline;
      outline.found = patientFound_;
      outline.midColumn = patientMidColumn_;
      outline.anteriorRow = patientAnteriorRow_;
      outline.posteriorRow = patientPosteriorRow_;
      // findPatient's runs: the mask's runs in raster order, each within its row.
      outline.runs = patientRuns_;
      return outline;
    }


    void SliceAnalyser::smooth(const int16_t* hu)
    {
      // A 3x3 mean takes the edge off the noise before any threshold (real low-dose CT has a
      // noise of 20-50 HU, the bone threshold is only ~100 HU above soft tissue).
      const size_t columns = grid_.columns;
      const size_t rows = grid_.rows;
      // The rows' sums go to a ring of three rows (r - 1, r, r + 1), each made just before the
      // row below the one it belongs to needs it: the slice is read once and the sums stay in
      // the cache, where a whole slice of them went through memory before.
      auto horizontalSums = [&](size_t r)
      {
        // The edge pixels repeat themselves; the inner run has no branch, so it vectorises.
        const int16_t* line = hu + r * columns;
        int32_t* out = rowSums_.data() + (r % 3) * columns;
        if (columns == 1)
        {
          out[0] = 3 * line[0];
          return;
        }
        out[0] = 2 * line[0] + line[1];
        for (size_t c = 1; c + 1 < columns; ++c)
        {
          out[c] = line[c - 1] + line[c] + line[c + 1];
        }
        out[columns - 1] = line[columns - 2] + 2 * line[columns - 1];
      };
      if (rows == 0)
      {
        return;
      }
      horizontalSums(0);
      if (rows > 1)
      {
        horizontalSums(1);
      }
      for (size_t r = 0; r < rows; ++r)
      {
        if (r + 1 < rows && r + 1 >= 2)
        {
          horizontalSums(r + 1);
        }
        const size_t up = r > 0 ? r - 1 : r;
        const size_t down = r + 1 < rows ? r + 1 : r;
        const int32_t* above = rowSums_.data() + (up % 3) * columns;
        const int32_t* here = rowSums_.data() + (r % 3) * columns;
        const int32_t* below = rowSums_.data() + (down % 3) * columns;
        int16_t* out = smoothed_.data() + r * columns;
        for (size_t c = 0; c < columns; ++c)
        {
          out[c] = ninthOfSum(above[c] + here[c] + below[c]);
        }
      }
    }


    void SliceAnalyser::markBone(double thresholdHu, bool withDensity)
    {
      const size_t columns = grid_.columns;
      const size_t rows = grid_.rows;
      // The smoothed values are whole numbers: v >= thresholdHu exactly when v >= the threshold
      // rounded up, compared as int16 without a branch (the loop vectorises).
      if (!(thresholdHu <= std::numeric_limits<int16_t>::max()))       // above every value, or NaN
      {
        std::fill(bone_.begin(), bone_.end(), 0);
      }
      else
      {
        const auto threshold = static_cast<int16_t>(
          std::max<double>(std::ceil(thresholdHu), std::numeric_limits<int16_t>::min()));
        const uint8_t* patient = patient_.data();
        const int16_t* smoothed = smoothed_.data();
        uint8_t* bone = bone_.data();
        const size_t pixels = smoothed_.size();      // read once: a byte store may alias it
        for (size_t p = 0; p < pixels; ++p)
        {
          bone[p] = static_cast<uint8_t>(patient[p] & static_cast<uint8_t>(smoothed[p] >= threshold));
        }
      }
      densityReady_ = withDensity;
      if (!withDensity)
      {
        return;
      }
      const uint8_t* bone = bone_.data();
      int32_t* integral = integral_.data();
      for (size_t r = 0; r < rows; ++r)
      {
        const uint8_t* boneRow = bone + r * columns;
        const int32_t* above = integral + r * (columns + 1) + 1;
        int32_t* sums = integral + (r + 1) * (columns + 1) + 1;
        // Bone is a few per cent of a slice: over eight bytes of empty mask the row's running
        // sum stays put, and those eight sums are the row above's plus it (a loop that
        // vectorises) instead of a chain of dependent adds, pixel by pixel.
        int32_t lineSum = 0;
        size_t c = 0;
        for (; c + 8 <= columns; c += 8)
        {
          uint64_t word;
          std::memcpy(&word, boneRow + c, sizeof word);
          if (word == 0)
          {
            for (size_t k = 0; k < 8; ++k)
            {
              sums[c + k] = above[c + k] + lineSum;
            }
          }
          else
          {
            for (size_t k = 0; k < 8; ++k)
            {
              lineSum += boneRow[c + k];
              sums[c + k] = above[c + k] + lineSum;
            }
          }
        }
        for (; c < columns; ++c)
        {
          lineSum += boneRow[c];
          sums[c] = above[c] + lineSum;
        }
      }
    }


    void SliceAnalyser::findPatient()
    {
      // The patient is the largest connected region denser than air and lung. The table and
      // arms lying apart from the trunk fall outside it, and with them their dense parts.
      // Labelled as runs of pixels along the rows joined by union-find rather than pixel by
      // pixel: the same components (4-connected), numbered in the same order (by their first
      // pixel in raster order, as labelComponents numbers them), the same largest one (the
      // first of the largest), and its runs are the outline pass 2 needs.
      const size_t columns = grid_.columns;
      const size_t rows = grid_.rows;
      std::vector<uint8_t>& mask = patient_;
      const size_t pixels = smoothed_.size();
      const double patientHu = options_.patientHu;
      if (!(patientHu < std::numeric_limits<int16_t>::max()))           // above every value, or NaN
      {
        std::fill(mask.begin(), mask.end(), 0);
      }
      else
      {
        // A whole number v is > patientHu exactly when it is > floor(patientHu): an integer
        // compare without a branch, so the loop vectorises.
        const int16_t* smoothed = smoothed_.data();
        uint8_t* out = mask.data();
        if (patientHu < std::numeric_limits<int16_t>::min())
        {
          std::fill(mask.begin(), mask.end(), 1);
        }
        else
        {
          const auto threshold = static_cast<int16_t>(std::floor(patientHu));
          for (size_t p = 0; p < pixels; ++p)
          {
            out[p] = static_cast<uint8_t>(smoothed[p] > threshold);
          }
        }
      }

      // The runs, row by row; rowRunStart_[r] is the index of row r's first run.
      std::vector<uint32_t>& runs = maskRuns_;
      std::vector<uint32_t>& rowRunStart = rowRunStart_;
      runs.clear();
      rowRunStart.assign(rows + 1, 0);
      for (size_t r = 0; r < rows; ++r)
      {
        rowRunStart[r] = static_cast<uint32_t>(runs.size() / 2);
        const uint8_t* row = mask.data() + r * columns;
        size_t c = 0;
        while (c < columns)
        {
          // Eight bytes at a time past the outside (0) and through the inside (1).
          while (c + 8 <= columns)
          {
            uint64_t word;
            std::memcpy(&word, row + c, sizeof word);
            if (word != 0)
            {
              break;
            }
            c += 8;
          }
          while (c < columns && !row[c])
          {
            ++c;
          }
          if (c >= columns)
          {
            break;
          }
          const size_t begin = c;
          while (c + 8 <= columns)
          {
            uint64_t word;
            std::memcpy(&word, row + c, sizeof word);
            if (word != 0x0101010101010101ULL)
            {
              break;
            }
            c += 8;
          }
          while (c < columns && row[c])
          {
            ++c;
          }
          runs.push_back(static_cast<uint32_t>(r * columns + begin));
          runs.push_back(static_cast<uint32_t>(r * columns + c));
        }
      }
      const size_t runCount = runs.size() / 2;
      rowRunStart[rows] = static_cast<uint32_t>(runCount);

      // Union-find over the runs; a set's root is its first run in raster order, so the roots
      // in ascending order are the components in labelComponents' order.
      std::vector<uint32_t>& parent = runParent_;
      parent.resize(runCount);
      for (size_t i = 0; i < runCount; ++i)
      {
        parent[i] = static_cast<uint32_t>(i);
      }
      auto find = [&parent](uint32_t i)
      {
        while (parent[i] != i)
        {
          parent[i] = parent[parent[i]];
          i = parent[i];
        }
        return i;
      };
      for (size_t r = 1; r < rows; ++r)
      {
        // Runs of the row above and of this row that share a column touch (4-connected).
        uint32_t above = rowRunStart[r - 1];
        const uint32_t aboveEnd = rowRunStart[r];
        const size_t aboveOffset = (r - 1) * columns;
        const size_t offset = r * columns;
        for (uint32_t here = rowRunStart[r]; here < rowRunStart[r + 1]; ++here)
        {
          const size_t begin = runs[2 * here] - offset;
          const size_t end = runs[2 * here + 1] - offset;
          while (above < aboveEnd && runs[2 * above + 1] - aboveOffset <= begin)
          {
            ++above;
          }
          for (uint32_t a = above; a < aboveEnd && runs[2 * a] - aboveOffset < end; ++a)
          {
            const uint32_t rootHere = find(here);
            const uint32_t rootAbove = find(a);
            if (rootHere < rootAbove)
            {
              parent[rootAbove] = rootHere;
            }
            else if (rootAbove < rootHere)
            {
              parent[rootHere] = rootAbove;
            }
          }
        }
      }
      // A parent's index is never above its child's (unions hang the later root under the
      // earlier, path halving keeps that), so one ascending pass points every run at its root.
      std::vector<size_t>& areas = runAreas_;
      areas.assign(runCount, 0);
      for (uint32_t i = 0; i < runCount; ++i)
      {
        parent[i] = parent[parent[i]];
        areas[parent[i]] += runs[2 * i + 1] - runs[2 * i];
      }
      size_t largestArea = 0;
      uint32_t largest = 0;
      for (uint32_t i = 0; i < runCount; ++i)
      {
        if (parent[i] == i && areas[i] > largestArea)
        {
          largestArea = areas[i];
          largest = i;
        }
      }

      // The mask and the outline: the largest component's runs only.
      std::fill(mask.begin(), mask.end(), 0);
      patientRuns_.clear();
      patientFound_ = false;
      if (runCount == 0)
      {
        return;
      }
      // Whole-number sums (exact, as the sum of doubles was: far below 2^53).
      uint64_t sumColumns = 0;
      size_t area = 0;
      size_t rowMin = rows;
      size_t rowMax = 0;
      for (uint32_t i = 0; i < runCount; ++i)
      {
        if (parent[i] != largest)            // every parent is a root now
        {
          continue;
        }
        const uint32_t begin = runs[2 * i];
        const uint32_t end = runs[2 * i + 1];
        std::fill(mask.begin() + begin, mask.begin() + end, 1);
        patientRuns_.push_back(begin);
        patientRuns_.push_back(end);
        const size_t r = begin / columns;
        const uint64_t first = begin - r * columns;
        const uint64_t last = end - r * columns;      // one past
        sumColumns += (first + last - 1) * (last - first) / 2;
        area += end - begin;
        rowMin = std::min(rowMin, r);
        rowMax = std::max(rowMax, r);
      }
      patientFound_ = area > 0;
      if (patientFound_)
      {
        patientMidColumn_ = static_cast<double>(sumColumns) / static_cast<double>(area);
        patientAnteriorRow_ = grid_.posteriorRowSign > 0 ? static_cast<double>(rowMin) : static_cast<double>(rowMax);
        patientPosteriorRow_ = grid_.posteriorRowSign > 0 ? static_cast<double>(rowMax) : static_cast<double>(rowMin);
      }
    }


    double SliceAnalyser::density(long column, long row) const
    {
      const long columns = static_cast<long>(grid_.columns);
      const long rows = static_cast<long>(grid_.rows);
      const long c0 = std::max(0L, column - windowHalfColumns_);
      const long c1 = std::min(columns, column + windowHalfColumns_ + 1);
      const long r0 = std::max(0L, row - windowHalfRows_);
      const long r1 = std::min(rows, row + windowHalfRows_ + 1);
      if (c0 >= c1 || r0 >= r1)
      {
        return 0;
      }
      const long stride = columns + 1;
      const int32_t sum = integral_[r1 * stride + c1] - integral_[r0 * stride + c1] -
                          integral_[r1 * stride + c0] + integral_[r0 * stride + c0];
      const double window = static_cast<double>((2 * windowHalfColumns_ + 1) * (2 * windowHalfRows_ + 1));
      return sum / window;
    }


    std::vector<BodyCandidate> SliceAnalyser::candidates()
    {
      if (!densityReady_)
      {
        throw std::logic_error("SliceAnalyser::candidates needs load(), not loadWithOutline()");
      }
      std::vector<BodyCandidate> found = candidatesOfBoneMask();
      if (!patientFound_)
      {
        return found;
      }
      // An osteopenic body is mostly below boneHu: at that threshold it is fragments or nothing,
      // and the posterior elements (denser) may win the slice. Look again at each porous
      // threshold, highest first. A body seen there is added unless a candidate found before
      // saw it whole (normal bone keeps its candidates as they were), and only when its
      // cortical shell shows: below boneHu, the shell is what tells a body from a disc, muscle
      // or an organ. A slice whose body boneHu already saw whole (a candidate with a spinal
      // canal behind it and most of its shell) needs no second look.
      const bool bodySeen = std::any_of(found.begin(), found.end(), [](const BodyCandidate& candidate) {
        return candidate.canal && candidate.rim >= WHOLE_BODY_RIM && candidate.score >= WHOLE_BODY_SCORE;
      });
      // The porous masks go into buffers of their own, so that the bone mask and its sums of
      // boneHu stay as load() left them (marking them again cost a fourth pass over the slice).
      struct PorousBuffers
      {
        SliceAnalyser& analyser;
        bool swapped = false;
        void use()
        {
          if (!swapped)
          {
            std::swap(analyser.bone_, analyser.porousBone_);
            std::swap(analyser.integral_, analyser.porousIntegral_);
            swapped = true;
          }
        }
        ~PorousBuffers()
        {
          if (swapped)
          {
            std::swap(analyser.bone_, analyser.porousBone_);
            std::swap(analyser.integral_, analyser.porousIntegral_);
          }
        }
      } porousBuffers{*this};
      for (const double porousHu : options_.porousBoneHu)
      {
        if (bodySeen)
        {
          break;
        }
        if (!(porousHu > 0 && porousHu < options_.boneHu))
        {
          continue;
        }
        porousBuffers.use();
        markBone(porousHu, true);
        std::vector<BodyCandidate> porous = candidatesOfBoneMask(true);
        const size_t before = found.size();
        for (const BodyCandidate& candidate : porous)
        {
          const bool seen = std::any_of(found.begin(), found.begin() + static_cast<long>(before), [&](const BodyCandidate& other) {
            return other.column >= candidate.body.column0 && other.column <= candidate.body.column1 &&
                   other.row >= candidate.body.row0 && other.row <= candidate.body.row1 &&
                   other.areaMm2 >= SEEN_WHOLE_AREA * candidate.areaMm2;
          });
          if (!seen && candidate.rim >= POROUS_MINIMUM_RIM)
          {
            found.push_back(candidate);
            found.back().foundAtHu = porousHu;
          }
        }
      }
      std::stable_sort(found.begin(), found.end(),
                       [](const BodyCandidate& a, const BodyCandidate& b) { return a.score > b.score; });
      return found;
    }


    std::vector<BodyCandidate> SliceAnalyser::candidatesOfBoneMask(bool wallFromFront)
    {
      std::vector<BodyCandidate> found;
      if (!patientFound_)
      {
        return found;
      }
      const size_t columns = grid_.columns;
      const size_t rows = grid_.rows;
      const double pixelMm2 = grid_.columnMm * grid_.rowMm;
      const double sign = grid_.posteriorRowSign;

      // The core: bone whose surroundings (one window) are at least half bone. Thin bone (ribs,
      // laminae, transverse processes, a calcified vessel wall, the table) does not qualify;
      // a vertebral body does, and so does the bone around a small lytic hole in it.
      std::vector<uint8_t>& core = core_;
      for (size_t r = 0; r < rows; ++r)
      {
        const uint8_t* boneRow = bone_.data() + r * columns;
        uint8_t* coreRow = core.data() + r * columns;
        for (size_t c = 0; c < columns; ++c)
        {
          // Most of a slice is not bone: eight pixels at a time past it.
          if (c + 8 <= columns)
          {
            uint64_t word;
            std::memcpy(&word, boneRow + c, sizeof word);
            if (word == 0)
            {
              std::memset(coreRow + c, 0, 8);
              c += 7;
              continue;
            }
          }
          coreRow[c] = boneRow[c] != 0 && density(static_cast<long>(c), static_cast<long>(r)) >= 0.5;
        }
      }
      const int count = labelComponents(core, columns, rows, true, labels_, stack_);

      struct Stats
      {
        size_t area = 0;
        double sumColumns = 0;
        double sumRows = 0;
        size_t column0 = SIZE_MAX, row0 = SIZE_MAX, column1 = 0, row1 = 0;
      };
      std::vector<Stats> stats(static_cast<size_t>(count) + 1);
      const size_t pixels = labels_.size();
      for (size_t p = 0; p < pixels; ++p)
      {
        // Labels are non-zero exactly on the core: eight pixels at a time past the rest.
        if (p + 8 <= pixels)
        {
          uint64_t word;
          std::memcpy(&word, core.data() + p, sizeof word);
          if (word == 0)
          {
            p += 7;
            continue;
          }
        }
        if (labels_[p] == 0)
        {
          continue;
        }
        Stats& s = stats[static_cast<size_t>(labels_[p])];
        const size_t r = p / columns;
        const size_t c = p - r * columns;
        ++s.area;
        s.sumColumns += static_cast<double>(c);
        s.sumRows += static_cast<double>(r);
        s.column0 = std::min(s.column0, c);
        s.column1 = std::max(s.column1, c);
        s.row0 = std::min(s.row0, r);
        s.row1 = std::max(s.row1, r);
      }

      for (int label = 1; label <= count; ++label)
      {
        const Stats& s = stats[static_cast<size_t>(label)];
        if (static_cast<double>(s.area) * pixelMm2 < options_.minimumBodyAreaMm2)
        {
          continue;
        }
        long cx = std::lround(s.sumColumns / static_cast<double>(s.area));
        long cy = std::lround(s.sumRows / static_cast<double>(s.area));
        if (wallFromFront)
        {
          // At the porous threshold the pedicles carry the body's component on to the arch, and
          // its centroid can lie in the canal: walk to the wall from the body's front instead.
          for (size_t k = 0; k <= s.row1 - s.row0; ++k)
          {
            const size_t r = sign > 0 ? s.row0 + k : s.row1 - k;
            if (labels_[r * columns + static_cast<size_t>(cx)] == label)
            {
              cy = static_cast<long>(r);
              break;
            }
          }
        }

        // The body's posterior wall: going back from the centre along the midline of the
        // structure, the first 4 mm without thick bone (the spinal canal). Pedicles that are
        // thick enough to join the core stay behind that line.
        const long canalRun = std::max(2L, std::lround(4.0 / grid_.rowMm));
        long wall = cy;
        auto findWall = [&]()
        {
          wall = cy;
          long run = 0;
          for (long r = cy; r >= 0 && r < static_cast<long>(rows); r += static_cast<long>(sign))
          {
            if (density(cx, r) >= 0.5 && bone(static_cast<size_t>(cx), static_cast<size_t>(r)) )
            {
              wall = r;
              run = 0;
            }
            else if (++run >= canalRun)
            {
              break;
            }
            if ((r - static_cast<long>(sign > 0 ? s.row1 : s.row0)) * static_cast<long>(sign) >= 0)
            {
              break;
            }
          }
        };
        findWall();

        // The body: the core in front of the wall. Its width is taken from the front three
        // quarters only: the pedicles leave the body at its posterior corners, and where they
        // are thick (lumbar levels, a blastic pedicle) they join the core there.
        // `throughCentre`: only the run of the component through the centre column on each row
        // counts; for a component too wide for a body, where bone lateral of it joins the core
        // (the sacral alae and the iliac bones beyond the sacroiliac joints, at S1).
        double r0 = 1e9, r1 = -1e9, c0 = 1e9, c1 = -1e9;
        size_t area = 0;
        auto runOf = [&](size_t r, bool throughCentre, size_t& first, size_t& last)
        {
          if (!throughCentre)
          {
            first = s.column0;
            last = s.column1;
            return true;
          }
          const size_t centre = static_cast<size_t>(cx);
          if (labels_[r * columns + centre] != label)
          {
            return false;
          }
          first = centre;
          last = centre;
          while (first > s.column0 && labels_[r * columns + first - 1] == label) --first;
          while (last < s.column1 && labels_[r * columns + last + 1] == label) ++last;
          return true;
        };
        auto measure = [&](bool throughCentre)
        {
          r0 = 1e9; r1 = -1e9; c0 = 1e9; c1 = -1e9;
          area = 0;
          for (size_t r = s.row0; r <= s.row1; ++r)
          {
            if ((static_cast<double>(r) - static_cast<double>(wall)) * sign > 0)
            {
              continue;
            }
            size_t first = 0, last = 0;
            if (!runOf(r, throughCentre, first, last))
            {
              continue;
            }
            for (size_t c = first; c <= last; ++c)
            {
              if (labels_[r * columns + c] == label)
              {
                r0 = std::min(r0, static_cast<double>(r));
                r1 = std::max(r1, static_cast<double>(r));
                break;
              }
            }
          }
          if (r0 > r1)
          {
            return;
          }
          const double anterior = sign > 0 ? r0 : r1;
          const double widthLimit = anterior + sign * 0.75 * (r1 - r0);
          for (size_t r = static_cast<size_t>(r0); r <= static_cast<size_t>(r1); ++r)
          {
            const bool widthRow = (static_cast<double>(r) - widthLimit) * sign <= 0;
            size_t first = 0, last = 0;
            if (!runOf(r, throughCentre, first, last))
            {
              continue;
            }
            for (size_t c = first; c <= last; ++c)
            {
              if (labels_[r * columns + c] != label)
              {
                continue;
              }
              ++area;
              if (widthRow)
              {
                c0 = std::min(c0, static_cast<double>(c));
                c1 = std::max(c1, static_cast<double>(c));
              }
            }
          }
        };
        measure(false);
        if (r0 <= r1 && c0 <= c1 && (c1 - c0 + 1) * grid_.columnMm > MAXIMUM_PLAIN_BODY_WIDTH_MM)
        {
          // Only where bone reaches well beyond the run on both sides, as the alae and iliac
          // bones do beside S1; a component wide on one side only keeps its plain measure.
          const double plainFirst = c0;
          const double plainLast = c1;
          // The centre: the body's front is the most anterior bone of the component near the
          // patient's midline (the alae lie behind it; the iliac wings, further forward, lie
          // far out), as the centroid of a component cut by the field of view may miss the
          // body. The centre row is the middle of the component's run back from there.
          {
            const long reach = std::lround(SACRAL_BODY_SEARCH_MM / grid_.columnMm);
            const long from = std::max(static_cast<long>(s.column0), std::lround(patientMidColumn_) - reach);
            const long to = std::min(static_cast<long>(s.column1), std::lround(patientMidColumn_) + reach);
            long bestColumn = -1;
            double bestFront = 1e18;
            long bestRow = 0;
            for (long c = from; c <= to; ++c)
            {
              for (size_t k = 0; k <= s.row1 - s.row0; ++k)
              {
                const size_t r = sign > 0 ? s.row0 + k : s.row1 - k;
                if (labels_[r * columns + static_cast<size_t>(c)] == label)
                {
                  const double front = static_cast<double>(r) * sign;
                  if (front < bestFront)
                  {
                    bestFront = front;
                    bestColumn = c;
                    bestRow = static_cast<long>(r);
                  }
                  break;
                }
              }
            }
            if (bestColumn >= 0)
            {
              long back = bestRow;
              while (back + static_cast<long>(sign) >= 0 && back + static_cast<long>(sign) < static_cast<long>(rows) &&
                     labels_[static_cast<size_t>(back + static_cast<long>(sign)) * columns + static_cast<size_t>(bestColumn)] == label)
              {
                back += static_cast<long>(sign);
              }
              cx = bestColumn;
              cy = (bestRow + back) / 2;
              findWall();
            }
          }
          measure(true);
          const double lateralMm = std::min(c0 - plainFirst, plainLast - c1) * grid_.columnMm;
          if (r0 > r1 || c0 > c1 || lateralMm < BILATERAL_EXTENSION_MM)
          {
            cx = std::lround(s.sumColumns / static_cast<double>(s.area));
            cy = std::lround(s.sumRows / static_cast<double>(s.area));
            findWall();
            measure(false);
          }
        }
        if (r0 > r1 || c0 > c1)
        {
          continue;
        }
        const double areaMm2 = static_cast<double>(area) * pixelMm2;
        if (areaMm2 < options_.minimumBodyAreaMm2)
        {
          continue;
        }

        BodyCandidate candidate;
        candidate.body = PixelBox{c0, r0, c1 + 1, r1 + 1};
        candidate.column = (c0 + c1) / 2;
        candidate.row = (r0 + r1) / 2;
        candidate.areaMm2 = areaMm2;
        candidate.foundAtHu = options_.boneHu;
        {
          // The body's trabecular density: the median inside the inner 0.6 of its box (the
          // shell and the end plates' rim stay out).
          std::vector<int16_t>& values = cancellousValues_;
          values.clear();
          const double halfWidth = (c1 - c0 + 1) / 2;
          const double halfDepth = (r1 - r0 + 1) / 2;
          for (size_t r = static_cast<size_t>(r0); r <= static_cast<size_t>(r1); ++r)
          {
            for (size_t c = static_cast<size_t>(c0); c <= static_cast<size_t>(c1); ++c)
            {
              const double dx = (static_cast<double>(c) - candidate.column) / halfWidth;
              const double dy = (static_cast<double>(r) - candidate.row) / halfDepth;
              if (dx * dx + dy * dy <= 0.36)
              {
                values.push_back(hu(c, r));
              }
            }
          }
          if (!values.empty())
          {
            std::nth_element(values.begin(), values.begin() + static_cast<long>(values.size() / 2), values.end());
            candidate.cancellousHu = values[values.size() / 2];
          }
        }
        const double widthMm = (c1 - c0 + 1) * grid_.columnMm;
        const double depthMm = (r1 - r0 + 1) * grid_.rowMm;

        // The cortical shell: around the outline, in how many sectors does the outer part of
        // the body reach cortical density? Contrast-filled vessels and kidneys have no shell.
        {
          const double halfWidth = (c1 - c0 + 1) / 2;
          const double halfDepth = (r1 - r0 + 1) / 2;
          std::array<int, RIM_SECTORS> sectorMax;
          sectorMax.fill(-32768);
          for (size_t r = static_cast<size_t>(r0); r <= static_cast<size_t>(r1); ++r)
          {
            for (size_t c = static_cast<size_t>(c0); c <= static_cast<size_t>(c1); ++c)
            {
              if (labels_[r * columns + c] != label)
              {
                continue;
              }
              const double dx = (static_cast<double>(c) - candidate.column) / halfWidth;
              const double dy = (static_cast<double>(r) - candidate.row) / halfDepth;
              if (dx * dx + dy * dy < 0.49)
              {
                continue;
              }
              int& m = sectorMax[static_cast<size_t>(sectorOf(dx, dy))];
              m = std::max<int>(m, hu(c, r));
            }
          }
          int present = 0;
          int cortical = 0;
          for (int m : sectorMax)
          {
            if (m > -32768)
            {
              ++present;
              cortical += m >= options_.cortexHu ? 1 : 0;
            }
          }
          candidate.rim = present > 0 ? static_cast<double>(cortical) / RIM_SECTORS : 0;
        }

        // A spinal canal: behind the wall, 4-35 mm of soft tissue and then bone (laminae,
        // spinous process). A vessel in front of the spine has bone right behind it.
        {
          const long band = std::max(1L, std::lround(1.5 / grid_.columnMm));
          const long start = static_cast<long>(sign > 0 ? r1 : r0) + static_cast<long>(sign);
          double gapMm = 0;
          bool hit = false;
          for (long r = start; r >= 0 && r < static_cast<long>(rows) && gapMm <= 35; r += static_cast<long>(sign))
          {
            bool anyBone = false;
            for (long c = std::max(0L, cx - band); c <= std::min(static_cast<long>(columns) - 1, cx + band); ++c)
            {
              anyBone = anyBone || bone(static_cast<size_t>(c), static_cast<size_t>(r));
            }
            if (anyBone)
            {
              hit = true;
              break;
            }
            gapMm += grid_.rowMm;
          }
          candidate.canal = hit && gapMm >= 4 && gapMm <= 35;
        }

        candidate.midlineOffsetMm = std::fabs(candidate.column - patientMidColumn_) * grid_.columnMm;
        const double depthRange = patientPosteriorRow_ - patientAnteriorRow_;
        const double fromFront = depthRange != 0 ? (candidate.row - patientAnteriorRow_) / depthRange : 0;

        // Vertebral bodies: C3 about 15 x 15 mm, L5 about 50 x 35 mm; roughly elliptic.
        const double fill = areaMm2 / (widthMm * depthMm);
        const double aspect = widthMm / depthMm;
        const double sizeScore = ramp(areaMm2, options_.minimumBodyAreaMm2, 200) *
                                 (1 - ramp(areaMm2, 3000, 6000)) *
                                 ramp(widthMm, 8, 14) * (1 - ramp(widthMm, 70, 90)) *
                                 ramp(depthMm, 6, 12) * (1 - ramp(depthMm, 60, 80));
        const double shapeScore = ramp(fill, 0.35, 0.55) * ramp(aspect, 0.4, 0.7) * (1 - ramp(aspect, 2.5, 3.5));
        const double midlineScore = std::exp(-0.5 * std::pow(candidate.midlineOffsetMm / 40, 2));
        const double positionScore = ramp(fromFront, 0.25, 0.45);
        candidate.score = sizeScore * shapeScore * midlineScore * positionScore *
                          (0.4 + 0.6 * candidate.rim) * (candidate.canal ? 1.0 : 0.7);
        if (candidate.score > 0)
        {
          found.push_back(candidate);
        }
      }
      std::sort(found.begin(), found.end(),
                [](const BodyCandidate& a, const BodyCandidate& b) { return a.score > b.score; });
      return found;
    }


    double SliceAnalyser::boneProfile(const Footprint& body) const
    {
      // Inside (normalised radius < 0.8): the fraction of bone; the shell (0.7 - 1.2): in how
      // many sectors the cortex is reached. A disc has neither, but at thick slices the end
      // plates above and below fill the inside with bone by partial volume: the shell is what
      // tells a disc, and a lytic body keeps most of its shell. Hence the weights.
      const long c0 = std::max(0L, static_cast<long>(std::floor(body.column - 1.2 * body.halfWidth)));
      const long c1 = std::min(static_cast<long>(grid_.columns) - 1, static_cast<long>(std::ceil(body.column + 1.2 * body.halfWidth)));
      const long r0 = std::max(0L, static_cast<long>(std::floor(body.row - 1.2 * body.halfDepth)));
      const long r1 = std::min(static_cast<long>(grid_.rows) - 1, static_cast<long>(std::ceil(body.row + 1.2 * body.halfDepth)));
      if (c0 > c1 || r0 > r1 || body.halfWidth <= 0 || body.halfDepth <= 0)
      {
        return 0;
      }
      size_t inside = 0;
      size_t insideBone = 0;
      std::array<int, RIM_SECTORS> sectorMax;
      sectorMax.fill(-32768);
      for (long r = r0; r <= r1; ++r)
      {
        for (long c = c0; c <= c1; ++c)
        {
          const double dx = (static_cast<double>(c) - body.column) / body.halfWidth;
          const double dy = (static_cast<double>(r) - body.row) / body.halfDepth;
          const double radius2 = dx * dx + dy * dy;
          const int16_t value = hu(static_cast<size_t>(c), static_cast<size_t>(r));
          if (radius2 <= 0.64)
          {
            ++inside;
            insideBone += value >= options_.boneHu ? 1 : 0;
          }
          if (radius2 >= 0.49 && radius2 <= 1.44)
          {
            int& m = sectorMax[static_cast<size_t>(sectorOf(dx, dy))];
            m = std::max<int>(m, value);
          }
        }
      }
      int cortical = 0;
      for (int m : sectorMax)
      {
        cortical += m >= options_.cortexHu ? 1 : 0;
      }
      const double insideFraction = inside > 0 ? static_cast<double>(insideBone) / static_cast<double>(inside) : 0;
      return 0.25 * insideFraction + 0.75 * static_cast<double>(cortical) / RIM_SECTORS;
    }


    BodyDensities SliceAnalyser::bodyDensities(const Footprint& body) const
    {
      // The middle 1.4 of the half width (the lateral cortex stays out), in STRIP_BINS bins
      // from front to back, each as deep as the spacing between bin centres.
      BodyDensities densities{};
      const long c0 = std::max(0L, std::lround(body.column - 0.7 * body.halfWidth));
      const long c1 = std::min(static_cast<long>(grid_.columns) - 1, std::lround(body.column + 0.7 * body.halfWidth));
      const double halfBin = std::max(0.5, 0.8 * body.halfDepth / static_cast<double>(STRIP_BINS - 1));
      for (size_t k = 0; k < STRIP_BINS; ++k)
      {
        const double centre = body.row + grid_.posteriorRowSign * stripBinPosition(k) * body.halfDepth;
        const long r0 = std::max(0L, std::lround(centre - halfBin));
        const long r1 = std::min(static_cast<long>(grid_.rows) - 1, std::lround(centre + halfBin));
        double sum = 0;
        size_t count = 0;
        for (long r = r0; r <= r1; ++r)
        {
          for (long c = c0; c <= c1; ++c)
          {
            sum += hu(static_cast<size_t>(c), static_cast<size_t>(r));
            ++count;
          }
        }
        densities[k] = count > 0 ? sum / static_cast<double>(count) : 0;
      }
      return densities;
    }


    double SliceAnalyser::posteriorElementsRow(const Footprint& body) const
    {
      const double sign = grid_.posteriorRowSign;
      const long band = std::max(1L, std::lround(6.0 / grid_.columnMm));
      const long cx = std::lround(body.column);
      const long wall = std::lround(body.row + sign * body.halfDepth);
      const long maximumRows = std::lround(90.0 / grid_.rowMm);
      const double maximumGapMm = 35;   // the spinal canal, and an arch partly destroyed
      double lastBone = static_cast<double>(wall);
      double gapMm = 0;
      for (long step = 1; step <= maximumRows; ++step)
      {
        const long r = wall + step * static_cast<long>(sign);
        if (r < 0 || r >= static_cast<long>(grid_.rows))
        {
          break;
        }
        bool anyBone = false;
        for (long c = std::max(0L, cx - band); c <= std::min(static_cast<long>(grid_.columns) - 1, cx + band); ++c)
        {
          anyBone = anyBone || bone(static_cast<size_t>(c), static_cast<size_t>(r));
        }
        if (anyBone)
        {
          lastBone = static_cast<double>(r);
          gapMm = 0;
        }
        else if ((gapMm += grid_.rowMm) > maximumGapMm)
        {
          break;
        }
      }
      return lastBone;
    }
  }
}
