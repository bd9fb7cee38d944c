// SPDX-License-Identifier: GPL-3.0-or-later
// Lesion insertion into a real CT (docs/hybrid.md): the vertebrae, their labels, each lesion's
// region from the vertebra's own bone, its soft-edged weight with partial volume, and the HU change
// added to the image (never painted over it).
#include "hybrid/Hybrid.h"
#include "hybrid/HybridRandom.h"

#include "common/AnalysisError.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <sstream>

namespace spinemet
{
  using hybrid_detail::Random;
  using hybrid_detail::SmoothField;
  using hybrid_detail::hashText;
  using hybrid_detail::uidFromText;

  float HybridLesion::weightAt(size_t column, size_t row, size_t slice) const
  {
    if (column < column0 || row < row0 || slice < slice0 ||
        column >= column0 + columns || row >= row0 + rows || slice >= slice0 + slices)
    {
      return 0;
    }
    return weight[((slice - slice0) * rows + (row - row0)) * columns + (column - column0)];
  }

  namespace
  {
    // The local smoothing that the lesion's HU change is measured against: new = old + w *
    // (target - smooth(old)). The residual old - smooth(old) (noise, fine texture) stays.
    const double LOCAL_SMOOTHING_MM = 1.5;
    // Bone in the smoothed image: cancellous bone of a normal adult spine reads 100-300 HU, the
    // cortex more; 150 keeps discs (~80) and muscle out (the spine finder's boneHu).
    const double BONE_HU = 150;
    const double POSTERIOR_BONE_HU = 200;   // pedicle centroid: the dense posterior elements
    // The trabecular region is the filled body eroded by this much: cortex plus a margin.
    const double CORTEX_MARGIN_MM = 2.0;
    // Slices whose centre lies closer than this to the body's cranial or caudal end are end plates.
    const double ENDPLATE_MM = 1.5;
    // Partial volume: in-plane point spread (voxel scale) and sub-samples across the slab.
    const double IN_PLANE_BLUR_PIXELS = 0.5;
    const double SLAB_SAMPLE_MM = 0.5;
    // The voxel-scale band of the residual: below this blur is (mostly) the image's noise.
    const double FINE_SMOOTHING_PIXELS = 0.7;
    // Noise is kept up to this many of its standard deviations; larger residuals are structure.
    const double RESIDUAL_KEPT_SIGMAS = 2.5;
    const double BREACH_PROBABILITY = 0.35;   // a lytic body lesion breaks through the cortex

    struct Patch
    {
      size_t column0 = 0, row0 = 0, slice0 = 0;
      size_t columns = 0, rows = 0, slices = 0;
      size_t size() const { return columns * rows * slices; }
      size_t at(size_t c, size_t r, size_t k) const { return (k * rows + r) * columns + c; }
    };

    // Gaussian blur of one slice of a patch, in place, clamped at the borders.
    void blurSlice(float* image, size_t columns, size_t rows, double sigmaPixels)
    {
      if (sigmaPixels <= 0.05)
      {
        return;
      }
      const int radius = std::max(1, static_cast<int>(std::ceil(3 * sigmaPixels)));
      std::vector<double> kernel(2 * radius + 1);
      double sum = 0;
      for (int i = -radius; i <= radius; ++i)
      {
        kernel[i + radius] = std::exp(-0.5 * i * i / (sigmaPixels * sigmaPixels));
        sum += kernel[i + radius];
      }
      for (double& k : kernel) k /= sum;
      std::vector<float> line(std::max(columns, rows));
      for (size_t r = 0; r < rows; ++r)
      {
        float* row = image + r * columns;
        for (size_t c = 0; c < columns; ++c)
        {
          double v = 0;
          for (int i = -radius; i <= radius; ++i)
          {
            const long cc = std::clamp(static_cast<long>(c) + i, 0L, static_cast<long>(columns) - 1);
            v += kernel[i + radius] * row[cc];
          }
          line[c] = static_cast<float>(v);
        }
        std::copy(line.begin(), line.begin() + columns, row);
      }
      for (size_t c = 0; c < columns; ++c)
      {
        for (size_t r = 0; r < rows; ++r)
        {
          double v = 0;
          for (int i = -radius; i <= radius; ++i)
          {
            const long rr = std::clamp(static_cast<long>(r) + i, 0L, static_cast<long>(rows) - 1);
            v += kernel[i + radius] * image[rr * columns + c];
          }
          line[r] = static_cast<float>(v);
        }
        for (size_t r = 0; r < rows; ++r) image[r * columns + c] = line[r];
      }
    }

    // Chamfer distance (pixels) from each `inside` pixel to the nearest outside one.
    std::vector<float> distanceInside(const std::vector<uint8_t>& inside, size_t columns, size_t rows)
    {
      const float far = 1e6f;
      std::vector<float> d(inside.size());
      for (size_t i = 0; i < inside.size(); ++i) d[i] = inside[i] ? far : 0;
      auto relax = [&](size_t i, long c, long r, float step) {
        if (c < 0 || r < 0 || c >= static_cast<long>(columns) || r >= static_cast<long>(rows))
        {
          d[i] = std::min(d[i], step);   // the patch border counts as outside
          return;
        }
        d[i] = std::min(d[i], d[r * columns + c] + step);
      };
      for (long r = 0; r < static_cast<long>(rows); ++r)
        for (long c = 0; c < static_cast<long>(columns); ++c)
        {
          const size_t i = r * columns + c;
          if (!inside[i]) continue;
          relax(i, c - 1, r, 1); relax(i, c, r - 1, 1); relax(i, c - 1, r - 1, 1.4142f); relax(i, c + 1, r - 1, 1.4142f);
        }
      for (long r = static_cast<long>(rows) - 1; r >= 0; --r)
        for (long c = static_cast<long>(columns) - 1; c >= 0; --c)
        {
          const size_t i = r * columns + c;
          if (!inside[i]) continue;
          relax(i, c + 1, r, 1); relax(i, c, r + 1, 1); relax(i, c + 1, r + 1, 1.4142f); relax(i, c - 1, r + 1, 1.4142f);
        }
      return d;
    }

    struct FoundVertebra
    {
      std::string level;
      size_t firstSlice = 0;   // volume order
      size_t lastSlice = 0;
    };

