// Llama 1/2/3, Mistral, SmolLM, TinyLlama: pre-norm decoder blocks with
// RMSNorm, rotary attention (grouped-query when n_head_kv < n_head) and a
// SwiGLU feed-forward network.
#include "llama.h"

#include <cmath>
#include <limits>
#include <string>

#include "blocks.h"
#include "qgml/error.h"

namespace qgml {
namespace {

// llama3 rope scaling: long wavelengths are stretched by `factor`, short ones
// kept, with a smooth blend between (Meta's reference formula).
std::vector<float> llama3_freq_factors(const gguf::Reader& f, const std::string& a, const HParams& hp) {
  const double factor = f.get_float(a + "rope.scaling.factor", 8.0);
  const double low = f.get_float(a + "rope.scaling.low_freq_factor", 1.0);
  const double high = f.get_float(a + "rope.scaling.high_freq_factor", 4.0);
  const double n_orig = static_cast<double>(f.get_int(a + "rope.scaling.original_context_length", 8192));
  if (!(factor > 0) || !(high > low) || !(n_orig > 0)) fail("%s: invalid llama3 rope scaling parameters", f.path().c_str());
  const double low_wavelen = n_orig / low, high_wavelen = n_orig / high;
  std::vector<float> out(static_cast<size_t>(hp.rope.n_rot / 2));
  // Stored as float: a factor beyond float's range would be undefined to convert.
  auto store = [&](size_t i, double v) {
    if (!(std::fabs(v) <= std::numeric_limits<float>::max()))
      fail("%s: invalid llama3 rope scaling parameters", f.path().c_str());
    out[i] = static_cast<float>(v);
  };
  for (size_t i = 0; i < out.size(); ++i) {
    const double freq = std::pow(static_cast<double>(hp.rope.freq_base), -2.0 * static_cast<double>(i) / hp.rope.n_rot);
    const double wavelen = 2.0 * M_PI / freq;
    if (wavelen < high_wavelen) {
      out[i] = 1.0f;
    } else if (wavelen > low_wavelen) {
      store(i, factor);
    } else {
      const double smooth = (n_orig / wavelen - low) / (high - low);
      store(i, 1.0 / ((1.0 - smooth) / factor + smooth));
    }
  }
  return out;
}

}  // namespace

void llama_load(Model& m, RopeMode mode) {
  read_common_hparams(m);
  HParams& hp = m.mutable_hparams();
  hp.rope.mode = mode;
  const gguf::Reader& f = m.file();
  const std::string a = hp.arch + ".";

  auto w = std::make_shared<LlamaWeights>();
  w->tok_embd = m.weight("token_embd.weight");
  hp.n_vocab = w->tok_embd->ne[1];
  if (w->tok_embd->ne[0] != hp.n_embd)
    fail("%s: token_embd.weight has rows of %lld, expected embedding_length %lld", f.path().c_str(),
         static_cast<long long>(w->tok_embd->ne[0]), static_cast<long long>(hp.n_embd));
  const int64_t E = hp.n_embd, F = hp.n_ff, Q = hp.head_dim * hp.n_head, KV = hp.head_dim * hp.n_head_kv;
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LlamaLayer L{};
    L.attn_norm = m.weight(p + "attn_norm.weight", {E});
    L.wq = m.weight(p + "attn_q.weight", {E, Q});
    L.wk = m.weight(p + "attn_k.weight", {E, KV});
    L.wv = m.weight(p + "attn_v.weight", {E, KV});
    L.wo = m.weight(p + "attn_output.weight", {Q, E});
    L.bq = m.weight_or_null(p + "attn_q.bias");
    L.bk = m.weight_or_null(p + "attn_k.bias");
    L.bv = m.weight_or_null(p + "attn_v.bias");
    L.ffn_norm = m.weight(p + "ffn_norm.weight", {E});
    L.w_gate = m.weight(p + "ffn_gate.weight", {E, F});
    L.w_up = m.weight(p + "ffn_up.weight", {E, F});
    L.w_down = m.weight(p + "ffn_down.weight", {F, E});
    w->layers.push_back(L);
  }
  w->output_norm = m.weight("output_norm.weight", {E});
  w->output = m.weight_or_null("output.weight");
  if (w->output == nullptr) w->output = w->tok_embd;  // tied embeddings (SmolLM, stories260K)
  if (w->output->ne[0] != E || w->output->ne[1] != hp.n_vocab)
    fail("%s: output.weight shape does not match the vocabulary", f.path().c_str());

