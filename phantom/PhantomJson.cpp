// SPDX-License-Identifier: GPL-3.0-or-later
// ground_truth.json: schema "spinemet-phantom-truth/1" (docs/phantom.md).
#include "phantom/Phantom.h"
#include "phantom/PhantomTruthJson.h"

#include "common/AnalysisError.h"

#include <json/value.h>
#include <json/writer.h>

#include <cmath>
#include <fstream>

namespace spinemet
{
  namespace
  {
    const char* qualityName(BoneQuality value)
    {
      switch (value)
      {
        case BoneQuality::Normal: return "normal";
        case BoneQuality::Blastic: return "blastic";
        case BoneQuality::Lytic: return "lytic";
        case BoneQuality::Mixed: return "mixed";
      }
      return "normal";
    }

    const char* posterolateralName(Posterolateral value)
    {
      switch (value)
      {
        case Posterolateral::None: return "none";
        case Posterolateral::Unilateral: return "unilateral";
        case Posterolateral::Bilateral: return "bilateral";
      }
      return "none";
    }

  }

  std::string phantomGroundTruthJson(const PhantomStudy& study)
  {
    const PhantomSettings& s = study.settings;
    const PhantomAcquisition& a = study.acquisition;
    const Series& series = study.series;
    const VolumeGeometry& g = series.volume.geometry();
    const PhantomLesionRanges ranges = s.lesionRanges ? *s.lesionRanges : phantomLesionRanges(s.difficulty);

    Json::Value root(Json::objectValue);
    root["schema"] = "spinemet-phantom-truth/1";
    root["generator"]["name"] = "spinemet-phantom";
    root["generator"]["version"] = SPINEMET_VERSION;
    root["synthetic"] = true;
    root["seed"] = Json::UInt64(s.seed);

    Json::Value& settings = root["settings"];
    settings["random_acquisition"] = s.randomAcquisition;
    settings["difficulty"] = toString(s.difficulty);
    settings["rib_pairs"] = s.ribPairs;
    settings["bone"] = toString(s.bone);
    if (s.boneDensityHu)
    {
      settings["bone_density_hu"] = *s.boneDensityHu;
    }
    settings["cervical_rib"] = s.cervicalRib;
    settings["transitional_vertebra"] = toString(s.transitional);
    settings["noise_sigma_hu"] = s.noiseSigmaHu;
    settings["in_plane_blur_mm"] = s.inPlaneBlurMm;
    settings["lesion_probability"] = s.lesionProbability;
    settings["lesion_type_weights"]["blastic"] = s.lesionTypeWeights[0];
    settings["lesion_type_weights"]["lytic"] = s.lesionTypeWeights[1];
    settings["lesion_type_weights"]["mixed"] = s.lesionTypeWeights[2];
    settings["posterolateral_probability"] = s.posterolateralProbability;
    settings["bilateral_probability"] = s.bilateralProbability;
    settings["lesion_ranges"]["radius_min_mm"] = ranges.radiusMinMm;
    settings["lesion_ranges"]["radius_max_mm"] = ranges.radiusMaxMm;
    settings["lesion_ranges"]["lytic_hu_min"] = ranges.lyticHuMin;
    settings["lesion_ranges"]["lytic_hu_max"] = ranges.lyticHuMax;
    settings["lesion_ranges"]["blastic_hu_min"] = ranges.blasticHuMin;
    settings["lesion_ranges"]["blastic_hu_max"] = ranges.blasticHuMax;
    settings["forced_labels"] = Json::Value(Json::objectValue);
    for (const auto& [level, label] : s.labels)
    {
      Json::Value& forced = settings["forced_labels"][level];
      forced["bone_quality"] = qualityName(label.boneQuality);
      forced["posterolateral"] = posterolateralName(label.posterolateral);
      forced["side"] = toString(label.side);
    }
    Json::Value& acquisition = settings["acquisition"];
    acquisition["levels"] = a.firstLevel + "-" + a.lastLevel;
    acquisition["matrix"] = Json::UInt64(a.matrix);
    acquisition["pixel_spacing_mm"] = a.pixelSpacingMm;
    acquisition["slice_thickness_mm"] = a.sliceThicknessMm;
    acquisition["slice_spacing_mm"] = a.sliceSpacingMm;
    acquisition["order"] = toString(a.order);
    acquisition["transfer_syntax"] = toString(a.transferSyntax);
    acquisition["lateral_offset_mm"] = a.lateralOffsetMm;
    acquisition["anterior_posterior_offset_mm"] = a.anteriorPosteriorOffsetMm;

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
    out["order"] = toString(a.order);
    out["transfer_syntax"] = toString(a.transferSyntax);
    out["transfer_syntax_uid"] = transferSyntaxUid(a.transferSyntax);
    out["image_orientation_patient"] = Json::Value(Json::arrayValue);
    for (int i : {1, 0, 0, 0, 1, 0})
    {
      out["image_orientation_patient"].append(i);
    }
    out["origin_mm"] = truth_json::vector3(g.origin);   // Image Position (Patient) of the most caudal slice
    out["rescale_slope"] = 1;
    out["rescale_intercept"] = -1024;
    out["bits_stored"] = 12;
    out["pixel_representation"] = 0;

    Json::Value& vertebrae = root["vertebrae"];
    vertebrae = Json::Value(Json::arrayValue);
    for (const PhantomVertebra& v : study.truth.vertebrae)
    {
      Json::Value item = truth_json::vertebra(v);
      if (study.settings.bone == PhantomBoneModel::Realistic)
      {
        item["normal_findings"] = Json::Value(Json::arrayValue);
        for (const PhantomLesion& finding : v.normalFindings)
        {
          item["normal_findings"].append(truth_json::lesion(finding));
        }
      }
      vertebrae.append(item);
    }

    Json::Value& slices = root["slices"];
    slices = Json::Value(Json::arrayValue);
    for (const PhantomSlice& slice : study.truth.slices)
    {
      slices.append(truth_json::slice(slice, slice.fileName));
    }

    Json::StreamWriterBuilder builder;
    builder["indentation"] = "  ";
    builder["precision"] = 10;
    return Json::writeString(builder, root) + "\n";
  }

