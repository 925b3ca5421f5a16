// A small regex engine over code points, enough for the pre-tokenizer
// patterns of byte-level BPE vocabularies (written as in their
// tokenizer.json): literals, '.', classes with ranges and negation, \s \S \d
// \w \p{X} \P{X} (major categories), groups (?:...), alternation, greedy
// ? * + {n,m}, $ and a single-class negative look-ahead (?!X).
//
// Matching is leftmost-first (as in PCRE, Oniguruma and Rust's regex crate)
// by backtracking, with every (instruction, position) state visited at most
// once per piece, so the time is linear in the text whatever the input:
// patterns like \s+$ never go quadratic on a long run of spaces.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace qgml::tok {

class Regex {
 public:
  explicit Regex(const std::string& pattern);  // UTF-8; throws qgml::Error on what it does not support

  // Splits cps[begin, end) (one piece: $ and look-ahead see `end` as the end of the
  // text) into the matches and the runs between them, appending [b, e) ranges in order.
  void split(const uint32_t* cps, size_t begin, size_t end, std::vector<std::pair<size_t, size_t>>& out) const;

  // Length of the match starting exactly at `start`, or -1 (for tests).
  long match_at(const uint32_t* cps, size_t begin, size_t end, size_t start) const;

  struct Class {
    std::vector<std::pair<uint32_t, uint32_t>> ranges;  // inclusive
    uint8_t categories = 0;                             // bit per Category
    bool space = false, non_space = false, negated = false;
    uint64_t ascii[2] = {0, 0};                         // precomputed answer below U+0080
    bool matches(uint32_t cp) const;
    bool slow_matches(uint32_t cp) const;
  };
  enum Op : uint8_t { kClass, kSplit, kJmp, kNotFollowedBy, kEnd, kStart, kMatch };
  struct Inst {
    Op op;
    int32_t x = 0, y = 0;  // class index or jump targets
    int32_t memo = -1;     // memo slot for join points, else -1
  };

 private:
  struct Memo;
  long run(const uint32_t* cps, size_t begin, size_t end, size_t start, Memo& memo) const;

  std::string pattern_;
  std::vector<Class> classes_;
  std::vector<Inst> prog_;
  int32_t n_memo_ = 0;
  friend class RegexCompiler;
};

}  // namespace qgml::tok
