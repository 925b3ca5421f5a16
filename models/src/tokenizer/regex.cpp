#include "tokenizer/regex.h"

#include <algorithm>
#include <cstring>

#include "qgml/error.h"
#include "tokenizer/unicode.h"

namespace qgml::tok {

bool Regex::Class::slow_matches(uint32_t cp) const {
  bool in = (categories >> category(cp)) & 1;
  if (!in && (space || non_space)) in = is_whitespace(cp) ? space : non_space;
  for (size_t i = 0; !in && i < ranges.size(); ++i) in = cp >= ranges[i].first && cp <= ranges[i].second;
  return in != negated;
}

bool Regex::Class::matches(uint32_t cp) const {
  if (cp < 128) return (ascii[cp >> 6] >> (cp & 63)) & 1;
  return slow_matches(cp);
}

// ---------------------------------------------------------------------------
// Parsing: pattern -> tree -> backtracking program.
// ---------------------------------------------------------------------------
namespace {

struct Node {
  enum Kind { kClass, kSeq, kAlt, kRepeat, kNotFollowedBy, kEnd, kStart } kind = kSeq;
  int cls = -1;
  int min = 0, max = -1;  // kRepeat; max -1 = unbounded
  std::vector<Node> kids;
};

}  // namespace

class RegexCompiler {
 public:
  RegexCompiler(Regex& re, const std::string& pattern) : re_(re) {
    for (size_t i = 0; i < pattern.size();) {
      uint32_t cp;
      const size_t len = utf8_decode(pattern.data() + i, pattern.size() - i, &cp);
      if (cp >= kInvalidBase) error("invalid UTF-8");
      p_.push_back(cp);
      i += len;
    }
  }

  void compile() {
    Node root = parse_alt();
    if (i_ != p_.size()) error("unbalanced ')'");
    emit(root);
    re_.prog_.push_back({Regex::kMatch});
    // Join points (targets of jumps) are the only states reachable along
    // different paths, so they are the only ones that need memoizing.
    std::vector<bool> target(re_.prog_.size(), false);
    for (const auto& in : re_.prog_) {
      if (in.op == Regex::kSplit) target[in.x] = target[in.y] = true;
      if (in.op == Regex::kJmp) target[in.x] = true;
    }
    for (size_t pc = 0; pc < re_.prog_.size(); ++pc)
      if (target[pc]) re_.prog_[pc].memo = re_.n_memo_++;
  }

 private:
  [[noreturn]] void error(const char* what) const {
    fail("tokenizer regex: %s at code point %zu of \"%s\"", what, i_, re_.pattern_.c_str());
  }
  bool more() const { return i_ < p_.size(); }
  uint32_t peek(size_t k = 0) const { return i_ + k < p_.size() ? p_[i_ + k] : 0; }

  int add_class(Regex::Class c) {
    for (uint32_t cp = 0; cp < 128; ++cp)
      if (c.slow_matches(cp)) c.ascii[cp >> 6] |= uint64_t(1) << (cp & 63);
    re_.classes_.push_back(std::move(c));
    return int(re_.classes_.size()) - 1;
  }
  static Node class_node(int cls) {
    Node n;
    n.kind = Node::kClass;
    n.cls = cls;
    return n;
  }

  Node parse_alt() {
    Node alt;
    alt.kind = Node::kAlt;
    alt.kids.push_back(parse_seq());
    while (more() && peek() == '|') {
      ++i_;
      alt.kids.push_back(parse_seq());
    }
    return alt.kids.size() == 1 ? std::move(alt.kids[0]) : alt;
  }

  Node parse_seq() {
    Node seq;
    seq.kind = Node::kSeq;
    while (more() && peek() != '|' && peek() != ')') seq.kids.push_back(parse_quantified());
    return seq;
  }

