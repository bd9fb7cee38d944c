// SPDX-License-Identifier: GPL-3.0-or-later
// ground_truth.json of a hybrid study: the phantom's schema (docs/phantom.md), so that
// spinemet-prep reads it as it reads a phantom, plus a record of the background (docs/hybrid.md).
#include "hybrid/HybridTruth.h"
#include "phantom/PhantomTruthJson.h"

#include <json/value.h>
#include <json/writer.h>

#include <cmath>

namespace spinemet
{
  namespace
  {
    Json::Value labelJson(const HybridLabel& label)
    {
      Json::Value item(Json::objectValue);
      item["bone_quality"] = toString(label.boneQuality);
      item["posterolateral"] = toString(label.posterolateral);
      item["side"] = toString(label.side);
      return item;
    }
  }

  std::string hybridGroundTruthJson(const HybridStudy& study, const HybridWriteRecord& record,
                                    const std::string& backgroundFolder)
  {
    const HybridSettings& s = study.settings;
    const Series& series = study.series;
    const VolumeGeometry& g = series.volume.geometry();

    Json::Value root(Json::objectValue);
    root["schema"] = "spinemet-phantom-truth/1";
    root["generator"]["name"] = "spinemet-hybrid";
    root["generator"]["version"] = SPINEMET_VERSION;
    root["synthetic"] = false;   // real anatomy ...
    root["hybrid"] = true;       // ... with synthetic lesions
    root["seed"] = Json::UInt64(s.seed);

    Json::Value& settings = root["settings"];
    settings["lesion_probability"] = s.lesionProbability;
    settings["lesion_type_weights"]["blastic"] = s.lesionTypeWeights[0];
    settings["lesion_type_weights"]["lytic"] = s.lesionTypeWeights[1];
    settings["lesion_type_weights"]["mixed"] = s.lesionTypeWeights[2];
    settings["posterolateral_probability"] = s.posterolateralProbability;
    settings["bilateral_probability"] = s.bilateralProbability;
    settings["lesion_ranges"]["radius_min_mm"] = s.ranges.radiusMinMm;
    settings["lesion_ranges"]["radius_max_mm"] = s.ranges.radiusMaxMm;
    settings["lesion_ranges"]["lytic_hu_min"] = s.ranges.lyticHuMin;
    settings["lesion_ranges"]["lytic_hu_max"] = s.ranges.lyticHuMax;
    settings["lesion_ranges"]["blastic_hu_min"] = s.ranges.blasticHuMin;
    settings["lesion_ranges"]["blastic_hu_max"] = s.ranges.blasticHuMax;
    settings["forced_labels"] = Json::Value(Json::objectValue);
    for (const auto& [key, label] : s.labels) settings["forced_labels"][key] = labelJson(label);
    settings["visible_change_hu"] = VISIBLE_CHANGE_HU;
    settings["visible_area_mm2"] = VISIBLE_AREA_MM2;

    Json::Value& background = root["background"];
    background["folder"] = backgroundFolder;
    background["study_instance_uid"] = study.background.attributes.studyInstanceUid;
    background["series_instance_uid"] = study.background.attributes.seriesInstanceUid;
    background["frame_of_reference_uid"] = study.background.attributes.frameOfReferenceUid;
    background["patient_id"] = study.background.attributes.patientId;
    background["manufacturer"] = study.background.attributes.manufacturer;
    background["assumed_lesion_free"] = true;
    background["vertebra_source"] = study.vertebraSource;
    background["vertebrae_with_lesions"] = Json::Value(Json::arrayValue);
    background["vertebrae_withheld"] = Json::Value(Json::arrayValue);
    for (const PhantomVertebra& v : study.truth.vertebrae)
    {
      if (v.boneQuality != BoneQuality::Normal) background["vertebrae_with_lesions"].append(v.index);
      if (study.withheld[v.index]) background["vertebrae_withheld"].append(v.index);
    }
    background["skipped_files"] = Json::Value(Json::arrayValue);
    for (const std::string& name : record.skippedFiles) background["skipped_files"].append(name);
    background["warnings"] = Json::Value(Json::arrayValue);
    for (const std::string& warning : study.warnings) background["warnings"].append(warning);
    background["transfer_syntax_changed"] = record.reencoded.empty() ? Json::Value(Json::nullValue) : Json::Value(record.reencoded);

    Json::Value& out = root["series"];
    out["study_instance_uid"] = series.attributes.studyInstanceUid;
    out["series_instance_uid"] = series.attributes.seriesInstanceUid;
    out["frame_of_reference_uid"] = series.attributes.frameOfReferenceUid;
    out["rows"] = Json::UInt64(g.rows);
    out["columns"] = Json::UInt64(g.columns);
    out["slices"] = Json::UInt64(g.slices);
    out["pixel_spacing_mm"] = g.rowSpacing;
    out["slice_thickness_mm"] = g.sliceThickness;
    out["slice_spacing_mm"] = g.sliceSpacing;
    // as the phantom says it: "descending" when instance 1 is the most cranial slice
    const bool descending = study.truth.slices.size() >= 2 &&
                            study.truth.slices.front().instanceNumber < study.truth.slices.back().instanceNumber;
    out["order"] = descending ? "descending" : "ascending";
    out["transfer_syntax"] = record.transferSyntaxName;
    out["transfer_syntax_uid"] = record.transferSyntaxUid;
    out["image_orientation_patient"] = Json::Value(Json::arrayValue);
    for (const Vector3* axis : {&g.rowDirection, &g.columnDirection})
      for (double component : *axis) out["image_orientation_patient"].append(std::round(component * 1e6) / 1e6);
    out["origin_mm"] = truth_json::vector3(g.origin);
    out["rescale_slope"] = record.rescaleSlope;
    out["rescale_intercept"] = record.rescaleIntercept;
    out["bits_stored"] = record.bitsStored;
    out["pixel_representation"] = record.pixelRepresentation;

    Json::Value& vertebrae = root["vertebrae"];
    vertebrae = Json::Value(Json::arrayValue);
    size_t lesionIndex = 0;
    for (const PhantomVertebra& v : study.truth.vertebrae)
    {
      Json::Value item = truth_json::vertebra(v);
      item["withheld"] = static_cast<bool>(study.withheld[v.index]);
      item["changed_voxels"] = Json::UInt64(study.changedVoxels[v.index]);
      // the lesions of study.lesions are in the same order as the vertebrae's truth lesions
      for (Json::Value& lesion : item["lesions"])
      {
        lesion["changed_voxels"] = Json::UInt64(study.lesions[lesionIndex++].changedVoxels);
      }
      vertebrae.append(item);
    }

    std::map<std::string, size_t> sliceOf;
    for (size_t k = 0; k < series.slices.size(); ++k) sliceOf[series.slices[k].sopInstanceUid] = k;
    Json::Value& slices = root["slices"];
    slices = Json::Value(Json::arrayValue);
    for (const PhantomSlice& slice : study.truth.slices)
    {
      const size_t k = sliceOf.at(slice.sopInstanceUid);
      const auto name = record.fileNames.find(k);
      Json::Value item = truth_json::slice(slice, name == record.fileNames.end() ? Json::Value(Json::nullValue)
                                                                                  : Json::Value(name->second));
      item["background_sop_instance_uid"] = study.background.slices[k].sopInstanceUid;
      slices.append(item);
    }

    Json::StreamWriterBuilder builder;
    builder["indentation"] = "  ";
    builder["precision"] = 10;
    return Json::writeString(builder, root) + "\n";
  }
}
