// SPDX-License-Identifier: GPL-3.0-or-later
// Realistic normal bone (PhantomBoneModel::Realistic, docs/phantom.md "Realistic bone"): body HU
// and texture within the documented ranges, bone islands present, small and no lesion, lesions
// still rendered with their visibility flags, determinism, and the simple default untouched.
#include "phantom/Phantom.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

using namespace spinemet;

namespace
{
  PhantomSettings realisticSettings(uint64_t seed)
  {
    PhantomSettings s;
    s.seed = seed;
    s.levels = "T11-L3";
    s.matrix = 256;
    s.pixelSpacingMm = 0.8;
    s.sliceThicknessMm = 2.0;
    s.bone = PhantomBoneModel::Realistic;
    return s;
  }

  // The voxels whose centres lie inside an ellipsoid (axes along x, y, z) scaled by `scale`.
  std::vector<double> voxelsInside(const PhantomStudy& study, const Vector3& centre, const Vector3& radii,
                                   double scale)
  {
    const Volume& volume = study.series.volume;
    std::vector<double> values;
    for (size_t k = 0; k < volume.sliceCount(); ++k)
    {
      const double z = volume.toPatient(0, 0, static_cast<double>(k))[2];
      if (std::fabs(z - centre[2]) > radii[2] * scale)
      {
        continue;
      }
      for (size_t row = 0; row < volume.rows(); ++row)
      {
        for (size_t column = 0; column < volume.columns(); ++column)
        {
          const Vector3 p = volume.toPatient(static_cast<double>(column), static_cast<double>(row),
                                             static_cast<double>(k));
          double q = 0;
          for (int axis = 0; axis < 3; ++axis)
          {
            const double d = (p[axis] - centre[axis]) / (radii[axis] * scale);
            q += d * d;
          }
          if (q <= 1)
          {
            values.push_back(volume.at(column, row, k));
          }
        }
      }
    }
    return values;
  }

  // The cancellous core of a body: 0.6 of its width and depth, the middle half of its height.
  std::vector<double> bodyCore(const PhantomStudy& study, const PhantomVertebra& v)
  {
    return voxelsInside(study, v.bodyCentre, Vector3{v.bodyWidthMm * 0.3, v.bodyDepthMm * 0.3, v.bodyHeightMm * 0.25},
                        1.0);
  }

  double median(std::vector<double> values)
  {
    std::sort(values.begin(), values.end());
    return values.empty() ? NAN : values[values.size() / 2];
  }

  double standardDeviation(const std::vector<double>& values)
  {
    double sum = 0, squares = 0;
    for (double v : values)
    {
      sum += v;
      squares += v * v;
    }
    const double n = static_cast<double>(values.size());
    return std::sqrt(std::max(0.0, squares / n - (sum / n) * (sum / n)));
  }

  bool coreIsFree(const PhantomVertebra& v)
  {
    // no lesion and no bone island in the measured core (they are measured elsewhere)
    for (const PhantomLesion& l : v.normalFindings)
    {
      if (l.kind == "bone-island") return false;
    }
    return v.lesions.empty();
  }
}

TEST(PhantomRealisticBone, BodyHuAndTextureFallInTheDocumentedRanges)
{
  std::vector<double> medians;
  size_t measured = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed)
  {
    PhantomSettings settings = realisticSettings(seed);
    settings.lesionProbability = 0;
    const PhantomStudy realistic = generatePhantom(settings);
    settings.bone = PhantomBoneModel::Simple;
    const PhantomStudy simple = generatePhantom(settings);
    for (size_t i = 0; i < realistic.truth.vertebrae.size(); ++i)
    {
      const PhantomVertebra& v = realistic.truth.vertebrae[i];
      if (!coreIsFree(v))
      {
        continue;
      }
      const std::vector<double> core = bodyCore(realistic, v);
      ASSERT_GT(core.size(), 100u) << v.level;
      const double m = median(core);
      const double sd = standardDeviation(core);
      // docs/phantom.md: cancellous 50-320 HU (osteopenic to young), SD 25-150 HU with the noise
      EXPECT_GE(m, 40) << "seed " << seed << " " << v.level;
      EXPECT_LE(m, 340) << "seed " << seed << " " << v.level;
      EXPECT_GE(sd, 25) << "seed " << seed << " " << v.level;
      EXPECT_LE(sd, 150) << "seed " << seed << " " << v.level;
      // heterogeneous where simple bone is not: more than the noise alone
      const double simpleSd = standardDeviation(bodyCore(simple, simple.truth.vertebrae[i]));
      EXPECT_GT(sd, simpleSd + 5) << "seed " << seed << " " << v.level;
      medians.push_back(m);
      ++measured;
    }
  }
  ASSERT_GE(measured, 20u);
  // one density per patient: the patients differ
  const auto [lowest, highest] = std::minmax_element(medians.begin(), medians.end());
  EXPECT_GT(*highest - *lowest, 60) << "the per-patient density hardly varies";
}

