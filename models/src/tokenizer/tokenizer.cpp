// qgml::Tokenizer: special-token partitioning, the dummy prefix, and decoding.
#include "qgml/tokenizer.h"

#include <algorithm>
#include <cstdio>

#include "qgml/error.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace qgml {

namespace {
const char kSpmSpace[] = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space
}

struct Tokenizer::Impl {
  explicit Impl(const VocabSpec& spec) : vocab(spec) {}
  tok::Vocab vocab;

  bool special(int32_t id) const {
    const TokenType t = vocab.token(id).type;
    return t == TokenType::Control || t == TokenType::Unknown;
  }
};

Tokenizer::Tokenizer(const VocabSpec& spec) : impl_(std::make_unique<Impl>(spec)) {}
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(const std::string& text, bool add_special, bool parse_special) const {
  const tok::Vocab& v = impl_->vocab;
  std::vector<int32_t> out;
  if (add_special && v.add_bos) out.push_back(v.bos);
  // SentencePiece prefixes a space to text at the start and after each special
  // token, so that a word is spelled the same wherever it appears.
  bool after_special = true;
  std::string escaped;
  for (const tok::Fragment& f : v.partition(text, parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
      continue;
    }
    if (v.byte_level()) {
      tok::bpe_encode(v, text.data() + f.offset, f.length, out);
      continue;
    }
    escaped.clear();
    if (v.add_space_prefix && after_special) escaped += kSpmSpace;
    for (size_t i = f.offset; i < f.offset + f.length; ++i) {
      if (text[i] == ' ') escaped += kSpmSpace;
      else escaped += text[i];
    }
    tok::spm_encode(v, escaped, out);
    after_special = false;
  }
  if (add_special && v.add_eos) out.push_back(v.eos);
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
  const tok::Vocab& v = impl_->vocab;
  if (!v.valid(id)) fail("tokenizer: token id %d outside the vocabulary of %d", id, v.size());
  const tok::Token& t = v.token(id);
  switch (t.type) {
    case TokenType::Control:
    case TokenType::Unknown:
      return render_special ? t.text : std::string();
    case TokenType::UserDefined:
      return t.text;
    case TokenType::Unused:
      return std::string();
    case TokenType::Byte:
      if (!v.byte_level()) {
        // "<0xXX>"
        unsigned b = 0;
        if (t.text.size() == 6 && std::sscanf(t.text.c_str(), "<0x%2X>", &b) == 1) return std::string(1, char(b));
        return t.text;
      }
      break;
    case TokenType::Normal:
    case TokenType::Undefined:
      break;
  }
  std::string piece;
  if (!v.byte_level()) {
    piece.reserve(t.text.size());
    for (size_t i = 0; i < t.text.size();) {
      if (t.text.compare(i, 3, kSpmSpace) == 0) {
        piece += ' ';
        i += 3;
      } else {
        piece += t.text[i++];
      }
    }
    return piece;
  }
  // Byte-level: each character stands for one byte; characters outside the
  // byte alphabet (hand-added tokens) pass through as UTF-8.
  for (size_t i = 0; i < t.text.size();) {
    uint32_t cp;
    const size_t len = tok::utf8_decode(t.text.data() + i, t.text.size() - i, &cp);
    const int b = tok::symbol_to_byte(cp);
    if (b >= 0) piece += char(b);
    else piece.append(t.text, i, len);
    i += len;
  }
  return piece;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool render_special) const {
  const tok::Vocab& v = impl_->vocab;
  std::string out;
  bool strip = v.add_space_prefix;  // mirrors encode's dummy prefix
  for (const int32_t id : ids) {
    std::string piece = token_to_piece(id, render_special);
    const TokenType t = v.token(id).type;
    if (t == TokenType::Control || t == TokenType::Unknown || t == TokenType::UserDefined) {
      out += piece;
      strip = v.add_space_prefix;
      continue;
    }
    if (strip && !piece.empty()) {
      if (piece[0] == ' ') piece.erase(0, 1);
      strip = false;
    }
    out += piece;
  }
  return out;
}

const std::string& Tokenizer::token_text(int32_t id) const {
  if (!impl_->vocab.valid(id)) fail("tokenizer: token id %d outside the vocabulary", id);
  return impl_->vocab.token(id).text;
}

TokenType Tokenizer::token_type(int32_t id) const {
  if (!impl_->vocab.valid(id)) fail("tokenizer: token id %d outside the vocabulary", id);
  return impl_->vocab.token(id).type;
}

int32_t Tokenizer::find_token(const std::string& text) const { return impl_->vocab.find(text); }
int32_t Tokenizer::n_vocab() const { return impl_->vocab.size(); }
int32_t Tokenizer::bos() const { return impl_->vocab.bos; }
int32_t Tokenizer::eos() const { return impl_->vocab.eos; }
bool Tokenizer::add_bos_default() const { return impl_->vocab.add_bos; }
bool Tokenizer::is_byte_level() const { return impl_->vocab.byte_level(); }

bool Tokenizer::is_eog(int32_t id) const {
  const auto& e = impl_->vocab.eog;
  return std::binary_search(e.begin(), e.end(), id);
}

}  // namespace qgml
