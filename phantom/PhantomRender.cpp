// SPDX-License-Identifier: GPL-3.0-or-later
// One axial slab of the phantom, drawn from analytic shapes. Partial volume is computed, not
// sampled: in-plane by anti-aliased edges (signed distances), along z by the exact overlap of the
// slab with each shape's z extent and with each lesion ellipsoid's chord through the pixel.
#include "phantom/PhantomModel.h"

#include <algorithm>
#include <cmath>

namespace spinemet
{
  namespace phantom_detail
  {
    namespace
    {
      const double AIR_HU = -1000;
      const double FAT_HU = -100;
      const double MUSCLE_HU = 50;
      const double VISCERA_HU = 35;
      const double LUNG_HU = -850;
      const double DISC_ANNULUS_HU = 95;
      const double VISIBLE_LESION_FRACTION = 0.4;   // of one voxel

      inline double clamp01(double value)
      {
        return value < 0 ? 0 : (value > 1 ? 1 : value);
      }

      inline double smoothStep(double edge0, double edge1, double x)
      {
        const double t = clamp01((x - edge0) / (edge1 - edge0));
        return t * t * (3 - 2 * t);
      }

      // Value noise on an integer lattice, smoothly interpolated: the trabecular texture of
      // cancellous bone, the same wherever a slice cuts it. Returns -1..1.
      inline double latticeValue(uint64_t seed, int64_t i, int64_t j, int64_t k)
      {
        uint64_t h = seed ^ (static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull) ^
                     (static_cast<uint64_t>(j) * 0xC2B2AE3D27D4EB4Full) ^
                     (static_cast<uint64_t>(k) * 0x165667B19E3779F9ull);
        h ^= h >> 31;
        h *= 0xBF58476D1CE4E5B9ull;
        h ^= h >> 29;
        return static_cast<double>(h >> 11) * (2.0 / 9007199254740992.0) - 1.0;
      }

      inline double valueNoise(uint64_t seed, double x, double y, double z)
      {
        return interpolatedNoise([seed](int64_t i, int64_t j, int64_t k) { return latticeValue(seed, i, j, k); }, x, y, z);
      }

      inline double trabecularTexture(uint64_t seed, double x, double y, double z)
      {
        return 0.65 * valueNoise(seed, x / 1.6, y / 1.6, z / 1.6) +
               0.35 * valueNoise(seed + 1, x / 4.5, y / 4.5, z / 4.5);
      }

      inline double bump(double x, double centre, double width)
      {
        const double t = (x - centre) / width;
        return std::exp(-t * t);
      }

      // First-order signed distance to an ellipse: exact on the axes, good near the outline.
      inline double ellipseDistance(double x, double y, double cx, double cy, double ax, double ay)
      {
        const double u = (x - cx) / ax;
        const double v = (y - cy) / ay;
        const double r = std::sqrt(u * u + v * v);
        const double gradient = std::sqrt(u * u / (ax * ax) + v * v / (ay * ay));
        if (r < 1e-9 || gradient < 1e-12)
        {
          return -std::min(ax, ay);
        }
        return (r - 1) * r / gradient;
      }

      inline double capsuleDistance(double x, double y, const Element& e)
      {
        const double dx = e.x1 - e.x0;
        const double dy = e.y1 - e.y0;
        const double lengthSquared = dx * dx + dy * dy;
        double t = lengthSquared > 0 ? ((x - e.x0) * dx + (y - e.y0) * dy) / lengthSquared : 0;
        t = t < 0 ? 0 : (t > 1 ? 1 : t);
        const double px = x - (e.x0 + t * dx);
        const double py = y - (e.y0 + t * dy);
        return std::sqrt(px * px + py * py) - e.radius;
      }

      inline double elementDistance(double x, double y, const Element& e)
      {
        const double d = e.shape == Element::Shape::Ellipse ?
          ellipseDistance(x, y, e.x0, e.y0, e.x1, e.y1) : capsuleDistance(x, y, e);
        return std::max(d, y - e.clipMaxY);
      }

      struct PixelBounds
      {
        size_t column0 = 0, column1 = 0, row0 = 0, row1 = 0;   // half-open
        bool empty() const { return column0 >= column1 || row0 >= row1; }
      };

