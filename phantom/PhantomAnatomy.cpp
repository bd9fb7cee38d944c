// SPDX-License-Identifier: GPL-3.0-or-later
// The anatomy: the whole column T1-L5 in patient coordinates with its bone elements, the trunk's
// proportions, and the lesions that the labels call for.
#include "phantom/PhantomModel.h"

#include <algorithm>
#include <cmath>

namespace spinemet
{
  namespace phantom_detail
  {
    namespace
    {
      // Anatomical sizes along the column (mm), linear between anchor levels (0 = T1 ... 16 = L5).
      struct Anchor
      {
        double level;
        double value;
      };

      double along(std::initializer_list<Anchor> anchors, double level)
      {
        const Anchor* previous = nullptr;
        for (const Anchor& anchor : anchors)
        {
          if (level <= anchor.level)
          {
            if (previous == nullptr)
            {
              return anchor.value;
            }
            const double t = (level - previous->level) / (anchor.level - previous->level);
            return previous->value + t * (anchor.value - previous->value);
          }
          previous = &anchor;
        }
        return previous->value;
      }

      BoneQuality drawQuality(Random& random, const PhantomSettings& s)
      {
        if (!random.chance(s.lesionProbability))
        {
          return BoneQuality::Normal;
        }
        const auto& w = s.lesionTypeWeights;
        const double pick = random.uniform() * (w[0] + w[1] + w[2]);
        return pick < w[0] ? BoneQuality::Blastic : pick < w[0] + w[1] ? BoneQuality::Lytic : BoneQuality::Mixed;
      }
    }

    namespace
    {
      // The first rib: short, broad and sharply curved, it turns forward just beyond the
      // transverse process, round the apex of the lung (about 60 mm from the body's centre), and runs
      // forward and in to the manubrium, sloping down (issue 15: the first rib as a landmark).
      template <typename AddBone, typename MakeCapsule>
      void addFirstRibArc(const VertebraModel& v, double side, double x0, double y0, double ribZ,
                          double halfHeight, double radius, AddBone addBone, MakeCapsule capsule)
      {
        const double points[][3] = {   // lateral of the tip, y from the body's centre, drop (mm)
          {22, 4, 2}, {30, -14, 6}, {24, -40, 12}, {8, -64, 20}, {-12, -82, 26}};
        const double tip = v.transverseTipX;
        for (const auto& p : points)
        {
          const double x1 = v.centreX + side * std::max(20.0, tip + p[0]);
          const double y1 = v.centreY + p[1];
          const double zc = ribZ - p[2];
          addBone(capsule(x0, y0, x1, y1, radius), Interval{zc - halfHeight, zc + halfHeight});
          x0 = x1;
          y0 = y1;
        }
      }
    }

