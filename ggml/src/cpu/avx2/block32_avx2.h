// AVX2 tile loops shared by llama.cpp's 32-element blocks (Q8_0, Q5_0,
// IQ4_NL against Q8_0 activations; Q4_1, Q5_1 against Q8_A). A decoder D
// says how one block turns into 32 int8 weights; the loops are the same.
// Included only by AVX2 files (compiled with AVX2 flags).
#pragma once
#include "../../quants.h"
#include "../gemm_tiles.h"
#include "avx2_util.h"

namespace qgml::avx2 {

// Nibbles (element j low, j+16 high, as Q4_0) as 32 ordered bytes.
inline __m256i nibbles32(const uint8_t* qs) {
  return _mm256_and_si256(_mm256_srlv_epi64(bcast16(qs), _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0f));
}

// Signed weights × Q8_0 activations: |w| · sign(a, w), pairs within
// 2·127·127 < 2^15. D provides Block, Tables (constants built once per
// tile), weights(block, tables) → 32 int8, and kPrefetchEvery (blocks
// between prefetches: one per ~64 bytes of weights).
template <class D>
struct Q8_0ActKernel {
  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    const typename D::Tables tbl;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[R][NA];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) acc[r][j] = _mm256_setzero_ps();
    const int64_t nb = (k + 31) / 32;
    for (int64_t b = 0; b < nb; ++b) {
      const BlockQ8_0* y[NA];
      for (int j = 0; j < NA; ++j) y[j] = reinterpret_cast<const BlockQ8_0*>(act[j]) + b;
      for (int r = 0; r < R; ++r) {
        const typename D::Block* x = reinterpret_cast<const typename D::Block*>(w + r * ws) + b;
        if (b % D::kPrefetchEvery == 0) _mm_prefetch(reinterpret_cast<const char*>(x) + kPrefetchBytes, _MM_HINT_T0);
        const __m256i q = D::weights(x, tbl);
        const float d = _cvtsh_ss(x->d);
        const __m256i aq = _mm256_sign_epi8(q, q);
        for (int j = 0; j < NA; ++j) {
          const __m256i i32 = _mm256_madd_epi16(_mm256_maddubs_epi16(aq, _mm256_sign_epi8(load(y[j]->qs), q)), ones);
          acc[r][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32), _mm256_set1_ps(d * _cvtsh_ss(y[j]->d)), acc[r][j]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) out[j * ldo + r] = hsum(acc[r][j]);
  }
};

// Unsigned weights with a minimum (value = d·q + m) × Q8_A activations; the
// min term m·Σa is summed in a scalar per pair, in block order. D provides
// Block (with d and m) and weights(block) → 32 uint8.
template <class D>
struct MinKernel {
  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[R][NA];
    float ms[R][NA];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) {
        acc[r][j] = _mm256_setzero_ps();
        ms[r][j] = 0.0f;
      }
    for (int64_t e0 = 0; e0 < k; e0 += 32) {
      Q8AChunk a[NA];
      for (int j = 0; j < NA; ++j) a[j] = q8a_chunk(act[j], e0);
      for (int r = 0; r < R; ++r) {
        const typename D::Block* x = reinterpret_cast<const typename D::Block*>(w + r * ws) + e0 / 32;
        if ((e0 / 32) % 3 == 0) _mm_prefetch(reinterpret_cast<const char*>(x) + kPrefetchBytes, _MM_HINT_T0);
        const float d = _cvtsh_ss(x->d), m = _cvtsh_ss(x->m);
        const __m256i q = D::weights(x);
        for (int j = 0; j < NA; ++j) {
          const __m256i i32 = _mm256_madd_epi16(_mm256_maddubs_epi16(q, load(a[j].qs)), ones);
          acc[r][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32), _mm256_set1_ps(d * a[j].d), acc[r][j]);
          ms[r][j] += m * a[j].d * static_cast<float>(a[j].sum);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) out[j * ldo + r] = hsum(acc[r][j]) + ms[r][j];
  }
};

}  // namespace qgml::avx2
