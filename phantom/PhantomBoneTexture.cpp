// SPDX-License-Identifier: GPL-3.0-or-later
// Realistic normal bone (PhantomBoneModel::Realistic, docs/phantom.md "Realistic bone"): what real
// normal spines show on CT and a classifier must not call a lesion. A per-patient bone density
// (age-dependent, osteopenic down to about 50 HU), heterogeneous trabecular texture (vertical
// trabeculae, coarser patches), a thin dense cortical shell, concave endplates (the disc fills
// their middle: partial volume on slices near the endplate), the basivertebral venous channel,
// bone islands, Schmorl's nodes, endplate sclerosis and osteophytes (degenerative change, more
// likely with age), and costovertebral joints (a joint space between rib head and body).
//
// Everything is drawn from streams of its own ("bone", "bone-T11", ...), after the lesions are
// placed, so the labels, lesions and acquisition of a seed are the same as with simple bone.
#include "phantom/PhantomModel.h"

#include <algorithm>
#include <cmath>

namespace spinemet
{
  namespace phantom_detail
  {
    namespace
    {
      const double PI = 3.141592653589793;
      const double DISC_NUCLEUS_HU = 80;
      // A lytic lesion stays at least this far below its vertebra's mean cancellous density, so
      // that a lytic label in osteopenic bone still shows (the truth records the HU used).
      const double LYTIC_CONTRAST_HU = 50;

      inline double clamp01(double value)
      {
        return value < 0 ? 0 : (value > 1 ? 1 : value);
      }

      inline double overlap(double a0, double a1, double b0, double b1)
      {
        const double low = std::max(a0, b0);
        const double high = std::min(a1, b1);
        return high > low ? high - low : 0;
      }

      inline double lattice(uint64_t seed, int64_t i, int64_t j, int64_t k)
      {
        uint64_t h = seed ^ (static_cast<uint64_t>(i) * 0xD6E8FEB86659FD93ull) ^
                     (static_cast<uint64_t>(j) * 0xA0761D6478BD642Full) ^
                     (static_cast<uint64_t>(k) * 0xE7037ED1A0B428DBull);
        h ^= h >> 32;
        h *= 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
        return static_cast<double>(h >> 11) * (2.0 / 9007199254740992.0) - 1.0;
      }

      // Smoothly interpolated value noise, -1..1, the same wherever a slice cuts it.
      double noise(uint64_t seed, double x, double y, double z)
      {
        return interpolatedNoise([seed](int64_t i, int64_t j, int64_t k) { return lattice(seed, i, j, k); }, x, y, z);
      }

      // Cancellous bone as CT resolves it: trabeculae are thinner than a voxel, so what shows is
      // a mottled network, elongated along z (the load-bearing trabeculae are vertical), over
      // coarser patches of denser and fattier marrow. Roughly zero-mean, SD about 1.
      double trabecular(uint64_t seed, double x, double y, double z)
      {
        const double fine = noise(seed, x / 0.8, y / 0.8, z / 1.5);
        const double ridges = 1 - 2 * std::fabs(noise(seed + 1, x / 1.5, y / 1.5, z / 2.4)) - 0.33;
        const double patches = noise(seed + 2, x / 4.5, y / 4.5, z / 4.5);
        // scaled to a standard deviation of about 1 at one point
        return (0.9 * fine + 0.75 * ridges + 0.6 * patches) / 0.35;
      }

      double capsuleDistance(double x, double y, double x0, double y0, double x1, double y1)
      {
        const double dx = x1 - x0, dy = y1 - y0;
        const double lengthSquared = dx * dx + dy * dy;
        double t = lengthSquared > 0 ? ((x - x0) * dx + (y - y0) * dy) / lengthSquared : 0;
        t = t < 0 ? 0 : (t > 1 ? 1 : t);
        const double px = x - (x0 + t * dx), py = y - (y0 + t * dy);
        return std::sqrt(px * px + py * py);
      }

