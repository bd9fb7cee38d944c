// SPDX-License-Identifier: GPL-3.0-or-later
// The phantom generator's DICOM files load back into exactly the volume it rendered, in each
// syntax it writes: two independent writers and one reader agree on pixels and geometry.
#include "SyntheticSeries.h"

#include "phantom/Phantom.h"
#include "volume/SeriesLoader.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace spinemet::test
{
  TEST(PhantomSeries, EverySyntaxLoadsBackToTheRenderedVolume)
  {
    PhantomSettings settings;
    settings.seed = 11;
    settings.levels = "L3";
    settings.matrix = 256;
    settings.sliceThicknessMm = 2;
    const PhantomStudy study = generatePhantom(settings);
    const Volume& rendered = study.series.volume;
    ASSERT_GT(rendered.sliceCount(), 10u);

    for (PhantomTransferSyntax syntax : {PhantomTransferSyntax::ExplicitLittleEndian, PhantomTransferSyntax::Rle,
                                         PhantomTransferSyntax::JpegLossless, PhantomTransferSyntax::JpegLsLossless})
    {
      SCOPED_TRACE(toString(syntax));
      TemporaryFolder folder;
      writePhantomDicom(study, folder.path().string(), syntax);
      const Series loaded = loadSeries(FileSliceSource({folder.path().string()}));
      EXPECT_TRUE(loaded.warnings.empty());

      const Volume& volume = loaded.volume;
      ASSERT_EQ(volume.sliceCount(), rendered.sliceCount());
      ASSERT_EQ(volume.columns(), rendered.columns());
      ASSERT_EQ(volume.rows(), rendered.rows());
      for (size_t s = 0; s < volume.sliceCount(); ++s)
      {
        ASSERT_TRUE(std::equal(volume.slice(s), volume.slice(s) + volume.columns() * volume.rows(), rendered.slice(s)))
          << "slice " << s;
        EXPECT_EQ(loaded.slices[s].sopInstanceUid, study.series.slices[s].sopInstanceUid);
        EXPECT_NEAR(loaded.slices[s].position, study.series.slices[s].position, 1e-3);
      }
      const VolumeGeometry& g = volume.geometry();
      const VolumeGeometry& expected = rendered.geometry();
      EXPECT_NEAR(g.sliceSpacing, expected.sliceSpacing, 1e-3);
      EXPECT_NEAR(g.columnSpacing, expected.columnSpacing, 1e-6);
      EXPECT_NEAR(g.rowSpacing, expected.rowSpacing, 1e-6);
      for (int axis = 0; axis < 3; ++axis)
      {
        EXPECT_NEAR(g.origin[axis], expected.origin[axis], 1e-3);
      }
      EXPECT_EQ(loaded.attributes.seriesInstanceUid, study.series.attributes.seriesInstanceUid);
    }
  }
}
