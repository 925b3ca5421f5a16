// A Tokenizer's VocabSpec from converter metadata (the tokenizer.ggml.* keys a
// SourceModel will write), mirroring Tokenizer::from_gguf without a file.
#pragma once
#include <string>
#include <vector>

#include "qgml/convert.h"
#include "qgml/tokenizer.h"

namespace qgml::fuzz {

inline VocabSpec vocab_spec_from(const convert::SourceModel& m) {
  VocabSpec s;
  auto str = [&](const char* key, std::string* out) {
    if (const gguf::Value* v = m.find(key)) *out = v->str;
  };
  auto id = [&](const char* key, int32_t* out) {
    if (const gguf::Value* v = m.find(key)) *out = static_cast<int32_t>(v->as_int());
  };
  auto flag = [&](const char* key, int* out) {
    if (const gguf::Value* v = m.find(key)) *out = v->as_int() != 0;
  };
  str("tokenizer.ggml.model", &s.model);
  str("tokenizer.ggml.pre", &s.pre);
  if (const gguf::Value* v = m.find("tokenizer.ggml.tokens"))
    for (const gguf::Value& x : v->items) s.tokens.push_back(x.str);
  if (const gguf::Value* v = m.find("tokenizer.ggml.scores"))
    for (const gguf::Value& x : v->items) s.scores.push_back(static_cast<float>(x.as_double()));
  if (const gguf::Value* v = m.find("tokenizer.ggml.token_type"))
    for (const gguf::Value& x : v->items) s.token_types.push_back(static_cast<int32_t>(x.as_int()));
  if (const gguf::Value* v = m.find("tokenizer.ggml.merges"))
    for (const gguf::Value& x : v->items) s.merges.push_back(x.str);
  id("tokenizer.ggml.bos_token_id", &s.bos_id);
  id("tokenizer.ggml.eos_token_id", &s.eos_id);
  id("tokenizer.ggml.unknown_token_id", &s.unk_id);
  flag("tokenizer.ggml.add_bos_token", &s.add_bos);
  flag("tokenizer.ggml.add_eos_token", &s.add_eos);
  flag("tokenizer.ggml.add_space_prefix", &s.add_space_prefix);
  return s;
}

}  // namespace qgml::fuzz