      PixelBounds boundsOf(const SliceGrid& grid, double xMin, double xMax, double yMin, double yMax)
      {
        auto toIndex = [](double value, size_t count) -> size_t
        {
          if (value < 0) return 0;
          if (value > static_cast<double>(count)) return count;
          return static_cast<size_t>(value);
        };
        PixelBounds b;
        b.column0 = toIndex(std::floor((xMin - grid.originX) / grid.spacing) - 1, grid.columns);
        b.column1 = toIndex(std::ceil((xMax - grid.originX) / grid.spacing) + 2, grid.columns);
        b.row0 = toIndex(std::floor((yMin - grid.originY) / grid.spacing) - 1, grid.rows);
        b.row1 = toIndex(std::ceil((yMax - grid.originY) / grid.spacing) + 2, grid.rows);
        return b;
      }

      // The element where a slice at z cuts it: vertebrae lean with the curve of the column.
      Element shiftedTo(const Element& e, double z)
      {
        Element shifted = e;
        const double dx = e.shearX * (z - e.shearZ);
        const double dy = e.shearY * (z - e.shearZ);
        shifted.x0 += dx;
        shifted.y0 += dy;
        if (e.shape == Element::Shape::Capsule)
        {
          shifted.x1 += dx;
          shifted.y1 += dy;
        }
        shifted.clipMaxY += dy;
        return shifted;
      }

      PixelBounds elementBounds(const SliceGrid& grid, const Element& e)
      {
        double xMin, xMax, yMin, yMax;
        if (e.shape == Element::Shape::Ellipse)
        {
          xMin = e.x0 - e.x1; xMax = e.x0 + e.x1; yMin = e.y0 - e.y1; yMax = e.y0 + e.y1;
        }
        else
        {
          xMin = std::min(e.x0, e.x1) - e.radius; xMax = std::max(e.x0, e.x1) + e.radius;
          yMin = std::min(e.y0, e.y1) - e.radius; yMax = std::max(e.y0, e.y1) + e.radius;
        }
        yMax = std::min(yMax, e.clipMaxY + 1);
        return boundsOf(grid, xMin, xMax, yMin, yMax);
      }

      void include(PixelBounds& total, const PixelBounds& b)
      {
        total.column0 = std::min(total.column0, b.column0);
        total.column1 = std::max(total.column1, b.column1);
        total.row0 = std::min(total.row0, b.row0);
        total.row1 = std::max(total.row1, b.row1);
      }

      // Background painting: each shape covers what was there, weighted by its coverage.
      class Painter
      {
      public:
        Painter(const SliceGrid& grid, std::vector<float>& hu) : grid_(grid), hu_(hu) {}

        template <typename Distance>
        void paint(double xMin, double xMax, double yMin, double yMax, double value, double opacity,
                   Distance distance)
        {
          const PixelBounds b = boundsOf(grid_, xMin, xMax, yMin, yMax);
          if (b.empty() || opacity <= 0)
          {
            return;
          }
          const double inversePixel = 1.0 / grid_.spacing;
          for (size_t row = b.row0; row < b.row1; ++row)
          {
            const double y = grid_.originY + row * grid_.spacing;
            float* line = hu_.data() + row * grid_.columns;
            for (size_t column = b.column0; column < b.column1; ++column)
            {
              const double x = grid_.originX + column * grid_.spacing;
              const double alpha = clamp01(0.5 - distance(x, y) * inversePixel) * opacity;
              if (alpha > 0)
              {
                line[column] += static_cast<float>(alpha * (value - line[column]));
              }
            }
          }
        }

        void ellipse(double cx, double cy, double ax, double ay, double value, double opacity = 1,
                     double clipMaxY = 1e9)
        {
          if (ax <= 0 || ay <= 0)
          {
            return;
          }
          paint(cx - ax, cx + ax, cy - ay, std::min(cy + ay, clipMaxY + 1), value, opacity,
                [&](double x, double y)
                { return std::max(ellipseDistance(x, y, cx, cy, ax, ay), y - clipMaxY); });
        }

      private:
        const SliceGrid& grid_;
        std::vector<float>& hu_;
      };

