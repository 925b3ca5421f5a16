// AVX-512 (F, BW, DQ; VNNI where present) kernels for llama.cpp's 32-element
// blocks: Q4_0 and Q8_0 against Q8_0 activations, Q4_1 against Q8_A. The
// integer part of each block is the exact sum the scalar reference computes
// (gguf-spec.md Q.5); only the order of the float sums differs.
//
// Q4_0 / Q4_1: four blocks per register, as AVX2 takes two (q4_0_avx2.h).
// The 16 code bytes of blocks b..b+3 side by side give, after one mask and
// one shift, elements 0..15 of the four blocks and elements 16..31; the
// activations are rearranged once per kernel call into the same order
// (QuadAct). 32-bit lane l then sums products of block b + l/4 only. The
// weights stay unsigned (maddubs' and vpdpbusd's unsigned operand): Q4_0's
// zero point 8 is the exact correction 8·Σa per block, Q4_1's minimum the
// float term m·d_a·Σa per block, summed in block order as AVX2 does.
//
// Q8_0: two blocks per register; the products are |w| × (a with w's sign),
// as on AVX2 (AVX-512 has no vpsignb: a masked subtract negates a).
#include <immintrin.h>

#include <cstring>

#include "../../quants.h"
#include "../gemm_tiles.h"
#include "../kernels.h"
#include "qgml/cpu.h"
#include "qgml/fp16.h"

namespace qgml {
namespace {

inline __m512i load64(const void* p) { return _mm512_loadu_si512(p); }
inline __m128i load16(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

// Σ u0·s0 + u1·s1 per 32-bit lane (u unsigned, s signed bytes): vpdpbusd, or
// maddubs and madd, where the caller keeps 2·u·|s| per pair and the sum of
// the two calls' pairs below 2^15.
template <bool kVnni>
inline __m512i dot_u8s8(__m512i u0, __m512i s0, __m512i u1, __m512i s1) {
  if constexpr (kVnni) {
    return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u0, s0), u1, s1);
  } else {
    const __m512i s16 = _mm512_add_epi16(_mm512_maddubs_epi16(u0, s0), _mm512_maddubs_epi16(u1, s1));
    return _mm512_madd_epi16(s16, _mm512_set1_epi16(1));
  }
}

// [v0 ×4, v1 ×4, v2 ×4, v3 ×4]
inline __m512 spread4(const float* v4) {
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
                               _mm512_castps128_ps512(_mm_loadu_ps(v4)));
}

// Four activation blocks b..b+3 in the order of the weight register: lo holds
// elements 0..15 of each block (16 bytes per block), hi elements 16..31; corr
// 8·Σa of block i in lane 4i (Q4_0 only; other lanes 0); da the scale of
// block i in lanes 4i..4i+3; sum Σa per block (Q4_1's minimum term). Blocks
// past the row are all zero.
struct alignas(64) QuadAct {
  int8_t lo[64];
  int8_t hi[64];
  int32_t corr[16];
  float da[16];
  int32_t sum[4];
};

// Rows of activations as quads, in the calling thread's own buffer (valid
// until its next call). A gives block i of a row: {qs, d, Σa}.
template <typename A>
const QuadAct* make_quads(const uint8_t* a, size_t a_stride, int64_t nc, int64_t nq, int64_t nb, bool corr,
                          const A& block) {
  QuadAct* buf = thread_scratch<QuadAct>(static_cast<size_t>(nc * nq));
  for (int64_t c = 0; c < nc; ++c) {
    for (int64_t q = 0; q < nq; ++q) {
      QuadAct& o = buf[c * nq + q];
      std::memset(&o, 0, sizeof o);
      for (int i = 0; i < 4 && 4 * q + i < nb; ++i) {
        const Q8AChunk x = block(a + c * a_stride, 4 * q + i);
        std::memcpy(o.lo + 16 * i, x.qs, 16);
        std::memcpy(o.hi + 16 * i, x.qs + 16, 16);
        if (corr) o.corr[4 * i] = 8 * x.sum;
        for (int l = 0; l < 4; ++l) o.da[4 * i + l] = x.d;
        o.sum[i] = x.sum;
      }
    }
  }
  return buf;
}