  Node parse_quantified() {
    Node atom = parse_atom();
    if (!more()) return atom;
    int min, max;
    const uint32_t c = peek();
    if (c == '?') { min = 0; max = 1; ++i_; }
    else if (c == '*') { min = 0; max = -1; ++i_; }
    else if (c == '+') { min = 1; max = -1; ++i_; }
    else if (c == '{') {
      ++i_;
      min = parse_number();
      max = min;
      if (more() && peek() == ',') {
        ++i_;
        max = more() && peek() == '}' ? -1 : parse_number();
      }
      if (!more() || peek() != '}' || (max >= 0 && max < min) || min > 64 || max > 64) error("bad {n,m}");
      ++i_;
    } else {
      return atom;
    }
    if (more() && (peek() == '?' || peek() == '+')) error("lazy and possessive quantifiers are not supported");
    if (atom.kind == Node::kNotFollowedBy || atom.kind == Node::kEnd || atom.kind == Node::kStart)
      error("quantified assertion");
    Node rep;
    rep.kind = Node::kRepeat;
    rep.min = min;
    rep.max = max;
    rep.kids.push_back(std::move(atom));
    return rep;
  }

  int parse_number() {
    int v = 0, digits = 0;
    while (more() && peek() >= '0' && peek() <= '9' && digits < 4) {
      v = v * 10 + int(peek() - '0');
      ++i_;
      ++digits;
    }
    if (!digits) error("expected a number");
    return v;
  }

  Node parse_atom() {
    const uint32_t c = peek();
    ++i_;
    switch (c) {
      case '(': {
        bool lookahead = false;
        if (peek() == '?') {
          if (peek(1) == ':') i_ += 2;
          else if (peek(1) == '!') { i_ += 2; lookahead = true; }
          else error("unsupported group kind");
        }
        Node inner = parse_alt();
        if (!more() || peek() != ')') error("missing ')'");
        ++i_;
        if (!lookahead) return inner;
        // A one-character look-ahead is all the pre-tokenizers use ((?!\S)).
        const Node* one = &inner;
        while (one->kind == Node::kSeq && one->kids.size() == 1) one = &one->kids[0];
        if (one->kind != Node::kClass) error("look-ahead must be a single character class");
        Node n;
        n.kind = Node::kNotFollowedBy;
        n.cls = one->cls;
        return n;
      }
      case '[': return class_node(parse_bracket());
      case '.': {
        Regex::Class cl;
        cl.negated = true;
        cl.ranges.push_back({'\n', '\n'});
        return class_node(add_class(std::move(cl)));
      }
      case '$': { Node n; n.kind = Node::kEnd; return n; }
      case '^': { Node n; n.kind = Node::kStart; return n; }
      case ')': case '|': case '*': case '+': case '?': case '{':
        --i_;
        error("unexpected metacharacter");
      case '\\': {
        Regex::Class cl;
        parse_escape(cl);  // a literal and a class escape both become one class
        return class_node(add_class(std::move(cl)));
      }
      default: {
        Regex::Class cl;
        cl.ranges.push_back({c, c});
        return class_node(add_class(std::move(cl)));
      }
    }
  }

  // Parses what follows a backslash into `cl`: a class escape adds its set,
  // a literal escape adds one character. Returns true for a literal.
  bool parse_escape(Regex::Class& cl) {
    if (!more()) error("trailing backslash");
    const uint32_t c = peek();
    ++i_;
    switch (c) {
      case 's': cl.space = true; return false;
      case 'S': cl.non_space = true; return false;
      case 'd': cl.ranges.push_back({'0', '9'}); return false;
      case 'w':
        cl.ranges.insert(cl.ranges.end(), {{'0', '9'}, {'A', 'Z'}, {'a', 'z'}, {'_', '_'}});
        return false;
      case 'p': {
        if (peek() != '{') error("expected \\p{...}");
        ++i_;
        const uint32_t name = peek();
        const char* cats = "LMNPSZC";
        const char* hit = name < 128 ? std::strchr(cats, int(name)) : nullptr;
        if (!hit || !name || peek(1) != '}') error("unsupported \\p{} category (major categories only)");
        i_ += 2;
        cl.categories |= uint8_t(1u << (hit - cats));
        return false;
      }
      case 'x': {  // \xHH or \x{H...}: keeps patterns ASCII, safe from editors that normalize text
        const bool braced = peek() == '{';
        if (braced) ++i_;
        uint32_t v = 0;
        int digits = 0;
        for (; more() && digits < (braced ? 6 : 2); ++digits, ++i_) {
          const uint32_t h = peek();
          const int d = h >= '0' && h <= '9' ? int(h - '0') : h >= 'a' && h <= 'f' ? int(h - 'a' + 10)
                      : h >= 'A' && h <= 'F' ? int(h - 'A' + 10) : -1;
          if (d < 0) break;
          v = v * 16 + uint32_t(d);
        }
        if (!digits || v > 0x10FFFF || (braced && (!more() || peek() != '}'))) error("bad \\x escape");
        if (braced) ++i_;
        cl.ranges.push_back({v, v});
        return true;
      }
      case 'r': cl.ranges.push_back({'\r', '\r'}); return true;
      case 'n': cl.ranges.push_back({'\n', '\n'}); return true;
      case 't': cl.ranges.push_back({'\t', '\t'}); return true;
      case 'f': cl.ranges.push_back({'\f', '\f'}); return true;
      case 'v': cl.ranges.push_back({'\v', '\v'}); return true;
      default:
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
          --i_;
          error("unsupported escape");
        }
        cl.ranges.push_back({c, c});
        return true;
    }
  }

