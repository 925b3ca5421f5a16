// NEON kernels for the quantized types (arm64). Same structure and integer
// arithmetic as the AVX2 ones (see gptq_avx2.cpp): quants unpacked 16 at a
// time by one load, one per-byte shift (vshlq with negative counts) and one
// mask; signed int8 products summed by SDOT where the CPU has the dot-product
// extension, else by widening multiplies (vmull_s8 + pairwise accumulate).
// Both forms give the same exact integers, hence the same results.
#include <arm_neon.h>

#include <cstring>

#include "../../quants.h"
#include "../gemm_tiles.h"
#include "../kernels.h"
#include "block32_neon.h"
#include "nf4_neon.h"

namespace qgml {
namespace {

using namespace neon;

// Elements [16c, 16c+16) of a P-bit plane of a G-element group (layout in
// quants.h), low P bits of each byte valid.
template <int P, int G, int C>
inline uint8x16_t plane16(const uint8_t* plane) {
  constexpr int kNp = G * P / 8;
  constexpr int kE0 = 16 * C;
  if constexpr (kNp >= 16) {
    return vshlq_u8(vld1q_u8(plane + kE0 % kNp), vdupq_n_s8(static_cast<int8_t>(-P * (kE0 / kNp))));
  } else if constexpr (kNp == 8) {
    constexpr int s = P * (kE0 / 8);
    const uint8x8_t h = vld1_u8(plane);
    return vshlq_u8(vcombine_u8(h, h), vcombine_s8(vdup_n_s8(-s), vdup_n_s8(-(s + P))));
  } else {
    static_assert(kNp == 4, "plane of 4 bytes");
    constexpr int s = P * (kE0 / 4);
    uint32_t v;
    std::memcpy(&v, plane, 4);
    const int8_t sh[16] = {-s, -s, -s, -s, -(s + P), -(s + P), -(s + P), -(s + P),
                           -(s + 2 * P), -(s + 2 * P), -(s + 2 * P), -(s + 2 * P),
                           -(s + 3 * P), -(s + 3 * P), -(s + 3 * P), -(s + 3 * P)};
    return vshlq_u8(vreinterpretq_u8_u32(vdupq_n_u32(v)), vld1q_s8(sh));
  }
}

template <int B, int G, int C>
inline int8x16_t gptq_chunk(const uint8_t* qs) {
  if constexpr (B == 3) {
    const uint8x16_t lo = vandq_u8(plane16<2, G, C>(qs), vdupq_n_u8(3));
    const uint8x16_t hi = vandq_u8(plane16<1, G, C>(qs + G / 4), vdupq_n_u8(1));
    return vreinterpretq_s8_u8(vorrq_u8(lo, vshlq_n_u8(hi, 2)));
  } else {
    return vreinterpretq_s8_u8(vandq_u8(plane16<B, G, C>(qs), vdupq_n_u8((1 << B) - 1)));
  }
}

template <bool kDot, int B, int G, int C, int NA>
inline void accumulate_chunks(const uint8_t* qs, const int8_t* const* qa, int32x4_t* is) {
  if constexpr (C < G / 16) {
    const int8x16_t q = gptq_chunk<B, G, C>(qs);
    for (int j = 0; j < NA; ++j) is[j] = dot16<kDot>(is[j], q, vld1q_s8(qa[j] + 16 * C));
    accumulate_chunks<kDot, B, G, C + 1, NA>(qs, qa, is);
  }
}

// −v in lane 0: the zero-point term.
inline int32x4_t minus_lane0(int32x4_t x, int v) { return vsubq_s32(x, vsetq_lane_s32(v, vdupq_n_s32(0), 0)); }

template <bool kDot, int B, int G, bool Z>
struct GptqKernel {
  static constexpr const GptqFormat& kF = kGptqFormat<B, G, Z>;
  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    const int64_t nb = (k + G - 1) / G;
    float32x4_t acc[R][NA];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) acc[r][j] = vdupq_n_f32(0.0f);
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
        __builtin_prefetch(p + kPrefetchBytes);
        const float d = f16(p);
        const int z = Z ? p[2] : 1 << (B - 1);
        int32x4_t is[NA];
        for (int j = 0; j < NA; ++j) is[j] = vdupq_n_s32(0);
        accumulate_chunks<kDot, B, G, 0, NA>(p + kF.header(), qa, is);
        for (int j = 0; j < NA; ++j)
          acc[r][j] = vfmaq_n_f32(acc[r][j], vcvtq_f32_s32(minus_lane0(is[j], z * asum[j])), d * da[j]);
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) out[j * ldo + r] = vaddvq_f32(acc[r][j]);
  }
};

