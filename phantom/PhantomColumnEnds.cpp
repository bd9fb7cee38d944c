// SPDX-License-Identifier: GPL-3.0-or-later
// The ends of the column beyond T1-L5: the lower cervical spine (C3-C7, a rib on C7 as a variant)
// and the sacrum (S1-S5 fused, its alae, the iliac bones beside it), with the lumbosacral
// transitional variants. Drawn from a random stream of their own, after T1-L5, so that the
// thoracolumbar column of a seed is the one it always was (docs/phantom.md).
#include "phantom/PhantomModel.h"

#include <algorithm>
#include <cmath>

namespace spinemet
{
  namespace phantom_detail
  {
    namespace
    {
      Element ellipseShape(double x, double y, double ax, double ay)
      {
        Element e;
        e.shape = Element::Shape::Ellipse;
        e.x0 = x; e.y0 = y; e.x1 = ax; e.y1 = ay;
        return e;
      }

      Element capsuleShape(double x0, double y0, double x1, double y1, double radius)
      {
        Element e;
        e.shape = Element::Shape::Capsule;
        e.x0 = x0; e.y0 = y0; e.x1 = x1; e.y1 = y1; e.radius = radius;
        return e;
      }

      // Adds bone shapes of one vertebra (its index in the final list), leaning with it.
      struct BoneAdder
      {
        Anatomy& anatomy;
        const VertebraModel& v;
        int index;
        double corticalHu;
        double cancellousHu;

        void operator()(Element e, Interval z, double coreHu, double cortexMm = 1.4) const
        {
          e.tissue = Element::Tissue::Bone;
          e.z = z;
          e.cortexMm = e.endplateMm > 0 ? std::min(cortexMm, 1.0) : cortexMm;
          e.corticalHu = corticalHu;
          e.coreHu = coreHu;
          e.vertebra = index;
          e.shearX = v.slopeX;
          e.shearY = v.slopeY;
          e.shearZ = (v.zTop + v.zBottom) / 2;
          anatomy.elements.push_back(e);
        }
      };

      void addDisc(Anatomy& anatomy, const VertebraModel& upper, const VertebraModel& lower, double coreHu)
      {
        Element disc = ellipseShape((upper.centreX + lower.centreX) / 2, (upper.centreY + lower.centreY) / 2,
                                    (upper.width + lower.width) / 4 + 0.8, (upper.depth + lower.depth) / 4 + 0.6);
        disc.clipMaxY = disc.y0 + (upper.depth + lower.depth) / 2 * 0.42 + 0.6;
        disc.tissue = Element::Tissue::Disc;
        disc.z = Interval{upper.zBottom - upper.discBelow, upper.zBottom};
        disc.coreHu = coreHu;
        anatomy.elements.push_back(disc);
      }

      // A body with its shell and end plates.
      void addBody(const BoneAdder& bone, bool endplates)
      {
        const VertebraModel& v = bone.v;
        Element body = ellipseShape(v.centreX, v.centreY, v.width / 2, v.depth / 2);
        body.clipMaxY = v.centreY + v.depth * 0.42;
        if (endplates)
        {
          body.endplateMm = 0.7;
          body.endplateHu = bone.cancellousHu + 0.45 * (bone.corticalHu - bone.cancellousHu);
        }
        bone(body, Interval{v.zBottom, v.zTop}, bone.cancellousHu, 1.0);
      }

      // The sacral ala of one side: a thick wedge of bone from the body's posterolateral
      // corner out to the sacroiliac joint, level with the back of the body and the pedicles.
      void addAla(const BoneAdder& bone, double side, double tipX, Interval z)
      {
        const VertebraModel& v = bone.v;
        bone(capsuleShape(v.centreX + side * v.width * 0.35, v.centreY + 0.46 * v.depth,
                          v.centreX + side * tipX, v.centreY + 0.55 * v.depth, 0.25 * v.depth),
             z, bone.cancellousHu + 20, 1.2);
      }
    }