  int parse_bracket() {
    Regex::Class cl;
    if (more() && peek() == '^') {
      cl.negated = true;
      ++i_;
    }
    bool first = true;
    while (more() && (peek() != ']' || first)) {
      first = false;
      uint32_t lo;
      if (peek() == '\\') {
        ++i_;
        Regex::Class item;
        if (!parse_escape(item)) {  // a set inside a set: merge it in
          cl.space |= item.space;
          cl.non_space |= item.non_space;
          cl.categories |= item.categories;
          cl.ranges.insert(cl.ranges.end(), item.ranges.begin(), item.ranges.end());
          continue;
        }
        lo = item.ranges[0].first;
      } else {
        lo = peek();
        ++i_;
      }
      uint32_t hi = lo;
      if (more() && peek() == '-' && peek(1) != ']' && i_ + 1 < p_.size()) {
        ++i_;
        if (peek() == '\\') {
          ++i_;
          Regex::Class item;
          if (!parse_escape(item)) error("class escape as a range end");
          hi = item.ranges[0].first;
        } else {
          hi = peek();
          ++i_;
        }
        if (hi < lo) error("reversed range");
      }
      cl.ranges.push_back({lo, hi});
    }
    if (!more()) error("missing ']'");
    ++i_;
    return add_class(std::move(cl));
  }

  size_t push(Regex::Op op, int32_t x = 0, int32_t y = 0) {
    Regex::Inst in;
    in.op = op;
    in.x = x;
    in.y = y;
    re_.prog_.push_back(in);
    return re_.prog_.size() - 1;
  }
  int32_t here() const { return int32_t(re_.prog_.size()); }

  void emit(const Node& n) {
    switch (n.kind) {
      case Node::kClass: push(Regex::kClass, n.cls); break;
      case Node::kNotFollowedBy: push(Regex::kNotFollowedBy, n.cls); break;
      case Node::kEnd: push(Regex::kEnd); break;
      case Node::kStart: push(Regex::kStart); break;
      case Node::kSeq:
        for (const Node& k : n.kids) emit(k);
        break;
      case Node::kAlt: {
        std::vector<size_t> to_end;
        for (size_t i = 0; i < n.kids.size(); ++i) {
          if (i + 1 == n.kids.size()) {
            emit(n.kids[i]);
            break;
          }
          const size_t split = push(Regex::kSplit, here() + 1);
          emit(n.kids[i]);
          to_end.push_back(push(Regex::kJmp));
          re_.prog_[split].y = here();
        }
        for (size_t j : to_end) re_.prog_[j].x = here();
        break;
      }
      case Node::kRepeat: {
        for (int i = 0; i < n.min; ++i) emit(n.kids[0]);
        if (n.max < 0) {
          const int32_t loop = here();
          const size_t split = push(Regex::kSplit, loop + 1);
          emit(n.kids[0]);
          push(Regex::kJmp, loop);
          re_.prog_[split].y = here();
        } else {
          std::vector<size_t> splits;
          for (int i = n.min; i < n.max; ++i) {
            splits.push_back(push(Regex::kSplit, here() + 1));
            emit(n.kids[0]);
          }
          for (size_t s : splits) re_.prog_[s].y = here();
        }
        break;
      }
    }
  }

