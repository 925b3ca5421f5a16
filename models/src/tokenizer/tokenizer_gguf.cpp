// Tokenizer::from_gguf: the tokenizer.ggml.* keys -> VocabSpec.
#include <limits>

#include "qgml/error.h"
#include "qgml/gguf.h"
#include "qgml/tokenizer.h"

namespace qgml {
namespace {

const gguf::Value& array_of(const gguf::Reader& f, const std::string& key, gguf::ValueType elem, bool numeric) {
  const gguf::Value* v = f.find(key);
  if (!v) fail("%s: key %s: missing", f.path().c_str(), key.c_str());
  const bool ok = v->type == gguf::ValueType::ARRAY &&
                  (numeric ? v->elem_type != gguf::ValueType::STRING && v->elem_type != gguf::ValueType::ARRAY
                           : v->elem_type == elem);
  if (!ok) fail("%s: key %s: expected an array of %s", f.path().c_str(), key.c_str(), gguf::value_type_name(elem));
  return *v;
}

int32_t optional_id(const gguf::Reader& f, const std::string& key) {
  const int64_t id = f.get_int(key, -1);
  if (id < -1 || id > INT32_MAX) fail("%s: key %s: token id %lld out of range", f.path().c_str(), key.c_str(),
                                      static_cast<long long>(id));
  return int32_t(id);
}

// Scores may be stored as F64: saturate what float cannot hold (narrowing a
// finite double beyond float's range is undefined behaviour).
float to_float(double d) {
  if (d > std::numeric_limits<float>::max()) return std::numeric_limits<float>::infinity();
  if (d < -std::numeric_limits<float>::max()) return -std::numeric_limits<float>::infinity();
  return float(d);
}

int optional_flag(const gguf::Reader& f, const std::string& key) {
  if (!f.find(key)) return -1;
  return f.get_int(key) != 0 ? 1 : 0;
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::Reader& f) {
  VocabSpec spec;
  spec.model = f.get_string("tokenizer.ggml.model");
  spec.pre = f.get_string("tokenizer.ggml.pre", "");
  spec.name = f.get_string("general.name", "");
  for (const auto& t : array_of(f, "tokenizer.ggml.tokens", gguf::ValueType::STRING, false).items)
    spec.tokens.push_back(t.str);
  if (f.find("tokenizer.ggml.scores"))
    for (const auto& s : array_of(f, "tokenizer.ggml.scores", gguf::ValueType::F32, true).items)
      spec.scores.push_back(to_float(s.as_double()));
  if (f.find("tokenizer.ggml.token_type"))
    for (const auto& t : array_of(f, "tokenizer.ggml.token_type", gguf::ValueType::I32, true).items)
      spec.token_types.push_back(int32_t(t.as_int()));
  if (f.find("tokenizer.ggml.merges"))
    for (const auto& m : array_of(f, "tokenizer.ggml.merges", gguf::ValueType::STRING, false).items)
      spec.merges.push_back(m.str);
  spec.bos_id = optional_id(f, "tokenizer.ggml.bos_token_id");
  spec.eos_id = optional_id(f, "tokenizer.ggml.eos_token_id");
  spec.unk_id = optional_id(f, "tokenizer.ggml.unknown_token_id");
  spec.eot_id = optional_id(f, "tokenizer.ggml.eot_token_id");
  spec.eom_id = optional_id(f, "tokenizer.ggml.eom_token_id");
  spec.add_bos = optional_flag(f, "tokenizer.ggml.add_bos_token");
  spec.add_eos = optional_flag(f, "tokenizer.ggml.add_eos_token");
  spec.add_space_prefix = optional_flag(f, "tokenizer.ggml.add_space_prefix");
  try {
    return std::make_unique<Tokenizer>(spec);
  } catch (const Error& e) {
    fail("%s: %s", f.path().c_str(), e.what());
  }
}

}  // namespace qgml
