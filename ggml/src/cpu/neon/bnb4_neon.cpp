// NEON kernels for bitsandbytes' nf4_f32 / fp4_f32 against Q8_A: the NF4
// code-book kernel of nf4_neon.h, with NF4's digit arithmetic unchanged
// for nf4_f32, and for fp4_f32 FP4's exact integer codes kFP4Int = ±k
// (units of 1/192) as signed digits k = 2·hi + lo (|hi| ≤ 96, |lo| ≤ 1),
// since 192 does not fit int8. A lane sums 16 products of at most 192·127,
// so the digits combine exactly in int32.
#include <arm_neon.h>

#include "../../quants.h"
#include "../../quants_bnb.h"
#include "../gemm_tiles.h"
#include "../kernels.h"
#include "nf4_neon.h"

namespace qgml {
namespace {

using namespace neon;

template <bool kDot>
struct Fp4Code {
  struct Tables {
    int8x16_t hi, lo;
    Tables() : hi(vld1q_s8(kFP4Digits.hi)), lo(vld1q_s8(kFP4Digits.lo)) {}  // clang's vld1q_s8 is a statement expression
  };
  static constexpr float kUnit = kFP4IntUnit;
  static float32x4_t sub(const uint8_t* qs, const int8_t* qa, const Tables& t) {
    int32x4_t ih = vdupq_n_s32(0), il = vdupq_n_s32(0);
    for (int h = 0; h < 2; ++h) {
      const uint8x16_t v = vld1q_u8(qs + 16 * h);
      for (int n = 0; n < 2; ++n) {  // low nibbles: elements 16h.., high nibbles: 32+16h..
        const uint8x16_t idx = n == 0 ? vandq_u8(v, vdupq_n_u8(0x0f)) : vshrq_n_u8(v, 4);
        const int8x16_t a = vld1q_s8(qa + 32 * n + 16 * h);
        ih = dot16<kDot>(ih, vqtbl1q_s8(t.hi, idx), a);
        il = dot16<kDot>(il, vqtbl1q_s8(t.lo, idx), a);
      }
    }
    return vcvtq_f32_s32(vaddq_s32(vshlq_n_s32(ih, 1), il));
  }
};

template <bool kDot>
void register_level(KernelTable& t) {
  t[Type::NF4_F32].vec_dot = vec_dot_tile<Nf4Kernel<kDot, BlockBnb4>>;
  t[Type::NF4_F32].gemm = gemm_tiles<Nf4Kernel<kDot, BlockBnb4>>;
  t[Type::FP4_F32].vec_dot = vec_dot_tile<Nf4Kernel<kDot, BlockBnb4, Fp4Code<kDot>>>;
  t[Type::FP4_F32].gemm = gemm_tiles<Nf4Kernel<kDot, BlockBnb4, Fp4Code<kDot>>>;
}

}  // namespace

void register_neon_bnb4_kernels(KernelTable& t) {
  if (cpu_features().dotprod)
    register_level<true>(t);
  else
    register_level<false>(t);
}

}  // namespace qgml
