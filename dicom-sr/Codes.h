// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Every coded concept that the SpineMet DICOM outputs use, each with where it is defined
// (docs/dicom-outputs.md lists them all). Standard codes come from DICOM PS3.16 (DCM, and the
// SNOMED CT, UCUM, LOINC and RFC 5646 codes that its context groups name); the private scheme
// 99SPINEMET carries only what has no standard code. No DCMTK here: the reader hands these
// concepts to code that never sees DCMTK.

#include "result/AnalysisResult.h"

#include <optional>
#include <string>
#include <vector>

namespace spinemet
{
  struct CodedConcept
  {
    std::string value;               // Code Value
    std::string scheme;              // Coding Scheme Designator
    std::string meaning;             // Code Meaning

    // Two concepts are the same when value and scheme are (the meaning is only for people).
    bool sameAs(const std::string& otherValue, const std::string& otherScheme) const
    {
      return value == otherValue && scheme == otherScheme;
    }
  };

  // A coding scheme as declared in the Coding Scheme Identification Sequence.
  struct CodingScheme
  {
    std::string designator;
    std::string uid;                 // empty for the private scheme
    std::string name;
    std::string responsibleOrganization;
  };

  namespace codes
  {
    extern const char* const PRIVATE_SCHEME;           // "99SPINEMET"

    // Every scheme the outputs use, private one included, for the Coding Scheme Identification
    // Sequence.
    const std::vector<CodingScheme>& codingSchemes();

    // --- DICOM (DCM), PS3.16 Annex D ---
    extern const CodedConcept IMAGING_MEASUREMENT_REPORT;   // 126000, CID 7021
    extern const CodedConcept LANGUAGE_OF_CONTENT;          // 121049, TID 1204
    extern const CodedConcept OBSERVER_TYPE;                // 121005, TID 1002
    extern const CodedConcept DEVICE;                       // 121007, CID 270
    extern const CodedConcept DEVICE_OBSERVER_UID;          // 121012, TID 1004
    extern const CodedConcept DEVICE_OBSERVER_NAME;         // 121013
    extern const CodedConcept DEVICE_OBSERVER_MANUFACTURER; // 121014
    extern const CodedConcept DEVICE_OBSERVER_MODEL_NAME;   // 121015
    extern const CodedConcept PROCEDURE_REPORTED;           // 121058, TID 1500 row 4
    extern const CodedConcept IMAGE_LIBRARY;                // 111028, TID 1600
    extern const CodedConcept IMAGE_LIBRARY_GROUP;          // 126200
    extern const CodedConcept IMAGING_MEASUREMENTS;         // 126010, TID 1500 row 6
    extern const CodedConcept MEASUREMENT_GROUP;            // 125007, TID 1410 row 1
    extern const CodedConcept TRACKING_IDENTIFIER;          // 112039
    extern const CodedConcept TRACKING_UNIQUE_IDENTIFIER;   // 112040
    extern const CodedConcept FINDING;                      // 121071
    extern const CodedConcept IMAGE_REGION;                 // 111030
    extern const CodedConcept SOURCE_OF_MEASUREMENT;        // 121112, TID 320 purpose of reference
    extern const CodedConcept ALGORITHM_NAME;               // 111001, TID 4019
    extern const CodedConcept ALGORITHM_VERSION;            // 111003
    extern const CodedConcept COMMENT;                      // 121106

    // --- UMLS, as PS3.16 uses it ---
    extern const CodedConcept QUALITATIVE_EVALUATIONS;      // C0034375, TID 1500 row 12

