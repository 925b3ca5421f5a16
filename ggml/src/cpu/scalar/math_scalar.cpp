// Reference elementwise math: the C library's exp, a double sum, plain loops.
#include <cmath>
#include <limits>

#include "../kernels.h"

namespace qgml {
namespace {

double exp_sum(float* x, int64_t n, float max) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  return sum;
}

float scale_max(float* x, int64_t n, float scale) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    x[i] *= scale;
    if (x[i] > max) max = x[i];
  }
  return max;
}

void swiglu(const float* g, const float* u, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void gemm_nn(int64_t m, int64_t n, int64_t depth, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
             int64_t ldc) {
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      float s = 0.0f;
      for (int64_t d = 0; d < depth; ++d) s += a[r * lda + d] * b[d * ldb + j];
      c[r * ldc + j] = s;
    }
}

}  // namespace

void register_scalar_math_kernels(KernelTable& t) {
  t.math.gemm_nn = gemm_nn;
  t.math.exp_sum = exp_sum;
  t.math.scale_max = scale_max;
  t.math.swiglu = swiglu;
}

}  // namespace qgml
