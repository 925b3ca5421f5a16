// AVX-512 kernels (F, BW, VL, DQ; VNNI and BF16 where the CPU has them).
// Compiled with those flags and used only when CPUID reports them.
#include <immintrin.h>

#include "../../quants.h"
#include "../kernels.h"

namespace qgml {
namespace {

// Masked loads handle the tail, so no scalar remainder loop is needed.
inline __mmask16 tail_mask(int64_t left) { return left >= 16 ? 0xffff : static_cast<__mmask16>((1u << left) - 1); }

// Weight rows of F32, F16 or BF16 as 16 floats at a time (masked: the
// elements past the mask read nothing and are 0).
struct F32 {
  using Elem = float;
  static __m512 load(const float* p) { return _mm512_loadu_ps(p); }
  static __m512 load(__mmask16 m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
};
struct F16 {
  using Elem = uint16_t;
  static __m512 load(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static __m512 load(__mmask16 m, const uint16_t* p) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
};
struct BF16 {
  using Elem = uint16_t;
  static __m512 widen(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
  static __m512 load(const uint16_t* p) { return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static __m512 load(__mmask16 m, const uint16_t* p) { return widen(_mm256_maskz_loadu_epi16(m, p)); }
};

// R weight rows × C activation rows. Each pair keeps two accumulators: one
// for elements i..i+15 of every 32-element step, one for i+16..i+31, the
// masked tail (16 at a time) added to the first; the result is the sum of
// the two. vec_dot is the 1 × 1 tile, so gemm's tiles equal it bit for bit.
// 3 × 3 tiles keep 18 accumulators, 6 weight and 2 activation vectors in the
// 32 registers: each weight vector is converted once for 3 activation rows.
template <class H, int R, int C>
void tile(int64_t k, const typename H::Elem* const* w, const float* const* a, float* out, int64_t ldo) {
  __m512 acc0[R][C], acc1[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc0[r][c] = acc1[r][c] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    __m512 w0[R], w1[R];
    for (int r = 0; r < R; ++r) {
      w0[r] = H::load(w[r] + i);
      w1[r] = H::load(w[r] + i + 16);
    }
    for (int c = 0; c < C; ++c) {
      const __m512 a0 = _mm512_loadu_ps(a[c] + i), a1 = _mm512_loadu_ps(a[c] + i + 16);
      for (int r = 0; r < R; ++r) {
        acc0[r][c] = _mm512_fmadd_ps(w0[r], a0, acc0[r][c]);
        acc1[r][c] = _mm512_fmadd_ps(w1[r], a1, acc1[r][c]);
      }
    }
  }
  for (; i < k; i += 16) {
    const __mmask16 m = tail_mask(k - i);
    __m512 wm[R];
    for (int r = 0; r < R; ++r) wm[r] = H::load(m, w[r] + i);
    for (int c = 0; c < C; ++c) {
      const __m512 am = _mm512_maskz_loadu_ps(m, a[c] + i);
      for (int r = 0; r < R; ++r) acc0[r][c] = _mm512_fmadd_ps(wm[r], am, acc0[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) out[c * ldo + r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[r][c], acc1[r][c]));
}

template <class H>
float dot(int64_t k, const void* w, const void* a) {
  const typename H::Elem* wp = static_cast<const typename H::Elem*>(w);
  const float* ap = static_cast<const float*>(a);
  float out = 0.0f;
  tile<H, 1, 1>(k, &wp, &ap, &out, 1);
  return out;
}

// A tile of R rows and n ≤ kTile activation rows, n as a compile-time size.
constexpr int kTile = 3;
template <class H, int R, int C>
void cols(int64_t k, const typename H::Elem* const* w, const float* const* a, int64_t n, float* out, int64_t ldo) {
  if constexpr (C > 0) {
    if (n == C) return tile<H, R, C>(k, w, a, out, ldo);
    cols<H, R, C - 1>(k, w, a, n, out, ldo);
  }
}
template <class H, int R>
void rows(int64_t k, const char* W, size_t ws, int64_t nr, const char* A, size_t as, int64_t nc, float* out,
          int64_t ldo) {
  if constexpr (R > 0) {
    if (nr != R) return rows<H, R - 1>(k, W, ws, nr, A, as, nc, out, ldo);
    const typename H::Elem* wp[R];
    for (int r = 0; r < R; ++r) wp[r] = reinterpret_cast<const typename H::Elem*>(W + r * ws);
    for (int64_t c = 0; c < nc; c += kTile) {
      const int64_t n = nc - c < kTile ? nc - c : kTile;
      const float* ap[kTile];
      for (int64_t j = 0; j < n; ++j) ap[j] = reinterpret_cast<const float*>(A + (c + j) * as);
      cols<H, R, kTile>(k, wp, ap, n, out + c * ldo, ldo);
    }
  }
}

template <class H>
void gemm(int64_t k, const void* w, size_t ws, int64_t nr, const void* a, size_t as, int64_t nc, float* out,
          int64_t ldo) {
  const char* W = static_cast<const char*>(w);
  const char* A = static_cast<const char*>(a);
  if (nc == 1) {
    // Matrix-vector streams weights from memory: one sequential row at a time
    // (neighbouring rows at once are one stream jumping within a page, see gemm_tiles.h).
    for (int64_t r = 0; r < nr; ++r) out[r] = dot<H>(k, W + r * ws, A);
    return;
  }
  for (int64_t r = 0; r < nr; r += kTile) {
    const int64_t n = nr - r < kTile ? nr - r : kTile;
    rows<H, kTile>(k, W + r * ws, ws, n, A, as, nc, out + r, ldo);
  }
}

}  // namespace

void register_avx512_kernels(KernelTable& t) {
  t[Type::F32].vec_dot = dot<F32>;
  t[Type::F16].vec_dot = dot<F16>;
  t[Type::BF16].vec_dot = dot<BF16>;
  t[Type::F32].gemm = gemm<F32>;
  t[Type::F16].gemm = gemm<F16>;
  t[Type::BF16].gemm = gemm<BF16>;
  register_avx512_quant_kernels(t);
}

}  // namespace qgml
