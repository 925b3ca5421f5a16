// GPT2LMHeadModel → GGUF "gpt2", as llama.cpp names it: learned positions
// (position_embd), pre-LN blocks with biases everywhere, GELU (tanh), and the
// head tied to the embedding. HF's Conv1D stores weights [in, out]; they are
// transposed to the usual [out][in] rows, and c_attn is already q|k|v blocks.
#include "hf_family.h"
#include "qgml/error.h"

namespace qgml::convert::hf {
namespace {

void plan_gpt2(const Config& cfg, const std::map<std::string, Location>& tensors, SourceModel& m, Plan& p) {
  const int64_t E = cfg.integer({"n_embd", "hidden_size"});
  const int64_t L = cfg.integer({"n_layer", "num_hidden_layers"});
  const int64_t H = cfg.integer({"n_head", "num_attention_heads"});
  const int64_t n_pos = cfg.integer({"n_positions", "max_position_embeddings"});
  const int64_t V = cfg.integer({"vocab_size"});
  const int64_t F = cfg.integer({"n_inner"}, 4 * E);
  if (E % H != 0) fail("%s: n_embd %lld is not a multiple of n_head %lld", cfg.path().c_str(), static_cast<long long>(E),
                       static_cast<long long>(H));
  const std::string act = cfg.string("activation_function", "gelu_new");
  if (act != "gelu_new" && act != "gelu_pytorch_tanh") cfg.unsupported("activation_function '" + act + "' (GPT-2 runs the tanh GELU)");
  if (cfg.boolean("scale_attn_by_inverse_layer_idx", false)) cfg.unsupported("scale_attn_by_inverse_layer_idx");
  if (!cfg.boolean("scale_attn_weights", true)) cfg.unsupported("scale_attn_weights false");
  const double eps = cfg.number("layer_norm_epsilon", 1e-5);

  using gguf::Value;
  auto u32 = [](int64_t v) { return Value::u32(static_cast<uint32_t>(v)); };
  m.set("general.architecture", Value::string("gpt2"));
  m.set("gpt2.block_count", u32(L));
  m.set("gpt2.context_length", u32(n_pos));
  m.set("gpt2.embedding_length", u32(E));
  m.set("gpt2.feed_forward_length", u32(F));
  m.set("gpt2.attention.head_count", u32(H));
  m.set("gpt2.attention.layer_norm_epsilon", Value::f32(static_cast<float>(eps)));

  // The hub's files were saved from GPT2Model (no "transformer." prefix).
  const std::string pre = tensors.count("transformer.wte.weight") ? "transformer." : "";
  p.n_vocab = V;
  p.ignored_suffixes = {".attn.bias", ".attn.masked_bias"};  // causal-mask buffers
  p.tensors.push_back({"token_embd.weight", pre + "wte.weight", {V, E}});
  p.tensors.push_back({"position_embd.weight", pre + "wpe.weight", {n_pos, E}});
  auto conv1d = [&](const std::string& gguf, const std::string& hf, int64_t n_in, int64_t n_out) {
    TensorRule w{gguf + ".weight", hf + ".weight", {n_in, n_out}};
    w.layout = Layout::Transposed;
    p.tensors.push_back(w);
    p.tensors.push_back({gguf + ".bias", hf + ".bias", {n_out}});
  };
  for (int64_t l = 0; l < L; ++l) {
    const std::string g = "blk." + std::to_string(l) + ".", h = pre + "h." + std::to_string(l) + ".";
    add_norm(p, g + "attn_norm", h + "ln_1", E);
    conv1d(g + "attn_qkv", h + "attn.c_attn", E, 3 * E);
    conv1d(g + "attn_output", h + "attn.c_proj", E, E);
    add_norm(p, g + "ffn_norm", h + "ln_2", E);
    conv1d(g + "ffn_up", h + "mlp.c_fc", E, F);
    conv1d(g + "ffn_down", h + "mlp.c_proj", F, E);
  }
  add_norm(p, "output_norm", pre + "ln_f", E);
  TensorRule head{"output.weight", "lm_head.weight", {V, E}};
  head.required = false;  // tied: usually not stored
  p.tensors.push_back(head);
}

}  // namespace

extern const Family kFamilyGpt2 = {"GPT2LMHeadModel", "gpt2", plan_gpt2};

}  // namespace qgml::convert::hf
