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
#include "block32_neon.h"
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
    uint8x16_t lo, hi;
    nibbles(x->qs, &lo, &hi);
    *q0 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo, high_bits(x->qh, 0))), vdupq_n_s8(16));
    *q1 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(hi, high_bits(x->qh, 1))), vdupq_n_s8(16));
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

// As qgml's Q4_1: elements 0..15 and 16..31 as unsigned 5-bit values.
struct Q5_1Decode {
  using Block = BlockQ5_1;
  static void weights(const Block* x, uint8x16_t* lo, uint8x16_t* hi) {
    nibbles(x->qs, lo, hi);
    *lo = vorrq_u8(*lo, high_bits(x->qh, 0));
    *hi = vorrq_u8(*hi, high_bits(x->qh, 1));
  }
};

template <bool kDot>
void register_level(KernelTable& t) {
  t[Type::Q5_0].vec_dot = vec_dot_tile<Q8_0ActKernel<kDot, Q5_0Decode>>;
  t[Type::Q5_0].gemm = gemm_tiles<Q8_0ActKernel<kDot, Q5_0Decode>>;
  t[Type::IQ4_NL].vec_dot = vec_dot_tile<Q8_0ActKernel<kDot, IQ4NLDecode>>;
  t[Type::IQ4_NL].gemm = gemm_tiles<Q8_0ActKernel<kDot, IQ4NLDecode>>;
  t[Type::Q5_1].vec_dot = vec_dot_tile<MinKernel<kDot, Q5_1Decode>>;
  t[Type::Q5_1].gemm = gemm_tiles<MinKernel<kDot, Q5_1Decode>>;
}

}  // namespace

void register_neon_q5_iq4_kernels(KernelTable& t) {
  if (cpu_features().dotprod)
    register_level<true>(t);
  else
    register_level<false>(t);
}

}  // namespace qgml
