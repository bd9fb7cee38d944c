// SPDX-License-Identifier: GPL-3.0-or-later
// Every supported transfer syntax gives the volume of the uncompressed series: the encoded copies
// come from DCMTK's own command-line tools and from OpenJPEG's opj_compress, and small files that
// other encoders wrote (pydicom's test files) are checked against their uncompressed twins or
// against pydicom's own decoding.
#include "SyntheticSeries.h"

#include "volume/SeriesLoader.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <thread>

namespace spinemet::test
{
  namespace
  {
    const std::filesystem::path pydicomFiles = "/usr/lib/python3/dist-packages/pydicom/data/test_files";

    struct Difference
    {
      double meanAbsolute = 0;
      int largest = 0;
    };

    Difference compare(const Volume& expected, const Volume& actual)
    {
      EXPECT_EQ(actual.columns(), expected.columns());
      EXPECT_EQ(actual.rows(), expected.rows());
      EXPECT_EQ(actual.sliceCount(), expected.sliceCount());
      Difference difference;
      size_t count = 0;
      for (size_t s = 0; s < std::min(expected.sliceCount(), actual.sliceCount()); ++s)
      {
        for (size_t i = 0; i < expected.columns() * expected.rows(); ++i)
        {
          const int delta = std::abs(expected.slice(s)[i] - actual.slice(s)[i]);
          difference.meanAbsolute += delta;
          difference.largest = std::max(difference.largest, delta);
          ++count;
        }
      }
      difference.meanAbsolute /= std::max<size_t>(count, 1);
      return difference;
    }

    // The uncompressed series on disk and its volume, shared by the conversions below.
    class TransferSyntax : public ::testing::Test
    {
    protected:
      void writePlain(const SeriesSpec& spec)
      {
        spec_ = spec;
        files_ = makeSeries(spec);
        std::filesystem::create_directory(folder_.path() / "plain");
        plainPaths_ = writeSeries(files_, folder_.path() / "plain");
        plain_ = loadSeries(FileSliceSource({(folder_.path() / "plain").string()})).volume;
      }

      // Runs `tool` (with `{in}` and `{out}` in it) on every plain file.
      Volume convertWith(const std::string& name, const std::string& tool, const std::string& expectedUid)
      {
        const std::filesystem::path out = folder_.path() / name;
        std::filesystem::create_directory(out);
        for (const std::string& in : plainPaths_)
        {
          std::string command = tool;
          command.replace(command.find("{in}"), 4, in);
          const std::string target = (out / std::filesystem::path(in).filename()).string();
          command.replace(command.find("{out}"), 5, target);
          std::string output;
          EXPECT_EQ(runCommand(command, &output), 0) << command << "\n" << output;
        }
        std::string dump;
        runCommand("dcmdump -q -Un +P 0002,0010 " + (out / "slice-0.dcm").string(), &dump);
        EXPECT_NE(dump.find(expectedUid), std::string::npos) << name << ": " << dump;
        return loadSeries(FileSliceSource({out.string()})).volume;
      }

