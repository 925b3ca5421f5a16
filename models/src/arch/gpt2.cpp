// GPT-2: learned absolute positions, pre-LN blocks with biases everywhere,
// fused q/k/v (attn_qkv, [all q; all k; all v]), the tanh GELU ("gelu_new"),
// and the head tied to the embedding unless output.weight is stored
// (llama.cpp's converter stores a copy). Linears in forward order (GPTQ's
// true-sequential groups): attn_qkv, attn_output, ffn_up, ffn_down.
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

const Gpt2Weights& weights(const Model& m) { return *static_cast<const Gpt2Weights*>(m.arch_state.get()); }

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

Tensor* block(const blocks::Builder& b, int l, Tensor* x) {
  const HParams& hp = b.m.hparams();
  const Gpt2Weights& w = weights(b.m);
  const Gpt2Layer& L = w.layers[static_cast<size_t>(l)];
  SoftMaxParams sm;
  sm.scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
  Tensor *q, *k, *v;
  blocks::split_qkv(b.ctx, hp, b.linear(L.qkv, b.norm(L.attn_norm, x, w.eps)), b.in.n, &q, &k, &v);
  x = add(b.ctx, x, b.linear(L.out, attention(b.m, b.ctx, b.graph, b.cache, l, q, k, v, b.in.n, sm)));
  Tensor* h = gelu(b.ctx, b.linear(L.up, b.norm(L.ffn_norm, x, w.eps)), true);
  return add(b.ctx, x, b.linear(L.down, h));
}

Tensor* gpt2_input(const Model& m, Context& ctx, const BatchInputs& in) {
  const Gpt2Weights& w = weights(m);
  return add(ctx, get_rows(ctx, w.tok_embd, in.tokens), blocks::learned_positions(m, ctx, w.pos_embd, in));
}

Tensor* gpt2_build(const Model& m, Context& ctx, Graph& graph, KvCache& cache, const BatchInputs& in) {
  const Gpt2Weights& w = weights(m);
  const blocks::Builder b{m, ctx, graph, cache, in};
  Tensor* x = gpt2_input(m, ctx, in);
  for (size_t l = 0; l < w.layers.size(); ++l) x = block(b, static_cast<int>(l), x);
  x = b.norm(w.output_norm, blocks::logits_rows(ctx, x, in), w.eps);
  return linear(m, ctx, graph, in, w.output, x);
}

Tensor* gpt2_build_block(const Model& m, Context& ctx, Graph& graph, KvCache& cache, const BatchInputs& in, int layer,
                         Tensor* x) {
  blocks::check_block_args(m, in, layer, x);
  return block(blocks::Builder{m, ctx, graph, cache, in}, layer, x);
}

}  // namespace

extern const Architecture kArchGpt2 = {"gpt2", gpt2_load, gpt2_build, gpt2_build_block, gpt2_input};

}  // namespace qgml
