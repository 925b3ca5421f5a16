// A GGUF byte-level BPE vocabulary back to tokenizer.json +
// tokenizer_config.json (qgml dequantize), for the pre-tokenizers whose
// Hugging Face spelling is known exactly: GPT-2's ByteLevel ("gpt-2"), Llama
// 3's Split regex ("llama-bpe") and Qwen2's ("qwen2") — the ones the importer
// (hf_tokenizer.cpp) recognises, so importing the result gives back the same
// vocabulary. Anything else (SentencePiece vocabularies, other
// pre-tokenizers) is not written, and the caller says so.
#include <cstdio>
#include <string>
#include <vector>

#include "qgml/gguf.h"
#include "qgml/io.h"

namespace qgml::convert {
namespace {

// As tokenizer.json spells them; must equal hf_tokenizer.cpp's kLlama3Regex /
// kQwen2Regex (test_import_quantized re-imports what is written here).
const char* const kLlama3Regex =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
const char* const kQwen2Regex =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

constexpr int64_t kTokenControl = 3, kTokenUserDefined = 4;  // llama.cpp's token types

std::string quote(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      o += buf;
    } else {
      o += static_cast<char>(c);
    }
  }
  return o + "\"";
}

const std::vector<gguf::Value>* array_of(const gguf::Reader& r, const char* key, gguf::ValueType elem) {
  const gguf::Value* v = r.find(key);
  if (!v || v->type != gguf::ValueType::ARRAY || v->elem_type != elem) return nullptr;
  return &v->items;
}

void write_text(const std::string& path, const std::string& text) {
  AtomicFile f(path);
  f.write(text.data(), text.size());
  f.commit();
}

}  // namespace

// Writes the two files into dir; returns "" when written, else why not.
std::string write_hf_tokenizer(const gguf::Reader& r, const std::string& dir) {
  const std::string model = r.get_string("tokenizer.ggml.model", "");
  const std::string pre = r.get_string("tokenizer.ggml.pre", "");
  if (model != "gpt2" || (pre != "gpt-2" && pre != "llama-bpe" && pre != "qwen2"))
    return "tokenizer files are not written for a '" + model + "' vocabulary with pre-tokenizer '" + pre +
           "' (only byte-level BPE with gpt-2, llama-bpe or qwen2 is): copy them from the original checkpoint";
  const auto* tokens = array_of(r, "tokenizer.ggml.tokens", gguf::ValueType::STRING);
  const auto* merges = array_of(r, "tokenizer.ggml.merges", gguf::ValueType::STRING);
  const gguf::Value* tv = r.find("tokenizer.ggml.token_type");
  if (!tokens || !merges || !tv || tv->type != gguf::ValueType::ARRAY || tv->items.size() != tokens->size())
    return "tokenizer files are not written: the GGUF's tokens, token types or merges are missing";

  std::string added, vocab;
  for (size_t i = 0; i < tokens->size(); ++i) {
    const std::string& t = (*tokens)[i].str;
    vocab += (i ? ",\n    " : "\n    ") + quote(t) + ": " + std::to_string(i);
    const int64_t type = tv->items[i].as_int();
    if (type == kTokenControl || type == kTokenUserDefined) {
      added += std::string(added.empty() ? "\n    " : ",\n    ") + "{\"id\": " + std::to_string(i) + ", \"content\": " + quote(t) +
               ", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": " +
               (type == kTokenControl ? "true" : "false") + "}";
    }
  }
  std::string merge_list;
  for (size_t i = 0; i < merges->size(); ++i) merge_list += (i ? ",\n    " : "\n    ") + quote((*merges)[i].str);

  const std::string byte_level_pre = R"({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": )";
  std::string pre_tok;
  if (pre == "gpt-2") {
    pre_tok = byte_level_pre + "true}";
  } else {
    pre_tok = std::string(R"({"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": )") +
              quote(pre == "qwen2" ? kQwen2Regex : kLlama3Regex) + R"(}, "behavior": "Isolated", "invert": false}, )" +
              byte_level_pre + "false}]}";
  }
  auto token_at = [&](const char* key) -> std::string {
    const gguf::Value* v = r.find(key);
    if (!v || !v->is_integer() || v->as_int() < 0 || static_cast<size_t>(v->as_int()) >= tokens->size()) return "";
    return (*tokens)[static_cast<size_t>(v->as_int())].str;
  };
  const std::string bos = token_at("tokenizer.ggml.bos_token_id"), eos = token_at("tokenizer.ggml.eos_token_id");
  const gguf::Value* ab = r.find("tokenizer.ggml.add_bos_token");
  const bool add_bos = ab && ab->type == gguf::ValueType::BOOL && ab->num.u != 0 && !bos.empty();
  std::string post = "null";
  if (add_bos) {
    post = R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": )" + quote(bos) +
           R"(, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "pair": [{"SpecialToken": {"id": )" + quote(bos) +
           R"(, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": )" + quote(bos) +
           R"(, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}], "special_tokens": {)" + quote(bos) +
           R"(: {"id": )" + quote(bos) + R"(, "ids": [)" + std::to_string(r.get_int("tokenizer.ggml.bos_token_id")) +
           R"(], "tokens": [)" + quote(bos) + "]}}}";
  }
  const std::string tj = std::string("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n") +
                         "  \"added_tokens\": [" + added + "\n  ],\n  \"normalizer\": null,\n  \"pre_tokenizer\": " + pre_tok +
                         ",\n  \"post_processor\": " + post +
                         ",\n  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, "
                         "\"use_regex\": true},\n  \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, "
                         "\"continuing_subword_prefix\": null, \"end_of_word_suffix\": null, \"fuse_unk\": false, "
                         "\"byte_fallback\": false, \"ignore_merges\": false,\n  \"vocab\": {" +
                         vocab + "\n  },\n  \"merges\": [" + merge_list + "\n  ]}\n}\n";
  write_text(dir + "/tokenizer.json", tj);

  std::string cfg = "{\n  \"tokenizer_class\": \"PreTrainedTokenizerFast\",\n";
  if (!bos.empty()) cfg += "  \"bos_token\": " + quote(bos) + ",\n";
  if (!eos.empty()) cfg += "  \"eos_token\": " + quote(eos) + ",\n";
  const gguf::Value* ae = r.find("tokenizer.ggml.add_eos_token");
  cfg += std::string("  \"add_bos_token\": ") + (add_bos ? "true" : "false") + ",\n  \"add_eos_token\": " +
         (ae && ae->type == gguf::ValueType::BOOL && ae->num.u != 0 ? "true" : "false") + "\n}\n";
  write_text(dir + "/tokenizer_config.json", cfg);
  return "";
}

}  // namespace qgml::convert
