// GPT-NeoX / Pythia: pre-LN blocks whose attention and MLP read the same
// input and add into the residual together (use_parallel_residual; the
// sequential form when false), fused q/k/v (attn_qkv, [all q; all k; all v]
// as llama.cpp's converter reorders HF's per-head [q, k, v]), rotary on the
// first rope.dimension_count dims of each head with NeoX pairing, exact GELU,
// an untied head. Linears in forward order (GPTQ's true-sequential groups):
// attn_qkv, attn_output, ffn_up, ffn_down.
#include <cmath>
#include <memory>
#include <vector>

#include "blocks.h"

namespace qgml {
namespace {

struct NeoxLayer {
  blocks::Norm attn_norm, ffn_norm;
  blocks::Dense qkv, out, up, down;
};

struct NeoxWeights {
  Tensor *tok_embd, *output;
  std::vector<NeoxLayer> layers;
  blocks::Norm output_norm;
  float eps;
  bool parallel;
};

const NeoxWeights& weights(const Model& m) { return *static_cast<const NeoxWeights*>(m.arch_state.get()); }

void gptneox_load(Model& m) {
  read_common_hparams(m);
  HParams& hp = m.mutable_hparams();
  hp.rope.mode = RopeMode::Neox;
  const int64_t E = hp.n_embd, F = hp.n_ff, QKV = hp.head_dim * (hp.n_head + 2 * hp.n_head_kv);
  auto w = std::make_shared<NeoxWeights>();
  w->eps = blocks::layer_norm_eps(m);
  w->parallel = blocks::flag(m, "use_parallel_residual", true);
  w->tok_embd = m.weight("token_embd.weight");
  hp.n_vocab = w->tok_embd->ne[1];
  w->tok_embd = m.weight("token_embd.weight", {E, hp.n_vocab});
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    NeoxLayer L;
    L.attn_norm = blocks::norm(m, p + "attn_norm", E);
    L.qkv = blocks::dense(m, p + "attn_qkv", E, QKV);
    L.out = blocks::dense(m, p + "attn_output", hp.head_dim * hp.n_head, E);
    L.ffn_norm = blocks::norm(m, p + "ffn_norm", E);
    L.up = blocks::dense(m, p + "ffn_up", E, F);
    L.down = blocks::dense(m, p + "ffn_down", F, E);
    w->layers.push_back(L);
  }
  w->output_norm = blocks::norm(m, "output_norm", E);
  w->output = m.weight("output.weight", {E, hp.n_vocab});
  m.arch_state = w;
}

Tensor* block(const blocks::Builder& b, int l, Tensor* x) {
  const HParams& hp = b.m.hparams();
  const NeoxWeights& w = weights(b.m);
  const NeoxLayer& L = w.layers[static_cast<size_t>(l)];
  Context& ctx = b.ctx;
  SoftMaxParams sm;
  sm.scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
  Tensor *q, *k, *v;
  blocks::split_qkv(ctx, hp, b.linear(L.qkv, b.norm(L.attn_norm, x, w.eps)), b.in.n, &q, &k, &v);
  q = rope(ctx, q, b.in.positions, hp.rope);
  k = rope(ctx, k, b.in.positions, hp.rope);
  Tensor* attn = b.linear(L.out, attention(b.m, ctx, b.graph, b.cache, l, q, k, v, b.in.n, sm));
  auto mlp = [&](Tensor* h) { return b.linear(L.down, gelu(ctx, b.linear(L.up, b.norm(L.ffn_norm, h, w.eps)), false)); };
  if (w.parallel) return add(ctx, add(ctx, x, attn), mlp(x));
  x = add(ctx, x, attn);
  return add(ctx, x, mlp(x));
}

Tensor* gptneox_build(const Model& m, Context& ctx, Graph& graph, KvCache& cache, const BatchInputs& in) {
  const NeoxWeights& w = weights(m);
  const blocks::Builder b{m, ctx, graph, cache, in};
  Tensor* x = get_rows(ctx, w.tok_embd, in.tokens);
  for (size_t l = 0; l < w.layers.size(); ++l) x = block(b, static_cast<int>(l), x);
  x = b.norm(w.output_norm, blocks::logits_rows(ctx, x, in), w.eps);
  return linear(m, ctx, graph, in, w.output, x);
}

Tensor* gptneox_build_block(const Model& m, Context& ctx, Graph& graph, KvCache& cache, const BatchInputs& in,
                            int layer, Tensor* x) {
  blocks::check_block_args(m, in, layer, x);
  return block(blocks::Builder{m, ctx, graph, cache, in}, layer, x);
}

}  // namespace

extern const Architecture kArchGptNeox = {"gptneox", gptneox_load, gptneox_build, gptneox_build_block};

}  // namespace qgml
