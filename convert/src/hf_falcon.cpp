// FalconForCausalLM → GGUF "falcon", as llama.cpp names it. One family, three
// block shapes, told apart at run time by which norms exist:
//  * Falcon-RW (alibi, sequential attention then MLP, input_layernorm +
//    post_attention_layernorm → attn_norm + ffn_norm, biases);
//  * Falcon-7B (rotary, multi-query, attention and MLP in parallel from one
//    input_layernorm → attn_norm);
//  * Falcon-40B/180B (new_decoder_architecture: grouped kv heads, ln_attn and
//    ln_mlp → attn_norm and attn_norm_2).
// The fused query_key_value is reordered to [all q; all k; all v], llama.cpp's
// ("jploski") layout, from whichever of the three HF layouts the flags imply.
// ALiBi is recorded as falcon.attention.max_alibi_bias = 8 (llama.cpp's key).
#include "hf_family.h"
#include "qgml/error.h"

namespace qgml::convert::hf {
namespace {

void plan_falcon(const Config& cfg, const std::map<std::string, Location>&, SourceModel& m, Plan& p) {
  const int64_t E = cfg.integer({"hidden_size"});
  const int64_t L = cfg.integer({"num_hidden_layers", "n_layer"});
  const int64_t H = cfg.integer({"num_attention_heads", "n_head"});
  const int64_t V = cfg.integer({"vocab_size"});
  const int64_t F = cfg.integer({"ffn_hidden_size"}, 4 * E);
  const int64_t n_ctx = cfg.integer({"max_position_embeddings"}, 2048);
  if (E % H != 0) fail("%s: hidden_size %lld is not a multiple of num_attention_heads %lld", cfg.path().c_str(),
                       static_cast<long long>(E), static_cast<long long>(H));
  const int64_t D = E / H;
  const bool alibi = cfg.boolean("alibi", false), bias = cfg.boolean("bias", false);
  const bool new_arch = cfg.boolean("new_decoder_architecture", false);
  const bool multi_query = cfg.boolean("multi_query", true), parallel = cfg.boolean("parallel_attn", true);
  const int64_t KV = new_arch ? cfg.integer({"num_kv_heads", "n_head_kv"}, H) : (multi_query ? 1 : H);
  if (H % KV != 0) fail("%s: num_attention_heads %lld is not a multiple of num_kv_heads %lld", cfg.path().c_str(),
                        static_cast<long long>(H), static_cast<long long>(KV));
  const int64_t n_ln = new_arch ? cfg.integer({"num_ln_in_parallel_attn"}, 2) : 1;
  if (n_ln != 1 && n_ln != 2) cfg.unsupported("num_ln_in_parallel_attn " + std::to_string(n_ln));
  if (new_arch && !parallel && n_ln == 1) cfg.unsupported("new_decoder_architecture with one norm and parallel_attn false");
  const std::string act = cfg.string("activation", "gelu");
  if (act != "gelu") cfg.unsupported("activation '" + act + "' (Falcon runs the exact GELU)");
  if (cfg.has("rope_scaling")) cfg.unsupported("rope_scaling");
  if (!alibi && D % 2 != 0) fail("%s: head size %lld is odd; rotary needs pairs", cfg.path().c_str(), static_cast<long long>(D));
  const bool tied = cfg.boolean("tie_word_embeddings", true);

  using gguf::Value;
  auto u32 = [](int64_t v) { return Value::u32(static_cast<uint32_t>(v)); };
  m.set("general.architecture", Value::string("falcon"));
  m.set("falcon.context_length", u32(n_ctx));
  m.set("falcon.tensor_data_layout", Value::string("jploski"));
  m.set("falcon.embedding_length", u32(E));
  m.set("falcon.feed_forward_length", u32(F));
  m.set("falcon.block_count", u32(L));
  m.set("falcon.attention.head_count", u32(H));
  m.set("falcon.attention.head_count_kv", u32(KV));
  m.set("falcon.attention.layer_norm_epsilon", Value::f32(static_cast<float>(cfg.number("layer_norm_epsilon", 1e-5))));
  if (alibi) m.set("falcon.attention.max_alibi_bias", Value::f32(8.0f));
  else m.set("falcon.rope.freq_base", Value::f32(static_cast<float>(cfg.number("rope_theta", 10000.0))));

  p.n_vocab = V;
  p.ignored_suffixes = {".rotary_emb.inv_freq"};
  p.tensors.push_back({"token_embd.weight", "transformer.word_embeddings.weight", {V, E}});
  const int64_t n_qkv = (H + 2 * KV) * D;
  for (int64_t l = 0; l < L; ++l) {
    const std::string g = "blk." + std::to_string(l) + ".", h = "transformer.h." + std::to_string(l) + ".";
    if (new_arch && n_ln == 2) {
      add_norm(p, g + "attn_norm", h + "ln_attn", E);
      add_norm(p, g + "attn_norm_2", h + "ln_mlp", E);
    } else {
      add_norm(p, g + "attn_norm", h + "input_layernorm", E);
    }
    for (const char* part : {"weight", "bias"}) {
      if (part[0] == 'b' && !bias) continue;
      TensorRule t{g + "attn_qkv." + part, h + "self_attention.query_key_value." + part, {n_qkv, E}};
      if (part[0] == 'b') t.shape = {n_qkv};
      t.layout = Layout::QkvGroups;
      t.n_group = KV;
      t.q_per_group = H / KV;
      t.head_dim = D;
      p.tensors.push_back(t);
    }
    add_linear(p, g + "attn_output", h + "self_attention.dense", E, E, bias);
    if (!new_arch && !parallel) add_norm(p, g + "ffn_norm", h + "post_attention_layernorm", E);
    add_linear(p, g + "ffn_up", h + "mlp.dense_h_to_4h", F, E, bias);
    add_linear(p, g + "ffn_down", h + "mlp.dense_4h_to_h", E, F, bias);
  }
  add_norm(p, "output_norm", "transformer.ln_f", E);
  TensorRule head{"output.weight", "lm_head.weight", {V, E}};
  head.required = !tied;
  p.tensors.push_back(head);
}

}  // namespace

extern const Family kFamilyFalcon = {"FalconForCausalLM", "falcon", plan_falcon};

}  // namespace qgml::convert::hf
