// Vocabulary import shared by the llama2.c and Hugging Face paths: llama.cpp's
// token types, and readers for tokenizer.bin, tokenizer.model (SentencePiece
// protobuf) and tokenizer.json (Hugging Face tokenizers).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "json.h"

namespace qgml::convert {

class SourceModel;

// tokenizer.ggml.token_type values (llama.cpp's, equal to SentencePiece's enum).
enum : int32_t {
  kTokenNormal = 1,
  kTokenUnknown = 2,
  kTokenControl = 3,
  kTokenUserDefined = 4,
  kTokenUnused = 5,
  kTokenByte = 6,
};

struct LlamaVocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
};

// "<0xAB>": SentencePiece's byte-fallback pieces.
bool is_byte_token(const std::string& t);
// ' ' → U+2581 ('▁'), SentencePiece's spelling of a space.
std::string spaces_to_sentencepiece(const std::string& s);

// llama2.c tokenizer.bin with exactly n_vocab tokens, spelt as llama.cpp spells them.
LlamaVocab read_llama2c_vocab(const std::string& path, int64_t n_vocab);
// The tokenizer.ggml.* keys for such a vocabulary (llama2.c's fixed unk 0, bos 1, eos 2).
void set_llama2c_vocab(SourceModel& m, const LlamaVocab& v);

// A SentencePiece ModelProto (tokenizer.model), parsed from the protobuf wire
// format: every piece's text, score and type, in id order.
struct SentencePieceModel {
  LlamaVocab vocab;
  int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;  // trainer_spec, with its defaults
  bool add_dummy_prefix = true;                             // normalizer_spec
};
SentencePieceModel read_sentencepiece_model(const std::string& path);

// Hugging Face tokenizer of model directory `dir` → tokenizer.ggml.* keys in
// `m`. `config` is config.json; `vocab_size` pads the vocabulary with [PAD<i>]
// tokens as llama.cpp does; `prefer_spm` picks tokenizer.model over
// tokenizer.json when both exist (Llama family; Qwen2 ships only the latter).
// A non-empty `vocab_override` (a tokenizer.model, or a llama2.c tokenizer.bin)
// replaces the directory's own tokenizer files.
void import_hf_tokenizer(const std::string& dir, const json::Value& config, int64_t vocab_size, bool prefer_spm,
                         const std::string& vocab_override, SourceModel& m);

// llama.cpp's tokenizer.ggml.pre name for a byte-level BPE tokenizer.json,
// recognised from its pre-tokenizer (llama.cpp hashes tokenizer outputs
// instead). Throws naming `path` when the structure is not one we know.
std::string detect_bpe_pre(const json::Value& tokenizer_json, const std::string& path);

}  // namespace qgml::convert