      // Encodes each slice's stored values with opj_compress and wraps the codestream.
      Volume convertWithOpenJpeg(const std::string& name, const std::string& options, E_TransferSyntax syntax)
      {
        const std::filesystem::path out = folder_.path() / name;
        std::filesystem::create_directory(out);
        openJpegReference_.clear();
        MemorySliceSource source;
        for (size_t s = 0; s < files_.size(); ++s)
        {
          std::vector<int16_t> samples(spec_.rows * spec_.columns);
          for (size_t r = 0; r < spec_.rows; ++r)
          {
            for (size_t c = 0; c < spec_.columns; ++c)
            {
              samples[r * spec_.columns + c] = static_cast<int16_t>(storedValue(spec_, expectedHu(spec_, c, r, s)));
            }
          }
          const std::filesystem::path raw = out / ("slice-" + std::to_string(s) + ".rawl");
          const std::filesystem::path codestream = out / ("slice-" + std::to_string(s) + ".j2k");
          std::ofstream(raw, std::ios::binary)
            .write(reinterpret_cast<const char*>(samples.data()), samples.size() * sizeof(int16_t));
          const std::string command = "opj_compress -i " + raw.string() + " -o " + codestream.string() + " -F " +
                                      std::to_string(spec_.columns) + "," + std::to_string(spec_.rows) + ",1," +
                                      std::to_string(spec_.bitsStored) + "," + (spec_.signedPixels ? "s" : "u") +
                                      " " + options;
          std::string output;
          EXPECT_EQ(runCommand(command, &output), 0) << command << "\n" << output;

          // opj_decompress's reading of the same codestream, as HU: what the loader must give.
          const std::filesystem::path decoded = out / ("slice-" + std::to_string(s) + "-decoded.rawl");
          EXPECT_EQ(runCommand("opj_decompress -i " + codestream.string() + " -o " + decoded.string(), &output), 0)
            << output;
          const std::string decodedBytes = readFile(decoded);
          EXPECT_EQ(decodedBytes.size(), samples.size() * 2);
          std::vector<int16_t> hounsfield(samples.size());
          for (size_t i = 0; i < samples.size() && 2 * i + 1 < decodedBytes.size(); ++i)
          {
            int16_t sample;
            std::memcpy(&sample, decodedBytes.data() + 2 * i, 2);
            hounsfield[i] = static_cast<int16_t>(sample * spec_.slope + spec_.intercept);
          }
          openJpegReference_.push_back(std::move(hounsfield));

          encapsulate(*files_[s], syntax, readFile(codestream));
          source.add(codestream.filename().string(), toBytes(*files_[s], syntax));
        }
        files_ = makeSeries(spec_);   // native pixels again for the next conversion
        return loadSeries(source).volume;
      }

      TemporaryFolder folder_;
      SeriesSpec spec_;
      Datasets files_;
      std::vector<std::string> plainPaths_;
      Volume plain_;
      std::vector<std::vector<int16_t>> openJpegReference_;   // per slice, from opj_decompress
    };
  }

  TEST_F(TransferSyntax, UncompressedVariantsAndLosslessCodecsUnsigned12Bit)
  {
    writePlain({});
    struct Case
    {
      const char* name;
      const char* tool;
      const char* uid;
    };
    const Case cases[] = {
      {"implicit", "dcmconv +ti {in} {out}", UID_LittleEndianImplicitTransferSyntax},
      {"big-endian", "dcmconv +tb {in} {out}", UID_BigEndianExplicitTransferSyntax},
      {"deflated", "dcmconv +td {in} {out}", UID_DeflatedExplicitVRLittleEndianTransferSyntax},
      {"rle", "dcmcrle {in} {out}", UID_RLELosslessTransferSyntax},
      {"jpeg-lossless-sv1", "dcmcjpeg +e1 {in} {out}", UID_JPEGProcess14SV1TransferSyntax},
      {"jpeg-lossless", "dcmcjpeg +el {in} {out}", UID_JPEGProcess14TransferSyntax},
      {"jpeg-ls-lossless", "dcmcjpls +el {in} {out}", UID_JPEGLSLosslessTransferSyntax},
    };
    for (const Case& c : cases)
    {
      const Difference d = compare(plain_, convertWith(c.name, c.tool, c.uid));
      EXPECT_EQ(d.largest, 0) << c.name;
    }
  }

