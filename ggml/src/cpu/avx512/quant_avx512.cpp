// AVX-512 (F, BW; VNNI where present) kernels for GPTQ groups of 64 and 128
// and for NF4 / NF4_DQ: 64 elements per register. Same integer arithmetic as
// the AVX2 kernels (see gptq_avx2.cpp). Without VNNI, maddubs + int16 sums
// as there; with VNNI, vpdpbusd (u8 × s8 summed into int32) directly. Types
// whose block is 32 elements (q4_0, q4_1, q8_0, gptq*_g32) keep the AVX2
// kernels, which this level inherits.
//
// This machine's CPU has no AVX-512: these kernels are compiled but cannot
// be run here; the tests skip them loudly and run them wherever the CPU has
// AVX-512.
#include <immintrin.h>

#include <cstring>

#include "../../quants.h"
#include "../gemm_tiles.h"
#include "../kernels.h"

namespace qgml {
namespace {

inline float f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

inline __m512i load64(const void* p) { return _mm512_loadu_si512(p); }

// Elements [64c, 64c+64) of a P-bit plane of a G-element group (G ≥ 64),
// low P bits of each byte valid.
template <int P, int G, int C>
inline __m512i plane64(const uint8_t* plane) {
  constexpr int kNp = G * P / 8;
  constexpr int kE0 = 64 * C;
  static_assert(kE0 < G, "chunk inside the group");
  if constexpr (kNp >= 64) {
    return _mm512_srli_epi64(load64(plane + kE0 % kNp), P * (kE0 / kNp));
  } else if constexpr (kNp == 32) {
    constexpr int s = P * (kE0 / 32);
    const __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(plane)));
    return _mm512_srlv_epi64(v, _mm512_setr_epi64(s, s, s, s, s + P, s + P, s + P, s + P));
  } else if constexpr (kNp == 16) {
    constexpr int s = P * (kE0 / 16);
    const __m512i v = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(plane)));
    return _mm512_srlv_epi64(v, _mm512_setr_epi64(s, s, s + P, s + P, s + 2 * P, s + 2 * P, s + 3 * P, s + 3 * P));
  } else {
    static_assert(kNp == 8, "plane of 8 bytes");
    constexpr int s = P * (kE0 / 8);
    int64_t v;
    std::memcpy(&v, plane, 8);
    return _mm512_srlv_epi64(_mm512_set1_epi64(v),
                             _mm512_setr_epi64(s, s + P, s + 2 * P, s + 3 * P, s + 4 * P, s + 5 * P, s + 6 * P, s + 7 * P));
  }
}

template <int B, int G, int C>
inline __m512i gptq_chunk(const uint8_t* qs) {
  if constexpr (B == 3) {
    const __m512i lo = _mm512_and_si512(plane64<2, G, C>(qs), _mm512_set1_epi8(3));
    const __m512i hi = _mm512_and_si512(plane64<1, G, C>(qs + G / 4), _mm512_set1_epi8(1));
    return _mm512_or_si512(lo, _mm512_slli_epi16(hi, 2));
  } else {
    return _mm512_and_si512(plane64<B, G, C>(qs), _mm512_set1_epi8((1 << B) - 1));
  }
}

// Integer accumulation of u8 × s8 products for one group: int16 partial sums
// widened at the end (no VNNI), or int32 sums directly (VNNI).
template <bool kVnni>
struct Acc {
  __m512i v = _mm512_setzero_si512();
  void add(__m512i u8, __m512i s8) {
    if constexpr (kVnni)
      v = _mm512_dpbusd_epi32(v, u8, s8);
    else
      v = _mm512_add_epi16(v, _mm512_maddubs_epi16(u8, s8));
  }
  __m512i i32() const { return kVnni ? v : _mm512_madd_epi16(v, _mm512_set1_epi16(1)); }
};

template <bool kVnni, int B, int G, int C, int NA>
inline void accumulate_chunks(const uint8_t* qs, const int8_t* const* qa, Acc<kVnni>* is) {
  if constexpr (C < G / 64) {
    const __m512i q = gptq_chunk<B, G, C>(qs);
    for (int j = 0; j < NA; ++j) is[j].add(q, load64(qa[j] + 64 * C));
    accumulate_chunks<kVnni, B, G, C + 1, NA>(qs, qa, is);
  }
}

