// The AVX2 kernel of llama.cpp's Q4_0 weights against Q8_0 activations,
// two blocks per 256-bit register.
//
// A Q4_0 block's 16 code bytes hold elements j (low nibble) and j + 16 (high
// nibble). Two blocks' bytes side by side in one register give, after one
// mask and one shift, elements 0..15 of both blocks and elements 16..31 of
// both; the activations are rearranged once per kernel call into the same
// order (ActPairs), so one maddubs per half serves two blocks. The weights
// stay unsigned (0..15, maddubs' unsigned operand) and the zero point 8 is
// an exact integer correction: Σ (q − 8)·a = Σ q·a − 8·Σ a, with 8·Σa per
// block precomputed beside the activations. Per int32 lane: 8 products of at
// most 15·127, minus at most 8·32·127: no overflow anywhere.
//
// Float part: lanes 0-3 hold one block's partial sums, lanes 4-7 the next
// block's; each pair is converted and multiplied by [s_b ×4, s_b+1 ×4]
// (s = d_w · d_a, the same product as the scalar reference) into one
// accumulator. Every tile shape and vec_dot run this same sequence, so
// results do not depend on how callers split the work.
// Included only by files compiled with AVX2 flags.
#pragma once
#include "../../quants.h"
#include "../gemm_tiles.h"
#include "avx2_util.h"

namespace qgml::avx2 {

// One activation row of Q8_0 blocks rearranged for pairs of blocks b, b + 1:
// qs: [b 0..15 | b+1 0..15] then [b 16..31 | b+1 16..31]; corr: 8·Σa of b
// in lane 0 and of b+1 in lane 4 (lanes 1-3, 5-7 zero); da: the scale of b
// in lanes 0-3, of b+1 in lanes 4-7. An odd last block pairs with an
// all-zero one.
struct alignas(32) Q8_0Pair {
  int8_t qs[64];
  int32_t corr[8];
  float da[8];
};

// Rows of Q8_0 activations as pairs, in the calling thread's own buffer
// (valid until that thread's next call).
struct ActPairs {
  const Q8_0Pair* data;
  int64_t stride;  // pairs per row
  ActPairs(const uint8_t* a, size_t a_stride, int64_t nc, int64_t k) {
    const int64_t nb = (k + kQK8_0 - 1) / kQK8_0;
    stride = (nb + 1) / 2;
    Q8_0Pair* buf = thread_scratch<Q8_0Pair>(static_cast<size_t>(nc * stride));
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    for (int64_t c = 0; c < nc; ++c) {
      const BlockQ8_0* y = reinterpret_cast<const BlockQ8_0*>(a + c * a_stride);
      for (int64_t p = 0; p < stride; ++p) {
        Q8_0Pair& o = buf[c * stride + p];
        const BlockQ8_0* y0 = y + 2 * p;
        const bool two = 2 * p + 1 < nb;
        const __m128i zero = _mm_setzero_si128();
        const __m128i l0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y0->qs));
        const __m128i h0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y0->qs + 16));
        const __m128i l1 = two ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(y0[1].qs)) : zero;
        const __m128i h1 = two ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(y0[1].qs + 16)) : zero;
        const __m256i lo = _mm256_set_m128i(l1, l0), hi = _mm256_set_m128i(h1, h0);
        _mm256_store_si256(reinterpret_cast<__m256i*>(o.qs), lo);
        _mm256_store_si256(reinterpret_cast<__m256i*>(o.qs + 32), hi);
        // Σa per 128-bit half, i.e. per block: |a| ≤ 127, 32 of them fit int16 pair sums.
        const __m256i s = _mm256_madd_epi16(
            _mm256_add_epi16(_mm256_maddubs_epi16(ones8, lo), _mm256_maddubs_epi16(ones8, hi)), ones16);
        std::memset(o.corr, 0, sizeof o.corr);
        o.corr[0] = 8 * hsum_i32(_mm256_permute2x128_si256(s, s, 0x08));  // the low half alone
        o.corr[4] = 8 * hsum_i32(_mm256_permute2x128_si256(s, s, 0x81));  // the high half alone
        for (int i = 0; i < 4; ++i) {
          o.da[i] = _cvtsh_ss(y0->d);
          o.da[4 + i] = two ? _cvtsh_ss(y0[1].d) : 0.0f;
        }
      }
    }
    data = buf;
  }
};

