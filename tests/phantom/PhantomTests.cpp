// SPDX-License-Identifier: GPL-3.0-or-later
// The phantom generator: determinism, settings, and ground truth that matches the voxels.
#include "phantom/Phantom.h"

#include "common/AnalysisError.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

using namespace spinemet;

namespace
{
  // Small and quick, but with every kind of finding.
  PhantomSettings smallSettings(uint64_t seed)
  {
    PhantomSettings s;
    s.seed = seed;
    s.levels = "T12-L3";
    s.matrix = 256;
    s.pixelSpacingMm = 0.8;
    s.sliceThicknessMm = 2.0;
    s.difficulty = PhantomDifficulty::Easy;
    return s;
  }

  std::string readFile(const std::filesystem::path& path)
  {
    std::ifstream file(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }

  class TemporaryFolder
  {
  public:
    TemporaryFolder()
    {
      std::random_device device;
      path_ = std::filesystem::temp_directory_path() /
              ("spinemet-phantom-test-" + std::to_string(device()) + std::to_string(device()));
      std::filesystem::create_directories(path_);
    }
    ~TemporaryFolder()
    {
      std::error_code ignored;
      std::filesystem::remove_all(path_, ignored);
    }
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
  };

  size_t volumeIndex(const PhantomStudy& study, const std::string& sopInstanceUid)
  {
    for (size_t k = 0; k < study.series.slices.size(); ++k)
    {
      if (study.series.slices[k].sopInstanceUid == sopInstanceUid)
      {
        return k;
      }
    }
    throw std::runtime_error("no slice " + sopInstanceUid);
  }

  // The volume slice nearest to z.
  size_t sliceAt(const PhantomStudy& study, double z)
  {
    size_t best = 0;
    for (size_t k = 0; k < study.series.slices.size(); ++k)
    {
      if (std::fabs(study.series.slices[k].position - z) < std::fabs(study.series.slices[best].position - z))
      {
        best = k;
      }
    }
    return best;
  }

  // Mean HU over the voxels whose centres lie inside an ellipsoid scaled by `scale`, only on slices
  // whose centre is within the ellipsoid's z extent.
  double meanInside(const PhantomStudy& study, const PhantomLesion& lesion, double scale, size_t* count = nullptr)
  {
    const Volume& volume = study.series.volume;
    double sum = 0;
    size_t n = 0;
    for (size_t k = 0; k < volume.sliceCount(); ++k)
    {
      for (size_t row = 0; row < volume.rows(); ++row)
      {
        for (size_t column = 0; column < volume.columns(); ++column)
        {
          const Vector3 p = volume.toPatient(static_cast<double>(column), static_cast<double>(row),
                                             static_cast<double>(k));
          double q = 0;
          for (int axis = 0; axis < 3; ++axis)
          {
            const double d = (p[axis] - lesion.centre[axis]) / (lesion.radiiMm[axis] * scale);
            q += d * d;
          }
          if (q <= 1)
          {
            sum += volume.at(column, row, k);
            ++n;
          }
        }
      }
    }
    if (count != nullptr) *count = n;
    return n > 0 ? sum / static_cast<double>(n) : NAN;
  }

  // Mean HU of the central part of the vertebral body on its middle slice.
  double meanCancellous(const PhantomStudy& study, const PhantomVertebra& v)
  {
    PhantomLesion core;
    core.centre = v.bodyCentre;
    core.radiiMm = {v.bodyWidthMm * 0.25, v.bodyDepthMm * 0.25, v.bodyHeightMm * 0.25};
    return meanInside(study, core, 1.0);
  }

  const PhantomVertebra& vertebra(const PhantomStudy& study, const std::string& level)
  {
    for (const PhantomVertebra& v : study.truth.vertebrae)
    {
      if (v.level == level) return v;
    }
    throw std::runtime_error("no level " + level);
  }

  const PhantomLesion* lesionIn(const PhantomVertebra& v, const std::string& region)
  {
    for (const PhantomLesion& l : v.lesions)
    {
      if (l.region == region) return &l;
    }
    return nullptr;
  }
}

TEST(PhantomTest, SameSeedGivesIdenticalBytes)
{
  const PhantomSettings settings = smallSettings(7);
  const PhantomStudy first = generatePhantom(settings);
  const PhantomStudy second = generatePhantom(settings);
  TemporaryFolder a, b;
  writePhantomStudy(first, a.path().string());
  writePhantomStudy(second, b.path().string());

  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(a.path()))
  {
    const auto name = entry.path().filename();
    ASSERT_TRUE(std::filesystem::exists(b.path() / name)) << name;
    EXPECT_EQ(readFile(entry.path()), readFile(b.path() / name)) << name << " differs";
    ++files;
  }
  EXPECT_EQ(files, first.truth.slices.size() + 1);