  TEST_F(TransferSyntax, LosslessCodecsSigned16Bit)
  {
    SeriesSpec spec;
    spec.signedPixels = true;
    spec.bitsStored = 16;
    spec.intercept = 0;
    writePlain(spec);
    const Difference rle = compare(plain_, convertWith("rle", "dcmcrle {in} {out}", UID_RLELosslessTransferSyntax));
    EXPECT_EQ(rle.largest, 0);
    const Difference jpeg =
      compare(plain_, convertWith("jpeg", "dcmcjpeg +e1 {in} {out}", UID_JPEGProcess14SV1TransferSyntax));
    EXPECT_EQ(jpeg.largest, 0);
    const Difference jpegLs =
      compare(plain_, convertWith("jpeg-ls", "dcmcjpls +el {in} {out}", UID_JPEGLSLosslessTransferSyntax));
    EXPECT_EQ(jpegLs.largest, 0);
    const Difference big = compare(plain_, convertWith("big", "dcmconv +tb {in} {out}", UID_BigEndianExplicitTransferSyntax));
    EXPECT_EQ(big.largest, 0);
  }

  TEST_F(TransferSyntax, LossyCodecsStayClose)
  {
    writePlain({});
    const Difference extended =
      compare(plain_, convertWith("jpeg-extended", "dcmcjpeg +ee {in} {out}", UID_JPEGProcess2_4TransferSyntax));
    EXPECT_GT(extended.largest, 0);          // it did go through a lossy coder
    EXPECT_LT(extended.meanAbsolute, 10);
    const Difference nearLossless =
      compare(plain_, convertWith("jpeg-ls-near", "dcmcjpls +en +md 2 {in} {out}", UID_JPEGLSLossyTransferSyntax));
    EXPECT_LE(nearLossless.largest, 2);
  }

  TEST_F(TransferSyntax, JpegBaselineEightBit)
  {
    SeriesSpec spec;
    spec.bitsAllocated = 8;
    spec.bitsStored = 8;
    spec.slope = 8;
    spec.intercept = -1024;
    writePlain(spec);
    const Difference baseline =
      compare(plain_, convertWith("jpeg-baseline", "dcmcjpeg +eb {in} {out}", UID_JPEGProcess1TransferSyntax));
    EXPECT_GT(baseline.largest, 0);
    EXPECT_LT(baseline.meanAbsolute, 8 * 3);   // within a few stored steps on average
  }

  TEST_F(TransferSyntax, Jpeg2000ThroughOpenJpeg)
  {
    writePlain({});
    const Difference lossless = compare(plain_, convertWithOpenJpeg("j2k", "", EXS_JPEG2000LosslessOnly));
    EXPECT_EQ(lossless.largest, 0);
    const Volume lossyVolume = convertWithOpenJpeg("j2k-lossy", "-r 4", EXS_JPEG2000);
    const Difference lossy = compare(plain_, lossyVolume);
    EXPECT_GT(lossy.largest, 0);
    EXPECT_LT(lossy.meanAbsolute, 10);
    ASSERT_EQ(openJpegReference_.size(), lossyVolume.sliceCount());
    for (size_t s = 0; s < lossyVolume.sliceCount(); ++s)
    {
      EXPECT_TRUE(std::equal(openJpegReference_[s].begin(), openJpegReference_[s].end(), lossyVolume.slice(s)))
        << "slice " << s << " differs from opj_decompress";
    }
  }

  TEST_F(TransferSyntax, Jpeg2000SignedPixels)
  {
    SeriesSpec spec;
    spec.signedPixels = true;
    spec.bitsStored = 16;
    spec.intercept = 0;
    writePlain(spec);
    EXPECT_EQ(compare(plain_, convertWithOpenJpeg("j2k", "", EXS_JPEG2000LosslessOnly)).largest, 0);
  }

