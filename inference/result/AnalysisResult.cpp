// SPDX-License-Identifier: GPL-3.0-or-later
#include "result/AnalysisResult.h"

#include "common/JsonFields.h"

#include <cmath>
#include <stdexcept>

namespace spinemet
{
  namespace
  {
    // Reading a result back refuses a malformed document with the field's dotted path.
    const JsonFields RESULT_FIELDS("result-json", "spinemet result JSON");

    const char* const BONE_QUALITY_NAMES[] = {"normal", "blastic", "lytic", "mixed"};
    const char* const POSTEROLATERAL_NAMES[] = {"none", "unilateral", "bilateral"};
    const char* const NOT_ASSESSABLE_NAMES[] = {"out-of-distribution", "hu-calibration", "slice-thickness",
                                                "pixel-spacing", "image-noise", "metal", "cut-by-series-edge"};
    const char* const STUDY_STATE_NAMES[] = {"no-lesion-found", "lesion-suspected", "not-assessable"};

    // Severity for the study summary follows the SINS bone-lesion points, with blastic above normal.
    int severity(BoneQuality value)
    {
      switch (value)
      {
        case BoneQuality::Lytic: return 3;
        case BoneQuality::Mixed: return 2;
        case BoneQuality::Blastic: return 1;
        case BoneQuality::Normal: return 0;
      }
      return 0;
    }

    Json::Value withheld(std::initializer_list<const char*> keys)
    {
      Json::Value json(Json::objectValue);
      for (const char* key : keys)
      {
        json[key] = Json::Value();
      }
      return json;
    }

    const Json::Value WITHHELD_FINDING = withheld({"class", "probability", "probabilities"});
    const Json::Value WITHHELD_SINS = withheld({"bone_lesion", "posterolateral"});

    // NaN (no score, no measurement) is written as null.
    Json::Value optionalNumberToJson(double value)
    {
      return std::isnan(value) ? Json::Value() : Json::Value(value);
    }

    float optionalScoreFromJson(const Json::Value& object, const std::string& path, const char* key)
    {
      return static_cast<float>(RESULT_FIELDS.numberOrNull(object, path, key));
    }

    Json::Value reasonsToJson(const std::vector<NotAssessable>& reasons)
    {
      Json::Value json(Json::arrayValue);
      for (const auto& entry : reasons)
      {
        Json::Value item(Json::objectValue);
        item["reason"] = toString(entry.reason);
        item["detail"] = entry.detail;
        json.append(item);
      }
      return json;
    }

    std::vector<NotAssessable> reasonsFromJson(const Json::Value& object, const std::string& path, const char* key)
    {
      const Json::Value& json = RESULT_FIELDS.array(object, path, key);
      std::vector<NotAssessable> reasons;
      for (Json::ArrayIndex i = 0; i < json.size(); ++i)
      {
        const std::string itemPath = (path.empty() ? std::string(key) : path + "." + key) + "[" + std::to_string(i) + "]";
        NotAssessable entry;
        try
        {
          entry.reason = parseNotAssessableReason(RESULT_FIELDS.text(json[i], itemPath, "reason"));
        }
        catch (const std::invalid_argument& error)
        {
          RESULT_FIELDS.refuse(itemPath + ".reason", error.what());
        }
        entry.detail = RESULT_FIELDS.text(json[i], itemPath, "detail");
        reasons.push_back(std::move(entry));
      }
      return reasons;
    }

    Json::Value vectorToJson(const Vector3& v)
    {
      Json::Value json(Json::arrayValue);
      for (double x : v)
      {
        json.append(x);
      }
      return json;
    }

    Vector3 vectorFromJson(const Json::Value& object, const std::string& path, const char* key)
    {
      const Json::Value& json = RESULT_FIELDS.array(object, path, key);
      if (json.size() != 3 || !JsonFields::isNumber(json[0]) || !JsonFields::isNumber(json[1]) || !JsonFields::isNumber(json[2]))
      {
        RESULT_FIELDS.refuse(path + "." + key, "must be three numbers");
      }
      return {json[0].asDouble(), json[1].asDouble(), json[2].asDouble()};
    }