  PhantomSettings other = settings;
  other.seed = 8;
  const PhantomStudy third = generatePhantom(other);
  EXPECT_NE(third.series.attributes.studyInstanceUid, first.series.attributes.studyInstanceUid);
  EXPECT_NE(std::vector<int16_t>(third.series.volume.slice(0), third.series.volume.slice(0) + 1000),
            std::vector<int16_t>(first.series.volume.slice(0), first.series.volume.slice(0) + 1000));
}

TEST(PhantomTest, UidsAreUuidDerivedAndDistinct)
{
  const PhantomStudy study = generatePhantom(smallSettings(11));
  std::vector<std::string> uids{study.series.attributes.studyInstanceUid,
                                study.series.attributes.seriesInstanceUid,
                                study.series.attributes.frameOfReferenceUid};
  for (const SliceReference& slice : study.series.slices)
  {
    uids.push_back(slice.sopInstanceUid);
  }
  for (const std::string& uid : uids)
  {
    EXPECT_EQ(uid.rfind("2.25.", 0), 0u) << uid;
    EXPECT_LE(uid.size(), 64u) << uid;
    EXPECT_NE(uid[5], '0') << uid;
  }
  std::sort(uids.begin(), uids.end());
  EXPECT_EQ(std::adjacent_find(uids.begin(), uids.end()), uids.end());
}

TEST(PhantomTest, SettingsAreHonoured)
{
  PhantomSettings s;
  s.seed = 3;
  s.levels = "L1-L2";
  s.matrix = 256;
  s.pixelSpacingMm = 0.9;
  s.sliceThicknessMm = 3.0;
  s.sliceSpacingMm = 2.0;
  s.order = PhantomSliceOrder::Ascending;
  const PhantomStudy study = generatePhantom(s);
  const VolumeGeometry& g = study.series.volume.geometry();
  EXPECT_EQ(g.rows, 256u);
  EXPECT_EQ(g.columns, 256u);
  EXPECT_DOUBLE_EQ(g.rowSpacing, 0.9);
  EXPECT_DOUBLE_EQ(g.sliceThickness, 3.0);
  EXPECT_DOUBLE_EQ(g.sliceSpacing, 2.0);
  ASSERT_EQ(study.truth.vertebrae.size(), 2u);
  EXPECT_EQ(study.truth.vertebrae[0].level, "L1");
  EXPECT_EQ(study.truth.vertebrae[1].level, "L2");

  // slices cover the two bodies and the discs around them, at the asked spacing
  const double covered = study.truth.vertebrae[0].zMaxMm - study.truth.vertebrae[1].zMinMm;
  EXPECT_GE(g.slices * 2.0, covered);
  for (size_t k = 1; k < study.series.slices.size(); ++k)
  {
    EXPECT_NEAR(study.series.slices[k].position - study.series.slices[k - 1].position, 2.0, 1e-6);
    EXPECT_EQ(study.series.slices[k].instanceNumber, static_cast<int>(k + 1));   // ascending: caudal first
  }
  // truth slices run cranial to caudal
  EXPECT_GT(study.truth.slices.front().zMm, study.truth.slices.back().zMm);
  EXPECT_EQ(study.truth.slices.front().instanceNumber, static_cast<int>(g.slices));

  s.order = PhantomSliceOrder::Descending;
  const PhantomStudy descending = generatePhantom(s);
  EXPECT_EQ(descending.truth.slices.front().instanceNumber, 1);
  EXPECT_EQ(descending.series.slices.front().instanceNumber, static_cast<int>(g.slices));
}

