// SPDX-License-Identifier: GPL-3.0-or-later
// Test data for spinemet-prep's real-study route: a phantom CT series written like a TCIA case
// (CASE/ct/*.dcm) plus a DICOM SEG (CASE/seg/seg.dcm) with one segment per vertebra, labelled
// "<level> vertebra", covering the vertebral body on the slices of that body. No ground truth
// file: the labels come from a CSV table, as for Spine-Mets-CT-SEG.
//
// usage: spinemet_crops_write_seg_study CASE_DIR SEED

#include "phantom/Phantom.h"

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
#include <dcmtk/oflog/oflog.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

namespace
{
  using namespace spinemet;

  void check(const OFCondition& condition, const std::string& what)
  {
    if (condition.bad())
    {
      throw std::runtime_error(what + ": " + condition.text());
    }
  }

  std::string decimal(double value)
  {
    char text[32];
    std::snprintf(text, sizeof(text), "%.4f", value);
    return text;
  }

  void writeSegmentation(const PhantomStudy& study, const std::string& path)
  {
    const Volume& volume = study.series.volume;
    const VolumeGeometry& g = volume.geometry();
    const Uint16 rows = static_cast<Uint16>(g.rows);
    const Uint16 columns = static_cast<Uint16>(g.columns);

    IODGeneralEquipmentModule::EquipmentInfo equipment("SpineMet", "crops tests", "1", SPINEMET_VERSION);
    ContentIdentificationMacro content("1", "VERTEBRAE", "Vertebral bodies from the phantom", "SpineMet^Tests");
    DcmSegmentation* created = nullptr;
    check(DcmSegmentation::createBinarySegmentation(created, rows, columns, equipment, content), "create SEG");
    std::unique_ptr<DcmSegmentation> segmentation(created);
    const SeriesAttributes& attributes = study.series.attributes;
    check(segmentation->getPatient().setPatientName(attributes.patientName.c_str()), "Patient Name");
    check(segmentation->getPatient().setPatientID(attributes.patientId.c_str()), "Patient ID");
    check(segmentation->getStudy().setStudyInstanceUID(attributes.studyInstanceUid.c_str()), "Study Instance UID");
    check(segmentation->getFrameOfReference().setFrameOfReferenceUID(attributes.frameOfReferenceUid.c_str()),
          "Frame of Reference UID");
    check(segmentation->getSeries().setSeriesNumber("901"), "Series Number");

    FGPixelMeasures measures;
    check(measures.setPixelSpacing((decimal(g.rowSpacing) + "\\" + decimal(g.columnSpacing)).c_str()), "Pixel Spacing");
    check(measures.setSliceThickness(decimal(g.sliceThickness).c_str()), "Slice Thickness");
    check(segmentation->addForAllFrames(measures), "pixel measures");
    FGPlaneOrientationPatient orientation;
    check(orientation.setImageOrientationPatient("1", "0", "0", "0", "1", "0"), "orientation");
    check(segmentation->addForAllFrames(orientation), "plane orientation");

    for (const PhantomVertebra& vertebra : study.truth.vertebrae)
    {
      DcmSegment* segment = nullptr;
      check(DcmSegment::create(segment, (vertebra.level + " vertebra").c_str(),
                               CodeSequenceMacro("91723000", "SCT", "Anatomical Structure"),
                               CodeSequenceMacro("51282000", "SCT", "Spine"), DcmSegTypes::SAT_MANUAL, ""),
            "segment " + vertebra.level);
      Uint16 number = 0;
      check(segmentation->addSegment(segment, number), "add segment " + vertebra.level);

      const double halfWidth = vertebra.bodyWidthMm / 2 / g.columnSpacing;
      const double halfDepth = vertebra.bodyDepthMm / 2 / g.rowSpacing;
      for (size_t s = 0; s < volume.sliceCount(); ++s)
      {
        const Vector3 position = volume.toPatient(0, 0, static_cast<double>(s));
        if (position[2] < vertebra.zMinMm || position[2] > vertebra.zMaxMm)
        {
          continue;
        }
        std::vector<Uint8> mask(static_cast<size_t>(rows) * columns, 0);
        for (size_t r = 0; r < rows; ++r)
        {
          for (size_t c = 0; c < columns; ++c)
          {
            const double dx = (static_cast<double>(c) - vertebra.bodyCentreColumn) / halfWidth;
            const double dy = (static_cast<double>(r) - vertebra.bodyCentreRow) / halfDepth;
            mask[r * columns + c] = dx * dx + dy * dy <= 1 ? 1 : 0;
          }
        }
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
          DcmSegmentation::createDerivationImageFG(sources, "Vertebral body of the phantom"));
        if (!derivation)
        {
          throw std::runtime_error("derivation image functional group");
        }
        OFVector<FGBase*> perFrame;
        perFrame.push_back(&planePosition);
        perFrame.push_back(&frameContent);
        perFrame.push_back(derivation.get());
        check(segmentation->addFrame(mask.data(), number, perFrame), "frame of " + vertebra.level);
      }
    }
    IODMultiframeDimensionModule& dimensions = segmentation->getDimensions();
    const char* organisation = "2.25.98765432109876543210987654321098765";
    check(dimensions.addDimensionIndex(DCM_ReferencedSegmentNumber, organisation, DCM_SegmentIdentificationSequence,
                                       "Segment"), "segment dimension");
    check(dimensions.addDimensionIndex(DCM_ImagePositionPatient, organisation, DCM_PlanePositionSequence,
                                       "Position"), "position dimension");
    check(segmentation->saveFile(path.c_str()), "save " + path);
  }
}

int main(int argc, char** argv)
{
  if (argc != 3)
  {
    std::cerr << "usage: spinemet_crops_write_seg_study CASE_DIR SEED\n";
    return 2;
  }
  OFLog::configure(OFLogger::ERROR_LOG_LEVEL);
  try
  {
    PhantomSettings settings;
    settings.seed = std::stoull(argv[2]);
    settings.levels = "T11-L2";
    settings.matrix = 256;
    settings.pixelSpacingMm = 0.9;
    settings.sliceThicknessMm = 3;
    const PhantomStudy study = generatePhantom(settings);
    const std::filesystem::path folder(argv[1]);
    std::filesystem::create_directories(folder / "ct");
    std::filesystem::create_directories(folder / "seg");
    writePhantomDicom(study, (folder / "ct").string(), PhantomTransferSyntax::ExplicitLittleEndian);
    writeSegmentation(study, (folder / "seg" / "seg.dcm").string());
    std::cout << study.series.attributes.patientId << "\n";
    return 0;
  }
  catch (const std::exception& error)
  {
    std::cerr << "spinemet_crops_write_seg_study: " << error.what() << "\n";
    return 1;
  }
}
