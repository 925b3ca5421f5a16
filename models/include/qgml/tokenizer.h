// qgml/tokenizer.h — text <-> token ids for the vocabularies GGUF files carry
// (the tokenizer.ggml.* keys, as llama.cpp writes them).
//
// Two models:
//  - "llama": SentencePiece-style BPE (Llama 1/2, TinyStories, Phi-3...):
//    scores decide the merges, a dummy-prefix space, spaces written as U+2581
//    and <0xXX> byte tokens for what the vocabulary lacks;
//  - "gpt2": byte-level BPE (GPT-2, Falcon, StarCoder, DeepSeek, Llama 3,
//    Qwen 2...): a pre-tokenizer (tokenizer.ggml.pre) splits the text into
//    words, bytes map to printable characters, merges apply by rank.
// Token ids and their pieces match llama.cpp's for the same file.
//
// Any bytes are accepted, invalid UTF-8 included, and decode(encode(x)) == x
// unless the vocabulary itself loses information (no byte fallback, an
// rstrip special token, a user-defined token that spells a byte symbol).
// A Tokenizer is immutable once built: encode and decode are thread-safe.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qgml {

namespace gguf {
class Reader;
}

// tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
};

// Everything the tokenizer.ggml.* keys hold. from_gguf() fills it from a file;
// tests and converters may build one by hand.
struct VocabSpec {
  std::string model = "llama";          // "llama" (SentencePiece BPE) or "gpt2" (byte-level BPE)
  std::string pre;                      // gpt2 pre-tokenizer name; "" means "default"
  std::vector<std::string> tokens;
  std::vector<float> scores;            // merge priorities of "llama"; may be empty for "gpt2"
  std::vector<int32_t> token_types;     // TokenType values; empty means all Normal
  std::vector<std::string> merges;      // "left right", best first ("gpt2" only)
  // -1: absent. Absent BOS/EOS/UNK of a "llama" vocabulary default to 1/2/0 like llama.cpp.
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, eot_id = -1, eom_id = -1;
  // -1: the model's default (BOS: "llama" and llama3 yes, others no; EOS no; prefix: "llama" yes).
  int add_bos = -1, add_eos = -1, add_space_prefix = -1;
  std::string name;                     // general.name: llama.cpp keys Phi-3's special-token rules on it
};

class Tokenizer {
 public:
  // Reads the tokenizer.ggml.* metadata; throws qgml::Error naming the file and key on bad data.
  static std::unique_ptr<Tokenizer> from_gguf(const gguf::Reader& file);
  explicit Tokenizer(const VocabSpec& spec);  // throws qgml::Error on inconsistent vocabularies
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // add_special: BOS/EOS where the vocabulary asks for them (add_bos_default(), add_eos).
  // parse_special: control tokens written in the text ("<|endoftext|>") become their ids;
  // user-defined tokens are always recognised, as in llama.cpp and Hugging Face.
  std::vector<int32_t> encode(const std::string& text, bool add_special = true, bool parse_special = false) const;

  // The exact bytes of a sequence: the inverse of encode (the dummy-prefix space that
  // "llama" vocabularies add at the start and after special tokens is removed again).
  // Control and unknown tokens render as their text only with render_special.
  std::string decode(const std::vector<int32_t>& ids, bool render_special = false) const;

  // The bytes one token contributes when streaming (a piece may end inside a UTF-8
  // character; concatenate before printing). Throws qgml::Error on an id out of range.
  std::string token_to_piece(int32_t id, bool render_special = false) const;

  const std::string& token_text(int32_t id) const;  // the vocabulary entry as stored
  TokenType token_type(int32_t id) const;
  int32_t find_token(const std::string& text) const;  // -1 when absent

  int32_t n_vocab() const;
  int32_t bos() const;  // -1 when the vocabulary has none
  int32_t eos() const;
  bool add_bos_default() const;
  bool is_eog(int32_t id) const;  // end of generation: EOS, EOT, EOM, <|im_end|>...
  bool is_byte_level() const;     // "gpt2" model

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qgml
