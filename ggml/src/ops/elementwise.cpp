// Element-wise ops: binary arithmetic with broadcasting, scaling, activations.
// Inputs are F32 with any strides; results are contiguous F32.
#include <cmath>

#include "../cpu/kernels.h"
#include "op_impl.h"

namespace qgml {
namespace {

inline const float* f32_row(const Tensor* t, int64_t i1, int64_t i2, int64_t i3) {
  return reinterpret_cast<const float*>(t->row(i1, i2, i3));
}
inline float f32_at(const float* row, const Tensor* t, int64_t i0) {
  return *reinterpret_cast<const float*>(reinterpret_cast<const char*>(row) + i0 * t->nb[0]);
}

void require_f32(const Tensor* t, const char* op) {
  if (t->type != Type::F32) fail("%s: expects F32 input, got %s", op, describe(t).c_str());
}

Tensor* binary(Context& ctx, Op op, Tensor* a, Tensor* b) {
  require_f32(a, op_name(op));
  require_f32(b, op_name(op));
  for (int i = 0; i < kMaxDims; ++i) {
    if (b->ne[i] == 0 || a->ne[i] % b->ne[i] != 0)
      fail("%s: cannot broadcast %s over %s", op_name(op), describe(b).c_str(), describe(a).c_str());
  }
  Tensor* r = new_result_like(ctx, op, a);
  r->src[0] = a;
  r->src[1] = b;
  return r;
}

Tensor* unary(Context& ctx, Op op, Tensor* a) {
  require_f32(a, op_name(op));
  Tensor* r = new_result_like(ctx, op, a);
  r->src[0] = a;
  return r;
}

// Applies fn(x_row_element, y_row_element) over dst rows split among threads;
// rows_fn, when given, does whole rows where a, b and dst are contiguous.
template <typename Fn>
void forward_binary(const ComputeParams& p, Tensor* dst, Fn fn,
                    void (*rows_fn)(const float* x, const float* y, float* out, int64_t n) = nullptr) {
  const Tensor* a = dst->src[0];
  const Tensor* b = dst->src[1];
  int64_t r0, r1;
  split_range(dst->nrows(), p.ith, p.nth, &r0, &r1);
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t i1 = r % dst->ne[1], i2 = (r / dst->ne[1]) % dst->ne[2], i3 = r / (dst->ne[1] * dst->ne[2]);
    const float* x = f32_row(a, i1, i2, i3);
    const float* y = f32_row(b, i1 % b->ne[1], i2 % b->ne[2], i3 % b->ne[3]);
    float* out = reinterpret_cast<float*>(dst->row(i1, i2, i3));
    const int64_t n = dst->ne[0], nb0 = b->ne[0];
    const bool contiguous = a->nb[0] == 4 && b->nb[0] == 4 && nb0 == n;
    if (contiguous && rows_fn != nullptr) {
      rows_fn(x, y, out, n);
    } else if (contiguous) {
      for (int64_t i = 0; i < n; ++i) out[i] = fn(x[i], y[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) out[i] = fn(f32_at(x, a, i), f32_at(y, b, i % nb0));
    }
  }
}

template <typename Fn>
void forward_unary(const ComputeParams& p, Tensor* dst, Fn fn) {
  const Tensor* a = dst->src[0];
  int64_t r0, r1;
  split_range(dst->nrows(), p.ith, p.nth, &r0, &r1);
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t i1 = r % dst->ne[1], i2 = (r / dst->ne[1]) % dst->ne[2], i3 = r / (dst->ne[1] * dst->ne[2]);
    const float* x = f32_row(a, i1, i2, i3);
    float* out = reinterpret_cast<float*>(dst->row(i1, i2, i3));
    for (int64_t i = 0; i < dst->ne[0]; ++i) out[i] = fn(f32_at(x, a, i));
  }
}

inline float silu_f(float x) { return x / (1.0f + std::exp(-x)); }

}  // namespace

Tensor* add(Context& ctx, Tensor* a, Tensor* b) { return binary(ctx, Op::Add, a, b); }
Tensor* mul(Context& ctx, Tensor* a, Tensor* b) { return binary(ctx, Op::Mul, a, b); }

Tensor* swiglu(Context& ctx, Tensor* gate, Tensor* up) {
  if (!same_shape(gate, up)) fail("swiglu: shapes differ: %s vs %s", describe(gate).c_str(), describe(up).c_str());
  return binary(ctx, Op::SwiGlu, gate, up);
}

Tensor* scale(Context& ctx, Tensor* a, float s) {
  Tensor* r = unary(ctx, Op::Scale, a);
  r->set_param_f32(0, s);
  return r;
}

Tensor* silu(Context& ctx, Tensor* a) { return unary(ctx, Op::Silu, a); }
Tensor* relu(Context& ctx, Tensor* a) { return unary(ctx, Op::Relu, a); }
Tensor* gelu(Context& ctx, Tensor* a, bool tanh_approximation) {
  Tensor* r = unary(ctx, Op::Gelu, a);
  r->params[0] = tanh_approximation ? 1 : 0;
  return r;
}

void forward_add(const ComputeParams& p, Tensor* dst) {
  forward_binary(p, dst, [](float x, float y) { return x + y; });
}
void forward_mul(const ComputeParams& p, Tensor* dst) {
  forward_binary(p, dst, [](float x, float y) { return x * y; });
}
void forward_swiglu(const ComputeParams& p, Tensor* dst) {
  forward_binary(p, dst, [](float g, float u) { return silu_f(g) * u; }, kernels().math.swiglu);
}
void forward_scale(const ComputeParams& p, Tensor* dst) {
  const float s = dst->param_f32(0);
  forward_unary(p, dst, [s](float x) { return x * s; });
}
void forward_silu(const ComputeParams& p, Tensor* dst) { forward_unary(p, dst, silu_f); }
void forward_relu(const ComputeParams& p, Tensor* dst) {
  forward_unary(p, dst, [](float x) { return x > 0.0f ? x : 0.0f; });
}
void forward_gelu(const ComputeParams& p, Tensor* dst) {
  if (dst->params[0] != 0) {
    forward_unary(p, dst, [](float x) {
      constexpr float kSqrt2OverPi = 0.7978845608028654f;
      return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
    });
  } else {
    forward_unary(p, dst, [](float x) { return 0.5f * x * (1.0f + std::erf(x * 0.7071067811865476f)); });
  }
}

}  // namespace qgml
