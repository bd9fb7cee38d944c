// SPDX-License-Identifier: GPL-3.0-or-later
#include "RealCt.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <algorithm>
#include <cmath>
#include <dirent.h>
#include <stdexcept>

#ifndef SPINEMET_TESTDATA_DIR
#error "SPINEMET_TESTDATA_DIR must name ../shared/testdata"
#endif

namespace spinemet
{
  namespace test
  {
    namespace
    {
      void check(const OFCondition& condition, const std::string& what, const std::string& path)
      {
        if (condition.bad())
        {
          throw std::runtime_error(path + ": " + what + ": " + condition.text());
        }
      }

      double number(DcmDataset& dataset, const DcmTagKey& tag, unsigned long position, const std::string& path)
      {
        Float64 value = 0;
        check(dataset.findAndGetFloat64(tag, value, position), DcmTag(tag).getTagName(), path);
        return value;
      }

      std::vector<std::string> listFiles(const std::string& folder)
      {
        std::vector<std::string> files;
        DIR* directory = opendir(folder.c_str());
        if (directory == nullptr)
        {
          throw std::runtime_error("cannot open " + folder);
        }
        while (const dirent* entry = readdir(directory))
        {
          const std::string name = entry->d_name;
          if (name.size() > 4 && name.substr(name.size() - 4) == ".dcm")
          {
            files.push_back(folder + "/" + name);
          }
        }
        closedir(directory);
        std::sort(files.begin(), files.end());
        return files;
      }

      double positionAlongNormal(const Volume& volume)
      {
        const VolumeGeometry& g = volume.geometry();
        return g.origin[0] * g.sliceDirection[0] + g.origin[1] * g.sliceDirection[1] + g.origin[2] * g.sliceDirection[2];
      }
    }


    std::string realCtFolder(const std::string& name)
    {
      return std::string(SPINEMET_TESTDATA_DIR) + "/real-ct/" + name;
    }


    Volume readSingleSliceVolume(const std::string& path)
    {
      DcmFileFormat file;
      check(file.loadFile(path.c_str()), "cannot read", path);
      DcmDataset& dataset = *file.getDataset();

      Uint16 rows = 0;
      Uint16 columns = 0;
      Uint16 pixelRepresentation = 0;
      check(dataset.findAndGetUint16(DCM_Rows, rows), "Rows", path);
      check(dataset.findAndGetUint16(DCM_Columns, columns), "Columns", path);
      check(dataset.findAndGetUint16(DCM_PixelRepresentation, pixelRepresentation), "Pixel Representation", path);
      const double slope = number(dataset, DCM_RescaleSlope, 0, path);
      const double intercept = number(dataset, DCM_RescaleIntercept, 0, path);

      VolumeGeometry geometry;
      geometry.columns = columns;
      geometry.rows = rows;
      geometry.slices = 1;
      geometry.rowSpacing = number(dataset, DCM_PixelSpacing, 0, path);
      geometry.columnSpacing = number(dataset, DCM_PixelSpacing, 1, path);
      geometry.sliceThickness = number(dataset, DCM_SliceThickness, 0, path);
      geometry.sliceSpacing = geometry.sliceThickness;
      for (unsigned long i = 0; i < 3; ++i)
      {
        geometry.origin[i] = number(dataset, DCM_ImagePositionPatient, i, path);
        geometry.rowDirection[i] = number(dataset, DCM_ImageOrientationPatient, i, path);
        geometry.columnDirection[i] = number(dataset, DCM_ImageOrientationPatient, i + 3, path);
      }
      const Vector3& a = geometry.rowDirection;
      const Vector3& b = geometry.columnDirection;
      geometry.sliceDirection = {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};

      const size_t count = static_cast<size_t>(rows) * columns;
      std::vector<int16_t> hu(count);
      // Pixel Data is OW: DCMTK hands it out as unsigned words whatever the representation.
      const Uint16* pixels = nullptr;
      check(dataset.findAndGetUint16Array(DCM_PixelData, pixels), "Pixel Data", path);
      for (size_t i = 0; i < count; ++i)
      {
        const double stored = pixelRepresentation == 1 ? static_cast<double>(static_cast<int16_t>(pixels[i]))
                                                       : static_cast<double>(pixels[i]);
        hu[i] = static_cast<int16_t>(std::clamp(std::lround(stored * slope + intercept), -32768L, 32767L));
      }
      std::vector<std::vector<int16_t>> slices;
      slices.push_back(std::move(hu));
      return Volume(geometry, std::move(slices));
    }


    std::vector<Volume> readSingleSliceVolumes(const std::string& folder)
    {
      std::vector<Volume> volumes;
      for (const std::string& path : listFiles(folder))
      {
        volumes.push_back(readSingleSliceVolume(path));
      }
      std::stable_sort(volumes.begin(), volumes.end(), [](const Volume& a, const Volume& b)
                       { return positionAlongNormal(a) < positionAlongNormal(b); });
      return volumes;
    }


    Volume readStackedVolume(const std::string& folder)
    {
      std::vector<Volume> volumes = readSingleSliceVolumes(folder);
      if (volumes.empty())
      {
        throw std::runtime_error("no DICOM files in " + folder);
      }
      std::vector<double> spacings;
      for (size_t i = 1; i < volumes.size(); ++i)
      {
        spacings.push_back(positionAlongNormal(volumes[i]) - positionAlongNormal(volumes[i - 1]));
      }
      std::sort(spacings.begin(), spacings.end());
      VolumeGeometry geometry = volumes.front().geometry();
      geometry.slices = volumes.size();
      geometry.sliceSpacing = spacings.empty() ? geometry.sliceThickness : spacings[spacings.size() / 2];
      std::vector<std::vector<int16_t>> slices;
      for (const Volume& volume : volumes)
      {
        if (volume.columns() != geometry.columns || volume.rows() != geometry.rows)
        {
          throw std::runtime_error(folder + ": slices of different sizes");
        }
        slices.emplace_back(volume.slice(0), volume.slice(0) + volume.columns() * volume.rows());
      }
      return Volume(geometry, std::move(slices));
    }
  }
}