// llama.cpp's blocks, decoded for the shared loops of block32_neon.h.
struct Q4_0Decode {
  using Block = BlockQ4_0;
  struct Tables {};
  static void weights(const Block* x, const Tables&, int8x16_t* q0, int8x16_t* q1) {
    uint8x16_t lo, hi;
    nibbles(x->qs, &lo, &hi);
    *q0 = vsubq_s8(vreinterpretq_s8_u8(lo), vdupq_n_s8(8));
    *q1 = vsubq_s8(vreinterpretq_s8_u8(hi), vdupq_n_s8(8));
  }
};
struct Q8_0Decode {
  using Block = BlockQ8_0;
  struct Tables {};
  static void weights(const Block* x, const Tables&, int8x16_t* q0, int8x16_t* q1) {
    *q0 = vld1q_s8(x->qs);
    *q1 = vld1q_s8(x->qs + 16);
  }
};
struct Q4_1Decode {
  using Block = BlockQ4_1;
  static void weights(const Block* x, uint8x16_t* lo, uint8x16_t* hi) { nibbles(x->qs, lo, hi); }
};

// Bit-exact with q8_a_from_float (vcvtnq rounds to nearest even).
void quantize_q8_a(const float* x, void* dst, int64_t k) {
  BlockQ8A* out = static_cast<BlockQ8A*>(dst);
  float tmp[kQK8_A];
  for (int64_t i = 0; i < k; i += kQK8_A, ++out) {
    const float* src = x + i;
    if (k - i < kQK8_A) {
      std::memset(tmp, 0, sizeof tmp);
      std::memcpy(tmp, src, static_cast<size_t>(k - i) * sizeof(float));
      src = tmp;
    }
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int j = 0; j < kQK8_A; j += 4) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(src + j)));
    const float d = vmaxvq_f32(m) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out->d = d;
    for (int s = 0; s < kQK8_A / 32; ++s) {
      int32x4_t sum = vdupq_n_s32(0);
      for (int h = 0; h < 32; h += 8) {
        const int32x4_t a = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(src + 32 * s + h), id));
        const int32x4_t b = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(src + 32 * s + h + 4), id));
        sum = vaddq_s32(sum, vaddq_s32(a, b));
        vst1_s8(out->qs + 32 * s + h, vqmovn_s16(vcombine_s16(vqmovn_s32(a), vqmovn_s32(b))));
      }
      out->bsums[s] = static_cast<int16_t>(vaddvq_s32(sum));
    }
  }
}

template <bool kDot>
void register_level(KernelTable& t) {
  t[Type::Q8_A].quantize_act = quantize_q8_a;
#define QGML_SET(T, ...)                          \
  t[Type::T].vec_dot = vec_dot_tile<__VA_ARGS__>; \
  t[Type::T].gemm = gemm_tiles<__VA_ARGS__>;
#define QGML_GPTQ_SLOTS(T, B, Z)                           \
  QGML_SET(T##_G32, GptqKernel<kDot, B, 32, Z>)           \
  QGML_SET(T##_G64, GptqKernel<kDot, B, 64, Z>)           \
  QGML_SET(T##_G128, GptqKernel<kDot, B, 128, Z>)
  QGML_GPTQ_SLOTS(GPTQ4, 4, true)
  QGML_GPTQ_SLOTS(GPTQ3, 3, true)
  QGML_GPTQ_SLOTS(GPTQ2, 2, true)
  QGML_GPTQ_SLOTS(GPTQ4S, 4, false)
  QGML_GPTQ_SLOTS(GPTQ3S, 3, false)
  QGML_GPTQ_SLOTS(GPTQ2S, 2, false)
  QGML_SET(NF4, CodebookKernel<BlockNF4>)
  QGML_SET(NF4_DQ, CodebookKernel<BlockNF4DQ>)
  QGML_SET(Q4_1, MinKernel<kDot, Q4_1Decode>)
  QGML_SET(Q4_0, Q8_0ActKernel<kDot, Q4_0Decode>)
  QGML_SET(Q8_0, Q8_0ActKernel<kDot, Q8_0Decode>)
#undef QGML_GPTQ_SLOTS
#undef QGML_SET
}

}  // namespace

void register_neon_quant_kernels(KernelTable& t) {
  if (cpu_features().dotprod)
    register_level<true>(t);
  else
    register_level<false>(t);
}

}  // namespace qgml
