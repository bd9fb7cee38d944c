// SPDX-License-Identifier: GPL-3.0-or-later
#include "spine/VertebraSegmentation.h"

#include "common/AnalysisError.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmfg/fgseg.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>
#include <dcmtk/dcmseg/segutils.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

namespace spinemet
{
  namespace
  {
    // Cranio-caudal rank of a level: C1 = 0 ... C7, T1 ... T12, L1 ... L6, S1 ... S5.
    int levelRank(const std::string& level)
    {
      const int number = std::stoi(level.substr(1));
      switch (level[0])
      {
        case 'C': return number - 1;
        case 'T': return 7 + number - 1;
        case 'L': return 19 + number - 1;
        default: return 25 + number - 1;   // S
      }
    }

    std::vector<std::string> words(const std::string& text)
    {
      std::vector<std::string> result;
      std::string word;
      for (char c : text)
      {
        if (std::isalnum(static_cast<unsigned char>(c)))
        {
          word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        else if (!word.empty())
        {
          result.push_back(word);
          word.clear();
        }
      }
      if (!word.empty())
      {
        result.push_back(word);
      }
      return result;
    }

    double dot(const Vector3& a, const Vector3& b)
    {
      return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    }

    [[noreturn]] void unreadable(const std::string& description, const std::string& what)
    {
      throw AnalysisError("seg-unreadable", description + ": " + what);
    }

    template <typename Group>
    Group* findGroup(FGInterface& groups, size_t frame, DcmFGTypes::E_FGType type)
    {
      return dynamic_cast<Group*>(groups.get(static_cast<Uint32>(frame), type));
    }

    std::string formatPosition(double value)
    {
      std::ostringstream text;
      text.precision(2);
      text << std::fixed << value;
      return text.str();
    }
  }