    // What one vertebra offers a lesion: its patch, the smoothed HU, the filled body, the
    // trabecular region and the depth of each voxel inside the body.
    struct VertebraBone
    {
      Patch patch;
      std::vector<float> smooth;
      std::vector<uint8_t> body;          // filled vertebral body
      std::vector<uint8_t> trabecular;    // body eroded by the cortex margin, end plates excluded
      std::vector<float> depthMm;         // in-plane distance inside the body
      std::vector<double> centreColumn, centreRow, halfWidth, halfDepth;   // per patch slice, pixels
      double widthMm = 0, depthMmBody = 0, heightMm = 0;
      std::vector<float> fine;            // the image at the voxel scale (FINE_SMOOTHING_PIXELS)
      double noiseSigmaHu = 20;           // spread of old - smooth(old) in the soft tissue around
      // How much of the texture band (fine - smooth) to keep inside a lesion: the soft tissue's
      // spread over the trabecular bone's, at most 1. The voxel band (old - fine) is kept whole.
      double keepMiddle = 1;
      double lateralSign = 1;             // +1: higher columns are the patient's left
      double posteriorSign = 1;           // +1: higher rows are posterior
    };

    std::vector<FoundVertebra> vertebraeOf(const Series& background, const SpineLayout& layout,
                                           const HybridSettings& settings)
    {
      std::vector<FoundVertebra> found;
      if (settings.handVertebrae.empty())
      {
        for (const Vertebra& v : layout.vertebrae)
        {
          found.push_back({v.level, v.firstSlice, v.lastSlice});
        }
        return found;
      }
      const std::string source = settings.handVertebraeSource.empty() ? "the hand list" : settings.handVertebraeSource;
      for (const HandVertebra& hand : settings.handVertebrae)
      {
        long first = -1, last = -1;
        for (size_t s = 0; s < background.slices.size(); ++s)
        {
          const double z = background.volume.toPatient(0, 0, static_cast<double>(s))[2];
          if (z >= hand.zMinMm && z <= hand.zMaxMm)
          {
            if (first < 0) first = static_cast<long>(s);
            last = static_cast<long>(s);
          }
        }
        std::ostringstream name;
        name << (hand.level.empty() ? "-" : hand.level) << " " << hand.zMinMm << " " << hand.zMaxMm;
        if (first < 0)
        {
          throw AnalysisError("hybrid-vertebrae", source + ": vertebra \"" + name.str() + "\" holds no slice of the series");
        }
        for (long s = first; s <= last; ++s)
        {
          if (!layout.slices[s].onColumn)
          {
            throw AnalysisError("hybrid-vertebrae", source + ": vertebra \"" + name.str() +
                                "\" reaches slice " + std::to_string(s) +
                                ", which the spine finder's column does not cover (no body box there)");
          }
        }
        found.push_back({hand.level, static_cast<size_t>(first), static_cast<size_t>(last)});
      }
      return found;
    }

