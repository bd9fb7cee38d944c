// SPDX-License-Identifier: GPL-3.0-or-later
#include "PrepStudy.h"

#include "PhantomTruth.h"
#include "StudyFiles.h"
#include "TrainingSamples.h"
#include "common/AnalysisError.h"
#include "crops/Crops.h"
#include "spine/Spine.h"
#include "spine/VertebraSegmentation.h"
#include "volume/SeriesLoader.h"
#include "volume/SliceSource.h"

#include <json/reader.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

namespace spinemet
{
  namespace
  {
    namespace fs = std::filesystem;

    std::string readText(const std::string& path, const char* code)
    {
      std::ifstream stream(path, std::ios::binary);
      if (!stream)
      {
        throw AnalysisError(code, "cannot open " + path);
      }
      return std::string((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
    }

    // The DICOM files of a phantom study: every regular file in the folder (not recursive) but
    // the ground truth and hidden files.
    std::vector<std::string> phantomFiles(const fs::path& folder)
    {
      std::vector<std::string> files;
      for (const fs::directory_entry& entry : fs::directory_iterator(folder))
      {
        const std::string name = entry.path().filename().string();
        if (entry.is_regular_file() && name != PHANTOM_TRUTH_FILE && name.front() != '.')
        {
          files.push_back(entry.path().string());
        }
      }
      std::sort(files.begin(), files.end());
      if (files.empty())
      {
        throw AnalysisError("prep-study", folder.string() + ": no DICOM files beside " + PHANTOM_TRUTH_FILE);
      }
      return files;
    }

    // Everything from loading to the written samples, once the truth is known.
    PrepSummary writeStudy(const Series& series, const SpineLayout& layout, const StudyTruth& truth,
                           const fs::path& studyFolder, const std::string& outputFolder, const Preprocessing& preprocessing)
    {
      // The slices serving classifies (worker/Pipeline.cpp, prepareSeries): those assigned to a vertebra.
      std::vector<size_t> sliceIndices;
      for (size_t s = 0; s < layout.slices.size(); ++s)
      {
        if (layout.slices[s].vertebra >= 0)
        {
          sliceIndices.push_back(s);
        }
      }
      const CropBatch crops = makeCrops(series.volume, layout, sliceIndices, preprocessing);
      const StudySource source{fs::absolute(studyFolder).lexically_normal().string(), studyFolder.filename().string()};
      const Json::Value document = samplesDocument(series, layout, crops, preprocessing, truth, source);
      writeTrainingSamples(outputFolder, crops, document);
      PrepSummary summary;
      summary.kind = truth.kind;
      summary.crops = crops.count();
      summary.vertebrae = layout.vertebrae.size();
      summary.warnings = document["study"]["warnings"].size();
      return summary;
    }

    SpineOptions spineOptionsFor(const Preprocessing& preprocessing)
    {
      // The crop centre depends on the crop size (the body plus as much of the posterior
      // elements as fits), so the finder must know the model's crop, as at serving time.
      SpineOptions options;
      options.cropMm = preprocessing.cropMm;
      return options;
    }
  }

  Preprocessing readPreprocessingFile(const std::string& path)
  {
    const std::string text = readText(path, "model-contract");
    Json::Value root;
    Json::CharReaderBuilder builder;
    std::string errors;
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    if (!reader->parse(text.data(), text.data() + text.size(), &root, &errors))
    {
      throw AnalysisError("model-contract", path + " is not valid JSON: " + errors);
    }
    try
    {
      return parsePreprocessing(root.isObject() && root.isMember("preprocessing") ? root["preprocessing"] : root);
    }
    catch (const AnalysisError& error)
    {
      throw AnalysisError(error.code(), path + ": " + error.what());
    }
  }

  PrepSummary prepareStudy(const std::string& studyFolder, const std::string& outputFolder, const PrepOptions& options)
  {
    validatePreprocessing(options.preprocessing);
    fs::path folder(studyFolder);
    if (folder.filename().empty())
    {
      folder = folder.parent_path();   // "study/" names "study"
    }
    if (!fs::is_directory(folder))
    {
      throw AnalysisError("prep-study", studyFolder + " is not a folder");
    }

    if (fs::is_regular_file(folder / PHANTOM_TRUTH_FILE))
    {
      const PhantomTruth truth = readPhantomTruth((folder / PHANTOM_TRUTH_FILE).string());
      const FileSliceSource source(phantomFiles(folder));
      const Series series = loadSeries(source);
      const SpineLayout layout = findSpine(series.volume, spineOptionsFor(options.preprocessing));
      return writeStudy(series, layout, labelPhantomStudy(series, layout, truth), folder, outputFolder,
                        options.preprocessing);
    }

    // A real study: CT plus a vertebra SEG, labelled by the table. The SEG is read by the spine
    // stage (the same code that serving with a SEG uses).
    if (!options.labels)
    {
      throw AnalysisError("prep-study", folder.string() + " has no " + PHANTOM_TRUTH_FILE +
                                          "; a real study (CT + vertebra SEG) needs --labels TABLE.csv");
    }
    const StudyFiles files = findStudyFiles(folder.string());
    const CaseLevels* levels = options.labels->find(files.patientId);
    if (levels == nullptr)
    {
      throw AnalysisError("labels-table", "case \"" + files.patientId + "\" (the Patient ID of " + files.ctFiles.front() +
                                            ") is not in the labels table");
    }
    const FileSliceSource source(files.ctFiles);
    const Series series = loadSeries(source);
    const VertebraSegmentation segmentation = readVertebraSegmentationFile(files.segFile);
    checkSegmentationMatchesSeries(segmentation, series);
    const SpineOptions spineOptions = spineOptionsFor(options.preprocessing);
    SpineLayout found;
    try
    {
      found = findSpine(series.volume, spineOptions);
    }
    catch (const AnalysisError& error)
    {
      if (error.code() != "no-spine")
      {
        throw;
      }
      // The SEG alone places the crops (applyVertebraSegmentation accepts an empty layout).
    }
    const SpineLayout layout = applyVertebraSegmentation(series.volume, found, segmentation, spineOptions);
    StudyTruth truth = labelTableStudy(layout, *levels, files.patientId);
    if (!files.ignored.empty())
    {
      truth.warnings.push_back(std::to_string(files.ignored.size()) + " file(s) in the study folder are neither its CT "
                               "series nor its SEG and were ignored, e.g. " + files.ignored.front());
    }
    return writeStudy(series, layout, truth, folder, outputFolder, options.preprocessing);
  }
}
