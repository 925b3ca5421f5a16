// GPT-2: learned absolute positions, pre-LN blocks with biases everywhere,
// fused q/k/v (attn_qkv, [all q; all k; all v]), the tanh GELU ("gelu_new"),
// and the head tied to the embedding unless output.weight is stored
// (llama.cpp's converter stores a copy).
#include <cmath>
#include <memory>
#include <vector>

#include "blocks.h"

namespace qgml {
namespace {

struct Gpt2Layer {
  blocks::Norm attn_norm, ffn_norm;
  blocks::Dense qkv, out, up, down;
};

struct Gpt2Weights {
  Tensor *tok_embd, *pos_embd, *output;
  std::vector<Gpt2Layer> layers;
  blocks::Norm output_norm;
  float eps;
};

void gpt2_load(Model& m) {
  read_common_hparams(m);
  HParams& hp = m.mutable_hparams();
  const int64_t E = hp.n_embd, F = hp.n_ff;
  auto w = std::make_shared<Gpt2Weights>();
  w->eps = blocks::layer_norm_eps(m);
  w->tok_embd = m.weight("token_embd.weight");
  hp.n_vocab = w->tok_embd->ne[1];
  w->tok_embd = m.weight("token_embd.weight", {E, hp.n_vocab});
  w->pos_embd = m.weight("position_embd.weight");
  w->pos_embd = m.weight("position_embd.weight", {E, w->pos_embd->ne[1]});
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    Gpt2Layer L;
    L.attn_norm = blocks::norm(m, p + "attn_norm", E);
    L.qkv = blocks::dense(m, p + "attn_qkv", E, 3 * E);
    L.out = blocks::dense(m, p + "attn_output", E, E);
    L.ffn_norm = blocks::norm(m, p + "ffn_norm", E);
    L.up = blocks::dense(m, p + "ffn_up", E, F);
    L.down = blocks::dense(m, p + "ffn_down", F, E);
    w->layers.push_back(L);
  }
  w->output_norm = blocks::norm(m, "output_norm", E);
  w->output = m.weight_or_null("output.weight") ? m.weight("output.weight", {E, hp.n_vocab}) : w->tok_embd;
  m.arch_state = w;
}

Tensor* gpt2_build(const Model& m, Context& ctx, Graph& graph, KvCache& cache, const BatchInputs& in) {
  const HParams& hp = m.hparams();
  const Gpt2Weights& w = *static_cast<const Gpt2Weights*>(m.arch_state.get());
  const int64_t n = in.n;
  SoftMaxParams sm;
  sm.scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));

  Tensor* x = add(ctx, get_rows(ctx, w.tok_embd, in.tokens), blocks::learned_positions(m, ctx, w.pos_embd, cache, in));
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const Gpt2Layer& L = w.layers[l];
    Tensor *q, *k, *v;
    blocks::split_qkv(ctx, hp, blocks::apply(ctx, L.qkv, blocks::apply(ctx, L.attn_norm, x, w.eps)), n, &q, &k, &v);
    Tensor* attn = attention(m, ctx, graph, cache, static_cast<int>(l), q, k, v, n, sm);
    x = add(ctx, x, blocks::apply(ctx, L.out, attn));
    Tensor* h = gelu(ctx, blocks::apply(ctx, L.up, blocks::apply(ctx, L.ffn_norm, x, w.eps)), true);
    x = add(ctx, x, blocks::apply(ctx, L.down, h));
  }
  x = blocks::apply(ctx, w.output_norm, blocks::logits_rows(ctx, x, in), w.eps);
  return mul_mat(ctx, w.output, x);
}

}  // namespace

extern const Architecture kArchGpt2 = {"gpt2", gpt2_load, gpt2_build};

}  // namespace qgml
