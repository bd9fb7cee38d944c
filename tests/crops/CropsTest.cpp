// SPDX-License-Identifier: GPL-3.0-or-later
#include "common/AnalysisError.h"
#include "crops/Crops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <tuple>

namespace spinemet
{
  namespace
  {
    // An axial volume filled with `hu`, every slice carrying vertebra 0 with its crop centred at
    // (centreColumn, centreRow).
    struct Scene
    {
      Volume volume;
      SpineLayout layout;
    };

    Scene makeScene(size_t columns, size_t rows, size_t slices, double columnSpacing, double rowSpacing,
                    double sliceSpacing, double centreColumn, double centreRow, int16_t hu = 0)
    {
      VolumeGeometry geometry;
      geometry.columns = columns;
      geometry.rows = rows;
      geometry.slices = slices;
      geometry.columnSpacing = columnSpacing;
      geometry.rowSpacing = rowSpacing;
      geometry.sliceSpacing = sliceSpacing;
      geometry.sliceThickness = sliceSpacing;
      geometry.origin = {-150.0, -120.0, -400.0};
      Scene scene{Volume(geometry, std::vector<std::vector<int16_t>>(slices, std::vector<int16_t>(columns * rows, hu))),
                  SpineLayout()};
      scene.layout.slices.resize(slices);
      for (SliceSpine& slice : scene.layout.slices)
      {
        slice.vertebraPresent = true;
        slice.vertebra = 0;
        slice.cropCentreColumn = centreColumn;
        slice.cropCentreRow = centreRow;
      }
      Vertebra vertebra;
      vertebra.firstSlice = 0;
      vertebra.lastSlice = slices - 1;
      scene.layout.vertebrae.push_back(vertebra);
      return scene;
    }

    Preprocessing identityIntensity(int inputSize, double cropMm)
    {
      // Window [0, 1000] with mean 0 and std 1: crop value = HU / 1000, clipped to [0, 1].
      Preprocessing p;
      p.inputSize = inputSize;
      p.cropMm = cropMm;
      p.windowLow = 0;
      p.windowHigh = 1000;
      return p;
    }

    float at(const CropBatch& batch, size_t crop, size_t channel, size_t column, size_t row)
    {
      return batch.crop(crop)[(channel * batch.size + row) * batch.size + column];
    }

    std::pair<size_t, size_t> brightest(const CropBatch& batch, size_t crop, size_t channel)
    {
      const float* values = batch.crop(crop) + channel * batch.size * batch.size;
      const size_t index = std::max_element(values, values + batch.size * batch.size) - values;
      return {index % batch.size, index / batch.size};
    }

    std::string errorCode(const std::function<void()>& action)
    {
      try
      {
        action();
      }
      catch (const AnalysisError& error)
      {
        return error.code();
      }
      return "(none)";
    }
  }