  w->freq_factors = m.weight_or_null("rope_freqs.weight");
  if (w->freq_factors == nullptr && f.get_string(a + "rope.scaling.type", "none") == "llama3")
    hp.rope_freq_factors = llama3_freq_factors(f, a, hp);
  m.arch_state = w;
}

namespace {

struct BlockContext {
  SoftMaxParams sm;
  Tensor* freq_factors;
};

BlockContext block_context(const Model& m, Context& ctx) {
  const HParams& hp = m.hparams();
  const LlamaWeights& w = *static_cast<const LlamaWeights*>(m.arch_state.get());
  BlockContext b;
  b.sm.scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
  b.freq_factors = w.freq_factors;
  if (b.freq_factors == nullptr && !hp.rope_freq_factors.empty()) {
    b.freq_factors = ctx.new_tensor_1d(Type::F32, static_cast<int64_t>(hp.rope_freq_factors.size()));
    std::copy(hp.rope_freq_factors.begin(), hp.rope_freq_factors.end(), static_cast<float*>(b.freq_factors->data));
  }
  return b;
}

Tensor* block(const Model& m, Context& ctx, Graph& graph, KvCache& cache, const BatchInputs& in, const BlockContext& b,
              int l, Tensor* x) {
  const HParams& hp = m.hparams();
  const LlamaLayer& L = static_cast<const LlamaWeights*>(m.arch_state.get())->layers[static_cast<size_t>(l)];
  const int64_t n = in.n, hd = hp.head_dim;
  Tensor* h = mul(ctx, rms_norm(ctx, x, hp.norm_eps), L.attn_norm);

  Tensor* q = linear(m, ctx, graph, in, L.wq, h);
  Tensor* k = linear(m, ctx, graph, in, L.wk, h);
  Tensor* v = linear(m, ctx, graph, in, L.wv, h);
  if (L.bq) q = add(ctx, q, L.bq);
  if (L.bk) k = add(ctx, k, L.bk);
  if (L.bv) v = add(ctx, v, L.bv);
  q = rope(ctx, reshape_3d(ctx, q, hd, hp.n_head, n), in.positions, hp.rope, b.freq_factors);
  k = rope(ctx, reshape_3d(ctx, k, hd, hp.n_head_kv, n), in.positions, hp.rope, b.freq_factors);
  v = reshape_3d(ctx, v, hd, hp.n_head_kv, n);

  Tensor* attn = attention(m, ctx, graph, cache, l, q, k, v, n, b.sm);
  x = add(ctx, x, linear(m, ctx, graph, in, L.wo, attn));

  h = mul(ctx, rms_norm(ctx, x, hp.norm_eps), L.ffn_norm);
  Tensor* ffn = swiglu(ctx, linear(m, ctx, graph, in, L.w_gate, h), linear(m, ctx, graph, in, L.w_up, h));
  return add(ctx, x, linear(m, ctx, graph, in, L.w_down, ffn));
}

}  // namespace

Tensor* llama_build(const Model& m, Context& ctx, Graph& graph, KvCache& cache, const BatchInputs& in) {
  const HParams& hp = m.hparams();
  const LlamaWeights& w = *static_cast<const LlamaWeights*>(m.arch_state.get());
  const BlockContext b = block_context(m, ctx);
  Tensor* x = get_rows(ctx, w.tok_embd, in.tokens);  // [n_embd, n]
  for (size_t l = 0; l < w.layers.size(); ++l) x = block(m, ctx, graph, cache, in, b, static_cast<int>(l), x);
  x = blocks::logits_rows(ctx, x, in);
  x = mul(ctx, rms_norm(ctx, x, hp.norm_eps), w.output_norm);
  return linear(m, ctx, graph, in, w.output, x);
}

Tensor* llama_build_block(const Model& m, Context& ctx, Graph& graph, KvCache& cache, const BatchInputs& in, int layer,
                          Tensor* x) {
  const HParams& hp = m.hparams();
  if (layer < 0 || layer >= hp.n_layer) fail("build_block: layer %d is out of range", layer);
  if (x->ne[0] != hp.n_embd || x->ne[1] != in.n) fail("build_block: hidden states do not match n_embd × n");
  return block(m, ctx, graph, cache, in, block_context(m, ctx), layer, x);
}

extern const Architecture kArchLlama = {
    "llama",
    [](Model& m) { llama_load(m, RopeMode::Adjacent); },
    llama_build,
    llama_build_block,
};

}  // namespace qgml