      double ellipseOutlineDistance(double x, double y, double cx, double cy, double ax, double ay)
      {
        const double u = (x - cx) / ax, v = (y - cy) / ay;
        const double r = std::sqrt(u * u + v * v);
        const double gradient = std::sqrt(u * u / (ax * ax) + v * v / (ay * ay));
        return gradient < 1e-12 ? -std::min(ax, ay) : (r - 1) * r / gradient;
      }

      bool isBody(const Element& e)
      {
        return e.tissue == Element::Tissue::Bone && e.endplateMm > 0;
      }

      // Draws the features of one vertebra. Lesions already placed are kept clear of islands.
      VertebraBone drawVertebra(Random& random, const RealisticBone& patient, const VertebraModel& v,
                                double degeneration, double textureHu)
      {
        VertebraBone b;
        const double level = v.levelIndex;
        // thoracic bodies are a little denser than lumbar ones
        b.cancellousHu = std::max(45.0, patient.densityHu * (1.06 - 0.08 * level / 16) *
                                            (1 + 0.05 * std::max(-2.0, std::min(2.0, random.normal()))));
        b.textureHu = textureHu * random.uniform(0.85, 1.15);
        b.endplateConcavityMm = random.uniform(0.8, 2.2) * v.height / 22;
        b.endplateMm = random.uniform(0.5, 0.9);
        // the cortical endplate is thin and porous: between cancellous bone and the shell
        b.endplateHu = b.cancellousHu + random.uniform(300, 450);
        // degenerative endplate sclerosis: a band under the endplate, densest at it
        const bool sclerosisUpper = random.chance(0.35 * degeneration);
        const bool sclerosisLower = random.chance(0.35 * degeneration);
        b.sclerosisUpperMm = sclerosisUpper ? random.uniform(2, 6) : 0;
        b.sclerosisLowerMm = sclerosisLower ? random.uniform(2, 6) : 0;
        b.sclerosisHu = random.uniform(100, 300);
        // the basivertebral vein: enters the posterior wall in the midline at mid-height
        b.channelHalfWidthMm = random.uniform(0.5, 1.0);
        b.channelLengthMm = v.depth * random.uniform(0.15, 0.3);
        b.channelHalfHeightMm = random.uniform(0.9, 1.8);   // a canal 2-4 mm across
        b.channelHu = random.uniform(30, 90);

        // Schmorl's nodes: commoner in the lower thoracic and lumbar spine and with age
        const double nodeProbability = (level >= 5 ? 0.08 : 0.03) + 0.1 * degeneration;
        for (bool upper : {true, false})
        {
          if (random.chance(nodeProbability))
          {
            SchmorlNode node;
            node.upper = upper;
            node.u = random.uniform(-0.35, 0.35);
            node.v = random.uniform(-0.35, 0.35);
            node.radiusMm = random.uniform(2.5, 5.5) * std::sqrt(v.width / 44);
            node.depthMm = std::min(random.uniform(2, 5), v.height * 0.22);
            b.nodes.push_back(node);
          }
        }
        return b;
      }