    // The whole column T1..L5 in patient coordinates, the trunk around it, and the bone elements.
    Anatomy buildAnatomy(uint64_t seed, int ribPairs)
    {
      Random random = stream(seed, "anatomy");
      Anatomy anatomy;
      anatomy.bodySemiX = random.uniform(140, 175);
      anatomy.bodySemiY = random.uniform(98, 125);
      anatomy.fatMm = random.uniform(8, 30);
      anatomy.bodyCentreX = 0;
      anatomy.bodyCentreY = 0;
      anatomy.tableTopY = anatomy.bodySemiY * 0.93;
      anatomy.lungScale = random.uniform(0.95, 1.05);
      anatomy.psoasScale = random.uniform(0.8, 1.15);
      anatomy.kidneyShiftZ = random.uniform(-0.7, 0.7);
      anatomy.cancellousHu = random.uniform(175, 265);
      anatomy.trabecularHu = random.uniform(20, 40);
      anatomy.textureSeed = random.next();

      const double sizeScale = random.uniform(0.92, 1.08);
      const double kyphosis = random.uniform(-6, 10);      // extra posterior bow at T7 (mm)
      const double lordosis = random.uniform(-6, 10);      // extra anterior bow at L3 (mm)
      const double scoliosis = random.uniform(-5, 5);      // lateral bow (mm)
      const double scoliosisPhase = random.uniform(0, 6.283185307179586);
      const double topZ = random.uniform(-150, 250);       // table position of the top of T1

      double z = topZ;
      for (int level = 0; level < LEVEL_COUNT; ++level)
      {
        VertebraModel v;
        v.levelIndex = level;
        const double s = level;
        v.height = sizeScale * along({{0, 14}, {5, 17.5}, {11, 22}, {12, 24}, {16, 27}}, s);
        v.discBelow = sizeScale * along({{0, 4}, {5, 4.5}, {9, 5}, {11, 6.5}, {12, 8}, {14, 10}, {16, 11}}, s);
        v.width = sizeScale * along({{0, 28}, {5, 30}, {11, 41}, {12, 44}, {16, 52}}, s);
        v.depth = sizeScale * along({{0, 16}, {5, 23}, {11, 29}, {12, 31}, {16, 35}}, s);
        v.zTop = z;
        v.zBottom = z - v.height;
        z = v.zBottom - v.discBelow;

        const double posteriorDistance = along({{0, 70}, {6, 76}, {11, 88}, {13, 100}, {16, 108}}, s) *
                                         std::sqrt(sizeScale);
        v.centreY = anatomy.tableTopY - posteriorDistance +
                    kyphosis * std::exp(-std::pow((s - 6) / 4.0, 2)) -
                    lordosis * std::exp(-std::pow((s - 14) / 2.5, 2));
        v.centreX = scoliosis * std::sin(3.141592653589793 * s / 12 + scoliosisPhase);

        v.canalRadiusX = along({{0, 8}, {11, 8.5}, {12, 10}, {16, 12}}, s);
        v.canalRadiusY = along({{0, 7.5}, {11, 8}, {12, 8.5}, {16, 8.5}}, s);
        v.canalCentreY = v.centreY + v.depth / 2 + v.canalRadiusY + 0.5;
        v.pedicleRadius = sizeScale * along({{0, 3.2}, {11, 4}, {12, 4.5}, {16, 6.5}}, s);
        v.pedicleOffsetX = v.canalRadiusX + v.pedicleRadius * 0.6;
        v.pedicleStartY = v.centreY + v.depth / 2 - 3;
        v.pedicleEndY = v.centreY + v.depth / 2 + along({{0, 8}, {11, 10}, {16, 11}}, s);
        v.pedicleZ = Interval{v.zTop - 0.62 * v.height, v.zTop - 0.08 * v.height};
        anatomy.vertebrae.push_back(v);
      }

      // each vertebra leans with the curve through its neighbours
      for (size_t i = 0; i < anatomy.vertebrae.size(); ++i)
      {
        const VertebraModel& above = anatomy.vertebrae[i > 0 ? i - 1 : i];
        const VertebraModel& below = anatomy.vertebrae[i + 1 < anatomy.vertebrae.size() ? i + 1 : i];
        const double dz = (above.zTop + above.zBottom) / 2 - (below.zTop + below.zBottom) / 2;
        anatomy.vertebrae[i].slopeX = (above.centreX - below.centreX) / dz;
        anatomy.vertebrae[i].slopeY = (above.centreY - below.centreY) / dz;
      }

      for (size_t i = 0; i < anatomy.vertebrae.size(); ++i)
      {
        VertebraModel& v = anatomy.vertebrae[i];
        const double s = v.levelIndex;
        const double h = v.height;
        const double middleZ = (v.zTop + v.zBottom) / 2;
        const double cx = v.centreX;
        const double cortex = s < 11 ? 0.9 : 1.1;
        const double cortical = random.uniform(850, 1000);
        const double cancellous = anatomy.cancellousHu + random.uniform(-12, 12);
        anatomy.levelCentresZ.push_back((v.zTop + v.zBottom) / 2);

        // posterior elements are mostly compact bone
        const double posteriorCortex = cortex + 0.5;
        auto bone = [&](Element e, Interval zRange, double core)
        {
          e.tissue = Element::Tissue::Bone;
          e.z = zRange;
          e.cortexMm = e.endplateMm > 0 ? cortex : posteriorCortex;
          e.corticalHu = cortical;
          e.coreHu = core;
          e.vertebra = static_cast<int>(i);
          e.shearX = v.slopeX;
          e.shearY = v.slopeY;
          e.shearZ = middleZ;
          anatomy.elements.push_back(e);
        };
        auto ellipse = [](double x, double y, double ax, double ay)
        {
          Element e;
          e.shape = Element::Shape::Ellipse;
          e.x0 = x; e.y0 = y; e.x1 = ax; e.y1 = ay;
          return e;
        };
        auto capsule = [](double x0, double y0, double x1, double y1, double radius)
        {
          Element e;
          e.shape = Element::Shape::Capsule;
          e.x0 = x0; e.y0 = y0; e.x1 = x1; e.y1 = y1; e.radius = radius;
          return e;
        };

        // vertebral body, flattened at the back
        Element body = ellipse(cx, v.centreY, v.width / 2, v.depth / 2);
        body.clipMaxY = v.centreY + v.depth * 0.42;
        // endplates: thin, and less dense than the shell, or every slice through one looks sclerotic
        body.endplateMm = 0.7;
        body.endplateHu = cancellous + 0.45 * (cortical - cancellous);
        bone(body, Interval{v.zBottom, v.zTop}, cancellous);

        // disc below, shaped between this body and the next one
        {
          const VertebraModel* next = i + 1 < anatomy.vertebrae.size() ? &anatomy.vertebrae[i + 1] : &v;
          Element disc = ellipse((cx + next->centreX) / 2, (v.centreY + next->centreY) / 2,
                                 (v.width + next->width) / 4 + 0.8, (v.depth + next->depth) / 4 + 0.6);
          disc.clipMaxY = disc.y0 + (v.depth + next->depth) / 2 * 0.42 + 0.6;
          disc.tissue = Element::Tissue::Disc;
          disc.z = Interval{v.zBottom - v.discBelow, v.zBottom};
          disc.coreHu = 72;
          if (next != &v)
          {
            const double nextMiddle = (next->zTop + next->zBottom) / 2;
            const double topX = v.centreX + v.slopeX * (v.zBottom - middleZ);
            const double topY = v.centreY + v.slopeY * (v.zBottom - middleZ);
            const double bottomX = next->centreX + next->slopeX * (next->zTop - nextMiddle);
            const double bottomY = next->centreY + next->slopeY * (next->zTop - nextMiddle);
            disc.x0 = (topX + bottomX) / 2;
            disc.y0 = (topY + bottomY) / 2;
            disc.clipMaxY = disc.y0 + (v.depth + next->depth) / 2 * 0.42 + 0.6;
            disc.shearX = (topX - bottomX) / v.discBelow;
            disc.shearY = (topY - bottomY) / v.discBelow;
            disc.shearZ = v.zBottom - v.discBelow / 2;
          }
          anatomy.elements.push_back(disc);
        }
        if (i == 0)
        {
          Element disc = ellipse(cx, v.centreY, v.width / 2 + 0.8, v.depth / 2 + 0.6);
          disc.clipMaxY = v.centreY + v.depth * 0.42 + 0.6;
          disc.tissue = Element::Tissue::Disc;
          disc.z = Interval{v.zTop, v.zTop + 4};
          disc.coreHu = 72;
          anatomy.elements.push_back(disc);
        }

        const double posteriorCore = cancellous + 90;
        const double laminaRadius = along({{0, 2.8}, {16, 3.8}}, s);
        const double laminaJoinY = v.canalCentreY + v.canalRadiusY + laminaRadius * 0.8;
        const double spinousLength = along({{0, 28}, {5, 32}, {11, 28}, {16, 25}}, s);
        const double spinousRadius = along({{0, 2.8}, {16, 4}}, s);
        const double spinousDrop = h * along({{0, 0.6}, {5, 1.1}, {11, 0.5}, {12, 0.25}, {16, 0.15}}, s);
        const double transverseLength = along({{0, 18}, {5, 17}, {11, 10}, {12, 18}, {14, 26}, {16, 22}}, s);
        const double transverseBack = along({{0, 10}, {11, 6}, {12, 2}, {16, 1}}, s);
        const double transverseRadius = along({{0, 4}, {11, 3}, {12, 3.5}, {16, 4}}, s);
        const Interval laminaZ{v.zTop - 0.8 * h, v.zTop - 0.05 * h};
        const Interval spinousZ{v.zTop - 0.85 * h, v.zTop - 0.15 * h};
        const Interval transverseZ{v.zTop - 0.6 * h, v.zTop - 0.15 * h};
        v.transverseTipX = v.pedicleOffsetX + transverseLength;
        v.spinousTipY = laminaJoinY + spinousLength;

        for (double side : {-1.0, 1.0})
        {
          const double px = cx + side * v.pedicleOffsetX;
          bone(capsule(px, v.pedicleStartY, px, v.pedicleEndY, v.pedicleRadius), v.pedicleZ, posteriorCore);
          bone(capsule(px, v.pedicleEndY, cx + side * 2, laminaJoinY, laminaRadius), laminaZ, posteriorCore);
          bone(capsule(px, v.pedicleEndY - 1, cx + side * v.transverseTipX, v.pedicleEndY + transverseBack,
                       transverseRadius), transverseZ, posteriorCore);
          // articular processes: the superior ones rise into the disc space above, the inferior ones
          // reach down beside the next vertebra's superior ones (the facet joints)
          bone(ellipse(px + side * 2.5, v.pedicleEndY + 2, 5, 6),
               Interval{v.zTop - 0.15 * h, v.zTop + (i > 0 ? anatomy.vertebrae[i - 1].discBelow : 4) * 0.9},
               posteriorCore);
          bone(ellipse(px - side * 1.0, v.pedicleEndY + 7.5, 4.5, 5.5),
               Interval{v.zBottom - v.discBelow * 0.9, v.zBottom + 0.35 * h}, posteriorCore);
        }
        bone(capsule(cx, laminaJoinY, cx, laminaJoinY + spinousLength * 0.5, spinousRadius), spinousZ,
             posteriorCore);
        bone(capsule(cx, laminaJoinY + spinousLength * 0.45, cx, v.spinousTipY, spinousRadius * 0.9),
             Interval{spinousZ.low - spinousDrop, spinousZ.high - spinousDrop}, posteriorCore);

        // ribs at T1..T12 (T1..T11 with 11 pairs, T1..L1 with 13): head at the body, neck
        // along the transverse process, then round the chest wall, sloping down as they go
        // forward
        if (v.levelIndex < ribPairs)
        {
          const double wallX = anatomy.bodySemiX - anatomy.fatMm - 9;
          const double wallY = anatomy.bodySemiY - anatomy.fatMm - 9;
          // The last two pairs are short (floating ribs), whichever vertebrae carry them.
          const int fromLast = ribPairs - 1 - v.levelIndex;
          const int segments = fromLast <= 1 ? 3 + fromLast * 2 : 9;
          // Ribs 1-9 meet the column at the top of their vertebra (the heads of 2-9 also touch
          // the disc and the body above); ribs 10-12 a little lower, on their own body.
          // The first rib's head sits high on T1 too (a single facet at its upper border).
          const bool headAtTop = v.levelIndex <= 8;
          const double ribZ = v.zTop - (headAtTop ? 0.1 : 0.25) * h;
          const double ribHalfHeight = 4.5;
          const double ribDrop = along({{0, 4}, {6, 7}, {11, 6}}, s);
          const double ribRadius = 4.2;
          for (double side : {-1.0, 1.0})
          {
            double x0 = cx + side * (v.width / 2 - 1);
            double y0 = v.centreY + v.depth * 0.3;
            double x1 = cx + side * (v.transverseTipX - 2);
            double y1 = v.pedicleEndY + transverseBack + 1;
            bone(capsule(x0, y0, x1, y1, ribRadius * 0.9), Interval{ribZ - ribHalfHeight, ribZ + ribHalfHeight},
                 posteriorCore - 30);
            double angle = std::asin(std::min(0.95, std::fabs(x1 - anatomy.bodyCentreX) / wallX)) + 0.25;
            x0 = x1;
            y0 = y1;
            if (v.levelIndex == 0)
            {
              addFirstRibArc(v, side, x0, y0, ribZ, ribHalfHeight, ribRadius,
                             [&](Element e, Interval z) { bone(e, z, posteriorCore - 30); }, capsule);
              continue;
            }
            for (int k = 1; k <= segments; ++k)
            {
              x1 = anatomy.bodyCentreX + side * std::sin(angle) * wallX;
              y1 = anatomy.bodyCentreY + std::cos(angle) * wallY;
              const double zc = ribZ - k * ribDrop;
              bone(capsule(x0, y0, x1, y1, ribRadius), Interval{zc - ribHalfHeight, zc + ribHalfHeight},
                   posteriorCore - 30);
              x0 = x1;
              y0 = y1;
              angle += 0.3;
            }
          }
        }
      }
      return anatomy;
    }