  std::string vertebraLevelFromLabel(const std::string& label)
  {
    static const std::set<std::string> allowed{"vertebra", "vertebrae", "vertebral", "body", "spine"};
    std::string level;
    for (const std::string& word : words(label))
    {
      const bool levelWord = word.size() >= 2 && word.size() <= 3 &&
                             (word[0] == 'c' || word[0] == 't' || word[0] == 'l' || word[0] == 's') &&
                             std::all_of(word.begin() + 1, word.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
      if (levelWord)
      {
        if (!level.empty())
        {
          return "";       // two levels: a range or a junction, not one vertebra
        }
        const int number = std::stoi(word.substr(1));
        const char region = static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
        const int highest = region == 'C' ? 7 : region == 'T' ? 12 : region == 'L' ? 6 : 5;
        if (number < 1 || number > highest)
        {
          return "";
        }
        level = std::string(1, region) + std::to_string(number);
      }
      else if (allowed.count(word) == 0)
      {
        return "";         // "T7 lesion", "rib_left_7": something other than a vertebra
      }
    }
    return level;
  }


  VertebraSegmentation parseVertebraSegmentation(const std::string& dicomBytes,
                                                 const std::string& description)
  {
    DcmInputBufferStream stream;
    stream.setBuffer(dicomBytes.data(), static_cast<offile_off_t>(dicomBytes.size()));
    stream.setEos();
    DcmFileFormat file;
    file.transferInit();
    OFCondition condition = file.read(stream);
    file.transferEnd();
    if (condition.bad())
    {
      unreadable(description, std::string("not a readable DICOM file (") + condition.text() + ")");
    }
    DcmDataset& dataset = *file.getDataset();
    OFString sopClass;
    if (dataset.findAndGetOFString(DCM_SOPClassUID, sopClass).bad() || sopClass != UID_SegmentationStorage)
    {
      unreadable(description, "not a DICOM Segmentation (SOP Class UID " +
                 std::string(sopClass.empty() ? "missing" : sopClass.c_str()) + ")");
    }
    Uint16 maximumFractional = 0;
    dataset.findAndGetUint16(DCM_MaximumFractionalValue, maximumFractional);   // fractional SEGs only

    VertebraSegmentation result;
    {
      DcmItem* series = nullptr;
      OFString uid;
      if (dataset.findAndGetSequenceItem(DCM_ReferencedSeriesSequence, series, 0).good() &&
          series->findAndGetOFString(DCM_SeriesInstanceUID, uid).good())
      {
        result.referencedSeriesInstanceUid = uid.c_str();
      }
    }

    DcmSegmentation* loaded = nullptr;
    condition = DcmSegmentation::loadDataset(dataset, loaded);
    std::unique_ptr<DcmSegmentation> segmentation(loaded);
    if (condition.bad() || !segmentation)
    {
      unreadable(description, std::string("DCMTK cannot read it as a Segmentation (") + condition.text() + ")");
    }

    OFString text;
    if (segmentation->getSOPCommon().getSOPInstanceUID(text).good())
    {
      result.sopInstanceUid = text.c_str();
    }
    if (segmentation->getFrameOfReference().getFrameOfReferenceUID(text).good())
    {
      result.frameOfReferenceUid = text.c_str();
    }
    Uint16 rows = 0;
    Uint16 columns = 0;
    if (dataset.findAndGetUint16(DCM_Rows, rows).bad() || dataset.findAndGetUint16(DCM_Columns, columns).bad() ||
        rows == 0 || columns == 0)
    {
      unreadable(description, "Rows (0028,0010) or Columns (0028,0011) missing");
    }
    result.rows = rows;
    result.columns = columns;
    const bool binary = segmentation->getSegmentationType() == DcmSegTypes::ST_BINARY;
    if (!binary && segmentation->getSegmentationType() != DcmSegTypes::ST_FRACTIONAL)
    {
      unreadable(description, "Segmentation Type (0062,0001) is neither BINARY nor FRACTIONAL");
    }

    FGInterface& groups = segmentation->getFunctionalGroups();
    const size_t frameCount = segmentation->getNumberOfFrames();
    if (frameCount == 0)
    {
      unreadable(description, "the Segmentation has no frames");
    }
    {
      FGPixelMeasures* measures = findGroup<FGPixelMeasures>(groups, 0, DcmFGTypes::EFG_PIXELMEASURES);
      FGPlaneOrientationPatient* orientation = findGroup<FGPlaneOrientationPatient>(groups, 0, DcmFGTypes::EFG_PLANEORIENTPATIENT);
      Float64 spacing[2] = {0, 0};
      Float64 o[6] = {0, 0, 0, 0, 0, 0};
      if (measures == nullptr || measures->getPixelSpacing(spacing[0], 0).bad() ||
          measures->getPixelSpacing(spacing[1], 1).bad() || spacing[0] <= 0 || spacing[1] <= 0)
      {
        unreadable(description, "Pixel Measures (Pixel Spacing) missing from the functional groups");
      }
      if (orientation == nullptr || orientation->getImageOrientationPatient(o[0], o[1], o[2], o[3], o[4], o[5]).bad())
      {
        unreadable(description, "Plane Orientation (Image Orientation (Patient)) missing from the functional groups");
      }
      result.rowSpacing = spacing[0];
      result.columnSpacing = spacing[1];
      result.rowDirection = {o[0], o[1], o[2]};
      result.columnDirection = {o[3], o[4], o[5]};
    }

    // The segments, then their frames.
    std::map<int, size_t> vertebraOfSegment;
    std::map<std::string, int> segmentOfLevel;
    for (size_t number = 1; number <= segmentation->getNumberOfSegments(); ++number)
    {
      DcmSegment* segment = segmentation->getSegment(number);
      if (segment == nullptr)
      {
        continue;
      }
      OFString label;
      segment->getSegmentLabel(label);
      std::string level = vertebraLevelFromLabel(label.c_str());
      if (level.empty())
      {
        OFString segmentDescription;
        segment->getSegmentDescription(segmentDescription);
        level = vertebraLevelFromLabel(segmentDescription.c_str());
      }
      if (level.empty())
      {
        result.otherSegments.push_back(label.c_str());
        continue;
      }
      if (segmentOfLevel.count(level) != 0)
      {
        throw AnalysisError("seg-vertebrae", description + ": segments " + std::to_string(segmentOfLevel[level]) +
                            " and " + std::to_string(number) + " both name " + level);
      }
      segmentOfLevel[level] = static_cast<int>(number);
      VertebraSegment vertebra;
      vertebra.segmentNumber = static_cast<int>(number);
      vertebra.label = label.c_str();
      vertebra.level = level;
      vertebraOfSegment[vertebra.segmentNumber] = result.vertebrae.size();
      result.vertebrae.push_back(vertebra);
    }
    if (result.vertebrae.empty())
    {
      throw AnalysisError("seg-vertebrae", description + ": no segment names a vertebra (labels such as "
                          "\"T7 vertebra\" or \"vertebrae_T7\")");
    }

    for (size_t frame = 0; frame < frameCount; ++frame)
    {
      FGSegmentation* segmentGroup = findGroup<FGSegmentation>(groups, frame, DcmFGTypes::EFG_SEGMENTATION);
      Uint16 segmentNumber = 0;
      if (segmentGroup == nullptr || segmentGroup->getReferencedSegmentNumber(segmentNumber).bad())
      {
        unreadable(description, "frame " + std::to_string(frame + 1) + " names no segment (Segment Identification Sequence)");
      }
      const auto vertebra = vertebraOfSegment.find(segmentNumber);
      if (vertebra == vertebraOfSegment.end())
      {
        continue;
      }
      SegmentationFrame summary;
      FGPlanePosPatient* position = findGroup<FGPlanePosPatient>(groups, frame, DcmFGTypes::EFG_PLANEPOSPATIENT);
      if (position == nullptr ||
          position->getImagePositionPatient(summary.imagePosition[0], summary.imagePosition[1], summary.imagePosition[2]).bad())
      {
        unreadable(description, "frame " + std::to_string(frame + 1) + " has no Plane Position (Image Position (Patient))");
      }
      if (FGDerivationImage* derivation = findGroup<FGDerivationImage>(groups, frame, DcmFGTypes::EFG_DERIVATIONIMAGE))
      {
        for (DerivationImageItem* item : derivation->getDerivationImageItems())
        {
          for (SourceImageItem* source : item->getSourceImageItems())
          {
            OFString uid;
            if (summary.referencedSopInstanceUid.empty() &&
                source->getImageSOPInstanceReference().getReferencedSOPInstanceUID(uid).good())
            {
              summary.referencedSopInstanceUid = uid.c_str();
            }
          }
        }
      }

      const DcmIODTypes::Frame* pixels = segmentation->getFrame(frame);
      if (pixels == nullptr || pixels->pixData == nullptr)
      {
        unreadable(description, "frame " + std::to_string(frame + 1) + " has no pixel data");
      }
      std::unique_ptr<DcmIODTypes::Frame> unpacked;
      const Uint8* values = pixels->pixData;
      Uint8 threshold = 1;
      if (binary)
      {
        unpacked.reset(DcmSegUtils::unpackBinaryFrame(pixels, rows, columns));
        if (!unpacked)
        {
          unreadable(description, "frame " + std::to_string(frame + 1) + " cannot be unpacked");
        }
        values = unpacked->pixData;
      }
      else
      {
        threshold = static_cast<Uint8>(std::max<int>(1, (maximumFractional + 1) / 2));
      }
      double c0 = 1e9, r0 = 1e9, c1 = -1e9, r1 = -1e9;
      for (size_t r = 0; r < rows; ++r)
      {
        for (size_t c = 0; c < columns; ++c)
        {
          if (values[r * columns + c] >= threshold)
          {
            ++summary.pixelCount;
            c0 = std::min(c0, static_cast<double>(c));
            c1 = std::max(c1, static_cast<double>(c));
            r0 = std::min(r0, static_cast<double>(r));
            r1 = std::max(r1, static_cast<double>(r));
          }
        }
      }
      if (summary.pixelCount == 0)
      {
        continue;
      }
      summary.box = PixelBox{c0, r0, c1 + 1, r1 + 1};
      result.vertebrae[vertebra->second].frames.push_back(summary);
    }

    std::sort(result.vertebrae.begin(), result.vertebrae.end(),
              [](const VertebraSegment& a, const VertebraSegment& b) { return levelRank(a.level) < levelRank(b.level); });
    return result;
  }


  VertebraSegmentation readVertebraSegmentationFile(const std::string& path)
  {
    std::ifstream stream(path, std::ios::binary);
    if (!stream)
    {
      throw AnalysisError("seg-unreadable", path + ": cannot open the file");
    }
    std::ostringstream bytes;
    bytes << stream.rdbuf();
    return parseVertebraSegmentation(bytes.str(), path);
  }


  void checkSegmentationMatchesSeries(const VertebraSegmentation& segmentation, const Series& series)
  {
    const std::string& seriesFrame = series.attributes.frameOfReferenceUid;
    if (!segmentation.frameOfReferenceUid.empty() && !seriesFrame.empty() &&
        segmentation.frameOfReferenceUid != seriesFrame)
    {
      throw AnalysisError("seg-mismatch", "the Segmentation " + segmentation.sopInstanceUid +
                          " lies in frame of reference " + segmentation.frameOfReferenceUid +
                          ", the series in " + seriesFrame);
    }
    if (!segmentation.referencedSeriesInstanceUid.empty() && !series.attributes.seriesInstanceUid.empty() &&
        segmentation.referencedSeriesInstanceUid != series.attributes.seriesInstanceUid)
    {
      throw AnalysisError("seg-mismatch", "the Segmentation " + segmentation.sopInstanceUid +
                          " refers to series " + segmentation.referencedSeriesInstanceUid +
                          ", not to " + series.attributes.seriesInstanceUid);
    }
    std::set<std::string> instances;
    for (const SliceReference& slice : series.slices)
    {
      instances.insert(slice.sopInstanceUid);
    }
    for (const VertebraSegment& vertebra : segmentation.vertebrae)
    {
      for (const SegmentationFrame& frame : vertebra.frames)
      {
        if (!frame.referencedSopInstanceUid.empty() && instances.count(frame.referencedSopInstanceUid) == 0)
        {
          throw AnalysisError("seg-mismatch", "the Segmentation " + segmentation.sopInstanceUid + " (segment " +
                              vertebra.label + ") was derived from instance " + frame.referencedSopInstanceUid +
                              ", which is not in the series");
        }
      }
    }
  }


  SpineLayout applyVertebraSegmentation(const Volume& volume, SpineLayout layout,
                                        const VertebraSegmentation& segmentation,
                                        const SpineOptions& options)
  {
    const VolumeGeometry& g = volume.geometry();
    if (dot(segmentation.rowDirection, g.rowDirection) < 0.999 ||
        dot(segmentation.columnDirection, g.columnDirection) < 0.999)
    {
      throw AnalysisError("seg-geometry", "the Segmentation " + segmentation.sopInstanceUid +
                          " is not in the plane of the series' slices (Image Orientation (Patient) differs)");
    }
    if (layout.slices.size() != volume.sliceCount())
    {
      layout = SpineLayout();
      layout.slices.resize(volume.sliceCount());
    }
    layout.vertebrae.clear();
    layout.levelEvidence.clear();
    for (SliceSpine& slice : layout.slices)
    {
      slice.vertebraPresent = false;
      slice.vertebra = -1;
    }

    const double posterior = g.columnDirection[1] >= 0 ? 1 : -1;   // rows increase towards the back
    const double minimumAreaMm2 = 20;      // specks and single stray pixels say nothing

    // Where each segment is on each slice, in volume pixels.
    struct Presence
    {
      size_t vertebra;
      double areaMm2;
      PixelBox box;
    };
    std::vector<std::vector<Presence>> presence(volume.sliceCount());
    const double originAlongNormal = dot(g.origin, g.sliceDirection);
    for (size_t v = 0; v < segmentation.vertebrae.size(); ++v)
    {
      for (const SegmentationFrame& frame : segmentation.vertebrae[v].frames)
      {
        const double index = (dot(frame.imagePosition, g.sliceDirection) - originAlongNormal) / g.sliceSpacing;
        const long slice = std::lround(index);
        if (std::fabs(index - static_cast<double>(slice)) > 0.25)
        {
          throw AnalysisError("seg-geometry", "a frame of segment \"" + segmentation.vertebrae[v].label +
                              "\" at " + formatPosition(dot(frame.imagePosition, g.sliceDirection)) +
                              " mm along the slice normal falls between the series' slices");
        }
        if (slice < 0 || slice >= static_cast<long>(volume.sliceCount()))
        {
          continue;     // the SEG may cover more than this series
        }
        const double areaMm2 = static_cast<double>(frame.pixelCount) * segmentation.rowSpacing * segmentation.columnSpacing;
        if (areaMm2 < minimumAreaMm2)
        {
          continue;
        }
        // The frame's box corners, through patient coordinates, into the volume's pixel grid.
        const Vector3 sliceOrigin = volume.toPatient(0, 0, static_cast<double>(slice));
        auto toVolume = [&](double column, double row, double& volumeColumn, double& volumeRow)
        {
          Vector3 offset;
          for (int axis = 0; axis < 3; ++axis)
          {
            offset[axis] = frame.imagePosition[axis] - sliceOrigin[axis] +
                           column * segmentation.columnSpacing * segmentation.rowDirection[axis] +
                           row * segmentation.rowSpacing * segmentation.columnDirection[axis];
          }
          volumeColumn = dot(offset, g.rowDirection) / g.columnSpacing;
          volumeRow = dot(offset, g.columnDirection) / g.rowSpacing;
        };
        PixelBox box;
        toVolume(frame.box.column0, frame.box.row0, box.column0, box.row0);
        toVolume(frame.box.column1, frame.box.row1, box.column1, box.row1);
        presence[static_cast<size_t>(slice)].push_back(Presence{v, areaMm2, box});
      }
    }

    // A segment holds its vertebra's body only on the slices where it reaches as far forward as
    // it ever does (within bodyReachMm): elsewhere it is a spinous process or a lamina over the
    // disc or over the next body. Of the segments holding a body on a slice (two bodies at an
    // oblique disc), the slice goes to the larger.
    const double bodyReachMm = 10;
    auto frontOf = [&](const PixelBox& box) { return posterior > 0 ? box.row0 * g.rowSpacing : -box.row1 * g.rowSpacing; };
    std::vector<double> segmentFront(segmentation.vertebrae.size(), 1e18);
    for (const std::vector<Presence>& onSlice : presence)
    {
      for (const Presence& p : onSlice)
      {
        segmentFront[p.vertebra] = std::min(segmentFront[p.vertebra], frontOf(p.box));
      }
    }
    std::vector<long> owner(volume.sliceCount(), -1);
    std::vector<PixelBox> ownerBox(volume.sliceCount());
    for (size_t s = 0; s < volume.sliceCount(); ++s)
    {
      const Presence* best = nullptr;
      for (const Presence& p : presence[s])
      {
        if (frontOf(p.box) - segmentFront[p.vertebra] <= bodyReachMm && (best == nullptr || p.areaMm2 > best->areaMm2))
        {
          best = &p;
        }
      }
      if (best != nullptr)
      {
        owner[s] = static_cast<long>(best->vertebra);
        ownerBox[s] = best->box;
      }
    }

    // The vertebrae in cranial-to-caudal order, which must also be their order along z.
    const bool cranialIsHigh = g.sliceDirection[2] >= 0;
    std::string previousLevel;
    long previousEnd = 0;      // the previous vertebra's caudal edge, in cranial-positive slices
    for (size_t v = 0; v < segmentation.vertebrae.size(); ++v)
    {
      long first = -1;
      long last = -1;
      for (size_t s = 0; s < owner.size(); ++s)
      {
        if (owner[s] == static_cast<long>(v))
        {
          first = first < 0 ? static_cast<long>(s) : first;
          last = static_cast<long>(s);
        }
      }
      if (first < 0)
      {
        continue;       // not in this series
      }
      const long cranialEdge = cranialIsHigh ? last : -first;
      if (!previousLevel.empty() && cranialEdge > previousEnd)
      {
        throw AnalysisError("seg-vertebrae", "in the Segmentation " + segmentation.sopInstanceUid + ", " +
                            segmentation.vertebrae[v].level + " lies cranial to " + previousLevel);
      }
      previousEnd = cranialIsHigh ? first : -last;
      previousLevel = segmentation.vertebrae[v].level;

      Vertebra vertebra;
      vertebra.index = static_cast<int>(layout.vertebrae.size());
      vertebra.level = segmentation.vertebrae[v].level;
      vertebra.firstSlice = static_cast<size_t>(first);
      vertebra.lastSlice = static_cast<size_t>(last);
      for (long s = first; s <= last; ++s)
      {
        if (owner[static_cast<size_t>(s)] != static_cast<long>(v))
        {
          continue;
        }
        SliceSpine& slice = layout.slices[static_cast<size_t>(s)];
        slice.vertebraPresent = true;
        slice.vertebra = vertebra.index;
        if (!slice.onColumn)
        {
          // No track from the finder here: the body is the front of the segment (about 40% of
          // a vertebra's depth), and the crop starts a margin in front of it.
          const PixelBox& box = ownerBox[static_cast<size_t>(s)];
          const double depth = box.row1 - box.row0;
          slice.vertebralBody = box;
          if (posterior > 0)
          {
            slice.vertebralBody.row1 = box.row0 + 0.4 * depth;
          }
          else
          {
            slice.vertebralBody.row0 = box.row1 - 0.4 * depth;
          }
          const double anteriorRow = posterior > 0 ? box.row0 : box.row1;
          const double fromFront = std::min((options.cropMm / 2 - options.cropAnteriorMarginMm) / g.rowSpacing, depth / 2);
          slice.cropCentreColumn = (box.column0 + box.column1) / 2;
          slice.cropCentreRow = anteriorRow + posterior * fromFront;
          slice.onColumn = true;
        }
      }
      layout.vertebrae.push_back(vertebra);
      VertebraLevelEvidence evidence;
      evidence.confidence = 1;
      evidence.landmark = "segmentation";
      layout.levelEvidence.push_back(evidence);
    }
    layout.levelNote = "levels from the Segmentation " + segmentation.sopInstanceUid;
    if (layout.vertebrae.empty())
    {
      throw AnalysisError("seg-geometry", "no vertebra of the Segmentation " + segmentation.sopInstanceUid +
                          " lies on the series' slices");
    }
    return layout;
  }
}
