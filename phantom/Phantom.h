// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Synthetic spine CT studies with known labels: the project's own ground truth (see
// ../shared/method.md "Synthetic CT phantoms" and docs/phantom.md). Everything is drawn from one
// seed, so the same settings always give the same study, byte for byte.
//
// Coordinates are DICOM LPS (x towards the patient's left, y posterior, z head-wards), patient
// supine, head first; images are axial with Image Orientation (Patient) 1\0\0\0\1\0.

#include "result/AnalysisResult.h"   // BoneQuality, Posterolateral
#include "volume/Volume.h"

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace spinemet
{
  enum class PhantomDifficulty { Easy, Normal, Hard };   // hard = small, subtle lesions

  // File and Instance Number order. Ascending: instance 1 is the most caudal slice (increasing z);
  // descending: instance 1 is the most cranial slice, as a head-first scan acquires them.
  enum class PhantomSliceOrder { Ascending, Descending };

  enum class PhantomTransferSyntax { ExplicitLittleEndian, Rle, JpegLossless, JpegLsLossless };

  // Which pedicles carry the posterolateral lesion. Left is the patient's left (+x, higher columns).
  enum class LesionSide { None, Left, Right, Both };

  // How normal bone looks. Simple: smooth shapes with a uniform texture (what the demo model was
  // trained on, the default for now). Realistic: heterogeneous trabecular bone with a per-patient
  // density, a thin cortical shell, concave endplates, the basivertebral venous channel, bone
  // islands, Schmorl's nodes, endplate sclerosis, osteophytes, costovertebral joints
  // (docs/phantom.md, "Realistic bone"). None of these is a lesion.
  enum class PhantomBoneModel { Simple, Realistic };
  // A lumbosacral transitional vertebra (docs/phantom.md): L5 fused to the sacrum by alae of its
  // own (sacralised: four free lumbar vertebrae), or S1 free of the sacrum with a disc below it
  // and no alae (lumbarised: six).
  enum class TransitionalVertebra { None, SacralisedL5, LumbarisedS1 };

  // A label imposed on one level instead of drawing it (tests, demos).
  struct PhantomLabel
  {
    BoneQuality boneQuality = BoneQuality::Normal;
    Posterolateral posterolateral = Posterolateral::None;
    LesionSide side = LesionSide::None;   // None with Unilateral: the side is drawn
  };

  // Lesion size and contrast ranges; the difficulty gives the defaults (phantomLesionRanges()).
  struct PhantomLesionRanges
  {
    double radiusMinMm = 4;       // semi-axis of the lesion ellipsoid in the vertebral body
    double radiusMaxMm = 8;
    double lyticHuMin = 20;       // HU of a lytic lesion (tumour replacing bone)
    double lyticHuMax = 90;
    double blasticHuMin = 600;    // HU of a sclerotic focus
    double blasticHuMax = 1000;
  };

  // Everything that makes a phantom. Acquisition fields left empty take their default, or, with
  // randomAcquisition, a value drawn from the seed; a field that is set always wins.
  struct PhantomSettings
  {
    uint64_t seed = 1;
    bool randomAcquisition = false;

    std::optional<std::string> levels;            // "T12-L2" (default), "T1-L5", "L3", "C6-T2", "L4-S1"
    std::optional<size_t> matrix;                 // 512 (default) or 256, rows = columns
    std::optional<double> pixelSpacingMm;         // 0.5 - 1.0 (default 0.7)
    std::optional<double> sliceThicknessMm;       // 0.625 - 5 (default 2.5)
    std::optional<double> sliceSpacingMm;         // 0.625 - 5 (default: the thickness)
    std::optional<PhantomSliceOrder> order;       // default descending
    std::optional<PhantomTransferSyntax> transferSyntax;  // default explicit little endian
    std::optional<double> lateralOffsetMm;        // body centre right of (-) / left of (+) the image centre
    std::optional<double> anteriorPosteriorOffsetMm;  // body centre above (-) / below (+) it: table height

    double noiseSigmaHu = 20;                     // Gaussian noise, HU
    double inPlaneBlurMm = 0.45;                  // sigma of the in-plane point spread function

    PhantomDifficulty difficulty = PhantomDifficulty::Normal;
    std::optional<PhantomLesionRanges> lesionRanges;  // default: phantomLesionRanges(difficulty)
    double lesionProbability = 0.5;               // a vertebra has a lesion at all
    std::array<double, 3> lesionTypeWeights{1, 1, 1};   // blastic, lytic, mixed, given a lesion
    double posterolateralProbability = 0.5;       // a lesional vertebra extends into its pedicles
    double bilateralProbability = 0.4;            // given posterolateral extension

    std::map<std::string, PhantomLabel> labels;   // level name -> forced label

    // Rib pairs: 12 (T1-T12), 11 (no rib on T12) or 13 (a lumbar rib on L1), the variants
    // that move the last rib off T12 (docs/phantom.md). Recorded in the ground truth.
    int ribPairs = 12;

    // Normal bone: simple (default) or realistic. The realistic features are drawn from their own
    // random stream, so the labels, lesions and acquisition of a seed are the same in both.
    PhantomBoneModel bone = PhantomBoneModel::Simple;
    // Realistic bone only: the patient's mean cancellous density (50-350 HU) instead of the one
    // drawn from the seed (age-dependent, osteopenic down to about 50 HU).
    std::optional<double> boneDensityHu;
    // A short rib on C7, both sides: the variant that passes for the first rib. Recorded in the
    // ground truth.
    bool cervicalRib = false;
    TransitionalVertebra transitional = TransitionalVertebra::None;
  };

  // The acquisition actually used, after defaults and random draws.
  struct PhantomAcquisition
  {
    std::string firstLevel;
    std::string lastLevel;
    size_t matrix = 512;
    double pixelSpacingMm = 0.7;
    double sliceThicknessMm = 2.5;
    double sliceSpacingMm = 2.5;
    PhantomSliceOrder order = PhantomSliceOrder::Descending;
    PhantomTransferSyntax transferSyntax = PhantomTransferSyntax::ExplicitLittleEndian;
    double lateralOffsetMm = 0;
    double anteriorPosteriorOffsetMm = 0;
  };

  // An ellipsoidal lesion with axes along x, y, z.
  struct PhantomLesion
  {
    std::string kind;            // "lytic" or "blastic"
    std::string region;          // "body", "left-pedicle", "right-pedicle"
    Vector3 centre{};            // mm, LPS
    Vector3 radiiMm{};           // semi-axes along x, y, z
    double hu = 0;
  };

  struct PhantomVertebra
  {
    int index = 0;               // 0 = most cranial in the study
    std::string level;           // "T11"
    double zMinMm = 0;           // vertebral body (endplate to endplate, discs excluded)
    double zMaxMm = 0;
    BoneQuality boneQuality = BoneQuality::Normal;
    Posterolateral posterolateral = Posterolateral::None;
    LesionSide side = LesionSide::None;
    Vector3 bodyCentre{};        // mm, centre of the vertebral body at mid-height
    double bodyCentreColumn = 0; // the same in pixels (per slice: PhantomSlice::bodyCentreColumn)
    double bodyCentreRow = 0;
    double bodyWidthMm = 0;      // left-right
    double bodyDepthMm = 0;      // anterior-posterior
    double bodyHeightMm = 0;     // cranio-caudal
    std::vector<PhantomLesion> lesions;
    // Realistic bone only: what the bone shows that is normal, not a lesion (kind "bone-island",
    // "schmorl-node", "endplate-sclerosis", "osteophyte"; region "body", "upper-endplate",
    // "lower-endplate"; centre and radii as for lesions, approximate for the endplate findings).
    // The label stays what the lesions make it and the visibility flags ignore these.
    std::vector<PhantomLesion> normalFindings;
    std::vector<std::string> sopInstanceUids;   // slices whose centre lies in [zMinMm, zMaxMm], cranial first
  };

  struct PhantomSlice
  {
    std::string fileName;        // relative to the study folder
    std::string sopInstanceUid;
    double zMm = 0;
    int instanceNumber = 0;
    int vertebra = -1;           // index into vertebrae; -1 for discs and beyond the column
    BoneQuality boneQuality = BoneQuality::Normal;        // the vertebra's label (normal on discs)
    Posterolateral posterolateral = Posterolateral::None;
    LesionSide side = LesionSide::None;
    bool lesionVisible = false;                // lesion voxels are really in this slice
    bool blasticLesionVisible = false;         // ... of a blastic lesion
    bool lyticLesionVisible = false;           // ... of a lytic lesion
    bool posterolateralLesionVisible = false;  // a pedicle lesion is really in this slice
    LesionSide posterolateralVisibleSide = LesionSide::None;   // which pedicles show one
    // Centre of the vertebral body where this slice cuts it (the column leans with its curve);
    // -1 where the slice belongs to no vertebra.
    double bodyCentreColumn = -1;
    double bodyCentreRow = -1;
  };

  struct PhantomGroundTruth
  {
    std::vector<PhantomVertebra> vertebrae;    // cranial to caudal
    std::vector<PhantomSlice> slices;          // spatial order, cranial to caudal
  };

  struct PhantomStudy
  {
    PhantomSettings settings;                  // as given
    PhantomAcquisition acquisition;            // as used
    Series series;                             // volume slices in increasing z, as Volume.h says
    PhantomGroundTruth truth;
  };

  PhantomLesionRanges phantomLesionRanges(PhantomDifficulty difficulty);

  // Throws AnalysisError("phantom-settings", ...) when a setting is out of range.
  PhantomStudy generatePhantom(const PhantomSettings& settings);

  // One file per slice (truth.slices[i].fileName) in `folder`, created when missing. The files of
  // the other syntaxes are identical apart from the transfer syntax (UIDs included).
  void writePhantomDicom(const PhantomStudy& study, const std::string& folder,
                         PhantomTransferSyntax transferSyntax);

  // The ground truth as JSON (schema "spinemet-phantom-truth/1", docs/phantom.md).
  std::string phantomGroundTruthJson(const PhantomStudy& study);
  void writePhantomGroundTruth(const PhantomStudy& study, const std::string& path);

  // The study as the CLI writes it: DICOM in acquisition.transferSyntax plus ground_truth.json.
  void writePhantomStudy(const PhantomStudy& study, const std::string& folder);

  // Names used on the command line and in the JSON.
  const char* toString(PhantomDifficulty value);        // "easy", "normal", "hard"
  const char* toString(PhantomSliceOrder value);        // "ascending", "descending"
  const char* toString(PhantomTransferSyntax value);    // "explicit", "rle", "jpeg-lossless", "jpeg-ls"
  const char* toString(LesionSide value);               // "none", "left", "right", "both"
  const char* toString(PhantomBoneModel value);         // "simple", "realistic"
  const char* toString(TransitionalVertebra value);     // "none", "sacralised-l5", "lumbarised-s1"
  TransitionalVertebra parseTransitionalVertebra(const std::string& text);
  std::string transferSyntaxUid(PhantomTransferSyntax value);
  // Parsers throw AnalysisError("phantom-settings", ...) naming the bad text.
  PhantomDifficulty parsePhantomDifficulty(const std::string& text);
  PhantomSliceOrder parsePhantomSliceOrder(const std::string& text);
  PhantomTransferSyntax parsePhantomTransferSyntax(const std::string& text);
  PhantomBoneModel parsePhantomBoneModel(const std::string& text);
  // "T11=lytic:bilateral,L1=blastic:unilateral-left,L2=normal" -> labels
  std::map<std::string, PhantomLabel> parsePhantomLabels(const std::string& text);
  // "lytic:bilateral", "blastic", "mixed:unilateral-left" -> the label (spinemet-phantom's and
  // spinemet-hybrid's --labels); throws std::invalid_argument saying what is wrong, for the caller
  // to name the entry and its own error code.
  PhantomLabel parseLesionLabel(const std::string& qualityAndExtension);
  // "KEY=QUALITY[:EXTENSION],..." -> labels by key; `keyOf` turns an entry's key into the map key
  // (or throws std::invalid_argument). A key given twice, or an entry that is not KEY=..., throws
  // std::invalid_argument naming the entry; `example` shows the form in that message.
  std::map<std::string, PhantomLabel> parseLabelList(const std::string& text,
                                                     const std::function<std::string(const std::string&)>& keyOf,
                                                     const std::string& example);
  // Level names T1..T12, L1..L5 and their order (0 = T1): the levels a random acquisition draws.
  const std::vector<std::string>& phantomLevelNames();
  // Every level a study may cover, cranial first: C3..C7, T1..L5, S1 (the sacrum's first
  // segment; S2-S5 are modelled below it but not scanned as levels of their own).
  const std::vector<std::string>& phantomScannableLevelNames();
}
