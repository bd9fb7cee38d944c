// SPDX-License-Identifier: GPL-3.0-or-later
#include "volume/DicomInstance.h"

#include "common/AnalysisError.h"
#include "volume/DicomPrescan.h"
#include "volume/Jpeg2000.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <mutex>
#include <stdexcept>

namespace spinemet
{
  namespace
  {
    // DCMTK's codec registry is global; registering is not thread-safe, decoding is.
    void registerDecodersOnce()
    {
      static std::once_flag once;
      std::call_once(once, []
      {
        DcmRLEDecoderRegistration::registerCodecs();
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
      });
    }

    enum class Decoder
    {
      Dcmtk,
      OpenJpeg,
      None
    };

    Decoder decoderFor(const std::string& transferSyntaxUid)
    {
      static const char* const byDcmtk[] = {
        UID_LittleEndianImplicitTransferSyntax,
        UID_LittleEndianExplicitTransferSyntax,
        UID_BigEndianExplicitTransferSyntax,
        UID_DeflatedExplicitVRLittleEndianTransferSyntax,
        UID_RLELosslessTransferSyntax,
        UID_JPEGProcess1TransferSyntax,
        UID_JPEGProcess2_4TransferSyntax,
        UID_JPEGProcess14TransferSyntax,
        UID_JPEGProcess14SV1TransferSyntax,
        UID_JPEGLSLosslessTransferSyntax,
        UID_JPEGLSLossyTransferSyntax,
      };
      for (const char* uid : byDcmtk)
      {
        if (transferSyntaxUid == uid)
        {
          return Decoder::Dcmtk;
        }
      }
      if (transferSyntaxUid == UID_JPEG2000LosslessOnlyTransferSyntax ||
          transferSyntaxUid == UID_JPEG2000TransferSyntax)
      {
        return Decoder::OpenJpeg;
      }
      return Decoder::None;
    }

    // The ranges a CT image of a patient stays in (docs/series-to-volume.md, "Values refused").
    constexpr double minimumPixelSpacingMm = 0.05;
    constexpr double maximumPixelSpacingMm = 20;
    constexpr double maximumSliceThicknessMm = 100;
    constexpr double maximumCoordinateMm = 1e5;

    std::string describeRange(double low, double high)
    {
      char text[64];
      std::snprintf(text, sizeof(text), "%g to %g", low, high);
      return text;
    }

    std::string describeTag(const DcmTagKey& key)
    {
      DcmTag tag(key);
      return std::string(tag.getTagName()) + " " + key.toString().c_str();
    }

    AnalysisError missingTag(const DcmTagKey& key, const std::string& name)
    {
      return AnalysisError("missing-tag", name + " has no " + describeTag(key) +
                                          ", which a CT image must have");
    }

    AnalysisError invalidTag(const DcmTagKey& key, const std::string& name, const std::string& why)
    {
      return AnalysisError("invalid-tag", name + ": " + describeTag(key) + " " + why);
    }

    // The transfer syntax the pixel data is actually encoded in.
    std::string transferSyntaxOf(DcmFileFormat& file)
    {
      OFString uid;
      if (file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, uid).good() && !uid.empty())
      {
        return uid.c_str();
      }
      return DcmXfer(file.getDataset()->getOriginalXfer()).getXferID();
    }

    std::string nameOfTransferSyntax(const std::string& uid)
    {
      DcmXfer xfer(uid.c_str());
      if (xfer.getXfer() != EXS_Unknown)
      {
        return xfer.getXferName();
      }
      // Newer than the DCMTK of Debian bookworm (3.6.7), and met in archives.
      static const std::pair<const char*, const char*> newer[] = {
        {"1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 (Lossless Only)"},
        {"1.2.840.10008.1.2.4.202", "High-Throughput JPEG 2000 with RPCL Options (Lossless Only)"},
        {"1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000"},
        {"1.2.840.10008.1.2.8.1", "JPEG XL Lossless"},
        {"1.2.840.10008.1.2.8.2", "JPEG XL JPEG Recompression"},
        {"1.2.840.10008.1.2.8.3", "JPEG XL"},
      };
      for (const auto& [known, name] : newer)
      {
        if (uid == known)
        {
          return name;
        }
      }
      const char* name = dcmFindNameOfUID(uid.c_str(), nullptr);
      return name != nullptr ? name : "a transfer syntax DCMTK does not know";
    }

    std::string requiredString(DcmItem& item, const DcmTagKey& key, const std::string& name)
    {
      OFString value;
      if (item.findAndGetOFStringArray(key, value).bad() || value.empty())
      {
        throw missingTag(key, name);
      }
      return value.c_str();
    }

    std::string optionalString(DcmItem& item, const DcmTagKey& key)
    {
      OFString value;
      if (item.findAndGetOFStringArray(key, value).bad())
      {
        return {};
      }
      return value.c_str();
    }

