// SPDX-License-Identifier: GPL-3.0-or-later
#include "TextPattern.h"

#include <cctype>
#include <memory>
#include <stdexcept>

namespace spinemet
{
  namespace
  {
    using Bytes = std::bitset<256>;
    using Instruction = TextPattern::Instruction;

    // The pattern's tree: a node per character set, anchor, sequence, alternation or quantifier.
    struct Node
    {
      enum class Kind { Characters, LineStart, LineEnd, Sequence, Alternation, Star, Plus, Optional } kind;
      Bytes characters;
      std::vector<Node> children;
    };

    Bytes caseFolded(Bytes bytes)
    {
      for (int c = 0; c < 256; ++c)
      {
        if (bytes[c] && std::isalpha(c))
        {
          bytes.set(static_cast<size_t>(std::tolower(c)));
          bytes.set(static_cast<size_t>(std::toupper(c)));
        }
      }
      return bytes;
    }

    Bytes range(int first, int last)
    {
      Bytes bytes;
      for (int c = first; c <= last; ++c) bytes.set(static_cast<size_t>(c));
      return bytes;
    }

    class Parser
    {
    public:
      explicit Parser(const std::string& pattern) : pattern_(pattern) {}

      Node parse()
      {
        Node node = alternation(0);
        if (position_ < pattern_.size())
        {
          fail("an unmatched ')'");
        }
        return node;
      }

    private:
      [[noreturn]] void fail(const std::string& what) const
      {
        throw std::invalid_argument(what + " at character " + std::to_string(position_ + 1) + " of the pattern");
      }

      bool atEnd() const { return position_ >= pattern_.size(); }
      char peek() const { return pattern_[position_]; }

      Node alternation(size_t depth)
      {
        Node node{Node::Kind::Alternation, {}, {}};
        node.children.push_back(sequence(depth));
        while (!atEnd() && peek() == '|')
        {
          ++position_;
          node.children.push_back(sequence(depth));
        }
        return node.children.size() == 1 ? std::move(node.children.front()) : node;
      }

      Node sequence(size_t depth)
      {
        Node node{Node::Kind::Sequence, {}, {}};
        while (!atEnd() && peek() != '|' && peek() != ')')
        {
          Node item = atom(depth);
          while (!atEnd() && (peek() == '*' || peek() == '+' || peek() == '?'))
          {
            if (item.kind == Node::Kind::LineStart || item.kind == Node::Kind::LineEnd)
            {
              fail("a quantifier after an anchor");
            }
            const char quantifier = pattern_[position_++];
            Node::Kind kind = quantifier == '*' ? Node::Kind::Star :
                              quantifier == '+' ? Node::Kind::Plus : Node::Kind::Optional;
            item = Node{kind, {}, {std::move(item)}};
            if (!atEnd() && peek() == '?') ++position_;      // lazy: the same answer to "does it match"
          }
          if (!atEnd() && peek() == '{')
          {
            fail("a counted repetition {m,n} (not supported: repeat the item, or use * + ?)");
          }
          node.children.push_back(std::move(item));
        }
        return node;
      }

      Node atom(size_t depth)
      {
        const char c = pattern_[position_];
        switch (c)
        {
          case '(':
          {
            if (depth + 1 > TextPattern::MAXIMUM_GROUP_DEPTH)
            {
              fail("groups nested more than " + std::to_string(TextPattern::MAXIMUM_GROUP_DEPTH) + " deep");
            }
            ++position_;
            if (!atEnd() && peek() == '?')
            {
              if (position_ + 1 < pattern_.size() && pattern_[position_ + 1] == ':')
              {
                position_ += 2;
              }
              else
              {
                fail("a look-around or named group (not supported)");
              }
            }
            Node inner = alternation(depth + 1);
            if (atEnd())
            {
              fail("a '(' without its ')'");
            }
            ++position_;
            return inner;
          }
          case '*': case '+': case '?':
            fail(std::string("a quantifier '") + c + "' with nothing before it");
          case '{':
            fail("a counted repetition {m,n} (not supported: repeat the item, or use * + ?)");
          case '^':
            ++position_;
            return Node{Node::Kind::LineStart, {}, {}};
          case '$':
            ++position_;
            return Node{Node::Kind::LineEnd, {}, {}};
          case '.':
            ++position_;
            return Node{Node::Kind::Characters, ~(Bytes().set('\n').set('\r')), {}};
          case '[':
            return Node{Node::Kind::Characters, characterClass(), {}};
          case '\\':
            return Node{Node::Kind::Characters, caseFolded(escape(false)), {}};
          default:
            ++position_;
            return Node{Node::Kind::Characters, caseFolded(Bytes().set(static_cast<unsigned char>(c))), {}};
        }
      }

