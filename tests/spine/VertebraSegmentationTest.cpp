// SPDX-License-Identifier: GPL-3.0-or-later
// The Segmentation route: a DICOM SEG with one segment per vertebra, written here with DCMTK's
// dcmseg from a phantom's ground truth, read back and applied to the spine layout.

#include "PhantomEvaluation.h"
#include "PhantomSegmentation.h"

#include "common/AnalysisError.h"
#include "spine/VertebraSegmentation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <unistd.h>

namespace spinemet
{
  namespace
  {
    // A scratch folder of this test process, removed at the end.
    class ScratchFolder
    {
    public:
      ScratchFolder() :
        path_(std::filesystem::temp_directory_path() / ("spinemet-spine-" + std::to_string(getpid())))
      {
        std::filesystem::create_directories(path_);
      }
      ~ScratchFolder() { std::filesystem::remove_all(path_); }
      std::string file(const std::string& name) const { return (path_ / name).string(); }

    private:
      std::filesystem::path path_;
    };

    struct SegmentPlan
    {
      std::string label;
      int truthVertebra = -1;       // -1: not a vertebra (a spinal cord segment)
    };

    // One segment per planned label. A vertebra's segment covers its body (the true ellipse)
    // and its posterior elements on the slices of its body, and its spinous process on the
    // `spinousSlices` slices below it, over the body of the next vertebra, as real vertebrae
    // (and TotalSegmentator's masks) do.
    void writeSegmentation(const PhantomStudy& study, const std::vector<SegmentPlan>& plan,
                           const std::string& frameOfReferenceUid, size_t spinousSlices,
                           const std::string& path)
    {
      const Volume& volume = study.series.volume;
      const VolumeGeometry& g = volume.geometry();
      std::vector<PhantomSegment> segments;
      for (const SegmentPlan& segmentPlan : plan)
      {
        PhantomSegment segment;
        segment.label = segmentPlan.label;
        if (segmentPlan.truthVertebra < 0)
        {
          segment.typeCode = "2748008";
          segment.typeMeaning = "Spinal cord";
          segment.draw = [&study, &g](size_t, std::vector<uint8_t>& mask) {
            // A spinal cord down the middle of every slice.
            const PhantomVertebra& near = study.truth.vertebrae.front();
            const size_t c = static_cast<size_t>(near.bodyCentreColumn);
            const size_t r = static_cast<size_t>(near.bodyCentreRow + near.bodyDepthMm / g.rowSpacing);
            for (size_t dr = 0; dr < 8; ++dr)
            {
              for (size_t dc = 0; dc < 8; ++dc)
              {
                mask[(r + dr) * g.columns + c + dc - 4] = 1;
              }
            }
            return true;
          };
          segments.push_back(segment);
          continue;
        }

        const size_t index = static_cast<size_t>(segmentPlan.truthVertebra);
        const PhantomVertebra& vertebra = study.truth.vertebrae[index];
        // The most caudal slice of its body (volume order: caudal first).
        size_t lastBodySlice = 0;
        bool seen = false;
        for (size_t k = 0; k < volume.sliceCount() && !seen; ++k)
        {
          const double zk = volume.toPatient(0, 0, static_cast<double>(k))[2];
          if (zk >= vertebra.zMinMm && zk <= vertebra.zMaxMm)
          {
            lastBodySlice = k;
            seen = true;
          }
        }
        segment.draw = [&study, &volume, &g, &vertebra, index, seen, lastBodySlice, spinousSlices](
                         size_t s, std::vector<uint8_t>& mask) {
          const double z = volume.toPatient(0, 0, static_cast<double>(s))[2];
          int bodyOf = -1;
          for (const PhantomSlice& slice : study.truth.slices)
          {
            if (std::fabs(slice.zMm - z) < 1e-3)
            {
              bodyOf = slice.vertebra;
            }
          }
          const bool body = bodyOf == static_cast<int>(index);
          const bool spinous = seen && s < lastBodySlice && lastBodySlice - s <= spinousSlices;
          const double halfWidth = vertebra.bodyWidthMm / 2 / g.columnSpacing;
          const double halfDepth = vertebra.bodyDepthMm / 2 / g.rowSpacing;
          bool any = false;
          for (size_t r = 0; r < g.rows; ++r)
          {
            for (size_t c = 0; c < g.columns; ++c)
            {
              const double dx = (static_cast<double>(c) - vertebra.bodyCentreColumn) / halfWidth;
              const double dy = (static_cast<double>(r) - vertebra.bodyCentreRow) / halfDepth;
              const bool inBody = body && dx * dx + dy * dy <= 1;
              // Posterior elements: a band behind the body, 30 mm deep, 10 mm wide.
              const double behind = (static_cast<double>(r) - vertebra.bodyCentreRow) * g.rowSpacing - vertebra.bodyDepthMm / 2;
              const bool inArch = (body || spinous) && behind > 12 && behind < 42 &&
                                  std::fabs((static_cast<double>(c) - vertebra.bodyCentreColumn) * g.columnSpacing) < 5;
              if (inBody || inArch)
              {
                mask[r * g.columns + c] = 1;
                any = true;
              }
            }
          }
          return any;
        };
        segments.push_back(segment);
      }
      PhantomSegmentationOptions options;
      options.frameOfReferenceUid = frameOfReferenceUid;
      writePhantomSegmentation(study, segments, options, path);
    }

