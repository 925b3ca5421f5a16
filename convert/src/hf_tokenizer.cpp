// Hugging Face tokenizers → tokenizer.ggml.* metadata, following what
// llama.cpp's convert_hf_to_gguf.py writes:
//  * tokenizer.model (SentencePiece)          → model "llama", pre "default", scores
//  * tokenizer.json, BPE with byte fallback   → model "llama", pre "default", scores
//  * tokenizer.json, byte-level BPE           → model "gpt2", pre <recognised>, merges
//  * vocab.json + merges.txt (OPT)            → model "gpt2", pre "gpt-2", merges
// Special token ids come from tokenizer_config.json (token text looked up in
// the vocabulary), then config.json's *_token_id, then the SentencePiece
// trainer spec.
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>

#include "qgml/convert.h"
#include "qgml/error.h"
#include "qgml/io.h"
#include "tokenizer_types.h"

namespace qgml::convert {

bool is_byte_token(const std::string& t) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); };
  return t.size() == 6 && t.compare(0, 3, "<0x") == 0 && hex(t[3]) && hex(t[4]) && t[5] == '>';
}

std::string spaces_to_sentencepiece(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == ' ') out += "\xe2\x96\x81";
    else out += c;
  }
  return out;
}

namespace {

constexpr int64_t kMaxVocab = int64_t{1} << 24;

// The pre-tokenizer regexes llama.cpp implements, as tokenizer.json spells them.
const char* const kLlama3Regex =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
const char* const kQwen2Regex =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

bool file_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// A special-token entry of tokenizer_config.json: "text" or {"content": "text", ...}.
const std::string* token_text(const json::Value* v) {
  if (!v) return nullptr;
  if (v->is_string()) return &v->as_string();
  if (const json::Value* c = v->get("content"); c && c->is_string()) return &c->as_string();
  return nullptr;
}

// llama.cpp marks these CONTROL even when a checkpoint forgot "special": true.
bool looks_special(const std::string& t) {
  auto wrapped = [&](const char* a, const char* b) {
    const std::string sa(a), sb(b);
    return t.size() >= sa.size() + sb.size() && t.compare(0, sa.size(), sa) == 0 &&
           t.compare(t.size() - sb.size(), sb.size(), sb) == 0;
  };
  return t == "<pad>" || t == "<mask>" || wrapped("<|", "|>") || wrapped("<\xef\xbd\x9c", "\xef\xbd\x9c>") ||
         wrapped("<unused", ">");
}

struct Vocab {
  LlamaVocab v;
  std::vector<std::string> merges;
  bool has_scores = false;
  bool has_merges = false;
  std::string model, pre;
  std::unordered_map<std::string, int64_t> ids;  // filled by index()
  SentencePieceModel spm_defaults;                 // for the trainer spec's special ids
  bool from_spm = false;