      // After a backslash: the set it names. `inClass`: inside [...], where "\-" is a hyphen.
      Bytes escape(bool inClass)
      {
        ++position_;
        if (atEnd())
        {
          fail("a '\\' at the end");
        }
        const char c = pattern_[position_++];
        const Bytes digits = range('0', '9');
        const Bytes word = range('0', '9') | range('a', 'z') | range('A', 'Z') | Bytes().set('_');
        const Bytes space = Bytes().set(' ').set('\t').set('\n').set('\v').set('\f').set('\r');
        switch (c)
        {
          case 'd': return digits;
          case 'D': return ~digits;
          case 'w': return word;
          case 'W': return ~word;
          case 's': return space;
          case 'S': return ~space;
          case 't': return Bytes().set('\t');
          case 'n': return Bytes().set('\n');
          case 'r': return Bytes().set('\r');
          default:
            if (std::ispunct(static_cast<unsigned char>(c)) || c == ' ' || (inClass && c == '-'))
            {
              return Bytes().set(static_cast<unsigned char>(c));
            }
            --position_;
            fail(std::string("the escape '\\") + c + "' (not supported)");
        }
      }

      Bytes characterClass()
      {
        ++position_;                                 // the '['
        bool negated = false;
        if (!atEnd() && peek() == '^')
        {
          negated = true;
          ++position_;
        }
        Bytes members;
        bool first = true;
        while (!atEnd() && (peek() != ']' || first))
        {
          first = false;
          Bytes item;
          int low = -1;
          if (peek() == '\\')
          {
            item = escape(true);
            if (item.count() == 1) for (int b = 0; b < 256; ++b) if (item[b]) low = b;
          }
          else
          {
            low = static_cast<unsigned char>(pattern_[position_++]);
            item.set(static_cast<size_t>(low));
          }
          if (low >= 0 && position_ + 1 < pattern_.size() && peek() == '-' && pattern_[position_ + 1] != ']')
          {
            ++position_;
            int high;
            if (peek() == '\\')
            {
              const Bytes end = escape(true);
              if (end.count() != 1) fail("a range ending in a class escape");
              high = 0;
              for (int b = 0; b < 256; ++b) if (end[b]) high = b;
            }
            else
            {
              high = static_cast<unsigned char>(pattern_[position_++]);
            }
            if (high < low)
            {
              fail("a range whose end comes before its start");
            }
            item = range(low, high);
          }
          members |= item;
        }
        if (atEnd())
        {
          fail("a '[' without its ']'");
        }
        ++position_;                                 // the ']'
        members = caseFolded(members);
        return negated ? ~members : members;
      }

      const std::string& pattern_;
      size_t position_ = 0;
    };

    // Thompson's construction: the tree as a program of character tests, splits and jumps.
    class Compiler
    {
    public:
      explicit Compiler(std::vector<Instruction>& program) : program_(program) {}