  TEST_F(TransferSyntax, ConcurrentLoadsFromWorkerThreadsAgree)
  {
    // The plugin loads series on worker threads: codec registration and decoding must not race.
    writePlain({});
    const std::filesystem::path jpeg = folder_.path() / "jpeg";
    convertWith("jpeg", "dcmcjpeg +e1 {in} {out}", UID_JPEGProcess14SV1TransferSyntax);
    std::vector<Volume> volumes(4);
    std::vector<std::string> errors(volumes.size());
    std::vector<std::thread> threads;
    for (size_t t = 0; t < volumes.size(); ++t)
    {
      threads.emplace_back([&, t]
      {
        try
        {
          volumes[t] = loadSeries(FileSliceSource({(t % 2 == 0 ? jpeg : folder_.path() / "plain").string()})).volume;
        }
        catch (const std::exception& error)
        {
          errors[t] = error.what();
        }
      });
    }
    for (std::thread& thread : threads)
    {
      thread.join();
    }
    for (size_t t = 0; t < volumes.size(); ++t)
    {
      EXPECT_EQ(errors[t], "") << "thread " << t;
      EXPECT_EQ(compare(plain_, volumes[t]).largest, 0) << "thread " << t;
    }
  }

  namespace
  {
    // pydicom's MR_small in another syntax, relabelled as a one-slice CT so that the loader takes it.
    Volume loadRelabelledMr(const std::string& fileName)
    {
      DcmFileFormat file;
      const std::filesystem::path path = pydicomFiles / fileName;
      EXPECT_TRUE(file.loadFile(path.c_str()).good()) << path;
      DcmDataset& d = *file.getDataset();
      const E_TransferSyntax syntax = d.getOriginalXfer();
      d.putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
      d.putAndInsertString(DCM_Modality, "CT");
      d.putAndInsertString(DCM_RescaleSlope, "1");
      d.putAndInsertString(DCM_RescaleIntercept, "0");
      MemorySliceSource source;
      source.add(fileName, toBytes(file, syntax));
      LoadOptions options;
      options.minimumSlices = 1;
      return loadSeries(source, options).volume;
    }
  }

  TEST(TransferSyntaxReference, PydicomFilesFromOtherEncodersMatchTheirUncompressedTwin)
  {
    const Volume reference = loadRelabelledMr("MR_small.dcm");
    ASSERT_EQ(reference.columns(), 64u);
    for (const char* variant : {"MR_small_implicit.dcm", "MR_small_bigendian.dcm", "MR_small_expb.dcm",
                                "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"})
    {
      const Difference d = compare(reference, loadRelabelledMr(variant));
      EXPECT_EQ(d.largest, 0) << variant;
    }
  }

  TEST(TransferSyntaxReference, LossyJpeg2000CtMatchesPydicomDecoding)
  {
    // 693_J2KI.dcm: a real 512x512 CT slice, 14 bits stored, signed, padding -2000, lossy JPEG 2000
    // from another encoder. pydicom (through Pillow) decodes it independently of this loader.
    TemporaryFolder folder;
    const std::filesystem::path file = pydicomFiles / "693_J2KI.dcm";
    const std::filesystem::path raw = folder.path() / "pixels.raw";
    const std::string script = "import pydicom, warnings; warnings.simplefilter('ignore'); "
                               "d = pydicom.dcmread('" + file.string() + "'); "
                               "open('" + raw.string() + "', 'wb').write(d.pixel_array.astype('<i2').tobytes())";
    std::string output;
    ASSERT_EQ(runCommand("/usr/bin/python3 -c \"" + script + "\"", &output), 0) << output;
    const std::string bytes = readFile(raw);
    ASSERT_EQ(bytes.size(), 512u * 512u * 2u);

    LoadOptions options;
    options.minimumSlices = 1;
    const Series series = loadSeries(FileSliceSource({file.string()}), options);
    size_t padded = 0;
    for (size_t i = 0; i < 512 * 512; ++i)
    {
      int16_t stored;
      std::memcpy(&stored, bytes.data() + 2 * i, 2);
      const int expected = stored == -2000 ? options.paddingHu : stored - 1024;
      padded += stored == -2000;
      ASSERT_EQ(series.volume.slice(0)[i], expected) << "pixel " << i;
    }
    EXPECT_GT(padded, 0u);
  }
}
