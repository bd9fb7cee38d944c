// SPDX-License-Identifier: GPL-3.0-or-later
#include "assessment/InputChecks.h"
#include "TrainingSamples.h"

#include "Npy.h"
#include "common/AnalysisError.h"

#include <json/writer.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace spinemet
{
  namespace
  {
    Json::Value orNull(const std::string& text)
    {
      return text.empty() ? Json::Value() : Json::Value(text);
    }

    // Label fields shared by samples and vertebrae.
    void putLabel(Json::Value& entry, const TruthLabel& label)
    {
      entry["bone_quality"] = label.boneQuality < 0 ? Json::Value() : Json::Value(boneQualityNames()[label.boneQuality]);
      entry["bone_quality_index"] = label.boneQuality;
      entry["blastic"] = label.boneQuality < 0 ? -1 : (label.boneQuality == 1 || label.boneQuality == 3 ? 1 : 0);
      entry["lytic"] = label.boneQuality < 0 ? -1 : (label.boneQuality == 2 || label.boneQuality == 3 ? 1 : 0);
      entry["posterolateral"] = label.posterolateral < 0 ? Json::Value("unknown")
                                                         : Json::Value(posterolateralNames()[label.posterolateral]);
      entry["posterolateral_index"] = label.posterolateral;
      entry["posterolateral_side"] = orNull(label.posterolateralSide);
    }

    int indexOf(const std::vector<std::string>& names, const std::string& name, const char* what)
    {
      const auto found = std::find(names.begin(), names.end(), name);
      if (found == names.end())
      {
        throw AnalysisError("ground-truth", std::string("unknown ") + what + " \"" + name + "\"");
      }
      return static_cast<int>(found - names.begin());
    }
  }

  const std::vector<std::string>& boneQualityNames()
  {
    static const std::vector<std::string> names = {"normal", "blastic", "lytic", "mixed"};
    return names;
  }

  const std::vector<std::string>& posterolateralNames()
  {
    static const std::vector<std::string> names = {"none", "unilateral", "bilateral"};
    return names;
  }

  int boneQualityIndex(const std::string& name)
  {
    return indexOf(boneQualityNames(), name, "bone quality");
  }

  int posterolateralIndex(const std::string& name)
  {
    return indexOf(posterolateralNames(), name, "posterolateral involvement");
  }

  Json::Value samplesDocument(const Series& series, const SpineLayout& layout, const CropBatch& crops,
                              const Preprocessing& preprocessing, const StudyTruth& truth,
                              const StudySource& source)
  {
    const Volume& volume = series.volume;
    const VolumeGeometry& geometry = volume.geometry();
    Json::Value document(Json::objectValue);
    document["format"] = SAMPLES_FORMAT;
    document["spinemet_version"] = SPINEMET_VERSION;

    Json::Value shape(Json::arrayValue);
    for (size_t extent : {crops.count(), crops.channels, crops.size, crops.size})
    {
      shape.append(static_cast<Json::UInt64>(extent));
    }
    document["crops"]["file"] = "crops.npy";
    document["crops"]["shape"] = shape;
    document["crops"]["dtype"] = "float32";
    document["preprocessing"] = toJson(preprocessing);

    Json::Value& study = document["study"];
    study["kind"] = truth.kind;
    study["source"] = source.folder;
    study["name"] = source.name;
    study["case_id"] = truth.caseId ? Json::Value(*truth.caseId) : Json::Value();
    study["seed"] = truth.seed ? Json::Value(static_cast<Json::Int64>(*truth.seed)) : Json::Value();
    study["study_instance_uid"] = series.attributes.studyInstanceUid;
    study["series_instance_uid"] = series.attributes.seriesInstanceUid;
    study["slices"] = static_cast<Json::UInt64>(volume.sliceCount());
    // The same measurements serving checks (assessment/InputChecks.h), so that a model's declared
    // domain (its "assessability" section) is measured the way serving measures.
    study["input_measurements"] = toJson(measureInput(volume));
    study["pixel_spacing_mm"].append(geometry.rowSpacing);
    study["pixel_spacing_mm"].append(geometry.columnSpacing);
    study["slice_spacing_mm"] = geometry.sliceSpacing;
    study["vertebra_slices"] = static_cast<Json::UInt64>(crops.count());
    study["truth_vertebra_slices_missed"] = static_cast<Json::UInt64>(truth.truthVertebraSlicesMissed);
    study["warnings"] = Json::Value(Json::arrayValue);
    for (const std::string& warning : series.warnings)
    {
      study["warnings"].append(warning);
    }
    for (const std::string& warning : truth.warnings)
    {
      study["warnings"].append(warning);
    }

    document["samples"] = Json::Value(Json::arrayValue);
    std::vector<size_t> cropsPerVertebra(layout.vertebrae.size(), 0);
    for (size_t n = 0; n < crops.count(); ++n)
    {
      const size_t slice = crops.sliceIndices[n];
      const SliceSpine& spine = layout.slices.at(slice);
      const SliceTruth& sliceTruth = truth.slices.at(slice);
      Json::Value sample(Json::objectValue);
      sample["crop_index"] = static_cast<Json::UInt64>(n);
      sample["slice_index"] = static_cast<Json::UInt64>(slice);
      sample["z_mm"] = series.slices.at(slice).position;
      sample["sop_instance_uid"] = series.slices.at(slice).sopInstanceUid;
      sample["vertebra_index"] = spine.vertebra;
      const bool inLayout = spine.vertebra >= 0 && static_cast<size_t>(spine.vertebra) < layout.vertebrae.size();
      sample["vertebra_level"] = inLayout ? orNull(layout.vertebrae[spine.vertebra].level) : Json::Value();
      if (inLayout)
      {
        ++cropsPerVertebra[spine.vertebra];
      }
      sample["truth_vertebra_index"] = sliceTruth.label.truthIndex < 0 ? Json::Value() : Json::Value(sliceTruth.label.truthIndex);
      sample["truth_vertebra_level"] = orNull(sliceTruth.label.truthLevel);
      sample["slice_truth"] = sliceTruth.sliceTruth;
      putLabel(sample, sliceTruth.label);
      auto flag = [](const std::optional<bool>& value) { return value ? Json::Value(*value) : Json::Value(); };
      sample["lesion_visible"] = flag(sliceTruth.visible.any);
      sample["blastic_lesion_visible"] = flag(sliceTruth.visible.blastic);
      sample["lytic_lesion_visible"] = flag(sliceTruth.visible.lytic);
      sample["posterolateral_lesion_visible"] = flag(sliceTruth.visible.posterolateral);
      document["samples"].append(sample);
    }

    document["vertebrae"] = Json::Value(Json::arrayValue);
    for (size_t v = 0; v < layout.vertebrae.size(); ++v)
    {
      const Vertebra& vertebra = layout.vertebrae[v];
      const VertebraTruth& vertebraTruth = truth.vertebrae.at(v);
      Json::Value entry(Json::objectValue);
      entry["index"] = vertebra.index;
      entry["level"] = orNull(vertebra.level);
      entry["first_slice"] = static_cast<Json::UInt64>(vertebra.firstSlice);
      entry["last_slice"] = static_cast<Json::UInt64>(vertebra.lastSlice);
      entry["crops"] = static_cast<Json::UInt64>(cropsPerVertebra[v]);
      entry["truth_index"] = vertebraTruth.label.truthIndex < 0 ? Json::Value() : Json::Value(vertebraTruth.label.truthIndex);
      entry["truth_level"] = orNull(vertebraTruth.label.truthLevel);
      entry["truth_overlap"] = vertebraTruth.overlap ? Json::Value(*vertebraTruth.overlap) : Json::Value();
      putLabel(entry, vertebraTruth.label);
      document["vertebrae"].append(entry);
    }
    return document;
  }

  void writeTrainingSamples(const std::string& folder, const CropBatch& crops, const Json::Value& document)
  {
    std::error_code error;
    std::filesystem::create_directories(folder, error);
    if (error)
    {
      throw AnalysisError("prep-output", "cannot create the output folder " + folder + ": " + error.message());
    }
    const std::filesystem::path base(folder);
    // samples.json last: a folder with samples.json is complete.
    std::filesystem::remove(base / "samples.json", error);
    writeNpyFloat32((base / "crops.npy").string(), {crops.count(), crops.channels, crops.size, crops.size},
                    crops.values.data());

    Json::StreamWriterBuilder builder;
    builder["indentation"] = " ";
    builder["precision"] = 15;      // round-trips the preprocessing values, prints 2.5 as 2.5
    const std::string text = Json::writeString(builder, document) + "\n";
    const std::string path = (base / "samples.json").string();
    const std::string partial = path + ".partial";
    {
      std::ofstream stream(partial, std::ios::binary | std::ios::trunc);
      stream << text;
      stream.close();
      if (!stream)
      {
        throw AnalysisError("prep-output", "cannot write " + partial);
      }
    }
    std::filesystem::rename(partial, path, error);
    if (error)
    {
      throw AnalysisError("prep-output", "cannot rename " + partial + " to " + path + ": " + error.message());
    }
  }
}