  // A bright voxel at a known patient position lands where the crop's own geometry says it must:
  // crop pixel centre (i, j) lies at crop centre + ((i + 0.5) / size - 0.5) * crop_mm along the
  // image row direction (and likewise along the column direction).
  TEST(Crops, DotLandsAtTheExpectedCropPixel)
  {
    struct Case
    {
      double columnSpacing, rowSpacing;
      int inputSize;
      double cropMm;
      double centreColumn, centreRow;
      double dotOffsetLeftMm, dotOffsetPosteriorMm;   // from the crop centre, in patient mm
    };
    const std::vector<Case> cases = {
      {1.0, 1.0, 64, 64.0, 100.5, 80.5, -21.5, 9.5},     // one image pixel per crop pixel
      {0.5, 0.5, 64, 64.0, 101.0, 99.0, -20.5, 14.5},    // two image pixels per crop pixel
      {0.8, 0.4, 100, 80.0, 90.5, 150.0, 12.4, -30.0},   // anisotropic pixels
      {2.0, 2.0, 96, 48.0, 60.125, 40.625, 7.75, -5.25},     // crop finer than the image (4 crop pixels per image pixel)
    };
    for (const Case& c : cases)
    {
      Scene scene = makeScene(256, 256, 3, c.columnSpacing, c.rowSpacing, 2.0, c.centreColumn, c.centreRow);
      const double dotColumn = c.centreColumn + c.dotOffsetLeftMm / c.columnSpacing;
      const double dotRow = c.centreRow + c.dotOffsetPosteriorMm / c.rowSpacing;
      ASSERT_DOUBLE_EQ(dotColumn, std::round(dotColumn));
      ASSERT_DOUBLE_EQ(dotRow, std::round(dotRow));
      scene.volume.slice(1)[static_cast<size_t>(dotRow) * 256 + static_cast<size_t>(dotColumn)] = 1000;

      // Where the patient position of the dot must appear in the crop, from the patient coordinates.
      const Vector3 dot = scene.volume.toPatient(dotColumn, dotRow, 1);
      const Vector3 centre = scene.volume.toPatient(c.centreColumn, c.centreRow, 1);
      const double cropPixelMm = c.cropMm / c.inputSize;
      const double expectedColumn = (dot[0] - centre[0]) / cropPixelMm + c.inputSize / 2.0 - 0.5;
      const double expectedRow = (dot[1] - centre[1]) / cropPixelMm + c.inputSize / 2.0 - 0.5;
      ASSERT_DOUBLE_EQ(expectedColumn, std::round(expectedColumn));
      ASSERT_DOUBLE_EQ(expectedRow, std::round(expectedRow));

      const CropBatch batch = makeCrops(scene.volume, scene.layout, {1}, identityIntensity(c.inputSize, c.cropMm));
      ASSERT_EQ(batch.count(), 1u);
      ASSERT_EQ(batch.size, static_cast<size_t>(c.inputSize));
      ASSERT_EQ(batch.values.size(), static_cast<size_t>(c.inputSize * c.inputSize));
      const auto [column, row] = brightest(batch, 0, 0);
      EXPECT_EQ(column, static_cast<size_t>(expectedColumn)) << "spacing " << c.columnSpacing;
      EXPECT_EQ(row, static_cast<size_t>(expectedRow)) << "spacing " << c.rowSpacing;
      EXPECT_FLOAT_EQ(at(batch, 0, 0, column, row), 1.0f);
    }
  }

  TEST(Crops, CropMmIsHonoured)
  {
    // Two 2.5 mm wide bright lines, 30 mm either side of the crop centre along the patient's left:
    // 60 mm / (crop_mm / size) crop pixels apart, or outside a crop narrower than 60 mm.
    Scene scene = makeScene(200, 200, 1, 0.5, 0.5, 1.0, 100.0, 100.0);
    for (size_t row = 0; row < 200; ++row)
    {
      for (size_t column : {38, 39, 40, 41, 42, 158, 159, 160, 161, 162})
      {
        scene.volume.slice(0)[row * 200 + column] = 1000;
      }
    }
    for (double cropMm : {50.0, 100.0, 128.0})
    {
      const CropBatch batch = makeCrops(scene.volume, scene.layout, {0}, identityIntensity(64, cropMm));
      std::vector<size_t> bright;
      for (size_t i = 0; i < 64; ++i)
      {
        if (at(batch, 0, 0, i, 31) > 0.2f)
        {
          bright.push_back(i);
        }
      }
      if (cropMm < 60.0)
      {
        EXPECT_TRUE(bright.empty()) << "lines 30 mm from the centre are outside a " << cropMm << " mm crop";
      }
      else
      {
        ASSERT_FALSE(bright.empty());
        const double cropPixelMm = cropMm / 64.0;
        const double spanMm = static_cast<double>(bright.back() - bright.front()) * cropPixelMm;
        EXPECT_NEAR(spanMm, 60.0, cropPixelMm + 2.5) << cropMm << " mm crop";
        EXPECT_NEAR((bright.back() + bright.front()) / 2.0, 31.5, 1.0) << "centred";
      }
    }
  }

