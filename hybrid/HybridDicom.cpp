// SPDX-License-Identifier: GPL-3.0-or-later
// Reading the background series and writing the hybrid study from its original files: the same
// datasets with the new pixels and UIDs, re-encoded in the original transfer syntax by DCMTK.
#include "hybrid/Hybrid.h"
#include "hybrid/HybridTruth.h"

#include "common/AnalysisError.h"
#include "volume/SeriesLoader.h"
#include "volume/SliceSource.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmimgle/diutils.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/dcmjpls/djrparam.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

namespace spinemet
{
  namespace
  {
    const char* const WRITE_ERROR = "hybrid-write";
    const char* const CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";

    void registerCodecs()
    {
      static std::once_flag once;
      std::call_once(once, []
      {
        DcmRLEDecoderRegistration::registerCodecs();
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DcmRLEEncoderRegistration::registerCodecs();
        DJEncoderRegistration::registerCodecs();
        DJLSEncoderRegistration::registerCodecs();
        DCM_dcmimgleLogger.setLogLevel(OFLogger::WARN_LOG_LEVEL);
        DCM_dcmjpegLogger.setLogLevel(OFLogger::WARN_LOG_LEVEL);
        DCM_dcmjplsLogger.setLogLevel(OFLogger::WARN_LOG_LEVEL);
      });
    }

    // The syntax the hybrid file is written in: the original's where DCMTK encodes it losslessly,
    // else explicit VR little endian (docs/hybrid.md).
    E_TransferSyntax outputSyntax(E_TransferSyntax original)
    {
      switch (original)
      {
        case EXS_LittleEndianImplicit:
        case EXS_LittleEndianExplicit:
        case EXS_BigEndianExplicit:
        case EXS_DeflatedLittleEndianExplicit:
        case EXS_RLELossless:
        case EXS_JPEGProcess14SV1:
        case EXS_JPEGProcess14:
        case EXS_JPEGLSLossless:
          return original;
        default:
          return EXS_LittleEndianExplicit;
      }
    }

    // DCMTK pads an odd-length JPEG / JPEG-LS fragment with one byte after the end-of-image
    // marker that it does not always set (seen with JPEG-LS): zero it, so that one seed gives one
    // set of bytes.
    void zeroFragmentPadding(DcmDataset& dataset, E_TransferSyntax syntax)
    {
      if (!DcmXfer(syntax).isEncapsulated())
      {
        return;
      }
      DcmElement* element = nullptr;
      if (dataset.findAndGetElement(DCM_PixelData, element).bad() || element == nullptr)
      {
        return;
      }
      DcmPixelData* pixelData = static_cast<DcmPixelData*>(element);
      DcmPixelSequence* sequence = nullptr;
      if (pixelData->getEncapsulatedRepresentation(syntax, nullptr, sequence).bad() || sequence == nullptr)
      {
        return;
      }
      for (unsigned long i = 1; i < sequence->card(); ++i)
      {
        DcmPixelItem* item = nullptr;
        Uint8* bytes = nullptr;
        if (sequence->getItem(item, i).bad() || item == nullptr || item->getUint8Array(bytes).bad() || bytes == nullptr)
        {
          continue;
        }
        const Uint32 length = item->getLength();
        if (length >= 3 && bytes[length - 3] == 0xFF && bytes[length - 2] == 0xD9)
        {
          bytes[length - 1] = 0;
        }
      }
    }

    void check(const OFCondition& condition, const std::string& path, const std::string& what)
    {
      if (condition.bad())
      {
        throw AnalysisError(WRITE_ERROR, path + ": cannot " + what + ": " + condition.text());
      }
    }
  }

  Series loadHybridBackground(const std::string& folder)
  {
    if (!std::filesystem::is_directory(folder))
    {
      throw AnalysisError("hybrid-input", "the background " + folder + " is not a folder (give the folder of one CT series)");
    }
    const FileSliceSource source({folder});
    if (source.count() == 0)
    {
      throw AnalysisError("hybrid-input", "the background folder " + folder + " holds no DICOM file");
    }
    Series series = loadSeries(source);
    for (size_t s = 0; s < series.slices.size(); ++s)
    {
      if (series.slices[s].sopClassUid != CT_IMAGE_STORAGE)
      {
        throw AnalysisError("hybrid-input", "the background must be single-frame CT Image Storage; " + folder +
                            " holds SOP class " + series.slices[s].sopClassUid);
      }
    }
    return series;
  }

