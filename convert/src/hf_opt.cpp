// OPTForCausalLM → GGUF "opt" (llama.cpp has no OPT; the names follow its
// conventions, see gguf-spec.md §9). Learned positions: HF's table has
// max_position_embeddings + 2 rows and position p reads row p + 2; the two
// offset rows are dropped, so position_embd row p is position p as in GPT-2.
// Separate q/k/v with biases (OPT scales q after the bias, which is the same as
// scaling the scores), ReLU MLP, LayerNorm before (most sizes) or after
// (opt-350m: opt.layer_norm_before = false, no final norm) each sub-block,
// and for opt-350m a word embedding narrower than the blocks, projected in
// (token_embd_proj) and out (output_proj). The head is tied to the embedding.
#include "hf_family.h"
#include "qgml/error.h"

namespace qgml::convert::hf {
namespace {

void plan_opt(const Config& cfg, const std::map<std::string, Location>& tensors, SourceModel& m, Plan& p) {
  const int64_t E = cfg.integer({"hidden_size"});
  const int64_t L = cfg.integer({"num_hidden_layers"});
  const int64_t H = cfg.integer({"num_attention_heads"});
  const int64_t F = cfg.integer({"ffn_dim"});
  const int64_t V = cfg.integer({"vocab_size"});
  const int64_t n_pos = cfg.integer({"max_position_embeddings"});
  const int64_t P = cfg.integer({"word_embed_proj_dim"}, E);
  if (E % H != 0) fail("%s: hidden_size %lld is not a multiple of num_attention_heads %lld", cfg.path().c_str(),
                       static_cast<long long>(E), static_cast<long long>(H));
  const std::string act = cfg.string("activation_function", "relu");
  if (act != "relu") cfg.unsupported("activation_function '" + act + "' (OPT runs ReLU)");
  const bool before = cfg.boolean("do_layer_norm_before", true);
  const bool final_norm = before && !cfg.boolean("_remove_final_layer_norm", false);
  const bool bias = cfg.boolean("enable_bias", true);
  const bool affine = cfg.boolean("layer_norm_elementwise_affine", true);
  if (!cfg.boolean("tie_word_embeddings", true)) cfg.unsupported("tie_word_embeddings false");

  using gguf::Value;
  auto u32 = [](int64_t v) { return Value::u32(static_cast<uint32_t>(v)); };
  m.set("general.architecture", Value::string("opt"));
  m.set("opt.context_length", u32(n_pos));
  m.set("opt.embedding_length", u32(E));
  m.set("opt.feed_forward_length", u32(F));
  m.set("opt.block_count", u32(L));
  m.set("opt.attention.head_count", u32(H));
  m.set("opt.attention.layer_norm_epsilon", Value::f32(1e-5f));  // nn.LayerNorm's default, not configurable in OPT
  m.set("opt.layer_norm_before", Value::boolean(before));

  // Checkpoints saved from OPTModel lack the "model." prefix (facebook/opt-*).
  const std::string pre = tensors.count("decoder.embed_tokens.weight") ? "decoder." : "model.decoder.";
  p.n_vocab = V;
  p.tensors.push_back({"token_embd.weight", pre + "embed_tokens.weight", {V, P}});
  if (P != E) add_linear(p, "token_embd_proj", pre + "project_in", E, P, false);
  TensorRule pos{"position_embd.weight", pre + "embed_positions.weight", {n_pos + 2, E}};
  pos.layout = Layout::SkipRows;
  pos.skip = 2;
  p.tensors.push_back(pos);
  for (int64_t l = 0; l < L; ++l) {
    const std::string g = "blk." + std::to_string(l) + ".", h = pre + "layers." + std::to_string(l) + ".";
    add_norm(p, g + "attn_norm", h + "self_attn_layer_norm", E, affine);
    add_linear(p, g + "attn_q", h + "self_attn.q_proj", E, E, bias);
    add_linear(p, g + "attn_k", h + "self_attn.k_proj", E, E, bias);
    add_linear(p, g + "attn_v", h + "self_attn.v_proj", E, E, bias);
    add_linear(p, g + "attn_output", h + "self_attn.out_proj", E, E, bias);
    add_norm(p, g + "ffn_norm", h + "final_layer_norm", E, affine);
    add_linear(p, g + "ffn_up", h + "fc1", F, E, bias);
    add_linear(p, g + "ffn_down", h + "fc2", E, F, bias);
  }
  if (final_norm) add_norm(p, "output_norm", pre + "final_layer_norm", E, affine);
  if (P != E) add_linear(p, "output_proj", pre + "project_out", P, E, false);
  TensorRule head{"output.weight", "lm_head.weight", {V, P}};
  head.required = false;  // tied
  p.tensors.push_back(head);
}

}  // namespace

extern const Family kFamilyOpt = {"OPTForCausalLM", "opt", plan_opt};

}  // namespace qgml::convert::hf
