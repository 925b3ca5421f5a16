// Row softmax with scaling, an optional additive mask, a causal mask and ALiBi.
#include <cmath>
#include <limits>

#include "../cpu/kernels.h"
#include "op_impl.h"

namespace qgml {

// The geometric sequence of Press et al., extended for head counts that are
// not powers of two as BLOOM and llama.cpp do.
float alibi_slope(float max_bias, int64_t h, int64_t n_heads) {
  int64_t n_pow2 = 1;
  while (n_pow2 * 2 <= n_heads) n_pow2 *= 2;
  const float m0 = std::pow(2.0f, -max_bias / static_cast<float>(n_pow2));
  const float m1 = std::pow(2.0f, -max_bias / 2.0f / static_cast<float>(n_pow2));
  return h < n_pow2 ? std::pow(m0, static_cast<float>(h + 1)) : std::pow(m1, static_cast<float>(2 * (h - n_pow2) + 1));
}

Tensor* soft_max(Context& ctx, Tensor* a, const SoftMaxParams& sp, Tensor* mask) {
  if (a->type != Type::F32) fail("soft_max: expects F32 input, got %s", describe(a).c_str());
  if (mask != nullptr && (mask->type != Type::F32 || mask->ne[0] != a->ne[0] || mask->ne[1] < a->ne[1]))
    fail("soft_max: mask must be F32 [%lld, >= %lld], got %s", static_cast<long long>(a->ne[0]),
         static_cast<long long>(a->ne[1]), describe(mask).c_str());
  Tensor* r = new_result_like(ctx, Op::SoftMax, a);
  r->src[0] = a;
  r->src[1] = mask;
  store_softmax_params("soft_max", sp, r);
  return r;
}

void store_softmax_params(const char* op, const SoftMaxParams& sp, Tensor* r) {
  if (!(sp.alibi_max_bias >= 0.0f)) fail("%s: alibi_max_bias must be >= 0", op);
  if (sp.causal_past < -1) fail("%s: causal_past must be >= 0, or -1 for no causal mask; got %d", op, sp.causal_past);
  r->set_param_f32(0, sp.scale);
  r->params[1] = sp.causal_past;
  r->set_param_f32(2, sp.alibi_max_bias);
}

SoftMaxParams load_softmax_params(const Tensor* r) {
  SoftMaxParams sp;
  sp.scale = r->param_f32(0);
  sp.causal_past = r->params[1];
  sp.alibi_max_bias = r->param_f32(2);
  return sp;
}

void forward_soft_max(const ComputeParams& p, Tensor* dst) {
  const Tensor* a = dst->src[0];
  const Tensor* mask = dst->src[1];
  const SoftMaxParams sp = load_softmax_params(dst);
  const float scale = sp.scale, max_bias = sp.alibi_max_bias;
  const int32_t causal_past = sp.causal_past;
  const int64_t n = dst->ne[0];

  int64_t r0, r1;
  split_range(dst->nrows(), p.ith, p.nth, &r0, &r1);
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t i1 = r % dst->ne[1], i2 = (r / dst->ne[1]) % dst->ne[2], i3 = r / (dst->ne[1] * dst->ne[2]);
    const char* xrow = a->row(i1, i2, i3);
    const char* m = mask ? mask->row(i1) : nullptr;  // any strides: the mask may be a view
    const float slope = max_bias > 0.0f ? alibi_slope(max_bias, i2, dst->ne[2]) : 0.0f;
    const int64_t visible = causal_past >= 0 ? causal_past + i1 + 1 : n;  // columns [0, visible)
    float* out = reinterpret_cast<float*>(dst->row(i1, i2, i3));
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < n; ++j) {
      float v = -std::numeric_limits<float>::infinity();
      if (j < visible) {
        v = *reinterpret_cast<const float*>(xrow + j * a->nb[0]) * scale;
        if (m) v += *reinterpret_cast<const float*>(m + j * mask->nb[0]);
        if (slope != 0.0f) v += slope * static_cast<float>(j);
      }
      out[j] = v;
      if (v > max) max = v;
    }
    exp_normalize(out, n, max);
  }
}

void exp_normalize(float* x, int64_t n, float max) {
  if (max == -std::numeric_limits<float>::infinity()) {  // everything masked: attend to nothing
    for (int64_t j = 0; j < n; ++j) x[j] = 0.0f;
    return;
  }
  const float inv = static_cast<float>(1.0 / kernels().math.exp_sum(x, n, max));
  for (int64_t j = 0; j < n; ++j) x[j] *= inv;
}

}  // namespace qgml