  void index() {
    ids.clear();
    for (size_t i = 0; i < v.tokens.size(); ++i) ids.emplace(v.tokens[i], static_cast<int64_t>(i));
  }
};

void pad_to(LlamaVocab& v, int64_t n, bool scores) {
  while (static_cast<int64_t>(v.tokens.size()) < n) {
    v.tokens.push_back("[PAD" + std::to_string(v.tokens.size()) + "]");
    v.types.push_back(kTokenUnused);
    if (scores) v.scores.push_back(-1000.0f);
  }
}

int64_t checked_id(const json::Value& v, const std::string& path, const std::string& what) {
  if (!v.is_int() || v.as_int() < 0 || v.as_int() >= kMaxVocab) {
    fail("%s: %s: token id must be an integer in [0, %lld)", path.c_str(), what.c_str(), static_cast<long long>(kMaxVocab));
  }
  return v.as_int();
}

// Applies tokenizer_config.json's added_tokens_decoder (SentencePiece path).
void apply_added_tokens_decoder(LlamaVocab& v, const json::Value* tcfg, const std::string& path) {
  const json::Value* dec = tcfg ? tcfg->get("added_tokens_decoder") : nullptr;
  if (!dec || !dec->is_object()) return;
  for (const auto& [key, entry] : dec->members()) {
    char* end = nullptr;
    const long long id = std::strtoll(key.c_str(), &end, 10);
    if (key.empty() || *end != '\0' || id < 0) fail("%s: added_tokens_decoder key '%s' is not a token id", path.c_str(), key.c_str());
    if (id >= static_cast<long long>(v.tokens.size())) continue;  // llama.cpp ignores ids past vocab_size too
    const std::string* text = token_text(&entry);
    if (!text) fail("%s: added_tokens_decoder entry %lld has no content", path.c_str(), id);
    const json::Value* special = entry.get("special");
    const bool is_special = (special && special->is_bool() && special->as_bool()) || looks_special(*text);
    v.tokens[static_cast<size_t>(id)] = *text;
    v.types[static_cast<size_t>(id)] = is_special ? kTokenControl : kTokenUserDefined;
    v.scores[static_cast<size_t>(id)] = -1000.0f;
  }
}

Vocab import_spm(const std::string& model_path, const json::Value* tcfg, const std::string& tcfg_path, int64_t vocab_size) {
  Vocab out;
  out.spm_defaults = read_sentencepiece_model(model_path);
  out.from_spm = true;
  out.v = out.spm_defaults.vocab;
  if (vocab_size > 0 && static_cast<int64_t>(out.v.tokens.size()) > vocab_size) {
    fail("%s: %zu pieces, more than config.json's vocab_size %lld", model_path.c_str(), out.v.tokens.size(),
         static_cast<long long>(vocab_size));
  }
  pad_to(out.v, vocab_size, true);
  apply_added_tokens_decoder(out.v, tcfg, tcfg_path);
  out.has_scores = true;
  out.model = "llama";
  out.pre = "default";
  return out;
}

// Merges appear as "a b" strings (older tokenizers) or ["a", "b"] pairs.
std::vector<std::string> read_merges(const json::Value& model, const std::string& path) {
  std::vector<std::string> merges;
  const json::Value* m = model.get("merges");
  if (!m) return merges;
  if (!m->is_array()) fail("%s: model.merges is not an array", path.c_str());
  merges.reserve(m->items().size());
  for (const json::Value& e : m->items()) {
    if (e.is_string()) {
      merges.push_back(e.as_string());
    } else if (e.is_array() && e.items().size() == 2 && e.items()[0].is_string() && e.items()[1].is_string()) {
      merges.push_back(e.items()[0].as_string() + " " + e.items()[1].as_string());
    } else {
      fail("%s: model.merges entry %zu is neither \"a b\" nor [\"a\", \"b\"]", path.c_str(), merges.size());
    }
  }
  return merges;
}

bool is_sentencepiece_style(const json::Value& tj) {
  const json::Value* model = tj.get("model");
  if (const json::Value* bf = model ? model->get("byte_fallback") : nullptr; bf && bf->is_bool() && bf->as_bool()) return true;
  const json::Value* pt = tj.get("pre_tokenizer");
  return pt && pt->get("type") && pt->get("type")->is_string() && pt->get("type")->as_string() == "Metaspace";
}

Vocab import_tokenizer_json(const std::string& path, const json::Value& tj, int64_t vocab_size) {
  const json::Value* model = tj.get("model");
  if (!model || !model->is_object()) fail("%s: no \"model\" object", path.c_str());
  const json::Value* type = model->get("type");
  const std::string type_s = type && type->is_string() ? type->as_string() : "BPE";  // old files omit it
  if (type_s != "BPE") fail("%s: tokenizer model type '%s' is not supported (only BPE)", path.c_str(), type_s.c_str());
  const json::Value* vocab = model->get("vocab");
  if (!vocab || !vocab->is_object()) fail("%s: model.vocab is not an object", path.c_str());

  Vocab out;
  const bool spm = is_sentencepiece_style(tj);
  // Lay the vocabulary out by id; gaps become [PAD<i>] like llama.cpp's.
  int64_t n = vocab_size > 0 ? vocab_size : 0;
  std::vector<std::pair<int64_t, const std::string*>> entries;
  entries.reserve(vocab->members().size());
  for (const auto& [text, id] : vocab->members()) {
    const int64_t i = checked_id(id, path, "model.vocab['" + text + "']");
    entries.emplace_back(i, &text);
    n = std::max(n, i + 1);
  }
  const json::Value* added = tj.get("added_tokens");
  if (added && !added->is_array()) fail("%s: added_tokens is not an array", path.c_str());
  if (added) {
    for (const json::Value& a : added->items()) {
      const json::Value* id = a.get("id");
      if (!id) fail("%s: an added_tokens entry has no id", path.c_str());
      n = std::max(n, checked_id(*id, path, "added_tokens id") + 1);
    }
  }
  if (vocab_size > 0 && n > vocab_size) {
    fail("%s: token ids reach %lld, beyond config.json's vocab_size %lld", path.c_str(), static_cast<long long>(n - 1),
         static_cast<long long>(vocab_size));
  }
  pad_to(out.v, n, spm);
  std::vector<bool> seen(static_cast<size_t>(n), false);
  for (const auto& [i, text] : entries) {
    if (seen[static_cast<size_t>(i)]) fail("%s: token id %lld is used twice in model.vocab", path.c_str(), static_cast<long long>(i));
    seen[static_cast<size_t>(i)] = true;
    out.v.tokens[static_cast<size_t>(i)] = *text;
    out.v.types[static_cast<size_t>(i)] = spm && is_byte_token(*text) ? kTokenByte : kTokenNormal;
    if (spm) out.v.scores[static_cast<size_t>(i)] = 0.0f;
  }
  out.merges = read_merges(*model, path);
  if (spm) {
    // SentencePiece-BPE merges the pair whose result scores highest, so a
    // token's score is minus the rank of the merge that makes it.
    out.index();
    for (size_t r = 0; r < out.merges.size(); ++r) {
      const std::string& mg = out.merges[r];
      const size_t sp = mg.find(' ');
      if (sp == std::string::npos) continue;
      auto it = out.ids.find(mg.substr(0, sp) + mg.substr(sp + 1));
      if (it != out.ids.end() && out.v.scores[static_cast<size_t>(it->second)] == 0.0f) {
        out.v.scores[static_cast<size_t>(it->second)] = -static_cast<float>(r + 1);
      }
    }
    if (const std::string* unk = token_text(model->get("unk_token"))) {
      out.index();
      if (auto it = out.ids.find(*unk); it != out.ids.end()) out.v.types[static_cast<size_t>(it->second)] = kTokenUnknown;
    }
  }
  if (added) {
    for (const json::Value& a : added->items()) {
      const int64_t i = a.get("id")->as_int();
      const std::string* text = token_text(&a);
      if (!text) fail("%s: added token %lld has no content", path.c_str(), static_cast<long long>(i));
      const json::Value* special = a.get("special");
      const bool is_special = (special && special->is_bool() && special->as_bool()) || looks_special(*text);
      out.v.tokens[static_cast<size_t>(i)] = *text;
      out.v.types[static_cast<size_t>(i)] = is_special ? kTokenControl : kTokenUserDefined;
      if (spm) out.v.scores[static_cast<size_t>(i)] = -1000.0f;
    }
  }
  if (spm) {
    out.model = "llama";
    out.pre = "default";
    out.has_scores = true;
  } else {
    out.model = "gpt2";
    out.pre = detect_bpe_pre(tj, path);
    out.has_merges = true;
  }
  return out;
}

// GPT-2's slow-tokenizer files (vocab.json + merges.txt), which OPT ships
// instead of a tokenizer.json: byte-level BPE with GPT-2's pre-tokenizer.
// Tokens tokenizer_config.json names as special become CONTROL, as llama.cpp
// marks a tokenizer's added special tokens.
Vocab import_vocab_merges(const std::string& vocab_path, const std::string& merges_path, const json::Value* tcfg,
                          int64_t vocab_size) {
  const json::Value vj = json::parse_file(vocab_path);
  if (!vj.is_object()) fail("%s: not a JSON object of token → id", vocab_path.c_str());
  Vocab out;
  int64_t n = vocab_size > 0 ? vocab_size : 0;
  for (const auto& [text, id] : vj.members()) n = std::max(n, checked_id(id, vocab_path, "'" + text + "'") + 1);
  if (vocab_size > 0 && n > vocab_size)
    fail("%s: token ids reach %lld, beyond config.json's vocab_size %lld", vocab_path.c_str(),
         static_cast<long long>(n - 1), static_cast<long long>(vocab_size));
  pad_to(out.v, n, false);
  std::vector<bool> seen(static_cast<size_t>(n), false);
  for (const auto& [text, id] : vj.members()) {
    const size_t i = static_cast<size_t>(id.as_int());
    if (seen[i]) fail("%s: token id %zu is used twice", vocab_path.c_str(), i);
    seen[i] = true;
    out.v.tokens[i] = text;
    out.v.types[i] = kTokenNormal;
  }
  const std::string text = read_file(merges_path);
  for (size_t pos = 0, line = 1; pos < text.size(); ++line) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string l = text.substr(pos, end - pos);
    pos = end + 1;
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (l.empty() || (line == 1 && l.compare(0, 9, "#version:") == 0)) continue;
    const size_t sp = l.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 == l.size() || l.find(' ', sp + 1) != std::string::npos)
      fail("%s: line %zu is not a merge \"a b\"", merges_path.c_str(), line);
    out.merges.push_back(l);
  }
  out.index();
  auto mark = [&](const std::string* t) {
    if (!t) return;
    if (auto it = out.ids.find(*t); it != out.ids.end()) out.v.types[static_cast<size_t>(it->second)] = kTokenControl;
  };
  if (tcfg) {
    for (const char* k : {"bos_token", "eos_token", "unk_token", "pad_token"}) mark(token_text(tcfg->get(k)));
    if (const json::Value* dec = tcfg->get("added_tokens_decoder"); dec && dec->is_object()) {
      for (const auto& [key, entry] : dec->members()) {
        const json::Value* special = entry.get("special");
        if (special && special->is_bool() && special->as_bool()) mark(token_text(&entry));
      }
    }
  }
  out.model = "gpt2";
  out.pre = "gpt-2";
  out.has_merges = true;
  return out;
}

