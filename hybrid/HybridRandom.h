// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// Internal to the hybrid library: deterministic random numbers, hashes, UIDs and a smooth random
// field, the same on every platform (std:: distributions are not).

#include <cmath>
#include <cstdint>
#include <string>

namespace spinemet
{
  namespace hybrid_detail
  {
    inline uint64_t mix64(uint64_t z)
    {
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      return z ^ (z >> 31);
    }

    // splitmix64
    class Random
    {
    public:
      explicit Random(uint64_t seed) : state_(seed) {}
      uint64_t next() { return mix64(state_ += 0x9E3779B97F4A7C15ull); }
      double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
      double uniform(double low, double high) { return low + (high - low) * uniform(); }
      bool chance(double probability) { return uniform() < probability; }
      size_t index(size_t count) { return static_cast<size_t>(uniform() * static_cast<double>(count)); }

    private:
      uint64_t state_;
    };

    // FNV-1a over the text, then mixed with the salt.
    inline uint64_t hashText(const std::string& text, uint64_t salt)
    {
      uint64_t h = 0xCBF29CE484222325ull ^ mix64(salt);
      for (unsigned char c : text)
      {
        h = (h ^ c) * 0x100000001B3ull;
      }
      return mix64(h);
    }

    // "2.25." + the decimal form of a 128-bit number drawn from the text (RFC 9562 version 8
    // layout: version and variant bits set), as the phantom makes its UIDs.
    inline std::string uidFromText(const std::string& text)
    {
      uint64_t high = hashText(text, 0x5350494E454D4554ull);
      uint64_t low = hashText(text, 0x4859425249440000ull);
      high = (high & ~0xF000ull) | 0x8000ull;                       // version 8
      low = (low & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;  // variant 10
      unsigned __int128 value = (static_cast<unsigned __int128>(high) << 64) | low;
      std::string digits;
      while (value > 0)
      {
        digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(value % 10)));
        value /= 10;
      }
      return "2.25." + digits;
    }

    // Value noise in [-1, 1] on a lattice of unit spacing, smoothly interpolated: a random field
    // that is smooth at the lattice scale. Callers scale coordinates to set the feature size.
    class SmoothField
    {
    public:
      explicit SmoothField(uint64_t seed) : seed_(seed) {}

      double at(double x, double y, double z) const
      {
        const double fx = std::floor(x), fy = std::floor(y), fz = std::floor(z);
        const double tx = fade(x - fx), ty = fade(y - fy), tz = fade(z - fz);
        const int64_t ix = static_cast<int64_t>(fx), iy = static_cast<int64_t>(fy), iz = static_cast<int64_t>(fz);
        double result = 0;
        for (int dz = 0; dz < 2; ++dz)
        {
          for (int dy = 0; dy < 2; ++dy)
          {
            for (int dx = 0; dx < 2; ++dx)
            {
              const double w = (dx ? tx : 1 - tx) * (dy ? ty : 1 - ty) * (dz ? tz : 1 - tz);
              result += w * lattice(ix + dx, iy + dy, iz + dz);
            }
          }
        }
        return result;
      }

    private:
      static double fade(double t) { return t * t * (3 - 2 * t); }

      double lattice(int64_t x, int64_t y, int64_t z) const
      {
        uint64_t h = mix64(seed_ ^ mix64(static_cast<uint64_t>(x) * 0x9E3779B97F4A7C15ull));
        h = mix64(h ^ static_cast<uint64_t>(y) * 0xC2B2AE3D27D4EB4Full);
        h = mix64(h ^ static_cast<uint64_t>(z) * 0x165667B19E3779F9ull);
        return static_cast<double>(h >> 11) * (2.0 / 9007199254740992.0) - 1.0;
      }

      uint64_t seed_;
    };
  }
}