TEST(PhantomTest, RandomAcquisitionVariesWithTheSeedAndExplicitSettingsWin)
{
  std::vector<std::string> seen;
  for (uint64_t seed = 1; seed <= 12; ++seed)
  {
    PhantomSettings s;
    s.seed = seed;
    s.randomAcquisition = true;
    s.levels = "L1";   // keeps the test quick
    const PhantomStudy study = generatePhantom(s);
    const PhantomAcquisition& a = study.acquisition;
    EXPECT_TRUE(a.matrix == 256 || a.matrix == 512);
    EXPECT_GE(a.pixelSpacingMm, 0.5);
    EXPECT_LE(a.pixelSpacingMm, 1.0);
    EXPECT_GE(a.sliceThicknessMm, 0.625);
    EXPECT_LE(a.sliceThicknessMm, 5.0);
    EXPECT_EQ(a.firstLevel, "L1");
    seen.push_back(std::to_string(a.matrix) + "/" + std::to_string(a.pixelSpacingMm) + "/" +
                   std::to_string(a.sliceThicknessMm) + "/" + toString(a.transferSyntax) + "/" + toString(a.order));
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_GE(std::unique(seen.begin(), seen.end()) - seen.begin(), 8);

  PhantomSettings s;
  s.seed = 5;
  s.randomAcquisition = true;
  s.levels = "L2";
  s.matrix = 256;
  s.transferSyntax = PhantomTransferSyntax::Rle;
  const PhantomStudy study = generatePhantom(s);
  EXPECT_EQ(study.acquisition.matrix, 256u);
  EXPECT_EQ(study.acquisition.transferSyntax, PhantomTransferSyntax::Rle);
}

TEST(PhantomTest, TissuesHaveCtValues)
{
  PhantomSettings s = smallSettings(21);
  s.labels = parsePhantomLabels("T12=normal,L1=normal,L2=normal,L3=normal");
  const PhantomStudy study = generatePhantom(s);
  const Volume& volume = study.series.volume;

  // air in the corner, fat, soft tissue, cancellous and cortical bone somewhere on the middle slice
  const PhantomVertebra& l1 = vertebra(study, "L1");
  const size_t k = sliceAt(study, l1.bodyCentre[2]);
  EXPECT_LT(volume.at(2, 2, k), -900);
  size_t fat = 0, soft = 0, cortical = 0;
  for (size_t i = 0; i < volume.rows() * volume.columns(); ++i)
  {
    const int16_t hu = volume.slice(k)[i];
    fat += hu > -150 && hu < -50;
    soft += hu > 0 && hu < 80;
    cortical += hu >= 700;
  }
  EXPECT_GT(fat, 500u);
  EXPECT_GT(soft, 5000u);
  EXPECT_GT(cortical, 20u);

  for (const PhantomVertebra& v : study.truth.vertebrae)
  {
    const double cancellous = meanCancellous(study, v);
    EXPECT_GE(cancellous, 150) << v.level;
    EXPECT_LE(cancellous, 300) << v.level;
    // the truth's pixel centre is in the body on its middle slice
    const size_t middle = sliceAt(study, v.bodyCentre[2]);
    EXPECT_GT(volume.at(static_cast<size_t>(std::lround(v.bodyCentreColumn)),
                        static_cast<size_t>(std::lround(v.bodyCentreRow)), middle), 100) << v.level;
  }

  // discs: between two bodies, at the column's centre, disc HU (about 80)
  const PhantomVertebra& l2 = vertebra(study, "L2");
  const double discZ = (l1.zMinMm + l2.zMaxMm) / 2;
  const size_t disc = sliceAt(study, discZ);
  ASSERT_LT(std::fabs(study.series.slices[disc].position - discZ), 1.5);
  PhantomLesion discCore;
  discCore.centre = {(l1.bodyCentre[0] + l2.bodyCentre[0]) / 2, (l1.bodyCentre[1] + l2.bodyCentre[1]) / 2,
                     study.series.slices[disc].position};
  discCore.radiiMm = {8, 6, 0.1};
  const double discHu = meanInside(study, discCore, 1.0);
  EXPECT_GT(discHu, 50);
  EXPECT_LT(discHu, 120);

  // slices on discs belong to no vertebra and carry the normal labels
  for (const PhantomSlice& slice : study.truth.slices)
  {
    if (slice.vertebra < 0)
    {
      EXPECT_EQ(slice.boneQuality, BoneQuality::Normal);
      EXPECT_EQ(slice.posterolateral, Posterolateral::None);
    }
  }
}

TEST(PhantomTest, LesionsMatchTheirLabels)
{
  PhantomSettings s = smallSettings(5);
  s.difficulty = PhantomDifficulty::Normal;
  s.labels = parsePhantomLabels("T12=lytic:none,L1=blastic:none,L2=normal,L3=mixed:none");
  const PhantomStudy study = generatePhantom(s);
  const double normal = meanCancellous(study, vertebra(study, "L2"));

  const PhantomVertebra& lytic = vertebra(study, "T12");
  EXPECT_EQ(lytic.boneQuality, BoneQuality::Lytic);
  ASSERT_FALSE(lytic.lesions.empty());
  for (const PhantomLesion& l : lytic.lesions)
  {
    EXPECT_EQ(l.kind, "lytic");
    size_t count = 0;
    const double mean = meanInside(study, l, 0.5, &count);
    ASSERT_GT(count, 3u);
    EXPECT_LT(mean, normal - 60) << "lytic lesion mean " << mean << " vs normal " << normal;
  }
  const PhantomVertebra& blastic = vertebra(study, "L1");
  ASSERT_FALSE(blastic.lesions.empty());
  for (const PhantomLesion& l : blastic.lesions)
  {
    EXPECT_EQ(l.kind, "blastic");
    size_t count = 0;
    const double mean = meanInside(study, l, 0.5, &count);
    ASSERT_GT(count, 0u);
    EXPECT_GT(mean, normal + 200) << "blastic focus mean " << mean << " vs normal " << normal;
  }
  const PhantomVertebra& mixed = vertebra(study, "L3");
  const bool hasLytic = std::any_of(mixed.lesions.begin(), mixed.lesions.end(),
                                    [](const PhantomLesion& l) { return l.kind == "lytic"; });
  const bool hasBlastic = std::any_of(mixed.lesions.begin(), mixed.lesions.end(),
                                      [](const PhantomLesion& l) { return l.kind == "blastic"; });
  EXPECT_TRUE(hasLytic && hasBlastic);
  EXPECT_TRUE(vertebra(study, "L2").lesions.empty());

  // slices of a lesional vertebra inherit its label; lesion_visible marks those that show it, and
  // the per-kind flags say which kind shows
  size_t visible = 0, mixedBlasticOnly = 0, mixedLyticOnly = 0, mixedBoth = 0;
  for (const PhantomSlice& slice : study.truth.slices)
  {
    EXPECT_EQ(slice.lesionVisible, slice.blasticLesionVisible || slice.lyticLesionVisible);
    if (slice.vertebra == lytic.index)
    {
      EXPECT_EQ(slice.boneQuality, BoneQuality::Lytic);
      EXPECT_FALSE(slice.blasticLesionVisible);
      visible += slice.lesionVisible;
    }
    if (slice.vertebra == blastic.index)
    {
      EXPECT_FALSE(slice.lyticLesionVisible);
    }
    if (slice.vertebra == mixed.index)
    {
      mixedBlasticOnly += slice.blasticLesionVisible && !slice.lyticLesionVisible;
      mixedLyticOnly += slice.lyticLesionVisible && !slice.blasticLesionVisible;
      mixedBoth += slice.blasticLesionVisible && slice.lyticLesionVisible;
    }
    if (slice.vertebra == vertebra(study, "L2").index)
    {
      EXPECT_FALSE(slice.lesionVisible);
    }
  }
  EXPECT_GT(visible, 0u);
  EXPECT_GT(mixedBlasticOnly + mixedBoth, 0u);
  EXPECT_GT(mixedLyticOnly + mixedBoth, 0u);
}

TEST(PhantomTest, PosterolateralInvolvementIsInThePedicles)
{
  for (const char* kind : {"lytic", "blastic"})
  {
    PhantomSettings s = smallSettings(9);
    s.difficulty = PhantomDifficulty::Normal;
    s.labels = parsePhantomLabels(std::string("T12=") + kind + ":bilateral,L1=" + kind +
                                  ":unilateral-left,L2=" + kind + ":unilateral-right,L3=normal");
    const PhantomStudy study = generatePhantom(s);
    const bool lytic = std::string(kind) == "lytic";

    auto pedicleMean = [&](const PhantomVertebra& v, const PhantomLesion& lesion, bool mirrored)
    {
      PhantomLesion probe = lesion;
      if (mirrored)
      {
        probe.centre[0] = 2 * v.bodyCentre[0] - lesion.centre[0];
      }
      probe.radiiMm = {1.5, 2.5, lesion.radiiMm[2] * 0.6};
      return meanInside(study, probe, 1.0);
    };
    auto involved = [&](double mean) { return lytic ? mean < 130 : mean > 450; };

    const PhantomVertebra& both = vertebra(study, "T12");
    EXPECT_EQ(both.posterolateral, Posterolateral::Bilateral);
    const PhantomLesion* left = lesionIn(both, "left-pedicle");
    const PhantomLesion* right = lesionIn(both, "right-pedicle");
    ASSERT_TRUE(left != nullptr && right != nullptr) << kind;
    EXPECT_GT(left->centre[0], both.bodyCentre[0]);    // patient left is +x
    EXPECT_LT(right->centre[0], both.bodyCentre[0]);
    EXPECT_TRUE(involved(pedicleMean(both, *left, false))) << kind << " " << pedicleMean(both, *left, false);
    EXPECT_TRUE(involved(pedicleMean(both, *right, false))) << kind << " " << pedicleMean(both, *right, false);

    for (const char* level : {"L1", "L2"})
    {
      const PhantomVertebra& one = vertebra(study, level);
      EXPECT_EQ(one.posterolateral, Posterolateral::Unilateral);
      const bool isLeft = std::string(level) == "L1";
      EXPECT_EQ(one.side, isLeft ? LesionSide::Left : LesionSide::Right);
      const PhantomLesion* lesion = lesionIn(one, isLeft ? "left-pedicle" : "right-pedicle");
      ASSERT_TRUE(lesion != nullptr);
      EXPECT_EQ(lesionIn(one, isLeft ? "right-pedicle" : "left-pedicle"), nullptr);
      const double inside = pedicleMean(one, *lesion, false);
      const double otherSide = pedicleMean(one, *lesion, true);
      EXPECT_TRUE(involved(inside)) << kind << " " << level << " " << inside;
      EXPECT_FALSE(involved(otherSide)) << kind << " " << level << " " << otherSide;
    }

    size_t posterolateralSlices = 0, bothSides = 0;
    for (const PhantomSlice& slice : study.truth.slices)
    {
      posterolateralSlices += slice.posterolateralLesionVisible;
      EXPECT_EQ(slice.posterolateralLesionVisible, slice.posterolateralVisibleSide != LesionSide::None);
      if (slice.posterolateralLesionVisible)
      {
        EXPECT_TRUE(slice.lesionVisible);
        // only the involved sides show
        EXPECT_TRUE(slice.side == LesionSide::Both || slice.posterolateralVisibleSide == slice.side)
          << "slice at " << slice.zMm << " shows " << toString(slice.posterolateralVisibleSide)
          << " of a vertebra involved " << toString(slice.side);
      }
      bothSides += slice.posterolateralVisibleSide == LesionSide::Both;
    }
    EXPECT_GT(bothSides, 0u);   // the bilateral vertebra shows both pedicles on some slice
    EXPECT_GE(posterolateralSlices, 3u);
  }
}

TEST(PhantomTest, LabelProbabilitiesAreHonoured)
{
  PhantomSettings s = smallSettings(2);
  s.levels = "T1-L5";
  s.sliceThicknessMm = 5;
  s.lesionProbability = 0;
  for (const PhantomVertebra& v : generatePhantom(s).truth.vertebrae)
  {
    EXPECT_EQ(v.boneQuality, BoneQuality::Normal);
    EXPECT_TRUE(v.lesions.empty());
  }
  s.lesionProbability = 1;
  s.lesionTypeWeights = {0, 1, 0};
  s.posterolateralProbability = 1;
  s.bilateralProbability = 1;
  const PhantomStudy study = generatePhantom(s);
  ASSERT_EQ(study.truth.vertebrae.size(), 17u);
  for (const PhantomVertebra& v : study.truth.vertebrae)
  {
    EXPECT_EQ(v.boneQuality, BoneQuality::Lytic);
    EXPECT_EQ(v.posterolateral, Posterolateral::Bilateral);
  }
  // the column is curved: the vertebrae lean, so the body centre moves from slice to slice
  double largestLean = 0;
  for (const PhantomVertebra& v : study.truth.vertebrae)
  {
    double rowMin = 1e9, rowMax = -1e9;
    for (const PhantomSlice& slice : study.truth.slices)
    {
      if (slice.vertebra == v.index)
      {
        rowMin = std::min(rowMin, slice.bodyCentreRow);
        rowMax = std::max(rowMax, slice.bodyCentreRow);
      }
    }
    largestLean = std::max(largestLean, rowMax - rowMin);
  }
  EXPECT_GT(largestLean * 0.8, 1.0) << "no vertebra leans by more than a millimetre";
  // sizes grow down the column
  EXPECT_LT(study.truth.vertebrae.front().bodyWidthMm, study.truth.vertebrae.back().bodyWidthMm);
  EXPECT_LT(study.truth.vertebrae.front().bodyHeightMm, study.truth.vertebrae.back().bodyHeightMm);
}

TEST(PhantomTest, BadSettingsAreRejectedWithTheirName)
{
  auto code = [](const PhantomSettings& s) -> std::string
  {
    try
    {
      generatePhantom(s);
    }
    catch (const AnalysisError& e)
    {
      return e.code() + ": " + e.what();
    }
    return "accepted";
  };
  PhantomSettings s;
  s.matrix = 300;
  EXPECT_NE(code(s).find("matrix"), std::string::npos);
  s = PhantomSettings();
  s.pixelSpacingMm = 2;
  EXPECT_NE(code(s).find("pixel spacing"), std::string::npos);
  s = PhantomSettings();
  s.levels = "L2-T1";
  EXPECT_NE(code(s).find("cranial to caudal"), std::string::npos);
  s = PhantomSettings();
  // C3-C7 and S1 are modelled (issue 15); C2 and the sacral segments below S1 are not levels
  s.levels = "C2";
  EXPECT_NE(code(s).find("unknown vertebral level"), std::string::npos);
  s.levels = "L5-S2";
  EXPECT_NE(code(s).find("unknown vertebral level"), std::string::npos);
  s = PhantomSettings();
  s.transitional = TransitionalVertebra::SacralisedL5;
  EXPECT_THROW(parseTransitionalVertebra("sacral"), AnalysisError);
  s = PhantomSettings();
  s.labels = parsePhantomLabels("T5=lytic");
  EXPECT_NE(code(s).find("outside the levels covered (T12-L2)"), std::string::npos);
  s = PhantomSettings();
  s.lesionProbability = 1.5;
  EXPECT_EQ(code(s).rfind("phantom-settings", 0), 0u);

  EXPECT_THROW(parsePhantomLabels("T11=osteoporotic"), AnalysisError);
  EXPECT_THROW(parsePhantomLabels("T11=normal:bilateral"), AnalysisError);
  EXPECT_THROW(parsePhantomLabels("T11"), AnalysisError);
  try
  {
    parsePhantomLabels("T11=lytic,t11=blastic");
    ADD_FAILURE() << "a level labelled twice was accepted";
  }
  catch (const AnalysisError& error)
  {
    EXPECT_EQ(error.code(), "phantom-settings");
    EXPECT_NE(std::string(error.what()).find("label \"t11=blastic\": T11 is labelled twice"), std::string::npos) << error.what();
  }
  EXPECT_THROW(parsePhantomTransferSyntax("jpeg2000"), AnalysisError);
  const auto labels = parsePhantomLabels("t11=Lytic:unilateral-right, L1=mixed");
  ASSERT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels.at("T11").side, LesionSide::Right);
  EXPECT_EQ(labels.at("L1").boneQuality, BoneQuality::Mixed);
}

