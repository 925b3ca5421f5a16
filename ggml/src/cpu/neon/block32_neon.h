// NEON tile loops shared by llama.cpp's 32-element blocks (Q4_0, Q8_0, Q5_0,
// IQ4_NL against Q8_0 activations; Q4_1, Q5_1 against Q8_A). A decoder D
// says how one block turns into two halves of 16 int8 weights; the loops
// are the same. Included only by NEON files (compiled with the NEON flags).
#pragma once
#include <arm_neon.h>

#include "../../quants.h"
#include "nf4_neon.h"

namespace qgml::neon {

// Nibbles (element j low, j+16 high, as Q4_0 / Q4_1) as elements 0..15 and 16..31.
inline void nibbles(const uint8_t* qs, uint8x16_t* lo, uint8x16_t* hi) {
  const uint8x16_t v = vld1q_u8(qs);
  *lo = vandq_u8(v, vdupq_n_u8(0x0f));
  *hi = vshrq_n_u8(v, 4);
}

// Signed weights × Q8_0 activations. D provides Block (with an f16 d),
// Tables (constants built once per tile) and weights(block, tables, &q0, &q1).
template <bool kDot, class D>
struct Q8_0ActKernel {
  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    const typename D::Tables tbl;
    float32x4_t acc[R][NA];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) acc[r][j] = vdupq_n_f32(0.0f);
    const int64_t nb = (k + 31) / 32;
    for (int64_t b = 0; b < nb; ++b) {
      const BlockQ8_0* y[NA];
      for (int j = 0; j < NA; ++j) y[j] = reinterpret_cast<const BlockQ8_0*>(act[j]) + b;
      for (int r = 0; r < R; ++r) {
        const typename D::Block* x = reinterpret_cast<const typename D::Block*>(w + r * ws) + b;
        int8x16_t q0, q1;
        D::weights(x, tbl, &q0, &q1);
        const float d = f16(reinterpret_cast<const uint8_t*>(&x->d));
        for (int j = 0; j < NA; ++j) {
          const int32x4_t is = dot16<kDot>(dot16<kDot>(vdupq_n_s32(0), q0, vld1q_s8(y[j]->qs)), q1, vld1q_s8(y[j]->qs + 16));
          acc[r][j] = vfmaq_n_f32(acc[r][j], vcvtq_f32_s32(is), d * f16(reinterpret_cast<const uint8_t*>(&y[j]->d)));
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) out[j * ldo + r] = vaddvq_f32(acc[r][j]);
  }
};

// Unsigned weights with a scale and a min (value = d·q + m) × Q8_A
// activations: the min term m·Σa is summed in a scalar per pair. D provides
// Block (f16 d and m, 32 elements) and weights(block, &lo, &hi).
template <bool kDot, class D>
struct MinKernel {
  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    float32x4_t acc[R][NA];
    float ms[R][NA];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) {
        acc[r][j] = vdupq_n_f32(0.0f);
        ms[r][j] = 0.0f;
      }
    for (int64_t e0 = 0; e0 < k; e0 += 32) {
      Q8AChunk a[NA];
      for (int j = 0; j < NA; ++j) a[j] = q8a_chunk(act[j], e0);
      for (int r = 0; r < R; ++r) {
        const typename D::Block* x = reinterpret_cast<const typename D::Block*>(w + r * ws) + e0 / 32;
        const float d = f16(reinterpret_cast<const uint8_t*>(&x->d)), m = f16(reinterpret_cast<const uint8_t*>(&x->m));
        uint8x16_t lo, hi;
        D::weights(x, &lo, &hi);
        for (int j = 0; j < NA; ++j) {
          const int32x4_t is = dot16<kDot>(dot16<kDot>(vdupq_n_s32(0), vreinterpretq_s8_u8(lo), vld1q_s8(a[j].qs)),
                                           vreinterpretq_s8_u8(hi), vld1q_s8(a[j].qs + 16));
          acc[r][j] = vfmaq_n_f32(acc[r][j], vcvtq_f32_s32(is), d * a[j].d);
          ms[r][j] += m * a[j].d * static_cast<float>(a[j].sum);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) out[j * ldo + r] = vaddvq_f32(acc[r][j]) + ms[r][j];
  }
};

}  // namespace qgml::neon