      // Osteophytes: spurs from the anterior and lateral rim of an endplate, growing outwards
      // and into the disc space (never across it), as capsules along the body's outline.
      // Returns how far the spur reaches out of the body (mm).
      double addOsteophyte(Anatomy& anatomy, const Element& body, const VertebraModel& v, Random& random,
                         bool upper, double discHeight, double degeneration)
      {
        const double centreAngle = random.uniform(-0.6, 0.6) - PI / 2;   // -y is anterior
        const double span = random.uniform(0.6, 1.7);
        const double reach = random.uniform(1.5, 3 + 3.5 * degeneration);
        const double height = std::min(random.uniform(1.5, 4.0), discHeight * 0.4);
        const double radius = reach / 2 + 0.6;
        const int segments = 4;
        const double edgeZ = upper ? v.zTop : v.zBottom;
        // at the endplate the body is where its lean puts it
        const double shiftX = body.shearX * (edgeZ - body.shearZ);
        const double shiftY = body.shearY * (edgeZ - body.shearZ);
        auto rimPoint = [&](double angle, double out)
        {
          const double c = std::cos(angle), s = std::sin(angle);
          // outward normal of the ellipse at that point
          const double nx = c / body.x1, ny = s / body.y1;
          const double n = std::sqrt(nx * nx + ny * ny);
          return std::pair<double, double>{body.x0 + shiftX + body.x1 * c + out * nx / n,
                                           body.y0 + shiftY + body.y1 * s + out * ny / n};
        };
        for (int tier = 0; tier < 2; ++tier)
        {
          // the base of the spur, then its tip reaching further out into the disc space
          const double out = tier == 0 ? reach - radius : reach - radius * 0.6;
          const double tierRadius = tier == 0 ? radius : radius * 0.6;
          const double z0 = tier == 0 ? -1.0 : height * 0.55;
          const double z1 = tier == 0 ? height * 0.55 : height;
          for (int k = 0; k < segments; ++k)
          {
            const double a0 = centreAngle - span / 2 + span * k / segments;
            const double a1 = centreAngle - span / 2 + span * (k + 1) / segments;
            const auto p0 = rimPoint(a0, out), p1 = rimPoint(a1, out);
            Element e;
            e.shape = Element::Shape::Capsule;
            e.tissue = Element::Tissue::Bone;
            e.x0 = p0.first - shiftX; e.y0 = p0.second - shiftY;
            e.x1 = p1.first - shiftX; e.y1 = p1.second - shiftY;
            e.radius = tierRadius;
            e.z = upper ? Interval{edgeZ + z0, edgeZ + z1} : Interval{edgeZ - z1, edgeZ - z0};
            e.cortexMm = 0.6;
            e.corticalHu = body.corticalHu;
            e.coreHu = body.coreHu + 120;
            e.shearX = body.shearX;
            e.shearY = body.shearY;
            e.shearZ = body.shearZ;
            e.vertebra = body.vertebra;
            anatomy.elements.push_back(e);
          }
        }
        return reach;
      }
    }