TEST(PhantomTest, VolumeAndReferencesAgree)
{
  const PhantomStudy study = generatePhantom(smallSettings(13));
  const Series& series = study.series;
  ASSERT_EQ(series.slices.size(), series.volume.sliceCount());
  ASSERT_EQ(study.truth.slices.size(), series.volume.sliceCount());
  for (size_t k = 0; k < series.slices.size(); ++k)
  {
    EXPECT_NEAR(series.volume.toPatient(0, 0, static_cast<double>(k))[2], series.slices[k].position, 1e-6);
    if (k > 0)
    {
      EXPECT_GT(series.slices[k].position, series.slices[k - 1].position);
    }
  }
  for (const PhantomVertebra& v : study.truth.vertebrae)
  {
    ASSERT_FALSE(v.sopInstanceUids.empty()) << v.level;
    for (const std::string& uid : v.sopInstanceUids)
    {
      const double z = series.slices[volumeIndex(study, uid)].position;
      EXPECT_GE(z, v.zMinMm);
      EXPECT_LE(z, v.zMaxMm);
    }
  }
  // the per-slice body centre is in bone on every slice of a vertebra, away from the endplates
  for (const PhantomSlice& slice : study.truth.slices)
  {
    if (slice.vertebra < 0)
    {
      EXPECT_EQ(slice.bodyCentreColumn, -1);
      continue;
    }
    const PhantomVertebra& v = study.truth.vertebrae[slice.vertebra];
    if (slice.zMm < v.zMinMm + 2 || slice.zMm > v.zMaxMm - 2)
    {
      continue;
    }
    const size_t k = volumeIndex(study, slice.sopInstanceUid);
    EXPECT_GT(series.volume.at(static_cast<size_t>(std::lround(slice.bodyCentreColumn)),
                               static_cast<size_t>(std::lround(slice.bodyCentreRow)), k), 100)
      << v.level << " at z " << slice.zMm;
  }
  EXPECT_EQ(series.attributes.patientName, "PHANTOM^SPINE^13");
  EXPECT_EQ(series.attributes.bodyPartExamined, "SPINE");
}

