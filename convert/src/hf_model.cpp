// Hugging Face Llama / Mistral / Qwen2 directories → SourceModel.
//
// Hyper-parameters come from config.json, weights from safetensors (single or
// sharded); every expected tensor must be present with the shape the config
// implies, before anything is written. Llama-family q/k rows are permuted from
// HF's rotate_half order to the adjacent pairs llama.cpp's GGUF uses; Qwen2
// keeps HF order (llama.cpp runs it with NeoX-style rope).
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hf_family.h"
#include "import_quant.h"
#include "json.h"
#include "qgml/convert.h"
#include "qgml/error.h"
#include "safetensors.h"
#include "tokenizer_types.h"

namespace qgml::convert {

namespace {

struct Arch {
  std::string gguf;  // "llama" or "qwen2"
  bool permute_qk;
  bool qkv_bias;     // Qwen2 has q/k/v biases
};

struct HParams {
  int64_t n_embd, n_ff, n_layer, n_head, n_head_kv, head_dim, n_vocab, n_ctx;
  double rms_eps, rope_theta;
  bool has_head_dim, tied;
};

bool file_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string dir_name(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return d.substr(d.find_last_of('/') + 1);
}

Arch pick_arch(const json::Value& cfg, const std::string& path) {
  std::string a, mt;
  if (const json::Value* arr = cfg.get("architectures"); arr && arr->is_array() && !arr->items().empty() &&
                                                          arr->items()[0].is_string()) {
    a = arr->items()[0].as_string();
  }
  if (const json::Value* v = cfg.get("model_type"); v && v->is_string()) mt = v->as_string();
  if (a == "LlamaForCausalLM" || a == "MistralForCausalLM" || (a.empty() && (mt == "llama" || mt == "mistral"))) {
    return {"llama", true, false};
  }
  if (a == "Qwen2ForCausalLM" || (a.empty() && mt == "qwen2")) return {"qwen2", false, true};
  fail("%s: architecture '%s' (model_type '%s') is not supported; supported: LlamaForCausalLM, MistralForCausalLM, "
       "Qwen2ForCausalLM, OPTForCausalLM, FalconForCausalLM, GPT2LMHeadModel, GPTNeoXForCausalLM", path.c_str(), a.c_str(), mt.c_str());
}

int64_t get_int(const json::Value& cfg, const char* key, const std::string& path, int64_t def = -1) {
  const json::Value* v = cfg.get(key);
  if (!v) {
    if (def >= 0) return def;
    fail("%s: missing required key '%s'", path.c_str(), key);
  }
  if (!v->is_number()) fail("%s: '%s' must be a number", path.c_str(), key);
  int64_t x;
  try {
    x = v->as_int();
  } catch (const Error& e) {
    fail("%s: '%s': %s", path.c_str(), key, e.what());
  }
  if (x <= 0 || x > (int64_t{1} << 24)) fail("%s: '%s' = %lld is out of range", path.c_str(), key, static_cast<long long>(x));
  return x;
}

double get_float(const json::Value& cfg, const char* key, const std::string& path, double def) {
  const json::Value* v = cfg.get(key);
  if (!v) return def;
  if (!v->is_number()) fail("%s: '%s' must be a number", path.c_str(), key);
  // Every float of config.json ends up as a float32 (GGUF keys, rope factors):
  // beyond float's range the conversion would be undefined.
  const double x = v->as_double();
  if (!(std::fabs(x) <= std::numeric_limits<float>::max())) {
    fail("%s: '%s' = %g is out of range for a 32-bit float", path.c_str(), key, x);
  }
  return x;
}

HParams read_hparams(const json::Value& cfg, const std::string& path) {
  HParams h;
  h.n_embd = get_int(cfg, "hidden_size", path);
  h.n_ff = get_int(cfg, "intermediate_size", path);
  h.n_layer = get_int(cfg, "num_hidden_layers", path);
  h.n_head = get_int(cfg, "num_attention_heads", path);
  h.n_head_kv = get_int(cfg, "num_key_value_heads", path, h.n_head);
  h.has_head_dim = cfg.get("head_dim") != nullptr;
  if (!h.has_head_dim && h.n_embd % h.n_head != 0) {
    fail("%s: hidden_size %lld is not a multiple of num_attention_heads %lld", path.c_str(),
         static_cast<long long>(h.n_embd), static_cast<long long>(h.n_head));
  }
  h.head_dim = get_int(cfg, "head_dim", path, h.n_embd / h.n_head);
  h.n_vocab = get_int(cfg, "vocab_size", path);
  h.n_ctx = get_int(cfg, "max_position_embeddings", path, 2048);
  h.rms_eps = get_float(cfg, "rms_norm_eps", path, 1e-6);
  h.rope_theta = get_float(cfg, "rope_theta", path, 10000.0);
  const json::Value* tie = cfg.get("tie_word_embeddings");
  h.tied = tie && tie->is_bool() && tie->as_bool();
  if (h.n_head % h.n_head_kv != 0) {
    fail("%s: num_attention_heads %lld is not a multiple of num_key_value_heads %lld", path.c_str(),
         static_cast<long long>(h.n_head), static_cast<long long>(h.n_head_kv));
  }
  if (h.head_dim % 2 != 0) fail("%s: head_dim %lld is odd; RoPE needs pairs", path.c_str(), static_cast<long long>(h.head_dim));
  if (!(h.rms_eps > 0) || !(h.rope_theta > 0)) fail("%s: rms_norm_eps and rope_theta must be positive", path.c_str());
  return h;
}

// llama.cpp's llama3 rope factors (the rope_freqs.weight tensor): per
// frequency, 1 for short wavelengths, `factor` for long ones, smoothly
// interpolated between.
std::vector<float> llama3_rope_factors(const json::Value& rs, const HParams& h, const json::Value& cfg, const std::string& path) {
  const double factor = get_float(rs, "factor", path, 8.0);
  const double low = get_float(rs, "low_freq_factor", path, 1.0);
  const double high = get_float(rs, "high_freq_factor", path, 4.0);
  const double old_ctx = get_float(rs, "original_max_position_embeddings", path,
                                   get_float(cfg, "original_max_position_embeddings", path, 8192.0));
  if (!(factor > 0) || !(old_ctx > 0) || !(low > 0) || !(high > 0) || high == low) {
    fail("%s: rope_scaling (llama3): factor, low/high_freq_factor and original_max_position_embeddings must be "
         "positive, with high_freq_factor != low_freq_factor", path.c_str());
  }
  const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
  std::vector<float> out;
  for (int64_t i = 0; i < h.head_dim; i += 2) {
    // float32 like torch, which llama.cpp uses to compute the frequencies.
    const float freq = 1.0f / std::pow(static_cast<float>(h.rope_theta), static_cast<float>(i) / static_cast<float>(h.head_dim));
    const double wavelen = 2 * M_PI / freq;
    double f;
    if (wavelen < high_wavelen) f = 1;
    else if (wavelen > low_wavelen) f = factor;
    else {
      const double smooth = (old_ctx / wavelen - low) / (high - low);
      f = 1 / ((1 - smooth) / factor + smooth);
    }
    out.push_back(static_cast<float>(f));
  }
  return out;
}

// Maps "model.layers.N.<suffix>" (and the three global tensors) to GGUF names.
bool map_name(const std::string& hf, std::string* gguf, int64_t* layer) {
  static const std::map<std::string, std::string> globals = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  static const std::map<std::string, std::string> per_layer = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  *layer = -1;
  if (auto it = globals.find(hf); it != globals.end()) {
    *gguf = it->second;
    return true;
  }
  const std::string prefix = "model.layers.";
  if (hf.compare(0, prefix.size(), prefix) != 0) return false;
  size_t pos = prefix.size(), end = pos;
  while (end < hf.size() && end - pos < 7 && hf[end] >= '0' && hf[end] <= '9') ++end;
  if (end == pos || end >= hf.size() || hf[end] != '.') return false;
  const std::string num = hf.substr(pos, end - pos);
  if (num.size() > 1 && num[0] == '0') return false;
  auto it = per_layer.find(hf.substr(end + 1));
  if (it == per_layer.end()) return false;
  *layer = std::stoll(num);
  *gguf = "blk." + num + "." + it->second;
  return true;
}

// HF stores each head's q/k rows as [first halves of the pairs; second
// halves] (rotate_half); GGUF llama wants them interleaved: rows
// (n_head, 2, hd/2) → (n_head, hd/2, 2). GGUF row h·hd + 2i + j therefore
// comes from HF row h·hd + j·hd/2 + i.
int64_t permuted_source_row(int64_t row, int64_t hd) {
  const int64_t h = row / hd, within = row % hd;
  return h * hd + (within % 2) * (hd / 2) + within / 2;
}

// An imported quantized linear as a SourceTensor: its rows in GGUF order
// (q/k permuted like float weights), stored as the importer packed them.
SourceTensor quantized_tensor(const std::string& g, const quant::Linear& lin, const HParams& h, bool permute_qk) {
  SourceTensor t;
  t.name = g;
  t.n_dims = 2;
  t.ne[0] = lin.n_in;
  t.ne[1] = lin.n_out;
  t.stored_type = lin.type;
  t.perm = lin.perm;
  int64_t n_head_perm = 0;
  if (permute_qk && g.find(".attn_q.") != std::string::npos) n_head_perm = h.n_head;
  if (permute_qk && g.find(".attn_k.") != std::string::npos) n_head_perm = h.n_head_kv;
  const int64_t hd = n_head_perm ? lin.n_out / n_head_perm : 0;
  const size_t rs = row_size(lin.type, lin.n_in);
  const int64_t k = lin.n_in;
  t.read_rows = [f = lin.float_rows, hd, k](int64_t first, int64_t count, float* dst) {
    if (hd == 0) return f(first, count, dst);
    for (int64_t r = 0; r < count; ++r) f(permuted_source_row(first + r, hd), 1, dst + r * k);
  };
  t.read_stored = [f = lin.pack_rows, hd, rs](int64_t first, int64_t count, uint8_t* dst) {
    if (hd == 0) return f(first, count, dst);
    for (int64_t r = 0; r < count; ++r) f(permuted_source_row(first + r, hd), 1, dst + static_cast<size_t>(r) * rs);
  };
  return t;
}

}  // namespace

std::unique_ptr<SourceModel> open_hf(const std::string& dir, const std::string& vocab) {
  const std::string cfg_path = dir + "/config.json";
  if (!file_exists(cfg_path)) fail("%s: no config.json (not a Hugging Face model directory?)", dir.c_str());
  const json::Value cfg = json::parse_file(cfg_path);
  if (!cfg.is_object()) fail("%s: not a JSON object", cfg_path.c_str());
  // GPTQ / AWQ / bitsandbytes checkpoints: import_quant.h.
  const quant::Config qc = quant::read_config(dir, cfg);
  if (qc.method != quant::Method::None && hf::find_family(cfg))
    fail("%s: quantized checkpoints can be imported for Llama, Mistral and Qwen2 models only", cfg_path.c_str());
  if (auto other = hf::open_family(dir, cfg, vocab)) return other;  // OPT, Falcon, GPT-2, GPT-NeoX: hf_family.h
  const Arch arch = pick_arch(cfg, cfg_path);
  const HParams h = read_hparams(cfg, cfg_path);

  // Find every tensor: the shard index names the file of each, or there is one file.
  std::map<std::string, hf::Location> where = quant::find_tensors(dir, qc);
  // Quantized linears leave `where` here; they are checked and added below beside the float tensors.
  const std::map<std::string, quant::Linear> qlinears = quant::import_linears(qc, where);

  // Map names; check dtypes and shapes against the config.
  const int64_t q_rows = h.n_head * h.head_dim, kv_rows = h.n_head_kv * h.head_dim;
  auto expected_shape = [&](const std::string& g) -> std::vector<int64_t> {
    const std::string s = g.compare(0, 4, "blk.") == 0 ? g.substr(g.find('.', 4) + 1) : g;
    if (g == "token_embd.weight" || g == "output.weight") return {h.n_vocab, h.n_embd};
    if (g == "output_norm.weight") return {h.n_embd};
    if (s == "attn_norm.weight" || s == "ffn_norm.weight") return {h.n_embd};
    if (s == "attn_q.weight") return {q_rows, h.n_embd};
    if (s == "attn_k.weight" || s == "attn_v.weight") return {kv_rows, h.n_embd};
    if (s == "attn_q.bias") return {q_rows};
    if (s == "attn_k.bias" || s == "attn_v.bias") return {kv_rows};
    if (s == "attn_output.weight") return {h.n_embd, q_rows};
    if (s == "ffn_gate.weight" || s == "ffn_up.weight") return {h.n_ff, h.n_embd};
    if (s == "ffn_down.weight") return {h.n_embd, h.n_ff};
    return {};
  };
  std::map<std::string, std::pair<std::string, hf::Location>> by_gguf;  // gguf name → (hf name, location)
  for (const auto& [name, loc] : where) {
    const std::string inv_freq = ".rotary_emb.inv_freq";  // recomputed at run time, as llama.cpp does
    if (name.size() > inv_freq.size() && name.compare(name.size() - inv_freq.size(), inv_freq.size(), inv_freq) == 0) continue;
    std::string g;
    int64_t layer;
    if (!map_name(name, &g, &layer)) {
      fail("%s: tensor '%s' is not part of a %s model this converter knows", loc.file->path().c_str(), name.c_str(),
           arch.gguf.c_str());
    }
    if (layer >= h.n_layer) {
      fail("%s: tensor '%s' belongs to layer %lld, but num_hidden_layers is %lld", loc.file->path().c_str(), name.c_str(),
           static_cast<long long>(layer), static_cast<long long>(h.n_layer));
    }
    const auto d = loc.view->dtype;
    if (d != safetensors::Dtype::F32 && d != safetensors::Dtype::F16 && d != safetensors::Dtype::BF16) {
      fail("%s: tensor '%s' has dtype %s; only F32, F16 and BF16 can be converted", loc.file->path().c_str(), name.c_str(),
           safetensors::dtype_name(d));
    }
    if (loc.view->shape != expected_shape(g)) {
      std::string got, want;
      for (int64_t x : loc.view->shape) got += (got.empty() ? "" : ", ") + std::to_string(x);
      for (int64_t x : expected_shape(g)) want += (want.empty() ? "" : ", ") + std::to_string(x);
      fail("%s: tensor '%s' has shape [%s], but config.json implies [%s]", loc.file->path().c_str(), name.c_str(), got.c_str(),
           want.c_str());
    }
    by_gguf[g] = {name, loc};
  }
  std::map<std::string, const quant::Linear*> quantized;  // gguf name → imported linear
  for (const auto& [name, lin] : qlinears) {
    std::string g;
    int64_t layer;
    if (!map_name(name, &g, &layer) || layer >= h.n_layer || !expected_shape(g).size()) {
      fail("%s: quantized tensor '%s' is not part of a %s model this converter knows", lin.file.c_str(), name.c_str(), arch.gguf.c_str());
    }
    if (expected_shape(g) != std::vector<int64_t>{lin.n_out, lin.n_in}) {
      fail("%s: quantized tensor '%s' is [%lld, %lld], but config.json implies [%lld, %lld]", lin.file.c_str(), name.c_str(),
           static_cast<long long>(lin.n_out), static_cast<long long>(lin.n_in), static_cast<long long>(expected_shape(g)[0]),
           static_cast<long long>(expected_shape(g)[1]));
    }
    if (by_gguf.count(g)) fail("%s: '%s' is stored both quantized and as floats", lin.file.c_str(), name.c_str());
    quantized[g] = &lin;
  }

  auto m = std::make_unique<SourceModel>();
  m->path = dir;
  using gguf::Value;
  const std::string& A = arch.gguf;
  auto u32 = [](int64_t v) { return Value::u32(static_cast<uint32_t>(v)); };
  m->set("general.architecture", Value::string(A));
  m->set("general.name", Value::string(dir_name(dir)));
  m->set(A + ".block_count", u32(h.n_layer));
  m->set(A + ".context_length", u32(h.n_ctx));
  m->set(A + ".embedding_length", u32(h.n_embd));
  m->set(A + ".feed_forward_length", u32(h.n_ff));
  m->set(A + ".attention.head_count", u32(h.n_head));
  m->set(A + ".attention.head_count_kv", u32(h.n_head_kv));
  m->set(A + ".rope.freq_base", Value::f32(static_cast<float>(h.rope_theta)));
  m->set(A + ".attention.layer_norm_rms_epsilon", Value::f32(static_cast<float>(h.rms_eps)));
  if (h.has_head_dim) {
    m->set(A + ".attention.key_length", u32(h.head_dim));
    m->set(A + ".attention.value_length", u32(h.head_dim));
  }
  m->set(A + ".vocab_size", u32(h.n_vocab));
  m->set(A + ".rope.dimension_count", u32(h.head_dim));

  std::vector<float> rope_factors;
  if (const json::Value* rs = cfg.get("rope_scaling"); rs && rs->is_object()) {
    const json::Value* t = rs->get("rope_type");
    if (!t) t = rs->get("type");
    const std::string type = t && t->is_string() ? t->as_string() : "default";
    if (type == "llama3") {
      rope_factors = llama3_rope_factors(*rs, h, cfg, cfg_path);
    } else if (type == "linear" || type == "yarn") {
      m->set(A + ".rope.scaling.type", Value::string(type));
      m->set(A + ".rope.scaling.factor", Value::f32(static_cast<float>(get_float(*rs, "factor", cfg_path, 1.0))));
      if (type == "yarn") {
        m->set(A + ".rope.scaling.original_context_length",
               u32(get_int(*rs, "original_max_position_embeddings", cfg_path, h.n_ctx)));
      }
    } else if (type != "default") {
      fail("%s: rope_scaling type '%s' is not supported (llama3, linear and yarn are)", cfg_path.c_str(), type.c_str());
    }
  }

  // The vocabulary is padded to vocab_size: check first that the embedding of
  // that many rows is really in the checkpoint, so a config alone cannot make
  // the import build millions of padding tokens.
  if (!by_gguf.count("token_embd.weight") && !quantized.count("token_embd.weight")) fail("%s: tensor for 'token_embd.weight' is missing from the checkpoint", dir.c_str());
  import_hf_tokenizer(dir, cfg, h.n_vocab, arch.gguf == "llama", vocab, *m);

  // Tensors, in llama.cpp's usual order; a missing one is an error.
  auto add = [&](const std::string& g, bool required) {
    if (auto q = quantized.find(g); q != quantized.end()) {
      m->tensors.push_back(quantized_tensor(g, *q->second, h, arch.permute_qk));
      return;
    }
    auto it = by_gguf.find(g);
    if (it == by_gguf.end()) {
      if (required) fail("%s: tensor for '%s' is missing from the checkpoint", dir.c_str(), g.c_str());
      return;
    }
    const hf::Location loc = it->second.second;
    SourceTensor t;
    t.name = g;
    const auto& shape = loc.view->shape;
    t.n_dims = static_cast<int>(shape.size());
    for (int i = 0; i < t.n_dims; ++i) t.ne[i] = shape[static_cast<size_t>(t.n_dims - 1 - i)];
    int64_t n_head_perm = 0;
    if (arch.permute_qk && (g.find(".attn_q.") != std::string::npos)) n_head_perm = h.n_head;
    if (arch.permute_qk && (g.find(".attn_k.") != std::string::npos)) n_head_perm = h.n_head_kv;
    const int64_t row_len = t.ne[0], hd = n_head_perm ? shape[0] / n_head_perm : 0;
    t.read_rows = [loc, hd, row_len](int64_t first, int64_t count, float* dst) {
      if (hd == 0) {
        loc.file->read_f32(*loc.view, first * row_len, count * row_len, dst);
        loc.file->release(*loc.view, first * row_len, count * row_len);
        return;
      }
      int64_t lo = INT64_MAX, hi = 0;
      for (int64_t r = 0; r < count; ++r) {
        const int64_t src = permuted_source_row(first + r, hd);
        loc.file->read_f32(*loc.view, src * row_len, row_len, dst + r * row_len);
        lo = std::min(lo, src);
        hi = std::max(hi, src + 1);
      }
      // Rows in [lo, hi) not read yet are simply read from the file again later.
      if (count > 0) loc.file->release(*loc.view, lo * row_len, (hi - lo) * row_len);
    };
    m->tensors.push_back(std::move(t));
  };
  add("token_embd.weight", true);
  if (!rope_factors.empty()) {
    SourceTensor t;
    t.name = "rope_freqs.weight";
    t.n_dims = 1;
    t.ne[0] = static_cast<int64_t>(rope_factors.size());
    t.read_rows = [rope_factors](int64_t, int64_t count, float* dst) {
      if (count > 0) std::copy(rope_factors.begin(), rope_factors.end(), dst);
    };
    m->tensors.push_back(std::move(t));
  }
  for (int64_t l = 0; l < h.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", true);
    add(p + "attn_q.weight", true);
    add(p + "attn_q.bias", arch.qkv_bias);
    add(p + "attn_k.weight", true);
    add(p + "attn_k.bias", arch.qkv_bias);
    add(p + "attn_v.weight", true);
    add(p + "attn_v.bias", arch.qkv_bias);
    add(p + "attn_output.weight", true);
    add(p + "ffn_norm.weight", true);
    add(p + "ffn_gate.weight", true);
    add(p + "ffn_up.weight", true);
    add(p + "ffn_down.weight", true);
  }
  add("output_norm.weight", true);
  // Tied models may still ship lm_head; llama.cpp writes it when present.
  add("output.weight", !h.tied);
  return m;
}

}  // namespace qgml::convert