    template <size_t N>
    Json::Value probabilitiesToJson(const std::array<float, N>& values, const char* const (&names)[N])
    {
      Json::Value json(Json::objectValue);
      for (size_t i = 0; i < N; ++i)
      {
        json[names[i]] = values[i];
      }
      return json;
    }

    template <size_t N>
    std::array<float, N> probabilitiesFromJson(const Json::Value& object, const std::string& path, const char* key,
                                               const char* const (&names)[N])
    {
      const Json::Value& json = RESULT_FIELDS.member(object, path, key);
      std::array<float, N> values{};
      for (size_t i = 0; i < N; ++i)
      {
        values[i] = static_cast<float>(RESULT_FIELDS.number(json, path + "." + key, names[i]));
      }
      return values;
    }

    // (key, member) pairs of SeriesAttributes, so that writing and reading cannot drift apart.
    struct AttributeField
    {
      const char* key;
      std::string SeriesAttributes::*field;
    };

    const AttributeField SERIES_FIELDS[] = {
      {"patient_name", &SeriesAttributes::patientName},
      {"patient_id", &SeriesAttributes::patientId},
      {"patient_birth_date", &SeriesAttributes::patientBirthDate},
      {"patient_sex", &SeriesAttributes::patientSex},
      {"study_instance_uid", &SeriesAttributes::studyInstanceUid},
      {"study_date", &SeriesAttributes::studyDate},
      {"study_time", &SeriesAttributes::studyTime},
      {"study_id", &SeriesAttributes::studyId},
      {"accession_number", &SeriesAttributes::accessionNumber},
      {"referring_physician_name", &SeriesAttributes::referringPhysicianName},
      {"study_description", &SeriesAttributes::studyDescription},
      {"series_instance_uid", &SeriesAttributes::seriesInstanceUid},
      {"series_number", &SeriesAttributes::seriesNumber},
      {"series_description", &SeriesAttributes::seriesDescription},
      {"modality", &SeriesAttributes::modality},
      {"body_part_examined", &SeriesAttributes::bodyPartExamined},
      {"frame_of_reference_uid", &SeriesAttributes::frameOfReferenceUid},
      {"manufacturer", &SeriesAttributes::manufacturer},
      {"specific_character_set", &SeriesAttributes::specificCharacterSet},
    };

    Json::Value geometryToJson(const VolumeGeometry& g)
    {
      Json::Value json(Json::objectValue);
      json["columns"] = Json::UInt64(g.columns);
      json["rows"] = Json::UInt64(g.rows);
      json["slices"] = Json::UInt64(g.slices);
      json["column_spacing_mm"] = g.columnSpacing;
      json["row_spacing_mm"] = g.rowSpacing;
      json["slice_spacing_mm"] = g.sliceSpacing;
      json["slice_thickness_mm"] = g.sliceThickness;
      json["origin"] = vectorToJson(g.origin);
      json["row_direction"] = vectorToJson(g.rowDirection);
      json["column_direction"] = vectorToJson(g.columnDirection);
      json["slice_direction"] = vectorToJson(g.sliceDirection);
      return json;
    }

    VolumeGeometry geometryFromJson(const Json::Value& json)
    {
      const std::string path = "geometry";
      VolumeGeometry g;
      g.columns = RESULT_FIELDS.count(json, path, "columns");
      g.rows = RESULT_FIELDS.count(json, path, "rows");
      g.slices = RESULT_FIELDS.count(json, path, "slices");
      g.columnSpacing = RESULT_FIELDS.number(json, path, "column_spacing_mm");
      g.rowSpacing = RESULT_FIELDS.number(json, path, "row_spacing_mm");
      g.sliceSpacing = RESULT_FIELDS.number(json, path, "slice_spacing_mm");
      g.sliceThickness = RESULT_FIELDS.number(json, path, "slice_thickness_mm");
      g.origin = vectorFromJson(json, path, "origin");
      g.rowDirection = vectorFromJson(json, path, "row_direction");
      g.columnDirection = vectorFromJson(json, path, "column_direction");
      g.sliceDirection = vectorFromJson(json, path, "slice_direction");
      return g;
    }

