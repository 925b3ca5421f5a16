// Falcon: fused q/k/v (attn_qkv, [all q; all k; all v]; one kv head for
// Falcon-7B's multi-query, groups for 40B/180B), exact GELU, head tied to the
// embedding unless output.weight is stored. The block shape follows the norms
// the file has, as in llama.cpp:
//  * attn_norm + ffn_norm (Falcon-RW): attention, then the MLP on its result;
//  * attn_norm only (7B): attention and MLP in parallel from the same norm;
//  * attn_norm + attn_norm_2 (40B): in parallel, each with its own norm.
// Position information is rotary (NeoX pairing) unless
// falcon.attention.max_alibi_bias is set (Falcon-RW), in which case it is
// ALiBi exactly as HF's Falcon computes it: the bias slope_h·j is added to the
// raw scores before the 1/sqrt(head_dim) scaling, and both the slope and the
// product are rounded to bfloat16 (build_alibi_tensor), which the trained
// weights have seen. Linears in forward order (GPTQ's true-sequential
// groups): attn_qkv, attn_output, ffn_up, ffn_down.
#include <cmath>
#include <memory>
#include <vector>

#include "blocks.h"
#include "qgml/error.h"
#include "qgml/fp16.h"

namespace qgml {
namespace {

struct FalconLayer {
  blocks::Norm attn_norm, attn_norm_2, ffn_norm;
  blocks::Dense qkv, out, up, down;
};

struct FalconWeights {
  Tensor *tok_embd, *output;
  std::vector<FalconLayer> layers;
  blocks::Norm output_norm;
  float eps;
  float alibi_max_bias;  // 0: rotary
};

float bf16_round(float x) { return bf16_to_f32(f32_to_bf16(x)); }

// HF's build_alibi_tensor slopes (float32), for any head count.
std::vector<float> alibi_slopes(int64_t n_head, float max_bias) {
  int64_t p2 = 1;
  while (p2 * 2 <= n_head) p2 *= 2;
  const float base = static_cast<float>(std::pow(2.0, -max_bias / static_cast<double>(p2)));
  const float extra = static_cast<float>(std::pow(2.0, -max_bias / static_cast<double>(2 * p2)));
  std::vector<float> s;
  for (int64_t h = 0; h < n_head; ++h)
    s.push_back(h < p2 ? std::pow(base, static_cast<float>(h + 1)) : std::pow(extra, static_cast<float>(2 * (h - p2) + 1)));
  return s;
}

void falcon_load(Model& m) {
  read_common_hparams(m);
  HParams& hp = m.mutable_hparams();
  hp.rope.mode = RopeMode::Neox;
  const int64_t E = hp.n_embd, F = hp.n_ff, QKV = hp.head_dim * (hp.n_head + 2 * hp.n_head_kv);
  auto w = std::make_shared<FalconWeights>();
  w->eps = blocks::layer_norm_eps(m);
  const double bias = m.file().get_float("falcon.attention.max_alibi_bias", 0.0);
  if (!(bias >= 0 && bias <= 64)) fail("%s: falcon.attention.max_alibi_bias = %g is out of range", m.file().path().c_str(), bias);
  w->alibi_max_bias = static_cast<float>(bias);
  w->tok_embd = m.weight("token_embd.weight");
  hp.n_vocab = w->tok_embd->ne[1];
  w->tok_embd = m.weight("token_embd.weight", {E, hp.n_vocab});
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    FalconLayer L;
    L.attn_norm = blocks::norm(m, p + "attn_norm", E);
    L.attn_norm_2 = blocks::norm(m, p + "attn_norm_2", E, false);
    L.ffn_norm = blocks::norm(m, p + "ffn_norm", E, false);
    if (blocks::present(L.attn_norm_2) && blocks::present(L.ffn_norm))
      fail("%s: block %lld has both attn_norm_2 (parallel) and ffn_norm (sequential)", m.file().path().c_str(),
           static_cast<long long>(l));
    L.qkv = blocks::dense(m, p + "attn_qkv", E, QKV);
    L.out = blocks::dense(m, p + "attn_output", hp.head_dim * hp.n_head, E);
    L.up = blocks::dense(m, p + "ffn_up", E, F);
    L.down = blocks::dense(m, p + "ffn_down", F, E);
    w->layers.push_back(L);
  }
  w->output_norm = blocks::norm(m, "output_norm", E);
  w->output = m.weight_or_null("output.weight") ? m.weight("output.weight", {E, hp.n_vocab}) : w->tok_embd;
  m.arch_state = w;
}

const FalconWeights& weights(const Model& m) { return *static_cast<const FalconWeights*>(m.arch_state.get()); }

// [n_kv_total, 1, n_head] ALiBi bias for keys [0, n_past + n), or nullptr for rotary.
Tensor* alibi_bias(const Model& m, Context& ctx, int64_t total) {
  const HParams& hp = m.hparams();
  const FalconWeights& w = weights(m);
  if (!(w.alibi_max_bias > 0)) return nullptr;
  Tensor* alibi = ctx.new_tensor_3d(Type::F32, total, 1, hp.n_head);
  float* a = static_cast<float*>(alibi->data);
  if (a == nullptr) return alibi;  // a no-allocation context: the graph is built (to inspect it), never computed
  const std::vector<float> slopes = alibi_slopes(hp.n_head, w.alibi_max_bias);
  for (int64_t h = 0; h < hp.n_head; ++h)
    for (int64_t j = 0; j < total; ++j)
      a[h * total + j] = bf16_round(bf16_round(slopes[static_cast<size_t>(h)]) * static_cast<float>(j));
  return alibi;
}

Tensor* block(const blocks::Builder& b, Tensor* alibi, int l, Tensor* x) {
  const HParams& hp = b.m.hparams();
  const FalconWeights& w = weights(b.m);
  const FalconLayer& L = w.layers[static_cast<size_t>(l)];
  Context& ctx = b.ctx;
  SoftMaxParams sm;
  sm.scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
  Tensor* attn_in = b.norm(L.attn_norm, x, w.eps);
  Tensor *q, *k, *v;
  blocks::split_qkv(ctx, hp, b.linear(L.qkv, attn_in), b.in.n, &q, &k, &v);
  if (!alibi) {
    q = rope(ctx, q, b.in.positions, hp.rope);
    k = rope(ctx, k, b.in.positions, hp.rope);
  }
  Tensor* attn = b.linear(L.out, attention(b.m, ctx, b.graph, b.cache, l, q, k, v, b.in.n, sm, alibi));
  auto mlp = [&](Tensor* h) { return b.linear(L.down, gelu(ctx, b.linear(L.up, h), false)); };
  if (blocks::present(L.ffn_norm)) {  // sequential (Falcon-RW)
    x = add(ctx, x, attn);
    return add(ctx, x, mlp(b.norm(L.ffn_norm, x, w.eps)));
  }
  Tensor* mlp_in = blocks::present(L.attn_norm_2) ? b.norm(L.attn_norm_2, x, w.eps) : attn_in;
  return add(ctx, x, add(ctx, mlp(mlp_in), attn));
}

Tensor* falcon_build(const Model& m, Context& ctx, Graph& graph, KvCache& cache, const BatchInputs& in) {
  const FalconWeights& w = weights(m);
  const blocks::Builder b{m, ctx, graph, cache, in};
  Tensor* alibi = alibi_bias(m, ctx, cache.n_past + in.n);  // shared by the layers
  Tensor* x = get_rows(ctx, w.tok_embd, in.tokens);
  for (size_t l = 0; l < w.layers.size(); ++l) x = block(b, alibi, static_cast<int>(l), x);
  x = b.norm(w.output_norm, blocks::logits_rows(ctx, x, in), w.eps);
  return linear(m, ctx, graph, in, w.output, x);
}

Tensor* falcon_build_block(const Model& m, Context& ctx, Graph& graph, KvCache& cache, const BatchInputs& in, int layer,
                           Tensor* x) {
  blocks::check_block_args(m, in, layer, x);
  return block(blocks::Builder{m, ctx, graph, cache, in}, alibi_bias(m, ctx, cache.n_past + in.n), layer, x);
}

}  // namespace

extern const Architecture kArchFalcon = {"falcon", falcon_load, falcon_build, falcon_build_block};

}  // namespace qgml
