// Scalar reference kernels: every slot of every type. SIMD levels are tested
// against these.
#include <cstring>

#include "../../quants.h"
#include "../kernels.h"

namespace qgml {
namespace {

float dot_f32(int64_t k, const void* w, const void* a) {
  const float* x = static_cast<const float*>(w);
  const float* y = static_cast<const float*>(a);
  float s = 0.0f;
  for (int64_t i = 0; i < k; ++i) s += x[i] * y[i];
  return s;
}

float dot_f16(int64_t k, const void* w, const void* a) {
  const uint16_t* x = static_cast<const uint16_t*>(w);
  const float* y = static_cast<const float*>(a);
  float s = 0.0f;
  for (int64_t i = 0; i < k; ++i) s += fp16_to_f32(x[i]) * y[i];
  return s;
}

float dot_bf16(int64_t k, const void* w, const void* a) {
  const uint16_t* x = static_cast<const uint16_t*>(w);
  const float* y = static_cast<const float*>(a);
  float s = 0.0f;
  for (int64_t i = 0; i < k; ++i) s += bf16_to_f32(x[i]) * y[i];
  return s;
}

float dot_q8_0_q8_0(int64_t k, const void* w, const void* a) {
  const BlockQ8_0* x = static_cast<const BlockQ8_0*>(w);
  const BlockQ8_0* y = static_cast<const BlockQ8_0*>(a);
  float s = 0.0f;
  for (int64_t b = 0; b < (k + kQK8_0 - 1) / kQK8_0; ++b) {
    int32_t acc = 0;
    for (int j = 0; j < kQK8_0; ++j) acc += x[b].qs[j] * y[b].qs[j];
    s += fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d) * static_cast<float>(acc);
  }
  return s;
}

float dot_q4_0_q8_0(int64_t k, const void* w, const void* a) {
  const BlockQ4_0* x = static_cast<const BlockQ4_0*>(w);
  const BlockQ8_0* y = static_cast<const BlockQ8_0*>(a);
  float s = 0.0f;
  for (int64_t b = 0; b < (k + kQK4_0 - 1) / kQK4_0; ++b) {
    int32_t acc = 0;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      acc += ((x[b].qs[j] & 0x0f) - 8) * y[b].qs[j];
      acc += ((x[b].qs[j] >> 4) - 8) * y[b].qs[j + kQK4_0 / 2];
    }
    s += fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d) * static_cast<float>(acc);
  }
  return s;
}

void quantize_act_f32(const float* x, void* dst, int64_t k) { std::memcpy(dst, x, static_cast<size_t>(k) * 4); }

}  // namespace

void register_scalar_kernels(KernelTable& t) {
  register_scalar_math_kernels(t);
  for (int i = 0; i < kTypeCount; ++i) t.type[i].to_float = traits(static_cast<Type>(i)).to_float;
  t[Type::F32].vec_dot = dot_f32;
  t[Type::F32].quantize_act = quantize_act_f32;
  t[Type::F16].vec_dot = dot_f16;
  t[Type::BF16].vec_dot = dot_bf16;
  t[Type::Q8_0].vec_dot = dot_q8_0_q8_0;
  t[Type::Q8_0].quantize_act = q8_0_from_float;
  t[Type::Q4_0].vec_dot = dot_q4_0_q8_0;
  register_scalar_quant_kernels(t);
  register_scalar_q5_iq4_kernels(t);
  register_scalar_kquant_kernels(t);
  register_scalar_bnb4_kernels(t);
}

}  // namespace qgml