  Regex& re_;
  std::vector<uint32_t> p_;
  size_t i_ = 0;
};

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
  RegexCompiler c(*this, pattern);
  c.compile();
}

// ---------------------------------------------------------------------------
// Matching.
// ---------------------------------------------------------------------------

// Visited (join instruction, position) states. Rows cover positions from
// `base`; rows behind the current start are dropped as the search moves on,
// so memory follows the longest single attempt, not the text.
struct Regex::Memo {
  std::vector<uint8_t> bits;
  size_t base = 0, row_bytes = 1;
  std::vector<std::pair<int32_t, size_t>> stack;

  void reset(size_t pos, int32_t n_slots) {
    row_bytes = size_t(n_slots + 7) / 8;
    if (!row_bytes) row_bytes = 1;
    bits.assign(std::min<size_t>(bits.capacity(), 64 * row_bytes), 0);
    base = pos;
  }
  void advance(size_t start) {
    const size_t drop = (start - base) * row_bytes;
    if (drop > 4096 && drop * 2 > bits.size()) {
      if (drop >= bits.size()) {
        std::fill(bits.begin(), bits.end(), 0);
      } else {
        bits.erase(bits.begin(), bits.begin() + long(drop));
        bits.resize(bits.size() + drop, 0);
      }
      base = start;
    }
  }
  bool test_and_set(int32_t slot, size_t pos) {
    const size_t byte = (pos - base) * row_bytes + size_t(slot) / 8;
    if (byte >= bits.size()) bits.resize(std::max(byte + 1, bits.size() * 2), 0);
    const uint8_t mask = uint8_t(1u << (slot & 7));
    if (bits[byte] & mask) return true;
    bits[byte] |= mask;
    return false;
  }
  void clear_row(size_t pos) {
    const size_t at = (pos - base) * row_bytes;
    for (size_t i = at; i < at + row_bytes && i < bits.size(); ++i) bits[i] = 0;
  }
};

long Regex::run(const uint32_t* cps, size_t begin, size_t end, size_t start, Memo& memo) const {
  auto& stack = memo.stack;
  stack.clear();
  stack.push_back({0, start});
  while (!stack.empty()) {
    int32_t pc = stack.back().first;
    size_t pos = stack.back().second;
    stack.pop_back();
    for (;;) {
      const Inst& in = prog_[size_t(pc)];
      // A join state seen before already failed: had it led to a match, the
      // search would have stopped there.
      if (in.memo >= 0 && memo.test_and_set(in.memo, pos)) break;
      bool ok = true;
      switch (in.op) {
        case kClass:
          ok = pos < end && classes_[size_t(in.x)].matches(cps[pos]);
          if (ok) ++pos;
          ++pc;
          break;
        case kSplit:
          stack.push_back({in.y, pos});
          pc = in.x;
          break;
        case kJmp: pc = in.x; break;
        case kNotFollowedBy:
          ok = !(pos < end && classes_[size_t(in.x)].matches(cps[pos]));
          ++pc;
          break;
        case kEnd: ok = pos == end; ++pc; break;
        case kStart: ok = pos == begin; ++pc; break;
        case kMatch: return long(pos - start);
      }
      if (!ok) break;
    }
  }
  return -1;
}

long Regex::match_at(const uint32_t* cps, size_t begin, size_t end, size_t start) const {
  Memo memo;
  memo.reset(start, n_memo_);
  return run(cps, begin, end, start, memo);
}

void Regex::split(const uint32_t* cps, size_t begin, size_t end, std::vector<std::pair<size_t, size_t>>& out) const {
  thread_local Memo memo;
  memo.reset(begin, n_memo_);
  size_t unmatched = begin;
  for (size_t pos = begin; pos < end;) {
    memo.advance(pos);
    const long len = run(cps, begin, end, pos, memo);
    if (len <= 0) {  // no match here (an empty match splits nothing either)
      ++pos;
      continue;
    }
    if (unmatched < pos) out.push_back({unmatched, pos});
    out.push_back({pos, pos + size_t(len)});
    pos += size_t(len);
    unmatched = pos;
    // The successful path marked states at its end position without failing
    // there; the next attempt starts at that position.
    memo.clear_row(pos);
  }
  if (unmatched < end) out.push_back({unmatched, end});
}

}  // namespace qgml::tok
