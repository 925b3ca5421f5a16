// AVX2 + FMA + F16C kernels (compiled with those flags; used only when CPUID
// reports them).
#include <immintrin.h>

#include <algorithm>

#include "../../quants.h"
#include "../kernels.h"

namespace qgml {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256 load_bf16(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

float dot_f32(int64_t k, const void* w, const void* a) {
  const float* x = static_cast<const float*>(w);
  const float* y = static_cast<const float*>(a);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= k; i += 32)
    for (int u = 0; u < 4; ++u)
      acc[u] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8 * u), _mm256_loadu_ps(y + i + 8 * u), acc[u]);
  for (; i + 8 <= k; i += 8) acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc[0]);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < k; ++i) s += x[i] * y[i];
  return s;
}

float dot_f16(int64_t k, const void* w, const void* a) {
  const uint16_t* x = static_cast<const uint16_t*>(w);
  const float* y = static_cast<const float*>(a);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= k; i += 32)
    for (int u = 0; u < 4; ++u)
      acc[u] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i + 8 * u))),
                               _mm256_loadu_ps(y + i + 8 * u), acc[u]);
  for (; i + 8 <= k; i += 8)
    acc[0] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))),
                             _mm256_loadu_ps(y + i), acc[0]);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < k; ++i) s += fp16_to_f32(x[i]) * y[i];
  return s;
}

float dot_bf16(int64_t k, const void* w, const void* a) {
  const uint16_t* x = static_cast<const uint16_t*>(w);
  const float* y = static_cast<const float*>(a);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= k; i += 32)
    for (int u = 0; u < 4; ++u) acc[u] = _mm256_fmadd_ps(load_bf16(x + i + 8 * u), _mm256_loadu_ps(y + i + 8 * u), acc[u]);
  for (; i + 8 <= k; i += 8) acc[0] = _mm256_fmadd_ps(load_bf16(x + i), _mm256_loadu_ps(y + i), acc[0]);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < k; ++i) s += bf16_to_f32(x[i]) * y[i];
  return s;
}

// AVX2 gemm tiles for F32, F16 and BF16 weights × F32 activations (prompt
// processing, and calibration forward passes over float weights): 3 weight rows × 3 activation rows per tile, so each weight
// vector is converted once for 3 activation rows and each activation vector
// loaded once for 3 weight rows (2×3, 2×5, 2×6 and 3×4 measured slower).
//
// The kernel contract (kernels.h) asks every result to equal vec_dot's
// bitwise. vec_dot (above) keeps four accumulators per pair:
// acc[u] takes elements i+8u of every 32-element step in order, elements
// past the last full step go to acc[0] 8 at a time, then hsum((a0+a1)+(a2+a3))
// and a sequential scalar tail. The four chains never mix before the end, so
// a tile may run them one after the other: for each slice of K (kSlice
// elements, which stay in L1) it runs chain 0 over the slice for all 9
// pairs, then chain 1, and so on — 9 independent FMA chains in registers
// instead of 36, with the same operations in the same order per chain.
struct F32 {
  using Elem = float;
  static __m256 load(const float* p) { return _mm256_loadu_ps(p); }
  static float scalar(float x) { return x; }
  static float dot(int64_t k, const void* w, const void* a) { return dot_f32(k, w, a); }
};
struct F16 {
  using Elem = uint16_t;
  static __m256 load(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static float scalar(uint16_t h) { return fp16_to_f32(h); }
  static float dot(int64_t k, const void* w, const void* a) { return dot_f16(k, w, a); }
};
struct BF16 {
  using Elem = uint16_t;
  static __m256 load(const uint16_t* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float scalar(uint16_t h) { return bf16_to_f32(h); }
  static float dot(int64_t k, const void* w, const void* a) { return dot_bf16(k, w, a); }
};

// Elements of K per slice: 3 weight rows (3 KB in F16, 6 KB in F32) and 3 activation rows (6 KB).
constexpr int64_t kSlice = 512;
constexpr int kCols = 3;

template <class H, int R, int C>
void tile(int64_t k, const typename H::Elem* const* w, const float* const* a, float* out, int64_t ldo) {
  const int64_t k32 = k / 32 * 32;
  __m256 acc[4][R][C];
  for (int u = 0; u < 4; ++u)
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) acc[u][r][c] = _mm256_setzero_ps();
  for (int64_t s0 = 0; s0 < k32; s0 += kSlice) {
    const int64_t s1 = std::min(k32, s0 + kSlice);
    for (int u = 0; u < 4; ++u) {
      __m256 s[R][C];
      for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) s[r][c] = acc[u][r][c];
      for (int64_t i = s0 + 8 * u; i < s1; i += 32) {
        __m256 wv[R];
        for (int r = 0; r < R; ++r) wv[r] = H::load(w[r] + i);
        for (int c = 0; c < C; ++c) {
          const __m256 av = _mm256_loadu_ps(a[c] + i);
          for (int r = 0; r < R; ++r) s[r][c] = _mm256_fmadd_ps(wv[r], av, s[r][c]);
        }
      }
      for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) acc[u][r][c] = s[r][c];
    }
  }
  int64_t i = k32;
  for (; i + 8 <= k; i += 8)
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c)
        acc[0][r][c] = _mm256_fmadd_ps(H::load(w[r] + i), _mm256_loadu_ps(a[c] + i), acc[0][r][c]);
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      float v = hsum(_mm256_add_ps(_mm256_add_ps(acc[0][r][c], acc[1][r][c]), _mm256_add_ps(acc[2][r][c], acc[3][r][c])));
      for (int64_t j = i; j < k; ++j) v += H::scalar(w[r][j]) * a[c][j];
      out[c * ldo + r] = v;
    }
  }
}

