// AVX2 elementwise math: exp by the polynomial of exp_poly.h, 8 lanes at a
// time; the softmax sum in double, like the reference; attention scores in
// register tiles.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "../exp_poly.h"
#include "../gemm_tiles.h"
#include "../kernels.h"

namespace qgml {
namespace {

inline __m256 exp8(__m256 x) {
  namespace ep = exp_poly;
  // Constant first: max/min return their second operand when one is NaN, so NaN passes through.
  const __m256 xc = _mm256_min_ps(_mm256_set1_ps(ep::kMaxX), _mm256_max_ps(_mm256_set1_ps(ep::kMinX), x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(ep::kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(ep::kLn2Hi), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(ep::kLn2Lo), r);
  __m256 q = _mm256_set1_ps(ep::kQ[0]);
  for (int i = 1; i < 6; ++i) q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(ep::kQ[i]));
  const __m256 p = _mm256_add_ps(_mm256_fmadd_ps(q, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(ep::kMinX), _CMP_LT_OQ));
  return _mm256_blendv_ps(y, _mm256_set1_ps(std::numeric_limits<float>::infinity()),
                          _mm256_cmp_ps(x, _mm256_set1_ps(ep::kOverflowX), _CMP_GT_OQ));
}

inline __m256d add_as_double(__m256d acc, __m256 v) {
  acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
  return _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

double exp_sum(float* x, int64_t n, float max) {
  const __m256 vmax = _mm256_set1_ps(max);
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 e0 = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax));
    const __m256 e1 = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vmax));
    _mm256_storeu_ps(x + i, e0);
    _mm256_storeu_ps(x + i + 8, e1);
    s0 = add_as_double(s0, e0);
    s1 = add_as_double(s1, e1);
  }
  for (; i < n; i += 8) {  // the tail through a buffer padded with −inf, whose exp is 0
    alignas(32) float buf[8];
    const int64_t m = n - i < 8 ? n - i : 8;
    for (int j = 0; j < 8; ++j) buf[j] = j < m ? x[i + j] : -std::numeric_limits<float>::infinity();
    const __m256 e = exp8(_mm256_sub_ps(_mm256_load_ps(buf), vmax));
    _mm256_store_ps(buf, e);
    std::memcpy(x + i, buf, static_cast<size_t>(m) * sizeof(float));
    s0 = add_as_double(s0, e);
  }
  alignas(32) double d[4];
  _mm256_store_pd(d, _mm256_add_pd(s0, s1));
  return (d[0] + d[1]) + (d[2] + d[3]);
}

float scale_max(float* x, int64_t n, float scale) {
  const __m256 vs = _mm256_set1_ps(scale);
  __m256 m0 = _mm256_set1_ps(-std::numeric_limits<float>::infinity()), m1 = m0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 a = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs), b = _mm256_mul_ps(_mm256_loadu_ps(x + i + 8), vs);
    _mm256_storeu_ps(x + i, a);
    _mm256_storeu_ps(x + i + 8, b);
    m0 = _mm256_max_ps(a, m0);  // a NaN is passed over, as the reference's x > max does
    m1 = _mm256_max_ps(b, m1);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_max_ps(m0, m1));
  float max = lanes[0];
  for (int j = 1; j < 8; ++j)
    if (lanes[j] > max) max = lanes[j];
  for (; i < n; ++i) {
    x[i] *= scale;
    if (x[i] > max) max = x[i];
  }
  return max;
}

inline __m256 swiglu8(__m256 g, __m256 u) {
  const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
  return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

void swiglu(const float* g, const float* u, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, swiglu8(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
  if (i < n) {
    alignas(32) float bg[8] = {}, bu[8] = {};
    const size_t m = static_cast<size_t>(n - i) * sizeof(float);
    std::memcpy(bg, g + i, m);
    std::memcpy(bu, u + i, m);
    _mm256_store_ps(bg, swiglu8(_mm256_load_ps(bg), _mm256_load_ps(bu)));
    std::memcpy(out + i, bg, m);
  }
}

// R rows of c: 16 columns at a time in 2R accumulators (each b load serves R
// FMAs), then 8 at a time, the last ones through masked loads and stores.
template <int R>
void gemm_nn_rows(int64_t n, int64_t depth, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m256 acc[R][2];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int64_t d = 0; d < depth; ++d) {
      const __m256 b0 = _mm256_loadu_ps(b + d * ldb + j), b1 = _mm256_loadu_ps(b + d * ldb + j + 8);
      for (int r = 0; r < R; ++r) {
        const __m256 av = _mm256_broadcast_ss(a + r * lda + d);
        acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
      }
    }
    for (int r = 0; r < R; ++r) {
      _mm256_storeu_ps(c + r * ldc + j, acc[r][0]);
      _mm256_storeu_ps(c + r * ldc + j + 8, acc[r][1]);
    }
  }
  for (; j < n; j += 8) {
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::min<int64_t>(8, n - j))),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t d = 0; d < depth; ++d) {
      const __m256 bv = _mm256_maskload_ps(b + d * ldb + j, mask);
      for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + r * lda + d), bv, acc[r]);
    }
    for (int r = 0; r < R; ++r) _mm256_maskstore_ps(c + r * ldc + j, mask, acc[r]);
  }
}

void gemm_nn(int64_t m, int64_t n, int64_t depth, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
             int64_t ldc) {
  for_row_tiles<6>(m, [&](auto rows, int64_t r) {
    gemm_nn_rows<decltype(rows)::value>(n, depth, a + r * lda, lda, b, ldb, c + r * ldc, ldc);
  });
}

}  // namespace

void register_avx2_math_kernels(KernelTable& t) {
  t.math.gemm_nn = gemm_nn;
  t.math.exp_sum = exp_sum;
  t.math.scale_max = scale_max;
  t.math.swiglu = swiglu;
}

}  // namespace qgml