  TEST(Crops, WindowAndNormalisation)
  {
    Preprocessing p;
    p.inputSize = 8;
    p.cropMm = 8;
    p.windowLow = -250;
    p.windowHigh = 1250;
    p.mean = 0.2;
    p.std = 0.4;
    for (int hu : {-1000, -250, 0, 500, 1250, 3000})
    {
      const Scene scene = makeScene(32, 32, 1, 1.0, 1.0, 1.0, 16.0, 16.0, static_cast<int16_t>(hu));
      const CropBatch batch = makeCrops(scene.volume, scene.layout, {0}, p);
      const double windowed = std::clamp((hu + 250.0) / 1500.0, 0.0, 1.0);
      const float expected = static_cast<float>((windowed - 0.2) / 0.4);
      for (float value : batch.values)
      {
        ASSERT_NEAR(value, expected, 1e-6) << hu << " HU";
      }
    }
  }

  TEST(Crops, BilinearBetweenPixels)
  {
    // Columns alternate 0 and 1000 HU; a crop sampling halfway between them sees 500 HU.
    Scene scene = makeScene(40, 40, 1, 1.0, 1.0, 1.0, 20.0, 20.0);
    for (size_t row = 0; row < 40; ++row)
    {
      for (size_t column = 1; column < 40; column += 2)
      {
        scene.volume.slice(0)[row * 40 + column] = 1000;
      }
    }
    // Size 10 over 10 mm centred on column 20.0: samples at columns 15.5, 16.5, ...
    const CropBatch batch = makeCrops(scene.volume, scene.layout, {0}, identityIntensity(10, 10.0));
    for (float value : batch.values)
    {
      ASSERT_NEAR(value, 0.5f, 1e-6);
    }
  }

  TEST(Crops, ChannelsStackTheNearestNeighbouringSlices)
  {
    // Slice s holds 10 * s HU, so each channel tells which slice it came from.
    Scene scene = makeScene(16, 16, 12, 1.0, 1.0, 1.5, 8.0, 8.0);
    for (size_t s = 0; s < 12; ++s)
    {
      std::fill(scene.volume.slice(s), scene.volume.slice(s) + 16 * 16, static_cast<int16_t>(10 * s));
    }
    Preprocessing p = identityIntensity(4, 4.0);
    p.channels = 5;
    p.channelSpacingMm = 2.0;    // offsets -4, -2, 0, 2, 4 mm = -2.67, -1.33, 0, 1.33, 2.67 slices
    const CropBatch batch = makeCrops(scene.volume, scene.layout, {6, 0, 11}, p);
    ASSERT_EQ(batch.channels, 5u);
    ASSERT_EQ(batch.sliceIndices, (std::vector<size_t>{6, 0, 11}));
    const std::vector<std::vector<int>> expectedSlices = {
      {3, 5, 6, 7, 9},       // nearest slices
      {0, 0, 0, 1, 3},       // clamped at the caudal end
      {8, 10, 11, 11, 11}};  // clamped at the cranial end
    for (size_t n = 0; n < 3; ++n)
    {
      for (size_t k = 0; k < 5; ++k)
      {
        EXPECT_NEAR(at(batch, n, k, 1, 2), expectedSlices[n][k] * 10 / 1000.0, 1e-6) << "crop " << n << " channel " << k;
      }
    }
  }

