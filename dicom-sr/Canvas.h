// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// An 8-bit RGB raster with the few drawing operations the overlays need, and text through
// FreeType (internal to spinemet_dicom_sr: FreeType stays out of the public headers).

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace spinemet
{
  using Rgb = std::array<uint8_t, 3>;

  class Canvas
  {
  public:
    Canvas(size_t width, size_t height, Rgb background);

    size_t width() const { return width_; }
    size_t height() const { return height_; }
    const std::vector<uint8_t>& pixels() const { return pixels_; }   // RGB, row-major

    Rgb at(size_t x, size_t y) const;
    void set(long x, long y, Rgb colour);                    // clipped
    void blend(long x, long y, Rgb colour, double alpha);    // clipped; alpha 1 = opaque

    void fillRect(long x0, long y0, long x1, long y1, Rgb colour, double alpha = 1);  // [x0, x1) x [y0, y1)
    void strokeRect(long x0, long y0, long x1, long y1, Rgb colour, int thickness);
    void line(double x0, double y0, double x1, double y1, Rgb colour, double thickness);
    // Closed polygon through `points` (x, y in canvas pixels, pixel centres at integers).
    void fillPolygon(const std::vector<std::array<double, 2>>& points, Rgb colour, double alpha);
    void strokePolygon(const std::vector<std::array<double, 2>>& points, Rgb colour, double thickness);

    // Copies a grey image (0-255, row-major) at (x, y).
    void drawGrey(long x, long y, size_t width, size_t height, const std::vector<uint8_t>& grey);

  private:
    size_t width_;
    size_t height_;
    std::vector<uint8_t> pixels_;
  };

  // Text in a TrueType font through FreeType.
  class TextRenderer
  {
  public:
    // The font file: `fontPath` when given, else $SPINEMET_FONT, else DejaVu Sans (Debian
    // fonts-dejavu-core) where distributions install it. Throws AnalysisError("font-missing").
    explicit TextRenderer(const std::string& fontPath = "", bool bold = false);
    ~TextRenderer();
    TextRenderer(const TextRenderer&) = delete;
    TextRenderer& operator=(const TextRenderer&) = delete;

    const std::string& fontPath() const { return path_; }

    // Width in pixels of `text` at `pixelSize`.
    int measure(const std::string& text, int pixelSize);
    // Draws `text` with its baseline at y; returns the x after the last glyph.
    int draw(Canvas& canvas, int x, int baselineY, const std::string& text, int pixelSize, Rgb colour);

    static std::string findFont(bool bold);

  private:
    struct Library;
    std::unique_ptr<Library> library_;
    std::string path_;
  };
}
