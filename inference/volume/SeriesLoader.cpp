// SPDX-License-Identifier: GPL-3.0-or-later
#include "volume/SeriesLoader.h"

#include "volume/DicomInstance.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <stdexcept>
#include <sstream>

namespace spinemet
{
  namespace
  {
    constexpr double degreesPerRadian = 180.0 / M_PI;

    double dot(const Vector3& a, const Vector3& b)
    {
      return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    }

    Vector3 cross(const Vector3& a, const Vector3& b)
    {
      return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
    }

    Vector3 minus(const Vector3& a, const Vector3& b)
    {
      return {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
    }

    double norm(const Vector3& v)
    {
      return std::sqrt(dot(v, v));
    }

    double angleDegrees(const Vector3& a, const Vector3& b)
    {
      return std::acos(std::clamp(dot(a, b) / (norm(a) * norm(b)), -1.0, 1.0)) * degreesPerRadian;
    }

    // Millimetres and degrees as a reader wants them: "-90", "352.5", "4.22".
    std::string number(double value)
    {
      char text[64];
      std::snprintf(text, sizeof(text), "%.2f", value);
      std::string result = text;
      while (result.back() == '0')
      {
        result.pop_back();
      }
      if (result.back() == '.')
      {
        result.pop_back();
      }
      return result == "-0" ? "0" : result;
    }

    std::string vector(const Vector3& v)
    {
      return "(" + number(v[0]) + ", " + number(v[1]) + ", " + number(v[2]) + ")";
    }

    std::string imageType(const SliceHeader& header)
    {
      std::string text;
      for (const std::string& value : header.imageType)
      {
        text += (text.empty() ? "" : "\\") + value;
      }
      return text.empty() ? "(empty)" : text;
    }

    // ORIGINAL/DERIVED and PRIMARY/SECONDARY: images of one acquisition share them.
    std::string pixelDataCharacteristics(const SliceHeader& header)
    {
      std::string key;
      for (size_t i = 0; i < std::min<size_t>(2, header.imageType.size()); ++i)
      {
        key += (i == 0 ? "" : "\\") + header.imageType[i];
      }
      return key;
    }

    // Lists at most a few items of a long enumeration.
    std::string enumerate(const std::vector<std::string>& items)
    {
      const size_t shown = std::min<size_t>(items.size(), 5);
      std::string text;
      for (size_t i = 0; i < shown; ++i)
      {
        text += (i == 0 ? "" : "; ") + items[i];
      }
      if (items.size() > shown)
      {
        text += "; and " + std::to_string(items.size() - shown) + " more";
      }
      return text;
    }

    // Checks that must hold between any two images of a series; the first image that is not
    // a localizer is the reference. Done while reading, so that a wrong series stops early.
    void checkAgainstReference(const SliceHeader& reference, const SliceHeader& header)
    {
      const std::string both = header.name + " and " + reference.name;
      if (header.attributes.seriesInstanceUid != reference.attributes.seriesInstanceUid)
      {
        throw AnalysisError("mixed-series", both + " belong to different series (Series Instance UID "
                                            "(0020,000E) " + header.attributes.seriesInstanceUid +
                                            " and " + reference.attributes.seriesInstanceUid + ")");
      }
      if (header.attributes.frameOfReferenceUid != reference.attributes.frameOfReferenceUid)
      {
        throw AnalysisError("mixed-frame-of-reference",
                            both + " have different Frame of Reference UIDs (0020,0052), so their "
                                   "positions cannot be compared");
      }
      if (header.isLocalizer)
      {
        return;
      }
      if (pixelDataCharacteristics(header) != pixelDataCharacteristics(reference))
      {
        throw AnalysisError("mixed-image-types",
                            both + " are different kinds of image (Image Type (0008,0008) " +
                            imageType(header) + " and " + imageType(reference) +
                            "): original and derived or primary and secondary images are mixed");
      }
      if (header.rows != reference.rows || header.columns != reference.columns)
      {
        throw AnalysisError("inconsistent-matrix",
                            both + " have different matrices: " + std::to_string(header.columns) + "x" +
                            std::to_string(header.rows) + " and " + std::to_string(reference.columns) +
                            "x" + std::to_string(reference.rows) + " (Columns x Rows)");
      }
      if (std::abs(header.rowSpacing - reference.rowSpacing) > 1e-3 ||
          std::abs(header.columnSpacing - reference.columnSpacing) > 1e-3)
      {
        throw AnalysisError("inconsistent-pixel-spacing",
                            both + " have different Pixel Spacing (0028,0030): " + number(header.rowSpacing) +
                            "\\" + number(header.columnSpacing) + " and " + number(reference.rowSpacing) +
                            "\\" + number(reference.columnSpacing) + " mm");
      }
      constexpr double orientationToleranceDegrees = 0.5;
      if (angleDegrees(header.rowDirection, reference.rowDirection) > orientationToleranceDegrees ||
          angleDegrees(header.columnDirection, reference.columnDirection) > orientationToleranceDegrees)
      {
        throw AnalysisError("mixed-orientation",
                            both + " have different Image Orientation (Patient) (0020,0037): rows along " +
                            vector(header.rowDirection) + ", columns along " + vector(header.columnDirection) +
                            " against " + vector(reference.rowDirection) + ", " +
                            vector(reference.columnDirection));
      }
    }

    struct Slice
    {
      SliceHeader header;
      std::vector<int16_t> hounsfield;
      double position = 0;          // along the normal
    };

    class Assembly
    {
    public:
      Assembly(std::vector<Slice> slices, const LoadOptions& options) :
        slices_(std::move(slices)),
        options_(options)
      {
      }

      Series build()
      {
        const SliceHeader& first = slices_.front().header;
        normal_ = cross(first.rowDirection, first.columnDirection);
        for (Slice& slice : slices_)
        {
          slice.position = dot(slice.header.position, normal_);
        }
        std::stable_sort(slices_.begin(), slices_.end(),
                         [](const Slice& a, const Slice& b) { return a.position < b.position; });
        rejectSagittalOrCoronal();

        checkUniqueInstances();
        removeDuplicates();
        if (slices_.size() < options_.minimumSlices)
        {
          problems_.push_back({"too-few-slices",
                               "The series has " + std::to_string(slices_.size()) + " usable slice(s); at least " +
                               std::to_string(options_.minimumSlices) + " are needed to build a volume"});
        }
        if (!checkStacking())
        {
          checkAxial();
        }
        checkSpacing();
        checkThickness();
        acceptWhatTheCallerAccepts();
        if (!problems_.empty())
        {
          throw SeriesRejected(problems_, warnings_);
        }
        return assemble();
      }

      std::vector<std::string>& warnings() { return warnings_; }

    private:
      std::string at(const Slice& slice) const
      {
        return slice.header.name + " at " + number(slice.position) + " mm";
      }

      // A sagittal or coronal series is named as such before anything else is said of it: its
      // positions, measured along a normal that is not the stacking axis, would otherwise read as
      // duplicates or a shear. (A gantry tilts by at most 30 degrees: beyond 45 it is a reformat.)
      void rejectSagittalOrCoronal()
      {
        const Vector3 patientZ{0, 0, 1};
        const double offAxis = std::min(angleDegrees(normal_, patientZ), 180 - angleDegrees(normal_, patientZ));
        if (offAxis <= 45 || options_.acceptedProblems.count("not-axial") != 0)
        {
          return;
        }
        const bool sagittal = std::abs(normal_[0]) >= std::abs(normal_[1]);
        const SliceHeader& first = slices_.front().header;
        problems_.push_back({"not-axial",
                             std::string("The series is ") + (sagittal ? "sagittal" : "coronal") +
                             ", not axial: the slice normal " + vector(normal_) + " is " + number(offAxis) +
                             " degrees from the patient's head-feet axis (at most " +
                             number(options_.axialToleranceDegrees) + " allowed); Image Orientation (Patient) "
                             "(0020,0037) is rows along " + vector(first.rowDirection) + ", columns along " +
                             vector(first.columnDirection) + ". SpineMet analyses axial series: send the axial "
                             "reconstruction of the study"});
        throw SeriesRejected(problems_, warnings_);
      }

      void checkUniqueInstances()
      {
        std::map<std::string, const Slice*> byUid;
        for (const Slice& slice : slices_)
        {
          auto [known, inserted] = byUid.emplace(slice.header.sopInstanceUid, &slice);
          if (!inserted && std::abs(known->second->position - slice.position) > options_.samePositionTolerance)
          {
            problems_.push_back({"duplicate-sop-instance-uid",
                                 at(*known->second) + " and " + at(slice) + " have the same SOP Instance UID " +
                                 slice.header.sopInstanceUid + " but different positions"});
          }
        }
      }

      // Two images at one position: the same image twice is removed, two different images
      // (two reconstructions mixed, a repeated scan) cannot be told apart and reject the series.
      void removeDuplicates()
      {
        std::vector<Slice> kept;
        std::vector<std::string> conflicts;
        for (Slice& slice : slices_)
        {
          if (kept.empty() || slice.position - kept.back().position > options_.samePositionTolerance)
          {
            kept.push_back(std::move(slice));
            continue;
          }
          const Slice& previous = kept.back();
          const bool sameInstance = slice.header.sopInstanceUid == previous.header.sopInstanceUid;
          const bool samePixels = norm(minus(slice.header.position, previous.header.position)) <=
                                    options_.samePositionTolerance &&
                                  slice.hounsfield == previous.hounsfield;
          if (sameInstance || samePixels)
          {
            warnings_.push_back("Removed " + slice.header.name + ", a duplicate of " + previous.header.name +
                                " at position " + number(slice.position) + " mm (" +
                                (sameInstance ? "same SOP Instance UID" : "identical pixel data") + ")");
          }
          else
          {
            conflicts.push_back(previous.header.name + " and " + slice.header.name + " at " +
                                number(slice.position) + " mm");
          }
        }
        slices_ = std::move(kept);
        if (!conflicts.empty())
        {
          problems_.push_back({"duplicate-position",
                               "Different images share a position along the slice normal (two "
                               "reconstructions or repeated scans mixed in one series): " +
                               enumerate(conflicts)});
        }
      }

      // The slices of a volume lie along their normal; a tilted gantry stacks tilted images
      // along the table instead, which makes a sheared stack. Returns whether that was found.
      bool checkStacking()
      {
        if (slices_.size() < 2)
        {
          return false;
        }
        const Slice& first = slices_.front();
        double largestShift = 0;
        for (const Slice& slice : slices_)
        {
          const Vector3 offset = minus(slice.header.position, first.header.position);
          const double along = dot(offset, normal_);
          const Vector3 inPlane{offset[0] - along * normal_[0], offset[1] - along * normal_[1],
                                offset[2] - along * normal_[2]};
          largestShift = std::max(largestShift, norm(inPlane));
        }
        const double halfPixel = 0.5 * std::min(first.header.rowSpacing, first.header.columnSpacing);
        const double recordedTilt = first.header.gantryTilt;
        if (largestShift > halfPixel)
        {
          const Slice& last = slices_.back();
          const Vector3 offset = minus(last.header.position, first.header.position);
          const double shear = angleDegrees(offset, normal_);
          problems_.push_back({"gantry-tilt",
                               "Gantry tilt: the slices are not stacked along their normal but " +
                               number(shear) + " degrees off it (from " + at(first) + " to " + at(last) +
                               " the image moves " + number(largestShift) +
                               " mm sideways); Gantry/Detector Tilt (0018,1120) is " + number(recordedTilt) +
                               " degrees. A sheared stack would need resampling, which SpineMet does not do"});
          return true;
        }
        if (std::abs(recordedTilt) > 0.01)
        {
          warnings_.push_back("Gantry/Detector Tilt (0018,1120) is " + number(recordedTilt) +
                              " degrees, but the slices are stacked along their normal (already "
                              "corrected for the tilt); the volume follows Image Position and Orientation");
        }
        return false;
      }

      void checkAxial()
      {
        const Vector3 patientZ{0, 0, 1};
        const double offAxis = std::min(angleDegrees(normal_, patientZ),
                                        180 - angleDegrees(normal_, patientZ));
        if (offAxis > options_.axialToleranceDegrees)
        {
          const SliceHeader& first = slices_.front().header;
          problems_.push_back({"not-axial",
                               "The series is not axial: the slice normal " + vector(normal_) + " is " +
                               number(offAxis) + " degrees from the patient's head-feet axis (at most " +
                               number(options_.axialToleranceDegrees) +
                               " allowed); Image Orientation (Patient) (0020,0037) is rows along " +
                               vector(first.rowDirection) + ", columns along " + vector(first.columnDirection)});
        }
      }

      void checkSpacing()
      {
        if (slices_.size() < 3)
        {
          return;
        }
        std::vector<double> spacings;
        for (size_t i = 1; i < slices_.size(); ++i)
        {
          spacings.push_back(slices_[i].position - slices_[i - 1].position);
        }
        std::vector<double> sorted = spacings;
        std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
        median_ = sorted[sorted.size() / 2];
        const double tolerance = std::max(options_.spacingTolerance * median_, 0.05);

        std::vector<std::string> gaps;
        std::vector<std::string> narrow;
        for (size_t i = 0; i < spacings.size(); ++i)
        {
          const std::string between = number(spacings[i]) + " mm between " + at(slices_[i]) + " and " +
                                      at(slices_[i + 1]);
          if (spacings[i] > median_ + tolerance)
          {
            gaps.push_back(between);
          }
          else if (spacings[i] < median_ - tolerance)
          {
            narrow.push_back(between);
          }
        }
        if (!gaps.empty())
        {
          problems_.push_back({"slice-gap",
                               std::to_string(gaps.size()) + " gap(s) in the series (the median spacing is " +
                               number(median_) + " mm): " + enumerate(gaps)});
        }
        if (!narrow.empty())
        {
          problems_.push_back({"irregular-spacing",
                               std::to_string(narrow.size()) +
                               " slice spacing(s) narrower than the median spacing of " + number(median_) +
                               " mm: " + enumerate(narrow)});
        }
      }

      void checkThickness()
      {
        std::map<double, size_t> counts;
        for (const Slice& slice : slices_)
        {
          ++counts[std::round(slice.header.sliceThickness * 100) / 100];
        }
        if (counts.size() > 1)
        {
          std::vector<std::string> kinds;
          for (const auto& [thickness, count] : counts)
          {
            kinds.push_back((thickness > 0 ? number(thickness) + " mm" : std::string("absent")) + " (" +
                            std::to_string(count) + " slices)");
          }
          warnings_.push_back("Slice Thickness (0018,0050) varies within the series: " + enumerate(kinds));
        }
      }

      void acceptWhatTheCallerAccepts()
      {
        std::vector<SeriesProblem> rejecting;
        for (SeriesProblem& problem : problems_)
        {
          if (options_.acceptedProblems.count(problem.code) != 0)
          {
            warnings_.push_back("Accepted " + problem.code + ": " + problem.message);
          }
          else
          {
            rejecting.push_back(std::move(problem));
          }
        }
        problems_ = std::move(rejecting);
      }

      Series assemble()
      {
        const SliceHeader& first = slices_.front().header;
        Series series;
        series.attributes = first.attributes;

        VolumeGeometry geometry;
        geometry.columns = first.columns;
        geometry.rows = first.rows;
        geometry.slices = slices_.size();
        geometry.columnSpacing = first.columnSpacing;
        geometry.rowSpacing = first.rowSpacing;
        double thickest = 0;
        for (const Slice& slice : slices_)
        {
          thickest = std::max(thickest, slice.header.sliceThickness);
        }
        // A single slice (allowed only with minimumSlices = 1) has no spacing: its thickness stands in.
        geometry.sliceSpacing = slices_.size() > 1
                                  ? (slices_.back().position - slices_.front().position) /
                                      static_cast<double>(slices_.size() - 1)
                                  : (thickest > 0 ? thickest : 1);
        geometry.sliceThickness = thickest > 0 ? thickest : geometry.sliceSpacing;
        geometry.origin = first.position;
        geometry.rowDirection = first.rowDirection;
        geometry.columnDirection = first.columnDirection;
        geometry.sliceDirection = normal_;

        std::vector<std::vector<int16_t>> buffers;
        buffers.reserve(slices_.size());
        for (Slice& slice : slices_)
        {
          series.slices.push_back({slice.header.sopInstanceUid, slice.header.sopClassUid, slice.position,
                                   slice.header.instanceNumber});
          buffers.push_back(std::move(slice.hounsfield));
        }
        slices_.clear();
        series.volume = Volume(geometry, std::move(buffers));
        series.warnings = std::move(warnings_);
        return series;
      }

      std::vector<Slice> slices_;
      const LoadOptions& options_;
      Vector3 normal_{};
      double median_ = 0;
      std::vector<SeriesProblem> problems_;
      std::vector<std::string> warnings_;
    };

    std::string describeRejection(const std::vector<SeriesProblem>& problems,
                                  const std::vector<std::string>& warnings)
    {
      std::string text = problems.empty() ? std::string("The series was rejected") : problems.front().message;
      for (size_t i = 1; i < problems.size(); ++i)
      {
        text += ". Also: " + problems[i].message;
      }
      if (!warnings.empty())
      {
        text += ". Noted: ";
        for (size_t i = 0; i < warnings.size(); ++i)
        {
          text += (i == 0 ? "" : "; ") + warnings[i];
        }
      }
      return text;
    }
  }