    Json::Value vertebraToJson(const VertebraResult& v)
    {
      Json::Value json(Json::objectValue);
      json["index"] = v.index;
      json["level"] = v.level.empty() ? Json::Value() : Json::Value(v.level);
      json["display_name"] = v.displayName;
      json["level_confidence"] = v.level.empty() ? Json::Value() : Json::Value(v.levelConfidence);
      json["level_landmark"] = v.levelLandmark.empty() ? Json::Value() : Json::Value(v.levelLandmark);
      json["first_slice"] = Json::UInt64(v.firstSlice);
      json["last_slice"] = Json::UInt64(v.lastSlice);
      json["key_slice"] = Json::UInt64(v.keySlice);
      json["key_slice_sop_instance_uid"] = v.keySliceSopInstanceUid;
      Json::Value outline(Json::arrayValue);
      for (const auto& point : v.keySliceOutline)
      {
        Json::Value pair(Json::arrayValue);
        pair.append(point[0]);
        pair.append(point[1]);
        outline.append(pair);
      }
      json["key_slice_outline"] = outline;
      json["assessable"] = v.assessable;
      json["not_assessable_reasons"] = reasonsToJson(v.notAssessableBecause);
      json["out_of_distribution_score"] = optionalNumberToJson(v.outOfDistributionScore);
      if (!v.assessable)
      {
        // No finding is written for a vertebra the model cannot be trusted on, not even a normal one:
        // every member is null, inside objects of the usual shape, so that a reader that does not
        // know `assessable` finds no class rather than failing on the object.
        json["bone_quality"] = WITHHELD_FINDING;
        json["posterolateral"] = WITHHELD_FINDING;
        json["sins"] = WITHHELD_SINS;
        return json;
      }

      Json::Value boneQuality(Json::objectValue);
      boneQuality["class"] = toString(v.boneQuality);
      boneQuality["probability"] = v.boneQualityProbability;
      boneQuality["probabilities"] = probabilitiesToJson(v.boneQualityProbabilities, BONE_QUALITY_NAMES);
      json["bone_quality"] = boneQuality;

      Json::Value posterolateral(Json::objectValue);
      posterolateral["class"] = toString(v.posterolateral);
      posterolateral["probability"] = v.posterolateralProbability;
      posterolateral["probabilities"] = probabilitiesToJson(v.posterolateralProbabilities, POSTEROLATERAL_NAMES);
      json["posterolateral"] = posterolateral;

      Json::Value sins(Json::objectValue);
      sins["bone_lesion"] = v.sinsBoneLesion;
      sins["posterolateral"] = v.sinsPosterolateral;
      json["sins"] = sins;
      return json;
    }

