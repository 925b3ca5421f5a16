// NEON kernels (arm64; fp16 conversion instructions are part of armv8.2-a+fp16).
#include <arm_neon.h>

#include "../../quants.h"
#include "../kernels.h"

namespace qgml {
namespace {

float dot_f32(int64_t k, const void* w, const void* a) {
  const float* x = static_cast<const float*>(w);
  const float* y = static_cast<const float*>(a);
  float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    acc0 = vfmaq_f32(acc0, vld1q_f32(x + i), vld1q_f32(y + i));
    acc1 = vfmaq_f32(acc1, vld1q_f32(x + i + 4), vld1q_f32(y + i + 4));
  }
  float s = vaddvq_f32(vaddq_f32(acc0, acc1));
  for (; i < k; ++i) s += x[i] * y[i];
  return s;
}

float dot_f16(int64_t k, const void* w, const void* a) {
  const uint16_t* x = static_cast<const uint16_t*>(w);
  const float* y = static_cast<const float*>(a);
  float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(x + i));
    acc0 = vfmaq_f32(acc0, vcvt_f32_f16(vget_low_f16(h)), vld1q_f32(y + i));
    acc1 = vfmaq_f32(acc1, vcvt_f32_f16(vget_high_f16(h)), vld1q_f32(y + i + 4));
  }
  float s = vaddvq_f32(vaddq_f32(acc0, acc1));
  for (; i < k; ++i) s += fp16_to_f32(x[i]) * y[i];
  return s;
}

float dot_bf16(int64_t k, const void* w, const void* a) {
  const uint16_t* x = static_cast<const uint16_t*>(w);
  const float* y = static_cast<const float*>(a);
  float32x4_t acc = vdupq_n_f32(0);
  int64_t i = 0;
  for (; i + 4 <= k; i += 4) {
    const float32x4_t v = vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(x + i), 16));
    acc = vfmaq_f32(acc, v, vld1q_f32(y + i));
  }
  float s = vaddvq_f32(acc);
  for (; i < k; ++i) s += bf16_to_f32(x[i]) * y[i];
  return s;
}

}  // namespace

void register_neon_kernels(KernelTable& t) {
  register_neon_math_kernels(t);
  t[Type::F32].vec_dot = dot_f32;
  t[Type::F16].vec_dot = dot_f16;
  t[Type::BF16].vec_dot = dot_bf16;
  register_neon_quant_kernels(t);
  register_neon_q5_iq4_kernels(t);
  register_neon_kquant_kernels(t);
  register_neon_bnb4_kernels(t);
}

}  // namespace qgml