      // The column's shape between two levels, interpolated along z.
      struct LevelShape
      {
        double level = 0;            // 0 = T1 ... 16 = L5, fractional between levels
        double centreX = 0, centreY = 0, width = 0, depth = 0;
        double canalRadiusX = 0, canalRadiusY = 0, canalCentreY = 0;
        double transverseTipX = 0, spinousTipY = 0;
      };

      LevelShape shapeAt(const Anatomy& anatomy, double z)
      {
        const auto& v = anatomy.vertebrae;
        auto fill = [](const VertebraModel& a, const VertebraModel& b, double t)
        {
          auto mix = [t](double p, double q) { return p + t * (q - p); };
          LevelShape s;
          s.level = mix(a.levelIndex, b.levelIndex);
          s.centreX = mix(a.centreX, b.centreX);
          s.centreY = mix(a.centreY, b.centreY);
          s.width = mix(a.width, b.width);
          s.depth = mix(a.depth, b.depth);
          s.canalRadiusX = mix(a.canalRadiusX, b.canalRadiusX);
          s.canalRadiusY = mix(a.canalRadiusY, b.canalRadiusY);
          s.canalCentreY = mix(a.canalCentreY, b.canalCentreY);
          s.transverseTipX = mix(a.transverseTipX, b.transverseTipX);
          s.spinousTipY = mix(a.spinousTipY, b.spinousTipY);
          return s;
        };
        const double top = anatomy.levelCentresZ.front();
        const double bottom = anatomy.levelCentresZ.back();
        if (z >= top)
        {
          LevelShape s = fill(v.front(), v.front(), 0);
          s.level = -(z - top) / (v.front().height + 4);
          return s;
        }
        if (z <= bottom)
        {
          LevelShape s = fill(v.back(), v.back(), 0);
          s.level = v.back().levelIndex + (bottom - z) / (v.back().height + v.back().discBelow);
          return s;
        }
        for (size_t i = 0; i + 1 < v.size(); ++i)
        {
          const double upper = anatomy.levelCentresZ[i];
          const double lower = anatomy.levelCentresZ[i + 1];
          if (z <= upper && z >= lower)
          {
            return fill(v[i], v[i + 1], (upper - z) / (upper - lower));
          }
        }
        return fill(v.back(), v.back(), 0);
      }

      void paintTable(Painter& painter, const Anatomy& anatomy)
      {
        const double top = anatomy.tableTopY;
        const double halfWidth = 235;
        const double x = anatomy.bodyCentreX;
        auto slab = [&](double y0, double y1, double value)
        {
          painter.paint(x - halfWidth, x + halfWidth, y0, y1, value, 1, [&](double px, double py)
          {
            const double across = std::fabs(px - x) - halfWidth;
            const double along = std::max(y0 - py, py - y1);
            return std::max(across, along);
          });
        };
        slab(top + 1.0, top + 44, 180);        // carbon-fibre shell
        slab(top + 3.5, top + 41.5, -880);     // foam core
      }