    // --- SNOMED CT, as PS3.16 uses it ---
    extern const CodedConcept FINDING_SITE;                 // 363698007, TID 1419 row 2
    // The finding site of a vertebra whose level is uncertain: the spine, not a CID 7603 level.
    extern const CodedConcept SPINE;                        // 421060004, CID 4
    extern const CodedConcept YES;                          // 373066001, CID 230
    extern const CodedConcept NO;                           // 373067005, CID 230
    extern const CodedConcept NORMAL;                       // 17621005, CID 222
    extern const CodedConcept NONE;                         // 260413007
    extern const CodedConcept UNILATERAL;                   // 66459002, CID 244
    extern const CodedConcept BILATERAL;                    // 51440002, CID 244
    extern const CodedConcept AREA;                         // 42798000, CID 7471
    extern const CodedConcept UNDETERMINED;                 // 373068000, CID 230 "Yes-No"
    extern const CodedConcept NORMALITY_UNDETERMINED;       // 371934000, CID 222 "Normality Codes"

    // --- LOINC (procedure reported, CID 100), RFC 5646 (CID 5000), UCUM (CID 7181) ---
    extern const CodedConcept CT_UNSPECIFIED_BODY_REGION;   // 25045-6, CID 100
    extern const CodedConcept ENGLISH_UNITED_STATES;        // en-US, CID 5000
    extern const CodedConcept NO_UNITS;                     // "1", CID 7181
    extern const CodedConcept SQUARE_MILLIMETER;            // mm2, CID 7461

    // --- 99SPINEMET: SpineMet's own concepts, no standard code exists ---
    extern const CodedConcept BONE_LESION_QUALITY;          // the qualitative evaluation's name
    extern const CodedConcept POSTEROLATERAL_INVOLVEMENT;
    extern const CodedConcept BLASTIC;
    extern const CodedConcept LYTIC;
    extern const CodedConcept MIXED;
    extern const CodedConcept SINS_BONE_LESION_COMPONENT;   // partial SINS scores, never the total
    extern const CodedConcept SINS_POSTEROLATERAL_COMPONENT;
    extern const CodedConcept METASTATIC_LESION_SUSPECTED;  // summary
    extern const CodedConcept HIGHEST_BONE_LESION_QUALITY;
    extern const CodedConcept VERTEBRAE_ANALYSED;
    extern const CodedConcept VERTEBRAE_ASSESSABLE;         // summary: how many carry a finding
    extern const CodedConcept STUDY_STATE;                  // summary: the state in words
    extern const CodedConcept NOT_ASSESSABLE_REASON;        // group: one TEXT per reason
    extern const CodedConcept OUT_OF_DISTRIBUTION_SCORE;    // group: the gate's score (NUM)

    // The probability of each class, in BoneQuality / Posterolateral order.
    const CodedConcept& boneQualityProbability(BoneQuality value);
    const CodedConcept& posterolateralProbability(Posterolateral value);

    // Class <-> code. The readers throw AnalysisError("sr-content") for a code they do not know.
    const CodedConcept& boneQualityCode(BoneQuality value);
    const CodedConcept& posterolateralCode(Posterolateral value);
    BoneQuality boneQualityFromCode(const std::string& value, const std::string& scheme);
    Posterolateral posterolateralFromCode(const std::string& value, const std::string& scheme);

    // The SNOMED CT vertebra of a level name such as "T7" (CID 7603 "Vertebra"), or nothing
    // for a name that is not C1-C7, T1-T12, L1-L5.
    std::optional<CodedConcept> vertebraCode(const std::string& level);
    // The level name of a CID 7603 code, empty when it is not one.
    std::string levelFromVertebraCode(const std::string& value, const std::string& scheme);

    // The Tracking Identifier of a vertebra's group: OHIF 3.13 hydrates a TID 1500 group into an
    // editable measurement only when it recognises the tool from the identifier's prefix (a
    // many-point POLYLINE matches no graphic-type adapter); the vertebra's display name follows the
    // prefix (docs/dicom-outputs.md). The reader strips it again.
    std::string trackingIdentifier(const std::string& displayName);

    // SCOORD pixel coordinates put (0,0) at the top left corner of the top left pixel; the
    // outline is in pixel indices, whose centres lie half a pixel further in.
    constexpr double PIXEL_CENTRE = 0.5;
    std::string displayNameFromTrackingIdentifier(const std::string& identifier);
  }
}