inline Q8AChunk q8_0_block(const uint8_t* row, int64_t b) {
  const BlockQ8_0* y = reinterpret_cast<const BlockQ8_0*>(row) + b;
  int s = 0;
  for (int e = 0; e < kQK8_0; ++e) s += y->qs[e];
  return {y->qs, fp16_to_f32(y->d), s};
}

// Q4_0 (kMin false) or Q4_1 (kMin true).
template <bool kVnni, bool kMin>
struct NibbleQuadKernel {
  using Block = std::conditional_t<kMin, BlockQ4_1, BlockQ4_0>;

  // NR weight rows (ws bytes apart; results os apart) × NA activation rows,
  // quad by quad, each weight row its own stream (kMatvecStreams); every
  // (row, activation row) has its own accumulators and the same operations whatever NR and NA.
  template <int NR, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const QuadAct* const* act, float* out, int64_t os,
                   int64_t ldo) {
    constexpr int kAhead = NR == 1 ? kPrefetchBytes : kStreamPrefetchBytes;
    const int64_t nb = (k + 31) / 32, nq = (nb + 3) / 4;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512 acc[NR][NA];
    float ms[NR][NA];
    for (int s = 0; s < NR; ++s)
      for (int j = 0; j < NA; ++j) {
        acc[s][j] = _mm512_setzero_ps();
        ms[s][j] = 0.0f;
      }
    for (int64_t q = 0; q < nq; ++q) {
      const int n = static_cast<int>(nb - 4 * q < 4 ? nb - 4 * q : 4);
      for (int s = 0; s < NR; ++s) {
        const Block* x = reinterpret_cast<const Block*>(w + s * ws) + 4 * q;
        _mm_prefetch(reinterpret_cast<const char*>(x) + kAhead, _MM_HINT_T0);
        __m512i v = _mm512_inserti32x4(_mm512_setzero_si512(), load16(x[0].qs), 0);
        if (n > 1) v = _mm512_inserti32x4(v, load16(x[1].qs), 1);
        if (n > 2) v = _mm512_inserti32x4(v, load16(x[2].qs), 2);
        if (n > 3) v = _mm512_inserti32x4(v, load16(x[3].qs), 3);
        float d[4] = {};
        for (int i = 0; i < n; ++i) d[i] = fp16_to_f32(x[i].d);
        const __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
        const __m512 dw = spread4(d);
        for (int j = 0; j < NA; ++j) {
          const QuadAct& a = act[j][q];
          // Per pair at most 2·15·127, both calls 7620 < 2^15.
          __m512i s32 = dot_u8s8<kVnni>(lo, load64(a.lo), hi, load64(a.hi));
          if constexpr (!kMin) s32 = _mm512_sub_epi32(s32, load64(a.corr));
          acc[s][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s32), _mm512_mul_ps(dw, _mm512_load_ps(a.da)), acc[s][j]);
          if constexpr (kMin)
            for (int i = 0; i < n; ++i)
              ms[s][j] += fp16_to_f32(x[i].m) * a.da[4 * i] * static_cast<float>(a.sum[i]);
        }
      }
    }
    for (int s = 0; s < NR; ++s)
      for (int j = 0; j < NA; ++j) out[s * os + j * ldo] = _mm512_reduce_add_ps(acc[s][j]) + ms[s][j];
  }

  static void gemm(int64_t k, const void* w, size_t ws, int64_t nr, const void* a, size_t as, int64_t nc, float* out,
                   int64_t ldo) {
    const int64_t nb = (k + 31) / 32, nq = (nb + 3) / 4;
    const uint8_t* A = static_cast<const uint8_t*>(a);
    const QuadAct* quads;
    if constexpr (kMin)
      quads = make_quads(A, as, nc, nq, nb, false, [](const uint8_t* row, int64_t b) { return q8a_chunk(row, 32 * b); });
    else
      quads = make_quads(A, as, nc, nq, nb, true, q8_0_block);
    const uint8_t* W = static_cast<const uint8_t*>(w);
    if (nc == 1) {
      matvec_streams(nr, [&](auto streams, int64_t r, int64_t part) {
        constexpr int NR = decltype(streams)::value;
        tile<NR, 1>(k, W + r * ws, part * ws, &quads, out + r, part, ldo);
      });
      return;
    }
    for_each_tile(nr, nc, [&](auto cols, int64_t r, int64_t c) {
      constexpr int C = decltype(cols)::value;
      const QuadAct* ap[C];
      for (int j = 0; j < C; ++j) ap[j] = quads + (c + j) * nq;
      tile<1, C>(k, W + r * ws, 0, ap, out + c * ldo + r, 1, ldo);
    });
  }

  static float vec_dot(int64_t k, const void* w, const void* a) {
    float out = 0.0f;
    gemm(k, w, 0, 1, a, 0, 1, &out, 1);
    return out;
  }
};

