// SPDX-License-Identifier: GPL-3.0-or-later
#include "Codes.h"

#include "common/AnalysisError.h"

#include <array>
#include <utility>

namespace spinemet
{
  namespace codes
  {
    const char* const PRIVATE_SCHEME = "99SPINEMET";

    const std::vector<CodingScheme>& codingSchemes()
    {
      // UIDs from PS3.16 Table 8-1 "Coding Schemes".
      static const std::vector<CodingScheme> schemes = {
        {"DCM", "1.2.840.10008.2.16.4", "DICOM Controlled Terminology", "NEMA"},
        {"SCT", "2.16.840.1.113883.6.96", "SNOMED CT", "SNOMED International"},
        {"UCUM", "2.16.840.1.113883.6.8", "Unified Code for Units of Measure", "Regenstrief Institute"},
        {"LN", "2.16.840.1.113883.6.1", "Logical Observation Identifiers Names and Codes", "Regenstrief Institute"},
        {"UMLS", "2.16.840.1.113883.6.86", "Unified Medical Language System", "NLM"},
        {"RFC5646", "", "Tags for Identifying Languages", "IETF"},
        {PRIVATE_SCHEME, "", "SpineMet private concepts (no standard code exists)", "SpineMet project"},
      };
      return schemes;
    }

    // PS3.16 Annex D (DCM), each also in DCMTK's dcmsr/codes/dcm.h generated from it.
    const CodedConcept IMAGING_MEASUREMENT_REPORT{"126000", "DCM", "Imaging Measurement Report"};
    const CodedConcept LANGUAGE_OF_CONTENT{"121049", "DCM", "Language of Content Item and Descendants"};
    const CodedConcept OBSERVER_TYPE{"121005", "DCM", "Observer Type"};
    const CodedConcept DEVICE{"121007", "DCM", "Device"};
    const CodedConcept DEVICE_OBSERVER_UID{"121012", "DCM", "Device Observer UID"};
    const CodedConcept DEVICE_OBSERVER_NAME{"121013", "DCM", "Device Observer Name"};
    const CodedConcept DEVICE_OBSERVER_MANUFACTURER{"121014", "DCM", "Device Observer Manufacturer"};
    const CodedConcept DEVICE_OBSERVER_MODEL_NAME{"121015", "DCM", "Device Observer Model Name"};
    const CodedConcept PROCEDURE_REPORTED{"121058", "DCM", "Procedure reported"};
    const CodedConcept IMAGE_LIBRARY{"111028", "DCM", "Image Library"};
    const CodedConcept IMAGE_LIBRARY_GROUP{"126200", "DCM", "Image Library Group"};
    const CodedConcept IMAGING_MEASUREMENTS{"126010", "DCM", "Imaging Measurements"};
    const CodedConcept MEASUREMENT_GROUP{"125007", "DCM", "Measurement Group"};
    const CodedConcept TRACKING_IDENTIFIER{"112039", "DCM", "Tracking Identifier"};
    const CodedConcept TRACKING_UNIQUE_IDENTIFIER{"112040", "DCM", "Tracking Unique Identifier"};
    const CodedConcept FINDING{"121071", "DCM", "Finding"};
    const CodedConcept IMAGE_REGION{"111030", "DCM", "Image Region"};
    const CodedConcept SOURCE_OF_MEASUREMENT{"121112", "DCM", "Source of Measurement"};
    const CodedConcept ALGORITHM_NAME{"111001", "DCM", "Algorithm Name"};
    const CodedConcept ALGORITHM_VERSION{"111003", "DCM", "Algorithm Version"};
    const CodedConcept COMMENT{"121106", "DCM", "Comment"};

    const CodedConcept QUALITATIVE_EVALUATIONS{"C0034375", "UMLS", "Qualitative Evaluations"};

    const CodedConcept FINDING_SITE{"363698007", "SCT", "Finding Site"};
    const CodedConcept SPINE{"421060004", "SCT", "Spine"};
    const CodedConcept YES{"373066001", "SCT", "Yes"};
    const CodedConcept NO{"373067005", "SCT", "No"};
    const CodedConcept NORMAL{"17621005", "SCT", "Normal"};
    const CodedConcept NONE{"260413007", "SCT", "None"};
    const CodedConcept UNILATERAL{"66459002", "SCT", "Unilateral"};
    const CodedConcept BILATERAL{"51440002", "SCT", "Bilateral"};
    const CodedConcept AREA{"42798000", "SCT", "Area"};
    const CodedConcept UNDETERMINED{"373068000", "SCT", "Undetermined"};
    const CodedConcept NORMALITY_UNDETERMINED{"371934000", "SCT", "Normality Undetermined"};

