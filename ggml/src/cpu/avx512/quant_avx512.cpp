// AVX-512 (F, BW; VNNI where present) kernels for GPTQ groups of 64 and 128:
// 64 elements per register. Same integer arithmetic as the AVX2 kernels (see
// gptq_avx2.cpp). Without VNNI, maddubs + int16 sums as there; with VNNI,
// vpdpbusd (u8 × s8 summed into int32) directly. Groups of 32 take two
// groups per register (GptqPairKernel). The code-book types (nf4, nf4_dq,
// nf4_f32, fp4_f32) are in codebook_avx512.cpp, llama.cpp's q4_0, q4_1 and
// q8_0 in block32_avx512.cpp.
//
// The development machine's CPU has no AVX-512: `make test` runs these
// kernels there on SIMDe's emulation of the intrinsics (CMake option
// QGML_EMULATED_AVX512, tests/emulation/), which checks what they compute,
// not their speed; on CPUs with AVX-512 the suites run them natively.
#include <immintrin.h>

#include <cstring>

#include "../../quants.h"
#include "../gemm_tiles.h"
#include "../kernels.h"
#include "../avx2/avx2_util.h"

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
  // (Planes are named before use: the intrinsics may be macros, see tests/emulation/.)
  if constexpr (B == 3) {
    const __m512i p2 = plane64<2, G, C>(qs), p1 = plane64<1, G, C>(qs + G / 4);
    const __m512i lo = _mm512_and_si512(p2, _mm512_set1_epi8(3));
    const __m512i hi = _mm512_and_si512(p1, _mm512_set1_epi8(1));
    return _mm512_or_si512(lo, _mm512_slli_epi16(hi, 2));
  } else {
    const __m512i p = plane64<B, G, C>(qs);
    return _mm512_and_si512(p, _mm512_set1_epi8((1 << B) - 1));
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

// Groups of 32: two groups per register, group g in the low 256 bits and
// g + 1 in the high, each unpacked as on AVX2 (avx2_util.h); their
// activations are 64 consecutive bytes of one q8_a block. The zero-point
// terms go to lanes 0 and 8, the scales d·d_a to lanes 0-7 and 8-15.
template <bool kVnni, int B, bool Z>
struct GptqPairKernel {
  static constexpr const GptqFormat& kF = kGptqFormat<B, 32, Z>;
  static constexpr int kZeroSym = 1 << (B - 1);
  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    const int64_t nb = (k + 31) / 32;
    __m512 acc[R][NA];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) acc[r][j] = _mm512_setzero_ps();
    for (int64_t g = 0; g < nb; g += 2) {
      const bool two = g + 1 < nb;
      const int off = static_cast<int>(g * 32 % kQK8_A);  // 0, 64, 128 or 192: the pair stays in one block
      const int8_t* qa[NA];
      float da[NA];
      int s0[NA], s1[NA];
      for (int j = 0; j < NA; ++j) {
        const BlockQ8A* A = reinterpret_cast<const BlockQ8A*>(act[j]) + g * 32 / kQK8_A;
        qa[j] = A->qs + off;
        da[j] = A->d;
        s0[j] = A->bsums[off / 32];
        s1[j] = two ? A->bsums[off / 32 + 1] : 0;
      }
      for (int r = 0; r < R; ++r) {
        const uint8_t* p = w + r * ws + g * kF.bytes();
        _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T0);
        const uint8_t* p1 = p + kF.bytes();
        const __m256i q0 = avx2::gptq_chunk<B, 32, 0>(p + kF.header());
        const __m256i q1 = two ? avx2::gptq_chunk<B, 32, 0>(p1 + kF.header()) : _mm256_setzero_si256();
        const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1);
        const float d0 = f16(p), d1 = two ? f16(p1) : 0.0f;
        const int z0 = Z ? p[2] : kZeroSym, z1 = two ? (Z ? p1[2] : kZeroSym) : 0;
        for (int j = 0; j < NA; ++j) {
          // Per pair of products at most 2·15·127 without VNNI.
          const __m512i s32 = kVnni ? _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, load64(qa[j]))
                                    : _mm512_madd_epi16(_mm512_maddubs_epi16(q, load64(qa[j])), _mm512_set1_epi16(1));
          const __m512i zs = _mm512_mask_set1_epi32(_mm512_maskz_set1_epi32(1, z0 * s0[j]), 1 << 8, z1 * s1[j]);
          const __m512 sc = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(d0 * da[j])),
                                               _mm256_set1_ps(d1 * da[j]), 1);
          acc[r][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(s32, zs)), sc, acc[r][j]);
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
#define QGML_GPTQ_SLOTS(T, B, Z)                   \
  QGML_SET(T##_G32, GptqPairKernel<kVnni, B, Z>)  \
  QGML_SET(T##_G64, GptqKernel<kVnni, B, 64, Z>) \
  QGML_SET(T##_G128, GptqKernel<kVnni, B, 128, Z>)
  QGML_GPTQ_SLOTS(GPTQ4, 4, true)
  QGML_GPTQ_SLOTS(GPTQ3, 3, true)
  QGML_GPTQ_SLOTS(GPTQ2, 2, true)
  QGML_GPTQ_SLOTS(GPTQ4S, 4, false)
  QGML_GPTQ_SLOTS(GPTQ3S, 3, false)
  QGML_GPTQ_SLOTS(GPTQ2S, 2, false)
#undef QGML_GPTQ_SLOTS
#undef QGML_SET
}

}  // namespace

void register_avx512_quant_kernels(KernelTable& t) {
  if (cpu_features().avx512vnni)
    register_level<true>(t);
  else
    register_level<false>(t);
  register_avx512_codebook_kernels(t);
  register_avx512_block32_kernels(t);
}

}  // namespace qgml