      void paintTrunk(Painter& painter, const Anatomy& anatomy, const LevelShape& shape)
      {
        const double cx = anatomy.bodyCentreX;
        const double cy = anatomy.bodyCentreY;
        const double a = anatomy.bodySemiX;
        const double b = anatomy.bodySemiY;
        const double fat = anatomy.fatMm;
        const double back = anatomy.tableTopY;
        const double level = shape.level;

        painter.ellipse(cx, cy, a, b, FAT_HU, 1, back);
        painter.ellipse(cx, cy - fat * 0.1, a - fat, b - fat, MUSCLE_HU, 1, back - fat * 0.6);

        // cavity: thorax above the diaphragm, abdomen below
        const double cavityA = a - fat - 12;
        const double cavityB = b - fat - 10;
        const double cavityBack = shape.centreY + shape.depth * 0.3;
        painter.ellipse(cx, cy - 4, cavityA, cavityB, VISCERA_HU, 1, cavityBack);

        const double abdomen = smoothStep(9.5, 11.5, level);
        if (abdomen > 0)
        {
          // retroperitoneal and mesenteric fat
          painter.ellipse(shape.centreX, shape.centreY - shape.depth * 0.2, shape.width * 1.7,
                          shape.depth * 1.2, -90, abdomen);
          painter.ellipse(cx - cavityA * 0.35, cy - cavityB * 0.45, cavityA * 0.28, cavityB * 0.22,
                          -95, abdomen * smoothStep(11, 13, level));
          painter.ellipse(cx + cavityA * 0.4, cy - cavityB * 0.3, cavityA * 0.22, cavityB * 0.2,
                          -95, abdomen * smoothStep(11.5, 13.5, level));
        }

        // liver (right, lower thorax and upper abdomen) and spleen (left, posterior)
        const double liver = bump(level, 10.5, 2.2);
        if (liver > 0.05)
        {
          painter.ellipse(cx - cavityA * 0.38, cy - cavityB * 0.05, cavityA * 0.55 * liver,
                          cavityB * 0.75 * liver, 58);
        }
        const double spleen = bump(level, 10.3, 1.3);
        if (spleen > 0.1)
        {
          painter.ellipse(cx + cavityA * 0.62, cy + cavityB * 0.35, cavityA * 0.2 * spleen,
                          cavityB * 0.35 * spleen, 48);
        }

        // lungs: full down to T10, receding into the posterior recesses down to T12/L1
        const double lungs = clamp01((anatomy.lungScale * 11.3 - level) / 2.0);
        if (lungs > 0)
        {
          const double size = 0.35 + 0.65 * lungs;
          for (double sign : {-1.0, 1.0})
          {
            const double lx = cx + sign * cavityA * (0.5 + 0.15 * (1 - lungs));
            const double ly = cy + cavityB * (0.05 + 0.45 * (1 - lungs));
            painter.ellipse(lx, ly, cavityA * 0.43 * size, cavityB * 0.82 * size, LUNG_HU, 1,
                            back - fat - 4);
          }
          // mediastinum and heart
          const double heart = bump(level, 7.5, 2.2);
          painter.ellipse(cx + 8 * heart, cy - cavityB * 0.2, cavityA * (0.22 + 0.22 * heart),
                          cavityB * (0.5 + 0.15 * heart), 42, lungs);
        }

        // kidneys in perirenal fat (T12-L3), psoas (L1 down)
        const double kidneys = bump(level, 13 + anatomy.kidneyShiftZ, 1.6);
        if (kidneys > 0.15)
        {
          for (double sign : {-1.0, 1.0})
          {
            const double kx = shape.centreX + sign * (shape.width / 2 + 38);
            const double ky = shape.centreY + 8;
            painter.ellipse(kx, ky, 27 * kidneys, 32 * kidneys, -95);
            painter.ellipse(kx, ky, 21 * kidneys, 26 * kidneys, 33);
          }
        }
        const double psoas = clamp01((level - 11.5) / 4.0) * anatomy.psoasScale;
        if (psoas > 0)
        {
          for (double sign : {-1.0, 1.0})
          {
            painter.ellipse(shape.centreX + sign * (shape.width / 2 + 4 + 12 * psoas),
                            shape.centreY - shape.depth * 0.05, 5 + 15 * psoas, 5 + 11 * psoas,
                            MUSCLE_HU);
          }
        }

        // aorta (left anterior of the column), inferior vena cava (right, abdomen)
        const double aortaX = shape.centreX + (1 - abdomen) * shape.width * 0.45 + abdomen * 8;
        const double aortaY = shape.centreY - shape.depth / 2 - 11 + (1 - abdomen) * 4;
        painter.ellipse(aortaX, aortaY, 11 - abdomen * 1.5, 11 - abdomen * 1.5, 42);
        if (abdomen > 0)
        {
          painter.ellipse(shape.centreX - 22, shape.centreY - shape.depth / 2 - 10, 12, 9, 38,
                          abdomen);
        }

        // paraspinal muscles, from the transverse processes to under the skin
        const double muscleTop = shape.centreY + shape.depth * 0.25;
        const double muscleBottom = back - fat * 0.7;
        for (double sign : {-1.0, 1.0})
        {
          const double mx = shape.centreX + sign * (shape.transverseTipX * 0.62 + 4);
          painter.ellipse(mx, (muscleTop + muscleBottom) / 2, shape.transverseTipX * 0.6 + 6,
                          (muscleBottom - muscleTop) / 2, 55);
        }

        // spinal canal: epidural fat, cerebrospinal fluid, cord
        painter.ellipse(shape.centreX, shape.canalCentreY, shape.canalRadiusX + 1.5,
                        shape.canalRadiusY + 1.2, -80);
        painter.ellipse(shape.centreX, shape.canalCentreY, shape.canalRadiusX * 0.9,
                        shape.canalRadiusY * 0.88, 12);
        const double cord = 1 - smoothStep(11.5, 12.5, level);   // the conus ends near L1
        painter.ellipse(shape.centreX, shape.canalCentreY - 0.5, shape.canalRadiusX * 0.5,
                        shape.canalRadiusY * 0.55, 35, cord);
      }
    }

