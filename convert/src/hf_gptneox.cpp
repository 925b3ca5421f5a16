// GPTNeoXForCausalLM (GPT-NeoX-20B, Pythia) → GGUF "gptneox", as llama.cpp
// names it. The fused query_key_value holds per head [q; k; v] rows; like
// llama.cpp it is reordered to [all q; all k; all v] so that q, k and v are
// plain row ranges of one matrix product. Rotary covers the first
// rotary_pct·head_dim dimensions of each head, NeoX (rotate_half) pairing.
#include "hf_family.h"
#include "qgml/error.h"

#include <cmath>

namespace qgml::convert::hf {
namespace {

void plan_gptneox(const Config& cfg, const std::map<std::string, Location>&, SourceModel& m, Plan& p) {
  const int64_t E = cfg.integer({"hidden_size"});
  const int64_t L = cfg.integer({"num_hidden_layers"});
  const int64_t H = cfg.integer({"num_attention_heads"});
  const int64_t F = cfg.integer({"intermediate_size"});
  const int64_t V = cfg.integer({"vocab_size"});
  const int64_t n_ctx = cfg.integer({"max_position_embeddings"}, 2048);
  if (E % H != 0) fail("%s: hidden_size %lld is not a multiple of num_attention_heads %lld", cfg.path().c_str(),
                       static_cast<long long>(E), static_cast<long long>(H));
  const int64_t D = E / H;
  const double pct = cfg.number("rotary_pct", cfg.number("partial_rotary_factor", 1.0));
  // HF: int(head_size * rotary_pct), truncated.
  const int64_t n_rot = static_cast<int64_t>(static_cast<double>(D) * pct);
  if (!(pct > 0 && pct <= 1) || n_rot < 2 || n_rot % 2 != 0)
    fail("%s: rotary_pct %g gives %lld rotary dimensions of %lld; need an even number >= 2", cfg.path().c_str(), pct,
         static_cast<long long>(n_rot), static_cast<long long>(D));
  const double base = cfg.number("rotary_emb_base", cfg.number("rope_theta", 10000.0));
  if (!(base > 0)) fail("%s: rotary_emb_base must be positive", cfg.path().c_str());
  if (cfg.has("rope_scaling")) cfg.unsupported("rope_scaling");
  const std::string act = cfg.string("hidden_act", "gelu");
  if (act != "gelu") cfg.unsupported("hidden_act '" + act + "' (GPT-NeoX runs the exact GELU)");
  if (cfg.boolean("tie_word_embeddings", false)) cfg.unsupported("tie_word_embeddings");
  const bool bias = cfg.boolean("attention_bias", true);
  const double eps = cfg.number("layer_norm_eps", 1e-5);

  using gguf::Value;
  auto u32 = [](int64_t v) { return Value::u32(static_cast<uint32_t>(v)); };
  m.set("general.architecture", Value::string("gptneox"));
  m.set("gptneox.context_length", u32(n_ctx));
  m.set("gptneox.embedding_length", u32(E));
  m.set("gptneox.block_count", u32(L));
  m.set("gptneox.feed_forward_length", u32(F));
  m.set("gptneox.rope.dimension_count", u32(n_rot));
  m.set("gptneox.rope.freq_base", Value::f32(static_cast<float>(base)));
  m.set("gptneox.attention.head_count", u32(H));
  m.set("gptneox.use_parallel_residual", Value::boolean(cfg.boolean("use_parallel_residual", true)));
  m.set("gptneox.attention.layer_norm_epsilon", Value::f32(static_cast<float>(eps)));

  p.n_vocab = V;
  p.ignored_suffixes = {".attention.bias", ".attention.masked_bias", ".rotary_emb.inv_freq"};
  p.tensors.push_back({"token_embd.weight", "gpt_neox.embed_in.weight", {V, E}});
  for (int64_t l = 0; l < L; ++l) {
    const std::string g = "blk." + std::to_string(l) + ".", h = "gpt_neox.layers." + std::to_string(l) + ".";
    add_norm(p, g + "attn_norm", h + "input_layernorm", E);
    for (const char* part : {"weight", "bias"}) {
      if (part[0] == 'b' && !bias) continue;
      TensorRule t{g + "attn_qkv." + part, h + "attention.query_key_value." + part, {3 * E, E}};
      if (part[0] == 'b') t.shape = {3 * E};
      t.layout = Layout::QkvGroups;
      t.n_group = H;
      t.q_per_group = 1;
      t.head_dim = D;
      p.tensors.push_back(t);
    }
    add_linear(p, g + "attn_output", h + "attention.dense", E, E, bias);
    add_norm(p, g + "ffn_norm", h + "post_attention_layernorm", E);
    add_linear(p, g + "ffn_up", h + "mlp.dense_h_to_4h", F, E, true);
    add_linear(p, g + "ffn_down", h + "mlp.dense_4h_to_h", E, F, true);
  }
  add_norm(p, "output_norm", "gpt_neox.final_layer_norm", E);
  p.tensors.push_back({"output.weight", "embed_out.weight", {V, E}});
}

}  // namespace

extern const Family kFamilyGptNeox = {"GPTNeoXForCausalLM", "gpt_neox", plan_gptneox};

}  // namespace qgml::convert::hf
