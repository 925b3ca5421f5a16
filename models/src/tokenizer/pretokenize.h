// Pre-tokenizers of byte-level BPE vocabularies: the sequence of split
// regexes llama.cpp names in tokenizer.ggml.pre. Each regex splits every piece
// the previous one produced into its matches and the runs between them, so no
// byte is ever dropped.
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/regex.h"

namespace qgml::tok {

class PreTokenizer {
 public:
  // `name` as in tokenizer.ggml.pre ("" means "default"); throws qgml::Error when unknown.
  explicit PreTokenizer(const std::string& name);

  // Appends the words of text[0, n) as [begin, end) byte ranges, in order, covering it all.
  void split(const char* text, size_t n, std::vector<std::pair<size_t, size_t>>& words) const;

  // llama3-style vocabularies take a word that is itself a token as is, without merging.
  bool ignore_merges() const { return ignore_merges_; }

 private:
  std::vector<Regex> regexes_;
  bool ignore_merges_ = false;
};

}  // namespace qgml::tok