// add_bos/add_eos from the post-processor when tokenizer_config.json is silent.
void template_adds(const json::Value* pp, bool* bos, bool* eos) {
  if (!pp) return;
  const json::Value* type = pp->get("type");
  if (!type || !type->is_string()) return;
  if (type->as_string() == "Sequence") {
    if (const json::Value* ps = pp->get("processors"); ps && ps->is_array()) {
      for (const json::Value& p : ps->items()) template_adds(&p, bos, eos);
    }
    return;
  }
  if (type->as_string() != "TemplateProcessing") return;
  const json::Value* single = pp->get("single");
  if (!single || !single->is_array() || single->items().empty()) return;
  *bos = single->items().front().get("SpecialToken") != nullptr;
  *eos = single->items().back().get("SpecialToken") != nullptr;
}

}  // namespace

std::string detect_bpe_pre(const json::Value& tj, const std::string& path) {
  const json::Value* pt = tj.get("pre_tokenizer");
  if (!pt) fail("%s: byte-level BPE without a pre_tokenizer is not supported", path.c_str());
  std::vector<const json::Value*> parts;
  const json::Value* type = pt->get("type");
  if (type && type->is_string() && type->as_string() == "Sequence") {
    const json::Value* seq = pt->get("pretokenizers");
    if (!seq || !seq->is_array()) fail("%s: pre_tokenizer Sequence without a pretokenizers array", path.c_str());
    for (const json::Value& p : seq->items()) parts.push_back(&p);
  } else {
    parts.push_back(pt);
  }
  std::vector<std::string> regexes;
  bool byte_level = false, byte_level_regex = false;
  std::string description, other, types;
  for (const json::Value* p : parts) {
    const json::Value* t = p->get("type");
    const std::string ts = t && t->is_string() ? t->as_string() : "?";
    description += (description.empty() ? "" : ", ") + ts;
    types += (types.empty() ? "" : ",") + ts;
    if (ts == "ByteLevel") {
      byte_level = true;
      const json::Value* ur = p->get("use_regex");
      byte_level_regex = !ur || !ur->is_bool() || ur->as_bool();  // tokenizers defaults it to true
    } else if (ts == "Split") {
      const json::Value* pat = p->get("pattern");
      const json::Value* re = pat ? pat->get("Regex") : nullptr;
      if (!re || !re->is_string()) {
        other = "Split without a Regex pattern";
        continue;
      }
      regexes.push_back(re->as_string());
      description += " /" + re->as_string().substr(0, 60) + (re->as_string().size() > 60 ? "…/" : "/");
    } else {
      other = ts;
    }
  }
  // Falcon's: punctuation runs, GPT-2's regex, digit runs, then digits in
  // threes; llama.cpp's "falcon" regexes do exactly this.
  if (types == "Punctuation,ByteLevel,Digits,Split" && byte_level_regex && regexes.size() == 1 &&
      regexes[0] == "[0-9][0-9][0-9]") {
    const json::Value* digits = parts[2]->get("individual_digits");
    if (!digits || !digits->is_bool() || !digits->as_bool()) return "falcon";
  }
  if (byte_level && other.empty()) {
    if (regexes.empty() && byte_level_regex) return "gpt-2";
    if (regexes.size() == 1 && !byte_level_regex) {
      if (regexes[0] == kLlama3Regex) return "llama-bpe";
      if (regexes[0] == kQwen2Regex) return "qwen2";
    }
  }
  fail("%s: unrecognised byte-level BPE pre-tokenizer (%s); known: GPT-2's ByteLevel (gpt-2), Llama 3's Split regex "
       "(llama-bpe), Qwen2's Split regex (qwen2), Falcon's sequence (falcon)", path.c_str(), description.c_str());
}