  SeriesRejected::SeriesRejected(std::vector<SeriesProblem> problems, std::vector<std::string> warnings) :
    AnalysisError(problems.empty() ? std::string("rejected-series") : problems.front().code,
                  describeRejection(problems, warnings)),
    problems_(std::move(problems)),
    warnings_(std::move(warnings))
  {
  }

  Series loadSeries(const SliceSource& source, const LoadOptions& options,
                    const std::function<void(size_t done, size_t total)>& progress)
  {
    static const std::set<std::string> acceptable{"gantry-tilt", "not-axial", "slice-gap", "irregular-spacing"};
    for (const std::string& code : options.acceptedProblems)
    {
      if (acceptable.count(code) == 0)
      {
        throw std::invalid_argument("LoadOptions::acceptedProblems: \"" + code + "\" cannot be accepted");
      }
    }
    const size_t total = source.count();
    if (total == 0)
    {
      throw AnalysisError("too-few-slices", "The series has no instances");
    }
    std::vector<Slice> images;
    std::vector<SliceHeader> localizers;
    std::optional<SliceHeader> reference;   // the first image that is not a localizer
    bool anyMonochrome1 = false;
    size_t bytesHeld = 0;     // the HU of the slices read so far, against the memory budget
    for (size_t index = 0; index < total; ++index)
    {
      DecodedInstance instance = readInstance(source.read(index), source.describe(index), options, bytesHeld);
      bytesHeld += instance.hounsfield.size() * sizeof(int16_t);
      if (instance.isImage)
      {
        if (reference)
        {
          checkAgainstReference(*reference, instance.header);
        }
        anyMonochrome1 = anyMonochrome1 || instance.header.monochrome1;
        if (instance.header.isLocalizer)
        {
          localizers.push_back(std::move(instance.header));
        }
        else
        {
          images.push_back({std::move(instance.header), std::move(instance.hounsfield), 0});
          if (!reference)
          {
            reference = images.front().header;
            for (const SliceHeader& localizer : localizers)
            {
              checkAgainstReference(*reference, localizer);
            }
          }
        }
      }
      if (progress)
      {
        progress(index + 1, total);
      }
    }

    std::vector<std::string> warnings;
    if (!localizers.empty())
    {
      if (images.empty())
      {
        throw AnalysisError("localizer-only", "The series holds only localizer images (Image Type "
                                              "(0008,0008) " + imageType(localizers.front()) +
                                              "), no axial slices");
      }
      if (!options.dropLocalizers)
      {
        throw AnalysisError("localizer-mixed", localizers.front().name + " is a localizer (Image Type "
                                               "(0008,0008) " + imageType(localizers.front()) +
                                               ") mixed into the axial series");
      }
      std::vector<std::string> names;
      for (const SliceHeader& localizer : localizers)
      {
        names.push_back(localizer.name);
      }
      warnings.push_back("Left out " + std::to_string(localizers.size()) +
                         " localizer image(s) (Image Type LOCALIZER): " + enumerate(names));
    }
    if (images.empty())
    {
      throw AnalysisError("too-few-slices", "The series has no CT images (only a media directory)");
    }
    const SliceHeader& first = images.front().header;
    if (!first.imageType.empty() && first.imageType.front() == "DERIVED")
    {
      warnings.push_back("The images are DERIVED (Image Type " + imageType(first) +
                         "), e.g. a reformat or a processed reconstruction, not the original reconstruction");
    }
    if (anyMonochrome1)
    {
      warnings.push_back("The images are MONOCHROME1 (displayed inverted); their Hounsfield units do not depend on it");
    }

    Assembly assembly(std::move(images), options);
    assembly.warnings() = std::move(warnings);
    return assembly.build();
  }
}
