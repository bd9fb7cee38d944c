// SPDX-License-Identifier: GPL-3.0-or-later
#include "PhantomEvaluation.h"

#include <algorithm>
#include <map>
#include <cmath>
#include <sstream>

namespace spinemet
{
  namespace test
  {
    namespace
    {
      double sliceZ(const Volume& volume, size_t slice)
      {
        return volume.toPatient(0, 0, static_cast<double>(slice))[2];
      }

      // The volume slice of each true slice, by position.
      std::vector<int> truthVertebraOfSlice(const PhantomStudy& study)
      {
        const Volume& volume = study.series.volume;
        std::vector<int> result(volume.sliceCount(), -1);
        for (const PhantomSlice& slice : study.truth.slices)
        {
          for (size_t s = 0; s < volume.sliceCount(); ++s)
          {
            if (std::fabs(sliceZ(volume, s) - slice.zMm) < 1e-3)
            {
              result[s] = slice.vertebra;
            }
          }
        }
        return result;
      }
    }


    SpineEvaluation evaluateSpine(const PhantomStudy& study, const SpineLayout& layout, double cropMm)
    {
      SpineEvaluation result;
      result.levelNote = layout.levelNote;
      const Volume& volume = study.series.volume;
      const VolumeGeometry& g = volume.geometry();
      const std::vector<PhantomVertebra>& truth = study.truth.vertebrae;
      result.truthVertebrae = truth.size();
      result.foundVertebrae = layout.vertebrae.size();
      result.countMatches = result.truthVertebrae == result.foundVertebrae;
      if (!result.countMatches)
      {
        result.problems.push_back("found " + std::to_string(result.foundVertebrae) + " vertebrae, truth has " +
                                  std::to_string(result.truthVertebrae));
      }

      const std::vector<int> truthOfSlice = truthVertebraOfSlice(study);

      // One disc's thickness around each true vertebra (the thicker neighbouring disc, at least
      // one slice spacing).
      std::vector<double> tolerance(truth.size(), g.sliceSpacing);
      for (size_t v = 0; v + 1 < truth.size(); ++v)
      {
        const double disc = truth[v].zMinMm - truth[v + 1].zMaxMm;
        tolerance[v] = std::max(tolerance[v], disc);
        tolerance[v + 1] = std::max(tolerance[v + 1], disc);
      }

      // Match each true vertebra to the found one overlapping it most.
      for (size_t v = 0; v < truth.size(); ++v)
      {
        double truthLow = 1e9, truthHigh = -1e9;
        for (size_t s = 0; s < truthOfSlice.size(); ++s)
        {
          if (truthOfSlice[s] == static_cast<int>(v))
          {
            truthLow = std::min(truthLow, sliceZ(volume, s));
            truthHigh = std::max(truthHigh, sliceZ(volume, s));
          }
        }
        if (truthLow > truthHigh)
        {
          continue;       // no slice centre inside this body
        }
        int best = -1;
        size_t bestOverlap = 0;
        for (const Vertebra& found : layout.vertebrae)
        {
          size_t overlap = 0;
          for (size_t s = found.firstSlice; s <= found.lastSlice; ++s)
          {
            overlap += truthOfSlice[s] == static_cast<int>(v) ? 1 : 0;
          }
          if (overlap > bestOverlap)
          {
            bestOverlap = overlap;
            best = found.index;
          }
        }
        if (best < 0)
        {
          result.problems.push_back(truth[v].level + " not found");
          result.vertebraeBeyondTolerance += 2;
          continue;
        }
        const Vertebra& found = layout.vertebrae[static_cast<size_t>(best)];
        // The found vertebra overlaps another true one more: this one was not found on its own
        // (missed, or merged into its neighbour).
        size_t ownOverlap = 0;
        std::map<int, size_t> overlapOfTruth;
        for (size_t s = found.firstSlice; s <= found.lastSlice; ++s)
        {
          if (truthOfSlice[s] >= 0)
          {
            ++overlapOfTruth[truthOfSlice[s]];
          }
        }
        ownOverlap = overlapOfTruth[static_cast<int>(v)];
        const bool foundOnItsOwn = std::all_of(overlapOfTruth.begin(), overlapOfTruth.end(),
                                               [&](const auto& entry) { return entry.second <= ownOverlap; });
        if (!foundOnItsOwn)
        {
          ++result.vertebraeNotFoundOnTheirOwn;
        }
        if (found.level.empty())
        {
          ++result.levelsUnnamed;
        }
        else if (found.level == truth[v].level)
        {
          ++result.levelsRight;
        }
        else
        {
          ++result.levelsWrong;
          const VertebraLevelEvidence evidence = static_cast<size_t>(best) < layout.levelEvidence.size()
                                                   ? layout.levelEvidence[static_cast<size_t>(best)]
                                                   : VertebraLevelEvidence{};
          // A vertebra missed or merged into its neighbour shows that neighbour's level: a count
          // error, not a naming one.
          if (evidence.confidence >= UNCERTAIN_LEVEL_CONFIDENCE && foundOnItsOwn)
          {
            ++result.levelsWrongCertain;
          }
          result.problems.push_back(truth[v].level + " named " + found.level + " (confidence " +
                                    std::to_string(evidence.confidence) + ", " + evidence.landmark + "; " +
                                    layout.levelNote + ")");
        }
        const double foundLow = std::min(sliceZ(volume, found.firstSlice), sliceZ(volume, found.lastSlice));
        const double foundHigh = std::max(sliceZ(volume, found.firstSlice), sliceZ(volume, found.lastSlice));
        const double error = std::max(std::fabs(foundLow - truthLow), std::fabs(foundHigh - truthHigh));
        result.edgeErrorsMm.push_back(error);
        if (error > tolerance[v] + 1e-6)
        {
          ++result.vertebraeBeyondTolerance;
          std::ostringstream text;
          text << truth[v].level << ": found z " << foundLow << ".." << foundHigh << ", truth " << truthLow << ".."
               << truthHigh << " (tolerance " << tolerance[v] << " mm)";
          result.problems.push_back(text.str());
        }

        // Slices well inside the true vertebra must carry one, with a crop around its body.
        for (size_t s = 0; s < truthOfSlice.size(); ++s)
        {
          if (truthOfSlice[s] != static_cast<int>(v))
          {
            continue;
          }
          const double z = sliceZ(volume, s);
          if (z - truthLow >= tolerance[v] && truthHigh - z >= tolerance[v])
          {
            ++result.vertebraSlices;
            if (!layout.slices[s].vertebraPresent)
            {
              ++result.slicesMissed;
              result.problems.push_back(truth[v].level + ": slice " + std::to_string(s) + " has no vertebra");
            }
          }
        }
      }

      // Crops: every slice that carries a vertebra, found and true.
      double centreErrorSum = 0;
      for (size_t s = 0; s < layout.slices.size(); ++s)
      {
        const SliceSpine& slice = layout.slices[s];
        if (!slice.vertebraPresent || truthOfSlice[s] < 0)
        {
          continue;
        }
        const PhantomVertebra& body = truth[static_cast<size_t>(truthOfSlice[s])];
        const double halfCropColumns = cropMm / 2 / g.columnSpacing;
        const double halfCropRows = cropMm / 2 / g.rowSpacing;
        const double halfWidth = body.bodyWidthMm / 2 / g.columnSpacing;
        const double halfDepth = body.bodyDepthMm / 2 / g.rowSpacing;
        ++result.cropsChecked;
        const bool inside = body.bodyCentreColumn - halfWidth >= slice.cropCentreColumn - halfCropColumns &&
                            body.bodyCentreColumn + halfWidth <= slice.cropCentreColumn + halfCropColumns &&
                            body.bodyCentreRow - halfDepth >= slice.cropCentreRow - halfCropRows &&
                            body.bodyCentreRow + halfDepth <= slice.cropCentreRow + halfCropRows;
        if (!inside)
        {
          ++result.cropsMissingBody;
          std::ostringstream text;
          text << "slice " << s << ": crop centred at (" << slice.cropCentreColumn << ", " << slice.cropCentreRow
               << ") misses the body of " << body.level << " at (" << body.bodyCentreColumn << ", "
               << body.bodyCentreRow << ")";
          result.problems.push_back(text.str());
        }
        const double dx = ((slice.vertebralBody.column0 + slice.vertebralBody.column1) / 2 - body.bodyCentreColumn) * g.columnSpacing;
        const double dy = ((slice.vertebralBody.row0 + slice.vertebralBody.row1) / 2 - body.bodyCentreRow) * g.rowSpacing;
        const double error = std::sqrt(dx * dx + dy * dy);
        centreErrorSum += error;
        result.bodyCentreErrorMaxMm = std::max(result.bodyCentreErrorMaxMm, error);
      }
      result.bodyCentreErrorMeanMm = result.cropsChecked > 0 ? centreErrorSum / static_cast<double>(result.cropsChecked) : 0;
      return result;
    }