    // Where the vertebra's lean puts a point drawn relative to its mid-height centre.
    void lean(const VertebraModel& v, Vector3& point)
    {
      const double dz = point[2] - (v.zTop + v.zBottom) / 2;
      point[0] += v.slopeX * dz;
      point[1] += v.slopeY * dz;
    }

    namespace
    {
      PhantomLesion bodyLesion(Random& random, const VertebraModel& v, const PhantomLesionRanges& r,
                               bool lytic)
      {
        PhantomLesion l;
        l.kind = lytic ? "lytic" : "blastic";
        l.region = "body";
        const double scale = std::sqrt(v.width / 44.0);
        const double radius = random.uniform(r.radiusMinMm, r.radiusMaxMm) * scale * (lytic ? 1.0 : 0.8);
        l.radiiMm = {radius * random.uniform(0.8, 1.2), radius * random.uniform(0.8, 1.2),
                     std::min(radius * random.uniform(0.8, 1.2), v.height * 0.45)};
        // lytic lesions may reach the cortex, blastic foci stay inside the body
        const double reach = lytic ? 0.55 : 1.0;
        const double roomX = std::max(0.0, v.width / 2 - 1.5 - l.radiiMm[0] * reach);
        const double roomY = std::max(0.0, v.depth / 2 - 1.5 - l.radiiMm[1] * reach);
        const double roomZ = std::max(0.0, v.height / 2 - 1.0 - l.radiiMm[2] * 0.8);
        // positions within an ellipse of the axial section
        double u, w;
        do
        {
          u = random.uniform(-1, 1);
          w = random.uniform(-1, 1);
        } while (u * u + w * w > 1);
        l.centre = {v.centreX + u * roomX, v.centreY + w * roomY * 0.85 - v.depth * 0.04,
                    (v.zTop + v.zBottom) / 2 + random.uniform(-1, 1) * roomZ};
        lean(v, l.centre);
        l.hu = lytic ? random.uniform(r.lyticHuMin, r.lyticHuMax) : random.uniform(r.blasticHuMin, r.blasticHuMax);
        return l;
      }