      void emit(const Node& node)
      {
        switch (node.kind)
        {
          case Node::Kind::Characters:
            add(Instruction::Kind::Character).characters = node.characters;
            break;
          case Node::Kind::LineStart:
            add(Instruction::Kind::LineStart);
            break;
          case Node::Kind::LineEnd:
            add(Instruction::Kind::LineEnd);
            break;
          case Node::Kind::Sequence:
            for (const Node& child : node.children) emit(child);
            break;
          case Node::Kind::Alternation:
          {
            std::vector<size_t> jumps;
            for (size_t i = 0; i + 1 < node.children.size(); ++i)
            {
              const size_t split = index(add(Instruction::Kind::Split));
              program_[split].next = program_.size();
              emit(node.children[i]);
              jumps.push_back(index(add(Instruction::Kind::Jump)));
              program_[split].alternative = program_.size();
            }
            emit(node.children.back());
            for (size_t jump : jumps) program_[jump].next = program_.size();
            break;
          }
          case Node::Kind::Star:
          {
            const size_t split = index(add(Instruction::Kind::Split));
            program_[split].next = program_.size();
            emit(node.children.front());
            add(Instruction::Kind::Jump).next = split;
            program_[split].alternative = program_.size();
            break;
          }
          case Node::Kind::Plus:
          {
            const size_t start = program_.size();
            emit(node.children.front());
            Instruction& split = add(Instruction::Kind::Split);
            split.next = start;
            split.alternative = program_.size();
            break;
          }
          case Node::Kind::Optional:
          {
            const size_t split = index(add(Instruction::Kind::Split));
            program_[split].next = program_.size();
            emit(node.children.front());
            program_[split].alternative = program_.size();
            break;
          }
        }
      }

      Instruction& add(Instruction::Kind kind)
      {
        program_.push_back(Instruction{kind, {}, 0, 0});
        return program_.back();
      }

    private:
      size_t index(const Instruction& instruction) const
      {
        return static_cast<size_t>(&instruction - program_.data());
      }

      std::vector<Instruction>& program_;
    };
  }

  TextPattern::TextPattern(const std::string& pattern)
  {
    if (pattern.size() > MAXIMUM_PATTERN_LENGTH)
    {
      throw std::invalid_argument("the pattern is " + std::to_string(pattern.size()) + " characters long, more than " +
                                  std::to_string(MAXIMUM_PATTERN_LENGTH));
    }
    const Node tree = Parser(pattern).parse();
    Compiler compiler(program_);
    compiler.emit(tree);
    compiler.add(Instruction::Kind::Match);
  }

  bool TextPattern::search(const std::string& text) const
  {
    // The states alive before character `position`; each is entered at most once per position,
    // so the work is (text length + 1) x program size, whatever the pattern.
    const size_t size = program_.size();
    std::vector<size_t> current;
    std::vector<size_t> next;
    std::vector<size_t> pending;
    std::vector<size_t> visitedAt(size, SIZE_MAX);
    current.reserve(size);
    next.reserve(size);

    // Adds `start` and every state reachable from it without reading a character.
    auto addClosure = [&](std::vector<size_t>& states, size_t start, size_t position) -> bool {
      pending.assign(1, start);
      while (!pending.empty())
      {
        const size_t at = pending.back();
        pending.pop_back();
        if (visitedAt[at] == position)
        {
          continue;
        }
        visitedAt[at] = position;
        const Instruction& instruction = program_[at];
        switch (instruction.kind)
        {
          case Instruction::Kind::Match:
            return true;
          case Instruction::Kind::Character:
            states.push_back(at);
            break;
          case Instruction::Kind::Jump:
            pending.push_back(instruction.next);
            break;
          case Instruction::Kind::Split:
            pending.push_back(instruction.alternative);
            pending.push_back(instruction.next);
            break;
          case Instruction::Kind::LineStart:
            if (position == 0) pending.push_back(at + 1);
            break;
          case Instruction::Kind::LineEnd:
            if (position == text.size()) pending.push_back(at + 1);
            break;
        }
      }
      return false;
    };

    for (size_t position = 0; position <= text.size(); ++position)
    {
      // A match may begin at every position (a search, not a whole-text match).
      if (addClosure(current, 0, position))
      {
        return true;
      }
      if (position == text.size())
      {
        break;
      }
      const unsigned char c = static_cast<unsigned char>(text[position]);
      next.clear();
      for (size_t state : current)
      {
        if (program_[state].characters[c] && addClosure(next, state + 1, position + 1))
        {
          return true;
        }
      }
      current.swap(next);
    }
    return false;
  }
}