    std::string summarise(const SpineEvaluation& evaluation)
    {
      std::ostringstream text;
      text.precision(1);
      text << std::fixed << "vertebrae " << evaluation.foundVertebrae << "/" << evaluation.truthVertebrae;
      double sum = 0, maximum = 0;
      for (double error : evaluation.edgeErrorsMm)
      {
        sum += error;
        maximum = std::max(maximum, error);
      }
      text << ", edge error mean " << (evaluation.edgeErrorsMm.empty() ? 0 : sum / evaluation.edgeErrorsMm.size())
           << " max " << maximum << " mm (" << evaluation.vertebraeBeyondTolerance << " beyond a disc)"
           << ", missed slices " << evaluation.slicesMissed << "/" << evaluation.vertebraSlices
           << ", crops missing the body " << evaluation.cropsMissingBody << "/" << evaluation.cropsChecked
           << ", body centre error mean " << evaluation.bodyCentreErrorMeanMm << " max "
           << evaluation.bodyCentreErrorMaxMm << " mm, levels " << evaluation.levelsRight << " right "
           << evaluation.levelsWrong << " wrong (" << evaluation.levelsWrongCertain << " of them not flagged uncertain) "
           << evaluation.levelsUnnamed << " not named";
      for (const std::string& problem : evaluation.problems)
      {
        text << "\n  " << problem;
      }
      return text.str();
    }

