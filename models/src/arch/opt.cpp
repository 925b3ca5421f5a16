// OPT (GGUF "opt", qgml's name: llama.cpp has none): learned positions,
// separate q/k/v with biases, ReLU MLP, LayerNorm before each sub-block
// (opt.layer_norm_before, most sizes) or after it (opt-350m, which also has no
// final norm), optional projections between a narrower word embedding and the
// blocks (token_embd_proj in, output_proj out), head tied to the embedding.
// Linears in forward order (GPTQ's true-sequential groups): attn_q/k/v
// (one input), attn_output, ffn_up (fc1), ffn_down (fc2).
#include <cmath>
#include <memory>
#include <vector>

#include "blocks.h"
#include "qgml/error.h"

namespace qgml {
namespace {

struct OptLayer {
  blocks::Norm attn_norm, ffn_norm;
  blocks::Dense q, k, v, out, up, down;
};

struct OptWeights {
  Tensor *tok_embd, *pos_embd, *output;
  Tensor *proj_in, *proj_out;  // nullptr unless the word embedding is narrower
  std::vector<OptLayer> layers;
  blocks::Norm output_norm;    // absent in post-LN models
  float eps;
  bool norm_before;
};

void opt_load(Model& m) {
  read_common_hparams(m);
  HParams& hp = m.mutable_hparams();
  const int64_t E = hp.n_embd, F = hp.n_ff;
  auto w = std::make_shared<OptWeights>();
  w->eps = blocks::layer_norm_eps(m);
  w->norm_before = blocks::flag(m, "layer_norm_before", true);
  w->tok_embd = m.weight("token_embd.weight");
  const int64_t P = w->tok_embd->ne[0];  // word embedding width
  hp.n_vocab = w->tok_embd->ne[1];
  w->proj_in = m.weight_or_null("token_embd_proj.weight") ? m.weight("token_embd_proj.weight", {P, E}) : nullptr;
  w->proj_out = m.weight_or_null("output_proj.weight") ? m.weight("output_proj.weight", {E, P}) : nullptr;
  if ((P != E) != (w->proj_in != nullptr) || (w->proj_in != nullptr) != (w->proj_out != nullptr))
    fail("%s: token_embd.weight rows of %lld need token_embd_proj and output_proj exactly when they differ from "
         "embedding_length %lld", m.file().path().c_str(), static_cast<long long>(P), static_cast<long long>(E));
  w->pos_embd = m.weight("position_embd.weight");
  w->pos_embd = m.weight("position_embd.weight", {E, w->pos_embd->ne[1]});
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    OptLayer L;
    L.attn_norm = blocks::norm(m, p + "attn_norm", E, false);
    L.q = blocks::dense(m, p + "attn_q", E, E);
    L.k = blocks::dense(m, p + "attn_k", E, E);
    L.v = blocks::dense(m, p + "attn_v", E, E);
    L.out = blocks::dense(m, p + "attn_output", E, E);
    L.ffn_norm = blocks::norm(m, p + "ffn_norm", E, false);
    L.up = blocks::dense(m, p + "ffn_up", E, F);
    L.down = blocks::dense(m, p + "ffn_down", F, E);
    w->layers.push_back(L);
  }
  w->output_norm = blocks::norm(m, "output_norm", E, false);
  w->output = m.weight_or_null("output.weight") ? m.weight("output.weight", {P, hp.n_vocab}) : w->tok_embd;
  m.arch_state = w;
}

const OptWeights& weights(const Model& m) { return *static_cast<const OptWeights*>(m.arch_state.get()); }

Tensor* block(const blocks::Builder& b, int l, Tensor* x) {
  const HParams& hp = b.m.hparams();
  const OptWeights& w = weights(b.m);
  const OptLayer& L = w.layers[static_cast<size_t>(l)];
  Context& ctx = b.ctx;
  const int64_t n = b.in.n, hd = hp.head_dim;
  const bool pre = w.norm_before;
  SoftMaxParams sm;
  sm.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  Tensor* h = pre ? b.norm(L.attn_norm, x, w.eps) : x;
  Tensor* q = reshape_3d(ctx, b.linear(L.q, h), hd, hp.n_head, n);
  Tensor* k = reshape_3d(ctx, b.linear(L.k, h), hd, hp.n_head, n);
  Tensor* v = reshape_3d(ctx, b.linear(L.v, h), hd, hp.n_head, n);
  x = add(ctx, x, b.linear(L.out, attention(b.m, ctx, b.graph, b.cache, l, q, k, v, n, sm)));
  if (!pre) x = b.norm(L.attn_norm, x, w.eps);
  h = pre ? b.norm(L.ffn_norm, x, w.eps) : x;
  x = add(ctx, x, b.linear(L.down, relu(ctx, b.linear(L.up, h))));
  return pre ? x : b.norm(L.ffn_norm, x, w.eps);
}

// Word embeddings (projected up to the block width when narrower) plus positions.
Tensor* opt_input(const Model& m, Context& ctx, const BatchInputs& in) {
  const OptWeights& w = weights(m);
  Tensor* x = get_rows(ctx, w.tok_embd, in.tokens);
  if (w.proj_in) x = mul_mat(ctx, w.proj_in, x);
  return add(ctx, x, blocks::learned_positions(m, ctx, w.pos_embd, in));
}

Tensor* opt_build(const Model& m, Context& ctx, Graph& graph, KvCache& cache, const BatchInputs& in) {
  const OptWeights& w = weights(m);
  const blocks::Builder b{m, ctx, graph, cache, in};
  Tensor* x = opt_input(m, ctx, in);
  for (size_t l = 0; l < w.layers.size(); ++l) x = block(b, static_cast<int>(l), x);
  x = blocks::logits_rows(ctx, x, in);
  if (blocks::present(w.output_norm)) x = b.norm(w.output_norm, x, w.eps);
  if (w.proj_out) x = mul_mat(ctx, w.proj_out, x);
  return linear(m, ctx, graph, in, w.output, x);
}

Tensor* opt_build_block(const Model& m, Context& ctx, Graph& graph, KvCache& cache, const BatchInputs& in, int layer,
                        Tensor* x) {
  blocks::check_block_args(m, in, layer, x);
  return block(blocks::Builder{m, ctx, graph, cache, in}, layer, x);
}

}  // namespace

extern const Architecture kArchOpt = {"opt", opt_load, opt_build, opt_build_block, opt_input};

}  // namespace qgml
