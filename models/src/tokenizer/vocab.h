// The vocabulary as the encoders use it: token table, text -> id lookup,
// merge table, special-token partitioning. Built once from a VocabSpec.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "qgml/tokenizer.h"
#include "tokenizer/pretokenize.h"

namespace qgml::tok {

struct Token {
  std::string text;
  float score = 0.0f;
  TokenType type = TokenType::Normal;
  bool lstrip = false, rstrip = false;  // special tokens that eat neighbouring whitespace
};

// A run of the input: raw text to tokenize, or a special token found in it.
struct Fragment {
  int32_t token;  // -1 for text
  size_t offset, length;
};

class Vocab {
 public:
  explicit Vocab(const VocabSpec& spec);
  Vocab(const Vocab&) = delete;  // by_text_ holds views into tokens_
  Vocab& operator=(const Vocab&) = delete;

  bool byte_level() const { return byte_level_; }
  int32_t size() const { return int32_t(tokens_.size()); }
  const Token& token(int32_t id) const { return tokens_[size_t(id)]; }
  bool valid(int32_t id) const { return id >= 0 && id < size(); }

  int32_t find(std::string_view text) const;           // any token, -1 when absent
  int32_t find_mergeable(std::string_view text) const;  // only tokens BPE may produce

  // Splits text at special tokens (longest first, as llama.cpp does). Control and unknown
  // tokens count only with parse_special; user-defined ones always.
  std::vector<Fragment> partition(const std::string& text, bool parse_special) const;

  // True when no mergeable token holds U+2581 after another character (Llama's
  // vocabularies): then SentencePiece merging may run word by word.
  bool spm_cut_before_space() const { return spm_cut_before_space_; }
  // SentencePiece byte fallback: the <0xXX> token of a byte, else its one-byte token, else UNK.
  int32_t spm_byte_token(uint8_t b) const { return spm_byte_[b]; }
  // Byte-level BPE: the token of the character that stands for byte b (-1 if missing).
  int32_t bpe_byte_token(uint8_t b) const { return bpe_byte_[b]; }
  // Rank and result of merging two adjacent symbols; false when they do not merge.
  // Merge results missing from the vocabulary get ids from size() upwards.
  bool merge(int32_t left, int32_t right, int32_t* rank, int32_t* merged) const;
  const std::string& extra_text(int32_t id) const { return extra_[size_t(id - size())]; }

  const PreTokenizer* pre() const { return pre_.get(); }

  int32_t bos = -1, eos = -1, unk = -1, eot = -1, eom = -1;
  bool add_bos = false, add_eos = false, add_space_prefix = false;
  std::vector<int32_t> eog;  // sorted

 private:
  void build_merges(const std::vector<std::string>& merges);
  void set_special_rules(const std::string& name);

  bool byte_level_ = false;
  bool spm_cut_before_space_ = false;
  std::vector<Token> tokens_;
  std::unordered_map<std::string_view, int32_t> by_text_;  // views into tokens_[i].text
  std::unordered_map<uint64_t, uint64_t> merges_;          // (left << 32 | right) -> (rank << 32 | merged)
  std::vector<std::string> extra_;                         // texts of merge results outside the vocabulary
  std::unordered_map<std::string, int32_t> extra_ids_;
  std::vector<int32_t> specials_;                          // partition order
  int32_t spm_byte_[256];
  int32_t bpe_byte_[256];
  std::unique_ptr<PreTokenizer> pre_;
};

// The two encoders; both append to `out`.
// text: one raw fragment, spaces already written as U+2581 (and the dummy prefix added).
void spm_encode(const Vocab& vocab, const std::string& text, std::vector<int32_t>& out);
void bpe_encode(const Vocab& vocab, const char* text, size_t n, std::vector<int32_t>& out);

}  // namespace qgml::tok