TEST(PhantomRealisticBone, BoneIslandsArePresentSmallDenseAndNoLesion)
{
  size_t islands = 0;
  for (uint64_t seed = 1; seed <= 12 && islands < 3; ++seed)
  {
    PhantomSettings settings = realisticSettings(seed);
    settings.levels = "T8-L5";
    settings.lesionProbability = 0;
    const PhantomStudy study = generatePhantom(settings);
    for (const PhantomVertebra& v : study.truth.vertebrae)
    {
      EXPECT_EQ(v.boneQuality, BoneQuality::Normal);
      for (const PhantomLesion& finding : v.normalFindings)
      {
        if (finding.kind != "bone-island")
        {
          continue;
        }
        ++islands;
        for (double radius : finding.radiiMm)
        {
          EXPECT_LE(2 * radius, 10.0) << "a bone island is under 1 cm";
        }
        // dense: its middle reads well above the body's cancellous bone
        const std::vector<double> inside = voxelsInside(study, finding.centre, finding.radiiMm, 0.5);
        if (!inside.empty() && finding.radiiMm[0] >= 2.0 && finding.radiiMm[2] >= 2.0)
        {
          EXPECT_GT(median(inside), median(bodyCore(study, v)) + 250) << v.level << " seed " << seed;
        }
      }
    }
    // no slice shows a lesion: islands, sclerosis, nodes and spurs are normal
    for (const PhantomSlice& slice : study.truth.slices)
    {
      EXPECT_FALSE(slice.lesionVisible);
      EXPECT_FALSE(slice.blasticLesionVisible);
      EXPECT_EQ(slice.boneQuality, BoneQuality::Normal);
    }
  }
  EXPECT_GE(islands, 3u);
}

TEST(PhantomRealisticBone, LesionsRenderOnRealisticBoneWithTheSameFlags)
{
  PhantomSettings settings = realisticSettings(7);
  settings.levels = "T10-L3";
  settings.difficulty = PhantomDifficulty::Easy;
  settings.labels = parsePhantomLabels("T11=lytic:bilateral,L1=blastic:unilateral-left,L2=mixed,T12=normal,L3=normal,T10=normal");
  const PhantomStudy realistic = generatePhantom(settings);
  settings.bone = PhantomBoneModel::Simple;
  const PhantomStudy simple = generatePhantom(settings);

  ASSERT_EQ(realistic.truth.vertebrae.size(), simple.truth.vertebrae.size());
  for (size_t i = 0; i < realistic.truth.vertebrae.size(); ++i)
  {
    const PhantomVertebra& r = realistic.truth.vertebrae[i];
    const PhantomVertebra& s = simple.truth.vertebrae[i];
    EXPECT_EQ(r.boneQuality, s.boneQuality);
    EXPECT_EQ(r.side, s.side);
    ASSERT_EQ(r.lesions.size(), s.lesions.size()) << r.level;
    const double bone = median(bodyCore(realistic, r));
    for (size_t k = 0; k < r.lesions.size(); ++k)
    {
      const PhantomLesion& l = r.lesions[k];
      EXPECT_EQ(l.kind, s.lesions[k].kind);
      EXPECT_EQ(l.centre, s.lesions[k].centre);
      EXPECT_EQ(l.radiiMm, s.lesions[k].radiiMm);
      const double inside = median(voxelsInside(realistic, l.centre, l.radiiMm, 0.5));
      if (l.kind == "lytic")
      {
        EXPECT_LE(l.hu, s.lesions[k].hu);   // lowered in osteopenic bone only
        if (l.region == "body")
        {
          EXPECT_LT(inside, bone - 40) << r.level;
        }
      }
      else
      {
        EXPECT_EQ(l.hu, s.lesions[k].hu);
        if (l.region == "body")
        {
          EXPECT_GT(inside, bone + 200) << r.level;
        }
      }
    }
  }
  // the per-slice visibility flags come from the lesions' geometry, not from the bone
  ASSERT_EQ(realistic.truth.slices.size(), simple.truth.slices.size());
  size_t differing = 0;
  for (size_t k = 0; k < realistic.truth.slices.size(); ++k)
  {
    const PhantomSlice& r = realistic.truth.slices[k];
    const PhantomSlice& s = simple.truth.slices[k];
    differing += (r.lesionVisible != s.lesionVisible || r.lyticLesionVisible != s.lyticLesionVisible ||
                  r.blasticLesionVisible != s.blasticLesionVisible ||
                  r.posterolateralVisibleSide != s.posterolateralVisibleSide) ? 1 : 0;
  }
  EXPECT_EQ(differing, 0u);
}