    void addColumnEnds(Anatomy& anatomy, uint64_t seed, bool cervicalRib, TransitionalVertebra transitional)
    {
      Random random = stream(seed, "column-ends");
      const VertebraModel t1 = anatomy.vertebrae.front();
      const VertebraModel l5 = anatomy.vertebrae.back();
      const double scale = t1.height / 14.0;     // the phantom's size scale (buildAnatomy)
      const double cortical = random.uniform(850, 1000);

      // --- cervical C3..C7, built upwards from the 4 mm disc above T1 ---
      std::vector<VertebraModel> cervical(5);
      {
        const double heights[] = {13, 13, 13, 13.5, 14};     // C3..C7
        const double widths[] = {16, 17, 18.5, 20.5, 24};
        const double depths[] = {15, 15, 15.5, 16, 16};
        double z = t1.zTop + 4;
        for (int k = 4; k >= 0; --k)
        {
          VertebraModel& v = cervical[static_cast<size_t>(k)];
          v.levelIndex = FIRST_SCANNABLE_LEVEL + k;
          v.height = scale * heights[k];
          v.width = scale * widths[k];
          v.depth = scale * depths[k];
          v.discBelow = k == 4 ? 4 : 5 * scale;
          v.zBottom = z;
          v.zTop = z + v.height;
          z = v.zTop + (k > 0 ? 5 * scale : 0);
          // the cervical lordosis: the column runs forward from T1 towards C4-C5
          v.centreX = t1.centreX;
          v.centreY = t1.centreY - 2.5 * (5 - k) + random.uniform(-1, 1);
          v.canalRadiusX = 11;
          v.canalRadiusY = 7;
          v.canalCentreY = v.centreY + v.depth / 2 + v.canalRadiusY + 0.5;
          v.pedicleRadius = 2.8 * scale;
          v.pedicleOffsetX = v.canalRadiusX + v.pedicleRadius * 0.6;
          v.pedicleStartY = v.centreY + v.depth / 2 - 3;
          v.pedicleEndY = v.centreY + v.depth / 2 + 6;
          v.pedicleZ = Interval{v.zTop - 0.62 * v.height, v.zTop - 0.08 * v.height};
          v.transverseTipX = (k == 4 ? 34 : 27) * scale;
        }
      }

      // --- sacrum S1..S5 below the disc under L5 ---
      std::vector<VertebraModel> sacrum(5);
      const bool lumbarised = transitional == TransitionalVertebra::LumbarisedS1;
      {
        const double heights[] = {28, 22, 18, 14, 11};
        const double widths[] = {48, 40, 32, 24, 18};
        const double depths[] = {32, 24, 19, 15, 12};
        const double backwards[] = {6, 10, 12, 12, 10};   // the sacrum curves back, segment by segment
        double z = l5.zBottom - l5.discBelow;
        double y = l5.centreY;
        for (size_t k = 0; k < sacrum.size(); ++k)
        {
          VertebraModel& v = sacrum[k];
          v.levelIndex = S1_LEVEL + static_cast<int>(k);
          const bool freeS1 = lumbarised && k == 0;
          v.height = scale * (freeS1 ? 26 : heights[k]);
          v.width = scale * (freeS1 ? 50 : widths[k]);
          v.depth = scale * (freeS1 ? 34 : depths[k]);
          // fused segments: a thin remnant of the disc (S1-S2) or none; a lumbarised S1 has a
          // disc of its own below it
          v.discBelow = freeS1 ? 9 * scale : (k == 0 ? 3 : 1.5);
          v.zTop = z;
          v.zBottom = z - v.height;
          z = v.zBottom - v.discBelow;
          y += (freeS1 ? 3 : backwards[k]) + random.uniform(-1.5, 1.5);
          v.centreY = y;
          v.centreX = l5.centreX;
          v.canalRadiusX = std::max(5.0, 10 - 1.5 * static_cast<double>(k));
          v.canalRadiusY = std::max(3.0, 6 - 0.8 * static_cast<double>(k));
          v.canalCentreY = v.centreY + v.depth / 2 + v.canalRadiusY + 0.5;
          v.pedicleRadius = scale * 6;
          v.pedicleOffsetX = v.canalRadiusX + v.pedicleRadius * 0.6;
          v.pedicleStartY = v.centreY + v.depth / 2 - 3;
          v.pedicleEndY = v.centreY + v.depth / 2 + 10;
          v.pedicleZ = Interval{v.zTop - 0.62 * v.height, v.zTop - 0.08 * v.height};
          v.transverseTipX = v.width / 2 + 8;
        }
      }

      // the final list, C3 first; the T1-L5 elements' vertebra indices move down by five
      const int cervicalCount = static_cast<int>(cervical.size());
      std::vector<VertebraModel> all = cervical;
      all.insert(all.end(), anatomy.vertebrae.begin(), anatomy.vertebrae.end());
      const int firstSacral = static_cast<int>(all.size());
      all.insert(all.end(), sacrum.begin(), sacrum.end());
      for (Element& e : anatomy.elements)
      {
        if (e.vertebra >= 0)
        {
          e.vertebra += cervicalCount;
        }
      }
      // leans of the new vertebrae from their neighbours (T1's and L5's stay as they were)
      auto leanFrom = [&](size_t i)
      {
        const VertebraModel& above = all[i > 0 ? i - 1 : i];
        const VertebraModel& below = all[i + 1 < all.size() ? i + 1 : i];
        const double dz = (above.zTop + above.zBottom) / 2 - (below.zTop + below.zBottom) / 2;
        all[i].slopeX = (above.centreX - below.centreX) / dz;
        all[i].slopeY = (above.centreY - below.centreY) / dz;
      };
      for (int i = 0; i < cervicalCount; ++i) leanFrom(static_cast<size_t>(i));
      for (size_t i = static_cast<size_t>(firstSacral); i < all.size(); ++i) leanFrom(i);
      anatomy.vertebrae = all;
      anatomy.firstLevelIndex = FIRST_SCANNABLE_LEVEL;
      anatomy.levelCentresZ.clear();
      for (const VertebraModel& v : anatomy.vertebrae)
      {
        anatomy.levelCentresZ.push_back((v.zTop + v.zBottom) / 2);
      }

      // --- cervical elements ---
      for (int k = 0; k < cervicalCount; ++k)
      {
        VertebraModel& v = anatomy.vertebrae[static_cast<size_t>(k)];
        const double cancellous = anatomy.cancellousHu + random.uniform(-12, 12);
        const BoneAdder bone{anatomy, v, k, cortical, cancellous};
        const double posteriorCore = cancellous + 90;
        const double h = v.height;
        addBody(bone, true);
        if (k + 1 < cervicalCount)
        {
          addDisc(anatomy, v, anatomy.vertebrae[static_cast<size_t>(k + 1)], 72);
        }
        if (k == 0)
        {
          Element disc = ellipseShape(v.centreX, v.centreY, v.width / 2 + 0.8, v.depth / 2 + 0.6);
          disc.clipMaxY = v.centreY + v.depth * 0.42 + 0.6;
          disc.tissue = Element::Tissue::Disc;
          disc.z = Interval{v.zTop, v.zTop + 5 * scale};
          disc.coreHu = 72;
          anatomy.elements.push_back(disc);
        }
        const bool c7 = v.levelIndex == C7_LEVEL;
        const double laminaJoinY = v.canalCentreY + v.canalRadiusY + 2.5;
        const double spinousLength = c7 ? 34 : 18;
        v.spinousTipY = laminaJoinY + spinousLength;
        const Interval posteriorZ{v.zTop - 0.85 * h, v.zTop - 0.1 * h};
        const Interval transverseZ{v.zTop - 0.65 * h, v.zTop - 0.2 * h};
        const double discAbove = k > 0 ? anatomy.vertebrae[static_cast<size_t>(k - 1)].discBelow : 5 * scale;
        for (double side : {-1.0, 1.0})
        {
          const double px = v.centreX + side * v.pedicleOffsetX;
          bone(capsuleShape(px, v.pedicleStartY, px, v.pedicleEndY, v.pedicleRadius), v.pedicleZ, posteriorCore);
          bone(capsuleShape(px, v.pedicleEndY, v.centreX + side * 2, laminaJoinY, 2.6), posteriorZ, posteriorCore);
          // transverse process, forward of the pedicle's end as in the neck
          bone(capsuleShape(px, v.pedicleStartY + 2, v.centreX + side * v.transverseTipX, v.pedicleStartY + 4,
                            c7 ? 3.5 : 3.0), transverseZ, posteriorCore);
          // articular pillar: the lateral mass spans the vertebra and the facet joints
          bone(ellipseShape(px + side * 4, v.pedicleEndY + 3, 5.5, 6.5),
               Interval{v.zBottom - v.discBelow * 0.9, v.zTop + discAbove * 0.9}, posteriorCore);
          if (c7 && cervicalRib)
          {
            // an incomplete cervical rib: out from the transverse process, then forward, ending
            // free beside the apex of the lung
            const double ribZ = v.zTop - 0.45 * h;
            const double x0 = v.centreX + side * (v.transverseTipX - 2);
            const double y0 = v.pedicleStartY + 4;
            const double x1 = v.centreX + side * (v.transverseTipX + 22);
            const double y1 = v.centreY + 6;
            const double x2 = v.centreX + side * (v.transverseTipX + 30);
            const double y2 = v.centreY - 10;
            bone(capsuleShape(x0, y0, x1, y1, 3.6), Interval{ribZ - 3.5, ribZ + 3.5}, posteriorCore - 30);
            bone(capsuleShape(x1, y1, x2, y2, 3.3), Interval{ribZ - 6.5, ribZ + 0.5}, posteriorCore - 30);
          }
        }
        bone(capsuleShape(v.centreX, laminaJoinY, v.centreX, v.spinousTipY, c7 ? 3.5 : 2.8),
             Interval{posteriorZ.low - (c7 ? 0.4 * h : 0.1 * h), posteriorZ.high - 0.1 * h}, posteriorCore);
      }

      // --- sacral elements ---
      const size_t s1Index = static_cast<size_t>(firstSacral);
      const VertebraModel& l5Model = anatomy.vertebrae[s1Index - 1];
      // the first segment fused to the sacrum by its alae: L5 when sacralised, S2 when S1 is
      // lumbarised, else S1
      const size_t baseIndex = transitional == TransitionalVertebra::SacralisedL5 ? s1Index - 1 :
                               lumbarised ? s1Index + 1 : s1Index;
      const double alaTipX = 54 * scale;
      for (size_t k = s1Index; k < anatomy.vertebrae.size(); ++k)
      {
        VertebraModel& v = anatomy.vertebrae[k];
        const double cancellous = anatomy.cancellousHu + random.uniform(-12, 12);
        const BoneAdder bone{anatomy, v, static_cast<int>(k), cortical, cancellous};
        const double posteriorCore = cancellous + 90;
        const double h = v.height;
        const bool freeS1 = lumbarised && k == s1Index;
        const bool fusedBelow = k + 1 < anatomy.vertebrae.size() && !freeS1;
        addBody(bone, k == s1Index || k == s1Index + 1);
        if (k + 1 < anatomy.vertebrae.size())
        {
          if (freeS1)
          {
            addDisc(anatomy, v, anatomy.vertebrae[k + 1], 72);
          }
          else if (fusedBelow)
          {
            // the remnant of the disc between fused segments: bone, a little less dense
            const VertebraModel& next = anatomy.vertebrae[k + 1];
            Element remnant = ellipseShape((v.centreX + next.centreX) / 2, (v.centreY + next.centreY) / 2,
                                           (v.width + next.width) / 4, (v.depth + next.depth) / 4);
            remnant.clipMaxY = remnant.y0 + (v.depth + next.depth) / 2 * 0.42;
            bone(remnant, Interval{v.zBottom - v.discBelow, v.zBottom}, cancellous - 50, 1.0);
          }
        }
        // the canal's roof (fused laminae) and the median crest; pedicles to the roof
        const double roofY = v.canalCentreY + v.canalRadiusY + 2;
        v.spinousTipY = roofY + (k == s1Index ? 16 : 10);
        const Interval segmentZ{v.zBottom - (fusedBelow ? v.discBelow : 0), v.zTop};
        for (double side : {-1.0, 1.0})
        {
          const double px = v.centreX + side * v.pedicleOffsetX;
          bone(capsuleShape(px, v.pedicleStartY, px, roofY, v.pedicleRadius * 0.8),
               Interval{v.zBottom + 0.1 * h, v.zTop - 0.1 * h}, posteriorCore);
          bone(capsuleShape(px, roofY, v.centreX, roofY + 2, 3.5), segmentZ, posteriorCore);
          if (k == s1Index)
          {
            // superior articular processes, rising into the disc space above to meet L5's
            bone(ellipseShape(px + side * 2.5, v.pedicleEndY + 2, 5.5, 6.5),
                 Interval{v.zTop - 0.3 * h, v.zTop + l5Model.discBelow * 0.9}, posteriorCore);
          }
          if (freeS1)
          {
            // a lumbarised S1 carries transverse processes like L5's instead of alae
            bone(capsuleShape(px, v.pedicleEndY - 1, v.centreX + side * (v.pedicleOffsetX + 22),
                              v.pedicleEndY + 1, 4), Interval{v.zTop - 0.6 * h, v.zTop - 0.15 * h}, posteriorCore);
          }
        }
        bone(capsuleShape(v.centreX, roofY, v.centreX, v.spinousTipY, 3), Interval{v.zBottom + 0.2 * h, v.zTop - 0.2 * h},
             posteriorCore);
        // lateral masses of the lower segments, narrowing down the sacrum
        if (k > baseIndex)
        {
          const double reach = alaTipX * std::max(0.35, 0.8 - 0.2 * static_cast<double>(k - baseIndex - 1));
          for (double side : {-1.0, 1.0})
          {
            bone(capsuleShape(v.centreX + side * v.width * 0.35, v.centreY + 0.46 * v.depth,
                              v.centreX + side * reach, v.centreY + 0.55 * v.depth, std::max(5.0, 0.3 * v.depth)),
                 segmentZ, cancellous + 20, 1.2);
          }
          v.transverseTipX = reach;
        }
      }

      // the alae of the first fused segment, out to the sacroiliac joints
      {
        VertebraModel& base = anatomy.vertebrae[baseIndex];
        const double cancellous = anatomy.cancellousHu + random.uniform(-12, 12);
        const BoneAdder bone{anatomy, base, static_cast<int>(baseIndex), cortical, cancellous};
        // a sacralised L5's alae reach down across its disc to the sacrum's
        const Interval z = baseIndex + 1 == s1Index ? Interval{base.zBottom - base.discBelow, base.zTop - 0.3 * base.height}
                                                   : Interval{base.zBottom - 0.4 * anatomy.vertebrae[baseIndex + 1].height,
                                                              base.zTop - 1.5};
        for (double side : {-1.0, 1.0})
        {
          addAla(bone, side, alaTipX, z);
        }
        base.transverseTipX = alaTipX;
      }

      // the iliac bones: beyond a 3 mm sacroiliac joint, thick behind, a thin wing forward and
      // out, whose crest rises beside L5
      {
        const VertebraModel& base = anatomy.vertebrae[std::max(baseIndex, s1Index)];
        const VertebraModel& low = anatomy.vertebrae[std::min(anatomy.vertebrae.size() - 1, s1Index + 2)];
        const double cancellous = anatomy.cancellousHu + random.uniform(-12, 12);
        const double wallX = anatomy.bodySemiX - anatomy.fatMm - 12;
        const double jointX = alaTipX + 3;
        const double cy = base.centreY;
        const double d = base.depth;
        const double crestZ = l5Model.zTop - 0.4 * l5Model.height;
        // the pelvis does not lean with the sacrum: no shear
        auto ilium = [&](Element e, Interval z)
        {
          e.tissue = Element::Tissue::Bone;
          e.z = z;
          e.cortexMm = 1.5;
          e.corticalHu = cortical;
          e.coreHu = cancellous + 30;
          anatomy.elements.push_back(e);
        };
        for (double side : {-1.0, 1.0})
        {
          const double x0 = base.centreX + side * (jointX + 8);
          const double x1 = base.centreX + side * std::min(jointX + 30, wallX - 20);
          const double x2 = base.centreX + side * std::min(jointX + 68, wallX - 4);
          ilium(capsuleShape(x0, cy + 0.55 * d, x1, cy + 0.1 * d, 8),
                Interval{low.zBottom, base.zTop + 0.5 * (crestZ - base.zTop)});
          ilium(capsuleShape(x1, cy + 0.1 * d, x2, cy - 0.9 * d, 4.5), Interval{low.zTop, crestZ});
        }
      }
    }
  }
}
