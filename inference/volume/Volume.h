// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace spinemet
{
  using Vector3 = std::array<double, 3>;   // patient coordinates (LPS), millimetres

  // Where the voxels are. Slices are ordered by increasing position along sliceDirection
  // (rowDirection x columnDirection); for a standard axial series (1,0,0 / 0,1,0) that is from
  // feet to head, so slice 0 is the most caudal one.
  struct VolumeGeometry
  {
    size_t columns = 0;
    size_t rows = 0;
    size_t slices = 0;
    double columnSpacing = 1;        // mm between neighbouring columns (DICOM Pixel Spacing[1])
    double rowSpacing = 1;           // mm between neighbouring rows (DICOM Pixel Spacing[0])
    double sliceSpacing = 1;         // mm between slice centres along sliceDirection
    double sliceThickness = 1;       // nominal, mm
    Vector3 origin{};                // Image Position (Patient) of slice 0
    Vector3 rowDirection{1, 0, 0};   // direction of increasing column index
    Vector3 columnDirection{0, 1, 0};// direction of increasing row index
    Vector3 sliceDirection{0, 0, 1};
  };

  // One source image, kept so that results can point back at the instance they came from.
  struct SliceReference
  {
    std::string sopInstanceUid;
    std::string sopClassUid;
    double position = 0;             // mm along sliceDirection
    int instanceNumber = 0;
  };

  // The attributes that the DICOM writers copy into the outputs (Patient and General Study modules
  // of the source, plus the series they describe).
  struct SeriesAttributes
  {
    std::string patientName;
    std::string patientId;
    std::string patientBirthDate;
    std::string patientSex;
    std::string studyInstanceUid;
    std::string studyDate;
    std::string studyTime;
    std::string studyId;
    std::string accessionNumber;
    std::string referringPhysicianName;
    std::string studyDescription;
    std::string seriesInstanceUid;
    std::string seriesNumber;
    std::string seriesDescription;
    std::string modality;
    std::string bodyPartExamined;
    std::string frameOfReferenceUid;
    std::string manufacturer;
    std::string specificCharacterSet;
  };

  // A CT series as Hounsfield units. Each slice is its own buffer, so that assembling sorted
  // slices moves buffers rather than copying the volume.
  class Volume
  {
  public:
    Volume() = default;
    Volume(VolumeGeometry geometry, std::vector<std::vector<int16_t>> slices);

    const VolumeGeometry& geometry() const { return geometry_; }
    size_t columns() const { return geometry_.columns; }
    size_t rows() const { return geometry_.rows; }
    size_t sliceCount() const { return geometry_.slices; }

    // Row-major HU values of one slice, columns() * rows() of them.
    const int16_t* slice(size_t index) const { return slices_[index].data(); }
    int16_t* slice(size_t index) { return slices_[index].data(); }

    int16_t at(size_t column, size_t row, size_t sliceIndex) const
    {
      return slices_[sliceIndex][row * geometry_.columns + column];
    }

    // Patient coordinates of the centre of a voxel (fractional indices allowed).
    Vector3 toPatient(double column, double row, double sliceIndex) const;

  private:
    VolumeGeometry geometry_;
    std::vector<std::vector<int16_t>> slices_;
  };

  // A volume with everything known about where it came from.
  struct Series
  {
    SeriesAttributes attributes;
    Volume volume;
    std::vector<SliceReference> slices;     // one per volume slice, same order
    std::vector<std::string> warnings;      // defects that were repaired, worded for the user
  };
}