    const CodedConcept CT_UNSPECIFIED_BODY_REGION{"25045-6", "LN", "CT unspecified body region"};
    const CodedConcept ENGLISH_UNITED_STATES{"en-US", "RFC5646", "English (United States)"};
    const CodedConcept NO_UNITS{"1", "UCUM", "no units"};
    const CodedConcept SQUARE_MILLIMETER{"mm2", "UCUM", "square millimeter"};

    const CodedConcept BONE_LESION_QUALITY{"BONE-QUALITY", PRIVATE_SCHEME, "Vertebral bone lesion quality"};
    const CodedConcept POSTEROLATERAL_INVOLVEMENT{"PL-INVOLVEMENT", PRIVATE_SCHEME,
                                                  "Posterolateral involvement of spinal elements"};
    const CodedConcept BLASTIC{"BLASTIC", PRIVATE_SCHEME, "Blastic (sclerotic) bone lesion"};
    const CodedConcept LYTIC{"LYTIC", PRIVATE_SCHEME, "Lytic bone lesion"};
    const CodedConcept MIXED{"MIXED", PRIVATE_SCHEME, "Mixed lytic and blastic bone lesion"};
    const CodedConcept SINS_BONE_LESION_COMPONENT{"SINS-BONE", PRIVATE_SCHEME,
                                                  "SINS bone lesion quality component (partial score)"};
    const CodedConcept SINS_POSTEROLATERAL_COMPONENT{"SINS-PL", PRIVATE_SCHEME,
                                                     "SINS posterolateral involvement component (partial score)"};
    const CodedConcept METASTATIC_LESION_SUSPECTED{"MET-SUSPECTED", PRIVATE_SCHEME,
                                                   "Spinal metastatic lesion suspected"};
    const CodedConcept HIGHEST_BONE_LESION_QUALITY{"HIGHEST-BQ", PRIVATE_SCHEME,
                                                   "Most severe bone lesion quality found"};
    const CodedConcept VERTEBRAE_ANALYSED{"VERTEBRAE-N", PRIVATE_SCHEME, "Number of vertebrae analysed"};
    const CodedConcept VERTEBRAE_ASSESSABLE{"ASSESSABLE-N", PRIVATE_SCHEME, "Number of vertebrae assessable"};
    const CodedConcept STUDY_STATE{"STUDY-STATE", PRIVATE_SCHEME, "SpineMet study state"};
    const CodedConcept NOT_ASSESSABLE_REASON{"NA-REASON", PRIVATE_SCHEME, "Reason the vertebra is not assessable"};
    const CodedConcept OUT_OF_DISTRIBUTION_SCORE{"OOD-SCORE", PRIVATE_SCHEME, "Out-of-distribution score"};

    namespace
    {
      const std::array<CodedConcept, 4> BONE_QUALITY_PROBABILITIES = {{
        {"P-NORMAL", PRIVATE_SCHEME, "Probability of normal bone quality"},
        {"P-BLASTIC", PRIVATE_SCHEME, "Probability of blastic bone lesion"},
        {"P-LYTIC", PRIVATE_SCHEME, "Probability of lytic bone lesion"},
        {"P-MIXED", PRIVATE_SCHEME, "Probability of mixed bone lesion"},
      }};

      const std::array<CodedConcept, 3> POSTEROLATERAL_PROBABILITIES = {{
        {"P-PL-NONE", PRIVATE_SCHEME, "Probability of no posterolateral involvement"},
        {"P-PL-UNI", PRIVATE_SCHEME, "Probability of unilateral posterolateral involvement"},
        {"P-PL-BI", PRIVATE_SCHEME, "Probability of bilateral posterolateral involvement"},
      }};

