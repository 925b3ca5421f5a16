// Building blocks of the LayerNorm families; see blocks.h.
#include "blocks.h"

#include "qgml/error.h"

namespace qgml::blocks {

Dense dense(const Model& m, const std::string& name, int64_t n_in, int64_t n_out) {
  Dense d;
  d.w = m.weight(name + ".weight", {n_in, n_out});
  if (m.weight_or_null(name + ".bias")) d.b = m.weight(name + ".bias", {n_out});
  return d;
}

Norm norm(const Model& m, const std::string& name, int64_t n, bool required) {
  Norm r;
  if (required || m.weight_or_null(name + ".weight")) r.w = m.weight(name + ".weight", {n});
  if (required || m.weight_or_null(name + ".bias")) r.b = m.weight(name + ".bias", {n});
  return r;
}

bool present(const Norm& n) { return n.w != nullptr || n.b != nullptr; }

Tensor* Builder::linear(const Dense& d, Tensor* x) const {
  Tensor* y = qgml::linear(m, ctx, graph, in, d.w, x);
  return d.b ? add(ctx, y, d.b) : y;
}

void check_block_args(const Model& m, const BatchInputs& in, int layer, const Tensor* x) {
  const HParams& hp = m.hparams();
  if (layer < 0 || layer >= hp.n_layer) fail("build_block: layer %d is out of range", layer);
  if (x->ne[0] != hp.n_embd || x->ne[1] != in.n) fail("build_block: hidden states do not match n_embd × n");
}

Tensor* Builder::norm(const Norm& n, Tensor* x, float eps) const {
  Tensor* y = layer_norm(ctx, x, eps);
  if (n.w) y = mul(ctx, y, n.w);
  if (n.b) y = add(ctx, y, n.b);
  return y;
}

float layer_norm_eps(const Model& m) {
  const gguf::Reader& f = m.file();
  const std::string key = m.hparams().arch + ".attention.layer_norm_epsilon";
  const double eps = f.get_float(key, 1e-5);
  if (!(eps > 0 && eps < 1)) fail("%s: %s = %g is out of range (0, 1)", f.path().c_str(), key.c_str(), eps);
  return static_cast<float>(eps);
}

bool flag(const Model& m, const std::string& key, bool def) {
  const std::string k = m.hparams().arch + "." + key;
  const gguf::Value* v = m.file().find(k);
  if (v == nullptr) return def;
  if (v->type != gguf::ValueType::BOOL) fail("%s: %s must be a bool", m.file().path().c_str(), k.c_str());
  return v->num.u != 0;
}

void split_qkv(Context& ctx, const HParams& hp, Tensor* qkv, int64_t n, Tensor** q, Tensor** k, Tensor** v) {
  const int64_t hd = hp.head_dim, nq = hd * hp.n_head, nkv = hd * hp.n_head_kv;
  const size_t es = sizeof(float);
  auto part = [&](int64_t rows, int64_t offset, int64_t heads) {
    return reshape_3d(ctx, cont(ctx, view_2d(ctx, qkv, rows, n, qkv->nb[1], static_cast<size_t>(offset) * es)), hd,
                      heads, n);
  };
  *q = part(nq, 0, hp.n_head);
  *k = part(nkv, nq, hp.n_head_kv);
  *v = part(nkv, nq + nkv, hp.n_head_kv);
}

Tensor* learned_positions(const Model& m, Context& ctx, Tensor* table, const BatchInputs& in) {
  const int32_t* pos = static_cast<const int32_t*>(in.positions->data);
  for (int64_t i = 0; pos != nullptr && i < in.n; ++i) {
    if (pos[i] < 0 || pos[i] >= table->ne[1])
      fail("%s: position %d is past the %lld learned position embeddings of this model (use a context of at most %lld)",
           m.file().path().c_str(), pos[i], static_cast<long long>(table->ne[1]), static_cast<long long>(table->ne[1]));
  }
  return get_rows(ctx, table, in.positions);
}

Tensor* logits_rows(Context& ctx, Tensor* x, const BatchInputs& in) {
  if (in.all_logits || in.n <= 1) return x;
  return view_2d(ctx, x, x->ne[0], 1, x->nb[1], static_cast<size_t>(in.n - 1) * x->nb[1]);
}

}  // namespace qgml::blocks
