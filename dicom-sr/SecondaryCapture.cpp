// SPDX-License-Identifier: GPL-3.0-or-later
#include "SecondaryCapture.h"

#include "DicomCommon.h"

#include "common/AnalysisError.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>

namespace spinemet
{
  namespace
  {
    std::string seriesDescription(const ModelIdentity& model)
    {
      return model.trainedOn.find("phantom") != std::string::npos ? "SpineMet AI overlays (phantom-trained demo model)"
                                                                  : "SpineMet AI overlays";
    }
  }

  DicomObject writeSecondaryCapture(const Canvas& canvas, const AnalysisResult& result, const Series& series,
                                    const SecondaryCaptureHeader& header)
  {
    DcmFileFormat file;
    DcmDataset& dataset = *file.getDataset();
    using dicom::put;
    const std::string sopInstanceUid = newUid();
    const std::string date = dicom::currentDate();
    const std::string time = dicom::currentTime();

    put(dataset, DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
    put(dataset, DCM_SOPInstanceUID, sopInstanceUid);
    dicom::copyPatientAndStudy(series.attributes, dataset);
    put(dataset, DCM_InstanceCreationDate, date);
    put(dataset, DCM_InstanceCreationTime, time);

    // General Series, General Equipment, SC Equipment.
    put(dataset, DCM_Modality, "OT");
    put(dataset, DCM_SeriesInstanceUID, header.seriesInstanceUid);
    put(dataset, DCM_SeriesNumber, std::to_string(header.seriesNumber));
    put(dataset, DCM_SeriesDescription, seriesDescription(result.model));
    put(dataset, DCM_SeriesDate, date);
    put(dataset, DCM_SeriesTime, time);
    // What the overlay shows; without it dciodvfy cannot rule out a paired body part and asks
    // for Laterality.
    put(dataset, DCM_BodyPartExamined, "SPINE");
    put(dataset, DCM_Manufacturer, "SpineMet");
    put(dataset, DCM_ConversionType, "WSD");
    put(dataset, DCM_SecondaryCaptureDeviceManufacturer, "SpineMet");
    put(dataset, DCM_SecondaryCaptureDeviceManufacturerModelName, result.model.name);
    put(dataset, DCM_SecondaryCaptureDeviceSoftwareVersions,
        std::string("SpineMet ") + SPINEMET_VERSION + "\\" + result.model.name + " " + result.model.version);

    // General Image.
    put(dataset, DCM_InstanceNumber, std::to_string(header.instanceNumber));
    put(dataset, DCM_PatientOrientation, header.patientOrientation);
    put(dataset, DCM_ContentDate, date);
    put(dataset, DCM_ContentTime, time);
    put(dataset, DCM_ImageType, "DERIVED\\SECONDARY");
    put(dataset, DCM_DerivationDescription, header.derivationDescription);
    put(dataset, DCM_BurnedInAnnotation, "YES");
    put(dataset, DCM_LossyImageCompression, "00");
    for (size_t i = 0; i < header.sources.size(); ++i)
    {
      DcmItem* item = nullptr;
      dicom::check(dataset.findOrCreateSequenceItem(DCM_SourceImageSequence, item, static_cast<long>(i)),
                   "overlays: Source Image Sequence");
      const std::string sopClass = header.sources[i]->sopClassUid.empty() ? UID_CTImageStorage : header.sources[i]->sopClassUid;
      put(*item, DCM_ReferencedSOPClassUID, sopClass);
      put(*item, DCM_ReferencedSOPInstanceUID, header.sources[i]->sopInstanceUid);
    }

    // Image Pixel.
    dicom::check(dataset.putAndInsertUint16(DCM_SamplesPerPixel, 3), "overlays: Samples per Pixel");
    put(dataset, DCM_PhotometricInterpretation, "RGB");
    dicom::check(dataset.putAndInsertUint16(DCM_PlanarConfiguration, 0), "overlays: Planar Configuration");
    dicom::check(dataset.putAndInsertUint16(DCM_Rows, static_cast<Uint16>(canvas.height())), "overlays: Rows");
    dicom::check(dataset.putAndInsertUint16(DCM_Columns, static_cast<Uint16>(canvas.width())), "overlays: Columns");
    dicom::check(dataset.putAndInsertUint16(DCM_BitsAllocated, 8), "overlays: Bits Allocated");
    dicom::check(dataset.putAndInsertUint16(DCM_BitsStored, 8), "overlays: Bits Stored");
    dicom::check(dataset.putAndInsertUint16(DCM_HighBit, 7), "overlays: High Bit");
    dicom::check(dataset.putAndInsertUint16(DCM_PixelRepresentation, 0), "overlays: Pixel Representation");
    dicom::check(dataset.putAndInsertUint8Array(DCM_PixelData, canvas.pixels().data(),
                                                static_cast<unsigned long>(canvas.pixels().size())),
                 "overlays: Pixel Data");

    DicomObject object;
    object.sopClassUid = UID_SecondaryCaptureImageStorage;
    object.sopInstanceUid = sopInstanceUid;
    object.seriesInstanceUid = header.seriesInstanceUid;
    object.studyInstanceUid = series.attributes.studyInstanceUid;
    object.bytes = dicom::toPart10(file);
    return object;
  }

  // ------------------------------------------------------------------------------------------
}
