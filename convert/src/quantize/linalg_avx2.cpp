// The AVX2/FMA micro-kernel of linalg::gemm, compiled for that ISA through a
// function attribute (the convert library has no per-ISA folders); it runs
// only when the CPU reports AVX2 and FMA.
#include "linalg_kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <cmath>

namespace qgml::linalg {

namespace {

// C[mr×nr] += alpha · acc for the 6 × 16 accumulators of a tile (= with
// overwrite: alpha·acc rounded once, as fma(alpha, acc, 0) would give).
__attribute__((target("avx2,fma"))) inline void add_tile(const __m256 (&rows)[kMR][2], float* C, int64_t ldc, float alpha,
                                                         int mr, int nr, bool overwrite) {
  const __m256 va = _mm256_set1_ps(alpha);
  if (mr == kMR && nr == kNR) {
    for (int i = 0; i < kMR; ++i) {
      float* c = C + i * ldc;
      if (overwrite) {
        _mm256_storeu_ps(c, _mm256_mul_ps(va, rows[i][0]));
        _mm256_storeu_ps(c + 8, _mm256_mul_ps(va, rows[i][1]));
      } else {
        _mm256_storeu_ps(c, _mm256_fmadd_ps(va, rows[i][0], _mm256_loadu_ps(c)));
        _mm256_storeu_ps(c + 8, _mm256_fmadd_ps(va, rows[i][1], _mm256_loadu_ps(c + 8)));
      }
    }
    return;
  }
  alignas(32) float acc[kMR][kNR];
  for (int i = 0; i < kMR; ++i) {
    _mm256_store_ps(acc[i], rows[i][0]);
    _mm256_store_ps(acc[i] + 8, rows[i][1]);
  }
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) C[i * ldc + j] = overwrite ? alpha * acc[i][j] : C[i * ldc + j] + alpha * acc[i][j];
}

// The tile loop over kc, A's six values of step k at a[i] + k·as: each
// iteration is 2 loads, 6 broadcasts and 12 independent FMAs on 12
// accumulator registers.
__attribute__((target("avx2,fma"))) inline void tile_6x16(int64_t kc, const float* const (&a)[kMR], int64_t as,
                                                          const float* Bp, float* C, int64_t ldc, float alpha, int mr,
                                                          int nr, bool overwrite) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
  // C is read (or written) after the loop: request its lines now so that
  // the misses overlap the loop (C of a Hessian, n × n, lives in L2 or L3;
  // a product's C is fresh memory).
  for (int i = 0; i < mr; ++i) {
    __builtin_prefetch(C + i * ldc, 1);
    __builtin_prefetch(C + i * ldc + kNR - 1, 1);
  }
  for (int64_t k = 0; k < kc; ++k, Bp += kNR) {
    const __m256 b0 = _mm256_loadu_ps(Bp), b1 = _mm256_loadu_ps(Bp + 8);
    const int64_t o = k * as;
    __m256 v = _mm256_broadcast_ss(a0 + o);
    c00 = _mm256_fmadd_ps(v, b0, c00), c01 = _mm256_fmadd_ps(v, b1, c01);
    v = _mm256_broadcast_ss(a1 + o);
    c10 = _mm256_fmadd_ps(v, b0, c10), c11 = _mm256_fmadd_ps(v, b1, c11);
    v = _mm256_broadcast_ss(a2 + o);
    c20 = _mm256_fmadd_ps(v, b0, c20), c21 = _mm256_fmadd_ps(v, b1, c21);
    v = _mm256_broadcast_ss(a3 + o);
    c30 = _mm256_fmadd_ps(v, b0, c30), c31 = _mm256_fmadd_ps(v, b1, c31);
    v = _mm256_broadcast_ss(a4 + o);
    c40 = _mm256_fmadd_ps(v, b0, c40), c41 = _mm256_fmadd_ps(v, b1, c41);
    v = _mm256_broadcast_ss(a5 + o);
    c50 = _mm256_fmadd_ps(v, b0, c50), c51 = _mm256_fmadd_ps(v, b1, c51);
  }
  const __m256 rows[kMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  add_tile(rows, C, ldc, alpha, mr, nr, overwrite);
}

}  // namespace

// C[mr×nr] += alpha · Ap·Bp over kc: Ap holds kc columns of 6 A values,
// Bp kc rows of 16 B values (zero-padded).
__attribute__((target("avx2,fma"))) void kernel_6x16_avx2(int64_t kc, const float* Ap, const float* Bp, float* C,
                                                          int64_t ldc, float alpha, int mr, int nr, bool overwrite) {
  const float* const a[kMR] = {Ap, Ap + 1, Ap + 2, Ap + 3, Ap + 4, Ap + 5};
  tile_6x16(kc, a, kMR, Bp, C, ldc, alpha, mr, nr, overwrite);
}

// Rows past mr read row 0 again (valid memory); their results are dropped.
__attribute__((target("avx2,fma"))) void kernel_6x16_view_avx2(int64_t kc, const float* A, int64_t rs, int64_t cs,
                                                               const float* Bp, float* C, int64_t ldc, float alpha, int mr,
                                                               int nr, bool overwrite) {
  const float* const a[kMR] = {A, A + (mr > 1 ? rs : 0), A + (mr > 2 ? 2 * rs : 0), A + (mr > 3 ? 3 * rs : 0),
                               A + (mr > 4 ? 4 * rs : 0), A + (mr > 5 ? 5 * rs : 0)};
  tile_6x16(kc, a, cs, Bp, C, ldc, alpha, mr, nr, overwrite);
}

