// SPDX-License-Identifier: GPL-3.0-or-later
#include "PhantomTruth.h"

#include "common/AnalysisError.h"
#include "common/JsonFields.h"

#include <json/reader.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>

namespace spinemet
{
  namespace
  {
    const char* const TRUTH_SCHEMA = "spinemet-phantom-truth/1";

    // The truth slice of every volume slice: by SOP Instance UID, else by position.
    std::vector<size_t> matchSlices(const Series& series, const PhantomTruth& truth)
    {
      std::map<std::string, size_t> byUid;
      for (size_t t = 0; t < truth.slices.size(); ++t)
      {
        byUid[truth.slices[t].sopInstanceUid] = t;
      }
      const double tolerance = 0.5 * series.volume.geometry().sliceSpacing;
      std::vector<size_t> matched(series.slices.size());
      for (size_t s = 0; s < series.slices.size(); ++s)
      {
        const SliceReference& reference = series.slices[s];
        const auto found = byUid.find(reference.sopInstanceUid);
        if (found != byUid.end())
        {
          matched[s] = found->second;
          continue;
        }
        size_t nearest = truth.slices.size();
        double distance = tolerance;
        for (size_t t = 0; t < truth.slices.size(); ++t)
        {
          const double d = std::abs(truth.slices[t].zMm - reference.position);
          if (d <= distance)
          {
            distance = d;
            nearest = t;
          }
        }
        if (nearest == truth.slices.size())
        {
          throw AnalysisError("ground-truth", "volume slice " + std::to_string(s) + " (SOP Instance UID " +
                                                reference.sopInstanceUid + ", z " + std::to_string(reference.position) +
                                                " mm) is not in the ground truth");
        }
        matched[s] = nearest;
      }
      return matched;
    }

    TruthLabel labelOf(const PhantomTruthVertebra& vertebra)
    {
      TruthLabel label;
      label.truthIndex = vertebra.index;
      label.truthLevel = vertebra.level;
      label.boneQuality = vertebra.boneQuality;
      label.posterolateral = vertebra.posterolateral;
      if (vertebra.withheld)
      {
        label.boneQuality = -1;
        label.posterolateral = -1;
        return label;
      }
      if (label.posterolateral == 1 && (vertebra.side == "left" || vertebra.side == "right"))
      {
        label.posterolateralSide = vertebra.side;
      }
      return label;
    }
  }

