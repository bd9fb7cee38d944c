// SPDX-License-Identifier: GPL-3.0-or-later
// The phantom as CT Image Storage files, one per slice, as a scanner writes them.
#include "phantom/Phantom.h"

#include "common/AnalysisError.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmimgle/diutils.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpeg/djutils.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/dcmjpls/djlsutil.h>
#include <dcmtk/dcmjpls/djrparam.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>

namespace spinemet
{
  namespace
  {
    const char* const WRITE_ERROR = "phantom-write";
    // Stored values are unsigned, 12 bits: HU = stored - 1024 (Rescale Slope 1, Intercept -1024),
    // the layout many scanners use; it holds -1024 to 3071 HU.
    const int RESCALE_INTERCEPT = -1024;

    void registerEncoders()
    {
      static std::once_flag once;
      std::call_once(once, []
      {
        DcmRLEEncoderRegistration::registerCodecs();
        DJEncoderRegistration::registerCodecs();
        DJLSEncoderRegistration::registerCodecs();
        // the codecs (and dcmimgle under the JPEG one) report every slice they encode at INFO
        // ("ignoring possible modality transform"): noise for a generator of hundreds of slices
        DCM_dcmimgleLogger.setLogLevel(OFLogger::WARN_LOG_LEVEL);
        DCM_dcmjpegLogger.setLogLevel(OFLogger::WARN_LOG_LEVEL);
        DCM_dcmjplsLogger.setLogLevel(OFLogger::WARN_LOG_LEVEL);
      });
    }

    E_TransferSyntax dcmtkSyntax(PhantomTransferSyntax syntax)
    {
      switch (syntax)
      {
        case PhantomTransferSyntax::ExplicitLittleEndian: return EXS_LittleEndianExplicit;
        case PhantomTransferSyntax::Rle: return EXS_RLELossless;
        case PhantomTransferSyntax::JpegLossless: return EXS_JPEGProcess14SV1;
        case PhantomTransferSyntax::JpegLsLossless: return EXS_JPEGLSLossless;
      }
      return EXS_LittleEndianExplicit;
    }

    std::string decimal(double value, const char* format = "%.4f")
    {
      char buffer[32];
      std::snprintf(buffer, sizeof(buffer), format, value);
      std::string text = buffer;
      // shortest faithful form: DS allows 16 characters
      if (text.find('.') != std::string::npos)
      {
        while (text.back() == '0') text.pop_back();
        if (text.back() == '.') text.pop_back();
      }
      if (text == "-0") text = "0";
      return text;
    }

    class DatasetWriter
    {
    public:
      DatasetWriter(DcmDataset& dataset, const std::string& file) : dataset_(dataset), file_(file) {}

      void put(const DcmTagKey& tag, const std::string& value)
      {
        check(dataset_.putAndInsertOFStringArray(tag, value.c_str()), tag);
      }

      void putFloat64(const DcmTagKey& tag, Float64 value)
      {
        check(dataset_.putAndInsertFloat64(tag, value), tag);
      }

      void putUint16(const DcmTagKey& tag, Uint16 value)
      {
        check(dataset_.putAndInsertUint16(tag, value), tag);
      }

      void check(const OFCondition& condition, const DcmTagKey& tag)
      {
        if (condition.bad())
        {
          throw AnalysisError(WRITE_ERROR, file_ + ": cannot set " + DcmTag(tag).getTagName() + " " +
                              tag.toString().c_str() + ": " + condition.text());
        }
      }

    private:
      DcmDataset& dataset_;
      const std::string& file_;
    };
  }