// Q8_0 weights × Q8_0 activations, blocks b and b + 1 in one register.
template <bool kVnni>
struct Q8_0PairKernel {
  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    const int64_t nb = (k + 31) / 32;
    const __m512i zero = _mm512_setzero_si512();
    __m512 acc[R][NA];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) acc[r][j] = _mm512_setzero_ps();
    auto pair = [](const BlockQ8_0* x, bool two) {
      const __m256i hi = two ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[1].qs)) : _mm256_setzero_si256();
      return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[0].qs))),
                                hi, 1);
    };
    auto scales = [](const BlockQ8_0* x, bool two) {
      const float d1 = two ? fp16_to_f32(x[1].d) : 0.0f;
      return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(fp16_to_f32(x[0].d))), _mm256_set1_ps(d1), 1);
    };
    for (int64_t b = 0; b < nb; b += 2) {
      const bool two = b + 1 < nb;
      __m512i ya[NA];
      __m512 da[NA];
      for (int j = 0; j < NA; ++j) {
        const BlockQ8_0* y = reinterpret_cast<const BlockQ8_0*>(act[j]) + b;
        ya[j] = pair(y, two);
        da[j] = scales(y, two);
      }
      for (int r = 0; r < R; ++r) {
        const BlockQ8_0* x = reinterpret_cast<const BlockQ8_0*>(w + r * ws) + b;
        _mm_prefetch(reinterpret_cast<const char*>(x) + kPrefetchBytes, _MM_HINT_T0);
        const __m512i v = pair(x, two);
        const __m512i mag = _mm512_abs_epi8(v);
        const __mmask64 neg = _mm512_movepi8_mask(v);
        const __m512 dw = scales(x, two);
        for (int j = 0; j < NA; ++j) {
          const __m512i sa = _mm512_mask_sub_epi8(ya[j], neg, zero, ya[j]);  // a with w's sign
          __m512i s32;
          if constexpr (kVnni)
            s32 = _mm512_dpbusd_epi32(zero, mag, sa);
          else  // per pair at most 2·128·127 < 2^15
            s32 = _mm512_madd_epi16(_mm512_maddubs_epi16(mag, sa), _mm512_set1_epi16(1));
          acc[r][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s32), _mm512_mul_ps(dw, da[j]), acc[r][j]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) out[j * ldo + r] = _mm512_reduce_add_ps(acc[r][j]);
  }
};

template <bool kVnni>
void register_level(KernelTable& t) {
  t[Type::Q4_0].vec_dot = NibbleQuadKernel<kVnni, false>::vec_dot;
  t[Type::Q4_0].gemm = NibbleQuadKernel<kVnni, false>::gemm;
  t[Type::Q4_1].vec_dot = NibbleQuadKernel<kVnni, true>::vec_dot;
  t[Type::Q4_1].gemm = NibbleQuadKernel<kVnni, true>::gemm;
  t[Type::Q8_0].vec_dot = vec_dot_tile<Q8_0PairKernel<kVnni>>;
  t[Type::Q8_0].gemm = gemm_tiles<Q8_0PairKernel<kVnni>>;
}

}  // namespace

void register_avx512_block32_kernels(KernelTable& t) {
  if (cpu_features().avx512vnni)
    register_level<true>(t);
  else
    register_level<false>(t);
}

}  // namespace qgml