    VertebraBone analyseVertebra(const Series& background, const SpineLayout& layout, const FoundVertebra& v)
    {
      const Volume& volume = background.volume;
      const VolumeGeometry& g = volume.geometry();
      VertebraBone bone;
      bone.lateralSign = g.rowDirection[0] >= 0 ? 1 : -1;
      bone.posteriorSign = g.columnDirection[1] >= 0 ? 1 : -1;

      double c0 = 1e9, c1 = -1e9, r0 = 1e9, r1 = -1e9;
      std::vector<double> widths, depths;
      for (size_t s = v.firstSlice; s <= v.lastSlice; ++s)
      {
        const PixelBox& box = layout.slices[s].vertebralBody;
        c0 = std::min(c0, box.column0); c1 = std::max(c1, box.column1);
        r0 = std::min(r0, box.row0); r1 = std::max(r1, box.row1);
        widths.push_back((box.column1 - box.column0) * g.columnSpacing);
        depths.push_back((box.row1 - box.row0) * g.rowSpacing);
      }
      std::sort(widths.begin(), widths.end());
      std::sort(depths.begin(), depths.end());
      bone.widthMm = widths[widths.size() / 2];
      bone.depthMmBody = depths[depths.size() / 2];
      bone.heightMm = static_cast<double>(v.lastSlice - v.firstSlice + 1) * g.sliceSpacing;

      // The patch: the body plus room for pedicles, laminae and transverse processes behind it.
      const double widthPx = c1 - c0, depthPx = r1 - r0;
      const double front = bone.posteriorSign > 0 ? 0.25 * depthPx : 1.0 * depthPx;
      const double back = bone.posteriorSign > 0 ? 1.0 * depthPx : 0.25 * depthPx;
      Patch& p = bone.patch;
      const double pc0 = std::max(0.0, std::floor(c0 - 0.6 * widthPx));
      const double pc1 = std::min(static_cast<double>(g.columns), std::ceil(c1 + 0.6 * widthPx));
      const double pr0 = std::max(0.0, std::floor(r0 - front));
      const double pr1 = std::min(static_cast<double>(g.rows), std::ceil(r1 + back));
      p.column0 = static_cast<size_t>(pc0);
      p.row0 = static_cast<size_t>(pr0);
      p.columns = static_cast<size_t>(pc1 - pc0);
      p.rows = static_cast<size_t>(pr1 - pr0);
      p.slice0 = v.firstSlice;
      p.slices = v.lastSlice - v.firstSlice + 1;

      bone.smooth.assign(p.size(), 0);
      bone.fine.assign(p.size(), 0);
      bone.body.assign(p.size(), 0);
      bone.trabecular.assign(p.size(), 0);
      bone.depthMm.assign(p.size(), 0);
      const size_t area = p.columns * p.rows;
      const double zLow = volume.toPatient(0, 0, static_cast<double>(v.firstSlice))[2];
      const double zHigh = volume.toPatient(0, 0, static_cast<double>(v.lastSlice))[2];
      const double zMin = std::min(zLow, zHigh) - g.sliceSpacing / 2;
      const double zMax = std::max(zLow, zHigh) + g.sliceSpacing / 2;

      for (size_t k = 0; k < p.slices; ++k)
      {
        const size_t s = p.slice0 + k;
        const int16_t* hu = volume.slice(s);
        float* smooth = bone.smooth.data() + k * area;
        for (size_t r = 0; r < p.rows; ++r)
          for (size_t c = 0; c < p.columns; ++c)
            smooth[r * p.columns + c] = hu[(p.row0 + r) * g.columns + p.column0 + c];
        float* fine = bone.fine.data() + k * area;
        std::copy(smooth, smooth + area, fine);
        blurSlice(fine, p.columns, p.rows, FINE_SMOOTHING_PIXELS);
        blurSlice(smooth, p.columns, p.rows, LOCAL_SMOOTHING_MM / g.columnSpacing);

        const PixelBox& box = layout.slices[s].vertebralBody;
        const double cc = (box.column0 + box.column1) / 2 - static_cast<double>(p.column0);
        const double cr = (box.row0 + box.row1) / 2 - static_cast<double>(p.row0);
        const double hw = std::max(2.0, (box.column1 - box.column0) / 2);
        const double hd = std::max(2.0, (box.row1 - box.row0) / 2);
        bone.centreColumn.push_back(cc); bone.centreRow.push_back(cr);
        bone.halfWidth.push_back(hw); bone.halfDepth.push_back(hd);
        auto ellipse = [&](size_t c, size_t r) {
          const double x = (static_cast<double>(c) - cc) / hw, y = (static_cast<double>(r) - cr) / hd;
          return x * x + y * y;
        };

        // The body: bone near the finder's box, with its holes filled (osteopenic cancellous bone
        // may read below BONE_HU inside an intact shell).
        std::vector<uint8_t> solid(area, 0), outside(area, 0);
        for (size_t r = 0; r < p.rows; ++r)
          for (size_t c = 0; c < p.columns; ++c)
            solid[r * p.columns + c] = smooth[r * p.columns + c] >= BONE_HU && ellipse(c, r) <= 1.44;
        std::deque<size_t> queue;
        for (size_t r = 0; r < p.rows; ++r)
          for (size_t c = 0; c < p.columns; ++c)
          {
            const size_t i = r * p.columns + c;
            if (!solid[i] && ellipse(c, r) > 1.44) { outside[i] = 1; queue.push_back(i); }
          }
        while (!queue.empty())
        {
          const size_t i = queue.front();
          queue.pop_front();
          const size_t c = i % p.columns, r = i / p.columns;
          const size_t neighbours[4] = {c > 0 ? i - 1 : i, c + 1 < p.columns ? i + 1 : i,
                                        r > 0 ? i - p.columns : i, r + 1 < p.rows ? i + p.columns : i};
          for (size_t n : neighbours)
          {
            if (!outside[n] && !solid[n]) { outside[n] = 1; queue.push_back(n); }
          }
        }
        std::vector<uint8_t> body(area, 0);
        for (size_t r = 0; r < p.rows; ++r)
          for (size_t c = 0; c < p.columns; ++c)
          {
            const size_t i = r * p.columns + c;
            // The inner part of the finder's ellipse is always body: a shell broken on this
            // slice (the basivertebral foramen, a thick slice) or cancellous bone below BONE_HU
            // lets the fill leak; the fill then only finds where the cortex really is.
            body[i] = (!outside[i] && ellipse(c, r) <= 1.21) || ellipse(c, r) <= 0.64;
          }
        const std::vector<float> depth = distanceInside(body, p.columns, p.rows);
        const double z = volume.toPatient(0, 0, static_cast<double>(s))[2];
        const bool endplate = z - zMin < ENDPLATE_MM || zMax - z < ENDPLATE_MM;
        for (size_t i = 0; i < area; ++i)
        {
          bone.body[k * area + i] = body[i];
          bone.depthMm[k * area + i] = static_cast<float>(depth[i] * g.columnSpacing);
          bone.trabecular[k * area + i] = body[i] && !endplate && depth[i] * g.columnSpacing >= CORTEX_MARGIN_MM;
        }
      }
      // The image's noise and the bone's texture as robust spreads (median absolute deviation)
      // of the residual: in the soft tissue around the vertebra (muscle, fat, vessels: noise)
      // and in its trabecular bone (noise plus trabecular texture), in the texture band.
      std::vector<float> softMiddle, softTotal, boneMiddle;
      for (size_t k = 0; k < p.slices; ++k)
      {
        const int16_t* hu = volume.slice(p.slice0 + k);
        for (size_t r = 0; r < p.rows; ++r)
          for (size_t c = 0; c < p.columns; ++c)
          {
            const size_t i = k * area + r * p.columns + c;
            const float old = hu[(p.row0 + r) * g.columns + p.column0 + c];
            if (bone.smooth[i] > -150 && bone.smooth[i] < 120)
            {
              softMiddle.push_back(bone.fine[i] - bone.smooth[i]);
              softTotal.push_back(old - bone.smooth[i]);
            }
            else if (bone.trabecular[i])
            {
              boneMiddle.push_back(bone.fine[i] - bone.smooth[i]);
            }
          }
      }
      auto spread = [](std::vector<float>& values) {
        for (float& v : values) v = std::fabs(v);
        std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
        return std::max(1.0, 1.4826 * values[values.size() / 2]);
      };
      if (softTotal.size() >= 200 && boneMiddle.size() >= 50)
      {
        bone.noiseSigmaHu = std::max(5.0, spread(softTotal));
        bone.keepMiddle = std::min(1.0, spread(softMiddle) / spread(boneMiddle));
      }
      return bone;
    }

    double smoothstep(double edge0, double edge1, double x)
    {
      const double t = std::clamp((x - edge0) / (edge1 - edge0), 0.0, 1.0);
      return t * t * (3 - 2 * t);
    }

    struct LesionPlan
    {
      bool lytic = true;
      std::string region = "body";     // body, left-pedicle, right-pedicle
      Vector3 centre{};                // mm
      Vector3 radii{};                 // mm
      double hu = 0;                   // target
      double edge = 0.1;               // softness of the margin, in units of the radius
      std::vector<uint8_t> allowed;    // the region the lesion may occupy (patch)
      uint64_t fieldSeed = 0;
    };

