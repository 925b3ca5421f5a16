#include "tokenizer/vocab.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "qgml/error.h"
#include "tokenizer/unicode.h"

namespace qgml::tok {
namespace {

bool ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Special tokens that end a turn, recognised by name like llama.cpp does,
// because few GGUF files record an EOT id.
const char* const kEndOfTurnTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
    "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>", "<｜end▁of▁sentence｜>",
};

}  // namespace

Vocab::Vocab(const VocabSpec& spec) {
  if (spec.model == "gpt2") byte_level_ = true;
  else if (spec.model != "llama") fail("tokenizer model '%s' is not supported (llama or gpt2)", spec.model.c_str());
  const size_t n = spec.tokens.size();
  if (n == 0) fail("tokenizer: empty vocabulary");
  if (n > size_t(INT32_MAX / 2)) fail("tokenizer: vocabulary of %zu tokens is too large", n);
  if (!spec.scores.empty() && spec.scores.size() != n)
    fail("tokenizer: %zu scores for %zu tokens", spec.scores.size(), n);
  if (!spec.token_types.empty() && spec.token_types.size() != n)
    fail("tokenizer: %zu token types for %zu tokens", spec.token_types.size(), n);

  tokens_.resize(n);
  by_text_.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    Token& t = tokens_[i];
    t.text = spec.tokens[i];
    t.score = spec.scores.empty() ? 0.0f : spec.scores[i];
    const int32_t ty = spec.token_types.empty() ? 1 : spec.token_types[i];
    t.type = ty >= 0 && ty <= 6 ? TokenType(ty) : TokenType::Undefined;
  }
  // Later duplicates win, as in llama.cpp's token_to_id.
  for (size_t i = 0; i < n; ++i) by_text_[tokens_[i].text] = int32_t(i);

  auto check_id = [&](int32_t id, const char* what) {
    if (id >= int32_t(n) || id < -1) fail("tokenizer: %s id %d outside the vocabulary of %zu", what, id, n);
    return id;
  };
  bos = check_id(spec.bos_id, "BOS");
  eos = check_id(spec.eos_id, "EOS");
  unk = check_id(spec.unk_id, "UNK");
  eot = check_id(spec.eot_id, "EOT");
  eom = check_id(spec.eom_id, "EOM");
  if (!byte_level_) {
    if (bos < 0 && n > 1) bos = 1;
    if (eos < 0 && n > 2) eos = 2;
    if (unk < 0) unk = 0;
  }

  if (byte_level_) {
    pre_ = std::make_unique<PreTokenizer>(spec.pre);
    build_merges(spec.merges);
  }
  add_bos = spec.add_bos >= 0 ? spec.add_bos != 0 : (!byte_level_ || pre_->ignore_merges());
  add_eos = spec.add_eos > 0;
  add_space_prefix = !byte_level_ && spec.add_space_prefix != 0;
  if (add_bos && bos < 0) add_bos = false;
  if (add_eos && eos < 0) add_eos = false;

  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    int32_t id = find(hex);
    if (id < 0 || tokens_[size_t(id)].type != TokenType::Byte) id = find(std::string(1, char(b)));
    spm_byte_[b] = id >= 0 ? id : unk;
    bpe_byte_[b] = find(byte_to_symbol(uint8_t(b)));
  }

  for (int32_t id : {eos, eot, eom})
    if (id >= 0) eog.push_back(id);
  for (const char* t : kEndOfTurnTexts)
    if (int32_t id = find(t); id >= 0) eog.push_back(id);
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());

  for (size_t i = 0; i < n; ++i) {
    const TokenType ty = tokens_[i].type;
    if ((ty == TokenType::Control || ty == TokenType::UserDefined || ty == TokenType::Unknown) &&
        !tokens_[i].text.empty())
      specials_.push_back(int32_t(i));
  }
  if (!byte_level_) {
    const std::string space = "\xE2\x96\x81";
    spm_cut_before_space_ = true;
    for (size_t i = 0; i < n && spm_cut_before_space_; ++i) {
      const std::string& t = tokens_[i].text;
      size_t lead = 0;
      while (t.compare(lead, 3, space) == 0) lead += 3;
      if (find_mergeable(t) >= 0 && t.find(space, lead) != std::string::npos) spm_cut_before_space_ = false;
    }
  }
  std::stable_sort(specials_.begin(), specials_.end(), [&](int32_t a, int32_t b) {
    return tokens_[size_t(a)].text.size() > tokens_[size_t(b)].text.size();
  });
  set_special_rules(lower(spec.name));
}