  void writePhantomGroundTruth(const PhantomStudy& study, const std::string& path)
  {
    std::ofstream file(path, std::ios::binary);
    file << phantomGroundTruthJson(study);
    file.close();
    if (!file)
    {
      throw AnalysisError("phantom-write", "cannot write " + path);
    }
  }

  namespace truth_json
  {
    Json::Value millimetres(double value)
    {
      const double rounded = std::round(value * 1000) / 1000;
      return Json::Value(rounded == 0 ? 0.0 : rounded);
    }

    Json::Value vector3(const Vector3& v)
    {
      Json::Value array(Json::arrayValue);
      for (double component : v)
      {
        array.append(millimetres(component));
      }
      return array;
    }

    Json::Value lesion(const PhantomLesion& lesion)
    {
      Json::Value item(Json::objectValue);
      item["kind"] = lesion.kind;
      item["region"] = lesion.region;
      item["centre_mm"] = vector3(lesion.centre);
      item["radii_mm"] = vector3(lesion.radiiMm);
      item["hu"] = millimetres(lesion.hu);
      return item;
    }

    Json::Value vertebra(const PhantomVertebra& v)
    {
      Json::Value item(Json::objectValue);
      item["index"] = v.index;
      item["level"] = v.level;
      item["z_min_mm"] = millimetres(v.zMinMm);
      item["z_max_mm"] = millimetres(v.zMaxMm);
      item["bone_quality"] = qualityName(v.boneQuality);
      item["posterolateral"] = posterolateralName(v.posterolateral);
      item["side"] = toString(v.side);
      item["body_centre_mm"] = vector3(v.bodyCentre);
      item["body_centre_pixel"]["column"] = millimetres(v.bodyCentreColumn);
      item["body_centre_pixel"]["row"] = millimetres(v.bodyCentreRow);
      item["body_size_mm"]["width"] = millimetres(v.bodyWidthMm);
      item["body_size_mm"]["depth"] = millimetres(v.bodyDepthMm);
      item["body_size_mm"]["height"] = millimetres(v.bodyHeightMm);
      item["lesions"] = Json::Value(Json::arrayValue);
      for (const PhantomLesion& l : v.lesions)
      {
        item["lesions"].append(lesion(l));
      }
      item["sop_instance_uids"] = Json::Value(Json::arrayValue);
      for (const std::string& uid : v.sopInstanceUids)
      {
        item["sop_instance_uids"].append(uid);
      }
      return item;
    }

    Json::Value slice(const PhantomSlice& slice, const Json::Value& file)
    {
      Json::Value item(Json::objectValue);
      item["file"] = file;
      item["sop_instance_uid"] = slice.sopInstanceUid;
      item["z_mm"] = millimetres(slice.zMm);
      item["instance_number"] = slice.instanceNumber;
      item["vertebra"] = slice.vertebra >= 0 ? Json::Value(slice.vertebra) : Json::Value(Json::nullValue);
      item["bone_quality"] = qualityName(slice.boneQuality);
      item["posterolateral"] = posterolateralName(slice.posterolateral);
      item["side"] = toString(slice.side);
      item["lesion_visible"] = slice.lesionVisible;
      item["blastic_lesion_visible"] = slice.blasticLesionVisible;
      item["lytic_lesion_visible"] = slice.lyticLesionVisible;
      item["posterolateral_lesion_visible"] = slice.posterolateralLesionVisible;
      item["posterolateral_visible_side"] = toString(slice.posterolateralVisibleSide);
      if (slice.vertebra >= 0)
      {
        item["body_centre_pixel"]["column"] = millimetres(slice.bodyCentreColumn);
        item["body_centre_pixel"]["row"] = millimetres(slice.bodyCentreRow);
      }
      else
      {
        item["body_centre_pixel"] = Json::Value(Json::nullValue);
      }
      return item;
    }
  }
}