    VertebraResult vertebraFromJson(const Json::Value& json, const std::string& path, bool withAssessment)
    {
      VertebraResult v;
      v.index = RESULT_FIELDS.integer(json, path, "index");
      v.level = RESULT_FIELDS.textOrNull(json, path, "level");
      v.displayName = RESULT_FIELDS.text(json, path, "display_name");
      // Added to spinemet-result/2 later: absent in earlier documents.
      if (json.isMember("level_confidence") && JsonFields::isNumber(json["level_confidence"]))
      {
        v.levelConfidence = json["level_confidence"].asFloat();
      }
      v.levelLandmark = json.isMember("level_landmark") ? RESULT_FIELDS.textOrNull(json, path, "level_landmark") : std::string();
      v.firstSlice = RESULT_FIELDS.count(json, path, "first_slice");
      v.lastSlice = RESULT_FIELDS.count(json, path, "last_slice");
      v.keySlice = RESULT_FIELDS.count(json, path, "key_slice");
      v.keySliceSopInstanceUid = RESULT_FIELDS.text(json, path, "key_slice_sop_instance_uid");
      const Json::Value& outline = RESULT_FIELDS.array(json, path, "key_slice_outline");
      for (Json::ArrayIndex i = 0; i < outline.size(); ++i)
      {
        const Json::Value& point = outline[i];
        if (!point.isArray() || point.size() != 2 || !JsonFields::isNumber(point[0]) || !JsonFields::isNumber(point[1]))
        {
          RESULT_FIELDS.refuse(path + ".key_slice_outline[" + std::to_string(i) + "]", "must be [column, row]");
        }
        v.keySliceOutline.push_back({point[0].asDouble(), point[1].asDouble()});
      }
      if (withAssessment)
      {
        const Json::Value& assessable = RESULT_FIELDS.member(json, path, "assessable");
        if (!assessable.isBool())
        {
          RESULT_FIELDS.refuse(path + ".assessable", "must be true or false");
        }
        v.assessable = assessable.asBool();
        v.notAssessableBecause = reasonsFromJson(json, path, "not_assessable_reasons");
        v.outOfDistributionScore = optionalScoreFromJson(json, path, "out_of_distribution_score");
        if (v.assessable != v.notAssessableBecause.empty())
        {
          RESULT_FIELDS.refuse(path + ".not_assessable_reasons", v.assessable ? "must be empty for an assessable vertebra"
                                                                : "must name why the vertebra is not assessable");
        }
        if (!v.assessable)
        {
          for (const char* key : {"bone_quality", "posterolateral", "sins"})
          {
            if (RESULT_FIELDS.member(json, path, key) != (std::string(key) == "sins" ? WITHHELD_SINS : WITHHELD_FINDING))
            {
              RESULT_FIELDS.refuse(path + "." + key, "must hold nothing but nulls for a vertebra that is not assessable");
            }
          }
          return v;
        }
      }

      const std::string bonePath = path + ".bone_quality";
      const Json::Value& boneQuality = RESULT_FIELDS.member(json, path, "bone_quality");
      try
      {
        v.boneQuality = parseBoneQuality(RESULT_FIELDS.text(boneQuality, bonePath, "class"));
      }
      catch (const std::invalid_argument& error)
      {
        RESULT_FIELDS.refuse(bonePath + ".class", error.what());
      }
      v.boneQualityProbability = static_cast<float>(RESULT_FIELDS.number(boneQuality, bonePath, "probability"));
      v.boneQualityProbabilities = probabilitiesFromJson(boneQuality, bonePath, "probabilities", BONE_QUALITY_NAMES);

      const std::string posteroPath = path + ".posterolateral";
      const Json::Value& posterolateral = RESULT_FIELDS.member(json, path, "posterolateral");
      try
      {
        v.posterolateral = parsePosterolateral(RESULT_FIELDS.text(posterolateral, posteroPath, "class"));
      }
      catch (const std::invalid_argument& error)
      {
        RESULT_FIELDS.refuse(posteroPath + ".class", error.what());
      }
      v.posterolateralProbability = static_cast<float>(RESULT_FIELDS.number(posterolateral, posteroPath, "probability"));
      v.posterolateralProbabilities =
        probabilitiesFromJson(posterolateral, posteroPath, "probabilities", POSTEROLATERAL_NAMES);

      const Json::Value& sins = RESULT_FIELDS.member(json, path, "sins");
      v.sinsBoneLesion = RESULT_FIELDS.integer(sins, path + ".sins", "bone_lesion");
      v.sinsPosterolateral = RESULT_FIELDS.integer(sins, path + ".sins", "posterolateral");
      if (v.sinsBoneLesion != sinsBoneLesionScore(v.boneQuality) ||
          v.sinsPosterolateral != sinsPosterolateralScore(v.posterolateral))
      {
        RESULT_FIELDS.refuse(path + ".sins", "does not match the classes (SINS: lytic 2, mixed 1, blastic 0, normal 0; "
                               "bilateral 3, unilateral 1, none 0)");
      }
      return v;
    }

    Json::Value sliceToJson(const SliceResult& s)
    {
      Json::Value json(Json::objectValue);
      json["slice_index"] = Json::UInt64(s.sliceIndex);
      json["sop_instance_uid"] = s.sopInstanceUid;
      json["vertebra"] = s.vertebra;
      json["blastic"] = s.blastic;
      json["lytic"] = s.lytic;
      json["bone_quality"] = probabilitiesToJson(s.boneQuality, BONE_QUALITY_NAMES);
      json["posterolateral"] = probabilitiesToJson(s.posterolateral, POSTEROLATERAL_NAMES);
      json["out_of_distribution_score"] = optionalNumberToJson(s.outOfDistributionScore);
      return json;
    }

