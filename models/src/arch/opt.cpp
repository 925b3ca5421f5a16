// OPT (GGUF "opt", qgml's name: llama.cpp has none): learned positions,
// separate q/k/v with biases, ReLU MLP, LayerNorm before each sub-block
// (opt.layer_norm_before, most sizes) or after it (opt-350m, which also has no
// final norm), optional projections between a narrower word embedding and the
// blocks (token_embd_proj in, output_proj out), head tied to the embedding.
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

Tensor* opt_build(const Model& m, Context& ctx, Graph& graph, KvCache& cache, const BatchInputs& in) {
  const HParams& hp = m.hparams();
  const OptWeights& w = *static_cast<const OptWeights*>(m.arch_state.get());
  const int64_t n = in.n, hd = hp.head_dim;
  SoftMaxParams sm;
  sm.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const bool pre = w.norm_before;
  auto norm = [&](const blocks::Norm& nm, Tensor* t) { return blocks::apply(ctx, nm, t, w.eps); };

  Tensor* x = get_rows(ctx, w.tok_embd, in.tokens);
  if (w.proj_in) x = mul_mat(ctx, w.proj_in, x);
  x = add(ctx, x, blocks::learned_positions(m, ctx, w.pos_embd, cache, in));
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const OptLayer& L = w.layers[l];
    Tensor* h = pre ? norm(L.attn_norm, x) : x;
    Tensor* q = reshape_3d(ctx, blocks::apply(ctx, L.q, h), hd, hp.n_head, n);
    Tensor* k = reshape_3d(ctx, blocks::apply(ctx, L.k, h), hd, hp.n_head, n);
    Tensor* v = reshape_3d(ctx, blocks::apply(ctx, L.v, h), hd, hp.n_head, n);
    x = add(ctx, x, blocks::apply(ctx, L.out, attention(m, ctx, graph, cache, static_cast<int>(l), q, k, v, n, sm)));
    if (!pre) x = norm(L.attn_norm, x);
    h = pre ? norm(L.ffn_norm, x) : x;
    x = add(ctx, x, blocks::apply(ctx, L.down, relu(ctx, blocks::apply(ctx, L.up, h))));
    if (!pre) x = norm(L.ffn_norm, x);
  }
  x = blocks::logits_rows(ctx, x, in);
  if (blocks::present(w.output_norm)) x = norm(w.output_norm, x);
  if (w.proj_out) x = mul_mat(ctx, w.proj_out, x);
  return mul_mat(ctx, w.output, x);
}

}  // namespace

extern const Architecture kArchOpt = {"opt", opt_load, opt_build};

}  // namespace qgml
