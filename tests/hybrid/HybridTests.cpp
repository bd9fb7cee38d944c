// SPDX-License-Identifier: GPL-3.0-or-later
// spinemet_hybrid (docs/hybrid.md): the ground truth matches the voxels changed, lesion cores read
// their target HU, the image's noise is kept, one seed gives one set of bytes, and bad input is
// refused naming what is wrong. A lesion-free phantom is the always-available background; the
// real CTs of ../shared are used where present (NOT RUN otherwise).

#include "hybrid/Hybrid.h"

#include "common/AnalysisError.h"
#include "phantom/Phantom.h"
#include "volume/SeriesLoader.h"
#include "volume/SliceSource.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace spinemet
{
  namespace
  {
    namespace fs = std::filesystem;

    fs::path temporaryFolder(const std::string& name)
    {
      const fs::path folder = fs::temp_directory_path() /
                              ("spinemet-hybrid-test-" + name + "-" + std::to_string(::getpid()));
      fs::remove_all(folder);
      fs::create_directories(folder);
      return folder;
    }

    // A lesion-free phantom: the background every test can have.
    PhantomStudy lesionFreePhantom(PhantomTransferSyntax syntax = PhantomTransferSyntax::ExplicitLittleEndian)
    {
      PhantomSettings settings;
      settings.seed = 5;
      settings.levels = "T11-L2";
      settings.matrix = 256;
      settings.pixelSpacingMm = 0.8;
      settings.sliceThicknessMm = 2;
      settings.lesionProbability = 0;
      settings.transferSyntax = syntax;
      return generatePhantom(settings);
    }

    const Series& phantomBackground()
    {
      static const Series series = lesionFreePhantom().series;
      return series;
    }

    HybridSettings forcedSettings(const std::string& labels, uint64_t seed = 3)
    {
      HybridSettings settings;
      settings.seed = seed;
      settings.lesionProbability = 0;
      settings.labels = parseHybridLabels(labels);
      return settings;
    }

    size_t minimumVisibleVoxels(const VolumeGeometry& g)
    {
      return std::max<size_t>(3, static_cast<size_t>(std::ceil(VISIBLE_AREA_MM2 / (g.columnSpacing * g.rowSpacing))));
    }

    // The checks of the issue: a normal vertebra has no changed voxel, a lesion's changed voxels
    // lie in its vertebra, and each slice's lesion_visible matches the voxels changed there.
    void expectTruthMatchesChangedVoxels(const HybridStudy& study, bool expectLesions = true)
    {
      const Volume& before = study.background.volume;
      const Volume& after = study.series.volume;
      const VolumeGeometry& g = before.geometry();
      std::map<std::string, size_t> sliceOfUid;
      for (size_t k = 0; k < study.series.slices.size(); ++k) sliceOfUid[study.series.slices[k].sopInstanceUid] = k;

      size_t lesionalVertebrae = 0;
      for (const PhantomSlice& slice : study.truth.slices)
      {
        const size_t k = sliceOfUid.at(slice.sopInstanceUid);
        size_t changed = 0, visible = 0;
        for (size_t i = 0; i < g.columns * g.rows; ++i)
        {
          const int difference = std::abs(after.slice(k)[i] - before.slice(k)[i]);
          changed += difference > 0;
          visible += difference >= VISIBLE_CHANGE_HU;
        }
        if (changed > 0)
        {
          ASSERT_GE(slice.vertebra, 0) << "voxels changed on slice " << k << ", which is on no vertebra";
          EXPECT_NE(BoneQuality::Normal, study.truth.vertebrae[slice.vertebra].boneQuality)
            << "vertebra " << slice.vertebra << " is labelled normal but slice " << k << " changed";
        }
        EXPECT_EQ(visible >= minimumVisibleVoxels(g), slice.lesionVisible) << "slice " << k << ": " << visible << " voxels changed by >= "
                                                                          << VISIBLE_CHANGE_HU << " HU";
        if (slice.blasticLesionVisible || slice.lyticLesionVisible || slice.posterolateralLesionVisible)
        {
          EXPECT_TRUE(slice.lesionVisible) << "slice " << k << " shows a kind of lesion but no lesion";
        }
      }
      for (const PhantomVertebra& v : study.truth.vertebrae)
      {
        const bool hasLesion = v.boneQuality != BoneQuality::Normal;
        lesionalVertebrae += hasLesion;
        EXPECT_EQ(hasLesion, !v.lesions.empty()) << "vertebra " << v.index;
        if (!hasLesion)
        {
          EXPECT_EQ(0u, study.changedVoxels[v.index]) << "normal vertebra " << v.index << " changed";
        }
        // a lesion's weight lies on its own vertebra's slices; one that changed nothing is a warning
        size_t lyticChanged = 0, blasticChanged = 0;
        bool lytic = false, blastic = false;
        for (const HybridLesion& lesion : study.lesions)
        {
          if (lesion.vertebra != v.index) continue;
          for (size_t k = lesion.slice0; k < lesion.slice0 + lesion.slices; ++k)
          {
            const Vector3 centre = study.background.volume.toPatient(0, 0, static_cast<double>(k));
            EXPECT_GE(centre[2], v.zMinMm - 1e-6);
            EXPECT_LE(centre[2], v.zMaxMm + 1e-6);
          }
          (lesion.truth.kind == "lytic" ? lyticChanged : blasticChanged) += lesion.changedVoxels;
          (lesion.truth.kind == "lytic" ? lytic : blastic) = true;
          if (lesion.changedVoxels == 0)
          {
            const bool warned = std::any_of(study.warnings.begin(), study.warnings.end(), [&](const std::string& w) {
              return w.find(lesion.truth.region + " of vertebra " + std::to_string(v.index)) != std::string::npos;
            });
            EXPECT_TRUE(warned) << "a " << lesion.truth.kind << " lesion of vertebra " << v.index << " changed nothing, unannounced";
          }
        }
        // the per-kind flags: never without a lesion of that kind, always where one changed plenty
        bool lyticSeen = false, blasticSeen = false;
        for (const PhantomSlice& slice : study.truth.slices)
        {
          if (slice.vertebra != v.index) continue;
          lyticSeen |= slice.lyticLesionVisible;
          blasticSeen |= slice.blasticLesionVisible;
        }
        EXPECT_TRUE(lytic || !lyticSeen) << "vertebra " << v.index << " flags a lytic lesion it does not have";
        EXPECT_TRUE(blastic || !blasticSeen) << "vertebra " << v.index << " flags a blastic lesion it does not have";
        EXPECT_TRUE(lyticSeen || lyticChanged < 20 * minimumVisibleVoxels(g)) << "vertebra " << v.index;
        EXPECT_TRUE(blasticSeen || blasticChanged < 20 * minimumVisibleVoxels(g)) << "vertebra " << v.index;
      }
      EXPECT_EQ(expectLesions, lesionalVertebrae > 0);
    }

    double mean(const std::vector<double>& values)
    {
      double sum = 0;
      for (double v : values) sum += v;
      return values.empty() ? 0 : sum / static_cast<double>(values.size());
    }

    // Robust: median absolute deviation x 1.4826, so that a few edges among the samples (fat
    // against muscle) do not pass for noise.
    double robustStandardDeviation(std::vector<double> values)
    {
      if (values.empty()) return 0;
      std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
      const double median = values[values.size() / 2];
      for (double& v : values) v = std::fabs(v - median);
      std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
      return 1.4826 * values[values.size() / 2];
    }

    // v minus the mean of its 3x3 neighbourhood: what noise looks like, without the anatomy.
    double highPass(const Volume& volume, size_t c, size_t r, size_t k)
    {
      double sum = 0;
      for (int dr = -1; dr <= 1; ++dr)
        for (int dc = -1; dc <= 1; ++dc)
          sum += volume.at(c + dc, r + dr, k);
      return volume.at(c, r, k) - sum / 9;
    }

    std::string readBytes(const fs::path& path)
    {
      std::ifstream stream(path, std::ios::binary);
      return std::string((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
    }

    fs::path realCtFolder(const std::string& name)
    {
      return fs::path(SPINEMET_SHARED_TESTDATA_DIR) / "real-ct" / name;
    }
  }

  // Inside the middle 60 % of the vertebra's body box on this slice (the trabecular bone).
  bool bodyVoxel(const HybridStudy& study, int vertebra, size_t c, size_t r, size_t k)
  {
    const SliceSpine& slice = study.layout.slices[k];
    if (slice.vertebra != vertebra && !study.settings.handVertebrae.empty()) return false;
    const PixelBox& box = slice.vertebralBody;
    const double x = (c - (box.column0 + box.column1) / 2) / ((box.column1 - box.column0) / 2);
    const double y = (r - (box.row0 + box.row1) / 2) / ((box.row1 - box.row0) / 2);
    return x * x + y * y <= 0.36;
  }

  // Lesion cores (weight >= 0.97) read their target HU, and their high-pass noise is that of the
  // same vertebra's bone away from the lesion (added, not painted). Returns how many lesions had a core
  // large enough to measure.
  size_t expectCoresAtTargetWithNoiseKept(const HybridStudy& study, const HybridLesionRanges& ranges)
  {
    const Volume& after = study.series.volume;
    const Volume& before = study.background.volume;
    size_t checked = 0;
    for (const HybridLesion& lesion : study.lesions)
    {
      std::vector<double> core, coreNoise, coreNoiseBefore, outsideNoise;
      for (size_t k = lesion.slice0; k < lesion.slice0 + lesion.slices; ++k)
        for (size_t r = lesion.row0 + 1; r + 1 < lesion.row0 + lesion.rows; ++r)
          for (size_t c = lesion.column0 + 1; c + 1 < lesion.column0 + lesion.columns; ++c)
          {
            const float w = lesion.weightAt(c, r, k);
            if (w >= 0.97f)
            {
              core.push_back(after.at(c, r, k));
              // the 3x3 neighbourhood must be core too, or the high-pass sees the lesion's edge
              bool inner = true;
              for (int dr = -1; dr <= 1 && inner; ++dr)
                for (int dc = -1; dc <= 1 && inner; ++dc)
                  inner = lesion.weightAt(c + dc, r + dr, k) >= 0.97f;
              if (inner)
              {
                coreNoise.push_back(highPass(after, c, r, k));
                coreNoiseBefore.push_back(highPass(before, c, r, k));
              }
            }
            else if (w == 0 && bodyVoxel(study, lesion.vertebra, c, r, k))
            {
              // the same vertebra's bone away from the lesion: the noise where the lesion landed
              outsideNoise.push_back(highPass(after, c, r, k));
            }
          }
      if (core.size() < 30 || coreNoise.size() < 30 || outsideNoise.size() < 30) continue;   // a lesion squeezed by the bone's shape
      ++checked;
      const double coreMean = mean(core);
      if (lesion.truth.kind == "lytic")
      {
        EXPECT_GE(lesion.truth.hu, ranges.lyticHuMin);
        EXPECT_LE(lesion.truth.hu, ranges.lyticHuMax);
        EXPECT_NEAR(lesion.truth.hu, coreMean, 20) << "lytic core";
        EXPECT_LT(coreMean, 100);
      }
      else
      {
        EXPECT_GE(lesion.truth.hu, ranges.blasticHuMin);
        EXPECT_LE(lesion.truth.hu, ranges.blasticHuMax);
        EXPECT_NEAR(lesion.truth.hu, coreMean, 0.15 * lesion.truth.hu + 20) << "blastic core";
        EXPECT_GT(coreMean, 380);
      }
      // added, not painted: the core is as noisy as the tissue around it
      // Added, not painted: the voxel-scale noise of the image is still there in the core, about
      // as strong as it was at that place before (a painted lesion reads ~0 here; the texture
      // band is reduced to the soft tissue's on purpose, which lowers a 3x3 high-pass by up to
      // ~40 % on a smooth 5 mm kernel), and of the order of the bone around it.
      const double inside = robustStandardDeviation(coreNoise), before = robustStandardDeviation(coreNoiseBefore);
      const double outside = robustStandardDeviation(outsideNoise);
      EXPECT_GT(inside / before, 0.55) << lesion.truth.kind << " core noise " << inside << " HU, before " << before << " HU";
      EXPECT_LT(inside / before, 1.25) << lesion.truth.kind << " core noise " << inside << " HU, before " << before << " HU";
      EXPECT_GT(inside / outside, 0.6) << lesion.truth.kind << " core noise " << inside << " HU, bone around " << outside << " HU";
      EXPECT_LT(inside / outside, 1.8) << lesion.truth.kind << " core noise " << inside << " HU, bone around " << outside << " HU";
      std::cout << "[ figure   ] " << lesion.truth.kind << " core " << mean(core) << " HU (target " << lesion.truth.hu
                << "), high-pass noise " << inside << " HU, before " << before << " HU, bone around " << outside << " HU\n";
    }
    return checked;
  }

  TEST(HybridTest, GroundTruthMatchesTheVoxelsChangedOnAPhantomBackground)
  {
    const HybridStudy study = makeHybrid(phantomBackground(), forcedSettings("0=lytic:bilateral,2=blastic:unilateral-left,3=mixed"));
    ASSERT_EQ(4u, study.truth.vertebrae.size());   // T11-L2
    EXPECT_EQ("spine finder", study.vertebraSource);
    EXPECT_EQ(BoneQuality::Lytic, study.truth.vertebrae[0].boneQuality);
    EXPECT_EQ(Posterolateral::Bilateral, study.truth.vertebrae[0].posterolateral);
    EXPECT_EQ(BoneQuality::Normal, study.truth.vertebrae[1].boneQuality);
    EXPECT_EQ(LesionSide::Left, study.truth.vertebrae[2].side);
    EXPECT_EQ(BoneQuality::Mixed, study.truth.vertebrae[3].boneQuality);
    expectTruthMatchesChangedVoxels(study);
    EXPECT_TRUE(study.warnings.empty());
    for (const HybridLesion& lesion : study.lesions)
    {
      EXPECT_GT(lesion.changedVoxels, 0u) << lesion.truth.kind << " in the " << lesion.truth.region;
    }

    // the unilateral-left vertebra shows a left pedicle lesion and never a right one
    bool left = false;
    for (const PhantomSlice& slice : study.truth.slices)
    {
      if (slice.vertebra != 2) continue;
      EXPECT_NE(LesionSide::Right, slice.posterolateralVisibleSide);
      EXPECT_NE(LesionSide::Both, slice.posterolateralVisibleSide);
      left |= slice.posterolateralVisibleSide == LesionSide::Left;
    }
    EXPECT_TRUE(left);
    // patient's left is +x: the left pedicle lesion lies left of the body centre
    for (const PhantomLesion& lesion : study.truth.vertebrae[2].lesions)
    {
      if (lesion.region == "left-pedicle")
      {
        EXPECT_GT(lesion.centre[0], study.truth.vertebrae[2].bodyCentre[0]);
      }
    }
  }

  TEST(HybridTest, LesionCoresReachTheirTargetHuAndKeepTheNoise)
  {
    const HybridSettings settings = forcedSettings("0=lytic,1=blastic,2=lytic,3=blastic", 9);
    const HybridStudy study = makeHybrid(phantomBackground(), settings);
    EXPECT_GE(expectCoresAtTargetWithNoiseKept(study, settings.ranges), 3u);
  }

  TEST(HybridTest, TheSameSeedGivesTheSameStudyAndAnotherSeedAnother)
  {
    const HybridSettings settings = forcedSettings("1=mixed:bilateral");
    const HybridStudy a = makeHybrid(phantomBackground(), settings);
    const HybridStudy b = makeHybrid(phantomBackground(), settings);
    HybridSettings other = settings;
    other.seed = 4;
    const HybridStudy c = makeHybrid(phantomBackground(), other);
    bool sameAB = true, sameAC = true;
    for (size_t k = 0; k < a.series.slices.size(); ++k)
    {
      sameAB &= std::equal(a.series.volume.slice(k), a.series.volume.slice(k) + 256 * 256, b.series.volume.slice(k));
      sameAC &= std::equal(a.series.volume.slice(k), a.series.volume.slice(k) + 256 * 256, c.series.volume.slice(k));
    }
    EXPECT_TRUE(sameAB);
    EXPECT_FALSE(sameAC);
    EXPECT_EQ(a.series.attributes.seriesInstanceUid, b.series.attributes.seriesInstanceUid);
    EXPECT_NE(a.series.attributes.seriesInstanceUid, c.series.attributes.seriesInstanceUid);
    EXPECT_NE(a.series.attributes.studyInstanceUid, phantomBackground().attributes.studyInstanceUid);
    EXPECT_NE(a.series.attributes.frameOfReferenceUid, phantomBackground().attributes.frameOfReferenceUid);
    EXPECT_EQ(0u, a.series.attributes.seriesInstanceUid.rfind("2.25.", 0));
  }

  TEST(HybridTest, FilesAreByteIdenticalForOneSeedAndKeepTheCompressedSyntaxLosslessly)
  {
    const fs::path root = temporaryFolder("bytes");
    const PhantomStudy phantom = lesionFreePhantom(PhantomTransferSyntax::JpegLsLossless);
    writePhantomStudy(phantom, (root / "background").string());
    const Series background = loadHybridBackground((root / "background").string());
    const HybridStudy study = makeHybrid(background, forcedSettings("0=lytic:unilateral-right,2=blastic"));
    writeHybridStudy(study, (root / "background").string(), (root / "one").string());
    writeHybridStudy(makeHybrid(background, forcedSettings("0=lytic:unilateral-right,2=blastic")),
                     (root / "background").string(), (root / "two").string());
    size_t files = 0;
    for (const auto& entry : fs::directory_iterator(root / "one"))
    {
      ++files;
      EXPECT_EQ(readBytes(entry.path()), readBytes(root / "two" / entry.path().filename())) << entry.path().filename();
    }
    EXPECT_EQ(phantom.truth.slices.size() + 1, files);   // every slice and ground_truth.json

    // read back through the project's loader: exactly the hybrid's HU, new UIDs, JPEG-LS kept
    const Series reread = loadSeries(FileSliceSource({(root / "one").string()}));
    ASSERT_EQ(study.series.slices.size(), reread.slices.size());
    EXPECT_EQ(study.series.attributes.seriesInstanceUid, reread.attributes.seriesInstanceUid);
    EXPECT_EQ(study.series.attributes.studyInstanceUid, reread.attributes.studyInstanceUid);
    for (size_t k = 0; k < reread.slices.size(); ++k)
    {
      EXPECT_EQ(study.series.slices[k].sopInstanceUid, reread.slices[k].sopInstanceUid);
      EXPECT_TRUE(std::equal(reread.volume.slice(k), reread.volume.slice(k) + 256 * 256, study.series.volume.slice(k)))
        << "slice " << k;
    }
    const std::string truth = readBytes(root / "one" / "ground_truth.json");
    EXPECT_NE(std::string::npos, truth.find("\"transfer_syntax_uid\" : \"1.2.840.10008.1.2.4.80\""));
    EXPECT_NE(std::string::npos, truth.find("\"schema\" : \"spinemet-phantom-truth/1\""));
    EXPECT_NE(std::string::npos, truth.find("\"series_instance_uid\" : \"" + phantom.series.attributes.seriesInstanceUid + "\""));
    fs::remove_all(root);
  }

  TEST(HybridTest, WithheldVertebraeStayLesionFreeAndAreMarked)
  {
    HybridSettings settings;
    settings.seed = 2;
    settings.lesionProbability = 1;
    settings.withheld = parseHybridVertebrae("1-2");
    const HybridStudy study = makeHybrid(phantomBackground(), settings);
    ASSERT_EQ(4u, study.withheld.size());
    EXPECT_FALSE(study.withheld[0]);
    EXPECT_TRUE(study.withheld[1]);
    EXPECT_TRUE(study.withheld[2]);
    EXPECT_EQ(BoneQuality::Normal, study.truth.vertebrae[1].boneQuality);
    EXPECT_EQ(BoneQuality::Normal, study.truth.vertebrae[2].boneQuality);
    EXPECT_NE(BoneQuality::Normal, study.truth.vertebrae[0].boneQuality);
    expectTruthMatchesChangedVoxels(study);
  }

  TEST(HybridTest, AHandListReplacesTheFindersVertebrae)
  {
    const fs::path root = temporaryFolder("hand");
    const PhantomStudy phantom = lesionFreePhantom();
    // the phantom's own bodies as the hand list: T12 and L1 only
    std::ofstream list(root / "vertebrae.txt");
    list << "# vertebral bodies by hand\n";
    for (const PhantomVertebra& v : phantom.truth.vertebrae)
      if (v.level == "T12" || v.level == "L1") list << v.level << " " << v.zMinMm + 1 << " " << v.zMaxMm - 1 << "\n";
    list.close();
    HybridSettings settings = forcedSettings("L1=lytic");
    settings.handVertebrae = readHandVertebrae((root / "vertebrae.txt").string());
    settings.handVertebraeSource = "vertebrae.txt";
    const HybridStudy study = makeHybrid(phantom.series, settings);
    ASSERT_EQ(2u, study.truth.vertebrae.size());
    EXPECT_EQ("T12", study.truth.vertebrae[0].level);
    EXPECT_EQ("L1", study.truth.vertebrae[1].level);
    EXPECT_EQ(BoneQuality::Lytic, study.truth.vertebrae[1].boneQuality);
    EXPECT_EQ("hand list vertebrae.txt", study.vertebraSource);
    expectTruthMatchesChangedVoxels(study);

    // a "vertebra" of one thin slice has no trabecular bone beyond its end plates: a forced
    // lesion there is refused naming it, a drawn one falls back to normal with a warning
    std::ofstream thin(root / "thin.txt");
    const PhantomVertebra& t12 = phantom.truth.vertebrae[1];
    ASSERT_EQ("T12", t12.level);
    double middle = 1e9;   // the slice centre nearest the middle of T12
    for (size_t k = 0; k < phantom.series.slices.size(); ++k)
    {
      const double z = phantom.series.volume.toPatient(0, 0, static_cast<double>(k))[2];
      if (std::fabs(z - (t12.zMinMm + t12.zMaxMm) / 2) < std::fabs(middle - (t12.zMinMm + t12.zMaxMm) / 2)) middle = z;
    }
    thin << "T12 " << middle - 0.4 << " " << middle + 0.4 << "\n";
    thin.close();
    HybridSettings thinSettings = forcedSettings("T12=lytic");
    thinSettings.handVertebrae = readHandVertebrae((root / "thin.txt").string());
    try
    {
      makeHybrid(phantom.series, thinSettings);
      FAIL() << "a lesion in a one-slice vertebra was accepted";
    }
    catch (const AnalysisError& error)
    {
      EXPECT_NE(std::string::npos, std::string(error.what()).find("vertebra 0 (T12) cannot take the label")) << error.what();
    }
    thinSettings.labels.clear();
    thinSettings.lesionProbability = 1;
    const HybridStudy thinStudy = makeHybrid(phantom.series, thinSettings);
    ASSERT_EQ(1u, thinStudy.truth.vertebrae.size());
    EXPECT_EQ(BoneQuality::Normal, thinStudy.truth.vertebrae[0].boneQuality);
    ASSERT_EQ(1u, thinStudy.warnings.size());
    EXPECT_NE(std::string::npos, thinStudy.warnings[0].find("labelled normal")) << thinStudy.warnings[0];
    expectTruthMatchesChangedVoxels(thinStudy, false);

    std::ofstream bad(root / "bad.txt");
    bad << "T12 10\n";
    bad.close();
    try
    {
      readHandVertebrae((root / "bad.txt").string());
      FAIL() << "a line without Z_MAX_MM was accepted";
    }
    catch (const AnalysisError& error)
    {
      EXPECT_EQ("hybrid-vertebrae", error.code());
      EXPECT_NE(std::string::npos, std::string(error.what()).find("line 1")) << error.what();
    }
    fs::remove_all(root);
  }

  TEST(HybridTest, ALabelNamingNoVertebraIsRefusedNamingIt)
  {
    try
    {
      makeHybrid(phantomBackground(), forcedSettings("7=lytic"));
      FAIL() << "vertebra 7 of 4 was accepted";
    }
    catch (const AnalysisError& error)
    {
      EXPECT_EQ("hybrid-labels", error.code());
      const std::string message = error.what();
      EXPECT_NE(std::string::npos, message.find("vertebra 7")) << message;
      EXPECT_NE(std::string::npos, message.find("4 vertebrae were found")) << message;
    }
    EXPECT_THROW(makeHybrid(phantomBackground(), forcedSettings("C3=blastic")), AnalysisError);
    EXPECT_THROW(parseHybridLabels("3=sclerotic"), AnalysisError);
    EXPECT_THROW(parseHybridLabels("3=normal:bilateral"), AnalysisError);
    EXPECT_THROW(parseHybridLabels("X9=lytic"), AnalysisError);
    HybridSettings bad = forcedSettings("1=lytic");
    bad.lesionProbability = 1.5;
    EXPECT_THROW(makeHybrid(phantomBackground(), bad), AnalysisError);
  }

  TEST(HybridTest, ABackgroundWithoutASpineIsRefused)
  {
    // 40 slices of a water cylinder in air: a CT, but no spine
    VolumeGeometry g;
    g.columns = g.rows = 128;
    g.slices = 40;
    g.columnSpacing = g.rowSpacing = 2;
    g.sliceSpacing = g.sliceThickness = 2.5;
    std::vector<std::vector<int16_t>> slices(g.slices, std::vector<int16_t>(128 * 128, -1000));
    for (auto& slice : slices)
      for (size_t r = 0; r < 128; ++r)
        for (size_t c = 0; c < 128; ++c)
          if ((c - 64.0) * (c - 64.0) + (r - 64.0) * (r - 64.0) < 50 * 50) slice[r * 128 + c] = 0;
    Series series;
    series.volume = Volume(g, std::move(slices));
    for (size_t k = 0; k < g.slices; ++k) series.slices.push_back({"1.2.3." + std::to_string(k), "1.2.840.10008.5.1.4.1.1.2", 2.5 * k, static_cast<int>(k + 1)});
    try
    {
      makeHybrid(series, forcedSettings(""));
      FAIL() << "a water cylinder was accepted as a background";
    }
    catch (const AnalysisError& error)
    {
      EXPECT_EQ("no-spine", error.code());
      EXPECT_NE(std::string::npos, std::string(error.what()).find("shows no spine")) << error.what();
    }
  }

  TEST(HybridTest, TheCommittedRealCtWithGapsIsRefusedNamingTheGap)
  {
    // abdomen-gaps-duplicates: real lumbar anatomy, but 11 slices far apart. A lesion needs a
    // volume, so the volume stage's refusal must come through with its own words.
    const fs::path folder = fs::path(SPINEMET_TESTDATA_DIR) / "real-ct" / "abdomen-gaps-duplicates";
    ASSERT_TRUE(fs::is_directory(folder)) << folder;
    try
    {
      loadHybridBackground(folder.string());
      FAIL() << "a series with gaps was accepted";
    }
    catch (const AnalysisError& error)
    {
      const std::string message = error.what();
      EXPECT_TRUE(message.find("gap") != std::string::npos || message.find("duplicate") != std::string::npos) << message;
    }
    try
    {
      loadHybridBackground((folder / "no-such-folder").string());
      FAIL() << "a missing folder was accepted";
    }
    catch (const AnalysisError& error)
    {
      EXPECT_EQ("hybrid-input", error.code());
      EXPECT_NE(std::string::npos, std::string(error.what()).find("not a folder")) << error.what();
    }
  }

  class HybridOnRealCt : public ::testing::TestWithParam<std::string>
  {
  };

  TEST_P(HybridOnRealCt, GroundTruthMatchesTheVoxelsChanged)
  {
    const fs::path folder = realCtFolder(GetParam());
    if (!fs::is_directory(folder))
    {
      GTEST_SKIP() << "real-CT check NOT RUN: " << folder.string() << " is absent";
    }
    const Series background = loadHybridBackground(folder.string());
    HybridSettings settings;
    settings.seed = 21;
    settings.lesionProbability = 0.6;
    settings.posterolateralProbability = 0.6;
    const HybridStudy study = makeHybrid(background, settings);
    EXPECT_GE(study.truth.vertebrae.size(), 5u);
    expectTruthMatchesChangedVoxels(study);
  }

  TEST_P(HybridOnRealCt, LesionCoresReachTheirTargetHuAndKeepTheNoise)
  {
    const fs::path folder = realCtFolder(GetParam());
    if (!fs::is_directory(folder))
    {
      GTEST_SKIP() << "real-CT check NOT RUN: " << folder.string() << " is absent";
    }
    const Series background = loadHybridBackground(folder.string());
    HybridSettings settings = forcedSettings("1=lytic,3=blastic,5=lytic,7=blastic", 13);
    settings.ranges.radiusMinMm = 8;   // cores large enough to measure at thick slices
    settings.ranges.radiusMaxMm = 12;
    const HybridStudy study = makeHybrid(background, settings);
    EXPECT_GE(expectCoresAtTargetWithNoiseKept(study, settings.ranges), 2u);
  }

  INSTANTIATE_TEST_SUITE_P(SharedRealCt, HybridOnRealCt,
                           ::testing::Values("thorax-4dct", "chest-lidc-0314", "abdomen-crlm-1006"),
                           [](const ::testing::TestParamInfo<std::string>& info) {
                             std::string name = info.param;
                             std::replace(name.begin(), name.end(), '-', '_');
                             return name;
                           });
}
