// GPT-NeoX / Pythia: pre-LN blocks whose attention and MLP read the same
// input and add into the residual together (use_parallel_residual; the
// sequential form when false), fused q/k/v (attn_qkv, [all q; all k; all v]
// as llama.cpp's converter reorders HF's per-head [q, k, v]), rotary on the
// first rope.dimension_count dims of each head with NeoX pairing, exact GELU,
// an untied head.
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

Tensor* gptneox_build(const Model& m, Context& ctx, Graph& graph, KvCache& cache, const BatchInputs& in) {
  const HParams& hp = m.hparams();
  const NeoxWeights& w = *static_cast<const NeoxWeights*>(m.arch_state.get());
  const int64_t n = in.n;
  SoftMaxParams sm;
  sm.scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));

  Tensor* x = get_rows(ctx, w.tok_embd, in.tokens);
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const NeoxLayer& L = w.layers[l];
    Tensor *q, *k, *v;
    blocks::split_qkv(ctx, hp, blocks::apply(ctx, L.qkv, blocks::apply(ctx, L.attn_norm, x, w.eps)), n, &q, &k, &v);
    q = rope(ctx, q, in.positions, hp.rope);
    k = rope(ctx, k, in.positions, hp.rope);
    Tensor* attn = blocks::apply(ctx, L.out, attention(m, ctx, graph, cache, static_cast<int>(l), q, k, v, n, sm));
    auto mlp = [&](Tensor* h) {
      return blocks::apply(ctx, L.down, gelu(ctx, blocks::apply(ctx, L.up, blocks::apply(ctx, L.ffn_norm, h, w.eps)), false));
    };
    if (w.parallel) {
      x = add(ctx, add(ctx, x, attn), mlp(x));
    } else {
      x = add(ctx, x, attn);
      x = add(ctx, x, mlp(x));
    }
  }
  x = blocks::apply(ctx, w.output_norm, blocks::logits_rows(ctx, x, in), w.eps);
  return mul_mat(ctx, w.output, x);
}

}  // namespace

extern const Architecture kArchGptNeox = {"gptneox", gptneox_load, gptneox_build};

}  // namespace qgml
