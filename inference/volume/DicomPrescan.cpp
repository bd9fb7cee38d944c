// SPDX-License-Identifier: GPL-3.0-or-later
#include "volume/DicomPrescan.h"

#include "common/AnalysisError.h"

#include <dcmtk/dcmdata/dctag.h>

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <vector>

namespace spinemet
{
  namespace
  {
    constexpr uint32_t UNDEFINED_LENGTH = 0xFFFFFFFFu;

    struct Syntax
    {
      bool implicit = false;
      bool little = true;
    };

    enum class Container
    {
      Sequence,         // its items hold elements
      Item,
      PixelSequence,    // encapsulated pixel data: its items hold bytes, skipped whole
    };

    struct Open
    {
      Container kind;
      size_t end;       // offset just past it; SIZE_MAX while its length is undefined
      bool implicit;    // how the elements inside it are encoded
    };

    std::string hexTag(uint16_t group, uint16_t element)
    {
      char text[16];
      std::snprintf(text, sizeof(text), "(%04X,%04X)", group, element);
      return text;
    }

    bool isLongVr(const char* vr)
    {
      static const char* const longVrs[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"};
      for (const char* candidate : longVrs)
      {
        if (std::memcmp(vr, candidate, 2) == 0)
        {
          return true;
        }
      }
      return false;
    }

    bool looksLikeVr(const char* vr)
    {
      return vr[0] >= 'A' && vr[0] <= 'Z' && vr[1] >= 'A' && vr[1] <= 'Z';
    }

    class Walker
    {
    public:
      Walker(const uint8_t* data, size_t size, const std::string& name, const PrescanLimits& limits) :
        data_(data), size_(size), name_(name), limits_(limits)
      {
      }

      uint16_t u16(size_t at, bool little) const
      {
        return little ? static_cast<uint16_t>(data_[at] | data_[at + 1] << 8)
                      : static_cast<uint16_t>(data_[at] << 8 | data_[at + 1]);
      }

      uint32_t u32(size_t at, bool little) const
      {
        const uint32_t a = data_[at], b = data_[at + 1], c = data_[at + 2], d = data_[at + 3];
        return little ? (a | b << 8 | c << 16 | d << 24) : (a << 24 | b << 16 | c << 8 | d);
      }

      // Walks the elements from `position` to the end. Returns quietly where it loses its way.
      void walk(size_t position, Syntax syntax)
      {
        std::vector<Open> open;
        size_t sequences = 0;
        while (true)
        {
          while (!open.empty() && open.back().end != SIZE_MAX && position >= open.back().end)
          {
            sequences -= open.back().kind == Container::Sequence ? 1 : 0;
            open.pop_back();
          }
          if (position + 8 > size_)
          {
            return;     // the end, or a truncated tail DCMTK reports
          }
          const bool implicit = open.empty() ? syntax.implicit : open.back().implicit;
          const uint16_t group = u16(position, syntax.little);
          const uint16_t element = u16(position + 2, syntax.little);
          if (group == 0xFFFE)
          {
            const uint32_t length = u32(position + 4, syntax.little);
            position += 8;
            if (element == 0xE000)
            {
              if (open.empty() || open.back().kind == Container::Item)
              {
                return;
              }
              if (open.back().kind == Container::PixelSequence)
              {
                if (length == UNDEFINED_LENGTH)
                {
                  return;
                }
                checkLength(length, position, group, element);
                position += length;
                continue;
              }
              if (length != UNDEFINED_LENGTH)
              {
                checkLength(length, position, group, element);
              }
              open.push_back({Container::Item, length == UNDEFINED_LENGTH ? SIZE_MAX : position + length, implicit});
            }
            else if (element == 0xE00D)
            {
              if (open.empty() || open.back().kind != Container::Item || open.back().end != SIZE_MAX)
              {
                return;
              }
              open.pop_back();
            }
            else if (element == 0xE0DD)
            {
              if (open.empty() || open.back().kind == Container::Item || open.back().end != SIZE_MAX)
              {
                return;
              }
              sequences -= open.back().kind == Container::Sequence ? 1 : 0;
              open.pop_back();
            }
            else
            {
              return;
            }
            continue;
          }
          if (!open.empty() && open.back().kind != Container::Item)
          {
            return;     // a sequence holds items only
          }

          uint32_t length = 0;
          size_t header = 8;
          bool isSequence = false;
          bool unknownContent = false;
          if (implicit)
          {
            length = u32(position + 4, syntax.little);
            isSequence = DcmTag(DcmTagKey(group, element)).getEVR() == EVR_SQ;
            unknownContent = length == UNDEFINED_LENGTH;
          }
          else
          {
            const char* vr = reinterpret_cast<const char*>(data_ + position + 4);
            if (!looksLikeVr(vr))
            {
              return;
            }
            if (isLongVr(vr))
            {
              if (position + 12 > size_)
              {
                return;
              }
              length = u32(position + 8, syntax.little);
              header = 12;
            }
            else
            {
              length = u16(position + 6, syntax.little);
            }
            isSequence = std::memcmp(vr, "SQ", 2) == 0;
            unknownContent = std::memcmp(vr, "UN", 2) == 0 && length == UNDEFINED_LENGTH;
          }
          position += header;

          const bool pixelData = group == 0x7FE0 && element == 0x0010 && open.empty();
          if (length == UNDEFINED_LENGTH)
          {
            if (pixelData)
            {
              open.push_back({Container::PixelSequence, SIZE_MAX, implicit});
              continue;
            }
            if (!isSequence && !unknownContent)
            {
              return;     // an undefined length on a value: DCMTK reports it
            }
            // A UN of undefined length is a sequence in implicit VR (CP-246), as DCMTK reads it.
            open.push_back({Container::Sequence, SIZE_MAX, implicit || unknownContent});
            enter(++sequences);
            continue;
          }
          checkLength(length, position, group, element);
          if (isSequence)
          {
            open.push_back({Container::Sequence, position + length, implicit});
            enter(++sequences);
            continue;
          }
          position += length;
        }
      }

    private:
      void checkLength(uint32_t length, size_t position, uint16_t group, uint16_t element) const
      {
        if (length > size_ - position)
        {
          throw AnalysisError("unreadable-file",
                              name_ + " is not a readable DICOM file: element " + hexTag(group, element) +
                              " declares " + std::to_string(length) + " bytes where the file has " +
                              std::to_string(size_ - position) + " left (truncated, or a length that lies)");
        }
      }

      void enter(size_t depth) const
      {
        if (depth > limits_.maximumSequenceDepth)
        {
          throw AnalysisError("nesting-too-deep",
                              name_ + " nests sequences more than " + std::to_string(limits_.maximumSequenceDepth) +
                              " deep; no image object does, and reading it could exhaust the stack");
        }
      }

      const uint8_t* data_;
      size_t size_;
      const std::string& name_;
      const PrescanLimits& limits_;
    };

    // Inflates a raw deflate stream into `sink(bytes, count)`; returns the inflated size, or
    // SIZE_MAX when the stream is corrupt (DCMTK then reports it). Stops past `limit` bytes.
    template <typename Sink>
    size_t inflateInto(const uint8_t* data, size_t size, size_t limit, Sink sink)
    {
      z_stream stream{};
      if (inflateInit2(&stream, -MAX_WBITS) != Z_OK)
      {
        return SIZE_MAX;
      }
      std::vector<uint8_t> chunk(1 << 16);
      stream.next_in = const_cast<uint8_t*>(data);
      stream.avail_in = static_cast<uInt>(std::min<size_t>(size, 0xFFFFFFFFu));
      size_t total = 0;
      while (true)
      {
        stream.next_out = chunk.data();
        stream.avail_out = static_cast<uInt>(chunk.size());
        const int status = inflate(&stream, Z_NO_FLUSH);
        if (status != Z_OK && status != Z_STREAM_END)
        {
          total = SIZE_MAX;
          break;
        }
        const size_t count = chunk.size() - stream.avail_out;
        total += count;
        if (total > limit)
        {
          break;
        }
        sink(chunk.data(), count);
        if (status == Z_STREAM_END || (stream.avail_in == 0 && stream.avail_out != 0))
        {
          break;
        }
      }
      inflateEnd(&stream);
      return total;
    }

    // The dataset of a Deflated Explicit VR Little Endian file, inflated, within `limit` bytes
    // (0: no limit). Measured first without keeping it, so that a bomb is refused having used
    // no more than a chunk, and a dataset within the limit is inflated once into its exact size.
    std::string inflateDataset(const uint8_t* data, size_t size, size_t limit, const std::string& name)
    {
      const size_t bound = limit > 0 ? limit : SIZE_MAX - 1;
      const size_t inflatedSize = inflateInto(data, size, bound, [](const uint8_t*, size_t) {});
      if (inflatedSize == SIZE_MAX)
      {
        return {};
      }
      if (inflatedSize > bound)
      {
        throw AnalysisError("memory-budget", name + ": its deflated dataset inflates beyond " +
                                             std::to_string(limit >> 20) + " MiB, the memory budget");
      }
      std::string inflated;
      inflated.reserve(inflatedSize);
      inflateInto(data, size, bound, [&](const uint8_t* bytes, size_t count) {
        inflated.append(reinterpret_cast<const char*>(bytes), count);
      });
      return inflated;
    }
  }