    std::vector<double> requiredNumbers(DcmItem& item, const DcmTagKey& key, unsigned long count,
                                        const std::string& name)
    {
      DcmElement* element = nullptr;
      if (item.findAndGetElement(key, element).bad() || element == nullptr || element->isEmpty())
      {
        throw missingTag(key, name);
      }
      if (element->getVM() != count)
      {
        throw invalidTag(key, name, "has " + std::to_string(element->getVM()) + " values instead of " +
                                    std::to_string(count));
      }
      std::vector<double> values(count);
      for (unsigned long i = 0; i < count; ++i)
      {
        Float64 value = 0;
        if (element->getFloat64(value, i).bad() || !std::isfinite(value))
        {
          OFString text;
          element->getOFStringArray(text);
          throw invalidTag(key, name, "is not a list of numbers: \"" + std::string(text.c_str()) + "\"");
        }
        values[i] = value;
      }
      return values;
    }

    // Optional decimal: 0 when absent or empty, an error when present but not a number.
    double optionalNumber(DcmItem& item, const DcmTagKey& key, const std::string& name)
    {
      DcmElement* element = nullptr;
      if (item.findAndGetElement(key, element).bad() || element == nullptr || element->isEmpty())
      {
        return 0;
      }
      Float64 value = 0;
      if (element->getFloat64(value, 0).bad() || !std::isfinite(value))
      {
        throw invalidTag(key, name, "is not a number");
      }
      return value;
    }

    Uint16 requiredUnsigned(DcmItem& item, const DcmTagKey& key, const std::string& name)
    {
      Uint16 value = 0;
      if (!item.tagExistsWithValue(key))
      {
        throw missingTag(key, name);
      }
      if (item.findAndGetUint16(key, value).bad())
      {
        throw invalidTag(key, name, "is not an unsigned short");
      }
      return value;
    }

    // Pixel Padding Value and its range limit are US or SS following Pixel Representation
    // (their VR is "xs"); read either and interpret the 16 bits the way the pixels are.
    bool paddingBound(DcmItem& item, const DcmTagKey& key, bool signedPixels, int32_t& bound)
    {
      DcmElement* element = nullptr;
      if (item.findAndGetElement(key, element).bad() || element == nullptr || element->isEmpty())
      {
        return false;
      }
      Uint16 bits = 0;
      if (element->ident() == EVR_SS)
      {
        Sint16 value = 0;
        if (element->getSint16(value).bad())
        {
          return false;
        }
        bits = static_cast<Uint16>(value);
      }
      else if (element->getUint16(bits).bad())
      {
        return false;
      }
      bound = signedPixels ? static_cast<int32_t>(static_cast<int16_t>(bits)) : static_cast<int32_t>(bits);
      return true;
    }

    Vector3 unitVector(const std::vector<double>& values, size_t first)
    {
      return {values[first], values[first + 1], values[first + 2]};
    }

    double length(const Vector3& v)
    {
      return std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    }

    struct PixelLayout
    {
      size_t rows = 0;
      size_t columns = 0;
      unsigned bitsAllocated = 0;
      unsigned bitsStored = 0;
      unsigned highBit = 0;
      bool isSigned = false;
      double slope = 1;
      double intercept = 0;
      bool hasPadding = false;
      int32_t paddingLow = 0;
      int32_t paddingHigh = 0;
    };

    // Stored values (already masked and sign-extended) to Hounsfield units.
    class HounsfieldConverter
    {
    public:
      HounsfieldConverter(const PixelLayout& layout, int16_t paddingHu) :
        layout_(layout),
        paddingHu_(paddingHu),
        // Slope 1 and a whole intercept (most CT): stored + intercept is exact in integers, the
        // same value the rounding below gives, without a floating-point round per pixel.
        wholeShift_(layout.slope == 1.0 && std::fabs(layout.intercept) < 1e9 &&
                    layout.intercept == std::floor(layout.intercept)),
        shift_(wholeShift_ ? static_cast<int64_t>(layout.intercept) : 0)
      {
      }

      int16_t operator()(int32_t stored) const
      {
        if (layout_.hasPadding && stored >= layout_.paddingLow && stored <= layout_.paddingHigh)
        {
          return paddingHu_;
        }
        if (wholeShift_)
        {
          return static_cast<int16_t>(std::clamp<int64_t>(stored + shift_, -32768, 32767));
        }
        const double hu = std::round(stored * layout_.slope + layout_.intercept);
        return static_cast<int16_t>(std::clamp(hu, -32768.0, 32767.0));
      }

    private:
      const PixelLayout& layout_;
      int16_t paddingHu_;
      bool wholeShift_;
      int64_t shift_;
    };

    // The stored value of one sample from the bits it was allocated: drop what is below the
    // low bit, keep Bits Stored bits, sign-extend when Pixel Representation says signed.
    class StoredValueExtractor
    {
    public:
      explicit StoredValueExtractor(const PixelLayout& layout) :
        shift_(layout.highBit + 1 - layout.bitsStored),
        mask_(layout.bitsStored >= 32 ? 0xffffffffu : (1u << layout.bitsStored) - 1),
        signBit_(1u << (layout.bitsStored - 1)),
        isSigned_(layout.isSigned)
      {
      }

