// SPDX-License-Identifier: GPL-3.0-or-later
#include "phantom/Phantom.h"
#include "phantom/PhantomModel.h"

#include "common/AnalysisError.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace spinemet
{
  using namespace phantom_detail;

  namespace
  {
    const char* const CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";

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

  PhantomStudy generatePhantom(const PhantomSettings& settings)
  {
    PhantomStudy study;
    study.settings = settings;
    study.acquisition = resolveAcquisition(settings);
    const PhantomAcquisition& a = study.acquisition;
    const PhantomLesionRanges ranges = settings.lesionRanges ? *settings.lesionRanges
                                                             : phantomLesionRanges(settings.difficulty);
    checkSettings(settings, ranges);

    Anatomy anatomy = buildAnatomy(settings.seed, settings.ribPairs);
    addColumnEnds(anatomy, settings.seed, settings.cervicalRib, settings.transitional);
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
    if (settings.bone == PhantomBoneModel::Realistic)
    {
      makeBoneRealistic(anatomy, settings, study.truth.vertebrae);
    }

    // slices from mid-disc above the first level to mid-disc below the last one
    const VertebraModel& top = vertebraAt(anatomy, firstLevel);
    const VertebraModel& bottom = vertebraAt(anatomy, lastLevel);
    const double discAbove = firstLevel > FIRST_SCANNABLE_LEVEL ? vertebraAt(anatomy, firstLevel - 1).discBelow : 4;
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
        const VertebraModel& v = vertebraAt(anatomy, level);
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
      slice.blasticLesionVisible = findings[k].blasticLesionVisible;
      slice.lyticLesionVisible = findings[k].lyticLesionVisible;
      slice.posterolateralLesionVisible = findings[k].posterolateralLesionVisible;
      slice.posterolateralVisibleSide =
        findings[k].leftPedicleLesionVisible ? (findings[k].rightPedicleLesionVisible ? LesionSide::Both : LesionSide::Left)
                                             : (findings[k].rightPedicleLesionVisible ? LesionSide::Right : LesionSide::None);
      for (PhantomVertebra& vertebra : study.truth.vertebrae)
      {
        if (slice.zMm >= vertebra.zMinMm && slice.zMm <= vertebra.zMaxMm)
        {
          slice.vertebra = vertebra.index;
          const VertebraModel& model = vertebraAt(anatomy, firstLevel + vertebra.index);
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
