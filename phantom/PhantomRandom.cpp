// SPDX-License-Identifier: GPL-3.0-or-later
#include "phantom/PhantomModel.h"

#include <algorithm>

namespace spinemet
{
  namespace phantom_detail
  {
    uint64_t hash64(const std::string& text, uint64_t salt)
    {
      // FNV-1a, then a splitmix finaliser so that nearby texts land far apart.
      uint64_t hash = 0xCBF29CE484222325ull ^ salt;
      for (unsigned char c : text)
      {
        hash ^= c;
        hash *= 0x100000001B3ull;
      }
      Random finaliser(hash);
      return finaliser.next();
    }

    Random stream(uint64_t seed, const std::string& purpose)
    {
      return Random(hash64(purpose + "#" + std::to_string(seed), 0x5350494E454D4554ull));
    }

    std::string uidFromText(const std::string& text)
    {
      unsigned __int128 value = (static_cast<unsigned __int128>(hash64(text, 1)) << 64) |
                                hash64(text, 2);
      // RFC 9562 layout, version 8 (custom) and variant 10, as for any UUID-derived 2.25 UID.
      const unsigned __int128 one = 1;
      value &= ~(static_cast<unsigned __int128>(0xF) << 76);
      value |= static_cast<unsigned __int128>(0x8) << 76;
      value &= ~(static_cast<unsigned __int128>(0x3) << 62);
      value |= one << 63;

      std::string digits;
      while (value != 0)
      {
        digits.push_back(static_cast<char>('0' + static_cast<int>(value % 10)));
        value /= 10;
      }
      std::reverse(digits.begin(), digits.end());
      return "2.25." + digits;
    }
  }
}
