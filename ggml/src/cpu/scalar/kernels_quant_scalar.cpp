// Scalar reference dot kernels of the types whose activations are Q8_A
// blocks. They define the integer arithmetic the SIMD levels reproduce:
// per weight group an exact integer sum Σ q·a (minus z·Σa for zero points),
// then one float multiply-add with the group's and the activation block's
// scales. SIMD levels differ from these only in float summation order.
#include <cstring>

#include "../../quants.h"
#include "../kernels.h"

namespace qgml {
namespace {

inline const BlockQ8A& act_block(const void* a, int64_t elem) {
  return static_cast<const BlockQ8A*>(a)[elem / kQK8_A];
}

// Σa over n (a multiple of 32) activations starting at element `elem`.
inline int act_sum(const BlockQ8A& A, int64_t elem, int n) {
  int s = 0;
  for (int j = 0; j < n / 32; ++j) s += A.bsums[(elem % kQK8_A) / 32 + j];
  return s;
}

template <int B, int G, bool Z>
float dot_gptq(int64_t k, const void* w, const void* a) {
  constexpr const GptqFormat& kF = kGptqFormat<B, G, Z>;
  const uint8_t* p = static_cast<const uint8_t*>(w);
  float s = 0.0f;
  for (int64_t e0 = 0; e0 < k; e0 += G, p += kF.bytes()) {
    const BlockQ8A& A = act_block(a, e0);
    const int8_t* qa = A.qs + e0 % kQK8_A;
    uint16_t dh;
    std::memcpy(&dh, p, 2);
    const int z = Z ? p[2] : 1 << (B - 1);
    int isum = 0;
    for (int e = 0; e < G; ++e) isum += gptq_get_q(p + kF.header(), B, G, e) * qa[e];
    isum -= z * act_sum(A, e0, G);
    s += fp16_to_f32(dh) * A.d * static_cast<float>(isum);
  }
  return s;
}

// One 64-element NF4 sub-block against activations: Σ kNF4Int[code]·a, in
// units of kNF4IntUnit·absmax·d_A, exact in int32 (64·32767·127 < 2^31).
inline int32_t nf4_isum(const uint8_t* qs, const int8_t* qa) {
  int32_t isum = 0;
  for (int j = 0; j < 32; ++j) isum += kNF4Int[qs[j] & 0x0f] * qa[j] + kNF4Int[qs[j] >> 4] * qa[j + 32];
  return isum;
}

float dot_nf4(int64_t k, const void* w, const void* a) {
  const BlockNF4* x = static_cast<const BlockNF4*>(w);
  float s = 0.0f;
  for (int64_t e0 = 0; e0 < k; e0 += kQKNF4, ++x) {
    const BlockQ8A& A = act_block(a, e0);
    s += fp16_to_f32(x->d) * kNF4IntUnit * A.d * static_cast<float>(nf4_isum(x->qs, A.qs + e0 % kQK8_A));
  }
  return s;
}

float dot_nf4_dq(int64_t k, const void* w, const void* a) {
  const BlockNF4DQ* x = static_cast<const BlockNF4DQ*>(w);
  float s = 0.0f;
  for (int64_t e0 = 0; e0 < k; e0 += kQKNF4DQ, ++x) {
    const BlockQ8A& A = act_block(a, e0);
    const float d = fp16_to_f32(x->d) * kNF4IntUnit * A.d;
    for (int sb = 0; sb < 4; ++sb)
      s += d * static_cast<float>(int64_t{x->sc[sb]} * nf4_isum(x->qs + 32 * sb, A.qs + 64 * sb));
  }
  return s;
}

float dot_q4_1(int64_t k, const void* w, const void* a) {
  const BlockQ4_1* x = static_cast<const BlockQ4_1*>(w);
  float s = 0.0f;
  for (int64_t e0 = 0; e0 < k; e0 += kQK4_1, ++x) {
    const BlockQ8A& A = act_block(a, e0);
    const int8_t* qa = A.qs + e0 % kQK8_A;
    int isum = 0;
    for (int j = 0; j < 16; ++j) isum += (x->qs[j] & 0x0f) * qa[j] + (x->qs[j] >> 4) * qa[j + 16];
    s += fp16_to_f32(x->d) * A.d * static_cast<float>(isum) +
         fp16_to_f32(x->m) * A.d * static_cast<float>(act_sum(A, e0, 32));
  }
  return s;
}

float dot_q8_a(int64_t k, const void* w, const void* a) {
  const BlockQ8A* x = static_cast<const BlockQ8A*>(w);
  const BlockQ8A* y = static_cast<const BlockQ8A*>(a);
  float s = 0.0f;
  for (int64_t b = 0; b < (k + kQK8_A - 1) / kQK8_A; ++b) {
    int isum = 0;
    for (int j = 0; j < kQK8_A; ++j) isum += x[b].qs[j] * y[b].qs[j];
    s += x[b].d * y[b].d * static_cast<float>(isum);
  }
  return s;
}

}  // namespace

void register_scalar_quant_kernels(KernelTable& t) {
  t[Type::Q4_1].vec_dot = dot_q4_1;
  t[Type::Q8_A].vec_dot = dot_q8_a;
  t[Type::Q8_A].quantize_act = q8_a_from_float;
  t[Type::NF4].vec_dot = dot_nf4;
  t[Type::NF4_DQ].vec_dot = dot_nf4_dq;
#define QGML_GPTQ_SLOT(T, B, Z)                          \
  t[Type::T##_G32].vec_dot = dot_gptq<B, 32, Z>;         \
  t[Type::T##_G64].vec_dot = dot_gptq<B, 64, Z>;         \
  t[Type::T##_G128].vec_dot = dot_gptq<B, 128, Z>;
  QGML_GPTQ_SLOT(GPTQ4, 4, true)
  QGML_GPTQ_SLOT(GPTQ3, 3, true)
  QGML_GPTQ_SLOT(GPTQ2, 2, true)
  QGML_GPTQ_SLOT(GPTQ4S, 4, false)
  QGML_GPTQ_SLOT(GPTQ3S, 3, false)
  QGML_GPTQ_SLOT(GPTQ2S, 2, false)
#undef QGML_GPTQ_SLOT
}

}  // namespace qgml