  PhantomTruth readPhantomTruth(const std::string& path)
  {
    std::ifstream stream(path, std::ios::binary);
    if (!stream)
    {
      throw AnalysisError("ground-truth", "cannot open " + path);
    }
    const std::string text((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
    return parsePhantomTruth(text, path);
  }

  PhantomTruth parsePhantomTruth(const std::string& jsonText, const std::string& describe)
  {
    Json::Value root;
    Json::CharReaderBuilder builder;
    std::string errors;
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    if (!reader->parse(jsonText.data(), jsonText.data() + jsonText.size(), &root, &errors))
    {
      throw AnalysisError("ground-truth", describe + " is not valid JSON: " + errors);
    }
    const JsonFields read("ground-truth", describe);    // names the file and the field at fault
    const std::string schema = read.text(root, "", "schema");
    if (schema != TRUTH_SCHEMA)
    {
      read.refuse("schema", "is \"" + schema + "\", spinemet-prep reads \"" + TRUTH_SCHEMA + "\"");
    }

    PhantomTruth truth;
    const Json::Value& seed = read.member(root, "", "seed");
    if (!seed.isIntegral() || seed.isBool())
    {
      read.refuse("seed", "must be an integer");
    }
    truth.seed = seed.isUInt64() ? static_cast<long long>(seed.asUInt64()) : seed.asInt64();
    truth.realBackground = root.isMember("background");

    const Json::Value& vertebrae = read.member(root, "", "vertebrae");
    if (!vertebrae.isArray())
    {
      read.refuse("vertebrae", "must be an array");
    }
    for (Json::ArrayIndex i = 0; i < vertebrae.size(); ++i)
    {
      const std::string field = "vertebrae[" + std::to_string(i) + "]";
      const Json::Value& item = vertebrae[i];
      PhantomTruthVertebra vertebra;
      vertebra.index = read.integer(item, field, "index");
      vertebra.level = read.text(item, field, "level");
      vertebra.zMinMm = read.number(item, field, "z_min_mm");
      vertebra.zMaxMm = read.number(item, field, "z_max_mm");
      try
      {
        vertebra.boneQuality = boneQualityIndex(read.text(item, field, "bone_quality"));
        vertebra.posterolateral = posterolateralIndex(read.text(item, field, "posterolateral"));
      }
      catch (const AnalysisError& error)
      {
        throw AnalysisError("ground-truth", describe + ", " + field + ": " + error.what());
      }
      vertebra.side = read.text(item, field, "side");
      if (vertebra.side != "none" && vertebra.side != "left" && vertebra.side != "right" && vertebra.side != "both")
      {
        read.refuse(field + ".side", "must be none, left, right or both");
      }
      vertebra.withheld = read.optionalFlag(item, field, "withheld").value_or(false);
      truth.vertebrae.push_back(vertebra);
    }

    const Json::Value& slices = read.member(root, "", "slices");
    if (!slices.isArray() || slices.empty())
    {
      read.refuse("slices", "must be a non-empty array");
    }
    for (Json::ArrayIndex i = 0; i < slices.size(); ++i)
    {
      const std::string field = "slices[" + std::to_string(i) + "]";
      const Json::Value& item = slices[i];
      PhantomTruthSlice slice;
      slice.sopInstanceUid = read.text(item, field, "sop_instance_uid");
      slice.zMm = read.number(item, field, "z_mm");
      const Json::Value& vertebra = read.member(item, field, "vertebra");
      if (!vertebra.isNull())
      {
        slice.vertebra = read.integer(item, field, "vertebra");
        const bool known = std::any_of(truth.vertebrae.begin(), truth.vertebrae.end(),
                                       [&](const PhantomTruthVertebra& v) { return v.index == slice.vertebra; });
        if (!known)
        {
          read.refuse(field + ".vertebra", "names vertebra " + std::to_string(slice.vertebra) + ", which is not in \"vertebrae\"");
        }
      }
      slice.visible.any = read.optionalFlag(item, field, "lesion_visible");
      slice.visible.blastic = read.optionalFlag(item, field, "blastic_lesion_visible");
      slice.visible.lytic = read.optionalFlag(item, field, "lytic_lesion_visible");
      slice.visible.posterolateral = read.optionalFlag(item, field, "posterolateral_lesion_visible");
      truth.slices.push_back(slice);
    }
    return truth;
  }

  StudyTruth labelPhantomStudy(const Series& series, const SpineLayout& layout, const PhantomTruth& truth)
  {
    if (layout.slices.size() != series.slices.size())
    {
      throw AnalysisError("ground-truth", "the spine layout and the series disagree on the slice count");
    }
    const std::vector<size_t> matched = matchSlices(series, truth);
    auto truthVertebraOf = [&](size_t slice) { return truth.slices[matched[slice]].vertebra; };
    auto findTruthVertebra = [&](int index) -> const PhantomTruthVertebra* {
      for (const PhantomTruthVertebra& vertebra : truth.vertebrae)
      {
        if (vertebra.index == index)
        {
          return &vertebra;
        }
      }
      return nullptr;
    };

    StudyTruth result;
    result.kind = truth.realBackground ? "hybrid" : "phantom";
    result.seed = truth.seed;
    result.slices.resize(series.slices.size());
    result.vertebrae.resize(layout.vertebrae.size());

    // Each found vertebra takes the truth vertebra that most of its slices lie in.
    for (size_t v = 0; v < layout.vertebrae.size(); ++v)
    {
      std::map<int, size_t> counts;
      size_t slices = 0;
      for (size_t s = 0; s < layout.slices.size(); ++s)
      {
        if (layout.slices[s].vertebra == static_cast<int>(v))
        {
          ++slices;
          const int t = truthVertebraOf(s);
          if (t >= 0)
          {
            ++counts[t];
          }
        }
      }
      int best = -1;
      size_t bestCount = 0;
      for (const auto& [t, count] : counts)
      {
        if (count > bestCount)      // ties go to the more cranial truth vertebra (lower index)
        {
          best = t;
          bestCount = count;
        }
      }
      const PhantomTruthVertebra* vertebra = best >= 0 ? findTruthVertebra(best) : nullptr;
      if (vertebra == nullptr)
      {
        result.warnings.push_back("found vertebra " + std::to_string(v) +
                                  " lies in no ground-truth vertebra: its samples have unknown labels");
        continue;
      }
      result.vertebrae[v].label = labelOf(*vertebra);
      if (vertebra->withheld)
      {
        result.warnings.push_back("found vertebra " + std::to_string(v) + " matches ground-truth vertebra " +
                                  std::to_string(vertebra->index) + ", withheld from this study's use (a data split): "
                                  "its samples have unknown labels");
      }
      result.vertebrae[v].overlap = slices == 0 ? 0.0 : static_cast<double>(bestCount) / static_cast<double>(slices);
    }

    // Found vertebrae matched to the same truth vertebra: the finder split one vertebra.
    std::map<int, std::vector<size_t>> foundPerTruth;
    for (size_t v = 0; v < result.vertebrae.size(); ++v)
    {
      if (result.vertebrae[v].label.truthIndex >= 0)
      {
        foundPerTruth[result.vertebrae[v].label.truthIndex].push_back(v);
      }
    }
    for (const auto& [t, found] : foundPerTruth)
    {
      if (found.size() > 1)
      {
        result.warnings.push_back(std::to_string(found.size()) + " found vertebrae match ground-truth vertebra " +
                                  std::to_string(t) + " (" + findTruthVertebra(t)->level + ")");
      }
    }

    double columnLow = 0;
    double columnHigh = 0;
    if (!truth.vertebrae.empty())
    {
      columnLow = truth.vertebrae.front().zMinMm;
      columnHigh = truth.vertebrae.front().zMaxMm;
      for (const PhantomTruthVertebra& vertebra : truth.vertebrae)
      {
        columnLow = std::min(columnLow, vertebra.zMinMm);
        columnHigh = std::max(columnHigh, vertebra.zMaxMm);
      }
    }

    for (size_t s = 0; s < layout.slices.size(); ++s)
    {
      const PhantomTruthSlice& truthSlice = truth.slices[matched[s]];
      const SliceSpine& spine = layout.slices[s];
      SliceTruth& slice = result.slices[s];
      slice.visible = truthSlice.visible;
      if (spine.vertebra < 0)
      {
        if (truthSlice.vertebra >= 0)
        {
          ++result.truthVertebraSlicesMissed;
        }
        slice.sliceTruth = truthSlice.vertebra >= 0 ? "vertebra" : "none";
        continue;
      }
      if (spine.vertebra >= 0 && static_cast<size_t>(spine.vertebra) < result.vertebrae.size())
      {
        slice.label = result.vertebrae[spine.vertebra].label;
        const PhantomTruthVertebra* matchedTruth = findTruthVertebra(slice.label.truthIndex);
        if (matchedTruth != nullptr && matchedTruth->withheld)
        {
          slice.visible = LesionVisibility{};   // unknown, as its labels
        }
      }
      if (slice.label.truthIndex >= 0 && truthSlice.vertebra == slice.label.truthIndex)
      {
        slice.sliceTruth = "vertebra";
      }
      else if (truthSlice.vertebra >= 0 || (truthSlice.zMm >= columnLow && truthSlice.zMm <= columnHigh))
      {
        slice.sliceTruth = "disc";
      }
      else
      {
        slice.sliceTruth = "none";
      }
    }
    return result;
  }
}
