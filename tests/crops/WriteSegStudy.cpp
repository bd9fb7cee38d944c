// SPDX-License-Identifier: GPL-3.0-or-later
// Test data for spinemet-prep's real-study route: a phantom CT series written like a TCIA case
// (CASE/ct/*.dcm) plus a DICOM SEG (CASE/seg/seg.dcm) with one segment per vertebra, labelled
// "<level> vertebra", covering the vertebral body on the slices of that body. No ground truth
// file: the labels come from a CSV table, as for Spine-Mets-CT-SEG.
//
// usage: spinemet_crops_write_seg_study CASE_DIR SEED

#include "PhantomSegmentation.h"

#include <dcmtk/oflog/oflog.h>

#include <filesystem>
#include <iostream>
#include <string>

using namespace spinemet;

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
    std::vector<PhantomSegment> segments;
    for (const PhantomVertebra& vertebra : study.truth.vertebrae)
    {
      PhantomSegment segment;
      segment.label = vertebra.level + " vertebra";
      segment.draw = [&study, &vertebra](size_t slice, std::vector<uint8_t>& mask) {
        return drawVertebralBody(study, vertebra, slice, mask);
      };
      segments.push_back(segment);
    }
    PhantomSegmentationOptions options;
    options.seriesNumber = "901";
    options.description = "Vertebral bodies from the phantom";
    writePhantomSegmentation(study, segments, options, (folder / "seg" / "seg.dcm").string());
    std::cout << study.series.attributes.patientId << "\n";
    return 0;
  }
  catch (const std::exception& error)
  {
    std::cerr << "spinemet_crops_write_seg_study: " << error.what() << "\n";
    return 1;
  }
}
