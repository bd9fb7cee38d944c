// SPDX-License-Identifier: GPL-3.0-or-later
#include "PhantomSegmentation.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgfracon.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmiod/iodmacro.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

namespace spinemet
{
  namespace
  {
    void check(const OFCondition& condition, const std::string& what)
    {
      if (condition.bad())
      {
        throw std::runtime_error("writing the test SEG: " + what + ": " + condition.text());
      }
    }

    std::string decimal(double value)
    {
      char text[32];
      std::snprintf(text, sizeof(text), "%.6f", value);
      return text;
    }
  }

  bool drawVertebralBody(const PhantomStudy& study, const PhantomVertebra& vertebra, size_t slice,
                         std::vector<uint8_t>& mask)
  {
    const Volume& volume = study.series.volume;
    const VolumeGeometry& g = volume.geometry();
    const double z = volume.toPatient(0, 0, static_cast<double>(slice))[2];
    if (z < vertebra.zMinMm || z > vertebra.zMaxMm)
    {
      return false;
    }
    const double halfWidth = vertebra.bodyWidthMm / 2 / g.columnSpacing;
    const double halfDepth = vertebra.bodyDepthMm / 2 / g.rowSpacing;
    for (size_t r = 0; r < g.rows; ++r)
    {
      for (size_t c = 0; c < g.columns; ++c)
      {
        const double dx = (static_cast<double>(c) - vertebra.bodyCentreColumn) / halfWidth;
        const double dy = (static_cast<double>(r) - vertebra.bodyCentreRow) / halfDepth;
        mask[r * g.columns + c] = dx * dx + dy * dy <= 1 ? 1 : 0;
      }
    }
    return true;
  }

  void writePhantomSegmentation(const PhantomStudy& study, const std::vector<PhantomSegment>& segments,
                                const PhantomSegmentationOptions& options, const std::string& path)
  {
    const Volume& volume = study.series.volume;
    const VolumeGeometry& g = volume.geometry();
    const Uint16 rows = static_cast<Uint16>(g.rows);
    const Uint16 columns = static_cast<Uint16>(g.columns);
    const SeriesAttributes& attributes = study.series.attributes;

    IODGeneralEquipmentModule::EquipmentInfo equipment("SpineMet", "tests", "1", SPINEMET_VERSION);
    ContentIdentificationMacro content("1", "VERTEBRAE", options.description.c_str(), "SpineMet^Tests");
    DcmSegmentation* created = nullptr;
    check(DcmSegmentation::createBinarySegmentation(created, rows, columns, equipment, content), "create");
    std::unique_ptr<DcmSegmentation> segmentation(created);
    check(segmentation->getPatient().setPatientName(attributes.patientName.c_str()), "Patient Name");
    check(segmentation->getPatient().setPatientID(attributes.patientId.c_str()), "Patient ID");
    check(segmentation->getStudy().setStudyInstanceUID(attributes.studyInstanceUid.c_str()), "Study Instance UID");
    const std::string& frameOfReference =
      options.frameOfReferenceUid.empty() ? attributes.frameOfReferenceUid : options.frameOfReferenceUid;
    check(segmentation->getFrameOfReference().setFrameOfReferenceUID(frameOfReference.c_str()), "Frame of Reference UID");
    check(segmentation->getSeries().setSeriesNumber(options.seriesNumber.c_str()), "Series Number");

    FGPixelMeasures measures;
    check(measures.setPixelSpacing((decimal(g.rowSpacing) + "\\" + decimal(g.columnSpacing)).c_str()), "Pixel Spacing");
    check(measures.setSliceThickness(decimal(g.sliceThickness).c_str()), "Slice Thickness");
    check(segmentation->addForAllFrames(measures), "pixel measures");
    FGPlaneOrientationPatient orientation;
    check(orientation.setImageOrientationPatient("1", "0", "0", "0", "1", "0"), "orientation");
    check(segmentation->addForAllFrames(orientation), "plane orientation");

    std::vector<uint8_t> mask(static_cast<size_t>(rows) * columns);
    for (const PhantomSegment& planned : segments)
    {
      DcmSegment* segment = nullptr;
      check(DcmSegment::create(segment, planned.label.c_str(),
                               CodeSequenceMacro("91723000", "SCT", "Anatomical Structure"),
                               CodeSequenceMacro(planned.typeCode.c_str(), "SCT", planned.typeMeaning.c_str()),
                               DcmSegTypes::SAT_MANUAL, ""), "segment " + planned.label);
      Uint16 number = 0;
      check(segmentation->addSegment(segment, number), "add segment " + planned.label);

      for (size_t s = 0; s < volume.sliceCount(); ++s)
      {
        std::fill(mask.begin(), mask.end(), 0);
        if (!planned.draw(s, mask))
        {
          continue;
        }
        const Vector3 position = volume.toPatient(0, 0, static_cast<double>(s));
        FGPlanePosPatient planePosition;
        check(planePosition.setImagePositionPatient(decimal(position[0]).c_str(), decimal(position[1]).c_str(),
                                                    decimal(position[2]).c_str()), "Image Position (Patient)");
        FGFrameContent frameContent;
        check(frameContent.setDimensionIndexValues(number, 0), "segment dimension index");
        check(frameContent.setDimensionIndexValues(static_cast<Uint32>(s + 1), 1), "position dimension index");
        ImageSOPInstanceReferenceMacro source;
        check(source.setReferencedSOPClassUID(UID_CTImageStorage), "Referenced SOP Class UID");
        check(source.setReferencedSOPInstanceUID(study.series.slices[s].sopInstanceUid.c_str()),
              "Referenced SOP Instance UID");
        OFVector<ImageSOPInstanceReferenceMacro> sources;
        sources.push_back(source);
        std::unique_ptr<FGDerivationImage> derivation(
          DcmSegmentation::createDerivationImageFG(sources, "Drawn from the phantom's ground truth"));
        if (!derivation)
        {
          throw std::runtime_error("writing the test SEG: derivation image functional group");
        }
        OFVector<FGBase*> perFrame;
        perFrame.push_back(&planePosition);
        perFrame.push_back(&frameContent);
        perFrame.push_back(derivation.get());
        check(segmentation->addFrame(mask.data(), number, perFrame), "frame of " + planned.label);
      }
    }
    IODMultiframeDimensionModule& dimensions = segmentation->getDimensions();
    const char* organisation = "2.25.275741864483510678566144889372061815320";
    check(dimensions.addDimensionIndex(DCM_ReferencedSegmentNumber, organisation, DCM_SegmentIdentificationSequence,
                                       "Segment"), "segment dimension");
    check(dimensions.addDimensionIndex(DCM_ImagePositionPatient, organisation, DCM_PlanePositionSequence,
                                       "Position"), "position dimension");
    check(segmentation->saveFile(path.c_str()), "save " + path);
  }
}
