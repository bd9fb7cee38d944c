// SPDX-License-Identifier: GPL-3.0-or-later
#include "SecondaryCaptureOverlays.h"

#include "AssessabilityText.h"
#include "Canvas.h"
#include "DicomCommon.h"
#include "SecondaryCapture.h"
#include "Tid1500MeasurementReport.h"

#include "common/AnalysisError.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace spinemet
{
  const char* const OVERLAY_WARNING = "AI RESULT - NOT FOR DIAGNOSTIC USE";

  std::array<uint8_t, 3> boneQualityColour(BoneQuality value)
  {
    // Okabe & Ito, "Color Universal Design" (2008).
    switch (value)
    {
      case BoneQuality::Normal: return {153, 153, 153};    // grey
      case BoneQuality::Blastic: return {86, 180, 233};    // sky blue
      case BoneQuality::Lytic: return {213, 94, 0};        // vermillion
      case BoneQuality::Mixed: return {240, 228, 66};      // yellow
    }
    return {255, 255, 255};
  }

  namespace
  {
    const Rgb BACKGROUND{18, 18, 18};
    const Rgb TEXT{235, 235, 235};
    const Rgb DIM_TEXT{170, 170, 170};
    const Rgb WARNING_TEXT{255, 255, 255};
    const Rgb WARNING_BAR{213, 94, 0};
    // Two lines: the warning, then the study state.
    const int BANNER_HEIGHT = 66;
    const int MARGIN = 14;
    const size_t IMAGE_SIZE = 512;         // key-slice image width, pixels
    // Tint opacity: enough to read the class at a glance, little enough to keep the lesion visible.
    const double TINT_FINDING = 0.3;
    const double TINT_NORMAL = 0.2;
    // Not assessable: grey like normal, but hatched, so that "no finding" never reads as "normal".
    const Rgb NOT_ASSESSABLE_COLOUR{153, 153, 153};
    const double HATCH_ALPHA = 0.45;
    const long HATCH_PERIOD = 7;

    std::string percent(double probability)
    {
      char text[16];
      std::snprintf(text, sizeof(text), "%.2f", probability);
      return text;
    }

    // Bone window, HU -> 0..255.
    class Window
    {
    public:
      Window(int centre, int width) : low_(centre - width / 2.0), width_(std::max(1, width)) {}
      uint8_t operator()(double hu) const
      {
        return static_cast<uint8_t>(std::lround(std::clamp((hu - low_) / width_, 0.0, 1.0) * 255));
      }

    private:
      double low_;
      double width_;
    };

    double trilinear(const Volume& volume, double column, double row, double slice)
    {
      column = std::clamp(column, 0.0, static_cast<double>(volume.columns() - 1));
      row = std::clamp(row, 0.0, static_cast<double>(volume.rows() - 1));
      slice = std::clamp(slice, 0.0, static_cast<double>(volume.sliceCount() - 1));
      const size_t c0 = static_cast<size_t>(column);
      const size_t r0 = static_cast<size_t>(row);
      const size_t s0 = static_cast<size_t>(slice);
      const size_t c1 = std::min(c0 + 1, volume.columns() - 1);
      const size_t r1 = std::min(r0 + 1, volume.rows() - 1);
      const size_t s1 = std::min(s0 + 1, volume.sliceCount() - 1);
      const double fc = column - c0;
      const double fr = row - r0;
      const double fs = slice - s0;
      auto plane = [&](size_t s) {
        const double top = volume.at(c0, r0, s) * (1 - fc) + volume.at(c1, r0, s) * fc;
        const double bottom = volume.at(c0, r1, s) * (1 - fc) + volume.at(c1, r1, s) * fc;
        return top * (1 - fr) + bottom * fr;
      };
      return plane(s0) * (1 - fs) + plane(s1) * fs;
    }

    struct Box
    {
      double minColumn = 0, maxColumn = 0, minRow = 0, maxRow = 0, meanColumn = 0, meanRow = 0;
    };

    Box outlineBox(const VertebraResult& vertebra)
    {
      Box box;
      if (vertebra.keySliceOutline.empty())
      {
        throw AnalysisError("dicom-write", "overlays: vertebra " + vertebra.displayName + " has no key-slice outline");
      }
      box.minColumn = box.maxColumn = vertebra.keySliceOutline[0][0];
      box.minRow = box.maxRow = vertebra.keySliceOutline[0][1];
      for (const auto& point : vertebra.keySliceOutline)
      {
        box.minColumn = std::min(box.minColumn, point[0]);
        box.maxColumn = std::max(box.maxColumn, point[0]);
        box.minRow = std::min(box.minRow, point[1]);
        box.maxRow = std::max(box.maxRow, point[1]);
        box.meanColumn += point[0];
        box.meanRow += point[1];
      }
      box.meanColumn /= vertebra.keySliceOutline.size();
      box.meanRow /= vertebra.keySliceOutline.size();
      return box;
    }

    // The line under the warning: what the study as a whole says, in the state's colour.
    std::string bannerStateLine(const AnalysisResult& result)
    {
      return "Study: " + studyStateStatement(result);
    }

    Rgb stateColour(StudyState state)
    {
      switch (state)
      {
        case StudyState::LesionSuspected: return boneQualityColour(BoneQuality::Mixed);   // yellow: look here
        case StudyState::NoLesionFound: return TEXT;
        case StudyState::NotAssessable: return NOT_ASSESSABLE_COLOUR;
      }
      return TEXT;
    }

    void drawBanner(Canvas& canvas, TextRenderer& bold, TextRenderer& regular, const AnalysisResult& result)
    {
      const int width = static_cast<int>(canvas.width());
      canvas.fillRect(0, 0, width, BANNER_HEIGHT, {0, 0, 0});
      canvas.fillRect(0, BANNER_HEIGHT - 4, width, BANNER_HEIGHT, WARNING_BAR);
      int size = 22;
      while (size > 10 && bold.measure(OVERLAY_WARNING, size) > width - 2 * MARGIN)
      {
        --size;
      }
      const int warningWidth = bold.measure(OVERLAY_WARNING, size);
      bold.draw(canvas, (width - warningWidth) / 2, 30, OVERLAY_WARNING, size, WARNING_TEXT);

      const std::string state = bannerStateLine(result);
      int stateSize = 16;
      while (stateSize > 9 && regular.measure(state, stateSize) > width - 2 * MARGIN)
      {
        --stateSize;
      }
      const int stateWidth = regular.measure(state, stateSize);
      regular.draw(canvas, (width - stateWidth) / 2, BANNER_HEIGHT - 14, state, stateSize, stateColour(result.state()));
    }

    // Diagonal stripes over [x0, x1) x [y0, y1): the mark of a vertebra without a finding.
    void hatchRect(Canvas& canvas, long x0, long y0, long x1, long y1, Rgb colour)
    {
      for (long y = y0; y < y1; ++y)
      {
        for (long x = x0; x < x1; ++x)
        {
          if ((x + y) % HATCH_PERIOD < 2)
          {
            canvas.blend(x, y, colour, HATCH_ALPHA);
          }
        }
      }
    }

    // Draws `text`, shrinking the font until it fits in `width` pixels.
    void drawFitted(Canvas& canvas, TextRenderer& font, int x, int baselineY, int width, const std::string& text, int size, Rgb colour)
    {
      while (size > 8 && font.measure(text, size) > width)
      {
        --size;
      }
      font.draw(canvas, x, baselineY, text, size, colour);
    }

    std::string modelLine(const AnalysisResult& result)
    {
      std::string line = "SpineMet " + result.model.name + " " + result.model.version;
      if (!result.model.trainedOn.empty())
      {
        line += " - trained on " + result.model.trainedOn;
      }
      return line;
    }

    bool hasFinding(const VertebraResult& vertebra)
    {
      return vertebra.assessable &&
             (vertebra.boneQuality != BoneQuality::Normal || vertebra.posterolateral != Posterolateral::None);
    }

    // ------------------------------------------------------------------------------------------

    void checkInputs(const AnalysisResult& result, const Series& series)
    {
      const Volume& volume = series.volume;
      if (volume.sliceCount() == 0 || volume.columns() == 0 || volume.rows() == 0)
      {
        throw AnalysisError("dicom-write", "overlays: the series has no voxels");
      }
      if (series.slices.size() != volume.sliceCount())
      {
        throw AnalysisError("dicom-write", "overlays: the series lists " + std::to_string(series.slices.size()) +
                                           " slice references for " + std::to_string(volume.sliceCount()) + " volume slices");
      }
      if (result.series.seriesInstanceUid != series.attributes.seriesInstanceUid)
      {
        throw AnalysisError("dicom-write", "overlays: the result describes series " + result.series.seriesInstanceUid +
                                           ", not " + series.attributes.seriesInstanceUid);
      }
      for (const auto& vertebra : result.vertebrae)
      {
        if (vertebra.lastSlice >= volume.sliceCount() || vertebra.firstSlice > vertebra.lastSlice ||
            vertebra.keySlice < vertebra.firstSlice || vertebra.keySlice > vertebra.lastSlice)
        {
          throw AnalysisError("dicom-write", "overlays: vertebra " + vertebra.displayName + " has slices " +
                                             std::to_string(vertebra.firstSlice) + "-" + std::to_string(vertebra.lastSlice) +
                                             " (key " + std::to_string(vertebra.keySlice) + ") outside the volume's " +
                                             std::to_string(volume.sliceCount()));
        }
        if (series.slices[vertebra.keySlice].sopInstanceUid != vertebra.keySliceSopInstanceUid)
        {
          throw AnalysisError("dicom-write", "overlays: vertebra " + vertebra.displayName + ": key slice " +
                                             std::to_string(vertebra.keySlice) + " is " + series.slices[vertebra.keySlice].sopInstanceUid +
                                             " in the series but " + vertebra.keySliceSopInstanceUid + " in the result");
        }
      }
    }

    // ------------------------------------------------------------------------------------------

    // A curved sagittal reformat that follows the spine's midline (the vertebral bodies' centre
    // columns, interpolated between key slices), so a scoliotic spine stays in the plane.
    Overlay sagittalOverview(const AnalysisResult& result, const Series& series, const OverlayOptions& options,
                             TextRenderer& regular, TextRenderer& bold, const SecondaryCaptureHeader& baseHeader)
    {
      const Volume& volume = series.volume;
      const VolumeGeometry& g = volume.geometry();
      const size_t slices = volume.sliceCount();
      const bool cranialLast = g.sliceDirection[2] >= 0;     // slice index grows towards the head
      const bool rowsPosterior = g.columnDirection[1] >= 0;  // row index grows towards the back

      std::vector<Box> boxes;
      std::vector<std::pair<double, double>> centreline;      // (key slice, body centre column)
      for (const auto& vertebra : result.vertebrae)
      {
        boxes.push_back(outlineBox(vertebra));
        centreline.emplace_back(static_cast<double>(vertebra.keySlice), boxes.back().meanColumn);
      }
      std::sort(centreline.begin(), centreline.end());
      auto centreColumn = [&](double slice) {
        if (slice <= centreline.front().first)
        {
          return centreline.front().second;
        }
        for (size_t i = 1; i < centreline.size(); ++i)
        {
          if (slice <= centreline[i].first)
          {
            const double span = centreline[i].first - centreline[i - 1].first;
            const double f = span > 0 ? (slice - centreline[i - 1].first) / span : 0;
            return centreline[i - 1].second * (1 - f) + centreline[i].second * f;
          }
        }
        return centreline.back().second;
      };

      // Anterior-posterior extent: the bodies plus room for the posterior elements.
      double minRow = boxes[0].minRow;
      double maxRow = boxes[0].maxRow;
      for (const auto& box : boxes)
      {
        minRow = std::min(minRow, box.minRow);
        maxRow = std::max(maxRow, box.maxRow);
      }
      minRow = std::max(0.0, minRow - (rowsPosterior ? 40.0 : 80.0) / g.rowSpacing);
      maxRow = std::min(static_cast<double>(volume.rows() - 1), maxRow + (rowsPosterior ? 80.0 : 40.0) / g.rowSpacing);

      const double widthMm = (maxRow - minRow + 1) * g.rowSpacing;
      const double heightMm = slices * g.sliceSpacing;
      double mmPerPixel = std::min(g.rowSpacing, g.sliceSpacing);
      mmPerPixel = std::min(mmPerPixel, heightMm / 560);     // small studies: enlarge for the labels
      mmPerPixel = std::max({mmPerPixel, heightMm / 1400, widthMm / 1000});   // long ones: keep the image manageable
      const size_t panelWidth = static_cast<size_t>(std::lround(widthMm / mmPerPixel));
      const size_t panelHeight = static_cast<size_t>(std::lround(heightMm / mmPerPixel));

      auto panelX = [&](double row) {       // row index -> panel x (anterior on the left)
        const double x = (row + 0.5 - minRow) * g.rowSpacing / mmPerPixel - 0.5;
        return rowsPosterior ? x : panelWidth - 1 - x;
      };
      auto panelY = [&](double slice) {     // slice index -> panel y (head at the top)
        const double fromTop = cranialLast ? (slices - 1) - slice : slice;
        return (fromTop + 0.5) * g.sliceSpacing / mmPerPixel - 0.5;
      };

      const Window window(options.windowCentre, options.windowWidth);
      std::vector<uint8_t> grey(panelWidth * panelHeight);
      const double slabStep = 1.0 / g.columnSpacing;          // three samples 1 mm apart
      for (size_t y = 0; y < panelHeight; ++y)
      {
        const double fromTop = (y + 0.5) * mmPerPixel / g.sliceSpacing - 0.5;
        const double slice = cranialLast ? (slices - 1) - fromTop : fromTop;
        const double column = centreColumn(slice);
        for (size_t x = 0; x < panelWidth; ++x)
        {
          const double xa = rowsPosterior ? x : panelWidth - 1 - x;
          const double row = minRow + (xa + 0.5) * mmPerPixel / g.rowSpacing - 0.5;
          const double hu = (trilinear(volume, column - slabStep, row, slice) + trilinear(volume, column, row, slice) +
                             trilinear(volume, column + slabStep, row, slice)) / 3;
          grey[y * panelWidth + x] = window(hu);
        }
      }

      // Labels: one per vertebra beside the panel, pushed apart where they would overlap.
      const int labelSize = 16;
      const int detailSize = 13;
      const int labelHeight = 38;
      const int labelColumnWidth = 330;
      std::vector<double> labelY(result.vertebrae.size());
      {
        std::vector<size_t> order(result.vertebrae.size());
        for (size_t i = 0; i < order.size(); ++i)
        {
          order[i] = i;
        }
        auto centreY = [&](size_t i) {
          return (panelY(result.vertebrae[i].firstSlice) + panelY(result.vertebrae[i].lastSlice)) / 2;
        };
        std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return centreY(a) < centreY(b); });
        double next = 0;
        for (size_t i : order)
        {
          labelY[i] = std::max(centreY(i), next);
          next = labelY[i] + labelHeight;
        }
      }
      double labelsBottom = 0;
      for (double y : labelY)
      {
        labelsBottom = std::max(labelsBottom, y + labelHeight / 2.0);
      }
      const int legendHeight = 30 + 5 * 24;
      const long panelTop = BANNER_HEIGHT + MARGIN + 20;     // room for the A / P letters
      const long panelLeft = MARGIN;
      const long labelLeft = panelLeft + static_cast<long>(panelWidth) + 24;
      const double contentHeight = std::max<double>(panelHeight, labelsBottom + 16 + legendHeight);
      const size_t width = static_cast<size_t>(labelLeft + labelColumnWidth + MARGIN);
      const size_t height = static_cast<size_t>(panelTop + contentHeight + 52);

      Canvas canvas(width, height, BACKGROUND);
      drawBanner(canvas, bold, regular, result);
      canvas.drawGrey(panelLeft, panelTop, panelWidth, panelHeight, grey);
      regular.draw(canvas, static_cast<int>(panelLeft), static_cast<int>(panelTop) - 6, "A", 15, DIM_TEXT);
      regular.draw(canvas, static_cast<int>(panelLeft + panelWidth) - regular.measure("P", 15), static_cast<int>(panelTop) - 6,
                   "P", 15, DIM_TEXT);

      Overlay overlay;
      overlay.kind = Overlay::Kind::SagittalOverview;
      for (size_t i = 0; i < result.vertebrae.size(); ++i)
      {
        const VertebraResult& vertebra = result.vertebrae[i];
        const Rgb colour = vertebra.assessable ? boneQualityColour(vertebra.boneQuality) : NOT_ASSESSABLE_COLOUR;
        const double x0 = std::min(panelX(boxes[i].minRow - 0.5), panelX(boxes[i].maxRow + 0.5)) + panelLeft;
        const double x1 = std::max(panelX(boxes[i].minRow - 0.5), panelX(boxes[i].maxRow + 0.5)) + panelLeft;
        const double y0 = std::min(panelY(vertebra.firstSlice - 0.5), panelY(vertebra.lastSlice + 0.5)) + panelTop;
        const double y1 = std::max(panelY(vertebra.firstSlice - 0.5), panelY(vertebra.lastSlice + 0.5)) + panelTop;
        if (vertebra.assessable)
        {
          const double alpha = vertebra.boneQuality == BoneQuality::Normal ? TINT_NORMAL : TINT_FINDING;
          canvas.fillRect(std::lround(x0), std::lround(y0), std::lround(x1), std::lround(y1), colour, alpha);
        }
        else
        {
          hatchRect(canvas, std::lround(x0), std::lround(y0), std::lround(x1), std::lround(y1), colour);
        }
        canvas.strokeRect(std::lround(x0), std::lround(y0), std::lround(x1), std::lround(y1), colour, 2);
        overlay.marks.push_back({static_cast<int>(i), static_cast<size_t>(std::lround((x0 + x1) / 2)),
                                 static_cast<size_t>(std::lround((y0 + y1) / 2))});

        const double labelCentre = labelY[i] + panelTop;
        canvas.line(x1, (y0 + y1) / 2, labelLeft - 4.0, labelCentre, colour, 1.5);
        if (vertebra.assessable)
        {
          canvas.fillRect(labelLeft, std::lround(labelCentre) - 15, labelLeft + 14, std::lround(labelCentre) - 1, colour);
        }
        else
        {
          hatchRect(canvas, labelLeft, std::lround(labelCentre) - 15, labelLeft + 14, std::lround(labelCentre) - 1, colour);
          canvas.strokeRect(labelLeft, std::lround(labelCentre) - 15, labelLeft + 14, std::lround(labelCentre) - 1, colour, 1);
        }
        const int textLeft = static_cast<int>(labelLeft) + 22;
        const int textWidth = labelColumnWidth - 22;
        if (vertebra.assessable)
        {
          std::string title = vertebra.displayName + "   " + toString(vertebra.boneQuality) + "  (p = " +
                              percent(vertebra.boneQualityProbability) + ")";
          bold.draw(canvas, textLeft, static_cast<int>(labelCentre) - 1, title, labelSize, TEXT);
          regular.draw(canvas, textLeft, static_cast<int>(labelCentre) + 16,
                       std::string("posterolateral: ") + toString(vertebra.posterolateral), detailSize, DIM_TEXT);
        }
        else
        {
          // "T12 not assessable:" over its reasons: the label never shows a class or probability.
          drawFitted(canvas, bold, textLeft, static_cast<int>(labelCentre) - 1, textWidth,
                     vertebra.displayName + " not assessable:", labelSize, DIM_TEXT);
          drawFitted(canvas, regular, textLeft, static_cast<int>(labelCentre) + 16, textWidth,
                     reasonsInWords(vertebra.notAssessableBecause), detailSize, DIM_TEXT);
        }
      }

      // Legend.
      long legendTop = panelTop + static_cast<long>(std::max<double>(panelHeight - legendHeight, labelsBottom + 16));
      bold.draw(canvas, static_cast<int>(labelLeft), static_cast<int>(legendTop) + 16, "Bone quality (AI)", 15, TEXT);
      long y = legendTop + 30;
      for (BoneQuality value : {BoneQuality::Normal, BoneQuality::Blastic, BoneQuality::Lytic, BoneQuality::Mixed})
      {
        const Rgb colour = boneQualityColour(value);
        canvas.fillRect(labelLeft, y, labelLeft + 28, y + 16, colour, value == BoneQuality::Normal ? TINT_NORMAL : TINT_FINDING);
        canvas.strokeRect(labelLeft, y, labelLeft + 28, y + 16, colour, 2);
        regular.draw(canvas, static_cast<int>(labelLeft) + 38, static_cast<int>(y) + 13, toString(value), 14, TEXT);
        y += 24;
      }
      hatchRect(canvas, labelLeft, y, labelLeft + 28, y + 16, NOT_ASSESSABLE_COLOUR);
      canvas.strokeRect(labelLeft, y, labelLeft + 28, y + 16, NOT_ASSESSABLE_COLOUR, 2);
      regular.draw(canvas, static_cast<int>(labelLeft) + 38, static_cast<int>(y) + 13, "not assessable (no finding)", 14, TEXT);

      const int footerY = static_cast<int>(height) - 30;
      regular.draw(canvas, MARGIN, footerY, "Curved sagittal reformat along the spine, bone window " +
                   std::to_string(options.windowCentre) + "/" + std::to_string(options.windowWidth) + " HU", 13, DIM_TEXT);
      regular.draw(canvas, MARGIN, footerY + 18, modelLine(result), 13, DIM_TEXT);

      SecondaryCaptureHeader header = baseHeader;
      header.patientOrientation = std::string(rowsPosterior ? "P" : "A") + "\\F";
      header.derivationDescription = "SpineMet AI overlay: curved sagittal reformat of the source series along the "
                                     "spine's midline, vertebrae tinted by predicted bone quality";
      size_t first = result.vertebrae.front().firstSlice;
      size_t last = result.vertebrae.front().lastSlice;
      for (const auto& vertebra : result.vertebrae)
      {
        first = std::min(first, vertebra.firstSlice);
        last = std::max(last, vertebra.lastSlice);
      }
      for (size_t s = first; s <= last; ++s)
      {
        header.sources.push_back(&series.slices[s]);
      }
      overlay.width = canvas.width();
      overlay.height = canvas.height();
      overlay.bannerHeight = BANNER_HEIGHT;
      overlay.dicom = writeSecondaryCapture(canvas, result, series, header);
      return overlay;
    }

    Overlay keySlice(const AnalysisResult& result, const Series& series, size_t vertebraIndex, const OverlayOptions& options,
                     TextRenderer& regular, TextRenderer& bold, const SecondaryCaptureHeader& baseHeader)
    {
      const VertebraResult& vertebra = result.vertebrae[vertebraIndex];
      const Volume& volume = series.volume;
      const VolumeGeometry& g = volume.geometry();
      const Box box = outlineBox(vertebra);

      // A square field of view around the vertebra, shifted back to take in the posterior
      // elements that the posterolateral finding is about, enlarged to IMAGE_SIZE pixels.
      const double fieldMm = 160;
      const double posteriorShiftMm = g.columnDirection[1] >= 0 ? 25 : -25;
      const double fieldColumns = std::min<double>(fieldMm / g.columnSpacing, volume.columns());
      const double fieldRows = std::min<double>(fieldMm / g.rowSpacing, volume.rows());
      const double left = std::clamp(box.meanColumn + 0.5 - fieldColumns / 2, 0.0, volume.columns() - fieldColumns);
      const double top = std::clamp(box.meanRow + 0.5 + posteriorShiftMm / g.rowSpacing - fieldRows / 2, 0.0,
                                    volume.rows() - fieldRows);
      const size_t imageWidth = IMAGE_SIZE;
      const double scaleX = imageWidth / fieldColumns;                 // image pixels per volume column
      const double scaleY = scaleX * g.rowSpacing / g.columnSpacing;
      const size_t imageHeight = static_cast<size_t>(std::lround(fieldRows * scaleY));
      auto toImage = [&](double column, double row) {
        return std::array<double, 2>{(column + 0.5 - left) * scaleX - 0.5, (row + 0.5 - top) * scaleY - 0.5 + BANNER_HEIGHT};
      };
      const int infoHeight = 112;

      const Window window(options.windowCentre, options.windowWidth);
      std::vector<uint8_t> grey(imageWidth * imageHeight);
      for (size_t y = 0; y < imageHeight; ++y)
      {
        const double row = top + (y + 0.5) / scaleY - 0.5;
        for (size_t x = 0; x < imageWidth; ++x)
        {
          const double column = left + (x + 0.5) / scaleX - 0.5;
          grey[y * imageWidth + x] = window(trilinear(volume, column, row, static_cast<double>(vertebra.keySlice)));
        }
      }

      Canvas canvas(imageWidth, BANNER_HEIGHT + imageHeight + infoHeight, BACKGROUND);
      canvas.drawGrey(0, BANNER_HEIGHT, imageWidth, imageHeight, grey);
      drawBanner(canvas, bold, regular, result);

      std::vector<std::array<double, 2>> outline;
      for (const auto& point : vertebra.keySliceOutline)
      {
        outline.push_back(toImage(point[0], point[1]));
      }
      const Rgb colour = boneQualityColour(vertebra.boneQuality);
      canvas.fillPolygon(outline, colour, vertebra.boneQuality == BoneQuality::Normal ? TINT_NORMAL : TINT_FINDING);
      canvas.strokePolygon(outline, colour, 2.5);

      const double centreX = toImage(box.meanColumn, box.meanRow)[0];
      const double centreY = toImage(box.meanColumn, box.meanRow)[1];
      Overlay overlay;
      overlay.kind = Overlay::Kind::KeySlice;
      overlay.vertebra = static_cast<int>(vertebraIndex);
      overlay.marks.push_back({static_cast<int>(vertebraIndex), static_cast<size_t>(std::lround(centreX)),
                               static_cast<size_t>(std::lround(centreY))});

      // The label above the outline, and the patient's sides.
      const std::string tag = vertebra.displayName + " " + toString(vertebra.boneQuality);
      const double tagTop = std::max(toImage(box.meanColumn, box.minRow)[1] - 10, BANNER_HEIGHT + 24.0);
      const int tagWidth = bold.measure(tag, 16);
      const int tagX = static_cast<int>(std::clamp(centreX - tagWidth / 2.0, 4.0, static_cast<double>(imageWidth - tagWidth - 4)));
      canvas.fillRect(tagX - 4, std::lround(tagTop) - 18, tagX + tagWidth + 4, std::lround(tagTop) + 5, {0, 0, 0}, 0.6);
      bold.draw(canvas, tagX, static_cast<int>(std::lround(tagTop)), tag, 16, colour);
      const bool leftOnRight = g.rowDirection[0] >= 0;
      const int sideY = BANNER_HEIGHT + static_cast<int>(imageHeight / 2);
      regular.draw(canvas, 8, sideY, leftOnRight ? "R" : "L", 16, DIM_TEXT);
      regular.draw(canvas, static_cast<int>(imageWidth) - 20, sideY, leftOnRight ? "L" : "R", 16, DIM_TEXT);

      const int infoTop = BANNER_HEIGHT + static_cast<int>(imageHeight);
      const int textLeft = MARGIN + 24;
      const int textWidth = static_cast<int>(imageWidth) - textLeft - MARGIN;
      canvas.fillRect(MARGIN, infoTop + 12, MARGIN + 16, infoTop + 28, colour);
      drawFitted(canvas, bold, textLeft, infoTop + 27, textWidth,
                 vertebra.displayName + ": " + toString(vertebra.boneQuality) + "   p = " + percent(vertebra.boneQualityProbability), 18, TEXT);
      drawFitted(canvas, regular, textLeft, infoTop + 50, textWidth,
                 std::string("Posterolateral involvement: ") + toString(vertebra.posterolateral) + "   p = " +
                     percent(vertebra.posterolateralProbability), 15, TEXT);
      drawFitted(canvas, regular, textLeft, infoTop + 70, textWidth,
                 "SINS components: bone lesion " + std::to_string(vertebra.sinsBoneLesion) + ", posterolateral " +
                     std::to_string(vertebra.sinsPosterolateral), 13, DIM_TEXT);
      drawFitted(canvas, regular, textLeft, infoTop + 86, textWidth,
                 "(two partial SINS components, not the SINS total)", 13, DIM_TEXT);
      drawFitted(canvas, regular, textLeft, infoTop + 104, textWidth, modelLine(result), 12, DIM_TEXT);

      SecondaryCaptureHeader header = baseHeader;
      header.patientOrientation = std::string(g.rowDirection[0] >= 0 ? "L" : "R") + "\\" + (g.columnDirection[1] >= 0 ? "P" : "A");
      header.derivationDescription = "SpineMet AI overlay: key axial slice of " + vertebra.displayName +
                                     ", vertebral body outlined and tinted by predicted bone quality";
      header.sources.push_back(&series.slices[vertebra.keySlice]);
      overlay.width = canvas.width();
      overlay.height = canvas.height();
      overlay.bannerHeight = BANNER_HEIGHT;
      overlay.dicom = writeSecondaryCapture(canvas, result, series, header);
      return overlay;
    }
  }

  std::vector<Overlay> makeOverlays(const AnalysisResult& result, const Series& series, const OverlayOptions& options)
  {
    if (result.vertebrae.empty())
    {
      throw AnalysisError("dicom-write", "overlays: the result has no vertebra to show");
    }
    checkInputs(result, series);
    TextRenderer regular(options.fontPath, false);
    TextRenderer bold(options.fontPath, true);

    SecondaryCaptureHeader header;
    header.seriesInstanceUid = options.seriesInstanceUid.empty() ? newUid() : options.seriesInstanceUid;
    header.seriesNumber = options.seriesNumber != 0 ? options.seriesNumber : 9902;

    std::vector<Overlay> overlays;
    header.instanceNumber = 1;
    overlays.push_back(sagittalOverview(result, series, options, regular, bold, header));
    for (size_t i = 0; i < result.vertebrae.size(); ++i)
    {
      if (hasFinding(result.vertebrae[i]))
      {
        header.instanceNumber = static_cast<int>(overlays.size()) + 1;
        overlays.push_back(keySlice(result, series, i, options, regular, bold, header));
      }
    }
    return overlays;
  }
}
