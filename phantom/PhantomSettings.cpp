// SPDX-License-Identifier: GPL-3.0-or-later
// Settings: names, parsing, defaults and random acquisition draws, range checks, and the canonical
// text the UIDs are derived from.
#include "phantom/Phantom.h"
#include "phantom/PhantomModel.h"

#include "common/AnalysisError.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace spinemet
{
  using namespace phantom_detail;

  namespace
  {
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
  }

  namespace phantom_detail
  {
    [[noreturn]] void settingsError(const std::string& message)
    {
      throw AnalysisError("phantom-settings", message);
    }

    int levelIndex(const std::string& name)
    {
      const auto& names = phantomScannableLevelNames();
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
        settingsError("unknown vertebral level \"" + name + "\" (expected C3..C7, T1..T12, L1..L5 or S1)");
      }
      return static_cast<int>(found - names.begin()) + FIRST_SCANNABLE_LEVEL;
    }

    std::string levelName(int level)
    {
      if (level >= FIRST_SCANNABLE_LEVEL && level <= S1_LEVEL)
      {
        return phantomScannableLevelNames()[static_cast<size_t>(level - FIRST_SCANNABLE_LEVEL)];
      }
      if (level > S1_LEVEL && level <= S1_LEVEL + 4)
      {
        return "S" + std::to_string(level - S1_LEVEL + 1);
      }
      return "C" + std::to_string(8 + level);
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
        a.firstLevel = levelName(levelIndex(first));
        a.lastLevel = levelName(levelIndex(last));
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
      if (s.boneDensityHu && (s.bone != PhantomBoneModel::Realistic || !(*s.boneDensityHu >= 50 && *s.boneDensityHu <= 350)))
      {
        settingsError(s.bone != PhantomBoneModel::Realistic
                        ? std::string("a bone density needs realistic bone")
                        : "bone density must be 50 to 350 HU, not " + formatNumber(*s.boneDensityHu));
      }
      if (s.ribPairs < 11 || s.ribPairs > 13)
      {
        settingsError("rib pairs must be 11, 12 or 13, not " + std::to_string(s.ribPairs));
      }
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
      // Only a variant is written, so that the studies made before it existed keep their UIDs.
      if (s.ribPairs != 12)
      {
        out << ";ribs=" << s.ribPairs;
      }
      if (s.bone != PhantomBoneModel::Simple)
      {
        out << ";bone=" << toString(s.bone);
      }
      if (s.boneDensityHu)
      {
        out << ";bone-density=" << formatNumber(*s.boneDensityHu);
      }
      if (s.cervicalRib)
      {
        out << ";cervical-rib";
      }
      if (s.transitional != TransitionalVertebra::None)
      {
        out << ";transitional=" << toString(s.transitional);
      }
      return out.str();
    }
  }

  const std::vector<std::string>& phantomLevelNames()
  {
    static const std::vector<std::string> names = {
      "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12",
      "L1", "L2", "L3", "L4", "L5"};
    return names;
  }

  const std::vector<std::string>& phantomScannableLevelNames()
  {
    static const std::vector<std::string> names = {
      "C3", "C4", "C5", "C6", "C7",
      "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12",
      "L1", "L2", "L3", "L4", "L5", "S1"};
    return names;
  }

  const char* toString(TransitionalVertebra value)
  {
    switch (value)
    {
      case TransitionalVertebra::None: return "none";
      case TransitionalVertebra::SacralisedL5: return "sacralised-l5";
      case TransitionalVertebra::LumbarisedS1: return "lumbarised-s1";
    }
    return "none";
  }

  TransitionalVertebra parseTransitionalVertebra(const std::string& text)
  {
    const std::string t = lowercase(trim(text));
    if (t == "none") return TransitionalVertebra::None;
    if (t == "sacralised-l5" || t == "sacralized-l5") return TransitionalVertebra::SacralisedL5;
    if (t == "lumbarised-s1" || t == "lumbarized-s1") return TransitionalVertebra::LumbarisedS1;
    settingsError("unknown transitional vertebra \"" + text + "\" (expected none, sacralised-l5 or lumbarised-s1)");
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

  const char* toString(PhantomBoneModel value)
  {
    return value == PhantomBoneModel::Realistic ? "realistic" : "simple";
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

  PhantomBoneModel parsePhantomBoneModel(const std::string& text)
  {
    const std::string t = lowercase(trim(text));
    if (t == "simple") return PhantomBoneModel::Simple;
    if (t == "realistic") return PhantomBoneModel::Realistic;
    settingsError("unknown bone model \"" + text + "\" (expected simple or realistic)");
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

  PhantomLabel parseLesionLabel(const std::string& qualityAndExtension)
  {
    const std::string value = lowercase(qualityAndExtension);
    const size_t colon = value.find(':');
    const std::string quality = trim(value.substr(0, colon));
    const std::string extension = colon == std::string::npos ? "none" : trim(value.substr(colon + 1));

    PhantomLabel label;
    if (quality == "normal") label.boneQuality = BoneQuality::Normal;
    else if (quality == "blastic") label.boneQuality = BoneQuality::Blastic;
    else if (quality == "lytic") label.boneQuality = BoneQuality::Lytic;
    else if (quality == "mixed") label.boneQuality = BoneQuality::Mixed;
    else throw std::invalid_argument("bone quality must be normal, blastic, lytic or mixed");

    if (extension == "none") { label.posterolateral = Posterolateral::None; label.side = LesionSide::None; }
    else if (extension == "unilateral") { label.posterolateral = Posterolateral::Unilateral; label.side = LesionSide::None; }
    else if (extension == "unilateral-left" || extension == "left") { label.posterolateral = Posterolateral::Unilateral; label.side = LesionSide::Left; }
    else if (extension == "unilateral-right" || extension == "right") { label.posterolateral = Posterolateral::Unilateral; label.side = LesionSide::Right; }
    else if (extension == "bilateral") { label.posterolateral = Posterolateral::Bilateral; label.side = LesionSide::Both; }
    else throw std::invalid_argument("posterolateral involvement must be none, unilateral, unilateral-left, "
                                     "unilateral-right or bilateral");
    if (label.boneQuality == BoneQuality::Normal && label.posterolateral != Posterolateral::None)
    {
      throw std::invalid_argument("a normal vertebra cannot have posterolateral involvement");
    }
    return label;
  }

  std::map<std::string, PhantomLabel> parseLabelList(const std::string& text,
                                                     const std::function<std::string(const std::string&)>& keyOf,
                                                     const std::string& example)
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
      try
      {
        if (equals == std::string::npos)
        {
          throw std::invalid_argument("is not of the form " + example);
        }
        const std::string key = keyOf(entry.substr(0, equals));
        if (labels.count(key))
        {
          throw std::invalid_argument(key + " is labelled twice");
        }
        labels[key] = parseLesionLabel(entry.substr(equals + 1));
      }
      catch (const std::invalid_argument& problem)
      {
        throw std::invalid_argument("label \"" + entry + "\": " + problem.what());
      }
    }
    return labels;
  }

  std::map<std::string, PhantomLabel> parsePhantomLabels(const std::string& text)
  {
    try
    {
      return parseLabelList(text, [](const std::string& level) { return levelName(levelIndex(level)); },
                            "LEVEL=QUALITY[:POSTEROLATERAL], e.g. T11=lytic:bilateral");
    }
    catch (const std::invalid_argument& problem)
    {
      settingsError(problem.what());
    }
  }
}