  void writePhantomDicom(const PhantomStudy& study, const std::string& folder,
                         PhantomTransferSyntax transferSyntax)
  {
    registerEncoders();
    std::error_code error;
    std::filesystem::create_directories(folder, error);
    if (error)
    {
      throw AnalysisError(WRITE_ERROR, "cannot create the folder " + folder + ": " + error.message());
    }

    const Series& series = study.series;
    const SeriesAttributes& a = series.attributes;
    const VolumeGeometry& g = series.volume.geometry();
    const PhantomAcquisition& acquisition = study.acquisition;
    const E_TransferSyntax syntax = dcmtkSyntax(transferSyntax);
    const size_t pixelCount = g.columns * g.rows;
    std::vector<Uint16> stored(pixelCount);

    const std::string pixelSpacing = decimal(g.rowSpacing, "%.6f") + "\\" + decimal(g.columnSpacing, "%.6f");
    const std::string fieldOfView = decimal(g.columnSpacing * g.columns, "%.2f");
    const std::string tableHeight = decimal(150 - acquisition.anteriorPosteriorOffsetMm, "%.1f");
    const std::string software = std::string("spinemet-phantom ") + SPINEMET_VERSION;

    std::map<std::string, size_t> volumeSlice;   // SOP Instance UID -> the volume slice it shows
    for (size_t k = 0; k < series.slices.size(); ++k)
    {
      volumeSlice[series.slices[k].sopInstanceUid] = k;
    }

    for (const PhantomSlice& slice : study.truth.slices)
    {
      const std::string path = (std::filesystem::path(folder) / slice.fileName).string();
      const auto found = volumeSlice.find(slice.sopInstanceUid);
      if (found == volumeSlice.end())
      {
        throw AnalysisError(WRITE_ERROR, "slice " + slice.fileName + " has no voxels in the study");
      }
      const size_t k = found->second;
      const int16_t* hu = series.volume.slice(k);
      for (size_t i = 0; i < pixelCount; ++i)
      {
        stored[i] = static_cast<Uint16>(hu[i] - RESCALE_INTERCEPT);
      }
      const Vector3 position = series.volume.toPatient(0, 0, static_cast<double>(k));

      DcmFileFormat file;
      DcmDataset& dataset = *file.getDataset();
      DatasetWriter w(dataset, path);
      // SOP Common
      w.put(DCM_SpecificCharacterSet, a.specificCharacterSet);
      w.put(DCM_SOPClassUID, series.slices[k].sopClassUid);
      w.put(DCM_SOPInstanceUID, slice.sopInstanceUid);
      w.put(DCM_InstanceCreationDate, a.studyDate);
      w.put(DCM_InstanceCreationTime, a.studyTime);
      // Patient: synthetic, and it says so
      w.put(DCM_PatientName, a.patientName);
      w.put(DCM_PatientID, a.patientId);
      w.put(DCM_PatientBirthDate, a.patientBirthDate);
      w.put(DCM_PatientSex, a.patientSex);
      w.put(DCM_PatientComments, "Synthetic phantom written by spinemet-phantom, not a patient");
      // General Study
      w.put(DCM_StudyInstanceUID, a.studyInstanceUid);
      w.put(DCM_StudyDate, a.studyDate);
      w.put(DCM_StudyTime, a.studyTime);
      w.put(DCM_ReferringPhysicianName, a.referringPhysicianName);
      w.put(DCM_StudyID, a.studyId);
      w.put(DCM_AccessionNumber, a.accessionNumber);
      w.put(DCM_StudyDescription, a.studyDescription);
      // General Series
      w.put(DCM_Modality, a.modality);
      w.put(DCM_SeriesInstanceUID, a.seriesInstanceUid);
      w.put(DCM_SeriesNumber, a.seriesNumber);
      w.put(DCM_SeriesDate, a.studyDate);
      w.put(DCM_SeriesTime, a.studyTime);
      w.put(DCM_SeriesDescription, a.seriesDescription);
      w.put(DCM_BodyPartExamined, a.bodyPartExamined);
      w.put(DCM_PatientPosition, "HFS");
      // Frame of Reference
      w.put(DCM_FrameOfReferenceUID, a.frameOfReferenceUid);
      w.put(DCM_PositionReferenceIndicator, "");
      // General Equipment
      w.put(DCM_Manufacturer, a.manufacturer);
      w.put(DCM_InstitutionName, "SpineMet synthetic data");
      w.put(DCM_StationName, "PHANTOM");
      w.put(DCM_ManufacturerModelName, "spinemet-phantom");
      w.put(DCM_DeviceSerialNumber, "0");
      w.put(DCM_SoftwareVersions, software);
      // General Acquisition
      w.put(DCM_AcquisitionNumber, "1");
      w.put(DCM_AcquisitionDate, a.studyDate);
      w.put(DCM_AcquisitionTime, a.studyTime);
      // General Image
      w.put(DCM_InstanceNumber, std::to_string(slice.instanceNumber));
      w.put(DCM_ContentDate, a.studyDate);
      w.put(DCM_ContentTime, a.studyTime);
      w.put(DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL");
      w.put(DCM_BurnedInAnnotation, "NO");
      w.put(DCM_LossyImageCompression, "00");
      w.put(DCM_ImageComments, "Synthetic spine phantom, seed " + std::to_string(study.settings.seed));
      // Image Plane
      w.put(DCM_PixelSpacing, pixelSpacing);
      w.put(DCM_ImageOrientationPatient, "1\\0\\0\\0\\1\\0");
      w.put(DCM_ImagePositionPatient,
            decimal(position[0]) + "\\" + decimal(position[1]) + "\\" + decimal(position[2]));
      w.put(DCM_SliceThickness, decimal(g.sliceThickness));
      w.put(DCM_SliceLocation, decimal(position[2]));
      // Image Pixel
      w.putUint16(DCM_SamplesPerPixel, 1);
      w.put(DCM_PhotometricInterpretation, "MONOCHROME2");
      w.putUint16(DCM_Rows, static_cast<Uint16>(g.rows));
      w.putUint16(DCM_Columns, static_cast<Uint16>(g.columns));
      w.putUint16(DCM_BitsAllocated, 16);
      w.putUint16(DCM_BitsStored, 12);
      w.putUint16(DCM_HighBit, 11);
      w.putUint16(DCM_PixelRepresentation, 0);
      // CT Image
      w.put(DCM_RescaleIntercept, std::to_string(RESCALE_INTERCEPT));
      w.put(DCM_RescaleSlope, "1");
      w.put(DCM_RescaleType, "HU");
      w.put(DCM_KVP, "120");
      w.put(DCM_ScanOptions, "HELICAL MODE");
      w.put(DCM_DataCollectionDiameter, "500");
      w.put(DCM_ReconstructionDiameter, fieldOfView);
      w.put(DCM_DistanceSourceToDetector, "1040");
      w.put(DCM_DistanceSourceToPatient, "570");
      w.put(DCM_GantryDetectorTilt, "0");
      w.put(DCM_TableHeight, tableHeight);
      w.put(DCM_RotationDirection, "CW");
      w.put(DCM_ExposureTime, "500");
      w.put(DCM_XRayTubeCurrent, "250");
      w.put(DCM_Exposure, "125");
      w.put(DCM_FilterType, "BODY FILTER");
      w.put(DCM_GeneratorPower, "30");
      w.put(DCM_FocalSpots, "0.7");
      w.put(DCM_ConvolutionKernel, "BONE");
      w.putFloat64(DCM_RevolutionTime, 0.5);
      w.putFloat64(DCM_SingleCollimationWidth, 0.625);
      w.putFloat64(DCM_TotalCollimationWidth, 40);
      w.putFloat64(DCM_SpiralPitchFactor, 0.984);
      // VOI LUT: bone first, soft tissue second
      w.put(DCM_WindowCenter, "500\\40");
      w.put(DCM_WindowWidth, "2000\\400");
      w.put(DCM_WindowCenterWidthExplanation, "BONE\\SOFT TISSUE");
      w.check(dataset.putAndInsertUint16Array(DCM_PixelData, stored.data(),
                                              static_cast<unsigned long>(pixelCount)), DCM_PixelData);

      OFCondition condition = EC_Normal;
      if (syntax == EXS_JPEGProcess14SV1)
      {
        const DJ_RPLossless parameters(1, 0);   // first-order prediction, no point transform
        condition = dataset.chooseRepresentation(syntax, &parameters);
      }
      else if (syntax == EXS_JPEGLSLossless)
      {
        const DJLSRepresentationParameter parameters(0, OFTrue);
        condition = dataset.chooseRepresentation(syntax, &parameters);
      }
      else if (syntax != EXS_LittleEndianExplicit)
      {
        condition = dataset.chooseRepresentation(syntax, nullptr);
      }
      if (condition.bad() || !dataset.canWriteXfer(syntax))
      {
        throw AnalysisError(WRITE_ERROR, path + ": cannot encode the pixel data as " +
                            toString(transferSyntax) + ": " + condition.text());
      }
      condition = file.saveFile(path.c_str(), syntax, EET_ExplicitLength, EGL_recalcGL, EPD_withoutPadding,
                                0, 0, EWM_fileformat);
      if (condition.bad())
      {
        throw AnalysisError(WRITE_ERROR, "cannot write " + path + ": " + condition.text());
      }
    }
  }

  void writePhantomStudy(const PhantomStudy& study, const std::string& folder)
  {
    writePhantomDicom(study, folder, study.acquisition.transferSyntax);
    writePhantomGroundTruth(study, (std::filesystem::path(folder) / "ground_truth.json").string());
  }
}
