// NEON helpers shared by the quantized kernels (quant_neon.cpp and the
// type files beside it) and the code-book kernel (int16 codes, see
// kNF4Int), which serves qgml's nf4 / nf4_dq and bitsandbytes' nf4_f32 /
// fp4_f32 alike. Included only by
// files compiled with the NEON flags.
#pragma once
#include <arm_neon.h>

#include <cstring>
#include <type_traits>

#include "../../quants.h"
#include "../../quants_bnb.h"
#include "../code_books.h"
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

// A 16-entry int16 code book (kNF4Int, kFP4Int) as its low and high bytes.
struct CodeTables {
  uint8x16_t lo, hi;
  explicit CodeTables(const int16_t* codes) {
    const CodeBytes b(codes);
    lo = vld1q_u8(b.lo);
    hi = vld1q_u8(b.hi);
  }
};

// acc + Σ code·a over 16 codes (nibble indices idx) and 16 activations: the
// table lookups give each code's two bytes, zips make them int16, widening
// multiply-adds sum them in int32 (a lane sums at most 16 products of a
// 64-code sub-block: 16·32767·127 < 2^31).
inline int32x4_t code_dot16(int32x4_t acc, uint8x16_t idx, int8x16_t a, const CodeTables& t) {
  const uint8x16_t l = vqtbl1q_u8(t.lo, idx), h = vqtbl1q_u8(t.hi, idx);
  const int16x8_t c0 = vreinterpretq_s16_u8(vzip1q_u8(l, h)), c1 = vreinterpretq_s16_u8(vzip2q_u8(l, h));
  const int16x8_t a0 = vmovl_s8(vget_low_s8(a)), a1 = vmovl_high_s8(a);
  acc = vmlal_s16(acc, vget_low_s16(c0), vget_low_s16(a0));
  acc = vmlal_high_s16(acc, c0, a0);
  acc = vmlal_s16(acc, vget_low_s16(c1), vget_low_s16(a1));
  return vmlal_high_s16(acc, c1, a1);
}

// Σ code·a over a 64-code sub-block (element j low nibble of qs[j], j+32 high), in 4 int32 lanes.
inline int32x4_t code_sub(const uint8_t* qs, const int8_t* qa, const CodeTables& t) {
  int32x4_t acc = vdupq_n_s32(0);
  for (int h = 0; h < 2; ++h) {
    const uint8x16_t v = vld1q_u8(qs + 16 * h);
    acc = code_dot16(acc, vandq_u8(v, vdupq_n_u8(0x0f)), vld1q_s8(qa + 16 * h), t);
    acc = code_dot16(acc, vshrq_n_u8(v, 4), vld1q_s8(qa + 32 + 16 * h), t);
  }
  return acc;
}

inline float block_scale(const BlockNF4* b) { return f16(reinterpret_cast<const uint8_t*>(&b->d)); }
inline float block_scale(const BlockBnb4* b) { return b->d; }

// Code-book blocks against Q8_A: Blk is BlockNF4 / BlockBnb4 (one scale per
// 64) or BlockNF4DQ (four 8-bit sub-block scales under one f16).
template <class Blk, class Book = Nf4Book>  // Book: code_books.h
struct CodebookKernel {
  static constexpr bool kDq = std::is_same_v<Blk, BlockNF4DQ>;
  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    static const CodeTables tbl(Book::codes());  // built once, not per row
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
        da[j] = A->d * Book::kUnit;
      }
      for (int r = 0; r < R; ++r) {
        const Blk* b = reinterpret_cast<const Blk*>(w + r * ws) + e0 / kQK;
        __builtin_prefetch(reinterpret_cast<const uint8_t*>(b) + kPrefetchBytes);
        if constexpr (kDq) {
          const float d = f16(reinterpret_cast<const uint8_t*>(&b->d));
          for (int s = 0; s < 4; ++s) {
            const float ds = d * static_cast<float>(b->sc[s]);
            for (int j = 0; j < NA; ++j)
              acc[r][j] = vfmaq_n_f32(acc[r][j], vcvtq_f32_s32(code_sub(b->qs + 32 * s, qa[j] + 64 * s, tbl)), ds * da[j]);
          }
        } else {
          const float d = block_scale(b);
          for (int j = 0; j < NA; ++j)
            acc[r][j] = vfmaq_n_f32(acc[r][j], vcvtq_f32_s32(code_sub(b->qs, qa[j], tbl)), d * da[j]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) out[j * ldo + r] = vaddvq_f32(acc[r][j]);
  }
};

}  // namespace qgml::neon