      PhantomLesion pedicleLesion(Random& random, const VertebraModel& v, const PhantomLesionRanges& r,
                                  bool lytic, bool left)
      {
        PhantomLesion l;
        l.kind = lytic ? "lytic" : "blastic";
        l.region = left ? "left-pedicle" : "right-pedicle";
        const double side = left ? 1 : -1;
        const double pedicleLength = v.pedicleEndY - v.pedicleStartY;
        const double grow = random.uniform(0, 1) * (r.radiusMaxMm - r.radiusMinMm) / 4;
        l.radiiMm = {v.pedicleRadius + 1.5 + grow, pedicleLength / 2 + 2 + grow * 2,
                     v.pedicleZ.length() / 2 * random.uniform(0.75, 1.0)};
        l.centre = {v.centreX + side * (v.pedicleOffsetX + random.uniform(-0.5, 1.5)),
                    (v.pedicleStartY + v.pedicleEndY) / 2 + random.uniform(-1, 2),
                    (v.pedicleZ.low + v.pedicleZ.high) / 2 + random.uniform(-0.1, 0.1) * v.pedicleZ.length()};
        lean(v, l.centre);
        l.hu = lytic ? random.uniform(r.lyticHuMin, r.lyticHuMax) : random.uniform(r.blasticHuMin, r.blasticHuMax);
        return l;
      }
      }