  void writeHybridStudy(const HybridStudy& study, const std::string& backgroundFolder, const std::string& outFolder)
  {
    registerCodecs();
    namespace fs = std::filesystem;
    std::error_code error;
    fs::create_directories(outFolder, error);
    if (error)
    {
      throw AnalysisError(WRITE_ERROR, "cannot create the folder " + outFolder + ": " + error.message());
    }
    if (fs::equivalent(fs::path(backgroundFolder), fs::path(outFolder), error))
    {
      throw AnalysisError(WRITE_ERROR, "the output folder is the background folder: write the hybrid study elsewhere");
    }

    std::map<std::string, size_t> volumeSlice;   // original SOP Instance UID -> volume slice
    for (size_t k = 0; k < study.background.slices.size(); ++k)
    {
      volumeSlice[study.background.slices[k].sopInstanceUid] = k;
    }
    const VolumeGeometry& g = study.background.volume.geometry();
    const size_t pixelCount = g.columns * g.rows;
    HybridWriteRecord record;
    std::vector<bool> written(study.background.slices.size(), false);
    const std::string version = SPINEMET_VERSION;

    const FileSliceSource source({backgroundFolder});
    for (size_t f = 0; f < source.count(); ++f)
    {
      const std::string inPath = source.describe(f);
      DcmFileFormat file;
      if (file.loadFile(inPath.c_str()).bad())
      {
        throw AnalysisError(WRITE_ERROR, "cannot read the background file " + inPath);
      }
      DcmDataset& dataset = *file.getDataset();
      OFString sopInstanceUid;
      dataset.findAndGetOFString(DCM_SOPInstanceUID, sopInstanceUid);
      const auto found = volumeSlice.find(sopInstanceUid.c_str());
      if (found == volumeSlice.end() || written[found->second])
      {
        record.skippedFiles.push_back(fs::path(inPath).filename().string());   // a localizer, a duplicate
        continue;
      }
      const size_t k = found->second;
      written[k] = true;
      const std::string name = fs::path(inPath).filename().string();
      const std::string outPath = (fs::path(outFolder) / name).string();

      const E_TransferSyntax original = dataset.getOriginalXfer();
      const E_TransferSyntax syntax = outputSyntax(original);
      check(dataset.chooseRepresentation(EXS_LittleEndianExplicit, nullptr), inPath, "decode the pixel data");

      Uint16 bitsAllocated = 0, bitsStored = 0, pixelRepresentation = 0, rows = 0, columns = 0;
      dataset.findAndGetUint16(DCM_BitsAllocated, bitsAllocated);
      dataset.findAndGetUint16(DCM_BitsStored, bitsStored);
      dataset.findAndGetUint16(DCM_PixelRepresentation, pixelRepresentation);
      dataset.findAndGetUint16(DCM_Rows, rows);
      dataset.findAndGetUint16(DCM_Columns, columns);
      Float64 slope = 1, intercept = 0;
      dataset.findAndGetFloat64(DCM_RescaleSlope, slope);
      dataset.findAndGetFloat64(DCM_RescaleIntercept, intercept);
      if (bitsAllocated != 16 || rows != g.rows || columns != g.columns || slope == 0)
      {
        throw AnalysisError(WRITE_ERROR, inPath + ": only 16-bit single-frame pixel data of the series' size can be rewritten");
      }
      const Uint16* pixels = nullptr;
      unsigned long count = 0;
      check(dataset.findAndGetUint16Array(DCM_PixelData, pixels, &count), inPath, "read the pixel data");
      if (count < pixelCount)
      {
        throw AnalysisError(WRITE_ERROR, inPath + ": the pixel data is shorter than Rows x Columns");
      }
      std::vector<Uint16> stored(pixels, pixels + count);
      const int16_t* before = study.background.volume.slice(k);
      const int16_t* after = study.series.volume.slice(k);
      const long low = pixelRepresentation ? -(1L << (bitsStored - 1)) : 0;
      const long high = pixelRepresentation ? (1L << (bitsStored - 1)) - 1 : (1L << bitsStored) - 1;
      for (size_t i = 0; i < pixelCount; ++i)
      {
        if (before[i] == after[i]) continue;   // untouched voxels keep their stored bits exactly
        const long old = pixelRepresentation ? static_cast<long>(static_cast<int16_t>(stored[i])) : static_cast<long>(stored[i]);
        const long value = std::clamp(old + std::lround((after[i] - before[i]) / slope), low, high);
        stored[i] = static_cast<Uint16>(static_cast<int16_t>(value));
        if (!pixelRepresentation) stored[i] = static_cast<Uint16>(value);
      }
      check(dataset.putAndInsertUint16Array(DCM_PixelData, stored.data(), count), inPath, "set the pixel data");

      const std::string newUid = study.uidMap.at(sopInstanceUid.c_str());
      check(dataset.putAndInsertString(DCM_SOPInstanceUID, newUid.c_str()), inPath, "set SOP Instance UID");
      check(dataset.putAndInsertString(DCM_StudyInstanceUID, study.series.attributes.studyInstanceUid.c_str()), inPath, "set Study Instance UID");
      check(dataset.putAndInsertString(DCM_SeriesInstanceUID, study.series.attributes.seriesInstanceUid.c_str()), inPath, "set Series Instance UID");
      check(dataset.putAndInsertString(DCM_FrameOfReferenceUID, study.series.attributes.frameOfReferenceUid.c_str()), inPath, "set Frame of Reference UID");
      // The pixels are no longer the scanner's: a derivation description and the series
      // description say so. Image Type stays as the original's on purpose: the hybrid must pass
      // the same series selection as the real scan (the plugin skips DERIVED series, the volume
      // stage warns about them), or training and evaluation would not see what serving sees
      // (docs/hybrid.md).
      check(dataset.putAndInsertString(DCM_DerivationDescription,
                                       ("Synthetic spinal lesions inserted by spinemet-hybrid " + version + ", seed " +
                                        std::to_string(study.settings.seed) + ": research data, not a patient finding").c_str()),
            inPath, "set Derivation Description");
      OFString description;
      dataset.findAndGetOFString(DCM_SeriesDescription, description);
      const std::string marked = ("HYBRID " + std::string(description.c_str())).substr(0, 64);
      check(dataset.putAndInsertString(DCM_SeriesDescription, marked.c_str()), inPath, "set Series Description");

      OFCondition condition = EC_Normal;
      if (syntax == EXS_JPEGProcess14SV1 || syntax == EXS_JPEGProcess14)
      {
        const DJ_RPLossless parameters(1, 0);
        condition = dataset.chooseRepresentation(syntax, &parameters);
      }
      else if (syntax == EXS_JPEGLSLossless)
      {
        const DJLSRepresentationParameter parameters(0, OFTrue);
        condition = dataset.chooseRepresentation(syntax, &parameters);
      }
      else if (syntax == EXS_RLELossless)
      {
        condition = dataset.chooseRepresentation(syntax, nullptr);
      }
      if (condition.bad() || !dataset.canWriteXfer(syntax))
      {
        throw AnalysisError(WRITE_ERROR, outPath + ": cannot encode the pixel data as " + DcmXfer(syntax).getXferName() +
                            ": " + condition.text());
      }
      zeroFragmentPadding(dataset, syntax);
      if (syntax != original)
      {
        record.reencoded = std::string(DcmXfer(original).getXferName()) + " written as " + DcmXfer(syntax).getXferName();
      }
      record.transferSyntaxUid = DcmXfer(syntax).getXferID();
      record.transferSyntaxName = DcmXfer(syntax).getXferName();
      record.rescaleSlope = slope;
      record.rescaleIntercept = intercept;
      record.bitsStored = bitsStored;
      record.pixelRepresentation = pixelRepresentation;
      record.fileNames[k] = name;
      check(file.saveFile(outPath.c_str(), syntax, EET_ExplicitLength, EGL_recalcGL, EPD_withoutPadding, 0, 0, EWM_updateMeta),
            outPath, "write the file");
    }
    for (size_t k = 0; k < written.size(); ++k)
    {
      if (!written[k])
      {
        throw AnalysisError(WRITE_ERROR, "slice " + std::to_string(k) + " of the series (SOP Instance UID " +
                            study.background.slices[k].sopInstanceUid + ") has no file in " + backgroundFolder);
      }
    }
    const std::string truthPath = (fs::path(outFolder) / "ground_truth.json").string();
    std::ofstream truth(truthPath, std::ios::binary);
    truth << hybridGroundTruthJson(study, record, backgroundFolder);
    truth.close();
    if (!truth)
    {
      throw AnalysisError(WRITE_ERROR, "cannot write " + truthPath);
    }
  }
}
