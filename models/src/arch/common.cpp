// Pieces shared by the decoder-only families: hyperparameters and attention
// over the KV cache.
#include <cmath>
#include <limits>

#include "arch.h"
#include "qgml/error.h"

namespace qgml {

void read_common_hparams(Model& m) {
  const gguf::Reader& f = m.file();
  HParams& hp = m.mutable_hparams();
  const std::string a = hp.arch + ".";
  auto positive = [&](const char* key) {
    const int64_t v = f.get_int(a + key);
    if (v <= 0 || v > (int64_t{1} << 31)) fail("%s: %s%s = %lld is out of range", f.path().c_str(), a.c_str(), key,
                                               static_cast<long long>(v));
    return v;
  };
  hp.n_embd = positive("embedding_length");
  hp.n_ff = positive("feed_forward_length");
  hp.n_layer = positive("block_count");
  hp.n_head = positive("attention.head_count");
  hp.n_head_kv = f.find(a + "attention.head_count_kv") ? positive("attention.head_count_kv") : hp.n_head;
  // A session's KV cache is sized from this; Session refuses more than 2^24 positions.
  hp.n_ctx_train = f.get_int(a + "context_length", 2048);
  if (hp.n_ctx_train <= 0 || hp.n_ctx_train > (int64_t{1} << 24))
    fail("%s: %scontext_length = %lld is out of range [1, 2^24]", f.path().c_str(), a.c_str(),
         static_cast<long long>(hp.n_ctx_train));
  if (hp.n_head % hp.n_head_kv != 0)
    fail("%s: head_count %lld is not a multiple of head_count_kv %lld", f.path().c_str(),
         static_cast<long long>(hp.n_head), static_cast<long long>(hp.n_head_kv));
  hp.head_dim = f.find(a + "attention.key_length") ? positive("attention.key_length") : hp.n_embd / hp.n_head;
  if (hp.head_dim * hp.n_head != hp.n_embd && !f.find(a + "attention.key_length"))
    fail("%s: embedding_length %lld is not divisible by head_count %lld", f.path().c_str(),
         static_cast<long long>(hp.n_embd), static_cast<long long>(hp.n_head));
  // Float keys may be F64 in the file: a finite double beyond float's range
  // would make the narrowing conversion undefined, so it is refused.
  auto positive_float = [&](const char* key, double def) {
    const double v = f.get_float(a + key, def);
    if (!(v > 0) || v > std::numeric_limits<float>::max())
      fail("%s: %s%s = %g is out of range (must be positive and finite)", f.path().c_str(), a.c_str(), key, v);
    return static_cast<float>(v);
  };
  hp.norm_eps = positive_float("attention.layer_norm_rms_epsilon", 1e-5);
  hp.rope.n_rot = static_cast<int32_t>(f.get_int(a + "rope.dimension_count", hp.head_dim));
  hp.rope.freq_base = positive_float("rope.freq_base", 10000.0);
  if (hp.rope.n_rot <= 0 || hp.rope.n_rot > hp.head_dim || hp.rope.n_rot % 2 != 0)
    fail("%s: rope.dimension_count %d is invalid for head size %lld", f.path().c_str(), hp.rope.n_rot,
         static_cast<long long>(hp.head_dim));

  const std::string scaling = f.get_string(a + "rope.scaling.type", "none");
  if (scaling == "linear") {
    const double factor = positive_float("rope.scaling.factor", 1.0);
    if (1.0 / factor > std::numeric_limits<float>::max())
      fail("%s: rope.scaling.factor %g is too small", f.path().c_str(), factor);
    hp.rope.freq_scale = static_cast<float>(1.0 / factor);
  } else if (scaling != "none" && scaling != "llama3" && !scaling.empty()) {
    fail("%s: rope scaling type '%s' is not supported", f.path().c_str(), scaling.c_str());
  }
}

Tensor* attention(const Model& m, Context& ctx, Graph& graph, KvCache& cache, int layer, Tensor* q, Tensor* k,
                  Tensor* v, int64_t n, const SoftMaxParams& sm, Tensor* score_bias) {
  const HParams& hp = m.hparams();
  const int64_t hd = hp.head_dim, nkv = hp.n_head_kv;
  Tensor* kc = cache.k[layer];
  Tensor* vc = cache.v[layer];
  const size_t es = traits(kc->type).type_size;
  const int64_t past = cache.n_past, total = past + n;

  // Store this batch's keys and values; the graph runs these copies before
  // anything added later, which includes every read below.
  Tensor* k_dst = view_3d(ctx, kc, hd, nkv, n, hd * es, hd * nkv * es, static_cast<size_t>(past) * hd * nkv * es);
  graph.add_output(cpy(ctx, k, k_dst));
  Tensor* v_dst = view_3d(ctx, vc, n, hd, nkv, cache.n_ctx * es, cache.n_ctx * hd * es, static_cast<size_t>(past) * es);
  graph.add_output(cpy(ctx, permute(ctx, v, 1, 2, 0, 3), v_dst));

  SoftMaxParams causal = sm;
  causal.causal_past = static_cast<int32_t>(past);
  Tensor* values = view_3d(ctx, vc, total, hd, nkv, cache.n_ctx * es, cache.n_ctx * hd * es, 0);
  if (score_bias == nullptr) {
    Tensor* keys = view_3d(ctx, kc, hd, nkv, total, hd * es, hd * nkv * es, 0);
    return reshape_2d(ctx, attend(ctx, q, keys, values, causal), hd * hp.n_head, n);
  }
  // A bias tensor on the scores (Falcon's ALiBi form): the scores are
  // materialized. scores[j, i, h] = k_j · q_i for every cached position j and head h.
  Tensor* keys = view_3d(ctx, kc, hd, total, nkv, hd * nkv * es, hd * es, 0);
  Tensor* queries = permute(ctx, q, 0, 2, 1, 3);  // [hd, n, n_head]
  Tensor* scores = add(ctx, mul_mat(ctx, keys, queries), score_bias);  // [total, n, n_head]
  Tensor* probs = soft_max(ctx, scores, causal);
  Tensor* out = mul_mat(ctx, values, probs);  // [hd, n, n_head]
  out = cont(ctx, permute(ctx, out, 0, 2, 1, 3));  // [hd, n_head, n]
  return reshape_2d(ctx, out, hd * hp.n_head, n);
}

}  // namespace qgml