    void makeBoneRealistic(Anatomy& anatomy, const PhantomSettings& settings, std::vector<PhantomVertebra>& truth)
    {
      const uint64_t seed = settings.seed;
      RealisticBone& bone = anatomy.realisticBone;
      Random patient = stream(seed, "bone");
      bone.enabled = true;
      bone.patientAgeYears = patient.uniform(25, 88);
      // Mean trabecular density falls with age (opportunistic-CT studies of L1: about 230-260 HU
      // at 30, 110-140 HU at 80), with a wide spread between people of one age.
      bone.densityHu = std::max(50.0, std::min(320.0, 250 - 1.9 * (bone.patientAgeYears - 30) +
                                                          30 * patient.normal()));
      if (settings.boneDensityHu)
      {
        bone.densityHu = *settings.boneDensityHu;   // the draw above still happens: same streams
      }
      bone.textureSeed = patient.next();
      const double degeneration = clamp01((bone.patientAgeYears - 35) / 45);
      // SD of the texture on a thin slice (thin-slice real CT: 60-85 HU without noise, the
      // 5 mm abdomen 30 HU; docs/phantom.md)
      const double textureHu = patient.uniform(35, 85);
      const double shellMm = patient.uniform(0.45, 0.8);
      const double shellHu = patient.uniform(900, 1200);

      bone.vertebrae.clear();
      for (size_t i = 0; i < anatomy.vertebrae.size(); ++i)
      {
        const VertebraModel& v = anatomy.vertebrae[i];
        Random random = stream(seed, "bone-" + levelName(v.levelIndex));
        VertebraBone b = drawVertebra(random, bone, v, degeneration, textureHu);

        // bone islands: under 1 cm, dense, anywhere in the body but clear of lesions
        const int islands = random.chance(0.12) ? (random.chance(0.2) ? 2 : 1) : 0;
        for (int k = 0; k < islands; ++k)
        {
          for (int attempt = 0; attempt < 12; ++attempt)
          {
            BoneIsland island;
            const double radius = random.uniform(1.0, 4.2);
            island.radiiMm = {radius * random.uniform(0.8, 1.15), radius * random.uniform(0.8, 1.15),
                              radius * random.uniform(0.8, 1.15)};
            for (double& r : island.radiiMm) r = std::min(r, 4.7);   // diameter under 1 cm
            double u, w;
            do
            {
              u = random.uniform(-1, 1);
              w = random.uniform(-1, 1);
            } while (u * u + w * w > 1);
            island.centre = {v.centreX + u * (v.width / 2 - 2.5 - island.radiiMm[0]),
                             v.centreY + w * (v.depth / 2 - 3 - island.radiiMm[1]) * 0.8 - v.depth * 0.05,
                             (v.zTop + v.zBottom) / 2 + random.uniform(-1, 1) *
                               std::max(0.0, v.height / 2 - 1.5 - island.radiiMm[2])};
            lean(v, island.centre);
            island.hu = random.uniform(750, 1300);
            island.marginSeed = random.next();
            bool clear = true;
            for (const Lesion& lesion : v.lesions)
            {
              const PhantomLesion& l = lesion.truth;
              double q = 0;
              for (int axis = 0; axis < 3; ++axis)
              {
                const double d = (island.centre[axis] - l.centre[axis]) / (l.radiiMm[axis] + island.radiiMm[axis] + 1.5);
                q += d * d;
              }
              clear = clear && q > 1;
            }
            if (clear)
            {
              b.islands.push_back(island);
              break;
            }
          }
        }
        bone.vertebrae.push_back(b);
      }

      // The truth of the study's vertebrae: their normal findings.
      for (size_t i = 0; i < anatomy.vertebrae.size(); ++i)
      {
        const VertebraModel& v = anatomy.vertebrae[i];
        if (!v.inStudy || v.studyIndex < 0 || static_cast<size_t>(v.studyIndex) >= truth.size())
        {
          continue;
        }
        const VertebraBone& b = bone.vertebrae[i];
        std::vector<PhantomLesion>& findings = truth[static_cast<size_t>(v.studyIndex)].normalFindings;
        auto add = [&](const char* kind, const char* region, Vector3 centre, Vector3 radii, double hu)
        {
          PhantomLesion finding;
          finding.kind = kind;
          finding.region = region;
          finding.centre = centre;
          finding.radiiMm = radii;
          finding.hu = std::round(hu);
          findings.push_back(finding);
        };
        for (const BoneIsland& island : b.islands)
        {
          add("bone-island", "body", island.centre, island.radiiMm, island.hu);
        }
        for (const SchmorlNode& node : b.nodes)
        {
          Vector3 centre{v.centreX + node.u * v.width / 2, v.centreY + node.v * v.depth / 2,
                         node.upper ? v.zTop : v.zBottom};
          lean(v, centre);
          add("schmorl-node", node.upper ? "upper-endplate" : "lower-endplate", centre,
              Vector3{node.radiusMm, node.radiusMm, node.depthMm}, DISC_NUCLEUS_HU);
        }
        for (bool upper : {true, false})
        {
          const double thickness = upper ? b.sclerosisUpperMm : b.sclerosisLowerMm;
          if (thickness > 0)
          {
            Vector3 centre{v.centreX, v.centreY, upper ? v.zTop - thickness / 2 : v.zBottom + thickness / 2};
            lean(v, centre);
            add("endplate-sclerosis", upper ? "upper-endplate" : "lower-endplate", centre,
                Vector3{v.width / 2, v.depth / 2, thickness / 2}, b.cancellousHu + b.sclerosisHu);
          }
        }
      }

      // Lytic lesions in osteopenic bone: still below the bone they replace.
      for (size_t i = 0; i < anatomy.vertebrae.size(); ++i)
      {
        VertebraModel& v = anatomy.vertebrae[i];
        for (size_t k = 0; k < v.lesions.size(); ++k)
        {
          Lesion& lesion = v.lesions[k];
          const double ceiling = bone.vertebrae[i].cancellousHu - LYTIC_CONTRAST_HU;
          if (lesion.lytic && lesion.truth.hu > ceiling)
          {
            lesion.truth.hu = std::round(std::max(0.0, ceiling));
            if (v.inStudy && v.studyIndex >= 0 && static_cast<size_t>(v.studyIndex) < truth.size() &&
                k < truth[static_cast<size_t>(v.studyIndex)].lesions.size())
            {
              truth[static_cast<size_t>(v.studyIndex)].lesions[k].hu = lesion.truth.hu;
            }
          }
        }
      }

      // The elements: bodies get the thin dense shell, every bone of a vertebra the new density,
      // rib heads a joint space against their body.
      const size_t original = anatomy.elements.size();
      std::vector<double> oldBodyCore(anatomy.vertebrae.size(), 0);
      // indices, not pointers: the osteophytes below are appended to the elements
      const size_t NO_BODY = static_cast<size_t>(-1);
      std::vector<size_t> bodies(anatomy.vertebrae.size(), NO_BODY);
      for (size_t k = 0; k < original; ++k)
      {
        const Element& e = anatomy.elements[k];
        if (isBody(e) && e.vertebra >= 0)
        {
          oldBodyCore[static_cast<size_t>(e.vertebra)] = e.coreHu;
        }
      }
      for (size_t k = 0; k < original; ++k)
      {
        Element& e = anatomy.elements[k];
        if (e.tissue != Element::Tissue::Bone || e.vertebra < 0)
        {
          continue;
        }
        const size_t i = static_cast<size_t>(e.vertebra);
        const VertebraBone& b = bone.vertebrae[i];
        if (isBody(e))
        {
          e.coreHu = b.cancellousHu;
          e.cortexMm = shellMm;
          e.corticalHu = shellHu;
          e.endplateMm = b.endplateMm;
          e.endplateHu = b.endplateHu;
          continue;
        }
        // posterior elements and ribs are mostly compact bone: denser than the body's core
        e.coreHu += b.cancellousHu - oldBodyCore[i] + 130;
      }
      for (size_t k = 0; k < original; ++k)
      {
        if (isBody(anatomy.elements[k]) && anatomy.elements[k].vertebra >= 0)
        {
          bodies[static_cast<size_t>(anatomy.elements[k].vertebra)] = k;
        }
      }
      // Costovertebral joints: a rib's head (the capsule that starts at the body's outline and
      // runs out laterally) is drawn back from the body, leaving a joint space of 1-2 mm.
      for (size_t k = 0; k < original; ++k)
      {
        Element& e = anatomy.elements[k];
        if (e.shape != Element::Shape::Capsule || e.vertebra < 0 || bodies[static_cast<size_t>(e.vertebra)] == NO_BODY)
        {
          continue;
        }
        const Element body = anatomy.elements[bodies[static_cast<size_t>(e.vertebra)]];
        const double startDistance = ellipseOutlineDistance(e.x0, e.y0, body.x0, body.y0, body.x1, body.y1);
        if (startDistance < -2.5 || startDistance > 0.5 || std::fabs(e.x1 - e.x0) < 8 || e.y0 > body.clipMaxY)
        {
          continue;   // not a rib head
        }
        const double dx = e.x1 - e.x0, dy = e.y1 - e.y0;
        const double length = std::sqrt(dx * dx + dy * dy);
        const double gap = 1.4 + 0.4 * lattice(bone.textureSeed, static_cast<int64_t>(k), 7, 7);
        for (double step = 0; step < length * 0.5; step += 0.1)
        {
          const double x = e.x0 + dx * step / length, y = e.y0 + dy * step / length;
          if (ellipseOutlineDistance(x, y, body.x0, body.y0, body.x1, body.y1) >= e.radius + gap)
          {
            e.x0 = x;
            e.y0 = y;
            break;
          }
        }
      }

      // Osteophytes at the endplates, more and larger with age.
      for (size_t i = 0; i < anatomy.vertebrae.size(); ++i)
      {
        if (bodies[i] == NO_BODY)
        {
          continue;
        }
        const Element body = anatomy.elements[bodies[i]];
        const VertebraModel& v = anatomy.vertebrae[i];
        Random random = stream(seed, "osteophytes-" + levelName(v.levelIndex));
        const double probability = 0.6 * std::pow(degeneration, 1.5) * (v.levelIndex >= 8 ? 1.0 : 0.7);
        for (bool upper : {true, false})
        {
          const double discHeight = upper ? (i > 0 ? anatomy.vertebrae[i - 1].discBelow : 4) : v.discBelow;
          if (random.chance(probability))
          {
            const double reach = addOsteophyte(anatomy, body, v, random, upper, discHeight, degeneration);
            if (v.inStudy && v.studyIndex >= 0 && static_cast<size_t>(v.studyIndex) < truth.size())
            {
              PhantomLesion finding;
              finding.kind = "osteophyte";
              finding.region = upper ? "upper-endplate" : "lower-endplate";
              finding.centre = {v.centreX, v.centreY - v.depth / 2, upper ? v.zTop : v.zBottom};
              lean(v, finding.centre);
              finding.radiiMm = {reach, reach, reach};
              finding.hu = std::round(body.coreHu + 120);
              truth[static_cast<size_t>(v.studyIndex)].normalFindings.push_back(finding);
            }
          }
        }
      }
    }