      int32_t operator()(uint32_t allocated) const
      {
        const uint32_t value = (allocated >> shift_) & mask_;
        if (isSigned_ && (value & signBit_) != 0)
        {
          return static_cast<int32_t>(value | ~mask_);
        }
        return static_cast<int32_t>(value);
      }

    private:
      unsigned shift_;
      uint32_t mask_;
      uint32_t signBit_;
      bool isSigned_;
    };

    PixelLayout readPixelLayout(DcmDataset& dataset, const std::string& name)
    {
      PixelLayout layout;
      const Uint16 samplesPerPixel = requiredUnsigned(dataset, DCM_SamplesPerPixel, name);
      const std::string photometric = requiredString(dataset, DCM_PhotometricInterpretation, name);
      if (samplesPerPixel != 1 || (photometric != "MONOCHROME2" && photometric != "MONOCHROME1"))
      {
        throw AnalysisError("unsupported-pixel-format",
                            name + " has " + std::to_string(samplesPerPixel) +
                            " samples per pixel and Photometric Interpretation " + photometric +
                            "; a CT image is one grey-scale sample (MONOCHROME2 or MONOCHROME1)");
      }
      layout.rows = requiredUnsigned(dataset, DCM_Rows, name);
      layout.columns = requiredUnsigned(dataset, DCM_Columns, name);
      if (layout.rows == 0 || layout.columns == 0)
      {
        throw invalidTag(layout.rows == 0 ? DCM_Rows : DCM_Columns, name, "is zero");
      }
      layout.bitsAllocated = requiredUnsigned(dataset, DCM_BitsAllocated, name);
      layout.bitsStored = requiredUnsigned(dataset, DCM_BitsStored, name);
      layout.highBit = requiredUnsigned(dataset, DCM_HighBit, name);
      layout.isSigned = requiredUnsigned(dataset, DCM_PixelRepresentation, name) == 1;
      if (layout.bitsAllocated != 8 && layout.bitsAllocated != 16)
      {
        throw AnalysisError("unsupported-pixel-format",
                            name + " has Bits Allocated " + std::to_string(layout.bitsAllocated) +
                            "; only 8 and 16 are supported");
      }
      if (layout.bitsStored == 0 || layout.bitsStored > layout.bitsAllocated ||
          layout.highBit + 1 < layout.bitsStored || layout.highBit >= layout.bitsAllocated)
      {
        throw AnalysisError("invalid-tag",
                            name + ": Bits Stored " + std::to_string(layout.bitsStored) + ", High Bit " +
                            std::to_string(layout.highBit) + " and Bits Allocated " +
                            std::to_string(layout.bitsAllocated) + " do not fit together");
      }
      layout.slope = requiredNumbers(dataset, DCM_RescaleSlope, 1, name)[0];
      layout.intercept = requiredNumbers(dataset, DCM_RescaleIntercept, 1, name)[0];
      if (layout.slope == 0)
      {
        throw invalidTag(DCM_RescaleSlope, name, "is zero");
      }
      int32_t padding = 0;
      if (paddingBound(dataset, DCM_PixelPaddingValue, layout.isSigned, padding))
      {
        layout.hasPadding = true;
        int32_t limit = padding;
        paddingBound(dataset, DCM_PixelPaddingRangeLimit, layout.isSigned, limit);
        layout.paddingLow = std::min(padding, limit);
        layout.paddingHigh = std::max(padding, limit);
      }
      return layout;
    }

    DcmPixelData& pixelDataOf(DcmDataset& dataset, const std::string& name)
    {
      DcmElement* element = nullptr;
      if (dataset.findAndGetElement(DCM_PixelData, element).bad() || element == nullptr)
      {
        throw missingTag(DCM_PixelData, name);
      }
      DcmPixelData* pixelData = dynamic_cast<DcmPixelData*>(element);
      if (pixelData == nullptr)
      {
        throw invalidTag(DCM_PixelData, name, "is not pixel data");
      }
      return *pixelData;
    }

    std::string mebibytes(double bytes)
    {
      char text[32];
      const double value = bytes / (1 << 20);
      std::snprintf(text, sizeof(text), value < 100 ? "%.1f MiB" : "%.0f MiB", value);
      return text;
    }

