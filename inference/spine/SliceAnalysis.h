// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Internal to the spine stage: what is measured on one axial slice. SpineFinder.cpp runs it over
// the volume twice: once to find vertebral-body candidates everywhere, once along the chosen
// track to measure the bone profile and the posterior elements.

#include "spine/ColumnPartition.h"
#include "spine/Spine.h"

#include <cstdint>
#include <vector>

namespace spinemet
{
  namespace spine_detail
  {
    // The in-plane pixel grid, and which way is posterior.
    struct SliceGrid
    {
      size_t columns = 0;
      size_t rows = 0;
      double columnMm = 1;           // spacing between columns
      double rowMm = 1;              // spacing between rows
      double posteriorRowSign = 1;   // +1 when rows increase towards the patient's back
    };

    // sum / 9 truncated towards zero, as int16, for the sum of nine int16 values (|sum| < 2^19).
    // Done in float: the quotient is correctly rounded and lies within 2^-9 of the exact one,
    // never across a whole number (a non-whole sum / 9 is at least 1/9 from one), so truncating
    // it gives the integer quotient; unlike a signed int32 division it vectorises cheaply.
    // SliceAnalysisTest checks every possible sum.
    inline int16_t ninthOfSum(int32_t sum)
    {
      return static_cast<int16_t>(static_cast<int32_t>(static_cast<float>(sum) / 9.0f));
    }

    // Throws AnalysisError("spine-orientation") for slices whose rows do not run front to back.
    SliceGrid makeSliceGrid(const VolumeGeometry& geometry);

    // A footprint of the vertebral body on one slice, in pixels.
    struct Footprint
    {
      double column = 0;
      double row = 0;
      double halfWidth = 0;          // columns
      double halfDepth = 0;          // rows
    };

    // The patient outline of one slice as runs of pixels, with what was measured on it: kept
    // from findSpine's first pass so that the second need not label the slice again.
    struct PatientOutline
    {
      std::vector<uint32_t> runs;     // [begin, end) pixel indices, in pairs, ascending
      bool found = false;
      double midColumn = 0;
      double anteriorRow = 0;
      double posteriorRow = 0;
    };

    // Working buffers for one slice, reused from slice to slice.
    class SliceAnalyser
    {
    public:
      SliceAnalyser(const SliceGrid& grid, const SpineOptions& options);

      // Loads a slice: 3x3-smoothed HU, the patient outline, the bone mask.
      void load(const int16_t* hu);

      // The outline the last load() found.
      PatientOutline patientOutline() const;

      // load() with the outline load() found on this slice before: the same smoothed HU and
      // bone mask for boneProfile, bodyDensities and posteriorElementsRow, without labelling
      // the patient again. candidates() needs load().
      void loadWithOutline(const int16_t* hu, const PatientOutline& outline);

      std::vector<BodyCandidate> candidates();

      // Bone evidence inside the footprint (SliceSpine::boneProfile).
      double boneProfile(const Footprint& body) const;

      // Mean smoothed HU across the footprint, front to back (the disc evidence,
      // ColumnPartition.h).
      BodyDensities bodyDensities(const Footprint& body) const;

      // The row of the most posterior bone behind the body within a narrow midline corridor
      // (laminae, spinous process), or the body's posterior edge when none is found.
      double posteriorElementsRow(const Footprint& body) const;

      bool patientFound() const { return patientFound_; }

    private:
      bool bone(size_t column, size_t row) const { return bone_[row * grid_.columns + column] != 0; }
      int16_t hu(size_t column, size_t row) const { return smoothed_[row * grid_.columns + column]; }
      double density(long column, long row) const;   // bone fraction in the core window
      void findPatient();
      void smooth(const int16_t* hu);
      void markBone(double thresholdHu, bool withDensity);
      // candidates() at the bone mask marked last. `wallFromFront`: the posterior wall is looked
      // for from the component's front along its centre column, not from its centroid.
      std::vector<BodyCandidate> candidatesOfBoneMask(bool wallFromFront = false);

      SliceGrid grid_;
      SpineOptions options_;
      long windowHalfColumns_ = 0;
      long windowHalfRows_ = 0;

      std::vector<int16_t> smoothed_;
      std::vector<uint8_t> patient_;
      std::vector<uint8_t> bone_;
      std::vector<int32_t> integral_;       // (columns + 1) x (rows + 1) sums of bone_
      std::vector<uint8_t> porousBone_;     // bone_ and integral_ of the porous look (candidates())
      std::vector<int32_t> porousIntegral_;
      std::vector<int32_t> rowSums_;        // the 3x3 mean's first pass: three rows, a ring
      std::vector<uint8_t> core_;
      std::vector<int32_t> labels_;
      std::vector<size_t> stack_;
      std::vector<uint32_t> maskRuns_;      // findPatient: the mask's runs, [begin, end) pairs
      std::vector<uint32_t> rowRunStart_;   // index of each row's first run
      std::vector<uint32_t> runParent_;     // union-find over the runs
      std::vector<size_t> runAreas_;        // pixels per component, at its root run
      std::vector<uint32_t> patientRuns_;   // the outline's runs (patientOutline())
      std::vector<int16_t> cancellousValues_;

      bool densityReady_ = false;           // integral_ belongs to the loaded slice
      bool patientFound_ = false;
      double patientMidColumn_ = 0;
      double patientAnteriorRow_ = 0;       // anterior and posterior extent of the outline
      double patientPosteriorRow_ = 0;
    };

    // Connected components of a byte mask (4- or 8-connected). Returns the number of
    // components; labels are 1..count, 0 outside the mask. With `areas`, areas[k] is the pixel
    // count of component k (areas[0] = 0), counted while filling: no second pass over the labels.
    int labelComponents(const std::vector<uint8_t>& mask, size_t columns, size_t rows,
                        bool eightConnected, std::vector<int32_t>& labels,
                        std::vector<size_t>& stack, std::vector<size_t>* areas = nullptr);
  }
}
