// Byte-level BPE as llama.cpp runs it: pre-tokenize into words; within a word
// start from one symbol per byte and repeatedly merge the adjacent pair of
// lowest rank (ties: leftmost).
#include <queue>
#include <string_view>
#include <unordered_map>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace qgml::tok {
namespace {

struct Symbol {
  int32_t prev, next;
  int32_t id;             // token (or merge-only symbol); -1 for a byte the vocabulary lacks
  uint32_t first, count;  // bytes of the word it covers; count 0: merged away
};

struct Bigram {
  int32_t rank, left, right, left_id, right_id, merged;
};

struct WorseBigram {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

void encode_word(const Vocab& vocab, const uint8_t* w, size_t n, std::vector<Symbol>& syms,
                 std::vector<int32_t>& out) {
  syms.clear();
  for (size_t i = 0; i < n; ++i) {
    const int32_t k = int32_t(i);
    syms.push_back({k - 1, i + 1 == n ? -1 : k + 1, vocab.bpe_byte_token(w[i]), uint32_t(i), 1});
  }
  std::priority_queue<Bigram, std::vector<Bigram>, WorseBigram> queue;
  auto try_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    Bigram b{0, l, r, syms[size_t(l)].id, syms[size_t(r)].id, 0};
    if (vocab.merge(b.left_id, b.right_id, &b.rank, &b.merged)) queue.push(b);
  };
  for (int32_t i = 1; i < int32_t(n); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& left = syms[size_t(b.left)];
    Symbol& right = syms[size_t(b.right)];
    if (left.count == 0 || right.count == 0 || left.next != b.right || left.id != b.left_id ||
        right.id != b.right_id)
      continue;  // stale: one side changed since it was queued
    left.id = b.merged;
    left.count += right.count;
    right.count = 0;
    left.next = right.next;
    if (right.next >= 0) syms[size_t(right.next)].prev = b.left;
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }

  for (int32_t i = 0; i != -1 && n > 0; i = syms[size_t(i)].next) {
    const Symbol& s = syms[size_t(i)];
    if (s.id >= 0 && s.id < vocab.size()) {
      out.push_back(s.id);
    } else if (s.id >= 0) {
      // A merge whose result is not a token: spell its bytes one by one.
      for (uint32_t j = 0; j < s.count; ++j) {
        const int32_t t = vocab.bpe_byte_token(w[s.first + j]);
        if (t >= 0) out.push_back(t);
      }
    }
  }
}

}  // namespace

void bpe_encode(const Vocab& vocab, const char* text, size_t n, std::vector<int32_t>& out) {
  std::vector<std::pair<size_t, size_t>> words;
  vocab.pre()->split(text, n, words);
  std::vector<Symbol> syms;
  std::string mapped;
  const auto* bytes = reinterpret_cast<const uint8_t*>(text);
  // Natural text repeats its words: remember each distinct word's tokens for
  // the rest of this call (bounded, so a text of random words cannot bloat it).
  constexpr size_t kMaxCached = size_t(1) << 16;
  std::unordered_map<std::string_view, std::pair<size_t, size_t>> cache;
  std::vector<int32_t> cached;
  for (const auto& w : words) {
    const std::string_view word(text + w.first, w.second - w.first);
    if (auto it = cache.find(word); it != cache.end()) {
      out.insert(out.end(), cached.begin() + long(it->second.first),
                 cached.begin() + long(it->second.first + it->second.second));
      continue;
    }
    const size_t before = out.size();
    bool whole = false;
    if (vocab.pre()->ignore_merges()) {
      mapped.clear();
      for (size_t i = w.first; i < w.second; ++i) mapped += byte_to_symbol(bytes[i]);
      if (const int32_t id = vocab.find(mapped); id >= 0) {
        out.push_back(id);
        whole = true;
      }
    }
    if (!whole) encode_word(vocab, bytes + w.first, w.second - w.first, syms, out);
    if (cache.size() < kMaxCached) {
      cache.emplace(word, std::make_pair(cached.size(), out.size() - before));
      cached.insert(cached.end(), out.begin() + long(before), out.end());
    }
  }
}

}  // namespace qgml::tok