    namespace
    {
      // Do two ellipsoids come near each other? Conservative: their bounding spheres.
      bool near(const PhantomLesion& a, const PhantomLesion& b, double marginMm = 0.5)
      {
        const double ra = std::max({a.radiiMm[0], a.radiiMm[1], a.radiiMm[2]});
        const double rb = std::max({b.radiiMm[0], b.radiiMm[1], b.radiiMm[2]});
        const double dx = a.centre[0] - b.centre[0];
        const double dy = a.centre[1] - b.centre[1];
        const double dz = a.centre[2] - b.centre[2];
        return std::sqrt(dx * dx + dy * dy + dz * dz) < ra + rb + marginMm;
      }

      bool overlapsKind(const VertebraModel& v, const PhantomLesion& lesion, bool lytic)
      {
        return std::any_of(v.lesions.begin(), v.lesions.end(),
                           [&](const Lesion& other) { return other.lytic == lytic && near(other.truth, lesion); });
      }

      // The focus moved to the far side of the body from the lytic lesions, and made to fit.
      PhantomLesion focusAwayFrom(const VertebraModel& v, PhantomLesion focus)
      {
        double lx = 0, ly = 0, n = 0;
        for (const Lesion& lesion : v.lesions)
        {
          if (lesion.lytic)
          {
            lx += lesion.truth.centre[0];
            ly += lesion.truth.centre[1];
            ++n;
          }
        }
        const double middleZ = (v.zTop + v.zBottom) / 2;
        Vector3 centre{v.centreX, v.centreY, middleZ};
        lean(v, centre);
        double dx = n > 0 ? centre[0] - lx / n : 1;
        double dy = n > 0 ? centre[1] - ly / n : 0;
        const double length = std::sqrt(dx * dx + dy * dy);
        if (length < 1e-6)
        {
          dx = 1;
          dy = 0;
        }
        else
        {
          dx /= length;
          dy /= length;
        }
        const double radius = std::max(1.5, std::min(focus.radiiMm[0], 3.0));
        const double reachX = v.width / 2 - 1.5 - radius;
        const double reachY = v.depth / 2 - 1.5 - radius;
        focus.radiiMm = {radius, radius, radius};
        focus.centre = {centre[0] + dx * reachX, centre[1] + dy * reachY, middleZ};
        lean(v, focus.centre);
        for (const Lesion& lesion : v.lesions)
        {
          if (lesion.lytic && near(lesion.truth, focus))
          {
            // no room beside it: above or below it, whichever the body has more of
            const double up = v.zTop - (lesion.truth.centre[2] + lesion.truth.radiiMm[2]);
            const double down = (lesion.truth.centre[2] - lesion.truth.radiiMm[2]) - v.zBottom;
            focus.centre[2] = up > down ? v.zTop - 1 - radius : v.zBottom + 1 + radius;
          }
        }
        return focus;
      }