    PhantomStudy smallStudy()
    {
      PhantomSettings settings;
      settings.seed = 31;
      settings.levels = "T11-L1";
      settings.matrix = 256;
      settings.pixelSpacingMm = 0.8;
      settings.sliceThicknessMm = settings.sliceSpacingMm = 2.5;
      return generatePhantom(settings);
    }

    std::vector<SegmentPlan> vertebraPlan(const PhantomStudy& study)
    {
      // Written caudal first, as some tools do: the reader orders them by level.
      std::vector<SegmentPlan> plan;
      for (size_t v = study.truth.vertebrae.size(); v-- > 0;)
      {
        plan.push_back({study.truth.vertebrae[v].level + " vertebra", static_cast<int>(v)});
      }
      plan.push_back({"Spinal cord", -1});
      return plan;
    }

    // The true slice range of a vertebra: slices whose centre lies in its body.
    std::pair<size_t, size_t> truthRange(const PhantomStudy& study, size_t v)
    {
      const Volume& volume = study.series.volume;
      size_t first = SIZE_MAX;
      size_t last = 0;
      for (size_t s = 0; s < volume.sliceCount(); ++s)
      {
        const double z = volume.toPatient(0, 0, static_cast<double>(s))[2];
        if (z >= study.truth.vertebrae[v].zMinMm && z <= study.truth.vertebrae[v].zMaxMm)
        {
          first = std::min(first, s);
          last = std::max(last, s);
        }
      }
      return {first, last};
    }
  }


  TEST(VertebraSegmentation, LevelsAreReadFromVertebraLabelsOnly)
  {
    EXPECT_EQ(vertebraLevelFromLabel("T7 vertebra"), "T7");
    EXPECT_EQ(vertebraLevelFromLabel("vertebrae_T7"), "T7");
    EXPECT_EQ(vertebraLevelFromLabel("vertebrae T12"), "T12");
    EXPECT_EQ(vertebraLevelFromLabel("Vertebra L1"), "L1");
    EXPECT_EQ(vertebraLevelFromLabel("L5"), "L5");
    EXPECT_EQ(vertebraLevelFromLabel("c2"), "C2");
    EXPECT_EQ(vertebraLevelFromLabel("Spinal cord"), "");
    EXPECT_EQ(vertebraLevelFromLabel("T7 lesion"), "");
    EXPECT_EQ(vertebraLevelFromLabel("rib_left_7"), "");
    EXPECT_EQ(vertebraLevelFromLabel("sacrum"), "");
    EXPECT_EQ(vertebraLevelFromLabel("T13 vertebra"), "");
    EXPECT_EQ(vertebraLevelFromLabel("T12-L1"), "");
  }