// 12 independent FMA chains per iteration: enough to cover the FMA latency
// (4-5 cycles) on two pipes, so the loop runs at the units' throughput. The
// chains start from different values: identical chains would be legally
// merged into one by the compiler (GCC does), and the loop would then time
// one chain's latency instead of the units' throughput.
__attribute__((target("avx2,fma"))) double fma_peak_loop(int64_t iters) {
  __m256 a0 = _mm256_set1_ps(1.0f), a1 = _mm256_set1_ps(1.1f), a2 = _mm256_set1_ps(1.2f), a3 = _mm256_set1_ps(1.3f);
  __m256 a4 = _mm256_set1_ps(1.4f), a5 = _mm256_set1_ps(1.5f), a6 = _mm256_set1_ps(1.6f), a7 = _mm256_set1_ps(1.7f);
  __m256 a8 = _mm256_set1_ps(1.8f), a9 = _mm256_set1_ps(1.9f), a10 = _mm256_set1_ps(2.0f), a11 = _mm256_set1_ps(2.1f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i) {
    a0 = _mm256_fmadd_ps(a0, m, c), a1 = _mm256_fmadd_ps(a1, m, c), a2 = _mm256_fmadd_ps(a2, m, c);
    a3 = _mm256_fmadd_ps(a3, m, c), a4 = _mm256_fmadd_ps(a4, m, c), a5 = _mm256_fmadd_ps(a5, m, c);
    a6 = _mm256_fmadd_ps(a6, m, c), a7 = _mm256_fmadd_ps(a7, m, c), a8 = _mm256_fmadd_ps(a8, m, c);
    a9 = _mm256_fmadd_ps(a9, m, c), a10 = _mm256_fmadd_ps(a10, m, c), a11 = _mm256_fmadd_ps(a11, m, c);
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                           _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  return out[0];
}

__attribute__((target("avx2,fma"))) void axpy_neg_f32_avx2(float* y, const float* x, float f, int64_t n) {
  const __m256 vf = _mm256_set1_ps(f);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) _mm256_storeu_ps(y + j, _mm256_fnmadd_ps(vf, _mm256_loadu_ps(x + j), _mm256_loadu_ps(y + j)));
  for (; j < n; ++j) y[j] = std::fma(-f, x[j], y[j]);
}

__attribute__((target("avx2,fma"))) void axpy_neg_f64_avx2(double* y, const double* x, double f, int64_t n) {
  const __m256d vf = _mm256_set1_pd(f);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    _mm256_storeu_pd(y + j, _mm256_fnmadd_pd(vf, _mm256_loadu_pd(x + j), _mm256_loadu_pd(y + j)));
    _mm256_storeu_pd(y + j + 4, _mm256_fnmadd_pd(vf, _mm256_loadu_pd(x + j + 4), _mm256_loadu_pd(y + j + 4)));
  }
  for (; j + 4 <= n; j += 4) _mm256_storeu_pd(y + j, _mm256_fnmadd_pd(vf, _mm256_loadu_pd(x + j), _mm256_loadu_pd(y + j)));
  for (; j < n; ++j) y[j] = std::fma(-f, x[j], y[j]);
}

__attribute__((target("avx2,fma"))) void axpy4_neg_f64_avx2(double* y, const double* const* x, const double* f,
                                                            int64_t n) {
  const __m256d f0 = _mm256_set1_pd(f[0]), f1 = _mm256_set1_pd(f[1]), f2 = _mm256_set1_pd(f[2]), f3 = _mm256_set1_pd(f[3]);
  const double *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    __m256d v = _mm256_loadu_pd(y + j);
    v = _mm256_fnmadd_pd(f0, _mm256_loadu_pd(x0 + j), v);
    v = _mm256_fnmadd_pd(f1, _mm256_loadu_pd(x1 + j), v);
    v = _mm256_fnmadd_pd(f2, _mm256_loadu_pd(x2 + j), v);
    v = _mm256_fnmadd_pd(f3, _mm256_loadu_pd(x3 + j), v);
    _mm256_storeu_pd(y + j, v);
  }
  for (; j < n; ++j) y[j] = std::fma(-f[3], x3[j], std::fma(-f[2], x2[j], std::fma(-f[1], x1[j], std::fma(-f[0], x0[j], y[j]))));
}

bool have_avx2_kernel() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

}  // namespace qgml::linalg

#else

namespace qgml::linalg {
void kernel_6x16_avx2(int64_t, const float*, const float*, float*, int64_t, float, int, int, bool) {}
void kernel_6x16_view_avx2(int64_t, const float*, int64_t, int64_t, const float*, float*, int64_t, float, int, int, bool) {}
void axpy_neg_f32_avx2(float*, const float*, float, int64_t) {}
void axpy_neg_f64_avx2(double*, const double*, double, int64_t) {}
void axpy4_neg_f64_avx2(double*, const double* const*, const double*, int64_t) {}
double fma_peak_loop(int64_t) { return 0; }
bool have_avx2_kernel() { return false; }
}  // namespace qgml::linalg

#endif