template <bool kVnni, int B, int G, bool Z>
struct GptqKernel {
  static_assert(G >= 64, "groups of 32 use the AVX2 kernels");
  static constexpr const GptqFormat& kF = kGptqFormat<B, G, Z>;
  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    const int64_t nb = (k + G - 1) / G;
    __m512 acc[R][NA];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) acc[r][j] = _mm512_setzero_ps();
    for (int64_t g = 0; g < nb; ++g) {
      const int64_t e0 = g * G;
      const int off = static_cast<int>(e0 % kQK8_A);
      const int8_t* qa[NA];
      float da[NA];
      int asum[NA];
      for (int j = 0; j < NA; ++j) {
        const BlockQ8A* A = reinterpret_cast<const BlockQ8A*>(act[j]) + e0 / kQK8_A;
        qa[j] = A->qs + off;
        da[j] = A->d;
        int s = 0;
        for (int b = 0; b < G / 32; ++b) s += A->bsums[off / 32 + b];
        asum[j] = s;
      }
      for (int r = 0; r < R; ++r) {
        const uint8_t* p = w + r * ws + g * kF.bytes();
        _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T0);
        const float d = f16(p);
        const int z = Z ? p[2] : 1 << (B - 1);
        Acc<kVnni> is[NA];
        accumulate_chunks<kVnni, B, G, 0, NA>(p + kF.header(), qa, is);
        for (int j = 0; j < NA; ++j) {
          const __m512i i32 = _mm512_sub_epi32(is[j].i32(), _mm512_maskz_set1_epi32(1, z * asum[j]));
          acc[r][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i32), _mm512_set1_ps(d * da[j]), acc[r][j]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) out[j * ldo + r] = _mm512_reduce_add_ps(acc[r][j]);
  }
};

// The NF4 digit tables (quants.h) in all four 128-bit lanes; mid and lo as
// magnitudes, the sign comes from hi.
struct Nf4Tables {
  __m512i hi, mid, lo;
  static __m512i bcast(const int8_t* t) {
    return _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t)));
  }
  Nf4Tables()
      : hi(bcast(kNF4Digits.hi)), mid(_mm512_abs_epi8(bcast(kNF4Digits.mid))), lo(_mm512_abs_epi8(bcast(kNF4Digits.lo))) {}
};

// Σ kNF4Int[code]·a over one 64-element sub-block, as 16 int32 lanes, by the
// three base-128 digits (as in nf4_q4_avx2.cpp). The code's sign moves onto
// the activation (no vpsignb at 512 bits: a masked negate), so the unsigned
// operands are the digit magnitudes ≤ 127. A lane sums 4 elements:
// ≤ 4·127·2^14·127 < 2^31.
template <bool kVnni, int NA>
inline void nf4_sub(const uint8_t* qs, const int8_t* const* qa, int off, const Nf4Tables& t, __m512i* i32) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  const __m512i idx = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(v, m4)),
                                         _mm256_and_si256(_mm256_srli_epi16(v, 4), m4), 1);
  const __m512i hs = _mm512_shuffle_epi8(t.hi, idx);
  const __mmask64 neg = _mm512_movepi8_mask(hs);
  const __m512i uh = _mm512_abs_epi8(hs);
  const __m512i um = _mm512_shuffle_epi8(t.mid, idx);
  const __m512i ul = _mm512_shuffle_epi8(t.lo, idx);
  for (int j = 0; j < NA; ++j) {
    const __m512i a = load64(qa[j] + off);
    const __m512i sa = _mm512_mask_sub_epi8(a, neg, _mm512_setzero_si512(), a);
    if constexpr (kVnni) {  // Horner in base 128: ((Σ hi·a)·2^7 + Σ mid·a)·2^7 + Σ lo·a
      const __m512i x = _mm512_dpbusd_epi32(_mm512_setzero_si512(), uh, sa);
      const __m512i y = _mm512_dpbusd_epi32(_mm512_slli_epi32(x, 7), um, sa);
      i32[j] = _mm512_dpbusd_epi32(_mm512_slli_epi32(y, 7), ul, sa);
    } else {  // one product pair per int16 lane (2·127·127 < 2^15), widened with the digit's weight
      const __m512i ph = _mm512_madd_epi16(_mm512_maddubs_epi16(uh, sa), _mm512_set1_epi16(1 << 14));
      const __m512i pm = _mm512_madd_epi16(_mm512_maddubs_epi16(um, sa), _mm512_set1_epi16(1 << 7));
      const __m512i pl = _mm512_madd_epi16(_mm512_maddubs_epi16(ul, sa), _mm512_set1_epi16(1));
      i32[j] = _mm512_add_epi32(ph, _mm512_add_epi32(pm, pl));
    }
  }
}