    // The lesion's weight on the patch: the share of each voxel that is lesion after the slab
    // average (slice thickness) and the in-plane point spread.
    std::vector<float> lesionWeight(const Volume& volume, const VertebraBone& bone, const LesionPlan& plan)
    {
      const VolumeGeometry& g = volume.geometry();
      const Patch& p = bone.patch;
      const SmoothField coarse(plan.fieldSeed), fine(plan.fieldSeed ^ 0xA5A5A5A5ull);
      const double meanRadius = (plan.radii[0] + plan.radii[1] + plan.radii[2]) / 3;
      const double coarseScale = 0.7 * meanRadius, fineScale = 0.3 * meanRadius;
      const int slabSamples = std::clamp(static_cast<int>(std::ceil(g.sliceThickness / SLAB_SAMPLE_MM)), 1, 9);
      std::vector<float> weight(p.size(), 0);
      const size_t area = p.columns * p.rows;
      for (size_t k = 0; k < p.slices; ++k)
      {
        for (size_t r = 0; r < p.rows; ++r)
          for (size_t c = 0; c < p.columns; ++c)
          {
            const size_t i = k * area + r * p.columns + c;
            if (!plan.allowed[i]) continue;
            double sum = 0;
            int count = 0;
            for (int dz = 0; dz < slabSamples; ++dz)
            {
              const double offsetMm = ((dz + 0.5) / slabSamples - 0.5) * g.sliceThickness;
              for (int sub = 0; sub < 4; ++sub)
              {
                const double dc = (sub % 2) ? 0.25 : -0.25, dr = (sub / 2) ? 0.25 : -0.25;
                const Vector3 x = volume.toPatient(static_cast<double>(p.column0 + c) + dc, static_cast<double>(p.row0 + r) + dr,
                                                   static_cast<double>(p.slice0 + k) + offsetMm / g.sliceSpacing);
                double q = 0;
                for (int a = 0; a < 3; ++a)
                {
                  const double u = (x[a] - plan.centre[a]) / plan.radii[a];
                  q += u * u;
                }
                if (q > 4) { ++count; continue; }
                const double field = 0.7 * coarse.at(x[0] / coarseScale, x[1] / coarseScale, x[2] / coarseScale) +
                                     0.3 * fine.at(x[0] / fineScale, x[1] / fineScale, x[2] / fineScale);
                const double f = 1 - std::sqrt(q) + 0.35 * field;
                sum += smoothstep(-plan.edge, plan.edge, f);
                ++count;
              }
            }
            weight[i] = static_cast<float>(sum / count);
          }
        blurSlice(weight.data() + k * area, p.columns, p.rows, IN_PLANE_BLUR_PIXELS);
      }
      return weight;
    }

    Vector3 patchToPatient(const Volume& volume, const Patch& p, size_t i)
    {
      const size_t area = p.columns * p.rows;
      const size_t k = i / area, r = (i % area) / p.columns, c = i % p.columns;
      return volume.toPatient(static_cast<double>(p.column0 + c), static_cast<double>(p.row0 + r),
                              static_cast<double>(p.slice0 + k));
    }

    // A body lesion: centre deep in the trabecular region (or near the shell for a lesion that
    // breaks through it), radii scaled to the body.
    LesionPlan planBodyLesion(const Volume& volume, const VertebraBone& bone, Random& random, bool lytic,
                              double radiusScale, const HybridLesionRanges& ranges, const Vector3* avoid,
                              double avoidRadius)
    {
      const Patch& p = bone.patch;
      LesionPlan plan;
      plan.lytic = lytic;
      plan.fieldSeed = random.next();
      const bool breach = lytic && random.chance(BREACH_PROBABILITY);
      const double r = random.uniform(ranges.radiusMinMm, ranges.radiusMaxMm) * radiusScale *
                       std::sqrt(std::max(0.5, bone.widthMm / 40.0));
      const double rMax = 0.4 * std::min(bone.widthMm, bone.depthMmBody);
      const double radius = std::min(r, std::max(2.0, rMax));
      plan.radii = {radius * random.uniform(0.85, 1.15), radius * random.uniform(0.85, 1.15),
                    std::min(radius * random.uniform(0.7, 1.0), std::max(1.0, 0.45 * bone.heightMm))};
      plan.hu = lytic ? random.uniform(ranges.lyticHuMin, ranges.lyticHuMax)
                      : random.uniform(ranges.blasticHuMin, ranges.blasticHuMax);
      plan.edge = lytic ? 0.08 : 0.3;   // lytic: sharp (geographic) margin; blastic: ill-defined

      float deepest = 0;
      for (size_t i = 0; i < p.size(); ++i)
        if (bone.trabecular[i]) deepest = std::max(deepest, bone.depthMm[i]);
      std::vector<size_t> candidates;
      for (size_t i = 0; i < p.size(); ++i)
      {
        if (!bone.trabecular[i]) continue;
        const bool fits = breach ? bone.depthMm[i] <= CORTEX_MARGIN_MM + 2.5 : bone.depthMm[i] >= 0.4 * deepest;
        if (!fits) continue;
        if (avoid)
        {
          const Vector3 x = patchToPatient(volume, p, i);
          const double d = std::hypot(x[0] - (*avoid)[0], x[1] - (*avoid)[1], x[2] - (*avoid)[2]);
          if (d < avoidRadius) continue;
        }
        candidates.push_back(i);
      }
      if (candidates.empty() && avoid)
      {
        // no room apart: the trabecular voxel farthest from the other lesion
        double best = -1;
        for (size_t i = 0; i < p.size(); ++i)
        {
          if (!bone.trabecular[i]) continue;
          const Vector3 x = patchToPatient(volume, p, i);
          const double d = std::hypot(x[0] - (*avoid)[0], x[1] - (*avoid)[1], x[2] - (*avoid)[2]);
          if (d > best) { best = d; candidates.assign(1, i); }
        }
      }
      if (candidates.empty())
      {
        for (size_t i = 0; i < p.size(); ++i)
          if (bone.trabecular[i]) candidates.push_back(i);
      }
      if (candidates.empty())
      {
        throw AnalysisError("hybrid-vertebrae", "the vertebra has no trabecular bone to hold a lesion "
                            "(its body is smaller than the cortex margin on every slice)");
      }
      plan.centre = patchToPatient(volume, p, candidates[random.index(candidates.size())]);
      plan.allowed.assign(p.size(), 0);
      const size_t area = p.columns * p.rows;
      for (size_t i = 0; i < p.size(); ++i)
      {
        if (!breach)
        {
          plan.allowed[i] = bone.trabecular[i];
          continue;
        }
        // through the shell and a little beyond it, but not into the end plates' slices' discs
        const size_t k = i / area, r = (i % area) / p.columns, c = i % p.columns;
        const double x = (static_cast<double>(c) - bone.centreColumn[k]) / bone.halfWidth[k];
        const double y = (static_cast<double>(r) - bone.centreRow[k]) / bone.halfDepth[k];
        const bool endplateSlice = !std::any_of(bone.trabecular.begin() + k * area, bone.trabecular.begin() + (k + 1) * area,
                                                [](uint8_t t) { return t != 0; });
        plan.allowed[i] = bone.trabecular[i] || (!endplateSlice && (bone.body[i] || x * x + y * y <= 1.3));
      }
      if (breach) plan.region = "body";
      return plan;
    }

