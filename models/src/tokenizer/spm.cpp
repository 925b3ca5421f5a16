// SentencePiece-style BPE as llama.cpp runs it: start from UTF-8 characters,
// repeatedly merge the adjacent pair whose concatenation is the best-scoring
// token (ties: leftmost), then spell leftover characters as byte tokens.
#include <queue>
#include <string_view>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace qgml::tok {
namespace {

struct Symbol {
  int32_t prev, next;
  size_t offset, length;  // length 0: merged into its left neighbour
};

struct Bigram {
  float score;
  int32_t left, right;
  size_t length;  // of the pair when queued: a later mismatch means it is stale
};

struct WorseBigram {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};
using BigramQueue = std::priority_queue<Bigram, std::vector<Bigram>, WorseBigram>;

const char kSpace[] = "\xE2\x96\x81";  // U+2581

void encode_chunk(const Vocab& vocab, std::string_view text, std::vector<Symbol>& syms, BigramQueue& queue,
                  std::vector<int32_t>& out) {
  syms.clear();
  for (size_t off = 0; off < text.size();) {
    const size_t len = utf8_unit_len(text.data() + off, text.size() - off);
    const int32_t i = int32_t(syms.size());
    syms.push_back({i - 1, off + len == text.size() ? -1 : i + 1, off, len});
    off += len;
  }
  if (syms.empty()) return;

  auto try_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const size_t len = syms[size_t(l)].length + syms[size_t(r)].length;
    const int32_t id = vocab.find_mergeable(text.substr(syms[size_t(l)].offset, len));
    if (id >= 0) queue.push({vocab.token(id).score, l, r, len});
  };
  for (int32_t i = 1; i < int32_t(syms.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& left = syms[size_t(b.left)];
    Symbol& right = syms[size_t(b.right)];
    if (left.length == 0 || right.length == 0 || left.length + right.length != b.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) syms[size_t(right.next)].prev = b.left;
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }

  for (int32_t i = 0; i != -1; i = syms[size_t(i)].next) {
    const Symbol& s = syms[size_t(i)];
    const int32_t id = vocab.find_mergeable(text.substr(s.offset, s.length));
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Only single characters can be missing: every merge produced a token.
    for (size_t j = 0; j < s.length; ++j) {
      const int32_t b = vocab.spm_byte_token(uint8_t(text[s.offset + j]));
      if (b >= 0) out.push_back(b);
    }
  }
}

}  // namespace

void spm_encode(const Vocab& vocab, const std::string& text, std::vector<int32_t>& out) {
  std::vector<Symbol> syms;
  BigramQueue queue;
  const std::string_view all(text);
  if (!vocab.spm_cut_before_space()) {
    encode_chunk(vocab, all, syms, queue, out);
    return;
  }
  // No token holds a U+2581 after another character, so no merge crosses the
  // start of a U+2581 run: words merge on their own, with a small queue that
  // stays in cache, and the result is the same as for the whole text.
  const std::string_view space(kSpace, 3);
  size_t start = 0;
  for (size_t p = all.find(space, 1); p != std::string_view::npos; p = all.find(space, p + 3)) {
    if (p == start || (p >= 3 && all.compare(p - 3, 3, space) == 0)) continue;  // inside a run of U+2581
    encode_chunk(vocab, all.substr(start, p - start), syms, queue, out);
    start = p;
  }
  encode_chunk(vocab, all.substr(start), syms, queue, out);
}

}  // namespace qgml::tok
