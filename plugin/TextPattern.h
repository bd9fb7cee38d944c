// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// The selection rules' patterns (SpineMet.Selection.BodyPart, .SeriesDescription), matched against
// the tag values of stored instances: values an attacker may choose, of any length. std::regex
// recurses once per character of the input (a long value overflows the stack) and may backtrack
// exponentially; this matcher never recurses on the input and takes time linear in it (a set of
// states stepped once per character, Thompson's construction).
//
// The syntax is the common subset of regular expressions, case-insensitive (ASCII): literal
// characters, `.`, classes `[a-z0-9]` and `[^...]`, the escapes `\d \D \w \W \s \S` and `\` before
// punctuation, anchors `^` and `$`, groups `(...)` and `(?:...)`, alternation `|`, and the
// quantifiers `*`, `+`, `?` (a lazy `*?` matches the same: only whether it matches counts).
// Anything else (`{m,n}`, back-references, look-arounds) is refused with the position named.
// A pattern is at most MAXIMUM_PATTERN_LENGTH characters and MAXIMUM_GROUP_DEPTH groups deep: its
// parsing recurses per group, bounded by those.

#include <bitset>
#include <cstddef>
#include <string>
#include <vector>

namespace spinemet
{
  class TextPattern
  {
  public:
    static constexpr size_t MAXIMUM_PATTERN_LENGTH = 256;
    static constexpr size_t MAXIMUM_GROUP_DEPTH = 16;

    // Throws std::invalid_argument naming the character at fault.
    explicit TextPattern(const std::string& pattern);

    // Whether the pattern matches anywhere in `text` (like std::regex_search).
    bool search(const std::string& text) const;

    // The parsed program (internal; public so that the parser in the .cpp can build it).
    struct Instruction
    {
      enum class Kind { Character, Split, Jump, LineStart, LineEnd, Match } kind;
      std::bitset<256> characters;   // Character: the bytes it accepts
      size_t next = 0;               // Split, Jump: the target; Split: the first choice
      size_t alternative = 0;        // Split: the second choice
    };

  private:
    std::vector<Instruction> program_;
  };
}