  TEST(Crops, OutsideTheImageIsAir)
  {
    Scene scene = makeScene(20, 20, 1, 1.0, 1.0, 1.0, 0.0, 0.0, 500);   // centred on the corner pixel
    Preprocessing p = identityIntensity(20, 20.0);
    p.windowLow = -2000;
    p.windowHigh = 2000;
    const CropBatch batch = makeCrops(scene.volume, scene.layout, {0}, p);
    const float air = (-1024.0f + 2000.0f) / 4000.0f;
    const float tissue = (500.0f + 2000.0f) / 4000.0f;
    // Samples at -9.5 .. 9.5 pixels: the first 9 rows and columns are wholly outside, sample 9
    // (at -0.5) is half air, and samples from 10 on are inside.
    EXPECT_NEAR(at(batch, 0, 0, 0, 0), air, 1e-6);
    EXPECT_NEAR(at(batch, 0, 0, 15, 3), air, 1e-6);
    EXPECT_NEAR(at(batch, 0, 0, 3, 15), air, 1e-6);
    EXPECT_NEAR(at(batch, 0, 0, 15, 15), tissue, 1e-6);
    EXPECT_NEAR(at(batch, 0, 0, 9, 15), (air + tissue) / 2, 1e-6);
    // And past the far edge of the image.
    scene.layout.slices[0].cropCentreColumn = 19.0;
    scene.layout.slices[0].cropCentreRow = 19.0;
    const CropBatch far = makeCrops(scene.volume, scene.layout, {0}, p);
    EXPECT_NEAR(at(far, 0, 0, 19, 19), air, 1e-6);
    EXPECT_NEAR(at(far, 0, 0, 2, 2), tissue, 1e-6);
  }

  TEST(Crops, NoFlipsLeftStaysLeft)
  {
    // The patient's left half (higher columns for 1\0\0\0\1\0) is bone, the right half air; the
    // posterior half (higher rows) is fat-free soft tissue.
    Scene scene = makeScene(64, 64, 1, 1.0, 1.0, 1.0, 32.0, 32.0, 0);
    for (size_t row = 0; row < 64; ++row)
    {
      for (size_t column = 0; column < 64; ++column)
      {
        scene.volume.slice(0)[row * 64 + column] =
          static_cast<int16_t>((column >= 32 ? 800 : 0) + (row >= 32 ? 100 : 0));
      }
    }
    const CropBatch batch = makeCrops(scene.volume, scene.layout, {0}, identityIntensity(16, 32.0));
    EXPECT_NEAR(at(batch, 0, 0, 2, 2), 0.0f, 1e-6);      // anterior right
    EXPECT_NEAR(at(batch, 0, 0, 13, 2), 0.8f, 1e-6);     // anterior left
    EXPECT_NEAR(at(batch, 0, 0, 2, 13), 0.1f, 1e-6);     // posterior right
    EXPECT_NEAR(at(batch, 0, 0, 13, 13), 0.9f, 1e-6);    // posterior left
  }

  TEST(Crops, RefusesSlicesWithoutVertebraAndBadInput)
  {
    Scene scene = makeScene(16, 16, 4, 1.0, 1.0, 1.0, 8.0, 8.0);
    scene.layout.slices[2].vertebraPresent = false;
    const Preprocessing p = identityIntensity(8, 8.0);
    EXPECT_EQ(errorCode([&] { makeCrops(scene.volume, scene.layout, {1, 2}, p); }), "crop-slice");
    EXPECT_EQ(errorCode([&] { makeCrops(scene.volume, scene.layout, {4}, p); }), "crop-slice");
    SpineLayout shortLayout = scene.layout;
    shortLayout.slices.pop_back();
    EXPECT_EQ(errorCode([&] { makeCrops(scene.volume, shortLayout, {0}, p); }), "crop-slice");
    Preprocessing evenChannels = p;
    evenChannels.channels = 2;
    evenChannels.channelSpacingMm = 1;
    EXPECT_EQ(errorCode([&] { makeCrops(scene.volume, scene.layout, {0}, evenChannels); }), "model-contract");
    SpineLayout lost = scene.layout;
    lost.slices[1].cropCentreColumn = std::nan("");
    EXPECT_EQ(errorCode([&] { makeCrops(scene.volume, lost, {1}, p); }), "crop-slice");
    const CropBatch none = makeCrops(scene.volume, scene.layout, {}, p);
    EXPECT_EQ(none.count(), 0u);
    EXPECT_TRUE(none.values.empty());
  }
}

