// SPDX-License-Identifier: GPL-3.0-or-later
#include "assessment/InputChecks.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace spinemet
{
  namespace
  {
    // About 40 slices and every second voxel in-plane: millions of voxels, enough for stable
    // medians, without reading the whole volume once more.
    const size_t SAMPLED_SLICES = 40;
    const size_t IN_PLANE_STEP = 2;

    const int HISTOGRAM_LOW = -1100;     // below: padding outside the scan circle, or no CT at all
    const int HISTOGRAM_HIGH = 3100;
    const int BODY_LOW = -500;           // denser than lung and air
    const int DENSE_HU = 400;            // bone, contrast, metal

    template <typename... Numbers>
    std::string format(const char* pattern, Numbers... numbers)
    {
      char text[256];
      std::snprintf(text, sizeof(text), pattern, static_cast<double>(numbers)...);
      return text;
    }

    std::vector<size_t> sampledSlices(size_t count)
    {
      std::vector<size_t> slices;
      const size_t step = std::max<size_t>(1, count / SAMPLED_SLICES);
      for (size_t s = step / 2; s < count; s += step)
      {
        slices.push_back(s);
      }
      return slices;
    }

    // The value at the given fraction of a histogram's mass (bins of 1 HU from `low`).
    double quantile(const std::vector<size_t>& histogram, int low, size_t total, double fraction)
    {
      if (total == 0)
      {
        return NAN;
      }
      const size_t wanted = static_cast<size_t>(fraction * double(total));
      size_t seen = 0;
      for (size_t bin = 0; bin < histogram.size(); ++bin)
      {
        seen += histogram[bin];
        if (seen > wanted)
        {
          return double(low) + double(bin);
        }
      }
      return double(low) + double(histogram.size() - 1);
    }

    double median(std::vector<double>& values)
    {
      if (values.empty())
      {
        return NAN;
      }
      const auto middle = values.begin() + values.size() / 2;
      std::nth_element(values.begin(), middle, values.end());
      return *middle;
    }

    // Noise of one slice's homogeneous soft tissue, as residuals from the 4-neighbour mean. The
    // tissue is chosen by its 5x5 mean (whose own noise is a fifth of the voxels'), never by the
    // voxel's value, so that strong noise does not select itself out.
    void collectNoiseResiduals(const Volume& volume, size_t s, std::vector<double>& residuals)
    {
      const size_t columns = volume.columns();
      const size_t rows = volume.rows();
      const int16_t* pixels = volume.slice(s);
      for (size_t r = 2; r + 2 < rows; r += IN_PLANE_STEP * 2)
      {
        for (size_t c = 2; c + 2 < columns; c += IN_PLANE_STEP * 2)
        {
          double sum = 0;
          for (size_t dr = 0; dr < 5; ++dr)
          {
            const int16_t* row = pixels + (r + dr - 2) * columns + (c - 2);
            for (size_t dc = 0; dc < 5; ++dc)
            {
              sum += row[dc];
            }
          }
          const double localMean = sum / 25.0;
          if (localMean < -50 || localMean > 120)
          {
            continue;
          }
          const double centre = pixels[r * columns + c];
          const double neighbours = (double(pixels[(r - 1) * columns + c]) + pixels[(r + 1) * columns + c] +
                                     pixels[r * columns + c - 1] + pixels[r * columns + c + 1]) / 4.0;
          residuals.push_back(centre - neighbours);
        }
      }
    }
  }

  InputMeasurements measureInput(const Volume& volume)
  {
    InputMeasurements m;
    std::vector<size_t> histogram(HISTOGRAM_HIGH - HISTOGRAM_LOW + 1, 0);
    size_t inRange = 0;
    size_t softTissue = 0;
    size_t dense = 0;
    size_t body = 0;
    std::vector<double> residuals;
    const size_t columns = volume.columns();
    const size_t rows = volume.rows();
    for (size_t s : sampledSlices(volume.sliceCount()))
    {
      const int16_t* pixels = volume.slice(s);
      for (size_t r = 0; r < rows; r += IN_PLANE_STEP)
      {
        for (size_t c = 0; c < columns; c += IN_PLANE_STEP)
        {
          const int hu = pixels[r * columns + c];
          if (hu < HISTOGRAM_LOW || hu > HISTOGRAM_HIGH)
          {
            continue;
          }
          ++inRange;
          softTissue += (hu >= -200 && hu <= 200) ? 1 : 0;
          dense += hu >= DENSE_HU ? 1 : 0;
          if (hu > BODY_LOW)
          {
            ++body;
            ++histogram[hu - HISTOGRAM_LOW];
          }
        }
      }
      collectNoiseResiduals(volume, s, residuals);
    }
    m.sampledVoxels = inRange;
    m.softTissueFraction = inRange == 0 ? 0.0 : double(softTissue) / double(inRange);
    m.denseFraction = inRange == 0 ? 0.0 : double(dense) / double(inRange);
    m.bodyMedianHu = quantile(histogram, HISTOGRAM_LOW, body, 0.5);

    // Robust sigma: 1.4826 * median absolute deviation; the residual of white noise of sigma s
    // has standard deviation s * sqrt(1 + 1/4).
    const double centre = median(residuals);
    for (double& value : residuals)
    {
      value = std::fabs(value - centre);
    }
    m.imageNoiseHu = residuals.empty() ? NAN : 1.4826 * median(residuals) / std::sqrt(1.25);
    return m;
  }

  std::vector<NotAssessable> checkSeries(const InputMeasurements& m, const VolumeGeometry& geometry,
                                         const std::optional<Assessability>& assessability,
                                         const InputCheckOptions& options)
  {
    std::vector<NotAssessable> reasons;
    if (m.softTissueFraction < options.minimumSoftTissueFraction || m.denseFraction > options.maximumDenseFraction ||
        std::isnan(m.bodyMedianHu) || !options.plausibleBodyMedianHu.contains(m.bodyMedianHu))
    {
      reasons.push_back({NotAssessableReason::HuCalibration,
                         format("the Hounsfield units are implausible for CT (body median %.0f HU, expected %.0f to "
                                "%.0f HU; ", m.bodyMedianHu, options.plausibleBodyMedianHu.low,
                                options.plausibleBodyMedianHu.high) +
                           format("%.1f%% of voxels at -200 to 200 HU, %.1f%% at 400 HU or more): check Rescale "
                                  "Slope and Rescale Intercept", 100.0 * m.softTissueFraction, 100.0 * m.denseFraction)});
    }
    if (!assessability)
    {
      return reasons;
    }
    const AcquisitionDomain& domain = assessability->domain;
    if (domain.sliceThicknessMm && !domain.sliceThicknessMm->contains(geometry.sliceThickness))
    {
      reasons.push_back({NotAssessableReason::SliceThickness,
                         format("slices %.3g mm thick, outside the %.3g to %.3g mm the model was validated on",
                                geometry.sliceThickness, domain.sliceThicknessMm->low, domain.sliceThicknessMm->high)});
    }
    if (domain.pixelSpacingMm)
    {
      for (double spacing : {geometry.rowSpacing, geometry.columnSpacing})
      {
        if (!domain.pixelSpacingMm->contains(spacing))
        {
          reasons.push_back({NotAssessableReason::PixelSpacing,
                             format("pixels %.3g mm wide, outside the %.3g to %.3g mm the model was validated on",
                                    spacing, domain.pixelSpacingMm->low, domain.pixelSpacingMm->high)});
          break;
        }
      }
    }
    // Only too much noise is a reason: a smoother image than any in training hides nothing.
    if (domain.imageNoiseHu && !std::isnan(m.imageNoiseHu) && m.imageNoiseHu > domain.imageNoiseHu->high)
    {
      reasons.push_back({NotAssessableReason::ImageNoise,
                         format("image noise %.0f HU (sharp kernel or low dose), above the %.0f HU of the series the "
                                "model was validated on", m.imageNoiseHu, domain.imageNoiseHu->high)});
    }
    return reasons;
  }

  std::vector<std::vector<NotAssessable>> checkVertebrae(const Volume& volume, const SpineLayout& layout,
                                                         const InputCheckOptions& options)
  {
    const VolumeGeometry& g = volume.geometry();
    std::vector<std::vector<NotAssessable>> reasons(layout.vertebrae.size());
    if (volume.sliceCount() == 0)
    {
      return reasons;
    }
    const size_t lastSlice = volume.sliceCount() - 1;

    std::vector<double> wholeHeights;
    for (const Vertebra& vertebra : layout.vertebrae)
    {
      if (vertebra.firstSlice > 0 && vertebra.lastSlice < lastSlice)
      {
        wholeHeights.push_back(double(vertebra.lastSlice - vertebra.firstSlice + 1) * g.sliceSpacing);
      }
    }
    const double referenceHeight = median(wholeHeights);

    const double pixelArea = g.rowSpacing * g.columnSpacing;
    const double marginColumns = options.metalMarginMm / g.columnSpacing;
    const double marginRows = options.metalMarginMm / g.rowSpacing;
    for (size_t v = 0; v < layout.vertebrae.size(); ++v)
    {
      const Vertebra& vertebra = layout.vertebrae[v];

      const bool atEdge = vertebra.firstSlice == 0 || vertebra.lastSlice >= lastSlice;
      const double height = double(vertebra.lastSlice - vertebra.firstSlice + 1) * g.sliceSpacing;
      // Without a whole vertebra to compare with, the edge alone decides: what is beyond it is unknown.
      if (atEdge && (std::isnan(referenceHeight) || height < options.cutHeightRatio * referenceHeight))
      {
        reasons[v].push_back({NotAssessableReason::CutBySeriesEdge,
                              std::isnan(referenceHeight)
                                ? format("runs out of the series (%.0f mm imaged)", height)
                                : format("runs out of the series: %.0f mm imaged of about %.0f mm", height,
                                         referenceHeight)});
      }

      double worstAreaMm2 = 0;
      int hottest = 0;
      for (size_t s = vertebra.firstSlice; s <= vertebra.lastSlice && s < layout.slices.size(); ++s)
      {
        const SliceSpine& spine = layout.slices[s];
        if (!spine.vertebraPresent && !spine.onColumn)
        {
          continue;
        }
        // The body box, widened by the margin, and reaching back over the pedicles and laminae (as
        // deep again as the body) where screws and rods sit.
        const PixelBox& body = spine.vertebralBody;
        const double depth = body.row1 - body.row0;
        const auto c0 = static_cast<long>(std::max(0.0, std::floor(body.column0 - marginColumns)));
        const auto c1 = static_cast<long>(std::min(double(g.columns), std::ceil(body.column1 + marginColumns)));
        const auto r0 = static_cast<long>(std::max(0.0, std::floor(body.row0 - marginRows)));
        const auto r1 = static_cast<long>(std::min(double(g.rows), std::ceil(body.row1 + depth + marginRows)));
        const int16_t* pixels = volume.slice(s);
        size_t metal = 0;
        for (long r = r0; r < r1; ++r)
        {
          for (long c = c0; c < c1; ++c)
          {
            const int hu = pixels[size_t(r) * g.columns + size_t(c)];
            if (hu >= options.metalHu)
            {
              ++metal;
              hottest = std::max(hottest, hu);
            }
          }
        }
        worstAreaMm2 = std::max(worstAreaMm2, double(metal) * pixelArea);
      }
      if (worstAreaMm2 >= options.metalMinimumAreaMm2)
      {
        reasons[v].push_back({NotAssessableReason::Metal,
                              format("metal in or next to the vertebra (%.0f mm2 at %.0f HU or more, up to %.0f HU)",
                                     worstAreaMm2, options.metalHu, hottest)});
      }
    }
    return reasons;
  }
}