  void prescanDicom(const std::string& bytes, const std::string& name, const PrescanLimits& limits)
  {
    const uint8_t* data = reinterpret_cast<const uint8_t*>(bytes.data());
    const size_t size = bytes.size();
    size_t position = 0;
    if (size >= 132 && std::memcmp(data + 128, "DICM", 4) == 0)
    {
      position = 132;
    }
    Walker walker(data, size, name, limits);

    // The meta group: explicit VR little endian, whatever the dataset is in.
    std::string transferSyntax;
    bool hasMeta = false;
    while (position + 8 <= size && walker.u16(position, true) == 0x0002)
    {
      hasMeta = true;
      const char* vr = reinterpret_cast<const char*>(data + position + 4);
      if (!looksLikeVr(vr))
      {
        return;
      }
      size_t header = 8;
      uint32_t length = walker.u16(position + 6, true);
      if (isLongVr(vr))
      {
        if (position + 12 > size)
        {
          return;
        }
        length = walker.u32(position + 8, true);
        header = 12;
      }
      if (length == UNDEFINED_LENGTH || length > size - position - header)
      {
        return;     // DCMTK reports a broken meta group
      }
      if (walker.u16(position + 2, true) == 0x0010)
      {
        transferSyntax.assign(reinterpret_cast<const char*>(data + position + header), length);
        while (!transferSyntax.empty() && (transferSyntax.back() == '\0' || transferSyntax.back() == ' '))
        {
          transferSyntax.pop_back();
        }
      }
      position += header + length;
    }

    Syntax syntax;
    if (!hasMeta)
    {
      // DCMTK guesses a bare dataset's encoding the same way: a VR after the first tag is explicit.
      syntax.implicit = !(position + 6 <= size && looksLikeVr(reinterpret_cast<const char*>(data + position + 4)));
    }
    else if (transferSyntax == "1.2.840.10008.1.2")
    {
      syntax.implicit = true;
    }
    else if (transferSyntax == "1.2.840.10008.1.2.2")
    {
      syntax.little = false;
    }
    else if (transferSyntax == "1.2.840.10008.1.2.1.99")
    {
      const std::string inflated = inflateDataset(data + position, size - position, limits.maximumInflatedBytes, name);
      if (!inflated.empty())
      {
        Walker(reinterpret_cast<const uint8_t*>(inflated.data()), inflated.size(), name, limits).walk(0, syntax);
      }
      return;
    }
    walker.walk(position, syntax);
  }
}