    double realisticBoneValue(const Anatomy& anatomy, const Element& e, double coreHu, double x, double y,
                              const Interval& piece, double distance, double inversePixel)
    {
      const RealisticBone& bone = anatomy.realisticBone;
      const double length = piece.length();
      const double middle = (piece.low + piece.high) / 2;
      const double core = clamp01(0.5 - (distance + e.cortexMm) * inversePixel);
      const VertebraBone* b = e.vertebra >= 0 ? &bone.vertebrae[static_cast<size_t>(e.vertebra)] : nullptr;
      // a thick slab averages the texture along z, as a scanner's slice does
      const int samples = std::max(1, std::min(6, static_cast<int>(std::lround(length / 0.8))));
      double texture = 0;
      for (int j = 0; j < samples; ++j)
      {
        texture += trabecular(bone.textureSeed, x, y, piece.low + (j + 0.5) * length / samples);
      }
      texture /= samples;
      if (!isBody(e) || b == nullptr)
      {
        // posterior elements, ribs, spurs: mostly compact, less texture
        const double amplitude = b != nullptr ? b->textureHu * 0.6 : 20;
        return core * (coreHu + amplitude * texture) + (1 - core) * e.corticalHu;
      }

      // body-local coordinates (the shifted element is centred where this slab cuts it)
      const double u = (x - e.x0) / e.x1;
      const double v = (y - e.y0) / e.y1;
      const double r2 = std::min(1.0, u * u + v * v);
      const double concavity = b->endplateConcavityMm * (1 - r2);
      double pitUpper = 0, pitLower = 0;
      for (const SchmorlNode& node : b->nodes)
      {
        const double du = (u - node.u) * e.x1, dv = (v - node.v) * e.y1;
        const double q = (du * du + dv * dv) / (node.radiusMm * node.radiusMm);
        if (q < 1)
        {
          (node.upper ? pitUpper : pitLower) = std::max(node.upper ? pitUpper : pitLower,
                                                        node.depthMm * std::sqrt(1 - q));
        }
      }
      const double top = e.z.high - concavity - pitUpper;
      const double bottom = e.z.low + concavity + pitLower;
      // the endplate is thicker and denser around a Schmorl's node (its sclerotic rim)
      const double plateTop = b->endplateMm * (pitUpper > 0 ? 2 : 1);
      const double plateBottom = b->endplateMm * (pitLower > 0 ? 2 : 1);

      // cancellous bone: denser under the endplates and the shell, fattier in the middle
      const double periphery = 0.08 * b->cancellousHu * (r2 - 0.45);
      const double cancellous = b->cancellousHu + periphery + b->textureHu * texture;

      double sum = 0;
      double rest = length;
      auto layer = [&](double z0, double z1, double hu)
      {
        const double share = overlap(piece.low, piece.high, z0, z1);
        sum += share * hu;
        rest -= share;
      };
      layer(top, e.z.high + 1, DISC_NUCLEUS_HU);
      layer(e.z.low - 1, bottom, DISC_NUCLEUS_HU);
      layer(top - plateTop, top, b->endplateHu);
      layer(bottom, bottom + plateBottom, b->endplateHu);
      if (b->sclerosisUpperMm > 0)
      {
        const double s = b->sclerosisUpperMm;
        layer(top - plateTop - s / 2, top - plateTop, cancellous + b->sclerosisHu);
        layer(top - plateTop - s, top - plateTop - s / 2, cancellous + b->sclerosisHu * 0.45);
      }
      if (b->sclerosisLowerMm > 0)
      {
        const double s = b->sclerosisLowerMm;
        layer(bottom + plateBottom, bottom + plateBottom + s / 2, cancellous + b->sclerosisHu);
        layer(bottom + plateBottom + s / 2, bottom + plateBottom + s, cancellous + b->sclerosisHu * 0.45);
      }
      sum += std::max(0.0, rest) * cancellous;
      const double inner = length > 0 ? sum / length : cancellous;
      double value = core * inner + (1 - core) * e.corticalHu;

      // the basivertebral venous channel: from the posterior wall forward in the midline, then
      // forking; it breaks through the posterior cortex (the basivertebral foramen)
      {
        const double mid = (e.z.low + e.z.high) / 2;
        const double zShare = length > 0 ? overlap(piece.low, piece.high, mid - b->channelHalfHeightMm,
                                                   mid + b->channelHalfHeightMm) / length : 0;
        if (zShare > 0)
        {
          const double back = e.clipMaxY + 1.5;
          const double fork = e.clipMaxY - b->channelLengthMm;
          double d = capsuleDistance(x, y, e.x0, back, e.x0, fork);
          for (double side : {-1.0, 1.0})
          {
            d = std::min(d, capsuleDistance(x, y, e.x0, fork, e.x0 + side * b->channelLengthMm * 0.45,
                                            fork - b->channelLengthMm * 0.35));
          }
          const double inside = clamp01(0.5 - (d - b->channelHalfWidthMm) * inversePixel);
          const double rim = clamp01(0.5 - (d - b->channelHalfWidthMm - 0.7) * inversePixel) - inside;
          value += zShare * rim * 120;
          value += zShare * inside * (b->channelHu - value);
        }
      }

      // bone islands: dense, with a brush-like margin (spicules merging with the trabeculae)
      for (const BoneIsland& island : b->islands)
      {
        const double du = (x - island.centre[0]) / island.radiiMm[0];
        const double dv = (y - island.centre[1]) / island.radiiMm[1];
        double q = du * du + dv * dv;
        if (q >= 1.6)
        {
          continue;
        }
        q *= 1 + 0.45 * noise(island.marginSeed, x / 0.7, y / 0.7, middle / 0.9);
        if (q >= 1)
        {
          continue;
        }
        const double halfChord = island.radiiMm[2] * std::sqrt(1 - q);
        const double share = length > 0 ? overlap(piece.low, piece.high, island.centre[2] - halfChord,
                                                  island.centre[2] + halfChord) / length : 0;
        value += share * (std::max(island.hu, value) - value);
      }
      return value;
    }
  }
}
