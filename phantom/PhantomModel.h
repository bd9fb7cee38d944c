// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Internal to the phantom library: the analytic anatomy that the renderer turns into slices, and
// the deterministic random numbers and hashes everything is drawn from.

#include "phantom/Phantom.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace spinemet
{
  namespace phantom_detail
  {
    // Value noise: `lattice(i, j, k)` in -1..1 at the integer points, smoothly (smoothstep)
    // trilinearly interpolated between them, so that the texture is the same wherever a slice
    // cuts it. Each caller brings its own lattice hash (and so its own texture).
    template <typename Lattice>
    double interpolatedNoise(const Lattice& lattice, double x, double y, double z)
    {
      const double fx = std::floor(x), fy = std::floor(y), fz = std::floor(z);
      const int64_t i = static_cast<int64_t>(fx), j = static_cast<int64_t>(fy), k = static_cast<int64_t>(fz);
      auto smooth = [](double t) { return t * t * (3 - 2 * t); };
      const double u = smooth(x - fx), v = smooth(y - fy), w = smooth(z - fz);
      auto lerp = [](double a, double b, double t) { return a + t * (b - a); };
      const double c00 = lerp(lattice(i, j, k), lattice(i + 1, j, k), u);
      const double c10 = lerp(lattice(i, j + 1, k), lattice(i + 1, j + 1, k), u);
      const double c01 = lerp(lattice(i, j, k + 1), lattice(i + 1, j, k + 1), u);
      const double c11 = lerp(lattice(i, j + 1, k + 1), lattice(i + 1, j + 1, k + 1), u);
      return lerp(lerp(c00, c10, v), lerp(c01, c11, v), w);
    }

    // splitmix64: tiny, fast, and the same on every platform (std:: distributions are not).
    class Random
    {
    public:
      explicit Random(uint64_t seed) : state_(seed) {}

      uint64_t next()
      {
        uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
      }

      double uniform()   // [0, 1)
      {
        return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0);
      }

      double uniform(double low, double high)
      {
        return low + (high - low) * uniform();
      }

      bool chance(double probability)
      {
        return uniform() < probability;
      }

      double normal()    // Box-Muller
      {
        const double u1 = 1.0 - uniform();
        const double u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
      }

      size_t index(size_t count)
      {
        return static_cast<size_t>(uniform() * static_cast<double>(count));
      }

    private:
      uint64_t state_;
    };

    uint64_t hash64(const std::string& text, uint64_t salt);
    // The random stream of one purpose ("anatomy", "labels", ...) for one seed.
    Random stream(uint64_t seed, const std::string& purpose);
    // "2.25." + a 128-bit decimal derived from the text (RFC 9562 version 8 layout).
    std::string uidFromText(const std::string& text);

    struct Interval
    {
      double low = 0;
      double high = 0;
      double length() const { return high > low ? high - low : 0; }
    };

    inline Interval intersect(const Interval& a, const Interval& b)
    {
      return Interval{std::max(a.low, b.low), std::min(a.high, b.high)};
    }

    struct Lesion
    {
      PhantomLesion truth;
      bool posterolateral = false;   // in a pedicle rather than the body
      bool lytic = false;            // else blastic
      bool left = false;             // a posterolateral lesion in the left pedicle
    };

    // A bone (or disc) shape extruded along z over `z`: an ellipse or a capsule (a segment with a
    // radius) in the axial plane, with a cortical shell and cancellous core.
    struct Element
    {
      enum class Shape { Ellipse, Capsule };
      enum class Tissue { Bone, Disc };
      Shape shape = Shape::Ellipse;
      Tissue tissue = Tissue::Bone;
      double x0 = 0, y0 = 0;         // ellipse centre, or capsule start
      double x1 = 0, y1 = 0;         // ellipse semi-axes, or capsule end
      double radius = 0;             // capsule radius
      Interval z;
      double cortexMm = 1;
      double corticalHu = 900;
      double coreHu = 220;           // cancellous bone, or disc nucleus
      double endplateMm = 0;         // cortical endplates at both ends of z (vertebral bodies)
      double endplateHu = 0;
      double clipMaxY = 1e9;         // flat posterior wall of a vertebral body
      double shearX = 0;             // lean along the column: the shape moves by shear * (z - shearZ)
      double shearY = 0;
      double shearZ = 0;
      int vertebra = -1;             // whose lesions apply (index into Anatomy::vertebrae)
    };

    struct VertebraModel
    {
      int levelIndex = 0;            // 0 = T1 ... 16 = L5; C3..C7 = -5..-1, S1..S5 = 17..21
      double zBottom = 0;
      double zTop = 0;
      double centreX = 0;
      double centreY = 0;
      double width = 0;
      double depth = 0;
      double height = 0;
      double discBelow = 0;          // height of the disc under the body
      double slopeX = 0;             // lean of the vertebra with the curve: mm per mm of z
      double slopeY = 0;
      double canalRadiusX = 0;
      double canalRadiusY = 0;
      double canalCentreY = 0;
      double transverseTipX = 0;     // distance of the transverse process tips from the midline
      double spinousTipY = 0;
      double pedicleOffsetX = 0;     // pedicle axis from the midline
      double pedicleRadius = 0;
      double pedicleStartY = 0;
      double pedicleEndY = 0;
      Interval pedicleZ;
      bool inStudy = false;
      int studyIndex = -1;
      std::vector<Lesion> lesions;
    };

    // Realistic normal bone (PhantomBoneTexture.cpp, docs/phantom.md "Realistic bone"): what
    // real normal spines show and a model must not call a lesion. Nothing here is a lesion: the
    // ground truth's visibility flags ignore it.
    struct BoneIsland              // enostosis: a small dense focus with a brush-like margin
    {
      Vector3 centre{};            // mm, at the vertebra's mid-height lean (like lesions)
      Vector3 radiiMm{};
      double hu = 0;
      uint64_t marginSeed = 0;
    };

    struct SchmorlNode             // disc herniated through an endplate: a pit with a dense rim
    {
      bool upper = true;           // upper or lower endplate
      double u = 0, v = 0;         // centre, in units of the body's semi-axes from its centre
      double radiusMm = 3;
      double depthMm = 3;
    };

    struct VertebraBone
    {
      double cancellousHu = 200;   // mean of the cancellous core
      double textureHu = 40;       // SD of its trabecular texture (one point, before blur and noise)
      double endplateConcavityMm = 1.2;
      double endplateMm = 0.6;
      double endplateHu = 900;
      double sclerosisUpperMm = 0;   // degenerative sclerosis under each endplate (0: none)
      double sclerosisLowerMm = 0;
      double sclerosisHu = 0;        // added at the endplate, fading with depth
      double channelHalfWidthMm = 1.2;   // basivertebral venous channel
      double channelLengthMm = 8;
      double channelHalfHeightMm = 3;
      double channelHu = 40;
      std::vector<BoneIsland> islands;
      std::vector<SchmorlNode> nodes;
    };

    struct RealisticBone
    {
      bool enabled = false;
      double patientAgeYears = 60;   // drives density and degenerative change
      double densityHu = 200;        // the patient's mean cancellous density
      uint64_t textureSeed = 0;
      std::vector<VertebraBone> vertebrae;   // T1..L5
    };

    // The trunk and organs at one height.
    struct Anatomy
    {
      // trunk
      double bodyCentreX = 0;
      double bodyCentreY = 0;
      double bodySemiX = 160;
      double bodySemiY = 110;
      double fatMm = 20;
      double tableTopY = 0;          // y of the table top = the flattened back
      // column
      std::vector<VertebraModel> vertebrae;    // C3..S5, all of them (cranial first)
      int firstLevelIndex = 0;                 // levelIndex of vertebrae[0] (C3: -5)
      std::vector<Element> elements;           // bone and disc shapes of the whole column
      std::vector<double> levelCentresZ;       // mid-height of each level, as vertebrae
      // soft tissue
      double lungScale = 1;
      double psoasScale = 1;
      double kidneyShiftZ = 0;
      double cancellousHu = 220;
      double trabecularHu = 30;      // amplitude of the cancellous texture
      uint64_t textureSeed = 0;
      RealisticBone realisticBone;             // enabled with PhantomBoneModel::Realistic
    };

    // The pixel grid of an axial slice in patient coordinates.
    struct SliceGrid
    {
      size_t columns = 0;
      size_t rows = 0;
      double originX = 0;            // centre of pixel (0, 0)
      double originY = 0;
      double spacing = 1;
    };

    struct SliceFindings
    {
      bool lesionVisible = false;
      bool blasticLesionVisible = false;
      bool lyticLesionVisible = false;
      bool posterolateralLesionVisible = false;
      bool leftPedicleLesionVisible = false;
      bool rightPedicleLesionVisible = false;
    };

    // Scratch space reused from slice to slice.
    struct RenderBuffers
    {
      std::vector<float> value;           // accumulated bone value x share
      std::vector<float> weight;          // accumulated share of the slab
      std::vector<float> distance;        // signed distance to the nearest active outline
      std::vector<int> owner;             // which active shape that is
      std::vector<float> lesion;          // share of the voxel that is lesion
      std::vector<float> lyticLesion;     // ... of which lytic (the rest is blastic)
      std::vector<float> leftPedicle;     // ... of which in the left pedicle
      std::vector<float> rightPedicle;    // ... in the right one
      std::vector<float> scratch;         // blur
    };

    // Renders one slab [z - thickness/2, z + thickness/2] into `hu` (rows x columns, row-major),
    // before blur and noise (PhantomRender.cpp); reports which lesions show in it.
    SliceFindings renderSlab(const Anatomy& anatomy, const SliceGrid& grid, double z,
                             double thickness, std::vector<float>& hu, RenderBuffers& buffers);

    // Settings (PhantomSettings.cpp)
    constexpr int LEVEL_COUNT = 17;   // T1..L5: the levels a random acquisition draws from
    constexpr int FIRST_SCANNABLE_LEVEL = -5;   // C3
    constexpr int S1_LEVEL = 17;
    constexpr int L5_LEVEL = 16;
    constexpr int C7_LEVEL = -1;
    [[noreturn]] void settingsError(const std::string& message);   // AnalysisError "phantom-settings"
    int levelIndex(const std::string& name);   // "C3" -> -5, "T1" -> 0 ... "L5" -> 16, "S1" -> 17
    std::string levelName(int level);          // the inverse
    inline VertebraModel& vertebraAt(Anatomy& anatomy, int level)
    {
      return anatomy.vertebrae[static_cast<size_t>(level - anatomy.firstLevelIndex)];
    }
    inline const VertebraModel& vertebraAt(const Anatomy& anatomy, int level)
    {
      return anatomy.vertebrae[static_cast<size_t>(level - anatomy.firstLevelIndex)];
    }
    double roundTo(double value, double step);
    std::string formatNumber(double value);
    PhantomAcquisition resolveAcquisition(const PhantomSettings& settings);
    void checkSettings(const PhantomSettings& settings, const PhantomLesionRanges& ranges);
    std::string canonicalSettings(const PhantomSettings& settings, const PhantomAcquisition& acquisition,
                                  const PhantomLesionRanges& ranges);

    // Anatomy (PhantomAnatomy.cpp)
    Anatomy buildAnatomy(uint64_t seed, int ribPairs = 12);
    // Adds the lower cervical spine (C3-C7, optionally a rib on C7) above T1 and the sacrum
    // (S1-S5, alae, iliac bones) below L5, with the transitional variant (PhantomColumnEnds.cpp).
    void addColumnEnds(Anatomy& anatomy, uint64_t seed, bool cervicalRib, TransitionalVertebra transitional);
    void lean(const VertebraModel& vertebra, Vector3& point);   // a point at its z, along the lean
    // Draws labels and lesions for firstLevel..lastLevel, appends their truth.
    void placeLesions(Anatomy& anatomy, const PhantomSettings& settings, const PhantomLesionRanges& ranges,
                      int firstLevel, int lastLevel, std::vector<PhantomVertebra>& truth);

    // Realistic bone (PhantomBoneTexture.cpp). makeBoneRealistic draws from its own stream of the
    // seed, after the lesions are placed (lytic lesions in osteopenic bone get a HU that still reads
    // below the bone; `truth` records it), and adjusts the column's elements.
    void makeBoneRealistic(Anatomy& anatomy, const PhantomSettings& settings, std::vector<PhantomVertebra>& truth);
    // The bone value of one pixel of a realistic bone element over `piece` (in-plane signed
    // distance `distance` to its outline), before lesions.
    double realisticBoneValue(const Anatomy& anatomy, const Element& shifted, double coreHu, double x,
                              double y, const Interval& piece, double distance, double inversePixel);

    void blurInPlane(std::vector<float>& image, size_t columns, size_t rows, double sigmaPixels,
                     std::vector<float>& scratch);
  }
}