  TEST(VertebraSegmentation, LevelsAndExtentsComeFromTheSegmentation)
  {
    const PhantomStudy study = smallStudy();
    ScratchFolder scratch;
    const std::string path = scratch.file("vertebrae.dcm");
    writeSegmentation(study, vertebraPlan(study), study.series.attributes.frameOfReferenceUid, 3, path);
    ASSERT_FALSE(HasFatalFailure());

    const VertebraSegmentation segmentation = readVertebraSegmentationFile(path);
    ASSERT_EQ(segmentation.vertebrae.size(), 3u);
    EXPECT_EQ(segmentation.vertebrae[0].level, "T11");
    EXPECT_EQ(segmentation.vertebrae[1].level, "T12");
    EXPECT_EQ(segmentation.vertebrae[2].level, "L1");
    EXPECT_EQ(segmentation.vertebrae[0].label, "T11 vertebra");
    ASSERT_EQ(segmentation.otherSegments.size(), 1u);
    EXPECT_EQ(segmentation.otherSegments[0], "Spinal cord");
    EXPECT_EQ(segmentation.frameOfReferenceUid, study.series.attributes.frameOfReferenceUid);
    EXPECT_FALSE(segmentation.vertebrae[0].frames.front().referencedSopInstanceUid.empty());
    EXPECT_NO_THROW(checkSegmentationMatchesSeries(segmentation, study.series));

    const SpineLayout found = findSpine(study.series.volume);
    for (const SpineLayout& start : {found, SpineLayout()})
    {
      const SpineLayout layout = applyVertebraSegmentation(study.series.volume, start, segmentation);
      ASSERT_EQ(layout.vertebrae.size(), 3u);
      for (size_t v = 0; v < 3; ++v)
      {
        const Vertebra& vertebra = layout.vertebrae[v];
        EXPECT_EQ(vertebra.index, static_cast<int>(v));
        EXPECT_EQ(vertebra.level, study.truth.vertebrae[v].level);
        EXPECT_EQ(vertebra.displayName(3), study.truth.vertebrae[v].level);
        // Exactly the body's slices: the spinous process over the next body does not count.
        const auto [first, last] = truthRange(study, v);
        EXPECT_EQ(vertebra.firstSlice, first) << vertebra.level;
        EXPECT_EQ(vertebra.lastSlice, last) << vertebra.level;
      }
      size_t withVertebra = 0;
      for (const SliceSpine& slice : layout.slices)
      {
        withVertebra += slice.vertebraPresent ? 1 : 0;
        EXPECT_EQ(slice.vertebraPresent, slice.vertebra >= 0);
      }
      EXPECT_GT(withVertebra, 0u);
      const test::SpineEvaluation evaluation = test::evaluateSpine(study, layout, SpineOptions().cropMm);
      EXPECT_TRUE(evaluation.acceptable()) << test::summarise(evaluation);
    }
  }


  TEST(VertebraSegmentation, ASegmentationOfAnotherFrameOfReferenceIsRefused)
  {
    const PhantomStudy study = smallStudy();
    ScratchFolder scratch;
    const std::string path = scratch.file("elsewhere.dcm");
    writeSegmentation(study, vertebraPlan(study), "2.25.1234567890", 0, path);
    ASSERT_FALSE(HasFatalFailure());
    const VertebraSegmentation segmentation = readVertebraSegmentationFile(path);
    try
    {
      checkSegmentationMatchesSeries(segmentation, study.series);
      FAIL() << "the frames of reference differ";
    }
    catch (const AnalysisError& error)
    {
      EXPECT_EQ(error.code(), "seg-mismatch");
      EXPECT_NE(std::string(error.what()).find("2.25.1234567890"), std::string::npos) << error.what();
    }
  }


  TEST(VertebraSegmentation, TwoSegmentsNamingOneLevelAreRefused)
  {
    const PhantomStudy study = smallStudy();
    ScratchFolder scratch;
    const std::string path = scratch.file("twice.dcm");
    writeSegmentation(study, {{"T12 vertebra", 1}, {"vertebrae_T12", 2}}, study.series.attributes.frameOfReferenceUid, 0, path);
    ASSERT_FALSE(HasFatalFailure());
    try
    {
      readVertebraSegmentationFile(path);
      FAIL() << "T12 twice";
    }
    catch (const AnalysisError& error)
    {
      EXPECT_EQ(error.code(), "seg-vertebrae");
      EXPECT_NE(std::string(error.what()).find("both name T12"), std::string::npos) << error.what();
    }
  }


  TEST(VertebraSegmentation, ACtImageIsNotASegmentation)
  {
    PhantomSettings settings;
    settings.matrix = 256;
    settings.levels = "L1";
    const PhantomStudy study = generatePhantom(settings);
    ScratchFolder scratch;
    writePhantomDicom(study, scratch.file("ct"), PhantomTransferSyntax::ExplicitLittleEndian);
    const std::string path = scratch.file("ct") + "/" + study.truth.slices.front().fileName;
    try
    {
      readVertebraSegmentationFile(path);
      FAIL() << "a CT image is not a SEG";
    }
    catch (const AnalysisError& error)
    {
      EXPECT_EQ(error.code(), "seg-unreadable");
      EXPECT_NE(std::string(error.what()).find("not a DICOM Segmentation (SOP Class UID 1.2.840.10008.5.1.4.1.1.2)"),
                std::string::npos) << error.what();
    }
    EXPECT_THROW(readVertebraSegmentationFile(scratch.file("missing.dcm")), AnalysisError);
  }
}
