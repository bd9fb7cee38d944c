// SPDX-License-Identifier: GPL-3.0-or-later
// The spine finder's per-slice pass against plain reference computations: the patient outline
// (runs joined by union-find, SliceAnalysis.cpp) must be the largest 4-connected component that
// labelComponents' flood fill finds on the 3x3-smoothed slice, the first of the largest on a tie.

#include "spine/SliceAnalysis.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>
#include <vector>

using namespace spinemet;
using namespace spinemet::spine_detail;

namespace
{
  // The 3x3 mean with the edge pixels repeated, written the plain way.
  std::vector<int16_t> referenceSmoothed(const std::vector<int16_t>& hu, size_t columns, size_t rows)
  {
    std::vector<int16_t> out(hu.size());
    for (size_t r = 0; r < rows; ++r)
    {
      for (size_t c = 0; c < columns; ++c)
      {
        int32_t sum = 0;
        for (long dr = -1; dr <= 1; ++dr)
        {
          for (long dc = -1; dc <= 1; ++dc)
          {
            const long rr = std::clamp<long>(static_cast<long>(r) + dr, 0, static_cast<long>(rows) - 1);
            const long cc = std::clamp<long>(static_cast<long>(c) + dc, 0, static_cast<long>(columns) - 1);
            sum += hu[static_cast<size_t>(rr) * columns + static_cast<size_t>(cc)];
          }
        }
        out[r * columns + c] = static_cast<int16_t>(sum / 9);
      }
    }
    return out;
  }
}

TEST(SliceAnalysis, PatientOutlineIsTheFirstLargestComponentOfTheFloodFill)
{
  std::mt19937 random(20261207);
  const std::vector<std::pair<size_t, size_t>> shapes{{1, 7}, {7, 1}, {2, 2}, {37, 29}, {64, 64}, {130, 41}};
  int slicesWithSeveralComponents = 0;
  for (const auto& [columns, rows] : shapes)
  {
    for (const double tissueShare : {0.2, 0.35, 0.5, 0.7, 0.95})
    {
      for (int repeat = 0; repeat < 20; ++repeat)
      {
        std::bernoulli_distribution tissue(tissueShare);
        std::uniform_int_distribution<int> noise(-60, 60);
        std::vector<int16_t> hu(columns * rows);
        for (int16_t& value : hu)
        {
          value = static_cast<int16_t>((tissue(random) ? 40 : -1000) + noise(random));
        }
        SliceGrid grid;
        grid.columns = columns;
        grid.rows = rows;
        SpineOptions options;
        SliceAnalyser analyser(grid, options);
        analyser.load(hu.data());
        const PatientOutline outline = analyser.patientOutline();

        const std::vector<int16_t> smoothed = referenceSmoothed(hu, columns, rows);
        std::vector<uint8_t> mask(hu.size());
        for (size_t p = 0; p < mask.size(); ++p)
        {
          mask[p] = smoothed[p] > options.patientHu;
        }
        std::vector<int32_t> labels;
        std::vector<size_t> stack;
        std::vector<size_t> areas;
        const int count = labelComponents(mask, columns, rows, false, labels, stack, &areas);
        slicesWithSeveralComponents += count > 1 ? 1 : 0;
        ASSERT_EQ(outline.found, count > 0);
        if (count == 0)
        {
          EXPECT_TRUE(outline.runs.empty());
          continue;
        }
        const auto largest = static_cast<int32_t>(std::max_element(areas.begin(), areas.end()) - areas.begin());
        std::vector<uint32_t> runs;
        uint64_t sumColumns = 0;
        size_t area = 0;
        size_t rowMin = rows;
        size_t rowMax = 0;
        for (size_t r = 0; r < rows; ++r)
        {
          for (size_t c = 0; c < columns; ++c)
          {
            const bool inside = labels[r * columns + c] == largest;
            const bool before = c > 0 && labels[r * columns + c - 1] == largest;
            if (inside && !before)
            {
              runs.push_back(static_cast<uint32_t>(r * columns + c));
            }
            if (!inside && before)
            {
              runs.push_back(static_cast<uint32_t>(r * columns + c));
            }
            if (inside)
            {
              sumColumns += c;
              ++area;
              rowMin = std::min(rowMin, r);
              rowMax = std::max(rowMax, r);
            }
          }
          if (columns > 0 && labels[r * columns + columns - 1] == largest)
          {
            runs.push_back(static_cast<uint32_t>((r + 1) * columns));
          }
        }
        ASSERT_EQ(outline.runs, runs) << columns << " x " << rows << ", tissue " << tissueShare;
        EXPECT_EQ(outline.midColumn, static_cast<double>(sumColumns) / static_cast<double>(area));
        EXPECT_EQ(outline.anteriorRow, static_cast<double>(rowMin));
        EXPECT_EQ(outline.posteriorRow, static_cast<double>(rowMax));
      }
    }
  }
  // The comparison means something only where there was a choice of component.
  EXPECT_GT(slicesWithSeveralComponents, 100);
}


TEST(SliceAnalysis, NinthOfSumIsTheIntegerQuotientForEverySumOfNineInt16)
{
  // The 3x3 mean divides in float; it must equal C++'s truncating integer division for every
  // sum nine int16 values can make.
  const int32_t lowest = 9 * int32_t{std::numeric_limits<int16_t>::min()};
  const int32_t highest = 9 * int32_t{std::numeric_limits<int16_t>::max()};
  int32_t mismatches = 0;
  int32_t firstMismatch = 0;
  for (int32_t sum = lowest; sum <= highest; ++sum)
  {
    if (ninthOfSum(sum) != static_cast<int16_t>(sum / 9))
    {
      if (mismatches++ == 0)
      {
        firstMismatch = sum;
      }
    }
  }
  EXPECT_EQ(mismatches, 0) << "first at sum " << firstMismatch;
}
