// NEON kernels for llama.cpp's Q5_0 and IQ4_NL (against Q8_0 activations)
// and Q5_1 (against Q8_A): the scalar reference's integer sums (SDOT where
// the CPU has it, else widening multiplies; see dot16 in nf4_neon.h), float
// sums in a different order. All weights fit int8 (Q5_0: q − 16 ∈ [−16, 15];
// Q5_1: 0..31; IQ4_NL: table values in [−127, 113]).
#include <arm_neon.h>

#include "../../quants.h"
#include "../../quants_q5_iq4.h"
#include "../gemm_tiles.h"
#include "../kernels.h"
#include "nf4_neon.h"

namespace qgml {
namespace {

using namespace neon;

// Bit 4 of elements [16h, 16h+16): byte e = 0x10 where bit 16h+e of qh is set.
inline uint8x16_t high_bits(const uint8_t* qh, int h) {
  static const uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t src = vreinterpretq_u8_u32(vdupq_n_u32(q5_high_bits(qh)));
  const uint8x16_t idx = h == 0 ? vcombine_u8(vdup_n_u8(0), vdup_n_u8(1)) : vcombine_u8(vdup_n_u8(2), vdup_n_u8(3));
  return vandq_u8(vtstq_u8(vqtbl1q_u8(src, idx), vld1q_u8(kBit)), vdupq_n_u8(0x10));
}

// Weight decoders for Q8_0-activation kernels: elements 0..15 and 16..31 as signed bytes.
struct Q5_0Decode {
  using Block = BlockQ5_0;
  struct Tables {};
  static void weights(const Block* x, const Tables&, int8x16_t* q0, int8x16_t* q1) {
    const uint8x16_t v = vld1q_u8(x->qs);
    *q0 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(v, vdupq_n_u8(0x0f)), high_bits(x->qh, 0))), vdupq_n_s8(16));
    *q1 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(v, 4), high_bits(x->qh, 1))), vdupq_n_s8(16));
  }
};

struct IQ4NLDecode {
  using Block = BlockIQ4NL;
  struct Tables {
    int8x16_t values;
    Tables() : values(vld1q_s8(kIQ4NL)) {}  // a constructor: clang's vld1q_s8 cannot be a member initializer
  };
  static void weights(const Block* x, const Tables& t, int8x16_t* q0, int8x16_t* q1) {
    const uint8x16_t v = vld1q_u8(x->qs);
    *q0 = vqtbl1q_s8(t.values, vandq_u8(v, vdupq_n_u8(0x0f)));
    *q1 = vqtbl1q_s8(t.values, vshrq_n_u8(v, 4));
  }
};

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

// As qgml's Q4_1 kernel: the min term m·Σa is summed in a scalar per pair.
template <bool kDot>
struct Q5_1Kernel {
  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    float32x4_t acc[R][NA];
    float ms[R][NA];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) {
        acc[r][j] = vdupq_n_f32(0.0f);
        ms[r][j] = 0.0f;
      }
    for (int64_t e0 = 0; e0 < k; e0 += kQK5) {
      const int8_t* qa[NA];
      float da[NA];
      int asum[NA];
      const int off = static_cast<int>(e0 % kQK8_A);
      for (int j = 0; j < NA; ++j) {
        const BlockQ8A* A = reinterpret_cast<const BlockQ8A*>(act[j]) + e0 / kQK8_A;
        qa[j] = A->qs + off;
        da[j] = A->d;
        asum[j] = A->bsums[off / 32];
      }
      for (int r = 0; r < R; ++r) {
        const BlockQ5_1* x = reinterpret_cast<const BlockQ5_1*>(w + r * ws) + e0 / kQK5;
        const float d = f16(reinterpret_cast<const uint8_t*>(&x->d)), m = f16(reinterpret_cast<const uint8_t*>(&x->m));
        const uint8x16_t v = vld1q_u8(x->qs);
        const int8x16_t lo = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(v, vdupq_n_u8(0x0f)), high_bits(x->qh, 0)));
        const int8x16_t hi = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(v, 4), high_bits(x->qh, 1)));
        for (int j = 0; j < NA; ++j) {
          const int32x4_t is = dot16<kDot>(dot16<kDot>(vdupq_n_s32(0), lo, vld1q_s8(qa[j])), hi, vld1q_s8(qa[j] + 16));
          acc[r][j] = vfmaq_n_f32(acc[r][j], vcvtq_f32_s32(is), d * da[j]);
          ms[r][j] += m * da[j] * static_cast<float>(asum[j]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) out[j * ldo + r] = vaddvq_f32(acc[r][j]) + ms[r][j];
  }
};

template <bool kDot>
void register_level(KernelTable& t) {
  t[Type::Q5_0].vec_dot = vec_dot_tile<Q8_0ActKernel<kDot, Q5_0Decode>>;
  t[Type::Q5_0].gemm = gemm_tiles<Q8_0ActKernel<kDot, Q5_0Decode>>;
  t[Type::IQ4_NL].vec_dot = vec_dot_tile<Q8_0ActKernel<kDot, IQ4NLDecode>>;
  t[Type::IQ4_NL].gemm = gemm_tiles<Q8_0ActKernel<kDot, IQ4NLDecode>>;
  t[Type::Q5_1].vec_dot = vec_dot_tile<Q5_1Kernel<kDot>>;
  t[Type::Q5_1].gemm = gemm_tiles<Q5_1Kernel<kDot>>;
}

}  // namespace

void register_neon_q5_iq4_kernels(KernelTable& t) {
  if (cpu_features().dotprod)
    register_level<true>(t);
  else
    register_level<false>(t);
}

}  // namespace qgml
