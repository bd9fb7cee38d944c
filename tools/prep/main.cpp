// SPDX-License-Identifier: GPL-3.0-or-later
// spinemet-prep: studies with known labels -> training crops and labels, through the serving
// pipeline. Usage and output format: docs/crops-and-prep.md.

#include "PrepStudy.h"
#include "common/AnalysisError.h"

#include <dcmtk/oflog/oflog.h>

#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <vector>

namespace
{
  const char* const USAGE =
    "usage: spinemet-prep --out DIR [--preprocessing FILE.json] [--labels TABLE.csv] [--keep-going]\n"
    "                     STUDY_DIR [STUDY_DIR...]\n"
    "\n"
    "Runs each study through the serving pipeline (load series, find the spine, make crops) and\n"
    "writes DIR/<study>/crops.npy (float32 [N, C, H, W]) and DIR/<study>/samples.json\n"
    "(format spinemet-samples/1, docs/crops-and-prep.md).\n"
    "\n"
    "  --out DIR               output folder, one subfolder per study\n"
    "  --preprocessing FILE    the model contract's \"preprocessing\" object (or a whole model\n"
    "                          metadata document); default: the built-in defaults\n"
    "  --labels TABLE.csv      per-vertebra labels of real studies (Spine-Mets-CT-SEG layout)\n"
    "  --keep-going            exit 0 when at least one study succeeded, even if others failed\n"
    "\n"
    "A phantom study is a folder with ground_truth.json (spinemet-phantom) beside its DICOM files.\n"
    "A failing study is reported and skipped; the exit status is 1 if any failed.\n";

  struct Arguments
  {
    std::string out;
    std::string preprocessing;
    std::string labels;
    bool keepGoing = false;
    std::vector<std::string> studies;
  };

  bool parseArguments(int argc, char** argv, Arguments& arguments)
  {
    for (int i = 1; i < argc; ++i)
    {
      const std::string argument = argv[i];
      auto value = [&](std::string& target) {
        if (i + 1 >= argc)
        {
          std::cerr << "spinemet-prep: " << argument << " needs a value\n";
          return false;
        }
        target = argv[++i];
        return true;
      };
      if (argument == "--help" || argument == "-h")
      {
        std::cout << USAGE;
        std::exit(0);
      }
      else if (argument == "--version")
      {
        std::cout << "spinemet-prep " << SPINEMET_VERSION << "\n";
        std::exit(0);
      }
      else if (argument == "--out")
      {
        if (!value(arguments.out))
        {
          return false;
        }
      }
      else if (argument == "--preprocessing")
      {
        if (!value(arguments.preprocessing))
        {
          return false;
        }
      }
      else if (argument == "--labels")
      {
        if (!value(arguments.labels))
        {
          return false;
        }
      }
      else if (argument == "--keep-going")
      {
        arguments.keepGoing = true;
      }
      else if (argument.size() > 1 && argument[0] == '-')
      {
        std::cerr << "spinemet-prep: unknown option " << argument << "\n";
        return false;
      }
      else
      {
        arguments.studies.push_back(argument);
      }
    }
    if (arguments.out.empty() || arguments.studies.empty())
    {
      std::cerr << "spinemet-prep: --out and at least one study folder are required\n";
      return false;
    }
    return true;
  }

  // DIR/<study folder name>, with -2, -3, ... for a name seen before.
  std::string outputFolderFor(const std::string& out, const std::string& study, std::set<std::string>& used)
  {
    std::filesystem::path path(study);
    if (path.filename().empty())
    {
      path = path.parent_path();
    }
    const std::string base = path.filename().empty() ? "study" : path.filename().string();
    std::string name = base;
    for (int n = 2; used.count(name); ++n)
    {
      name = base + "-" + std::to_string(n);
    }
    used.insert(name);
    return (std::filesystem::path(out) / name).string();
  }
}

int main(int argc, char** argv)
{
  using namespace spinemet;
  Arguments arguments;
  if (!parseArguments(argc, argv, arguments))
  {
    std::cerr << USAGE;
    return 2;
  }

  // DCMTK's warnings (e.g. each header-only read "skipping rest of dataset") would drown the
  // progress lines; its errors still show, and every failure is reported by the study loop.
  OFLog::configure(OFLogger::ERROR_LOG_LEVEL);

  PrepOptions options;
  try
  {
    if (!arguments.preprocessing.empty())
    {
      options.preprocessing = readPreprocessingFile(arguments.preprocessing);
    }
    if (!arguments.labels.empty())
    {
      options.labels = LabelsTable::read(arguments.labels);
    }
  }
  catch (const AnalysisError& error)
  {
    std::cerr << "spinemet-prep: " << error.code() << ": " << error.what() << "\n";
    return 2;
  }

  const size_t total = arguments.studies.size();
  size_t failed = 0;
  std::set<std::string> used;
  for (size_t i = 0; i < total; ++i)
  {
    const std::string& study = arguments.studies[i];
    const std::string output = outputFolderFor(arguments.out, study, used);
    const std::string prefix = "[" + std::to_string(i + 1) + "/" + std::to_string(total) + "] " + study + ": ";
    try
    {
      const PrepSummary summary = prepareStudy(study, output, options);
      std::cout << prefix << summary.crops << " crops, " << summary.vertebrae << " vertebrae (" << summary.kind
                << ") -> " << output;
      if (summary.warnings > 0)
      {
        std::cout << ", " << summary.warnings << " warning(s) in samples.json";
      }
      std::cout << std::endl;
    }
    catch (const AnalysisError& error)
    {
      ++failed;
      std::cerr << prefix << "FAILED (" << error.code() << "): " << error.what() << std::endl;
    }
    catch (const std::exception& error)
    {
      ++failed;
      std::cerr << prefix << "FAILED (internal error): " << error.what() << std::endl;
    }
  }
  if (failed > 0)
  {
    std::cerr << "spinemet-prep: " << failed << " of " << total << " studies failed" << std::endl;
  }
  if (failed == 0 || (arguments.keepGoing && failed < total))
  {
    return 0;
  }
  return 1;
}
