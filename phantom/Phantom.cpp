// SPDX-License-Identifier: GPL-3.0-or-later
#include "phantom/Phantom.h"
#include "phantom/PhantomModel.h"

#include "common/AnalysisError.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace spinemet
{
  using namespace phantom_detail;

  namespace
  {
    const char* const SETTINGS_ERROR = "phantom-settings";
    const char* const CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";
    const int LEVEL_COUNT = 17;   // T1..L5

    [[noreturn]] void settingsError(const std::string& message)
    {
      throw AnalysisError(SETTINGS_ERROR, message);
    }

    std::string lowercase(std::string text)
    {
      std::transform(text.begin(), text.end(), text.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      return text;
    }

    std::string trim(const std::string& text)
    {
      const size_t first = text.find_first_not_of(" \t");
      if (first == std::string::npos)
      {
        return "";
      }
      const size_t last = text.find_last_not_of(" \t");
      return text.substr(first, last - first + 1);
    }

    int levelIndex(const std::string& name)
    {
      const auto& names = phantomLevelNames();
      const std::string upper = [&]
      {
        std::string u = trim(name);
        std::transform(u.begin(), u.end(), u.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        return u;
      }();
      const auto found = std::find(names.begin(), names.end(), upper);
      if (found == names.end())
      {
        settingsError("unknown vertebral level \"" + name + "\" (expected T1..T12 or L1..L5)");
      }
      return static_cast<int>(found - names.begin());
    }

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

    double roundTo(double value, double step)
    {
      return std::round(value / step) * step;
    }

    std::string formatNumber(double value)
    {
      char buffer[32];
      std::snprintf(buffer, sizeof(buffer), "%.6g", value);
      return buffer;
    }

    PhantomAcquisition resolveAcquisition(const PhantomSettings& s)
    {
      PhantomAcquisition a;
      Random random = stream(s.seed, "acquisition");
      // Always draw, so that setting one field does not change the others.
      const bool smallMatrix = random.chance(0.2);
      const double fieldOfViewFraction = random.uniform();
      static const double thicknesses[] = {0.625, 1.0, 1.25, 2.0, 2.5, 3.0, 5.0};
      const double thickness = thicknesses[random.index(7)];
      const double spacingKind = random.uniform();
      const bool ascending = random.chance(0.5);
      const double syntaxDraw = random.uniform();
      const double lateral = random.uniform(-30, 30);
      const double anteriorPosterior = random.uniform(-35, 25);
      const int levelCount = 2 + static_cast<int>(random.index(6));
      const double firstDraw = random.uniform();

      if (s.randomAcquisition)
      {
        a.matrix = smallMatrix ? 256 : 512;
        // 512: field of view 256-500 mm; 256: 205-256 mm, so that a whole column always fits
        a.pixelSpacingMm = smallMatrix ? 0.8 + 0.2 * fieldOfViewFraction
                                       : 0.5 + 0.475 * fieldOfViewFraction;
        a.sliceThicknessMm = thickness;
        a.sliceSpacingMm = spacingKind < 0.7 ? thickness : std::max(0.625, thickness / 2);
        a.order = ascending ? PhantomSliceOrder::Ascending : PhantomSliceOrder::Descending;
        a.transferSyntax = syntaxDraw < 0.55 ? PhantomTransferSyntax::ExplicitLittleEndian :
                           syntaxDraw < 0.7 ? PhantomTransferSyntax::Rle :
                           syntaxDraw < 0.85 ? PhantomTransferSyntax::JpegLossless :
                                               PhantomTransferSyntax::JpegLsLossless;
        a.lateralOffsetMm = lateral;
        a.anteriorPosteriorOffsetMm = anteriorPosterior;
        // levels weighted towards the thoracolumbar junction, where metastases concentrate
        const int centre = static_cast<int>(std::round(6 + firstDraw * 10));
        const int first = std::max(0, std::min(LEVEL_COUNT - levelCount, centre - levelCount / 2));
        a.firstLevel = phantomLevelNames()[first];
        a.lastLevel = phantomLevelNames()[first + levelCount - 1];
      }
      else
      {
        a.firstLevel = "T12";
        a.lastLevel = "L2";
      }

      if (s.levels)
      {
        const std::string text = trim(*s.levels);
        const size_t dash = text.find('-');
        const std::string first = dash == std::string::npos ? text : text.substr(0, dash);
        const std::string last = dash == std::string::npos ? text : text.substr(dash + 1);
        a.firstLevel = phantomLevelNames()[levelIndex(first)];
        a.lastLevel = phantomLevelNames()[levelIndex(last)];
        if (levelIndex(a.firstLevel) > levelIndex(a.lastLevel))
        {
          settingsError("levels \"" + *s.levels + "\" must run cranial to caudal (e.g. T10-L2)");
        }
      }
      if (s.matrix) a.matrix = *s.matrix;
      if (s.pixelSpacingMm) a.pixelSpacingMm = *s.pixelSpacingMm;
      if (s.sliceThicknessMm)
      {
        a.sliceThicknessMm = *s.sliceThicknessMm;
        if (!s.sliceSpacingMm && !s.randomAcquisition) a.sliceSpacingMm = a.sliceThicknessMm;
      }
      if (s.sliceSpacingMm) a.sliceSpacingMm = *s.sliceSpacingMm;
      if (s.order) a.order = *s.order;
      if (s.transferSyntax) a.transferSyntax = *s.transferSyntax;
      if (s.lateralOffsetMm) a.lateralOffsetMm = *s.lateralOffsetMm;
      if (s.anteriorPosteriorOffsetMm) a.anteriorPosteriorOffsetMm = *s.anteriorPosteriorOffsetMm;

      if (a.matrix != 256 && a.matrix != 512)
      {
        settingsError("matrix must be 256 or 512, not " + std::to_string(a.matrix));
      }
      if (!(a.pixelSpacingMm >= 0.5 && a.pixelSpacingMm <= 1.0))
      {
        settingsError("pixel spacing must be 0.5 to 1.0 mm, not " + formatNumber(a.pixelSpacingMm));
      }
      if (!(a.sliceThicknessMm >= 0.625 && a.sliceThicknessMm <= 5.0))
      {
        settingsError("slice thickness must be 0.625 to 5 mm, not " + formatNumber(a.sliceThicknessMm));
      }
      if (!(a.sliceSpacingMm >= 0.625 && a.sliceSpacingMm <= 5.0))
      {
        settingsError("slice spacing must be 0.625 to 5 mm, not " + formatNumber(a.sliceSpacingMm));
      }
      if (!(std::fabs(a.lateralOffsetMm) <= 100 && std::fabs(a.anteriorPosteriorOffsetMm) <= 100))
      {
        settingsError("field-of-view offsets must lie within +-100 mm");
      }
      // Values as DICOM will carry them, so that the volume and the files agree exactly.
      a.pixelSpacingMm = roundTo(a.pixelSpacingMm, 1e-6);
      a.lateralOffsetMm = roundTo(a.lateralOffsetMm, 0.1);
      a.anteriorPosteriorOffsetMm = roundTo(a.anteriorPosteriorOffsetMm, 0.1);
      return a;
    }

    void checkSettings(const PhantomSettings& s, const PhantomLesionRanges& ranges)
    {
      auto probability = [](double p, const char* name)
      {
        if (!(p >= 0 && p <= 1))
        {
          settingsError(std::string(name) + " must be a probability in [0, 1], not " + formatNumber(p));
        }
      };
      probability(s.lesionProbability, "lesion probability");
      probability(s.posterolateralProbability, "posterolateral probability");
      probability(s.bilateralProbability, "bilateral probability");
      const double weightSum = s.lesionTypeWeights[0] + s.lesionTypeWeights[1] + s.lesionTypeWeights[2];
      if (!(s.lesionTypeWeights[0] >= 0 && s.lesionTypeWeights[1] >= 0 && s.lesionTypeWeights[2] >= 0 &&
            weightSum > 0))
      {
        settingsError("lesion type weights must be non-negative and not all zero");
      }
      if (!(s.noiseSigmaHu >= 0 && s.noiseSigmaHu <= 200))
      {
        settingsError("noise sigma must be 0 to 200 HU, not " + formatNumber(s.noiseSigmaHu));
      }
      if (!(s.inPlaneBlurMm >= 0 && s.inPlaneBlurMm <= 3))
      {
        settingsError("in-plane blur must be 0 to 3 mm, not " + formatNumber(s.inPlaneBlurMm));
      }
      if (!(ranges.radiusMinMm > 0.5 && ranges.radiusMinMm <= ranges.radiusMaxMm && ranges.radiusMaxMm <= 20))
      {
        settingsError("lesion radius range must satisfy 0.5 < min <= max <= 20 mm");
      }
      if (!(ranges.lyticHuMin <= ranges.lyticHuMax && ranges.lyticHuMax < 170 && ranges.lyticHuMin >= -100))
      {
        settingsError("lytic HU range must satisfy -100 <= min <= max < 170 (below cancellous bone)");
      }
      if (!(ranges.blasticHuMin <= ranges.blasticHuMax && ranges.blasticHuMin > 330 && ranges.blasticHuMax <= 2000))
      {
        settingsError("blastic HU range must satisfy 330 < min <= max <= 2000 (above cancellous bone)");
      }
      for (const auto& [level, label] : s.labels)
      {
        levelIndex(level);
        if (label.boneQuality == BoneQuality::Normal && label.posterolateral != Posterolateral::None)
        {
          settingsError("level " + level + ": a normal vertebra cannot have posterolateral involvement");
        }
        const bool sideFits =
          label.posterolateral == Posterolateral::None ? label.side == LesionSide::None :
          label.posterolateral == Posterolateral::Bilateral ? label.side == LesionSide::Both :
          label.side != LesionSide::Both;
        if (!sideFits)
        {
          settingsError("level " + level + ": posterolateral involvement and side disagree");
        }
      }
    }

    // The canonical text of everything that shapes the study: the UIDs are derived from it.
    std::string canonicalSettings(const PhantomSettings& s, const PhantomAcquisition& a,
                                  const PhantomLesionRanges& r)
    {
      std::ostringstream out;
      out << "seed=" << s.seed << ";levels=" << a.firstLevel << "-" << a.lastLevel
          << ";matrix=" << a.matrix << ";pixel=" << formatNumber(a.pixelSpacingMm)
          << ";thickness=" << formatNumber(a.sliceThicknessMm)
          << ";spacing=" << formatNumber(a.sliceSpacingMm) << ";order=" << toString(a.order)
          << ";syntax=" << toString(a.transferSyntax) << ";offset=" << formatNumber(a.lateralOffsetMm)
          << "," << formatNumber(a.anteriorPosteriorOffsetMm) << ";noise=" << formatNumber(s.noiseSigmaHu)
          << ";blur=" << formatNumber(s.inPlaneBlurMm) << ";difficulty=" << toString(s.difficulty)
          << ";radius=" << formatNumber(r.radiusMinMm) << "," << formatNumber(r.radiusMaxMm)
          << ";lytic=" << formatNumber(r.lyticHuMin) << "," << formatNumber(r.lyticHuMax)
          << ";blastic=" << formatNumber(r.blasticHuMin) << "," << formatNumber(r.blasticHuMax)
          << ";p=" << formatNumber(s.lesionProbability) << "," << formatNumber(s.posterolateralProbability)
          << "," << formatNumber(s.bilateralProbability) << ";weights="
          << formatNumber(s.lesionTypeWeights[0]) << "," << formatNumber(s.lesionTypeWeights[1]) << ","
          << formatNumber(s.lesionTypeWeights[2]) << ";labels=";
      for (const auto& [level, label] : s.labels)
      {
        out << level << ":" << static_cast<int>(label.boneQuality) << ":"
            << static_cast<int>(label.posterolateral) << ":" << static_cast<int>(label.side) << ",";
      }
      return out.str();
    }

    // The whole column T1..L5 in patient coordinates, the trunk around it, and the bone elements.
    Anatomy buildAnatomy(uint64_t seed)
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

        // ribs at T1..T12: head at the body, neck along the transverse process, then round the
        // chest wall, sloping down as they go forward
        if (v.levelIndex <= 11)
        {
          const double wallX = anatomy.bodySemiX - anatomy.fatMm - 9;
          const double wallY = anatomy.bodySemiY - anatomy.fatMm - 9;
          const int segments = v.levelIndex >= 10 ? 3 + (11 - v.levelIndex) * 2 : 9;
          const double ribZ = v.zTop - 0.4 * h;
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

    // Where the vertebra's lean puts a point drawn relative to its mid-height centre.
    void lean(const VertebraModel& v, Vector3& point)
    {
      const double dz = point[2] - (v.zTop + v.zBottom) / 2;
      point[0] += v.slopeX * dz;
      point[1] += v.slopeY * dz;
    }

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

    void placeLesions(Anatomy& anatomy, const PhantomSettings& settings, const PhantomLesionRanges& ranges,
                      int firstLevel, int lastLevel, std::vector<PhantomVertebra>& truth)
    {
      Random labels = stream(settings.seed, "labels");
      Random lesions = stream(settings.seed, "lesions");
      for (int level = firstLevel; level <= lastLevel; ++level)
      {
        VertebraModel& v = anatomy.vertebrae[level];
        const std::string name = phantomLevelNames()[level];
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
          const int count = 1 + static_cast<int>(lesions.index(label.boneQuality == BoneQuality::Mixed ? 2 : 3));
          for (int k = 0; k < count; ++k)
          {
            // keep sclerotic foci apart from lytic ones, so that each kind stays visible
            PhantomLesion focus = bodyLesion(lesions, v, ranges, false);
            for (int attempt = 0; attempt < 8 && hasLytic; ++attempt)
            {
              const PhantomLesion& lytic = v.lesions.front().truth;
              const double dx = focus.centre[0] - lytic.centre[0];
              const double dy = focus.centre[1] - lytic.centre[1];
              if (std::sqrt(dx * dx + dy * dy) > lytic.radiiMm[0] + focus.radiiMm[0])
              {
                break;
              }
              focus = bodyLesion(lesions, v, ranges, false);
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
            const bool lytic = label.boneQuality == BoneQuality::Lytic ||
                               (label.boneQuality == BoneQuality::Mixed && lesions.chance(0.5));
            v.lesions.push_back(Lesion{pedicleLesion(lesions, v, ranges, lytic, left), true, lytic});
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

    // A Gaussian table indexed by random bits: as good as Box-Muller per pixel, much faster.
    const std::vector<float>& gaussianTable()
    {
      static const std::vector<float> table = []
      {
        Random random(0x4E4F495345ull);
        std::vector<float> values(65536);
        for (float& value : values)
        {
          value = static_cast<float>(random.normal());
        }
        return values;
      }();
      return table;
    }

    std::string formatDate(uint64_t seed)
    {
      // a date between 2020 and 2025, so that studies of different seeds sort apart
      static const int daysInMonth[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
      int day = static_cast<int>(seed % 2000);
      int year = 2020;
      for (;;)
      {
        const int length = (year % 4 == 0) ? 366 : 365;
        if (day < length) break;
        day -= length;
        ++year;
      }
      int month = 0;
      for (;; ++month)
      {
        const int length = daysInMonth[month] + ((month == 1 && year % 4 == 0) ? 1 : 0);
        if (day < length) break;
        day -= length;
      }
      char buffer[32];
      std::snprintf(buffer, sizeof(buffer), "%04d%02d%02d", year, month + 1, day + 1);
      return buffer;
    }

    std::string sliceDescription(double thickness)
    {
      return "SPINE " + formatNumber(thickness) + "mm BONE";
    }
  }

  const std::vector<std::string>& phantomLevelNames()
  {
    static const std::vector<std::string> names = {
      "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12",
      "L1", "L2", "L3", "L4", "L5"};
    return names;
  }

  PhantomLesionRanges phantomLesionRanges(PhantomDifficulty difficulty)
  {
    PhantomLesionRanges r;
    switch (difficulty)
    {
      case PhantomDifficulty::Easy:
        r = PhantomLesionRanges{6, 10, 0, 60, 800, 1200};
        break;
      case PhantomDifficulty::Normal:
        r = PhantomLesionRanges{4, 8, 25, 100, 550, 900};
        break;
      case PhantomDifficulty::Hard:
        r = PhantomLesionRanges{2.5, 5, 90, 145, 380, 560};
        break;
    }
    return r;
  }

  const char* toString(PhantomDifficulty value)
  {
    switch (value)
    {
      case PhantomDifficulty::Easy: return "easy";
      case PhantomDifficulty::Normal: return "normal";
      case PhantomDifficulty::Hard: return "hard";
    }
    return "normal";
  }

  const char* toString(PhantomSliceOrder value)
  {
    return value == PhantomSliceOrder::Ascending ? "ascending" : "descending";
  }

  const char* toString(PhantomTransferSyntax value)
  {
    switch (value)
    {
      case PhantomTransferSyntax::ExplicitLittleEndian: return "explicit";
      case PhantomTransferSyntax::Rle: return "rle";
      case PhantomTransferSyntax::JpegLossless: return "jpeg-lossless";
      case PhantomTransferSyntax::JpegLsLossless: return "jpeg-ls";
    }
    return "explicit";
  }

  const char* toString(LesionSide value)
  {
    switch (value)
    {
      case LesionSide::None: return "none";
      case LesionSide::Left: return "left";
      case LesionSide::Right: return "right";
      case LesionSide::Both: return "both";
    }
    return "none";
  }

  std::string transferSyntaxUid(PhantomTransferSyntax value)
  {
    switch (value)
    {
      case PhantomTransferSyntax::ExplicitLittleEndian: return "1.2.840.10008.1.2.1";
      case PhantomTransferSyntax::Rle: return "1.2.840.10008.1.2.5";
      case PhantomTransferSyntax::JpegLossless: return "1.2.840.10008.1.2.4.70";
      case PhantomTransferSyntax::JpegLsLossless: return "1.2.840.10008.1.2.4.80";
    }
    return "1.2.840.10008.1.2.1";
  }

  PhantomDifficulty parsePhantomDifficulty(const std::string& text)
  {
    const std::string t = lowercase(trim(text));
    if (t == "easy") return PhantomDifficulty::Easy;
    if (t == "normal") return PhantomDifficulty::Normal;
    if (t == "hard") return PhantomDifficulty::Hard;
    settingsError("unknown difficulty \"" + text + "\" (expected easy, normal or hard)");
  }

  PhantomSliceOrder parsePhantomSliceOrder(const std::string& text)
  {
    const std::string t = lowercase(trim(text));
    if (t == "ascending") return PhantomSliceOrder::Ascending;
    if (t == "descending") return PhantomSliceOrder::Descending;
    settingsError("unknown slice order \"" + text + "\" (expected ascending or descending)");
  }

  PhantomTransferSyntax parsePhantomTransferSyntax(const std::string& text)
  {
    const std::string t = lowercase(trim(text));
    if (t == "explicit") return PhantomTransferSyntax::ExplicitLittleEndian;
    if (t == "rle") return PhantomTransferSyntax::Rle;
    if (t == "jpeg-lossless") return PhantomTransferSyntax::JpegLossless;
    if (t == "jpeg-ls") return PhantomTransferSyntax::JpegLsLossless;
    settingsError("unknown transfer syntax \"" + text + "\" (expected explicit, rle, jpeg-lossless or jpeg-ls)");
  }

  std::map<std::string, PhantomLabel> parsePhantomLabels(const std::string& text)
  {
    std::map<std::string, PhantomLabel> labels;
    std::istringstream entries(text);
    std::string entry;
    while (std::getline(entries, entry, ','))
    {
      entry = trim(entry);
      if (entry.empty())
      {
        continue;
      }
      const size_t equals = entry.find('=');
      if (equals == std::string::npos)
      {
        settingsError("label \"" + entry + "\" is not LEVEL=QUALITY[:POSTEROLATERAL], e.g. T11=lytic:bilateral");
      }
      const std::string level = phantomLevelNames()[levelIndex(entry.substr(0, equals))];
      const std::string value = lowercase(entry.substr(equals + 1));
      const size_t colon = value.find(':');
      const std::string quality = trim(value.substr(0, colon));
      const std::string extension = colon == std::string::npos ? "none" : trim(value.substr(colon + 1));

      PhantomLabel label;
      if (quality == "normal") label.boneQuality = BoneQuality::Normal;
      else if (quality == "blastic") label.boneQuality = BoneQuality::Blastic;
      else if (quality == "lytic") label.boneQuality = BoneQuality::Lytic;
      else if (quality == "mixed") label.boneQuality = BoneQuality::Mixed;
      else settingsError("label \"" + entry + "\": bone quality must be normal, blastic, lytic or mixed");

      if (extension == "none") { label.posterolateral = Posterolateral::None; label.side = LesionSide::None; }
      else if (extension == "unilateral") { label.posterolateral = Posterolateral::Unilateral; label.side = LesionSide::None; }
      else if (extension == "unilateral-left" || extension == "left") { label.posterolateral = Posterolateral::Unilateral; label.side = LesionSide::Left; }
      else if (extension == "unilateral-right" || extension == "right") { label.posterolateral = Posterolateral::Unilateral; label.side = LesionSide::Right; }
      else if (extension == "bilateral") { label.posterolateral = Posterolateral::Bilateral; label.side = LesionSide::Both; }
      else settingsError("label \"" + entry + "\": posterolateral involvement must be none, unilateral, "
                         "unilateral-left, unilateral-right or bilateral");
      if (label.boneQuality == BoneQuality::Normal && label.posterolateral != Posterolateral::None)
      {
        settingsError("label \"" + entry + "\": a normal vertebra cannot have posterolateral involvement");
      }
      labels[level] = label;
    }
    return labels;
  }

  PhantomStudy generatePhantom(const PhantomSettings& settings)
  {
    PhantomStudy study;
    study.settings = settings;
    study.acquisition = resolveAcquisition(settings);
    const PhantomAcquisition& a = study.acquisition;
    const PhantomLesionRanges ranges = settings.lesionRanges ? *settings.lesionRanges
                                                             : phantomLesionRanges(settings.difficulty);
    checkSettings(settings, ranges);

    Anatomy anatomy = buildAnatomy(settings.seed);
    const int firstLevel = levelIndex(a.firstLevel);
    const int lastLevel = levelIndex(a.lastLevel);
    for (const auto& entry : settings.labels)
    {
      const int level = levelIndex(entry.first);
      if (level < firstLevel || level > lastLevel)
      {
        settingsError("a label is given for " + entry.first + ", outside the levels covered (" +
                      a.firstLevel + "-" + a.lastLevel + ")");
      }
    }
    placeLesions(anatomy, settings, ranges, firstLevel, lastLevel, study.truth.vertebrae);

    // slices from mid-disc above the first level to mid-disc below the last one
    const VertebraModel& top = anatomy.vertebrae[firstLevel];
    const VertebraModel& bottom = anatomy.vertebrae[lastLevel];
    const double discAbove = firstLevel > 0 ? anatomy.vertebrae[firstLevel - 1].discBelow : 4;
    const double zHigh = top.zTop + discAbove / 2;
    const double zLow = bottom.zBottom - bottom.discBelow / 2;
    const size_t sliceCount = static_cast<size_t>(std::floor((zHigh - zLow) / a.sliceSpacingMm + 1e-9)) + 1;
    const double firstZ = roundTo((zLow + zHigh) / 2 - (sliceCount - 1) * a.sliceSpacingMm / 2, 0.001);

    // field of view: keep the whole column inside it, whatever the offsets asked for
    const double halfField = a.pixelSpacingMm * (a.matrix - 1) / 2;
    double centreX = anatomy.bodyCentreX - a.lateralOffsetMm;
    double centreY = anatomy.bodyCentreY - a.anteriorPosteriorOffsetMm;
    {
      double xMin = 1e9, xMax = -1e9, yMin = 1e9, yMax = -1e9;
      for (int level = firstLevel; level <= lastLevel; ++level)
      {
        const VertebraModel& v = anatomy.vertebrae[level];
        xMin = std::min(xMin, v.centreX - v.transverseTipX - 5);
        xMax = std::max(xMax, v.centreX + v.transverseTipX + 5);
        yMin = std::min(yMin, v.centreY - v.depth / 2 - 5);
        yMax = std::max(yMax, v.spinousTipY + 5);
      }
      centreX = std::min(std::max(centreX, xMax - halfField), xMin + halfField);
      centreY = std::min(std::max(centreY, yMax - halfField), yMin + halfField);
      // record the offsets as used
      study.acquisition.lateralOffsetMm = roundTo(anatomy.bodyCentreX - centreX, 0.1);
      study.acquisition.anteriorPosteriorOffsetMm = roundTo(anatomy.bodyCentreY - centreY, 0.1);
      centreX = anatomy.bodyCentreX - study.acquisition.lateralOffsetMm;
      centreY = anatomy.bodyCentreY - study.acquisition.anteriorPosteriorOffsetMm;
    }
    SliceGrid grid;
    grid.columns = a.matrix;
    grid.rows = a.matrix;
    grid.spacing = a.pixelSpacingMm;
    grid.originX = roundTo(centreX - halfField, 0.001);
    grid.originY = roundTo(centreY - halfField, 0.001);

    const std::string canonical = canonicalSettings(settings, a, ranges);
    SeriesAttributes& attributes = study.series.attributes;
    attributes.patientName = "PHANTOM^SPINE^" + std::to_string(settings.seed);
    attributes.patientId = "SPINEMET-PHANTOM-" + std::to_string(settings.seed);
    attributes.patientBirthDate = "";
    attributes.patientSex = "O";
    attributes.studyInstanceUid = uidFromText(canonical + "|study");
    attributes.studyDate = formatDate(settings.seed);
    {
      char time[16];
      std::snprintf(time, sizeof(time), "%02d%02d%02d", static_cast<int>(8 + settings.seed % 10),
                    static_cast<int>((settings.seed / 10) % 60), static_cast<int>((settings.seed / 600) % 60));
      attributes.studyTime = time;
    }
    attributes.studyId = std::to_string(settings.seed % 100000);
    attributes.accessionNumber = "PH" + std::to_string(settings.seed % 10000000);
    attributes.referringPhysicianName = "";
    attributes.studyDescription = "SYNTHETIC SPINE CT (SpineMet phantom)";
    attributes.seriesInstanceUid = uidFromText(canonical + "|series");
    attributes.seriesNumber = "2";
    attributes.seriesDescription = sliceDescription(a.sliceThicknessMm);
    attributes.modality = "CT";
    attributes.bodyPartExamined = "SPINE";
    attributes.frameOfReferenceUid = uidFromText(canonical + "|frame-of-reference");
    attributes.manufacturer = "SpineMet phantom";
    attributes.specificCharacterSet = "ISO_IR 100";

    VolumeGeometry geometry;
    geometry.columns = a.matrix;
    geometry.rows = a.matrix;
    geometry.slices = sliceCount;
    geometry.columnSpacing = a.pixelSpacingMm;
    geometry.rowSpacing = a.pixelSpacingMm;
    geometry.sliceSpacing = a.sliceSpacingMm;
    geometry.sliceThickness = a.sliceThicknessMm;
    geometry.origin = {grid.originX, grid.originY, firstZ};

    std::vector<std::vector<int16_t>> voxels(sliceCount);
    std::vector<float> hu;
    RenderBuffers buffers;
    const std::vector<float>& gaussian = gaussianTable();
    const double blurPixels = settings.inPlaneBlurMm / a.pixelSpacingMm;
    const float noise = static_cast<float>(settings.noiseSigmaHu);
    std::vector<SliceFindings> findings(sliceCount);
    std::vector<double> zs(sliceCount);

    for (size_t k = 0; k < sliceCount; ++k)
    {
      const double z = roundTo(firstZ + k * a.sliceSpacingMm, 1e-6);
      zs[k] = z;
      findings[k] = renderSlab(anatomy, grid, z, a.sliceThicknessMm, hu, buffers);
      blurInPlane(hu, grid.columns, grid.rows, blurPixels, buffers.scratch);

      Random random = stream(settings.seed, "noise-" + std::to_string(k));
      std::vector<int16_t>& out = voxels[k];
      out.resize(hu.size());
      size_t i = 0;
      while (i < hu.size())
      {
        uint64_t bits = random.next();
        for (int part = 0; part < 4 && i < hu.size(); ++part, ++i, bits >>= 16)
        {
          float value = hu[i] + noise * gaussian[bits & 0xFFFF];
          value = std::min(std::max(value, -1024.f), 3071.f);   // the stored 12-bit range
          out[i] = static_cast<int16_t>(std::lround(value));
        }
      }
    }
    study.series.volume = Volume(geometry, std::move(voxels));

    // slice references (volume order) and the truth per slice (cranial to caudal)
    const int digits = sliceCount >= 10000 ? 5 : 4;
    study.series.slices.resize(sliceCount);
    for (size_t k = 0; k < sliceCount; ++k)
    {
      SliceReference& reference = study.series.slices[k];
      reference.sopClassUid = CT_IMAGE_STORAGE;
      reference.sopInstanceUid = uidFromText(canonical + "|instance|" + std::to_string(k));
      reference.position = zs[k];
      reference.instanceNumber = a.order == PhantomSliceOrder::Ascending ? static_cast<int>(k + 1)
                                                                        : static_cast<int>(sliceCount - k);
    }
    for (size_t i = 0; i < sliceCount; ++i)
    {
      const size_t k = sliceCount - 1 - i;
      const SliceReference& reference = study.series.slices[k];
      PhantomSlice slice;
      char name[32];
      std::snprintf(name, sizeof(name), "CT%0*d.dcm", digits, reference.instanceNumber);
      slice.fileName = name;
      slice.sopInstanceUid = reference.sopInstanceUid;
      slice.zMm = reference.position;
      slice.instanceNumber = reference.instanceNumber;
      slice.lesionVisible = findings[k].lesionVisible;
      slice.posterolateralLesionVisible = findings[k].posterolateralLesionVisible;
      for (PhantomVertebra& vertebra : study.truth.vertebrae)
      {
        if (slice.zMm >= vertebra.zMinMm && slice.zMm <= vertebra.zMaxMm)
        {
          slice.vertebra = vertebra.index;
          const VertebraModel& model = anatomy.vertebrae[firstLevel + vertebra.index];
          Vector3 centre = vertebra.bodyCentre;
          centre[2] = slice.zMm;
          lean(model, centre);
          slice.bodyCentreColumn = (centre[0] - grid.originX) / grid.spacing;
          slice.bodyCentreRow = (centre[1] - grid.originY) / grid.spacing;
          slice.boneQuality = vertebra.boneQuality;
          slice.posterolateral = vertebra.posterolateral;
          slice.side = vertebra.side;
          vertebra.sopInstanceUids.push_back(slice.sopInstanceUid);
        }
      }
      study.truth.slices.push_back(slice);
    }
    for (PhantomVertebra& vertebra : study.truth.vertebrae)
    {
      vertebra.bodyCentreColumn = (vertebra.bodyCentre[0] - grid.originX) / grid.spacing;
      vertebra.bodyCentreRow = (vertebra.bodyCentre[1] - grid.originY) / grid.spacing;
    }
    return study;
  }
}
