// SPDX-License-Identifier: GPL-3.0-or-later
#include "Canvas.h"

#include "common/AnalysisError.h"

#include <ft2build.h>
#include FT_FREETYPE_H

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>

namespace spinemet
{
  Canvas::Canvas(size_t width, size_t height, Rgb background) :
    width_(width),
    height_(height),
    pixels_(width * height * 3)
  {
    for (size_t i = 0; i < width * height; ++i)
    {
      std::copy(background.begin(), background.end(), pixels_.begin() + static_cast<long>(i * 3));
    }
  }

  Rgb Canvas::at(size_t x, size_t y) const
  {
    const size_t offset = (y * width_ + x) * 3;
    return {pixels_[offset], pixels_[offset + 1], pixels_[offset + 2]};
  }

  void Canvas::set(long x, long y, Rgb colour)
  {
    if (x < 0 || y < 0 || x >= static_cast<long>(width_) || y >= static_cast<long>(height_))
    {
      return;
    }
    const size_t offset = (static_cast<size_t>(y) * width_ + static_cast<size_t>(x)) * 3;
    std::copy(colour.begin(), colour.end(), pixels_.begin() + static_cast<long>(offset));
  }

  void Canvas::blend(long x, long y, Rgb colour, double alpha)
  {
    if (x < 0 || y < 0 || x >= static_cast<long>(width_) || y >= static_cast<long>(height_) || alpha <= 0)
    {
      return;
    }
    alpha = std::min(alpha, 1.0);
    const size_t offset = (static_cast<size_t>(y) * width_ + static_cast<size_t>(x)) * 3;
    for (size_t c = 0; c < 3; ++c)
    {
      const double mixed = (1 - alpha) * pixels_[offset + c] + alpha * colour[c];
      pixels_[offset + c] = static_cast<uint8_t>(std::lround(std::clamp(mixed, 0.0, 255.0)));
    }
  }

  void Canvas::fillRect(long x0, long y0, long x1, long y1, Rgb colour, double alpha)
  {
    for (long y = std::max(0L, y0); y < std::min(static_cast<long>(height_), y1); ++y)
    {
      for (long x = std::max(0L, x0); x < std::min(static_cast<long>(width_), x1); ++x)
      {
        blend(x, y, colour, alpha);
      }
    }
  }

  void Canvas::strokeRect(long x0, long y0, long x1, long y1, Rgb colour, int thickness)
  {
    fillRect(x0, y0, x1, y0 + thickness, colour);
    fillRect(x0, y1 - thickness, x1, y1, colour);
    fillRect(x0, y0, x0 + thickness, y1, colour);
    fillRect(x1 - thickness, y0, x1, y1, colour);
  }

  void Canvas::line(double x0, double y0, double x1, double y1, Rgb colour, double thickness)
  {
    // Coverage of a capsule around the segment, anti-aliased over one pixel.
    const double radius = thickness / 2;
    const long minX = static_cast<long>(std::floor(std::min(x0, x1) - radius - 1));
    const long maxX = static_cast<long>(std::ceil(std::max(x0, x1) + radius + 1));
    const long minY = static_cast<long>(std::floor(std::min(y0, y1) - radius - 1));
    const long maxY = static_cast<long>(std::ceil(std::max(y0, y1) + radius + 1));
    const double dx = x1 - x0;
    const double dy = y1 - y0;
    const double length2 = dx * dx + dy * dy;
    for (long y = minY; y <= maxY; ++y)
    {
      for (long x = minX; x <= maxX; ++x)
      {
        double t = length2 > 0 ? ((x - x0) * dx + (y - y0) * dy) / length2 : 0;
        t = std::clamp(t, 0.0, 1.0);
        const double px = x0 + t * dx - x;
        const double py = y0 + t * dy - y;
        const double distance = std::sqrt(px * px + py * py);
        blend(x, y, colour, std::clamp(radius + 0.5 - distance, 0.0, 1.0));
      }
    }
  }