template <bool kVnni, bool kDq>
struct Nf4Kernel {
  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    const Nf4Tables tbl;
    constexpr int kQK = kDq ? kQKNF4DQ : kQKNF4;
    constexpr size_t kBytes = kDq ? sizeof(BlockNF4DQ) : sizeof(BlockNF4);
    __m512 acc[R][NA];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) acc[r][j] = _mm512_setzero_ps();
    for (int64_t e0 = 0; e0 < k; e0 += kQK) {
      const int8_t* qa[NA];
      float da[NA];
      for (int j = 0; j < NA; ++j) {
        const BlockQ8A* A = reinterpret_cast<const BlockQ8A*>(act[j]) + e0 / kQK8_A;
        qa[j] = A->qs;
        da[j] = A->d * kNF4IntUnit;
      }
      const int off = static_cast<int>(e0 % kQK8_A);
      for (int r = 0; r < R; ++r) {
        const uint8_t* x = w + r * ws + (e0 / kQK) * kBytes;
        _mm_prefetch(reinterpret_cast<const char*>(x) + kPrefetchBytes, _MM_HINT_T0);
        const float d = f16(x);
        __m512i i32[NA];
        if constexpr (kDq) {
          const BlockNF4DQ* b = reinterpret_cast<const BlockNF4DQ*>(x);
          for (int s = 0; s < 4; ++s) {
            nf4_sub<kVnni, NA>(b->qs + 32 * s, qa, 64 * s, tbl, i32);
            const float ds = d * static_cast<float>(b->sc[s]);
            for (int j = 0; j < NA; ++j)
              acc[r][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i32[j]), _mm512_set1_ps(ds * da[j]), acc[r][j]);
          }
        } else {
          nf4_sub<kVnni, NA>(reinterpret_cast<const BlockNF4*>(x)->qs, qa, off, tbl, i32);
          for (int j = 0; j < NA; ++j)
            acc[r][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i32[j]), _mm512_set1_ps(d * da[j]), acc[r][j]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) out[j * ldo + r] = _mm512_reduce_add_ps(acc[r][j]);
  }
};

template <bool kVnni>
void register_level(KernelTable& t) {
#define QGML_SET(T, ...)                          \
  t[Type::T].vec_dot = vec_dot_tile<__VA_ARGS__>; \
  t[Type::T].gemm = gemm_tiles<__VA_ARGS__>;
#define QGML_GPTQ_SLOTS(T, B, Z)                      \
  QGML_SET(T##_G64, GptqKernel<kVnni, B, 64, Z>)   \
  QGML_SET(T##_G128, GptqKernel<kVnni, B, 128, Z>)
  QGML_GPTQ_SLOTS(GPTQ4, 4, true)
  QGML_GPTQ_SLOTS(GPTQ3, 3, true)
  QGML_GPTQ_SLOTS(GPTQ2, 2, true)
  QGML_GPTQ_SLOTS(GPTQ4S, 4, false)
  QGML_GPTQ_SLOTS(GPTQ3S, 3, false)
  QGML_GPTQ_SLOTS(GPTQ2S, 2, false)
  QGML_SET(NF4, Nf4Kernel<kVnni, false>)
  QGML_SET(NF4_DQ, Nf4Kernel<kVnni, true>)
#undef QGML_GPTQ_SLOTS
#undef QGML_SET
}

}  // namespace

void register_avx512_quant_kernels(KernelTable& t) {
  if (cpu_features().avx512vnni)
    register_level<true>(t);
  else
    register_level<false>(t);
}

}  // namespace qgml