    SliceFindings renderSlab(const Anatomy& anatomy, const SliceGrid& grid, double z,
                             double thickness, std::vector<float>& hu, RenderBuffers& buffers)
    {
      const size_t pixels = grid.columns * grid.rows;
      hu.assign(pixels, static_cast<float>(AIR_HU));
      buffers.value.resize(pixels);
      buffers.weight.resize(pixels);
      buffers.distance.resize(pixels);
      buffers.lesion.resize(pixels);
      buffers.lyticLesion.resize(pixels);
      buffers.leftPedicle.resize(pixels);
      buffers.rightPedicle.resize(pixels);
      buffers.owner.resize(pixels);

      Painter painter(grid, hu);
      const LevelShape shape = shapeAt(anatomy, z);
      paintTable(painter, anatomy);
      paintTrunk(painter, anatomy, shape);

      // The column. The slab is cut where any element starts or ends along z; within each piece the
      // active bone shapes form one solid (the union: nearest outline wins), whose share of the
      // slab is that piece's length. Whatever share is left keeps the soft tissue painted above.
      const Interval slab{z - thickness / 2, z + thickness / 2};
      const double inversePixel = 1.0 / grid.spacing;

      std::vector<const Element*> active;
      std::vector<double> cuts{slab.low, slab.high};
      auto cut = [&](double at)
      {
        if (at > slab.low && at < slab.high) cuts.push_back(at);
      };
      for (const Element& e : anatomy.elements)
      {
        const Interval part = intersect(slab, e.z);
        if (part.length() <= 0)
        {
          continue;
        }
        PixelBounds b = elementBounds(grid, shiftedTo(e, part.low));
        include(b, elementBounds(grid, shiftedTo(e, part.high)));
        if (b.empty())
        {
          continue;
        }
        active.push_back(&e);
        cut(e.z.low);
        cut(e.z.high);
        if (e.endplateMm > 0)
        {
          cut(e.z.low + e.endplateMm);
          cut(e.z.high - e.endplateMm);
        }
      }
      std::sort(cuts.begin(), cuts.end());

      SliceFindings findings;
      if (active.empty())
      {
        return findings;
      }
      std::fill(buffers.value.begin(), buffers.value.end(), 0.f);
      std::fill(buffers.weight.begin(), buffers.weight.end(), 0.f);
      std::fill(buffers.lesion.begin(), buffers.lesion.end(), 0.f);
      std::fill(buffers.lyticLesion.begin(), buffers.lyticLesion.end(), 0.f);
      std::fill(buffers.leftPedicle.begin(), buffers.leftPedicle.end(), 0.f);
      std::fill(buffers.rightPedicle.begin(), buffers.rightPedicle.end(), 0.f);
      PixelBounds touched{grid.columns, 0, grid.rows, 0};

      struct Member
      {
        Element element;                 // shifted to the piece's height
        PixelBounds bounds;
        double coreHu;
        std::vector<const Lesion*> lesions;
      };
      std::vector<Member> members;
      for (size_t c = 0; c + 1 < cuts.size(); ++c)
      {
        const Interval piece{cuts[c], cuts[c + 1]};
        const double length = piece.length();
        if (length < 1e-6)
        {
          continue;
        }
        const double middle = (piece.low + piece.high) / 2;
        const double weight = length / thickness;

        members.clear();
        PixelBounds bounds{grid.columns, 0, grid.rows, 0};
        for (const Element* candidate : active)
        {
          const Element& e = *candidate;
          if (middle < e.z.low || middle > e.z.high)
          {
            continue;
          }
          Member m{shiftedTo(e, middle), PixelBounds{}, e.coreHu, {}};
          m.bounds = elementBounds(grid, m.element);
          if (m.bounds.empty())
          {
            continue;
          }
          if (e.endplateMm > 0 && (middle < e.z.low + e.endplateMm || middle > e.z.high - e.endplateMm))
          {
            m.coreHu = e.endplateHu;
          }
          if (e.tissue == Element::Tissue::Bone && e.vertebra >= 0)
          {
            for (const Lesion& lesion : anatomy.vertebrae[e.vertebra].lesions)
            {
              const PhantomLesion& l = lesion.truth;
              if (intersect(piece, Interval{l.centre[2] - l.radiiMm[2], l.centre[2] + l.radiiMm[2]}).length() > 0)
              {
                m.lesions.push_back(&lesion);
              }
            }
          }
          include(bounds, m.bounds);
          members.push_back(std::move(m));
        }
        if (members.empty())
        {
          continue;
        }
        include(touched, bounds);

        for (size_t row = bounds.row0; row < bounds.row1; ++row)
        {
          const size_t from = row * grid.columns + bounds.column0;
          const size_t to = row * grid.columns + bounds.column1;
          std::fill(buffers.distance.begin() + from, buffers.distance.begin() + to, 1e9f);
          std::fill(buffers.owner.begin() + from, buffers.owner.begin() + to, -1);
        }
        for (size_t k = 0; k < members.size(); ++k)
        {
          const Member& m = members[k];
          for (size_t row = m.bounds.row0; row < m.bounds.row1; ++row)
          {
            const double y = grid.originY + row * grid.spacing;
            const size_t offset = row * grid.columns;
            for (size_t column = m.bounds.column0; column < m.bounds.column1; ++column)
            {
              const double x = grid.originX + column * grid.spacing;
              const float distance = static_cast<float>(elementDistance(x, y, m.element));
              if (distance < buffers.distance[offset + column])
              {
                buffers.distance[offset + column] = distance;
                buffers.owner[offset + column] = static_cast<int>(k);
              }
            }
          }
        }

        for (size_t row = bounds.row0; row < bounds.row1; ++row)
        {
          const double y = grid.originY + row * grid.spacing;
          const size_t offset = row * grid.columns;
          for (size_t column = bounds.column0; column < bounds.column1; ++column)
          {
            const size_t i = offset + column;
            if (buffers.owner[i] < 0)
            {
              continue;
            }
            const double distance = buffers.distance[i];
            const double alpha = clamp01(0.5 - distance * inversePixel);
            if (alpha <= 0)
            {
              continue;
            }
            const Member& m = members[buffers.owner[i]];
            const Element& e = m.element;
            const bool isBone = e.tissue == Element::Tissue::Bone;
            const double shellMm = isBone ? e.cortexMm : 4.0;
            const double core = isBone ? clamp01(0.5 - (distance + shellMm) * inversePixel)
                                       : smoothStep(0, shellMm, -distance);
            const double x = grid.originX + column * grid.spacing;
            double value;
            if (isBone && anatomy.realisticBone.enabled)
            {
              value = realisticBoneValue(anatomy, e, e.coreHu, x, y, piece, distance, inversePixel);
            }
            else
            {
              double coreHu = m.coreHu;
              if (isBone && core > 0 && anatomy.trabecularHu > 0)
              {
                coreHu += anatomy.trabecularHu * trabecularTexture(anatomy.textureSeed, x, y, middle);
              }
              value = core * coreHu + (1 - core) * (isBone ? e.corticalHu : DISC_ANNULUS_HU);
            }

            for (const Lesion* lesion : m.lesions)
            {
              const PhantomLesion& l = lesion->truth;
              const double u = (x - l.centre[0]) / l.radiiMm[0];
              const double v = (y - l.centre[1]) / l.radiiMm[1];
              const double q = u * u + v * v;
              if (q >= 1)
              {
                continue;
              }
              const double halfChord = l.radiiMm[2] * std::sqrt(1 - q);
              const double fraction =
                intersect(piece, Interval{l.centre[2] - halfChord, l.centre[2] + halfChord}).length() / length;
              // lytic tissue replaces bone, cortex included; sclerosis only ever adds density
              const double lesionHu = lesion->lytic ? std::min(l.hu, value) : std::max(l.hu, value);
              value += fraction * (lesionHu - value);
              const float share = static_cast<float>(weight * alpha * fraction);
              buffers.lesion[i] += share;
              if (lesion->lytic)
              {
                buffers.lyticLesion[i] += share;
              }
              if (lesion->posterolateral)
              {
                (lesion->left ? buffers.leftPedicle : buffers.rightPedicle)[i] += share;
              }
            }
            buffers.value[i] += static_cast<float>(weight * alpha * value);
            buffers.weight[i] += static_cast<float>(weight * alpha);
          }
        }
      }

      for (size_t row = touched.row0; row < touched.row1; ++row)
      {
        for (size_t column = touched.column0; column < touched.column1; ++column)
        {
          const size_t i = row * grid.columns + column;
          const float w = std::min(buffers.weight[i], 1.f);
          if (w > 0)
          {
            hu[i] = hu[i] * (1 - w) + buffers.value[i];
          }
          findings.lesionVisible |= buffers.lesion[i] >= VISIBLE_LESION_FRACTION;
          findings.lyticLesionVisible |= buffers.lyticLesion[i] >= VISIBLE_LESION_FRACTION;
          findings.blasticLesionVisible |= buffers.lesion[i] - buffers.lyticLesion[i] >= VISIBLE_LESION_FRACTION;
          findings.leftPedicleLesionVisible |= buffers.leftPedicle[i] >= VISIBLE_LESION_FRACTION;
          findings.rightPedicleLesionVisible |= buffers.rightPedicle[i] >= VISIBLE_LESION_FRACTION;
        }
      }
      findings.posterolateralLesionVisible = findings.leftPedicleLesionVisible || findings.rightPedicleLesionVisible;
      return findings;
    }