    SliceResult sliceFromJson(const Json::Value& json, const std::string& path, bool withAssessment)
    {
      SliceResult s;
      s.sliceIndex = RESULT_FIELDS.count(json, path, "slice_index");
      s.sopInstanceUid = RESULT_FIELDS.text(json, path, "sop_instance_uid");
      s.vertebra = RESULT_FIELDS.integer(json, path, "vertebra");
      s.blastic = static_cast<float>(RESULT_FIELDS.number(json, path, "blastic"));
      s.lytic = static_cast<float>(RESULT_FIELDS.number(json, path, "lytic"));
      s.boneQuality = probabilitiesFromJson(json, path, "bone_quality", BONE_QUALITY_NAMES);
      s.posterolateral = probabilitiesFromJson(json, path, "posterolateral", POSTEROLATERAL_NAMES);
      if (withAssessment)
      {
        s.outOfDistributionScore = optionalScoreFromJson(json, path, "out_of_distribution_score");
      }
      return s;
    }
  }

  const char* toString(BoneQuality value)
  {
    return BONE_QUALITY_NAMES[static_cast<int>(value)];
  }

  const char* toString(Posterolateral value)
  {
    return POSTEROLATERAL_NAMES[static_cast<int>(value)];
  }

  BoneQuality parseBoneQuality(const std::string& text)
  {
    for (int i = 0; i < 4; ++i)
    {
      if (text == BONE_QUALITY_NAMES[i])
      {
        return static_cast<BoneQuality>(i);
      }
    }
    throw std::invalid_argument("unknown bone quality \"" + text + "\" (normal, blastic, lytic, mixed)");
  }

  Posterolateral parsePosterolateral(const std::string& text)
  {
    for (int i = 0; i < 3; ++i)
    {
      if (text == POSTEROLATERAL_NAMES[i])
      {
        return static_cast<Posterolateral>(i);
      }
    }
    throw std::invalid_argument("unknown posterolateral involvement \"" + text + "\" (none, unilateral, bilateral)");
  }

  const char* toString(NotAssessableReason value)
  {
    return NOT_ASSESSABLE_NAMES[static_cast<int>(value)];
  }

  NotAssessableReason parseNotAssessableReason(const std::string& text)
  {
    for (int i = 0; i < int(sizeof(NOT_ASSESSABLE_NAMES) / sizeof(NOT_ASSESSABLE_NAMES[0])); ++i)
    {
      if (text == NOT_ASSESSABLE_NAMES[i])
      {
        return static_cast<NotAssessableReason>(i);
      }
    }
    throw std::invalid_argument("unknown not-assessable reason \"" + text + "\"");
  }

  const char* toString(StudyState value)
  {
    return STUDY_STATE_NAMES[static_cast<int>(value)];
  }

  void markNotAssessable(VertebraResult& vertebra, const std::vector<NotAssessable>& reasons)
  {
    if (reasons.empty())
    {
      return;
    }
    vertebra.assessable = false;
    vertebra.notAssessableBecause.insert(vertebra.notAssessableBecause.end(), reasons.begin(), reasons.end());
    vertebra.boneQuality = BoneQuality::Normal;
    vertebra.boneQualityProbability = 0;
    vertebra.boneQualityProbabilities = {};
    vertebra.posterolateral = Posterolateral::None;
    vertebra.posterolateralProbability = 0;
    vertebra.posterolateralProbabilities = {};
    vertebra.sinsBoneLesion = 0;
    vertebra.sinsPosterolateral = 0;
  }

  int sinsBoneLesionScore(BoneQuality value)
  {
    switch (value)
    {
      case BoneQuality::Lytic: return 2;
      case BoneQuality::Mixed: return 1;
      case BoneQuality::Blastic: return 0;
      case BoneQuality::Normal: return 0;
    }
    return 0;
  }

  int sinsPosterolateralScore(Posterolateral value)
  {
    switch (value)
    {
      case Posterolateral::Bilateral: return 3;
      case Posterolateral::Unilateral: return 1;
      case Posterolateral::None: return 0;
    }
    return 0;
  }

  size_t AnalysisResult::assessableVertebrae() const
  {
    size_t count = 0;
    for (const auto& vertebra : vertebrae)
    {
      count += vertebra.assessable ? 1 : 0;
    }
    return count;
  }

  bool AnalysisResult::lesionSuspected() const
  {
    for (const auto& vertebra : vertebrae)
    {
      if (vertebra.assessable && vertebra.boneQuality != BoneQuality::Normal)
      {
        return true;
      }
    }
    return false;
  }