    // Decoding allocates its buffers from Rows x Columns, whatever the pixel data holds; the
    // series' budget is checked first, with what the series already holds.
    void checkMemoryBudget(const PixelLayout& layout, size_t bytesPerPixelWhileDecoding, size_t bytesHeld,
                           const std::string& name, const LoadOptions& options)
    {
      const double needed = static_cast<double>(layout.rows) * static_cast<double>(layout.columns) *
                            static_cast<double>(bytesPerPixelWhileDecoding);
      const double held = static_cast<double>(bytesHeld);
      if (held + needed > static_cast<double>(options.memoryBudgetBytes))
      {
        throw AnalysisError("memory-budget",
                            "Decoding " + name + " (Columns x Rows " + std::to_string(layout.columns) + " x " +
                            std::to_string(layout.rows) + ", " + std::to_string(layout.bitsAllocated) +
                            " bits allocated) needs " + mebibytes(needed) +
                            (bytesHeld > 0 ? " on top of the " + mebibytes(held) + " its series already holds"
                                           : std::string()) +
                            ": more than the memory budget of a series, " +
                            mebibytes(static_cast<double>(options.memoryBudgetBytes)));
      }
    }

    // The fragments of an encapsulated single frame (after the Basic Offset Table), joined.
    std::vector<uint8_t> encapsulatedFrame(DcmPixelData& pixelData, const std::string& name, const char* what)
    {
      E_TransferSyntax xfer = EXS_Unknown;
      const DcmRepresentationParameter* parameter = nullptr;
      pixelData.getOriginalRepresentationKey(xfer, parameter);
      DcmPixelSequence* fragments = nullptr;
      if (pixelData.getEncapsulatedRepresentation(xfer, parameter, fragments).bad() ||
          fragments == nullptr || fragments->card() < 2)
      {
        throw AnalysisError("broken-pixel-data", std::string("The ") + what + " pixel data of " + name +
                                                 " is not encapsulated in fragments");
      }
      std::vector<uint8_t> frame;
      for (unsigned long i = 1; i < fragments->card(); ++i)
      {
        DcmPixelItem* fragment = nullptr;
        Uint8* bytes = nullptr;
        if (fragments->getItem(fragment, i).bad() || fragment == nullptr ||
            fragment->getUint8Array(bytes).bad())
        {
          throw AnalysisError("broken-pixel-data", "Fragment " + std::to_string(i) +
                                                   " of the pixel data of " + name + " is unreadable");
        }
        if (bytes != nullptr)
        {
          frame.insert(frame.end(), bytes, bytes + fragment->getLength());
        }
      }
      return frame;
    }

    uint16_t bigEndian16(const std::vector<uint8_t>& data, size_t at)
    {
      return static_cast<uint16_t>(data[at] << 8 | data[at + 1]);
    }

    uint32_t bigEndian32(const std::vector<uint8_t>& data, size_t at)
    {
      return static_cast<uint32_t>(data[at]) << 24 | static_cast<uint32_t>(data[at + 1]) << 16 |
             static_cast<uint32_t>(data[at + 2]) << 8 | static_cast<uint32_t>(data[at + 3]);
    }

    struct CodedSize
    {
      bool found = false;
      size_t columns = 0;
      size_t rows = 0;
    };