  void Canvas::fillPolygon(const std::vector<std::array<double, 2>>& points, Rgb colour, double alpha)
  {
    if (points.size() < 3)
    {
      return;
    }
    double minY = points[0][1];
    double maxY = points[0][1];
    for (const auto& p : points)
    {
      minY = std::min(minY, p[1]);
      maxY = std::max(maxY, p[1]);
    }
    // Scanline with the even-odd rule, sampling at pixel centres.
    for (long y = static_cast<long>(std::ceil(minY)); y <= static_cast<long>(std::floor(maxY)); ++y)
    {
      std::vector<double> crossings;
      for (size_t i = 0; i < points.size(); ++i)
      {
        const auto& a = points[i];
        const auto& b = points[(i + 1) % points.size()];
        if ((a[1] <= y && b[1] > y) || (b[1] <= y && a[1] > y))
        {
          crossings.push_back(a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]));
        }
      }
      std::sort(crossings.begin(), crossings.end());
      for (size_t i = 0; i + 1 < crossings.size(); i += 2)
      {
        for (long x = static_cast<long>(std::ceil(crossings[i])); x <= static_cast<long>(std::floor(crossings[i + 1])); ++x)
        {
          blend(x, y, colour, alpha);
        }
      }
    }
  }

  void Canvas::strokePolygon(const std::vector<std::array<double, 2>>& points, Rgb colour, double thickness)
  {
    for (size_t i = 0; i < points.size(); ++i)
    {
      const auto& a = points[i];
      const auto& b = points[(i + 1) % points.size()];
      line(a[0], a[1], b[0], b[1], colour, thickness);
    }
  }

  void Canvas::drawGrey(long x, long y, size_t width, size_t height, const std::vector<uint8_t>& grey)
  {
    for (size_t row = 0; row < height; ++row)
    {
      for (size_t column = 0; column < width; ++column)
      {
        const uint8_t value = grey[row * width + column];
        set(x + static_cast<long>(column), y + static_cast<long>(row), {value, value, value});
      }
    }
  }

  // ---------------------------------------------------------------------------------------------

  struct TextRenderer::Library
  {
    FT_Library library = nullptr;
    FT_Face face = nullptr;

    ~Library()
    {
      if (face != nullptr)
      {
        FT_Done_Face(face);
      }
      if (library != nullptr)
      {
        FT_Done_FreeType(library);
      }
    }
  };

  std::string TextRenderer::findFont(bool bold)
  {
    if (const char* configured = std::getenv("SPINEMET_FONT"))
    {
      if (*configured != '\0')
      {
        return configured;
      }
    }
    const std::string file = bold ? "DejaVuSans-Bold.ttf" : "DejaVuSans.ttf";
    // Debian/Ubuntu (fonts-dejavu-core), Fedora, Arch, openSUSE.
    for (const std::string folder : {"/usr/share/fonts/truetype/dejavu/", "/usr/share/fonts/dejavu-sans-fonts/",
                                     "/usr/share/fonts/dejavu/", "/usr/share/fonts/TTF/", "/usr/share/fonts/truetype/"})
    {
      const std::string path = folder + file;
      if (std::ifstream(path).good())
      {
        return path;
      }
    }
    throw AnalysisError("font-missing", "no " + file + " found for the overlay text: install Debian's fonts-dejavu-core "
                                        "or set SPINEMET_FONT to a TrueType font file");
  }

  TextRenderer::TextRenderer(const std::string& fontPath, bool bold) :
    library_(new Library),
    path_(fontPath.empty() ? findFont(bold) : fontPath)
  {
    if (FT_Init_FreeType(&library_->library) != 0)
    {
      throw AnalysisError("font-missing", "FreeType cannot start");
    }
    if (FT_New_Face(library_->library, path_.c_str(), 0, &library_->face) != 0)
    {
      throw AnalysisError("font-missing", "FreeType cannot read the font " + path_);
    }
  }

  TextRenderer::~TextRenderer() = default;

  int TextRenderer::measure(const std::string& text, int pixelSize)
  {
    FT_Set_Pixel_Sizes(library_->face, 0, static_cast<FT_UInt>(pixelSize));
    long width = 0;
    for (unsigned char c : text)
    {
      if (FT_Load_Char(library_->face, c, FT_LOAD_DEFAULT) == 0)
      {
        width += library_->face->glyph->advance.x;
      }
    }
    return static_cast<int>((width + 63) / 64);
  }

  int TextRenderer::draw(Canvas& canvas, int x, int baselineY, const std::string& text, int pixelSize, Rgb colour)
  {
    FT_Face face = library_->face;
    FT_Set_Pixel_Sizes(face, 0, static_cast<FT_UInt>(pixelSize));
    long penX = static_cast<long>(x) * 64;
    for (unsigned char c : text)
    {
      if (FT_Load_Char(face, c, FT_LOAD_RENDER) != 0)
      {
        continue;
      }
      const FT_GlyphSlot glyph = face->glyph;
      const FT_Bitmap& bitmap = glyph->bitmap;
      const long left = penX / 64 + glyph->bitmap_left;
      const long top = baselineY - glyph->bitmap_top;
      for (unsigned row = 0; row < bitmap.rows; ++row)
      {
        for (unsigned column = 0; column < bitmap.width; ++column)
        {
          const uint8_t coverage = bitmap.buffer[row * static_cast<unsigned>(std::abs(bitmap.pitch)) + column];
          canvas.blend(left + column, top + row, colour, coverage / 255.0);
        }
      }
      penX += glyph->advance.x;
    }
    return static_cast<int>(penX / 64);
  }
}
