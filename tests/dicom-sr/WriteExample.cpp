// SPDX-License-Identifier: GPL-3.0-or-later
// Writes the SR and the overlays of the test phantom into a folder: the source of the rendered
// examples under docs/examples/ (scripts in docs/dicom-outputs.md) and a quick way to look at
// the outputs in a viewer.

#include "PhantomResult.h"
#include "SecondaryCaptureOverlays.h"
#include "Tid1500MeasurementReport.h"

#include "common/AnalysisError.h"

#include <filesystem>
#include <iostream>

int main(int argc, char** argv)
{
  if (argc != 2 && argc != 3)
  {
    std::cerr << "usage: " << argv[0] << " OUTPUT_FOLDER [SEED | not-assessable | none-assessable]\n"
              << "  without SEED: the documented example; with SEED: a random acquisition of T10-L1;\n"
              << "  not-assessable: the example with T12 and L3 not assessable; none-assessable: no vertebra assessable\n";
    return 2;
  }
  try
  {
    const std::filesystem::path folder = argv[1];
    std::filesystem::create_directories(folder);
    spinemet::testing::PhantomWithResult made;
    const std::string variant = argc == 3 ? argv[2] : "";
    if (variant == "not-assessable" || variant == "none-assessable")
    {
      made = spinemet::testing::makePhantomWithResult();
      made.result = variant == "not-assessable" ? spinemet::testing::withNotAssessableVertebrae(made.result)
                                                : spinemet::testing::withNoVertebraAssessable(made.result);
    }
    else if (argc == 3)
    {
      spinemet::PhantomSettings settings;
      settings.seed = std::stoull(argv[2]);
      settings.randomAcquisition = true;
      settings.levels = "T10-L1";
      settings.labels = spinemet::parsePhantomLabels("T10=blastic,T11=lytic:unilateral,T12=normal,L1=mixed:bilateral");
      made.study = spinemet::generatePhantom(settings);
      made.result = spinemet::testing::resultFromTruth(made.study);
    }
    else
    {
      made = spinemet::testing::makePhantomWithResult();
    }
    spinemet::writeMeasurementReport(made.result).save((folder / "sr.dcm").string());
    const auto overlays = spinemet::makeOverlays(made.result, made.study.series);
    for (size_t i = 0; i < overlays.size(); ++i)
    {
      const std::string name = overlays[i].kind == spinemet::Overlay::Kind::SagittalOverview
                                 ? "overlay-sagittal.dcm"
                                 : "overlay-" + made.result.vertebrae[static_cast<size_t>(overlays[i].vertebra)].displayName + ".dcm";
      overlays[i].dicom.save((folder / name).string());
    }
    std::cout << "wrote the SR and " << overlays.size() << " overlays to " << folder.string() << "\n";
    return 0;
  }
  catch (const spinemet::AnalysisError& error)
  {
    std::cerr << "error (" << error.code() << "): " << error.what() << "\n";
    return 1;
  }
}