    PhantomSettings landmarkPhantomSettings(uint64_t seed, bool variant)
    {
      // splitmix64 of the seed: the draws are the same on every platform
      uint64_t state = seed * 0x2545F4914F6CDD1Dull + 0x51ED2701ull;
      auto next = [&state]()
      {
        uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
      };
      auto pick = [&next](const std::vector<std::string>& names) { return names[next() % names.size()]; };
      PhantomSettings settings;
      settings.seed = seed;
      settings.randomAcquisition = true;
      const std::vector<std::string> cervical = {"C3", "C4", "C5", "C6"};   // C7 whole above T1
      const std::vector<std::string> upperThoracic = {"T2", "T3", "T4", "T5", "T6", "T7", "T8"};
      const std::vector<std::string> lowerThoracic = {"T6", "T7", "T8", "T9", "T10", "T11", "T12"};
      const std::vector<std::string> lumbar = {"L1", "L2", "L3", "L4", "L5"};
      const std::vector<std::string> aboveSacrum = {"T10", "T11", "T12", "L1", "L2", "L3", "L4"};
      int landmark = static_cast<int>(next() % 3);
      if (variant)
      {
        switch (next() % 5)
        {
          case 0: settings.ribPairs = 11; break;
          case 1: settings.ribPairs = 13; break;
          case 2: settings.cervicalRib = true; landmark = 0; break;
          case 3: settings.transitional = TransitionalVertebra::SacralisedL5; landmark = 2; break;
          default: settings.transitional = TransitionalVertebra::LumbarisedS1; landmark = 2; break;
        }
        if (settings.ribPairs != 12 && landmark == 0)
        {
          landmark = 1;
        }
      }
      if (landmark == 0)
      {
        settings.levels = pick(cervical) + "-" + pick(upperThoracic);
      }
      else if (landmark == 1)
      {
        settings.levels = pick(lowerThoracic) + "-" + pick(lumbar);
      }
      else
      {
        settings.levels = pick(aboveSacrum) + "-S1";
      }
      return settings;
    }
  }
}