      // CID 7603 "Vertebra" (PS3.16), SNOMED CT body structures.
      const std::vector<std::pair<std::string, CodedConcept>>& vertebrae()
      {
        static const std::vector<std::pair<std::string, CodedConcept>> table = {
          {"C1", {"14806007", "SCT", "C1 vertebra"}},   {"C2", {"39976000", "SCT", "C2 vertebra"}},
          {"C3", {"113205007", "SCT", "C3 vertebra"}},  {"C4", {"5329002", "SCT", "C4 vertebra"}},
          {"C5", {"36978003", "SCT", "C5 vertebra"}},   {"C6", {"36054005", "SCT", "C6 vertebra"}},
          {"C7", {"87391001", "SCT", "C7 vertebra"}},
          {"T1", {"64864005", "SCT", "T1 vertebra"}},   {"T2", {"53733008", "SCT", "T2 vertebra"}},
          {"T3", {"1626008", "SCT", "T3 vertebra"}},    {"T4", {"73071006", "SCT", "T4 vertebra"}},
          {"T5", {"56401006", "SCT", "T5 vertebra"}},   {"T6", {"45296009", "SCT", "T6 vertebra"}},
          {"T7", {"62487009", "SCT", "T7 vertebra"}},   {"T8", {"11068009", "SCT", "T8 vertebra"}},
          {"T9", {"82687006", "SCT", "T9 vertebra"}},   {"T10", {"7610001", "SCT", "T10 vertebra"}},
          {"T11", {"12989004", "SCT", "T11 vertebra"}}, {"T12", {"23215003", "SCT", "T12 vertebra"}},
          {"L1", {"66794005", "SCT", "L1 vertebra"}},   {"L2", {"14293000", "SCT", "L2 vertebra"}},
          {"L3", {"36470004", "SCT", "L3 vertebra"}},   {"L4", {"11994002", "SCT", "L4 vertebra"}},
          {"L5", {"49668003", "SCT", "L5 vertebra"}},
        };
        return table;
      }
    }

    const CodedConcept& boneQualityProbability(BoneQuality value)
    {
      return BONE_QUALITY_PROBABILITIES[static_cast<size_t>(value)];
    }

    const CodedConcept& posterolateralProbability(Posterolateral value)
    {
      return POSTEROLATERAL_PROBABILITIES[static_cast<size_t>(value)];
    }

    const CodedConcept& boneQualityCode(BoneQuality value)
    {
      switch (value)
      {
        case BoneQuality::Normal: return NORMAL;
        case BoneQuality::Blastic: return BLASTIC;
        case BoneQuality::Lytic: return LYTIC;
        case BoneQuality::Mixed: return MIXED;
      }
      throw AnalysisError::internal("unknown bone quality value");
    }

    const CodedConcept& posterolateralCode(Posterolateral value)
    {
      switch (value)
      {
        case Posterolateral::None: return NONE;
        case Posterolateral::Unilateral: return UNILATERAL;
        case Posterolateral::Bilateral: return BILATERAL;
      }
      throw AnalysisError::internal("unknown posterolateral value");
    }

    BoneQuality boneQualityFromCode(const std::string& value, const std::string& scheme)
    {
      for (BoneQuality candidate : {BoneQuality::Normal, BoneQuality::Blastic, BoneQuality::Lytic, BoneQuality::Mixed})
      {
        if (boneQualityCode(candidate).sameAs(value, scheme))
        {
          return candidate;
        }
      }
      throw AnalysisError("sr-content", "(" + value + ", " + scheme + ") is not a SpineMet bone quality code");
    }

    Posterolateral posterolateralFromCode(const std::string& value, const std::string& scheme)
    {
      for (Posterolateral candidate : {Posterolateral::None, Posterolateral::Unilateral, Posterolateral::Bilateral})
      {
        if (posterolateralCode(candidate).sameAs(value, scheme))
        {
          return candidate;
        }
      }
      throw AnalysisError("sr-content", "(" + value + ", " + scheme + ") is not a posterolateral involvement code");
    }

    std::optional<CodedConcept> vertebraCode(const std::string& level)
    {
      for (const auto& entry : vertebrae())
      {
        if (entry.first == level)
        {
          return entry.second;
        }
      }
      return std::nullopt;
    }

    std::string levelFromVertebraCode(const std::string& value, const std::string& scheme)
    {
      for (const auto& entry : vertebrae())
      {
        if (entry.second.sameAs(value, scheme))
        {
          return entry.first;
        }
      }
      return "";
    }

    namespace
    {
      const std::string OHIF_TOOL_PREFIX = "Cornerstone3DTools@^0.1.0:PlanarFreehandROI:";
    }

    std::string trackingIdentifier(const std::string& displayName)
    {
      return OHIF_TOOL_PREFIX + displayName;
    }

    std::string displayNameFromTrackingIdentifier(const std::string& identifier)
    {
      if (identifier.compare(0, OHIF_TOOL_PREFIX.size(), OHIF_TOOL_PREFIX) == 0)
      {
        return identifier.substr(OHIF_TOOL_PREFIX.size());
      }
      return identifier;
    }
  }
}
