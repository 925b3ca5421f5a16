// The AVX2 NF4 dot arithmetic (see nf4_q4_avx2.cpp for why three base-128
// digits) and the 64-block tile loop shared by every code-book type with one
// scale per 64 weights: qgml's nf4 (f16 absmax) and bitsandbytes' nf4_f32 /
// fp4_f32 (f32 absmax). Included only by files compiled with AVX2 flags.
#pragma once
#include "../../quants.h"
#include "../../quants_bnb.h"
#include "../gemm_tiles.h"
#include "avx2_util.h"

namespace qgml::avx2 {

// The digit tables in both 128-bit lanes; mid and lo as magnitudes (the sign
// comes from hi, which is non-zero for every non-zero code).
struct Nf4Tables {
  __m256i hi, mid, lo;
  Nf4Tables()
      : hi(bcast16(reinterpret_cast<const uint8_t*>(kNF4Digits.hi))),
        mid(_mm256_abs_epi8(bcast16(reinterpret_cast<const uint8_t*>(kNF4Digits.mid)))),
        lo(_mm256_abs_epi8(bcast16(reinterpret_cast<const uint8_t*>(kNF4Digits.lo)))) {}
};

// Σ kNF4Int[code]·a over one 64-element sub-block, in 8 int32 lanes, for NA activation rows.
template <int NA>
inline void nf4_sub(const uint8_t* qs, const int8_t* const* qa, int off, const Nf4Tables& t, __m256i* i32) {
  const __m256i w14 = _mm256_set1_epi16(1 << 14), w7 = _mm256_set1_epi16(1 << 7), ones = _mm256_set1_epi16(1);
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  const __m256i v = load(qs);
  for (int j = 0; j < NA; ++j) i32[j] = _mm256_setzero_si256();
  for (int h = 0; h < 2; ++h) {  // elements 0..31 (low nibbles), then 32..63 (high nibbles)
    const __m256i idx = _mm256_and_si256(h == 0 ? v : _mm256_srli_epi16(v, 4), m4);
    const __m256i hs = _mm256_shuffle_epi8(t.hi, idx);
    const __m256i uh = _mm256_abs_epi8(hs);
    const __m256i um = _mm256_shuffle_epi8(t.mid, idx);
    const __m256i ul = _mm256_shuffle_epi8(t.lo, idx);
    for (int j = 0; j < NA; ++j) {
      const __m256i sa = _mm256_sign_epi8(load(qa[j] + off + 32 * h), hs);
      const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(uh, sa), w14);
      const __m256i pm = _mm256_madd_epi16(_mm256_maddubs_epi16(um, sa), w7);
      const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(ul, sa), ones);
      i32[j] = _mm256_add_epi32(i32[j], _mm256_add_epi32(ph, _mm256_add_epi32(pm, pl)));
    }
  }
}

// The NF4 code book as a policy of Code64Kernel.
struct Nf4Code {
  using Tables = Nf4Tables;
  static constexpr float kUnit = kNF4IntUnit;
  template <int NA>
  static void sub(const uint8_t* qs, const int8_t* const* qa, int off, const Tables& t, __m256i* i32) {
    nf4_sub<NA>(qs, qa, off, t, i32);
  }
};

inline float block_scale(const BlockNF4* x) { return _cvtsh_ss(x->d); }
inline float block_scale(const BlockBnb4* x) { return x->d; }

// Blocks of 64 weights with one scale (Blk: BlockNF4 or BlockBnb4) and a
// 16-entry code book given by Code: Code::sub gives Σ codeInt·a per block
// in int32 lanes, in units of Code::kUnit.
template <class Blk, class Code>
struct Code64Kernel {
  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    const typename Code::Tables tbl;
    __m256 acc[R][NA];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) acc[r][j] = _mm256_setzero_ps();
    for (int64_t e0 = 0; e0 < k; e0 += 64) {
      const int8_t* qa[NA];
      float da[NA];
      for (int j = 0; j < NA; ++j) {
        const BlockQ8A* A = reinterpret_cast<const BlockQ8A*>(act[j]) + e0 / kQK8_A;
        qa[j] = A->qs;
        da[j] = A->d * Code::kUnit;
      }
      const int off = static_cast<int>(e0 % kQK8_A);
      for (int r = 0; r < R; ++r) {
        const Blk* x = reinterpret_cast<const Blk*>(w + r * ws) + e0 / 64;
        _mm_prefetch(reinterpret_cast<const char*>(x) + kPrefetchBytes, _MM_HINT_T0);
        const float d = block_scale(x);
        __m256i i32[NA];
        Code::template sub<NA>(x->qs, qa, off, tbl, i32);
        for (int j = 0; j < NA; ++j)
          acc[r][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32[j]), _mm256_set1_ps(d * da[j]), acc[r][j]);
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) out[j * ldo + r] = hsum(acc[r][j]);
  }
};

}  // namespace qgml::avx2