struct Q4_0PairKernel {
  // NR weight rows (ws bytes apart; their results os apart) × NA activation
  // rows (as pairs), walked pair by pair so that each weight row is its own
  // stream (see kMatvecStreams); each (row, activation row) has its own
  // accumulator and sees the same operations whatever NR.
  template <int NR, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const Q8_0Pair* const* act, float* out, int64_t os,
                   int64_t ldo) {
    constexpr int kAhead = NR == 1 ? kPrefetchBytes : kStreamPrefetchBytes;
    const int64_t nb = (k + kQK4_0 - 1) / kQK4_0;
    const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    __m256 acc[NR][NA];
    for (int s = 0; s < NR; ++s)
      for (int j = 0; j < NA; ++j) acc[s][j] = _mm256_setzero_ps();
    const int64_t np = (nb + 1) / 2;
    // One pair: its weight scales dw = [d_b ×4, d_b+1 ×4].
    auto pair = [&](const BlockQ4_0* x0, int64_t p, __m256 dw, __m256* acc_row) {
      const __m256i v = 2 * p + 1 < nb ? _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(x0[1].qs),
                                                             reinterpret_cast<const __m128i*>(x0->qs))
                                       : _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x0->qs)));
      const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
      for (int j = 0; j < NA; ++j) {
        const Q8_0Pair& a = act[j][p];
        const __m256i s16 =
            _mm256_add_epi16(_mm256_maddubs_epi16(lo, load(a.qs)), _mm256_maddubs_epi16(hi, load(a.qs + 32)));
        const __m256i s32 = _mm256_sub_epi32(_mm256_madd_epi16(s16, ones), load(a.corr));
        acc_row[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32), _mm256_mul_ps(dw, _mm256_load_ps(a.da)), acc_row[j]);
      }
    };
    // dw from one conversion: the two f16 scales in 32-bit lanes 0 and 1 (with
    // two code bytes each, converted but not used), spread by one permute.
    const __m256i spread = _mm256_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2);
    for (int64_t p = 0; p < np; ++p) {
      for (int s = 0; s < NR; ++s) {
        const BlockQ4_0* x0 = reinterpret_cast<const BlockQ4_0*>(w + s * ws) + 2 * p;
        if (p % 2 == 0) _mm_prefetch(reinterpret_cast<const char*>(x0) + kAhead, _MM_HINT_T0);
        __m128i h = _mm_cvtsi32_si128(x0->d);
        if (2 * p + 1 < nb) h = _mm_insert_epi16(h, x0[1].d, 2);
        pair(x0, p, _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_cvtph_ps(h)), spread), acc[s]);
      }
    }
    for (int s = 0; s < NR; ++s)
      for (int j = 0; j < NA; ++j) out[s * os + j * ldo] = hsum(acc[s][j]);
  }

  static void gemm(int64_t k, const void* w, size_t ws, int64_t nr, const void* a, size_t as, int64_t nc, float* out,
                   int64_t ldo) {
    const ActPairs pairs(static_cast<const uint8_t*>(a), as, nc, k);
    const uint8_t* W = static_cast<const uint8_t*>(w);
    if (nc == 1) {
      const Q8_0Pair* ap = pairs.data;
      matvec_streams(nr, [&](auto streams, int64_t r, int64_t part) {
        constexpr int NR = decltype(streams)::value;
        tile<NR, 1>(k, W + r * ws, part * ws, &ap, out + r, part, ldo);
      });
      return;
    }
    for_each_tile(nr, nc, [&](auto cols, int64_t r, int64_t c) {
      constexpr int C = decltype(cols)::value;
      const Q8_0Pair* ap[C];
      for (int j = 0; j < C; ++j) ap[j] = pairs.data + (c + j) * pairs.stride;
      tile<1, C>(k, W + r * ws, 0, ap, out + c * ldo + r, 1, ldo);
    });
  }

  static float vec_dot(int64_t k, const void* w, const void* a) {
    float out = 0.0f;
    gemm(k, w, 0, 1, a, 0, 1, &out, 1);
    return out;
  }
};

}  // namespace qgml::avx2