    void blurInPlane(std::vector<float>& image, size_t columns, size_t rows, double sigmaPixels,
                     std::vector<float>& scratch)
    {
      if (sigmaPixels < 0.2)
      {
        return;
      }
      const int radius = static_cast<int>(std::ceil(3 * sigmaPixels));
      std::vector<float> kernel(2 * radius + 1);
      double sum = 0;
      for (int k = -radius; k <= radius; ++k)
      {
        kernel[k + radius] = static_cast<float>(std::exp(-0.5 * k * k / (sigmaPixels * sigmaPixels)));
        sum += kernel[k + radius];
      }
      for (float& k : kernel)
      {
        k = static_cast<float>(k / sum);
      }

      scratch.resize(image.size());
      const int width = static_cast<int>(columns);
      const int height = static_cast<int>(rows);
      // rows, edges clamped
      for (int r = 0; r < height; ++r)
      {
        const float* in = image.data() + static_cast<size_t>(r) * columns;
        float* out = scratch.data() + static_cast<size_t>(r) * columns;
        for (int c = 0; c < width; ++c)
        {
          float acc = 0;
          if (c >= radius && c + radius < width)
          {
            for (int k = -radius; k <= radius; ++k)
            {
              acc += kernel[k + radius] * in[c + k];
            }
          }
          else
          {
            for (int k = -radius; k <= radius; ++k)
            {
              const int cc = std::min(std::max(c + k, 0), width - 1);
              acc += kernel[k + radius] * in[cc];
            }
          }
          out[c] = acc;
        }
      }
      // columns, a whole row at a time so that memory is read in order
      for (int r = 0; r < height; ++r)
      {
        float* out = image.data() + static_cast<size_t>(r) * columns;
        std::fill(out, out + columns, 0.f);
        for (int k = -radius; k <= radius; ++k)
        {
          const int rr = std::min(std::max(r + k, 0), height - 1);
          const float* in = scratch.data() + static_cast<size_t>(rr) * columns;
          const float weight = kernel[k + radius];
          for (int c = 0; c < width; ++c)
          {
            out[c] += weight * in[c];
          }
        }
      }
    }
  }
}