TEST(PhantomRealisticBone, SameSeedSameVoxelsAndTheSimpleDefaultIsUntouched)
{
  const PhantomSettings settings = realisticSettings(5);
  const PhantomStudy first = generatePhantom(settings);
  const PhantomStudy second = generatePhantom(settings);
  const Volume& a = first.series.volume;
  ASSERT_EQ(a.sliceCount(), second.series.volume.sliceCount());
  for (size_t k = 0; k < a.sliceCount(); ++k)
  {
    ASSERT_TRUE(std::equal(a.slice(k), a.slice(k) + a.columns() * a.rows(), second.series.volume.slice(k)))
      << "slice " << k;
  }
  EXPECT_EQ(phantomGroundTruthJson(first), phantomGroundTruthJson(second));

  // Simple is the default, and it is what the options without --bone give.
  PhantomSettings plain = settings;
  plain.bone = PhantomBoneModel::Simple;
  EXPECT_EQ(PhantomSettings{}.bone, PhantomBoneModel::Simple);
  const PhantomStudy simple = generatePhantom(plain);
  EXPECT_NE(simple.series.attributes.studyInstanceUid, first.series.attributes.studyInstanceUid);
  // The realistic bone draws from streams of its own: the acquisition, the labels, the lesions
  // and the noise of the simple study are the same. Were any draw of the simple study moved,
  // the noise would differ in every voxel; as it is, only the bone and its partial-volume
  // surroundings differ.
  EXPECT_EQ(simple.series.volume.geometry().slices, a.sliceCount());
  ASSERT_EQ(simple.truth.vertebrae.size(), first.truth.vertebrae.size());
  for (size_t i = 0; i < first.truth.vertebrae.size(); ++i)
  {
    EXPECT_EQ(simple.truth.vertebrae[i].boneQuality, first.truth.vertebrae[i].boneQuality);
    EXPECT_EQ(simple.truth.vertebrae[i].lesions.size(), first.truth.vertebrae[i].lesions.size());
    EXPECT_EQ(simple.truth.vertebrae[i].zMinMm, first.truth.vertebrae[i].zMinMm);
  }
  const Volume& b = simple.series.volume;
  size_t compared = 0, equal = 0;
  for (size_t k = 0; k < a.sliceCount(); ++k)
  {
    for (size_t i = 0; i < a.columns() * a.rows(); ++i)
    {
      ++compared;
      equal += a.slice(k)[i] == b.slice(k)[i] ? 1 : 0;
    }
  }
  EXPECT_GT(static_cast<double>(equal), 0.9 * static_cast<double>(compared));
  // ... and the column is not
  const PhantomVertebra& v = first.truth.vertebrae[1];
  EXPECT_NE(bodyCore(first, v), bodyCore(simple, simple.truth.vertebrae[1]));
  const std::string json = phantomGroundTruthJson(first);
  EXPECT_NE(json.find("\"bone\" : \"realistic\""), std::string::npos);
  EXPECT_NE(phantomGroundTruthJson(simple).find("\"bone\" : \"simple\""), std::string::npos);
  EXPECT_EQ(phantomGroundTruthJson(simple).find("normal_findings"), std::string::npos);
}

TEST(PhantomRealisticBone, BoneModelNamesParse)
{
  EXPECT_EQ(parsePhantomBoneModel("realistic"), PhantomBoneModel::Realistic);
  EXPECT_EQ(parsePhantomBoneModel(" Simple "), PhantomBoneModel::Simple);
  EXPECT_STREQ(toString(PhantomBoneModel::Realistic), "realistic");
  EXPECT_THROW(parsePhantomBoneModel("real"), std::exception);
}
