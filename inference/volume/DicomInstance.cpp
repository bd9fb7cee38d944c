// SPDX-License-Identifier: GPL-3.0-or-later
#include "volume/DicomInstance.h"

#include "common/AnalysisError.h"
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
#include <cstring>
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
        paddingHu_(paddingHu)
      {
      }

      int16_t operator()(int32_t stored) const
      {
        if (layout_.hasPadding && stored >= layout_.paddingLow && stored <= layout_.paddingHigh)
        {
          return paddingHu_;
        }
        const double hu = std::round(stored * layout_.slope + layout_.intercept);
        return static_cast<int16_t>(std::clamp(hu, -32768.0, 32767.0));
      }

    private:
      const PixelLayout& layout_;
      int16_t paddingHu_;
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

    std::vector<int16_t> decodeWithDcmtk(DcmDataset& dataset, const PixelLayout& layout,
                                         const std::string& name, int16_t paddingHu)
    {
      DcmPixelData& pixelData = pixelDataOf(dataset, name);
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

    std::vector<int16_t> decodeWithOpenJpeg(DcmDataset& dataset, const PixelLayout& layout,
                                            const std::string& name, int16_t paddingHu)
    {
      DcmPixelData& pixelData = pixelDataOf(dataset, name);
      E_TransferSyntax xfer = EXS_Unknown;
      const DcmRepresentationParameter* parameter = nullptr;
      pixelData.getOriginalRepresentationKey(xfer, parameter);
      DcmPixelSequence* fragments = nullptr;
      if (pixelData.getEncapsulatedRepresentation(xfer, parameter, fragments).bad() ||
          fragments == nullptr || fragments->card() < 2)
      {
        throw AnalysisError("broken-pixel-data", "The JPEG 2000 pixel data of " + name +
                                                 " is not encapsulated in fragments");
      }
      // Item 0 is the Basic Offset Table; a single frame is every fragment after it.
      std::vector<uint8_t> codestream;
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
          codestream.insert(codestream.end(), bytes, bytes + fragment->getLength());
        }
      }

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
                               const LoadOptions& options)
  {
    registerDecodersOnce();
    if (!dcmDataDict.isDictionaryLoaded())
    {
      // Not a problem of the input: without its dictionary DCMTK cannot read implicit VR data.
      throw std::runtime_error("DCMTK's data dictionary is not loaded (see DCMDICTPATH)");
    }

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
    if (dataset.findAndGetSint32(DCM_NumberOfFrames, frames).bad())
    {
      frames = 1;
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
    header.sliceThickness = optionalNumber(dataset, DCM_SliceThickness, name);
    header.gantryTilt = optionalNumber(dataset, DCM_GantryDetectorTilt, name);

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
                            ? decodeWithOpenJpeg(dataset, layout, name, options.paddingHu)
                            : decodeWithDcmtk(dataset, layout, name, options.paddingHu);
    return instance;
  }
}