TEST(PhantomTest, EveryDifficultyDrawsWithinItsRangesAndTheVoxelsFollow)
{
  for (PhantomDifficulty difficulty : {PhantomDifficulty::Easy, PhantomDifficulty::Normal, PhantomDifficulty::Hard})
  for (uint64_t seed : {31, 32})
  {
    PhantomSettings s = smallSettings(seed);
    s.difficulty = difficulty;
    s.noiseSigmaHu = 10;
    s.labels = parsePhantomLabels("T12=lytic,L1=blastic,L2=mixed,L3=normal");
    const PhantomStudy study = generatePhantom(s);
    const PhantomLesionRanges ranges = phantomLesionRanges(difficulty);
    size_t measured = 0;
    for (const PhantomVertebra& v : study.truth.vertebrae)
    {
      for (const PhantomLesion& l : v.lesions)
      {
        const bool lytic = l.kind == "lytic";
        EXPECT_GE(l.hu, lytic ? ranges.lyticHuMin : ranges.blasticHuMin) << toString(difficulty);
        EXPECT_LE(l.hu, lytic ? ranges.lyticHuMax : ranges.blasticHuMax) << toString(difficulty);
        EXPECT_LE(std::max({l.radiiMm[0], l.radiiMm[1]}), ranges.radiusMaxMm * 1.2 * 1.1) << toString(difficulty);
        // lesions big enough to hold whole voxels in their core read their own HU
        if (std::min({l.radiiMm[0], l.radiiMm[1], l.radiiMm[2]}) < 3.5)
        {
          continue;
        }
        size_t count = 0;
        const double mean = meanInside(study, l, 0.4, &count);
        if (count < 4)
        {
          continue;
        }
        ++measured;
        EXPECT_NEAR(mean, l.hu, lytic ? 35 : 0.2 * l.hu)
          << toString(difficulty) << " " << v.level << " " << l.kind << " lesion in the " << l.region;
      }
    }
    if (difficulty != PhantomDifficulty::Hard)   // hard lesions are too small to hold a clean core
    {
      EXPECT_GT(measured, 0u) << toString(difficulty);
    }
    EXPECT_TRUE(std::any_of(study.truth.slices.begin(), study.truth.slices.end(),
                            [](const PhantomSlice& slice) { return slice.lesionVisible; }))
      << toString(difficulty);
  }
}