// llama.cpp gives Phi-3's special tokens an rstrip (they swallow the
// whitespace after them), except the ones that start or end a document.
void Vocab::set_special_rules(const std::string& name) {
  if (name.find("phi-3") == std::string::npos && name.find("phi3") == std::string::npos) return;
  for (int32_t id : specials_) tokens_[size_t(id)].rstrip = true;
  if (int32_t id = find("</s>"); id >= 0) tokens_[size_t(id)].rstrip = true;
  for (const char* t : {"<unk>", "<s>", "<|endoftext|>"})
    if (int32_t id = find(t); id >= 0) tokens_[size_t(id)].rstrip = false;
}

void Vocab::build_merges(const std::vector<std::string>& merges) {
  merges_.reserve(merges.size() * 2);
  auto id_of = [&](const std::string& s) -> int32_t {
    if (int32_t id = find(s); id >= 0) return id;
    auto it = extra_ids_.find(s);
    return it == extra_ids_.end() ? -1 : it->second;
  };
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& m = merges[rank];
    // The first character may itself be a space in exotic vocabularies, hence from 1.
    const size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
    if (sp == std::string::npos) fail("tokenizer: merge %zu ('%s') is not 'left right'", rank, m.c_str());
    const std::string left = m.substr(0, sp), right = m.substr(sp + 1);
    const int32_t l = id_of(left), r = id_of(right);
    if (l < 0 || r < 0) continue;  // can never apply: a side is never a symbol
    const std::string both = left + right;
    int32_t merged = id_of(both);
    if (merged < 0) {
      merged = size() + int32_t(extra_.size());
      extra_.push_back(both);
      extra_ids_.emplace(both, merged);
    }
    const uint64_t key = (uint64_t(uint32_t(l)) << 32) | uint32_t(r);
    merges_.emplace(key, (uint64_t(rank) << 32) | uint32_t(merged));  // the first (best) rank wins
  }
}

int32_t Vocab::find(std::string_view text) const {
  auto it = by_text_.find(text);
  return it == by_text_.end() ? -1 : it->second;
}

int32_t Vocab::find_mergeable(std::string_view text) const {
  const int32_t id = find(text);
  if (id < 0) return -1;
  const TokenType t = tokens_[size_t(id)].type;
  // SentencePiece never produces control, unknown, byte or unused pieces from text.
  return t == TokenType::Normal || t == TokenType::UserDefined || t == TokenType::Undefined ? id : -1;
}

bool Vocab::merge(int32_t left, int32_t right, int32_t* rank, int32_t* merged) const {
  if (left < 0 || right < 0) return false;
  auto it = merges_.find((uint64_t(uint32_t(left)) << 32) | uint32_t(right));
  if (it == merges_.end()) return false;
  *rank = int32_t(it->second >> 32);
  *merged = int32_t(uint32_t(it->second));
  return true;
}

std::vector<Fragment> Vocab::partition(const std::string& text, bool parse_special) const {
  std::vector<Fragment> cur, next;
  if (text.empty()) return cur;
  cur.push_back({-1, 0, text.size()});
  const std::string_view all(text);
  for (int32_t id : specials_) {
    const Token& tok = tokens_[size_t(id)];
    if (!parse_special && tok.type != TokenType::UserDefined) continue;
    const std::string_view needle(tok.text);
    next.clear();
    bool found = false;
    for (const Fragment& f : cur) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t off = f.offset;
      const size_t end = f.offset + f.length;
      while (off < end) {
        const size_t m = all.substr(0, end).find(needle, off);
        if (m == std::string_view::npos) break;
        found = true;
        size_t left_end = m;
        if (tok.lstrip)
          while (left_end > off && ascii_space(text[left_end - 1])) --left_end;
        if (left_end > off) next.push_back({-1, off, left_end - off});
        next.push_back({id, m, needle.size()});
        off = m + needle.size();
        if (tok.rstrip)
          while (off < end && ascii_space(text[off])) ++off;
      }
      if (off < end) next.push_back({-1, off, end - off});
    }
    if (found) cur.swap(next);
  }
  return cur;
}

}  // namespace qgml::tok