namespace spinemet
{
  // The separable, row-cached sampler against the definition, pixel by pixel, on noise: odd and
  // even sizes, up- and downsampling, anisotropic pixels, crops hanging over every edge.
  TEST(Crops, MatchesThePerPixelDefinition)
  {
    const size_t columns = 70;
    const size_t rows = 50;
    VolumeGeometry geometry;
    geometry.columns = columns;
    geometry.rows = rows;
    geometry.slices = 5;
    geometry.columnSpacing = 0.8;
    geometry.rowSpacing = 0.6;
    geometry.sliceSpacing = 3;
    std::vector<std::vector<int16_t>> data(5, std::vector<int16_t>(columns * rows));
    uint32_t state = 7;
    for (auto& slice : data)
    {
      for (int16_t& value : slice)
      {
        state = state * 1664525u + 1013904223u;
        value = static_cast<int16_t>(static_cast<int>(state >> 21) - 1024);
      }
    }
    const Volume volume(geometry, std::move(data));
    SpineLayout layout;
    layout.slices.resize(5);
    const std::vector<std::pair<double, double>> centres = {{35.2, 24.7}, {1.3, 2.9}, {68.6, 48.1}, {-3.0, 60.5}, {40.0, 0.0}};
    for (size_t s = 0; s < 5; ++s)
    {
      layout.slices[s].vertebraPresent = true;
      layout.slices[s].vertebra = 0;
      layout.slices[s].cropCentreColumn = centres[s].first;
      layout.slices[s].cropCentreRow = centres[s].second;
    }
    layout.vertebrae.push_back(Vertebra{0, "", 0, 4});

    for (const auto& [size, cropMm, channels] : std::vector<std::tuple<int, double, int>>{
           {17, 30.0, 1}, {32, 10.0, 3}, {50, 60.0, 1}, {64, 25.6, 5}})
    {
      Preprocessing p;
      p.inputSize = size;
      p.cropMm = cropMm;
      p.channels = channels;
      p.channelSpacingMm = channels > 1 ? 3 : 0;
      p.windowLow = -1100;
      p.windowHigh = 3100;
      p.mean = 0.3;
      p.std = 0.7;
      const CropBatch batch = makeCrops(volume, layout, {0, 1, 2, 3, 4}, p);
      auto pixel = [&](size_t slice, long column, long row) -> double {
        if (column < 0 || row < 0 || column >= static_cast<long>(columns) || row >= static_cast<long>(rows))
        {
          return -1024;
        }
        return volume.at(static_cast<size_t>(column), static_cast<size_t>(row), slice);
      };
      for (size_t n = 0; n < 5; ++n)
      {
        for (int k = 0; k < channels; ++k)
        {
          const size_t source = static_cast<size_t>(std::clamp(static_cast<long>(n) + (k - channels / 2), 0L, 4L));
          for (int j = 0; j < size; ++j)
          {
            for (int i = 0; i < size; ++i)
            {
              const double x = centres[n].first + ((i + 0.5) / size - 0.5) * cropMm / 0.8;
              const double y = centres[n].second + ((j + 0.5) / size - 0.5) * cropMm / 0.6;
              const long x0 = static_cast<long>(std::floor(x));
              const long y0 = static_cast<long>(std::floor(y));
              const double wx = x - x0;
              const double wy = y - y0;
              const double hu = (1 - wy) * ((1 - wx) * pixel(source, x0, y0) + wx * pixel(source, x0 + 1, y0)) +
                                wy * ((1 - wx) * pixel(source, x0, y0 + 1) + wx * pixel(source, x0 + 1, y0 + 1));
              const double expected = (std::clamp((hu + 1100) / 4200, 0.0, 1.0) - 0.3) / 0.7;
              ASSERT_NEAR(at(batch, n, static_cast<size_t>(k), static_cast<size_t>(i), static_cast<size_t>(j)),
                          expected, 2e-5)
                << "size " << size << " crop " << n << " channel " << k << " pixel " << i << "," << j;
            }
          }
        }
      }
    }
  }
}