    // A posterolateral lesion: centred on the pedicle of one side (the centroid of that side's
    // dense posterior bone next to the body), in the cranial three quarters of the vertebra, on
    // the vertebra's own bone there (pedicle, the body's posterolateral corner, the root of the
    // transverse process and lamina).
    LesionPlan planPedicleLesion(const Volume& volume, const VertebraBone& bone, Random& random, bool lytic,
                                 bool left, const HybridLesionRanges& ranges)
    {
      const VolumeGeometry& g = volume.geometry();
      const Patch& p = bone.patch;
      const size_t area = p.columns * p.rows;
      LesionPlan plan;
      plan.lytic = lytic;
      plan.region = left ? "left-pedicle" : "right-pedicle";
      plan.fieldSeed = random.next();
      plan.edge = lytic ? 0.1 : 0.3;
      plan.hu = lytic ? random.uniform(ranges.lyticHuMin, ranges.lyticHuMax)
                      : random.uniform((ranges.blasticHuMin + ranges.blasticHuMax) / 2, ranges.blasticHuMax);

      // which patch slices are the cranial three quarters (volume z grows with the slice index
      // when sliceDirection points head-wards)
      const bool upIsHigherIndex = g.sliceDirection[2] >= 0;
      std::vector<uint8_t> window(p.size(), 0);
      double sx = 0, sy = 0, sz = 0;
      size_t n = 0;
      const double side = left ? 1 : -1;
      for (size_t k = 0; k < p.slices; ++k)
      {
        const double fromTop = upIsHigherIndex ? static_cast<double>(p.slices - 1 - k) : static_cast<double>(k);
        if (fromTop > 0.75 * static_cast<double>(p.slices)) continue;
        for (size_t r = 0; r < p.rows; ++r)
          for (size_t c = 0; c < p.columns; ++c)
          {
            const double lateral = (static_cast<double>(c) - bone.centreColumn[k]) * bone.lateralSign * side / bone.halfWidth[k];
            const double back = (static_cast<double>(r) - bone.centreRow[k]) * bone.posteriorSign / bone.halfDepth[k];
            if (lateral < 0.2 || lateral > 1.3 || back < 0.55 || back > 2.2) continue;
            const size_t i = k * area + r * p.columns + c;
            window[i] = 1;
            if (bone.smooth[i] >= POSTERIOR_BONE_HU && back > 0.9)
            {
              const Vector3 x = patchToPatient(volume, p, i);
              sx += x[0]; sy += x[1]; sz += x[2]; ++n;
            }
          }
      }
      const double pixelArea = g.columnSpacing * g.rowSpacing;
      if (n * pixelArea >= 10)
      {
        plan.centre = {sx / n, sy / n, sz / n};
      }
      else
      {
        // no dense bone found there: where a pedicle leaves a body
        const size_t k = p.slices / 2;
        plan.centre = volume.toPatient(
          static_cast<double>(p.column0) + bone.centreColumn[k] + 0.6 * bone.halfWidth[k] * bone.lateralSign * side,
          static_cast<double>(p.row0) + bone.centreRow[k] + 1.2 * bone.halfDepth[k] * bone.posteriorSign,
          static_cast<double>(p.slice0 + k));
      }
      plan.radii = {0.22 * bone.widthMm * random.uniform(0.85, 1.15), 0.3 * bone.depthMmBody * random.uniform(0.85, 1.15),
                    std::max(1.0, 0.3 * bone.heightMm * random.uniform(0.85, 1.15))};
      plan.allowed.assign(p.size(), 0);
      for (size_t i = 0; i < p.size(); ++i)
      {
        plan.allowed[i] = window[i] && (bone.smooth[i] >= BONE_HU || bone.trabecular[i]);
      }
      if (lytic)
      {
        // a lytic lesion may erode through the pedicle's cortex: one pixel beyond its bone
        std::vector<uint8_t> grown = plan.allowed;
        for (size_t k = 0; k < p.slices; ++k)
          for (size_t r = 1; r + 1 < p.rows; ++r)
            for (size_t c = 1; c + 1 < p.columns; ++c)
            {
              const size_t i = k * area + r * p.columns + c;
              if (window[i] && !grown[i] && (plan.allowed[i - 1] || plan.allowed[i + 1] ||
                                             plan.allowed[i - p.columns] || plan.allowed[i + p.columns]))
                grown[i] = 1;
            }
        plan.allowed.swap(grown);
      }
      return plan;
    }

    const char* qualityName(BoneQuality q)
    {
      switch (q)
      {
        case BoneQuality::Normal: return "normal";
        case BoneQuality::Blastic: return "blastic";
        case BoneQuality::Lytic: return "lytic";
        case BoneQuality::Mixed: return "mixed";
      }
      return "normal";
    }

    std::string canonicalSettings(const HybridSettings& s, const Series& background)
    {
      std::ostringstream text;
      text.precision(17);
      text << "spinemet-hybrid/1|" << background.attributes.seriesInstanceUid << "|" << s.seed << "|" << s.lesionProbability;
      for (double w : s.lesionTypeWeights) text << "," << w;
      text << "|" << s.posterolateralProbability << "|" << s.bilateralProbability << "|" << s.ranges.radiusMinMm << ","
           << s.ranges.radiusMaxMm << "," << s.ranges.lyticHuMin << "," << s.ranges.lyticHuMax << ","
           << s.ranges.blasticHuMin << "," << s.ranges.blasticHuMax << "|";
      for (const auto& [key, label] : s.labels)
        text << key << "=" << qualityName(label.boneQuality) << ":" << static_cast<int>(label.posterolateral) << ":"
             << static_cast<int>(label.side) << ";";
      text << "|";
      for (const HandVertebra& h : s.handVertebrae) text << h.level << ":" << h.zMinMm << ":" << h.zMaxMm << ";";
      text << "|";
      for (const std::string& w : s.withheld) text << w << ";";
      return text.str();
    }

