// Scalar reference dot kernels of llama.cpp's K-quants against Q8_K
// activations. They fix the integer arithmetic every SIMD level reproduces:
// per super-block, an exact integer Σ scale_j · Σ_{sub-block j} q·a, with the
// types' constant offsets (Q3_K's −4, Q6_K's −32) and mins (Q2/Q4/Q5_K)
// taken out through the activation sums (bsums), then one or two float
// multiply-adds with the super-block and activation scales. SIMD levels
// differ from these only in the order the per-block floats are summed.
#include "../../quants.h"
#include "../../quants_k.h"
#include "../kernels.h"

namespace qgml {
namespace {

// Rows ending inside a super-block are zero-padded on both sides (row_size
// and the activation quantizer pad), so the padding adds nothing.
inline int64_t blocks(int64_t k) { return (k + kQK_K - 1) / kQK_K; }
inline int bsum16(const BlockQ8K& a, int s) { return a.bsums[s]; }
inline int bsum32(const BlockQ8K& a, int s) { return a.bsums[2 * s] + a.bsums[2 * s + 1]; }

float dot_q2_k(int64_t k, const void* w, const void* act) {
  const BlockQ2K* x = static_cast<const BlockQ2K*>(w);
  const BlockQ8K* a = static_cast<const BlockQ8K*>(act);
  float s = 0.0f;
  for (int64_t b = 0; b < blocks(k); ++b) {
    int isum = 0, msum = 0;
    for (int sb = 0; sb < 16; ++sb) {
      int p = 0;
      for (int e = 16 * sb; e < 16 * sb + 16; ++e) p += q2k_quant(x[b], e) * a[b].qs[e];
      isum += (x[b].scales[sb] & 15) * p;
      msum += (x[b].scales[sb] >> 4) * bsum16(a[b], sb);
    }
    s += fp16_to_f32(x[b].d) * a[b].d * static_cast<float>(isum) -
         fp16_to_f32(x[b].dmin) * a[b].d * static_cast<float>(msum);
  }
  return s;
}

float dot_q3_k(int64_t k, const void* w, const void* act) {
  const BlockQ3K* x = static_cast<const BlockQ3K*>(w);
  const BlockQ8K* a = static_cast<const BlockQ8K*>(act);
  float s = 0.0f;
  for (int64_t b = 0; b < blocks(k); ++b) {
    int isum = 0;
    for (int sb = 0; sb < 16; ++sb) {
      int p = 0;
      for (int e = 16 * sb; e < 16 * sb + 16; ++e) p += q3k_quant(x[b], e) * a[b].qs[e];
      isum += (q3k_scale(x[b].scales, sb) - 32) * (p - 4 * bsum16(a[b], sb));
    }
    s += fp16_to_f32(x[b].d) * a[b].d * static_cast<float>(isum);
  }
  return s;
}

template <class B, int (*Quant)(const B&, int)>
float dot_q45_k(int64_t k, const void* w, const void* act) {
  const B* x = static_cast<const B*>(w);
  const BlockQ8K* a = static_cast<const BlockQ8K*>(act);
  float s = 0.0f;
  for (int64_t b = 0; b < blocks(k); ++b) {
    int isum = 0, msum = 0;
    for (int sb = 0; sb < 8; ++sb) {
      int sc, m, p = 0;
      k4_scale_min(x[b].scales, sb, &sc, &m);
      for (int e = 32 * sb; e < 32 * sb + 32; ++e) p += Quant(x[b], e) * a[b].qs[e];
      isum += sc * p;
      msum += m * bsum32(a[b], sb);
    }
    s += fp16_to_f32(x[b].d) * a[b].d * static_cast<float>(isum) -
         fp16_to_f32(x[b].dmin) * a[b].d * static_cast<float>(msum);
  }
  return s;
}

inline int q4k_quant_b(const BlockQ4K& b, int e) { return q4k_quant(b.qs, e); }

float dot_q6_k(int64_t k, const void* w, const void* act) {
  const BlockQ6K* x = static_cast<const BlockQ6K*>(w);
  const BlockQ8K* a = static_cast<const BlockQ8K*>(act);
  float s = 0.0f;
  for (int64_t b = 0; b < blocks(k); ++b) {
    int isum = 0;
    for (int sb = 0; sb < 16; ++sb) {
      int p = 0;
      for (int e = 16 * sb; e < 16 * sb + 16; ++e) p += q6k_quant(x[b], e) * a[b].qs[e];
      isum += x[b].scales[sb] * (p - 32 * bsum16(a[b], sb));
    }
    s += fp16_to_f32(x[b].d) * a[b].d * static_cast<float>(isum);
  }
  return s;
}

float dot_q8_k(int64_t k, const void* w, const void* act) {
  const BlockQ8K* x = static_cast<const BlockQ8K*>(w);
  const BlockQ8K* a = static_cast<const BlockQ8K*>(act);
  float s = 0.0f;
  for (int64_t b = 0; b < blocks(k); ++b) {
    int isum = 0;
    for (int e = 0; e < kQK_K; ++e) isum += x[b].qs[e] * a[b].qs[e];
    s += x[b].d * a[b].d * static_cast<float>(isum);
  }
  return s;
}

}  // namespace

void register_scalar_kquant_kernels(KernelTable& t) {
  t[Type::Q2_K].vec_dot = dot_q2_k;
  t[Type::Q3_K].vec_dot = dot_q3_k;
  t[Type::Q4_K].vec_dot = dot_q45_k<BlockQ4K, q4k_quant_b>;
  t[Type::Q5_K].vec_dot = dot_q45_k<BlockQ5K, q5k_quant>;
  t[Type::Q6_K].vec_dot = dot_q6_k;
  t[Type::Q8_K].vec_dot = dot_q8_k;
  t[Type::Q8_K].quantize_act = q8_k_from_float;
}

}  // namespace qgml