      // Shrinks a lytic lesion until it clears the focus.
      void shrinkToClear(PhantomLesion& lesion, const PhantomLesion& focus)
      {
        for (int step = 0; step < 40 && near(lesion, focus); ++step)
        {
          for (double& radius : lesion.radiiMm) radius = std::max(1.5, radius * 0.9);
        }
      }
    }

    void placeLesions(Anatomy& anatomy, const PhantomSettings& settings, const PhantomLesionRanges& ranges,
                      int firstLevel, int lastLevel, std::vector<PhantomVertebra>& truth)
    {
      Random labels = stream(settings.seed, "labels");
      Random lesions = stream(settings.seed, "lesions");
      for (int level = firstLevel; level <= lastLevel; ++level)
      {
        VertebraModel& v = vertebraAt(anatomy, level);
        const std::string name = levelName(level);
        v.inStudy = true;
        v.studyIndex = level - firstLevel;

        // drawn whether forced or not, so that forcing one level leaves the others as they were
        PhantomLabel label;
        label.boneQuality = drawQuality(labels, settings);
        const bool extends = labels.chance(settings.posterolateralProbability);
        const bool bilateral = labels.chance(settings.bilateralProbability);
        const bool leftSide = labels.chance(0.5);
        if (label.boneQuality != BoneQuality::Normal && extends)
        {
          label.posterolateral = bilateral ? Posterolateral::Bilateral : Posterolateral::Unilateral;
          label.side = bilateral ? LesionSide::Both : leftSide ? LesionSide::Left : LesionSide::Right;
        }
        const auto forced = std::find_if(settings.labels.begin(), settings.labels.end(),
                                         [&](const auto& entry) { return levelIndex(entry.first) == level; });
        if (forced != settings.labels.end())
        {
          label = forced->second;
          if (label.posterolateral == Posterolateral::Unilateral && label.side == LesionSide::None)
          {
            label.side = leftSide ? LesionSide::Left : LesionSide::Right;
          }
        }

        const bool hasLytic = label.boneQuality == BoneQuality::Lytic || label.boneQuality == BoneQuality::Mixed;
        const bool hasBlastic = label.boneQuality == BoneQuality::Blastic || label.boneQuality == BoneQuality::Mixed;
        if (hasLytic)
        {
          const int count = lesions.chance(0.3) ? 2 : 1;
          for (int k = 0; k < count; ++k)
          {
            v.lesions.push_back(Lesion{bodyLesion(lesions, v, ranges, true), false, true});
          }
        }
        if (hasBlastic)
        {
          // a mixed vertebra shows both kinds: its lytic lesions are smaller, to leave room
          if (hasLytic)
          {
            for (Lesion& lesion : v.lesions)
            {
              for (double& radius : lesion.truth.radiiMm) radius *= 0.75;
            }
          }
          const int count = 1 + static_cast<int>(lesions.index(label.boneQuality == BoneQuality::Mixed ? 2 : 3));
          for (int k = 0; k < count; ++k)
          {
            // separate foci, each with its own density, and clear of lytic lesions
            auto blocked = [&](const PhantomLesion& f) { return overlapsKind(v, f, true) || overlapsKind(v, f, false); };
            PhantomLesion focus = bodyLesion(lesions, v, ranges, false);
            for (int attempt = 0; attempt < 16 && blocked(focus); ++attempt)
            {
              focus = bodyLesion(lesions, v, ranges, false);
            }
            if (overlapsKind(v, focus, true))
            {
              focus = focusAwayFrom(v, focus);
            }
            if (!blocked(focus))
            {
              v.lesions.push_back(Lesion{focus, false, false});
            }
          }
          if (hasLytic && v.lesions.size() == static_cast<size_t>(std::count_if(
                v.lesions.begin(), v.lesions.end(), [](const Lesion& l) { return l.lytic; })))
          {
            // no room anywhere: shrink the lytic lesions around one small focus
            PhantomLesion focus = focusAwayFrom(v, bodyLesion(lesions, v, ranges, false));
            for (Lesion& lesion : v.lesions)
            {
              shrinkToClear(lesion.truth, focus);
            }
            v.lesions.push_back(Lesion{focus, false, false});
          }
        }
        for (bool left : {true, false})
        {
          const bool involved = label.side == LesionSide::Both ||
                                (left && label.side == LesionSide::Left) ||
                                (!left && label.side == LesionSide::Right);
          if (involved)
          {
            bool lytic = label.boneQuality == BoneQuality::Lytic ||
                         (label.boneQuality == BoneQuality::Mixed && lesions.chance(0.5));
            const PhantomLesion lesion = pedicleLesion(lesions, v, ranges, lytic, left);
            // in a mixed vertebra, a pedicle lesion that reaches a body lesion takes its kind
            if (label.boneQuality == BoneQuality::Mixed && overlapsKind(v, lesion, !lytic))
            {
              lytic = !lytic;
            }
            PhantomLesion placed = lesion;
            placed.kind = lytic ? "lytic" : "blastic";
            if (placed.kind != lesion.kind)
            {
              placed.hu = lytic ? (ranges.lyticHuMin + ranges.lyticHuMax) / 2
                                : (ranges.blasticHuMin + ranges.blasticHuMax) / 2;
            }
            v.lesions.push_back(Lesion{placed, true, lytic, left});
          }
        }

        PhantomVertebra t;
        t.index = v.studyIndex;
        t.level = name;
        t.zMinMm = v.zBottom;
        t.zMaxMm = v.zTop;
        t.boneQuality = label.boneQuality;
        t.posterolateral = label.posterolateral;
        t.side = label.side;
        t.bodyCentre = {v.centreX, v.centreY, (v.zTop + v.zBottom) / 2};
        t.bodyWidthMm = v.width;
        t.bodyDepthMm = v.depth;
        t.bodyHeightMm = v.height;
        for (const Lesion& lesion : v.lesions)
        {
          t.lesions.push_back(lesion.truth);
        }
        truth.push_back(t);
      }
    }
  }
}
