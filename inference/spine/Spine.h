// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "volume/Volume.h"

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace spinemet
{
  // Pixel coordinates within one axial slice: column0 <= column < column1, row0 <= row < row1.
  struct PixelBox
  {
    double column0 = 0;
    double row0 = 0;
    double column1 = 0;
    double row1 = 0;
  };

  // What the spine finder saw on one axial slice.
  struct SliceSpine
  {
    bool vertebraPresent = false;
    PixelBox vertebralBody;          // extent of the vertebral body (SR regions, overlays)
    double cropCentreColumn = 0;     // centre of the model crop: the body plus the posterior
    double cropCentreRow = 0;        // elements that the posterolateral task needs
    int vertebra = -1;               // index into SpineLayout::vertebrae, -1 between vertebrae

    // Added by the spine stage (docs/spine.md). True for every slice between the first and the
    // last vertebra-bearing slice, discs included: the column's track (body box and crop centre)
    // is interpolated there too.
    bool onColumn = false;
    // Bone evidence inside the vertebral-body footprint, 0 (disc, soft tissue) to 1 (whole
    // body and its cortical shell): the profile along z that the discs are found in.
    double boneProfile = 0;
  };

  struct Vertebra
  {
    int index = 0;                   // 0 is the most cranial vertebra found
    std::string level;               // "T7" where known honestly (e.g. from a SEG), else empty
    size_t firstSlice = 0;           // inclusive volume slice range (volume order: caudal first)
    size_t lastSlice = 0;

    // The level, or "vertebra 3 of 12" where the level cannot be named.
    std::string displayName(size_t vertebraCount) const;
  };

  // What the levels rest on, per vertebra (docs/spine.md, "Levels"). Kept beside Vertebra, not
  // in it, so that Vertebra stays a four-member aggregate for the code that builds one.
  struct VertebraLevelEvidence
  {
    // How far the level can be trusted (0 when there is none) and the landmark it was counted
    // from ("first rib", "last rib", "sacrum", "first and last ribs", "last rib and sacrum",
    // "segmentation", ...).
    double confidence = 0;
    std::string landmark;
    // A rib leaves this vertebra on the patient's left / right (findRibs).
    bool ribLeft = false;
    bool ribRight = false;
    // The shortest lateral reach (mm from the body's centre) of its ribs within the posterior
    // window: the first rib turns forward within about 70 mm, the others reach further.
    double ribReachMm = 0;
    // Bone runs from the body's side out to the sacroiliac joints on both sides: sacral alae
    // (findSacrum), S1 or a sacralised L5.
    bool alae = false;
  };

  struct SpineLayout
  {
    std::vector<SliceSpine> slices;  // one per volume slice
    std::vector<Vertebra> vertebrae; // cranial to caudal
    // One per vertebra where the levels were looked for (findSpine, the SEG route), else empty.
    std::vector<VertebraLevelEvidence> levelEvidence;
    // How the levels were named, or why they were not (for the user): "levels counted from the
    // first rib (T1)", "not named: ribs on every vertebra in view ...".
    std::string levelNote;
  };

  // The spine finder's parameters. The defaults are the project's choices; docs/spine.md says
  // where each comes from. Lengths are in millimetres, densities in Hounsfield units.
  struct SpineOptions
  {
    // Side of the square model crop (the model's Preprocessing::cropMm). The crop centre depends
    // on it: the crop holds the body plus as much of the posterior elements as fits.
    double cropMm = 100;
    // The crop's anterior edge lies at least this far in front of the vertebral body.
    double cropAnteriorMarginMm = 5;

    double patientHu = -400;         // the patient outline: anything denser than air and lung
    double boneHu = 150;             // cancellous bone and denser (discs are ~80)
    // Porous (osteopenic) cancellous bone: 50-160 HU in elderly spines, so much of such a body
    // is not bone at boneHu and the denser posterior elements may win its slices. On each slice
    // the candidates are looked for again at each of these thresholds in turn (down to above
    // muscle, ~50 HU) where no candidate lies on a body yet; a body seen only there must show
    // its cortical shell. The column through all candidates is taken when its bodies are
    // osteopenic (median cancellousHu below osteopenicColumnHu: opportunistic CT calls L1 below
    // about 160 HU osteopenic) or when boneHu alone finds no column; otherwise the column of
    // boneHu alone, as without the porous look. Empty: no porous look.
    std::vector<double> porousBoneHu{100, 70};
    double osteopenicColumnHu = 160;
    double cortexHu = 350;           // cortical shell and end plates (after 3x3 smoothing)

    // Side of the square window over which the bone fraction is measured: structures thinner
    // than about half of it (ribs, laminae, the table, a calcified aortic wall) drop out.
    double coreWindowMm = 14;
    double minimumBodyAreaMm2 = 60;  // smaller dense cores are not vertebral bodies

    // Along z: how far the centre may move between vertebra-bearing slices, the longest run
    // of slices without a body that the track bridges (discs, destroyed bodies), and the
    // shortest column that counts as a spine.
    double trackJumpMm = 8;
    double trackSlope = 0.6;         // extra lateral/AP movement allowed per mm along z
    double maximumTrackGapMm = 45;
    double minimumColumnMm = 30;

    // Disc detection on the bone profile (SliceSpine::boneProfile).
    double discProfile = 0.3;        // slices below this are disc
    double discDipRatio = 0.65;      // so is a narrow dip below this fraction of the bone on
    double discDipWidthMm = 5;       // either side, no wider than this (or one slice): a disc
                                     // seen through partial volume, not a lytic body
    double minimumVertebraMm = 8;    // a shorter run of bone is not a vertebra of its own
                                     // (unless the scan cuts it)

    // Threads that share the per-slice passes (the calling thread is one of them). The layout
    // is the same for any number; the Worker's CLI use sets it to the cores, the plugin keeps 1
    // (its series run side by side on its own threads).
    size_t threads = 1;

    // Called after each slice of the first pass (the expensive one), from the calling thread:
    // with one thread once per slice (done = 1, 2, ... total); with more, after each slice the
    // calling thread finished, with the slices done by all (never less than before), lastly total.
    std::function<void(size_t done, size_t total)> progress;
    // Called per slice of the later passes and per vertebra; may throw to stop the search (the
    // worker's cancellation and the plugin's watchdog).
    std::function<void()> checkpoint;
  };

  // One dense, compact structure on an axial slice that could be a vertebral body, with the
  // evidence for it. Exposed so that single slices (a series with gaps) can be examined.
  struct BodyCandidate
  {
    PixelBox body;                   // extent of the body (posterior elements trimmed off)
    double column = 0;               // centre of that box
    double row = 0;
    double areaMm2 = 0;
    double rim = 0;                  // fraction of its outline on cortical bone
    bool canal = false;              // soft tissue then bone behind it: a spinal canal
    double midlineOffsetMm = 0;      // lateral distance from the patient's midline
    double score = 0;                // 0..1, the product of all the evidence
    double cancellousHu = 0;         // median smoothed HU within the inner 0.6 of its box
    double foundAtHu = 0;            // the bone threshold it was found at (boneHu, or porous)
  };

  // The candidates on one slice, best first.
  std::vector<BodyCandidate> findBodyCandidates(const Volume& volume, size_t slice,
                                                const SpineOptions& options = {});

  // Finds the vertebral column and partitions it into vertebrae at the discs, finds the ribs and
  // names the levels where the landmarks allow (findRibs, nameLevels). Throws
  // AnalysisError("no-spine", ...) when the volume shows no vertebral column.
  SpineLayout findSpine(const Volume& volume, const SpineOptions& options = {});

  // Fills SpineLayout::levelEvidence's ribs: which vertebrae a rib leaves (docs/spine.md,
  // "Levels").
  void findRibs(const Volume& volume, SpineLayout& layout);

  // Fills SpineLayout::levelEvidence's alae: which vertebrae are sacral (docs/spine.md,
  // "Levels").
  void findSacrum(const Volume& volume, SpineLayout& layout);

  // Below this confidence a level is to be read as uncertain (a last-rib count: a rib variant
  // would shift it unseen); every surface that shows the level can say so.
  constexpr double UNCERTAIN_LEVEL_CONFIDENCE = 0.8;

  // Names the levels from the rib-bearing vertebrae (T1 carries the first rib, T12 the last) and
  // the sacrum (S1, the topmost vertebra with alae below the ribs), with a confidence and the
  // landmark for each, or leaves them empty and says why in SpineLayout::levelNote. `sliceCount`
  // tells which vertebrae the scan cuts.
  void nameLevels(SpineLayout& layout, size_t sliceCount);
}
