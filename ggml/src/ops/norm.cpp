// Row normalisations. Sums are accumulated in double: rows can be long and
// these ops feed every layer.
#include <cmath>

#include "op_impl.h"

namespace qgml {
namespace {

Tensor* norm_node(Context& ctx, Op op, Tensor* a, float eps) {
  if (a->type != Type::F32) fail("%s: expects F32 input, got %s", op_name(op), describe(a).c_str());
  if (!(eps >= 0.0f)) fail("%s: epsilon must be >= 0", op_name(op));
  Tensor* r = new_result_like(ctx, op, a);
  r->src[0] = a;
  r->set_param_f32(0, eps);
  return r;
}

template <typename RowFn>
void for_rows(const ComputeParams& p, Tensor* dst, RowFn fn) {
  const Tensor* a = dst->src[0];
  int64_t r0, r1;
  split_range(dst->nrows(), p.ith, p.nth, &r0, &r1);
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t i1 = r % dst->ne[1], i2 = (r / dst->ne[1]) % dst->ne[2], i3 = r / (dst->ne[1] * dst->ne[2]);
    const char* x = a->row(i1, i2, i3);
    float* out = reinterpret_cast<float*>(dst->row(i1, i2, i3));
    fn([&](int64_t i) { return *reinterpret_cast<const float*>(x + i * a->nb[0]); }, out, dst->ne[0]);
  }
}

// Σ x(i)² in four partial sums: one chain of dependent additions would bound
// the op by their latency (it runs twice per layer on every token).
template <typename X>
double sum_squares(const X& x, int64_t n) {
  double s[4] = {0.0, 0.0, 0.0, 0.0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int u = 0; u < 4; ++u) s[u] += static_cast<double>(x(i + u)) * x(i + u);
  for (; i < n; ++i) s[0] += static_cast<double>(x(i)) * x(i);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

}  // namespace

Tensor* rms_norm(Context& ctx, Tensor* a, float eps) { return norm_node(ctx, Op::RmsNorm, a, eps); }
Tensor* layer_norm(Context& ctx, Tensor* a, float eps) { return norm_node(ctx, Op::LayerNorm, a, eps); }

void forward_rms_norm(const ComputeParams& p, Tensor* dst) {
  const float eps = dst->param_f32(0);
  for_rows(p, dst, [eps](auto x, float* out, int64_t n) {
    const double sum = sum_squares(x, n);
    const float s = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(n) + eps));
    for (int64_t i = 0; i < n; ++i) out[i] = x(i) * s;
  });
}

void forward_layer_norm(const ComputeParams& p, Tensor* dst) {
  const float eps = dst->param_f32(0);
  for_rows(p, dst, [eps](auto x, float* out, int64_t n) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += x(i);
    const double mean = sum / static_cast<double>(n);
    double var = 0.0;
    for (int64_t i = 0; i < n; ++i) var += (x(i) - mean) * (x(i) - mean);
    const double s = 1.0 / std::sqrt(var / static_cast<double>(n) + eps);
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>((x(i) - mean) * s);
  });
}

}  // namespace qgml
