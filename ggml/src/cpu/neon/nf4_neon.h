// NEON helpers shared by the quantized kernels (quant_neon.cpp and the
// type files beside it) and the NF4 code-book kernel, which serves qgml's
// nf4 / nf4_dq and bitsandbytes' nf4_f32 / fp4_f32 alike. Included only by
// files compiled with the NEON flags.
#pragma once
#include <arm_neon.h>

#include <cstring>
#include <type_traits>

#include "../../quants.h"
#include "../../quants_bnb.h"
#include "../gemm_tiles.h"

namespace qgml::neon {

// acc + Σ over each 4 lanes of a·b. Without SDOT the int16 pair sums stay
// below 2·127·127 < 2^15.
template <bool kDot>
inline int32x4_t dot16(int32x4_t acc, int8x16_t a, int8x16_t b) {
  if constexpr (kDot) {
    return vdotq_s32(acc, a, b);
  } else {
    const int16x8_t p = vmlal_high_s8(vmull_s8(vget_low_s8(a), vget_low_s8(b)), a, b);
    return vpadalq_s16(acc, p);
  }
}

inline float f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

// The NF4 digit tables (quants.h): signed digits, so plain signed products.
struct Nf4Tables {
  int8x16_t hi, mid, lo;
  Nf4Tables() : hi(vld1q_s8(kNF4Digits.hi)), mid(vld1q_s8(kNF4Digits.mid)), lo(vld1q_s8(kNF4Digits.lo)) {}
};

// Σ kNF4Int[code]·a over a 64-element sub-block, by the three base-128
// digits: kNF4Int = hi·2^14 + mid·2^7 + lo. A lane sums 16 elements, which
// would overflow int32 once the digits are combined (16·2^21·127 > 2^31), so
// each digit's sum (≤ 16·127·127, exact in float) is converted alone and the
// three are combined in float, exactly but for the last two roundings.
template <bool kDot>
inline float32x4_t nf4_sub(const uint8_t* qs, const int8_t* qa, const Nf4Tables& t) {
  int32x4_t ih = vdupq_n_s32(0), im = vdupq_n_s32(0), il = vdupq_n_s32(0);
  for (int h = 0; h < 2; ++h) {
    const uint8x16_t v = vld1q_u8(qs + 16 * h);
    for (int n = 0; n < 2; ++n) {  // low nibbles: elements 16h.., high nibbles: 32+16h..
      const uint8x16_t idx = n == 0 ? vandq_u8(v, vdupq_n_u8(0x0f)) : vshrq_n_u8(v, 4);
      const int8x16_t a = vld1q_s8(qa + 32 * n + 16 * h);
      ih = dot16<kDot>(ih, vqtbl1q_s8(t.hi, idx), a);
      im = dot16<kDot>(im, vqtbl1q_s8(t.mid, idx), a);
      il = dot16<kDot>(il, vqtbl1q_s8(t.lo, idx), a);
    }
  }
  const float32x4_t ml = vfmaq_n_f32(vcvtq_f32_s32(il), vcvtq_f32_s32(im), 128.0f);
  return vfmaq_n_f32(ml, vcvtq_f32_s32(ih), 16384.0f);
}

// The NF4 code book as a policy of Nf4Kernel: Σ codeInt·a per 64 weights in
// float lanes, in units of kUnit.
template <bool kDot>
struct Nf4Code {
  using Tables = Nf4Tables;
  static constexpr float kUnit = kNF4IntUnit;
  static float32x4_t sub(const uint8_t* qs, const int8_t* qa, const Tables& t) { return nf4_sub<kDot>(qs, qa, t); }
};

inline float block_scale(const BlockNF4* b) { return f16(reinterpret_cast<const uint8_t*>(&b->d)); }
inline float block_scale(const BlockBnb4* b) { return b->d; }

// Code-book blocks against Q8_A: Blk is BlockNF4 / BlockBnb4 (one scale per
// 64) or BlockNF4DQ (four 8-bit sub-block scales under one f16).
template <bool kDot, class Blk, class Code = Nf4Code<kDot>>
struct Nf4Kernel {
  static constexpr bool kDq = std::is_same_v<Blk, BlockNF4DQ>;
  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    const typename Code::Tables tbl;
    constexpr int kQK = kDq ? kQKNF4DQ : 64;
    float32x4_t acc[R][NA];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) acc[r][j] = vdupq_n_f32(0.0f);
    for (int64_t e0 = 0; e0 < k; e0 += kQK) {
      const int8_t* qa[NA];
      float da[NA];
      for (int j = 0; j < NA; ++j) {
        const BlockQ8A* A = reinterpret_cast<const BlockQ8A*>(act[j]) + e0 / kQK8_A;
        qa[j] = A->qs + e0 % kQK8_A;
        da[j] = A->d * Code::kUnit;
      }
      for (int r = 0; r < R; ++r) {
        const Blk* b = reinterpret_cast<const Blk*>(w + r * ws) + e0 / kQK;
        __builtin_prefetch(reinterpret_cast<const uint8_t*>(b) + kPrefetchBytes);
        if constexpr (kDq) {
          const float d = f16(reinterpret_cast<const uint8_t*>(&b->d));
          for (int s = 0; s < 4; ++s) {
            const float ds = d * static_cast<float>(b->sc[s]);
            for (int j = 0; j < NA; ++j)
              acc[r][j] = vfmaq_n_f32(acc[r][j], Code::sub(b->qs + 32 * s, qa[j] + 64 * s, tbl), ds * da[j]);
          }
        } else {
          const float d = block_scale(b);
          for (int j = 0; j < NA; ++j) acc[r][j] = vfmaq_n_f32(acc[r][j], Code::sub(b->qs, qa[j], tbl), d * da[j]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) out[j * ldo + r] = vaddvq_f32(acc[r][j]);
  }
};

}  // namespace qgml::neon