    // The frame header of a JPEG or JPEG-LS stream (SOFn, SOF55), read by walking its marker
    // segments; each step moves forward, so the walk ends with the data.
    CodedSize jpegFrameHeader(const std::vector<uint8_t>& data)
    {
      CodedSize size;
      if (data.size() < 4 || data[0] != 0xFF || data[1] != 0xD8)
      {
        return size;
      }
      size_t at = 2;
      while (at + 4 <= data.size())
      {
        if (data[at] != 0xFF)
        {
          return size;
        }
        const uint8_t marker = data[at + 1];
        if (marker == 0xFF)
        {
          ++at;
          continue;
        }
        const bool startOfFrame = (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
                                   marker != 0xCC) || marker == 0xF7;
        if (startOfFrame)
        {
          if (at + 9 > data.size())
          {
            return size;
          }
          size.found = true;
          size.rows = bigEndian16(data, at + 5);
          size.columns = bigEndian16(data, at + 7);
          return size;
        }
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD9))
        {
          at += 2;
          continue;
        }
        at += 2 + bigEndian16(data, at + 2);
      }
      return size;
    }

    // The image size in the SIZ marker of a JPEG 2000 codestream (also inside a JP2 file).
    CodedSize jpeg2000Header(const std::vector<uint8_t>& data)
    {
      static const uint8_t start[] = {0xFF, 0x4F, 0xFF, 0x51};
      CodedSize size;
      const auto found = std::search(data.begin(), data.end(), std::begin(start), std::end(start));
      const size_t at = static_cast<size_t>(found - data.begin());
      if (found == data.end() || at + 24 > data.size())
      {
        return size;
      }
      const uint32_t width = bigEndian32(data, at + 8), height = bigEndian32(data, at + 12);
      const uint32_t left = bigEndian32(data, at + 16), top = bigEndian32(data, at + 20);
      if (left > width || top > height)
      {
        return size;
      }
      size.found = true;
      size.columns = width - left;
      size.rows = height - top;
      return size;
    }

    void checkCodedSize(const CodedSize& coded, const PixelLayout& layout, const std::string& name, const char* what)
    {
      if (coded.found && coded.rows != 0 && (coded.rows != layout.rows || coded.columns != layout.columns))
      {
        throw AnalysisError("broken-pixel-data",
                            std::string("The ") + what + " stream in " + name + " is " + std::to_string(coded.columns) +
                            " x " + std::to_string(coded.rows) + " pixels but Columns x Rows say " +
                            std::to_string(layout.columns) + " x " + std::to_string(layout.rows));
      }
    }

    // An RLE frame (PS3.5 G): a 64-byte header of segment offsets, then one PackBits segment per
    // byte of a sample. DCMTK fills a short segment with zeros and says nothing; a segment that
    // decodes to fewer bytes than Rows x Columns is a broken frame. Walks the runs without
    // decoding them; each step consumes at least one byte.
    void checkRleFrame(const std::vector<uint8_t>& frame, const PixelLayout& layout, const std::string& name)
    {
      auto broken = [&](const std::string& why) {
        return AnalysisError("broken-pixel-data", "The RLE pixel data of " + name + " is broken: " + why);
      };
      if (frame.size() < 64)
      {
        throw broken("shorter than its 64-byte header");
      }
      auto little32 = [&](size_t at) {
        return static_cast<uint32_t>(frame[at]) | static_cast<uint32_t>(frame[at + 1]) << 8 |
               static_cast<uint32_t>(frame[at + 2]) << 16 | static_cast<uint32_t>(frame[at + 3]) << 24;
      };
      const uint32_t segments = little32(0);
      const uint32_t expected = layout.bitsAllocated / 8;
      if (segments != expected)
      {
        throw broken("its header lists " + std::to_string(segments) + " segments where " +
                     std::to_string(layout.bitsAllocated) + "-bit grey-scale pixels have " + std::to_string(expected));
      }
      const size_t pixels = layout.rows * layout.columns;
      for (uint32_t k = 0; k < segments; ++k)
      {
        const size_t begin = little32(4 + 4 * k);
        const size_t end = k + 1 < segments ? little32(8 + 4 * k) : frame.size();
        if (begin < 64 || begin > end || end > frame.size())
        {
          throw broken("segment " + std::to_string(k + 1) + " lies outside the frame (offset " +
                       std::to_string(begin) + " of " + std::to_string(frame.size()) + " bytes)");
        }
        size_t produced = 0;
        for (size_t at = begin; at < end && produced < pixels;)
        {
          const int8_t header = static_cast<int8_t>(frame[at]);
          if (header >= 0)
          {
            produced += static_cast<size_t>(header) + 1;
            at += static_cast<size_t>(header) + 2;
          }
          else if (header != -128)
          {
            produced += static_cast<size_t>(1 - header);
            at += 2;
          }
          else
          {
            at += 1;
          }
        }
        if (produced < pixels)
        {
          throw broken("segment " + std::to_string(k + 1) + " decodes to " + std::to_string(produced) + " of the " +
                       std::to_string(pixels) + " bytes that Columns x Rows " + std::to_string(layout.columns) +
                       " x " + std::to_string(layout.rows) + " need");
        }
      }
    }

    std::vector<int16_t> decodeWithDcmtk(DcmDataset& dataset, const PixelLayout& layout, const std::string& name,
                                         const std::string& transferSyntaxUid, int16_t paddingHu,
                                         size_t bytesHeld, const LoadOptions& options)
    {
      DcmPixelData& pixelData = pixelDataOf(dataset, name);
      const DcmXfer xfer(transferSyntaxUid.c_str());
      const size_t expectedBytes = layout.rows * layout.columns * (layout.bitsAllocated / 8);
      if (!xfer.isEncapsulated())
      {
        // Native pixel data is exactly Rows x Columns samples (padded to even): anything else
        // means Rows, Columns or Bits Allocated do not describe it, and reading it would give
        // garbage (too much data) or read past it (too little).
        const size_t length = pixelData.getLength();
        if (length != expectedBytes && length != expectedBytes + (expectedBytes & 1))
        {
          throw AnalysisError("broken-pixel-data",
                              "The pixel data of " + name + " holds " + std::to_string(length) +
                              " bytes but Columns x Rows x Bits Allocated " + std::to_string(layout.columns) + " x " +
                              std::to_string(layout.rows) + " x " + std::to_string(layout.bitsAllocated) + " say " +
                              std::to_string(expectedBytes) + ": the image size does not describe the data");
        }
      }
      else
      {
        const std::vector<uint8_t> frame = encapsulatedFrame(pixelData, name, xfer.getXferName());
        if (transferSyntaxUid == UID_RLELosslessTransferSyntax)
        {
          checkRleFrame(frame, layout, name);
        }
        else
        {
          checkCodedSize(jpegFrameHeader(frame), layout, name, xfer.getXferName());
        }
      }
      // The decoded frame and the HU slice.
      checkMemoryBudget(layout, layout.bitsAllocated / 8 + sizeof(int16_t), bytesHeld, name, options);
      Uint32 frameSize = 0;
      OFCondition condition = pixelData.getUncompressedFrameSize(&dataset, frameSize);
      const size_t pixelCount = layout.rows * layout.columns;
      const size_t bytesPerSample = layout.bitsAllocated / 8;
      if (condition.bad() || frameSize < pixelCount * bytesPerSample)
      {
        throw AnalysisError("broken-pixel-data", "The pixel data of " + name + " has no frame of " +
                                                 std::to_string(layout.columns) + "x" +
                                                 std::to_string(layout.rows) + " pixels");
      }
      // Rounded up to even: DCMTK copies whole 16-bit words for OW data.
      std::vector<uint8_t> frame(frameSize + (frameSize & 1));
      Uint32 startFragment = 0;
      OFString decodedColourModel;
      condition = pixelData.getUncompressedFrame(&dataset, 0, startFragment, frame.data(), frameSize,
                                                 decodedColourModel, nullptr);
      if (condition.bad())
      {
        throw AnalysisError("broken-pixel-data", "The pixel data of " + name + " cannot be decoded: " +
                                                 condition.text());
      }

      const StoredValueExtractor stored(layout);
      const HounsfieldConverter toHounsfield(layout, paddingHu);
      std::vector<int16_t> hounsfield(pixelCount);
      if (bytesPerSample == 2)
      {
        // getUncompressedFrame delivers samples in the machine's byte order.
        for (size_t i = 0; i < pixelCount; ++i)
        {
          uint16_t sample;
          std::memcpy(&sample, frame.data() + 2 * i, 2);
          hounsfield[i] = toHounsfield(stored(sample));
        }
      }
      else
      {
        for (size_t i = 0; i < pixelCount; ++i)
        {
          hounsfield[i] = toHounsfield(stored(frame[i]));
        }
      }
      return hounsfield;
    }

    std::vector<int16_t> decodeWithOpenJpeg(DcmDataset& dataset, const PixelLayout& layout, const std::string& name,
                                            int16_t paddingHu, size_t bytesHeld, const LoadOptions& options)
    {
      // Item 0 is the Basic Offset Table; a single frame is every fragment after it.
      const std::vector<uint8_t> codestream = encapsulatedFrame(pixelDataOf(dataset, name), name, "JPEG 2000");
      // The header first: OpenJPEG allocates the image it announces before decoding a byte of it.
      checkCodedSize(jpeg2000Header(codestream), layout, name, "JPEG 2000");
      // OpenJPEG's 32-bit component, our copy of its samples, the HU slice.
      checkMemoryBudget(layout, 2 * sizeof(int32_t) + sizeof(int16_t), bytesHeld, name, options);

      const Jpeg2000Image image = decodeJpeg2000(codestream.data(), codestream.size(), name);
      if (image.columns != layout.columns || image.rows != layout.rows)
      {
        throw AnalysisError("broken-pixel-data",
                            "The JPEG 2000 image in " + name + " is " + std::to_string(image.columns) +
                            "x" + std::to_string(image.rows) + " but Columns x Rows say " +
                            std::to_string(layout.columns) + "x" + std::to_string(layout.rows));
      }
      if (image.precision == 0 || image.precision > 32)
      {
        throw AnalysisError("broken-pixel-data", "The JPEG 2000 image in " + name + " has a precision of " +
                                                 std::to_string(image.precision) + " bits");
      }
      // The codestream carries the sample values themselves. Some encoders write signed pixels
      // as an unsigned component; Pixel Representation decides, as it does for other syntaxes.
      PixelLayout decoded = layout;
      decoded.bitsStored = std::min<unsigned>(image.precision, 32);
      decoded.highBit = decoded.bitsStored - 1;
      const bool reinterpret = layout.isSigned && !image.isSigned;
      const StoredValueExtractor stored(decoded);
      const HounsfieldConverter toHounsfield(layout, paddingHu);
      std::vector<int16_t> hounsfield(image.samples.size());
      for (size_t i = 0; i < image.samples.size(); ++i)
      {
        const int32_t sample = image.samples[i];
        hounsfield[i] = toHounsfield(reinterpret ? stored(static_cast<uint32_t>(sample)) : sample);
      }
      return hounsfield;
    }
  }

  DecodedInstance readInstance(const std::string& bytes, const std::string& name,
                               const LoadOptions& options, size_t bytesHeld)
  {
    registerDecodersOnce();
    if (!dcmDataDict.isDictionaryLoaded())
    {
      // Not a problem of the input: without its dictionary DCMTK cannot read implicit VR data.
      throw std::runtime_error("DCMTK's data dictionary is not loaded (see DCMDICTPATH)");
    }

    // Before DCMTK: its reader recurses per nested sequence and allocates declared lengths.
    PrescanLimits limits;
    limits.maximumInflatedBytes = options.memoryBudgetBytes;
    prescanDicom(bytes, name, limits);

    DcmFileFormat file;
    {
      DcmInputBufferStream stream;
      stream.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
      stream.setEos();
      file.transferInit();
      const OFCondition condition = file.read(stream, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
      file.transferEnd();
      if (condition.bad())
      {
        const std::string syntax = transferSyntaxOf(file);
        if (!syntax.empty() && decoderFor(syntax) == Decoder::None)
        {
          throw AnalysisError("unsupported-transfer-syntax",
                              name + " is encoded in " + nameOfTransferSyntax(syntax) + " (" + syntax +
                              "), which SpineMet cannot read");
        }
        throw AnalysisError("unreadable-file", name + " is not a readable DICOM file (DCMTK: " +
                                               condition.text() + ")");
      }
    }
    DcmDataset& dataset = *file.getDataset();

    DecodedInstance instance;
    OFString mediaClass;
    if (file.getMetaInfo()->findAndGetOFString(DCM_MediaStorageSOPClassUID, mediaClass).good() &&
        mediaClass == UID_MediaStorageDirectoryStorage)
    {
      return instance;
    }
    if (!dataset.tagExists(DCM_SOPClassUID) && !dataset.tagExists(DCM_SOPInstanceUID) &&
        !dataset.tagExists(DCM_PixelData))
    {
      throw AnalysisError("unreadable-file", name + " is not a DICOM instance");
    }
    instance.isImage = true;
    SliceHeader& header = instance.header;
    header.name = name;

    header.attributes.modality = requiredString(dataset, DCM_Modality, name);
    if (header.attributes.modality != "CT")
    {
      throw AnalysisError("not-ct", name + " is a " + header.attributes.modality +
                                    " image (Modality (0008,0060)); SpineMet analyses CT");
    }
    header.sopClassUid = requiredString(dataset, DCM_SOPClassUID, name);
    Sint32 frames = 1;
    if (dataset.tagExistsWithValue(DCM_NumberOfFrames) &&
        (dataset.findAndGetSint32(DCM_NumberOfFrames, frames).bad() || frames < 1))
    {
      throw invalidTag(DCM_NumberOfFrames, name, "is not a positive number of frames: \"" +
                                                 optionalString(dataset, DCM_NumberOfFrames) + "\"");
    }
    if (header.sopClassUid == UID_EnhancedCTImageStorage ||
        header.sopClassUid == UID_LegacyConvertedEnhancedCTImageStorage || frames > 1)
    {
      const char* className = dcmFindNameOfUID(header.sopClassUid.c_str(), header.sopClassUid.c_str());
      throw AnalysisError("multi-frame",
                          name + " is a multi-frame object (" + className + ", " + std::to_string(frames) +
                          " frame(s)); SpineMet reads series of single-frame CT Image Storage "
                          "instances: export the series as classic CT images");
    }
    if (header.sopClassUid != UID_CTImageStorage)
    {
      const char* className = dcmFindNameOfUID(header.sopClassUid.c_str(), header.sopClassUid.c_str());
      throw AnalysisError("unsupported-sop-class",
                          name + " is a " + className + " instance, not a CT Image Storage instance");
    }
    header.transferSyntaxUid = transferSyntaxOf(file);
    const Decoder decoder = decoderFor(header.transferSyntaxUid);
    if (decoder == Decoder::None)
    {
      throw AnalysisError("unsupported-transfer-syntax",
                          name + " is encoded in " + nameOfTransferSyntax(header.transferSyntaxUid) +
                          " (" + header.transferSyntaxUid + "), which SpineMet cannot decode");
    }

    header.sopInstanceUid = requiredString(dataset, DCM_SOPInstanceUID, name);
    SeriesAttributes& attributes = header.attributes;
    attributes.seriesInstanceUid = requiredString(dataset, DCM_SeriesInstanceUID, name);
    attributes.studyInstanceUid = requiredString(dataset, DCM_StudyInstanceUID, name);
    attributes.patientName = optionalString(dataset, DCM_PatientName);
    attributes.patientId = optionalString(dataset, DCM_PatientID);
    attributes.patientBirthDate = optionalString(dataset, DCM_PatientBirthDate);
    attributes.patientSex = optionalString(dataset, DCM_PatientSex);
    attributes.studyDate = optionalString(dataset, DCM_StudyDate);
    attributes.studyTime = optionalString(dataset, DCM_StudyTime);
    attributes.studyId = optionalString(dataset, DCM_StudyID);
    attributes.accessionNumber = optionalString(dataset, DCM_AccessionNumber);
    attributes.referringPhysicianName = optionalString(dataset, DCM_ReferringPhysicianName);
    attributes.studyDescription = optionalString(dataset, DCM_StudyDescription);
    attributes.seriesNumber = optionalString(dataset, DCM_SeriesNumber);
    attributes.seriesDescription = optionalString(dataset, DCM_SeriesDescription);
    attributes.bodyPartExamined = optionalString(dataset, DCM_BodyPartExamined);
    attributes.frameOfReferenceUid = optionalString(dataset, DCM_FrameOfReferenceUID);
    attributes.manufacturer = optionalString(dataset, DCM_Manufacturer);
    attributes.specificCharacterSet = optionalString(dataset, DCM_SpecificCharacterSet);

    OFString value;
    for (unsigned long i = 0; dataset.findAndGetOFString(DCM_ImageType, value, i).good(); ++i)
    {
      header.imageType.push_back(value.c_str());
      if (value == "LOCALIZER")
      {
        header.isLocalizer = true;
      }
    }
    Sint32 instanceNumber = 0;
    if (dataset.findAndGetSint32(DCM_InstanceNumber, instanceNumber).good())
    {
      header.instanceNumber = instanceNumber;
    }

    const std::vector<double> position = requiredNumbers(dataset, DCM_ImagePositionPatient, 3, name);
    const std::vector<double> orientation = requiredNumbers(dataset, DCM_ImageOrientationPatient, 6, name);
    const std::vector<double> spacing = requiredNumbers(dataset, DCM_PixelSpacing, 2, name);
    header.position = unitVector(position, 0);
    header.rowDirection = unitVector(orientation, 0);
    header.columnDirection = unitVector(orientation, 3);
    const double rowLength = length(header.rowDirection);
    const double columnLength = length(header.columnDirection);
    const double dot = header.rowDirection[0] * header.columnDirection[0] +
                       header.rowDirection[1] * header.columnDirection[1] +
                       header.rowDirection[2] * header.columnDirection[2];
    if (std::abs(rowLength - 1) > 0.01 || std::abs(columnLength - 1) > 0.01 ||
        std::abs(dot) > 0.01)
    {
      throw invalidTag(DCM_ImageOrientationPatient, name,
                       "is not two orthogonal unit vectors: " + optionalString(dataset, DCM_ImageOrientationPatient));
    }
    for (int axis = 0; axis < 3; ++axis)
    {
      header.rowDirection[axis] /= rowLength;
      header.columnDirection[axis] /= columnLength;
    }
    header.rowSpacing = spacing[0];
    header.columnSpacing = spacing[1];
    if (header.rowSpacing <= 0 || header.columnSpacing <= 0)
    {
      throw invalidTag(DCM_PixelSpacing, name, "is not positive: " + optionalString(dataset, DCM_PixelSpacing));
    }
    // Every later stage divides millimetres by these values and walks the patient space in
    // steps of them: values no CT of a patient can have are refused here, where they are read.
    if (std::min(header.rowSpacing, header.columnSpacing) < minimumPixelSpacingMm ||
        std::max(header.rowSpacing, header.columnSpacing) > maximumPixelSpacingMm)
    {
      throw invalidTag(DCM_PixelSpacing, name, "is " + optionalString(dataset, DCM_PixelSpacing) +
                                               " mm, outside what a CT of a patient can have (" +
                                               describeRange(minimumPixelSpacingMm, maximumPixelSpacingMm) + " mm)");
    }
    for (const double coordinate : position)
    {
      if (std::abs(coordinate) > maximumCoordinateMm)
      {
        throw invalidTag(DCM_ImagePositionPatient, name, "is " + optionalString(dataset, DCM_ImagePositionPatient) +
                                                         " mm, more than 100 m from the origin: no scanner is that large");
      }
    }
    header.sliceThickness = optionalNumber(dataset, DCM_SliceThickness, name);
    if (header.sliceThickness < 0 || header.sliceThickness > maximumSliceThicknessMm)
    {
      throw invalidTag(DCM_SliceThickness, name, "is " + optionalString(dataset, DCM_SliceThickness) +
                                                 " mm, outside what a CT of a patient can have (" +
                                                 describeRange(0, maximumSliceThicknessMm) + " mm)");
    }
    header.gantryTilt = optionalNumber(dataset, DCM_GantryDetectorTilt, name);
    if (std::abs(header.gantryTilt) > 90)
    {
      throw invalidTag(DCM_GantryDetectorTilt, name, "is " + optionalString(dataset, DCM_GantryDetectorTilt) +
                                                     " degrees, more than a right angle");
    }

    const PixelLayout layout = readPixelLayout(dataset, name);
    header.rows = layout.rows;
    header.columns = layout.columns;
    header.monochrome1 = requiredString(dataset, DCM_PhotometricInterpretation, name) == "MONOCHROME1";

    if (header.isLocalizer && options.dropLocalizers)
    {
      return instance;
    }
    if (!dataset.tagExists(DCM_PixelData))
    {
      throw missingTag(DCM_PixelData, name);
    }
    instance.hounsfield = decoder == Decoder::OpenJpeg
                            ? decodeWithOpenJpeg(dataset, layout, name, options.paddingHu, bytesHeld, options)
                            : decodeWithDcmtk(dataset, layout, name, header.transferSyntaxUid, options.paddingHu,
                                              bytesHeld, options);
    return instance;
  }
}