// Columns per tile and the tails below it, as compile-time sizes.
template <class H, int R, int C>
void col_tail(int64_t k, const typename H::Elem* const* w, const float* const* ap, int64_t n, float* out, int64_t ldo) {
  if constexpr (C > 0) {
    if (n == C) return tile<H, R, C>(k, w, ap, out, ldo);
    col_tail<H, R, C - 1>(k, w, ap, n, out, ldo);
  }
}

template <class H, int R>
void row_tiles(int64_t k, const typename H::Elem* const* w, const float* A, size_t as, int64_t nc, float* out, int64_t ldo) {
  auto act = [&](int64_t j) { return reinterpret_cast<const float*>(reinterpret_cast<const char*>(A) + j * as); };
  for (int64_t c = 0; c < nc; c += kCols) {
    const float* ap[kCols];
    const int64_t n = std::min<int64_t>(kCols, nc - c);
    for (int64_t j = 0; j < n; ++j) ap[j] = act(c + j);
    col_tail<H, R, kCols>(k, w, ap, n, out + c * ldo, ldo);
  }
}

template <class H>
void gemm_float(int64_t k, const void* w, size_t ws, int64_t nr, const void* a, size_t as, int64_t nc, float* out,
               int64_t ldo) {
  const char* W = static_cast<const char*>(w);
  const float* A = static_cast<const float*>(a);
  if (nc == 1) {
    // Matrix-vector streams weights from memory: vec_dot's four interleaved
    // chains per row are what keeps up with it.
    for (int64_t r = 0; r < nr; ++r) out[r] = H::dot(k, W + r * ws, A);
    return;
  }
  int64_t r = 0;
  using E = typename H::Elem;
  auto row = [&](int64_t j) { return reinterpret_cast<const E*>(W + j * ws); };
  for (; r + 3 <= nr; r += 3) {
    const E* wp[3] = {row(r), row(r + 1), row(r + 2)};
    row_tiles<H, 3>(k, wp, A, as, nc, out + r, ldo);
  }
  if (nr - r == 2) {
    const E* wp[2] = {row(r), row(r + 1)};
    row_tiles<H, 2>(k, wp, A, as, nc, out + r, ldo);
  } else if (nr - r == 1) {
    const E* wp[1] = {row(r)};
    row_tiles<H, 1>(k, wp, A, as, nc, out + r, ldo);
  }
}

void f16_row_to_float(const void* src, float* dst, int64_t k) {
  const uint16_t* x = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= k; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
  for (; i < k; ++i) dst[i] = fp16_to_f32(x[i]);
}

}  // namespace

void register_avx2_kernels(KernelTable& t) {
  register_avx2_math_kernels(t);
  t[Type::F32].vec_dot = dot_f32;
  t[Type::F16].vec_dot = dot_f16;
  t[Type::F32].gemm = gemm_float<F32>;
  t[Type::F16].gemm = gemm_float<F16>;
  t[Type::BF16].gemm = gemm_float<BF16>;
  t[Type::F16].to_float = f16_row_to_float;
  t[Type::BF16].vec_dot = dot_bf16;
  register_avx2_quant_kernels(t);
  register_avx2_q5_iq4_kernels(t);
  register_avx2_kquant_kernels(t);
  register_avx2_bnb4_kernels(t);
}

}  // namespace qgml