  BoneQuality AnalysisResult::highestBoneQuality() const
  {
    BoneQuality highest = BoneQuality::Normal;
    for (const auto& vertebra : vertebrae)
    {
      if (vertebra.assessable && severity(vertebra.boneQuality) > severity(highest))
      {
        highest = vertebra.boneQuality;
      }
    }
    return highest;
  }

  Json::Value toJson(const InputMeasurements& m)
  {
    Json::Value json(Json::objectValue);
    json["body_median_hu"] = optionalNumberToJson(m.bodyMedianHu);
    json["soft_tissue_fraction"] = m.softTissueFraction;
    json["dense_fraction"] = m.denseFraction;
    json["image_noise_hu"] = optionalNumberToJson(m.imageNoiseHu);
    json["sampled_voxels"] = Json::UInt64(m.sampledVoxels);
    return json;
  }

  InputMeasurements inputMeasurementsFromJson(const Json::Value& json)
  {
    const std::string path = "assessment.input_measurements";
    InputMeasurements m;
    m.bodyMedianHu = RESULT_FIELDS.numberOrNull(json, path, "body_median_hu");
    m.softTissueFraction = RESULT_FIELDS.number(json, path, "soft_tissue_fraction");
    m.denseFraction = RESULT_FIELDS.number(json, path, "dense_fraction");
    m.imageNoiseHu = RESULT_FIELDS.numberOrNull(json, path, "image_noise_hu");
    m.sampledVoxels = RESULT_FIELDS.count(json, path, "sampled_voxels");
    return m;
  }

  StudyState AnalysisResult::state() const
  {
    if (lesionSuspected())
    {
      return StudyState::LesionSuspected;
    }
    return assessableVertebrae() == 0 ? StudyState::NotAssessable : StudyState::NoLesionFound;
  }

  Json::Value toJson(const AnalysisResult& result)
  {
    Json::Value json(Json::objectValue);
    json["schema"] = RESULT_SCHEMA;

    Json::Value series(Json::objectValue);
    for (const auto& field : SERIES_FIELDS)
    {
      series[field.key] = result.series.*field.field;
    }
    json["series"] = series;
    json["geometry"] = geometryToJson(result.geometry);

    Json::Value model(Json::objectValue);
    model["name"] = result.model.name;
    model["version"] = result.model.version;
    model["architecture"] = result.model.architecture;
    model["trained_on"] = result.model.trainedOn;
    json["model"] = model;

    Json::Value assessment(Json::objectValue);
    assessment["out_of_distribution_gate"] = result.assessment.outOfDistributionGate;
    assessment["out_of_distribution_threshold"] =
      result.assessment.outOfDistributionGate ? Json::Value(result.assessment.outOfDistributionThreshold) : Json::Value();
    assessment["series_reasons"] = reasonsToJson(result.assessment.seriesReasons);
    assessment["input_measurements"] = toJson(result.assessment.measurements);
    json["assessment"] = assessment;

    // Derived from the vertebrae: written for readers that want the triage answer at a glance,
    // checked (not trusted) when read back.
    Json::Value summary(Json::objectValue);
    summary["state"] = toString(result.state());
    summary["assessable_vertebrae"] = Json::UInt64(result.assessableVertebrae());
    summary["lesion_suspected"] = result.lesionSuspected();
    summary["highest_bone_quality"] = toString(result.highestBoneQuality());
    summary["vertebrae"] = Json::UInt64(result.vertebrae.size());
    json["summary"] = summary;

    Json::Value vertebrae(Json::arrayValue);
    for (const auto& vertebra : result.vertebrae)
    {
      vertebrae.append(vertebraToJson(vertebra));
    }
    json["vertebrae"] = vertebrae;

    Json::Value slices(Json::arrayValue);
    for (const auto& slice : result.slices)
    {
      slices.append(sliceToJson(slice));
    }
    json["slices"] = slices;

    Json::Value warnings(Json::arrayValue);
    for (const auto& warning : result.warnings)
    {
      warnings.append(warning);
    }
    json["warnings"] = warnings;
    json["level_note"] = result.levelNote.empty() ? Json::Value() : Json::Value(result.levelNote);
    return json;
  }

