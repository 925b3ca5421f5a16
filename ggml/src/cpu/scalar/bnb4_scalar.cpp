// Scalar reference dot kernels of nf4_f32 / fp4_f32 against Q8_A
// activations: per 64-block the exact integer Σ codeInt[c]·a, then one float
// multiply-add with absmax, the code unit and the activation scale. NF4 uses
// the same 16-bit code integers as qgml's nf4 (kNF4Int, quants.h); FP4's
// codes are exact integers in units of 1/192 (kFP4Int, quants_bnb.h).
#include <cstring>

#include "../../quants.h"
#include "../../quants_bnb.h"
#include "../kernels.h"

namespace qgml {
namespace {

template <const int16_t* kInt, const float* kUnit>
float dot_bnb4(int64_t k, const void* w, const void* a) {
  const uint8_t* p = static_cast<const uint8_t*>(w);
  const BlockQ8A* act = static_cast<const BlockQ8A*>(a);
  float s = 0.0f;
  for (int64_t e0 = 0; e0 < k; e0 += kQKBnb4, p += sizeof(BlockBnb4)) {
    const BlockQ8A& A = act[e0 / kQK8_A];
    const int8_t* qa = A.qs + e0 % kQK8_A;
    float absmax;
    std::memcpy(&absmax, p, 4);
    const uint8_t* qs = p + 4;
    // Exact in int32: 64 · 32767 · 127 < 2^31.
    int32_t isum = 0;
    for (int j = 0; j < 32; ++j) isum += kInt[qs[j] & 0x0f] * qa[j] + kInt[qs[j] >> 4] * qa[j + 32];
    s += absmax * *kUnit * A.d * static_cast<float>(isum);
  }
  return s;
}

constexpr float kNf4Unit = kNF4IntUnit;
constexpr float kFp4Unit = kFP4IntUnit;

}  // namespace

void register_scalar_bnb4_kernels(KernelTable& t) {
  t[Type::NF4_F32].vec_dot = dot_bnb4<kNF4Int, &kNf4Unit>;
  t[Type::FP4_F32].vec_dot = dot_bnb4<kFP4Int, &kFp4Unit>;
}

}  // namespace qgml