    void checkSettings(const HybridSettings& s)
    {
      auto probability = [](double p, const char* name) {
        if (!(p >= 0 && p <= 1))
          throw AnalysisError("hybrid-settings", std::string(name) + " must be between 0 and 1, not " + std::to_string(p));
      };
      probability(s.lesionProbability, "--lesion-probability");
      probability(s.posterolateralProbability, "--posterolateral-probability");
      probability(s.bilateralProbability, "--bilateral-probability");
      const auto& w = s.lesionTypeWeights;
      if (!(w[0] >= 0 && w[1] >= 0 && w[2] >= 0 && w[0] + w[1] + w[2] > 0))
        throw AnalysisError("hybrid-settings", "--lesion-weights must be three non-negative numbers, not all zero");
      const HybridLesionRanges& r = s.ranges;
      if (!(r.radiusMinMm >= 1 && r.radiusMaxMm >= r.radiusMinMm && r.radiusMaxMm <= 30))
        throw AnalysisError("hybrid-settings", "--lesion-radius must be MIN,MAX with 1 <= MIN <= MAX <= 30 mm");
      if (!(r.lyticHuMin >= -100 && r.lyticHuMax >= r.lyticHuMin && r.lyticHuMax <= 150))
        throw AnalysisError("hybrid-settings", "--lytic-hu must be MIN,MAX with -100 <= MIN <= MAX <= 150 (soft tissue)");
      if (!(r.blasticHuMin >= 250 && r.blasticHuMax >= r.blasticHuMin && r.blasticHuMax <= 2000))
        throw AnalysisError("hybrid-settings", "--blastic-hu must be MIN,MAX with 250 <= MIN <= MAX <= 2000");
    }
  }