  AnalysisResult resultFromJson(const Json::Value& json)
  {
    if (!json.isObject())
    {
      throw AnalysisError("result-json", "spinemet result JSON: the document must be an object");
    }
    const std::string schema = RESULT_FIELDS.text(json, "", "schema");
    if (schema != RESULT_SCHEMA && schema != RESULT_SCHEMA_1)
    {
      RESULT_FIELDS.refuse("schema", "is \"" + schema + "\", this build reads \"" + RESULT_SCHEMA + "\" and \"" +
                         RESULT_SCHEMA_1 + "\"");
    }
    const bool withAssessment = schema != RESULT_SCHEMA_1;

    AnalysisResult result;
    const Json::Value& series = RESULT_FIELDS.member(json, "", "series");
    for (const auto& field : SERIES_FIELDS)
    {
      result.series.*field.field = RESULT_FIELDS.text(series, "series", field.key);
    }
    result.geometry = geometryFromJson(RESULT_FIELDS.member(json, "", "geometry"));

    const Json::Value& model = RESULT_FIELDS.member(json, "", "model");
    result.model.name = RESULT_FIELDS.text(model, "model", "name");
    result.model.version = RESULT_FIELDS.text(model, "model", "version");
    result.model.architecture = RESULT_FIELDS.text(model, "model", "architecture");
    result.model.trainedOn = RESULT_FIELDS.text(model, "model", "trained_on");

    if (withAssessment)
    {
      const Json::Value& assessment = RESULT_FIELDS.member(json, "", "assessment");
      const Json::Value& gate = RESULT_FIELDS.member(assessment, "assessment", "out_of_distribution_gate");
      if (!gate.isBool())
      {
        RESULT_FIELDS.refuse("assessment.out_of_distribution_gate", "must be true or false");
      }
      result.assessment.outOfDistributionGate = gate.asBool();
      if (result.assessment.outOfDistributionGate)
      {
        result.assessment.outOfDistributionThreshold = RESULT_FIELDS.number(assessment, "assessment", "out_of_distribution_threshold");
      }
      result.assessment.seriesReasons = reasonsFromJson(assessment, "assessment", "series_reasons");
      result.assessment.measurements = inputMeasurementsFromJson(RESULT_FIELDS.member(assessment, "assessment", "input_measurements"));
    }

    const Json::Value& vertebrae = RESULT_FIELDS.array(json, "", "vertebrae");
    for (Json::ArrayIndex i = 0; i < vertebrae.size(); ++i)
    {
      result.vertebrae.push_back(vertebraFromJson(vertebrae[i], "vertebrae[" + std::to_string(i) + "]", withAssessment));
    }
    const Json::Value& slices = RESULT_FIELDS.array(json, "", "slices");
    for (Json::ArrayIndex i = 0; i < slices.size(); ++i)
    {
      const std::string path = "slices[" + std::to_string(i) + "]";
      result.slices.push_back(sliceFromJson(slices[i], path, withAssessment));
      const int vertebra = result.slices.back().vertebra;
      if (vertebra < 0 || static_cast<size_t>(vertebra) >= result.vertebrae.size())
      {
        RESULT_FIELDS.refuse(path + ".vertebra", "is not the index of a vertebra in \"vertebrae\"");
      }
    }
    const Json::Value& warnings = RESULT_FIELDS.array(json, "", "warnings");
    for (Json::ArrayIndex i = 0; i < warnings.size(); ++i)
    {
      if (!warnings[i].isString())
      {
        RESULT_FIELDS.refuse("warnings[" + std::to_string(i) + "]", "must be a string");
      }
      result.warnings.push_back(warnings[i].asString());
    }
    result.levelNote = json.isMember("level_note") ? RESULT_FIELDS.textOrNull(json, "", "level_note") : std::string();

    const Json::Value& summary = RESULT_FIELDS.member(json, "", "summary");
    const Json::Value& lesionSuspected = RESULT_FIELDS.member(summary, "summary", "lesion_suspected");
    if (!lesionSuspected.isBool() || lesionSuspected.asBool() != result.lesionSuspected() ||
        RESULT_FIELDS.text(summary, "summary", "highest_bone_quality") != toString(result.highestBoneQuality()) ||
        (withAssessment && RESULT_FIELDS.text(summary, "summary", "state") != toString(result.state())))
    {
      RESULT_FIELDS.refuse("summary", "does not match the vertebrae");
    }
    return result;
  }
}
