// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Hybrid studies: a real CT series (any lesion-free CT with a spine in view) with synthetic
// lesions inserted into chosen vertebrae, written as DICOM beside a ground_truth.json in the
// phantom's schema (docs/hybrid.md). The vertebrae come from the spine finder, or from a hand
// list where the finder is unsure. Everything random is drawn from one seed: the same background,
// seed and settings always give the same files, byte for byte.

#include "phantom/Phantom.h"        // PhantomVertebra, PhantomSlice, PhantomLesion, LesionSide
#include "result/AnalysisResult.h"  // BoneQuality, Posterolateral
#include "spine/Spine.h"
#include "volume/Volume.h"

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace spinemet
{
  // The label imposed on one vertebra (--labels): the phantom's own.
  using HybridLabel = PhantomLabel;

  // Size and contrast of the inserted lesions (docs/hybrid.md says where the defaults come from).
  struct HybridLesionRanges
  {
    double radiusMinMm = 5;       // nominal semi-axis of a body lesion, before the random margin
    double radiusMaxMm = 10;
    double lyticHuMin = 0;        // tumour replacing trabecular bone: soft-tissue density
    double lyticHuMax = 80;
    double blasticHuMin = 400;    // sclerotic bone
    double blasticHuMax = 1200;
  };

  // One vertebral body established by hand (--vertebrae FILE): its z range in patient mm, and
  // its level where known (else empty).
  struct HandVertebra
  {
    std::string level;
    double zMinMm = 0;
    double zMaxMm = 0;
  };

  struct HybridSettings
  {
    uint64_t seed = 1;
    // Forced labels. Key: the found vertebra's index ("3", 0 = most cranial) or its level
    // ("T11") where the finder names levels. Every other vertebra is drawn (or normal at p = 0).
    std::map<std::string, HybridLabel> labels;
    double lesionProbability = 0.5;
    std::array<double, 3> lesionTypeWeights{1, 1, 1};   // blastic, lytic, mixed
    double posterolateralProbability = 0.5;
    double bilateralProbability = 0.4;
    HybridLesionRanges ranges;
    // Where the spine finder is unsure: the vertebral bodies by hand. Replaces the finder's
    // partition (its track still gives each slice's body box). Empty: the finder's vertebrae.
    std::vector<HandVertebra> handVertebrae;
    std::string handVertebraeSource;                    // file name, for the record
    // Vertebrae kept out of this study's use (a split): no lesion, "withheld": true in the truth,
    // and spinemet-prep gives their samples unknown labels. Keys as in `labels`.
    std::set<std::string> withheld;
  };

  // An inserted lesion: its truth record and its weight (share of the voxel that is lesion, after
  // partial volume) on a box of the volume.
  struct HybridLesion
  {
    PhantomLesion truth;          // kind, region, centre_mm, radii_mm (nominal ellipsoid), hu (target)
    int vertebra = -1;
    size_t column0 = 0, row0 = 0, slice0 = 0;   // box origin in volume indices
    size_t columns = 0, rows = 0, slices = 0;
    std::vector<float> weight;    // [slice][row][column] within the box
    size_t changedVoxels = 0;     // voxels whose HU this lesion moved by at least VISIBLE_CHANGE_HU

    float weightAt(size_t column, size_t row, size_t slice) const;   // 0 outside the box
  };

  struct HybridStudy
  {
    HybridSettings settings;
    Series background;            // as read
    Series series;                // with the lesions; new Study/Series/SOP/Frame of Reference UIDs
    SpineLayout layout;           // the finder's (vertebrae replaced by the hand list if given)
    std::string vertebraSource;   // "spine finder" or "hand list <file>"
    PhantomGroundTruth truth;     // vertebrae cranial first, slices cranial first
    std::vector<bool> withheld;   // per truth vertebra
    std::vector<size_t> changedVoxels;   // per truth vertebra
    std::vector<HybridLesion> lesions;
    std::map<std::string, std::string> uidMap;   // original SOP Instance UID -> new one
    // What the user should know: a lesion that changed no voxel by VISIBLE_CHANGE_HU (a blastic
    // target below the dense bone it landed in, a lytic one in bone already near soft tissue).
    std::vector<std::string> warnings;
  };

  // A voxel counts as changed (and its slice shows the lesion) from this change on; a slice shows
  // a lesion when at least VISIBLE_AREA_MM2 of it changed that much (and at least 3 voxels).
  constexpr double VISIBLE_CHANGE_HU = 50;
  constexpr double VISIBLE_AREA_MM2 = 3;

  // Reads the one CT series in `folder` (the DICOM files directly in it). Throws
  // AnalysisError("hybrid-input", ...) for anything but single-frame CT Image Storage; the
  // volume stage's own errors (gaps, tilt) keep their codes.
  Series loadHybridBackground(const std::string& folder);

  // Finds the vertebrae (or takes the hand list), draws or takes the labels and inserts the
  // lesions. Throws AnalysisError: "no-spine", "hybrid-labels" (a label names no vertebra),
  // "hybrid-settings" (a setting out of range), "hybrid-vertebrae" (a bad hand list).
  HybridStudy makeHybrid(const Series& background, const HybridSettings& settings);

  // Writes one file per volume slice, from the original files in `backgroundFolder` (same names),
  // with the new pixels and UIDs, in the original transfer syntax where DCMTK can encode it
  // (docs/hybrid.md), and ground_truth.json. Throws AnalysisError("hybrid-write", ...).
  void writeHybridStudy(const HybridStudy& study, const std::string& backgroundFolder,
                        const std::string& outFolder);

  // "3=lytic:bilateral,T11=blastic,5=mixed:unilateral-left" -> labels; throws "hybrid-settings".
  std::map<std::string, HybridLabel> parseHybridLabels(const std::string& text);
  // "0,3,T11" or "0-4" -> keys; throws "hybrid-settings".
  std::set<std::string> parseHybridVertebrae(const std::string& text);
  // The hand list (docs/hybrid.md): one vertebra per line "LEVEL Z_MIN_MM Z_MAX_MM" ("-" for
  // an unknown level), '#' comments. Throws AnalysisError("hybrid-vertebrae", ...).
  std::vector<HandVertebra> readHandVertebrae(const std::string& path);
}