void import_hf_tokenizer(const std::string& dir, const json::Value& config, int64_t vocab_size, bool prefer_spm,
                         const std::string& vocab_override, SourceModel& m) {
  const bool override_spm =
      vocab_override.size() > 6 && vocab_override.compare(vocab_override.size() - 6, 6, ".model") == 0;
  if (!vocab_override.empty() && !override_spm) {
    set_llama2c_vocab(m, read_llama2c_vocab(vocab_override, vocab_size));
    return;
  }
  const std::string spm_path = override_spm ? vocab_override : dir + "/tokenizer.model";
  const std::string json_path = dir + "/tokenizer.json";
  const std::string tcfg_path = dir + "/tokenizer_config.json";
  json::Value tcfg_v;
  const json::Value* tcfg = nullptr;
  if (file_exists(tcfg_path)) {
    tcfg_v = json::parse_file(tcfg_path);
    if (!tcfg_v.is_object()) fail("%s: not a JSON object", tcfg_path.c_str());
    tcfg = &tcfg_v;
  }
  const bool have_spm = file_exists(spm_path), have_json = file_exists(json_path);
  if (override_spm && !have_spm) fail("%s: no such file", spm_path.c_str());
  Vocab voc;
  json::Value tj;
  if (override_spm) prefer_spm = true;
  if (have_json) {
    tj = json::parse_file(json_path);
    if (!tj.is_object()) fail("%s: not a JSON object", json_path.c_str());
  }
  if (have_spm && (prefer_spm || !have_json)) {
    voc = import_spm(spm_path, tcfg, tcfg_path, vocab_size);
  } else if (have_json) {
    voc = import_tokenizer_json(json_path, tj, vocab_size);
  } else if (file_exists(dir + "/vocab.json") && file_exists(dir + "/merges.txt")) {
    voc = import_vocab_merges(dir + "/vocab.json", dir + "/merges.txt", tcfg, vocab_size);
  } else {
    fail("%s: no tokenizer.json, tokenizer.model or vocab.json + merges.txt", dir.c_str());
  }

  using gguf::Value;
  m.set("tokenizer.ggml.model", Value::string(voc.model));
  m.set("tokenizer.ggml.pre", Value::string(voc.pre));
  m.set("tokenizer.ggml.tokens", Value::string_array(voc.v.tokens));
  if (voc.has_scores) m.set("tokenizer.ggml.scores", Value::f32_array(voc.v.scores));
  m.set("tokenizer.ggml.token_type", Value::i32_array(voc.v.types));
  if (voc.has_merges) m.set("tokenizer.ggml.merges", Value::string_array(voc.merges));

  // Special token ids.
  voc.index();
  const int64_t n_tokens = static_cast<int64_t>(voc.v.tokens.size());
  struct Special {
    const char* hf;    // tokenizer_config / config.json stem
    const char* gguf;  // tokenizer.ggml.<gguf>_token_id
    int32_t spm_default;
  };
  const Special specials[] = {{"bos", "bos", voc.spm_defaults.bos_id},
                              {"eos", "eos", voc.spm_defaults.eos_id},
                              {"unk", "unknown", voc.spm_defaults.unk_id},
                              {"pad", "padding", voc.spm_defaults.pad_id}};
  for (const Special& s : specials) {
    int64_t id = -1;
    if (const std::string* text = token_text(tcfg ? tcfg->get(std::string(s.hf) + "_token") : nullptr)) {
      if (auto it = voc.ids.find(*text); it != voc.ids.end()) id = it->second;
    }
    if (id < 0) {
      if (const json::Value* v = config.get(std::string(s.hf) + "_token_id")) {
        const json::Value* first = v->is_array() ? (v->items().empty() ? nullptr : &v->items()[0]) : v;
        if (first) id = checked_id(*first, dir + "/config.json", std::string(s.hf) + "_token_id");
      }
    }
    if (id < 0 && voc.from_spm) id = s.spm_default;
    if (id < 0) continue;
    if (id >= n_tokens) {
      fail("%s: %s token id %lld is outside the %lld-token vocabulary", dir.c_str(), s.hf, static_cast<long long>(id),
           static_cast<long long>(n_tokens));
    }
    m.set(std::string("tokenizer.ggml.") + s.gguf + "_token_id", Value::u32(static_cast<uint32_t>(id)));
  }

  bool add_bos = voc.from_spm || voc.model == "llama", add_eos = false;
  if (have_json && !voc.from_spm) template_adds(tj.get("post_processor"), &add_bos, &add_eos);
  if (tcfg) {
    if (const json::Value* v = tcfg->get("add_bos_token"); v && v->is_bool()) add_bos = v->as_bool();
    if (const json::Value* v = tcfg->get("add_eos_token"); v && v->is_bool()) add_eos = v->as_bool();
    if (const json::Value* v = tcfg->get("add_prefix_space"); v && v->is_bool()) {
      m.set("tokenizer.ggml.add_space_prefix", Value::boolean(v->as_bool()));
    }
  }
  m.set("tokenizer.ggml.add_bos_token", Value::boolean(add_bos));
  m.set("tokenizer.ggml.add_eos_token", Value::boolean(add_eos));
}

}  // namespace qgml::convert