namespace
{
  // Is there bone (>= 150 HU) at `lateralMm` either side of a vertebra's body, level with the
  // back half of the body, on its middle slice? The sacral alae are; a lumbar body has the psoas.
  bool boneBesideBothSides(const PhantomStudy& study, const PhantomVertebra& v, double lateralMm)
  {
    const Volume& volume = study.series.volume;
    const size_t k = sliceAt(study, v.bodyCentre[2]);
    const double spacing = volume.geometry().columnSpacing;
    bool sides[2] = {false, false};
    for (int side = 0; side < 2; ++side)
    {
      const double column = v.bodyCentreColumn + (side == 0 ? -1 : 1) * lateralMm / spacing;
      for (double rowMm = 0; rowMm <= v.bodyDepthMm * 0.7; rowMm += spacing)
      {
        const double row = v.bodyCentreRow + rowMm / spacing;
        sides[side] = sides[side] || volume.at(static_cast<size_t>(std::lround(column)),
                                               static_cast<size_t>(std::lround(row)), k) >= 150;
      }
    }
    return sides[0] && sides[1];
  }
}

// Issue 15: the lower cervical spine and the sacrum are levels a study may cover, with the
// variants recorded in the ground truth and in the UIDs.
TEST(PhantomTest, CervicalSpineSacrumAndTheirVariantsAreModelled)
{
  PhantomSettings pelvic = smallSettings(31);
  pelvic.levels = "L4-S1";
  const PhantomStudy sacrum = generatePhantom(pelvic);
  ASSERT_EQ(sacrum.truth.vertebrae.size(), 3u);
  EXPECT_EQ(sacrum.truth.vertebrae[2].level, "S1");
  const PhantomVertebra& s1 = vertebra(sacrum, "S1");
  const PhantomVertebra& l5 = vertebra(sacrum, "L5");
  EXPECT_TRUE(boneBesideBothSides(sacrum, s1, 45)) << "no alae beside S1";
  EXPECT_FALSE(boneBesideBothSides(sacrum, l5, 45)) << "bone beside L5";

  // A sacralised L5 carries alae of its own, and is recorded.
  PhantomSettings sacralised = pelvic;
  sacralised.transitional = TransitionalVertebra::SacralisedL5;
  const PhantomStudy transitional = generatePhantom(sacralised);
  EXPECT_TRUE(boneBesideBothSides(transitional, vertebra(transitional, "L5"), 45));
  EXPECT_NE(transitional.series.attributes.studyInstanceUid, sacrum.series.attributes.studyInstanceUid);
  EXPECT_NE(phantomGroundTruthJson(transitional).find("\"transitional_vertebra\" : \"sacralised-l5\""), std::string::npos);

  PhantomSettings neck = smallSettings(32);
  neck.levels = "C5-T1";
  neck.cervicalRib = true;
  const PhantomStudy cervical = generatePhantom(neck);
  ASSERT_EQ(cervical.truth.vertebrae.size(), 4u);   // C5, C6, C7, T1
  EXPECT_EQ(cervical.truth.vertebrae.front().level, "C5");
  EXPECT_LT(vertebra(cervical, "C6").bodyWidthMm, vertebra(cervical, "T1").bodyWidthMm);
  EXPECT_NE(phantomGroundTruthJson(cervical).find("\"cervical_rib\" : true"), std::string::npos);
}