  HybridStudy makeHybrid(const Series& background, const HybridSettings& settings)
  {
    checkSettings(settings);
    HybridStudy study;
    study.settings = settings;
    study.background = background;
    const Volume& volume = background.volume;
    const VolumeGeometry& g = volume.geometry();

    try
    {
      study.layout = findSpine(volume);
    }
    catch (const AnalysisError& error)
    {
      if (error.code() == "no-spine")
      {
        throw AnalysisError("no-spine", std::string("the background series shows no spine, so there is nowhere to "
                            "insert a lesion: ") + error.what());
      }
      throw;
    }
    std::vector<FoundVertebra> found = vertebraeOf(background, study.layout, settings);
    study.vertebraSource = settings.handVertebrae.empty() ? "spine finder" : "hand list " + settings.handVertebraeSource;
    if (found.empty())
    {
      throw AnalysisError("no-spine", "the spine finder found a column but no vertebra in it");
    }

    // Keys (index or level) -> vertebra; every forced label and withheld key must name one.
    std::map<std::string, size_t> keyToVertebra;
    for (size_t v = 0; v < found.size(); ++v)
    {
      keyToVertebra[std::to_string(v)] = v;
      if (!found[v].level.empty()) keyToVertebra[found[v].level] = v;
    }
    auto describeFound = [&]() {
      std::string text = std::to_string(found.size()) + " vertebrae were found (indices 0-" + std::to_string(found.size() - 1);
      std::string levels;
      for (const FoundVertebra& f : found)
        if (!f.level.empty()) levels += (levels.empty() ? "" : ", ") + f.level;
      text += levels.empty() ? "; no level could be named)" : "; levels " + levels + ")";
      return text;
    };
    std::vector<const HybridLabel*> forced(found.size(), nullptr);
    for (const auto& [key, label] : settings.labels)
    {
      const auto it = keyToVertebra.find(key);
      if (it == keyToVertebra.end())
        throw AnalysisError("hybrid-labels", "the label for vertebra " + key + " names no vertebra of this series: " + describeFound());
      if (forced[it->second])
        throw AnalysisError("hybrid-labels", "vertebra " + std::to_string(it->second) + " is labelled twice (by index and by level)");
      forced[it->second] = &label;
    }
    study.withheld.assign(found.size(), false);
    for (const std::string& key : settings.withheld)
    {
      const auto it = keyToVertebra.find(key);
      if (it == keyToVertebra.end())
        throw AnalysisError("hybrid-labels", "the withheld vertebra " + key + " names no vertebra of this series: " + describeFound());
      study.withheld[it->second] = true;
      if (forced[it->second] && forced[it->second]->boneQuality != BoneQuality::Normal)
        throw AnalysisError("hybrid-labels", "vertebra " + key + " is both withheld and given a lesion");
    }

    // New identity: a derived series of a new study, traceable to the background by the truth.
    const std::string canonical = canonicalSettings(settings, background);
    study.series = background;
    SeriesAttributes& a = study.series.attributes;
    a.studyInstanceUid = uidFromText(canonical + "|study");
    a.seriesInstanceUid = uidFromText(canonical + "|series");
    a.frameOfReferenceUid = uidFromText(canonical + "|frame-of-reference");
    for (SliceReference& slice : study.series.slices)
    {
      const std::string uid = uidFromText(canonical + "|instance|" + slice.sopInstanceUid);
      study.uidMap[slice.sopInstanceUid] = uid;
      slice.sopInstanceUid = uid;
    }

    // Labels: one draw per vertebra from its own stream position, whether forced or not, so that
    // forcing one vertebra does not change the others.
    Random labelStream(hashText("labels", settings.seed));
    const double weightSum = settings.lesionTypeWeights[0] + settings.lesionTypeWeights[1] + settings.lesionTypeWeights[2];
    std::vector<HybridLabel> labels(found.size());
    for (size_t v = 0; v < found.size(); ++v)
    {
      const double uLesion = labelStream.uniform(), uType = labelStream.uniform() * weightSum;
      const double uExtension = labelStream.uniform(), uBilateral = labelStream.uniform(), uSide = labelStream.uniform();
      HybridLabel label;
      if (uLesion < settings.lesionProbability)
      {
        label.boneQuality = uType < settings.lesionTypeWeights[0] ? BoneQuality::Blastic
                          : uType < settings.lesionTypeWeights[0] + settings.lesionTypeWeights[1] ? BoneQuality::Lytic
                          : BoneQuality::Mixed;
        if (uExtension < settings.posterolateralProbability)
        {
          label.posterolateral = uBilateral < settings.bilateralProbability ? Posterolateral::Bilateral : Posterolateral::Unilateral;
          label.side = label.posterolateral == Posterolateral::Bilateral ? LesionSide::Both
                     : uSide < 0.5 ? LesionSide::Left : LesionSide::Right;
        }
      }
      if (forced[v])
      {
        label = *forced[v];
        if (label.posterolateral == Posterolateral::Unilateral && label.side == LesionSide::None)
          label.side = uSide < 0.5 ? LesionSide::Left : LesionSide::Right;
      }
      if (study.withheld[v]) label = HybridLabel{};
      labels[v] = label;
    }

    // Truth skeleton: vertebrae cranial first (the finder's order), slices cranial first.
    const size_t minimumVisible = std::max<size_t>(3, static_cast<size_t>(std::ceil(VISIBLE_AREA_MM2 / (g.columnSpacing * g.rowSpacing))));
    std::vector<int> vertebraOfSlice(g.slices, -1);
    study.changedVoxels.assign(found.size(), 0);
    struct SliceFlags { bool any = false, blastic = false, lytic = false, left = false, right = false; };
    std::vector<SliceFlags> flags(g.slices);

    for (size_t v = 0; v < found.size(); ++v)
    {
      const FoundVertebra& f = found[v];
      for (size_t s = f.firstSlice; s <= f.lastSlice; ++s) vertebraOfSlice[s] = static_cast<int>(v);
      const VertebraBone bone = analyseVertebra(background, study.layout, f);
      const Patch& p = bone.patch;
      const size_t area = p.columns * p.rows;

      PhantomVertebra truth;
      truth.index = static_cast<int>(v);
      truth.level = f.level;
      const double zA = volume.toPatient(0, 0, static_cast<double>(f.firstSlice))[2];
      const double zB = volume.toPatient(0, 0, static_cast<double>(f.lastSlice))[2];
      truth.zMinMm = std::min(zA, zB) - g.sliceSpacing / 2;
      truth.zMaxMm = std::max(zA, zB) + g.sliceSpacing / 2;
      truth.boneQuality = labels[v].boneQuality;
      truth.posterolateral = labels[v].posterolateral;
      truth.side = labels[v].side;
      const size_t middle = (f.firstSlice + f.lastSlice) / 2;
      const PixelBox& box = study.layout.slices[middle].vertebralBody;
      truth.bodyCentreColumn = (box.column0 + box.column1) / 2;
      truth.bodyCentreRow = (box.row0 + box.row1) / 2;
      truth.bodyCentre = volume.toPatient(truth.bodyCentreColumn, truth.bodyCentreRow,
                                          (static_cast<double>(f.firstSlice) + static_cast<double>(f.lastSlice)) / 2);
      truth.bodyWidthMm = bone.widthMm;
      truth.bodyDepthMm = bone.depthMmBody;
      truth.bodyHeightMm = truth.zMaxMm - truth.zMinMm;

      const HybridLabel& label = labels[v];
      std::vector<LesionPlan> plans;
      try
      {
        if (label.boneQuality != BoneQuality::Normal)
        {
          Random lesionStream(hashText("lesions|" + std::to_string(v), settings.seed));
          const bool mixed = label.boneQuality == BoneQuality::Mixed;
          if (mixed)
          {
            plans.push_back(planBodyLesion(volume, bone, lesionStream, true, 0.8, settings.ranges, nullptr, 0));
            const double apart = plans[0].radii[0] + 0.7 * settings.ranges.radiusMinMm;
            plans.push_back(planBodyLesion(volume, bone, lesionStream, false, 0.7, settings.ranges, &plans[0].centre, apart));
          }
          else
          {
            plans.push_back(planBodyLesion(volume, bone, lesionStream, label.boneQuality == BoneQuality::Lytic, 1.0,
                                           settings.ranges, nullptr, 0));
          }
          const bool pedicleLytic = mixed ? lesionStream.chance(0.5) : label.boneQuality == BoneQuality::Lytic;
          if (label.side == LesionSide::Left || label.side == LesionSide::Both)
            plans.push_back(planPedicleLesion(volume, bone, lesionStream, pedicleLytic, true, settings.ranges));
          if (label.side == LesionSide::Right || label.side == LesionSide::Both)
            plans.push_back(planPedicleLesion(volume, bone, lesionStream, pedicleLytic, false, settings.ranges));
        }
      }
      catch (const AnalysisError& error)
      {
        // A vertebra too small to hold a lesion (cut by the scan, a few thin slices of end plate):
        // a forced label cannot be honoured, a drawn one falls back to normal.
        const std::string name = "vertebra " + std::to_string(v) + (f.level.empty() ? "" : " (" + f.level + ")");
        if (forced[v])
        {
          throw AnalysisError(error.code(), name + " cannot take the label given: " + error.what());
        }
        plans.clear();
        study.warnings.push_back(name + " drew a lesion but " + error.what() + ": labelled normal");
        truth.boneQuality = BoneQuality::Normal;
        truth.posterolateral = Posterolateral::None;
        truth.side = LesionSide::None;
      }

      // HU change of each lesion, and per kind / side for the visibility flags.
      std::vector<float> total(p.size(), 0), lyticDelta(p.size(), 0), blasticDelta(p.size(), 0),
                         leftDelta(p.size(), 0), rightDelta(p.size(), 0);
      std::vector<float> lyticShare(p.size(), 0);
      for (size_t l = 0; l < plans.size(); ++l)
      {
        const LesionPlan& plan = plans[l];
        HybridLesion lesion;
        lesion.vertebra = static_cast<int>(v);
        lesion.truth.kind = plan.lytic ? "lytic" : "blastic";
        lesion.truth.region = plan.region;
        lesion.truth.centre = plan.centre;
        lesion.truth.radiiMm = plan.radii;
        lesion.truth.hu = plan.hu;
        lesion.column0 = p.column0; lesion.row0 = p.row0; lesion.slice0 = p.slice0;
        lesion.columns = p.columns; lesion.rows = p.rows; lesion.slices = p.slices;
        lesion.weight = lesionWeight(volume, bone, plan);
        const SmoothField texture(plan.fieldSeed ^ 0x7E47u);
        std::vector<float> original(p.size());
        for (size_t k = 0; k < p.slices; ++k)
          for (size_t r = 0; r < p.rows; ++r)
            for (size_t c = 0; c < p.columns; ++c)
              original[k * area + r * p.columns + c] = volume.slice(p.slice0 + k)[(p.row0 + r) * g.columns + p.column0 + c];
        for (size_t i = 0; i < p.size(); ++i)
        {
          float w = lesion.weight[i];
          if (!plan.lytic) w *= 1 - lyticShare[i];   // mixed: a blastic focus does not fill a lytic hole
          if (w <= 0) continue;
          const Vector3 x = patchToPatient(volume, p, i);
          // the target varies a little within the lesion: sclerosis is patchy, tumour less so
          const double variation = texture.at(x[0] / 3, x[1] / 3, x[2] / 3);
          const double target = plan.lytic ? plan.hu + 8 * variation : plan.hu * (1 + 0.12 * variation);
          // Lytic lesions only remove density, blastic ones only add it (a blastic focus in dense
          // cortex changes nothing).
          const double smoothPart = target - bone.smooth[i];
          if (plan.lytic ? smoothPart >= 0 : smoothPart <= 0) continue;
          // The residual old - smooth(old) is the image's noise plus the fine structure of the
          // bone being replaced. Its voxel band (old - fine) is this image's noise, at this place:
          // kept whole. Its texture band (fine - smooth) holds the trabeculae a tumour replaces:
          // scaled to what the soft tissue nearby shows there. The sum is clipped at a few noise
          // standard deviations (cortical edges are structure, not noise).
          // new = (1 - w) old + w (target + kept)
          const double residual = original[i] - bone.smooth[i];
          const double limit = RESIDUAL_KEPT_SIGMAS * bone.noiseSigmaHu;
          const double fineResidual = original[i] - bone.fine[i];
          const double middleResidual = bone.fine[i] - bone.smooth[i];
          const double kept = std::clamp(fineResidual + bone.keepMiddle * middleResidual, -limit, limit);
          const double delta = w * (smoothPart + kept - residual);
          total[i] += static_cast<float>(delta);
          (plan.lytic ? lyticDelta : blasticDelta)[i] += static_cast<float>(delta);
          if (plan.region == "left-pedicle") leftDelta[i] += static_cast<float>(delta);
          if (plan.region == "right-pedicle") rightDelta[i] += static_cast<float>(delta);
          if (std::fabs(delta) >= VISIBLE_CHANGE_HU) ++lesion.changedVoxels;
        }
        if (plan.lytic)
          for (size_t i = 0; i < p.size(); ++i) lyticShare[i] = std::max(lyticShare[i], lesion.weight[i]);
        if (lesion.changedVoxels == 0)
        {
          study.warnings.push_back("the " + lesion.truth.kind + " lesion in the " + lesion.truth.region + " of vertebra " +
                                   std::to_string(v) + (f.level.empty() ? "" : " (" + f.level + ")") +
                                   " changed no voxel by " + std::to_string(static_cast<int>(VISIBLE_CHANGE_HU)) +
                                   " HU or more: the bone there already reads close to its target; the vertebra keeps its label");
        }
        truth.lesions.push_back(lesion.truth);
        study.lesions.push_back(std::move(lesion));
      }

      // Apply, and read the flags off the voxels actually changed.
      for (size_t k = 0; k < p.slices && !plans.empty(); ++k)
      {
        const size_t s = p.slice0 + k;
        int16_t* out = study.series.volume.slice(s);
        const int16_t* in = volume.slice(s);
        size_t changed = 0, lytic = 0, blastic = 0, left = 0, right = 0;
        for (size_t r = 0; r < p.rows; ++r)
          for (size_t c = 0; c < p.columns; ++c)
          {
            const size_t i = k * area + r * p.columns + c;
            const size_t o = (p.row0 + r) * g.columns + p.column0 + c;
            const long value = std::lround(static_cast<double>(in[o]) + total[i]);
            out[o] = static_cast<int16_t>(std::clamp(value, -1024L, 3071L));
            if (std::abs(static_cast<int>(out[o]) - static_cast<int>(in[o])) >= VISIBLE_CHANGE_HU) ++changed;
            if (std::fabs(lyticDelta[i]) >= VISIBLE_CHANGE_HU) ++lytic;
            if (std::fabs(blasticDelta[i]) >= VISIBLE_CHANGE_HU) ++blastic;
            if (std::fabs(leftDelta[i]) >= VISIBLE_CHANGE_HU) ++left;
            if (std::fabs(rightDelta[i]) >= VISIBLE_CHANGE_HU) ++right;
          }
        study.changedVoxels[v] += changed;
        flags[s].any = changed >= minimumVisible;
        flags[s].lytic = lytic >= minimumVisible;
        flags[s].blastic = blastic >= minimumVisible;
        flags[s].left = left >= minimumVisible;
        flags[s].right = right >= minimumVisible;
      }
      study.truth.vertebrae.push_back(truth);
    }

    // Slices, cranial first.
    std::vector<size_t> order(g.slices);
    for (size_t s = 0; s < g.slices; ++s) order[s] = s;
    std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
      return volume.toPatient(0, 0, static_cast<double>(x))[2] > volume.toPatient(0, 0, static_cast<double>(y))[2];
    });
    for (size_t s : order)
    {
      PhantomSlice slice;
      slice.sopInstanceUid = study.series.slices[s].sopInstanceUid;
      slice.zMm = background.slices[s].position;
      slice.instanceNumber = background.slices[s].instanceNumber;
      slice.vertebra = vertebraOfSlice[s];
      if (slice.vertebra >= 0)
      {
        const PhantomVertebra& v = study.truth.vertebrae[slice.vertebra];
        slice.boneQuality = v.boneQuality;
        slice.posterolateral = v.posterolateral;
        slice.side = v.side;
        const PixelBox& box = study.layout.slices[s].vertebralBody;
        slice.bodyCentreColumn = (box.column0 + box.column1) / 2;
        slice.bodyCentreRow = (box.row0 + box.row1) / 2;
        study.truth.vertebrae[slice.vertebra].sopInstanceUids.push_back(slice.sopInstanceUid);
      }
      slice.lesionVisible = flags[s].any;
      slice.lyticLesionVisible = flags[s].lytic;
      slice.blasticLesionVisible = flags[s].blastic;
      slice.posterolateralLesionVisible = flags[s].left || flags[s].right;
      slice.posterolateralVisibleSide = flags[s].left && flags[s].right ? LesionSide::Both
                                      : flags[s].left ? LesionSide::Left : flags[s].right ? LesionSide::Right : LesionSide::None;
      study.truth.slices.push_back(slice);
    }
    return study;
  }
}
