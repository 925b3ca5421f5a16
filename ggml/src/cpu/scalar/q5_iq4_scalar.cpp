// Scalar reference dot kernels of llama.cpp's Q5_0 and IQ4_NL (against Q8_0
// activations, as llama.cpp pairs them) and Q5_1 (against Q8_A, as qgml's
// Q4_1: its per-32 sums carry the min term). Per block an exact integer sum,
// then one float multiply-add; SIMD levels differ only in float summation
// order.
#include "../../quants.h"
#include "../../quants_q5_iq4.h"
#include "../kernels.h"

namespace qgml {
namespace {

float dot_q5_0(int64_t k, const void* w, const void* a) {
  const BlockQ5_0* x = static_cast<const BlockQ5_0*>(w);
  const BlockQ8_0* y = static_cast<const BlockQ8_0*>(a);
  float s = 0.0f;
  int q[kQK5];
  for (int64_t b = 0; b < (k + kQK5 - 1) / kQK5; ++b) {
    q5_unpack(x[b].qs, x[b].qh, q);
    int32_t acc = 0;
    for (int j = 0; j < kQK5; ++j) acc += (q[j] - 16) * y[b].qs[j];
    s += fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d) * static_cast<float>(acc);
  }
  return s;
}

float dot_q5_1(int64_t k, const void* w, const void* a) {
  const BlockQ5_1* x = static_cast<const BlockQ5_1*>(w);
  const BlockQ8A* act = static_cast<const BlockQ8A*>(a);
  float s = 0.0f;
  int q[kQK5];
  for (int64_t e0 = 0; e0 < k; e0 += kQK5, ++x) {
    const BlockQ8A& A = act[e0 / kQK8_A];
    const int8_t* qa = A.qs + e0 % kQK8_A;
    q5_unpack(x->qs, x->qh, q);
    int32_t acc = 0;
    for (int j = 0; j < kQK5; ++j) acc += q[j] * qa[j];
    s += fp16_to_f32(x->d) * A.d * static_cast<float>(acc) +
         fp16_to_f32(x->m) * A.d * static_cast<float>(A.bsums[(e0 % kQK8_A) / 32]);
  }
  return s;
}

float dot_iq4_nl(int64_t k, const void* w, const void* a) {
  const BlockIQ4NL* x = static_cast<const BlockIQ4NL*>(w);
  const BlockQ8_0* y = static_cast<const BlockQ8_0*>(a);
  float s = 0.0f;
  for (int64_t b = 0; b < (k + kQKIQ4NL - 1) / kQKIQ4NL; ++b) {
    int32_t acc = 0;
    for (int j = 0; j < 16; ++j)
      acc += kIQ4NL[x[b].qs[j] & 0x0f] * y[b].qs[j] + kIQ4NL[x[b].qs[j] >> 4] * y[b].qs[j + 16];
    s += fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d) * static_cast<float>(acc);
  }
  return s;
}

}  // namespace

void register_scalar_q5_iq4_kernels(KernelTable& t) {
  t[Type::Q5_0].vec_dot = dot_q5_0;
  t[Type::Q5_1].vec_dot = dot_q5_1;
  t[Type::IQ4_NL].vec_dot = dot_iq4_nl;
}

}  // namespace qgml
