// AVX2 kernels for GPTQ weights (int4/int3/int2, any group size) against Q8_A
// activations, and the Q8_A activation quantizer.
//
// Per group and activation row: quants are unpacked to bytes (one shift and
// mask per 32, see plane_raw), multiplied with the int8 activations by
// maddubs (u8 × s8, no saturation: 2·15·127 < 2^15) and summed in int16
// across the group (4 chunks · 3810 < 2^15), then widened once. The zero
// point enters as −z·Σa in lane 0, so one convert and one FMA per group
// carry everything into the row's float accumulator.
#include "../../quants.h"
#include "../gemm_tiles.h"
#include "../kernels.h"
#include "avx2_util.h"

namespace qgml {
namespace {

using namespace avx2;

template <int B, int G, int C, int NA>
inline void accumulate_chunks(const uint8_t* qs, const int8_t* const* qa, __m256i* is) {
  if constexpr (C < G / 32) {
    const __m256i q = gptq_chunk<B, G, C>(qs);
    for (int j = 0; j < NA; ++j) is[j] = _mm256_add_epi16(is[j], _mm256_maddubs_epi16(q, load(qa[j] + 32 * C)));
    accumulate_chunks<B, G, C + 1, NA>(qs, qa, is);
  }
}

template <int B, int G, bool Z>
struct GptqKernel {
  static constexpr const GptqFormat& kF = kGptqFormat<B, G, Z>;

  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    const int64_t nb = (k + G - 1) / G;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[R][NA];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) acc[r][j] = _mm256_setzero_ps();
    for (int64_t g = 0; g < nb; ++g) {
      const int64_t e0 = g * G;
      const int off = static_cast<int>(e0 % kQK8_A);
      const int8_t* qa[NA];
      float da[NA];
      int asum[NA];
      for (int j = 0; j < NA; ++j) {
        const BlockQ8A* A = reinterpret_cast<const BlockQ8A*>(act[j]) + e0 / kQK8_A;
        qa[j] = A->qs + off;
        da[j] = A->d;
        int s = 0;
        for (int b = 0; b < G / 32; ++b) s += A->bsums[off / 32 + b];
        asum[j] = s;
      }
      for (int r = 0; r < R; ++r) {
        const uint8_t* p = w + r * ws + g * kF.bytes();
        _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T0);
        const float d = f16(p);
        const int z = Z ? p[2] : 1 << (B - 1);
        __m256i is[NA];
        for (int j = 0; j < NA; ++j) is[j] = _mm256_setzero_si256();
        accumulate_chunks<B, G, 0, NA>(p + kF.header(), qa, is);
        for (int j = 0; j < NA; ++j) {
          const __m256i i32 = _mm256_sub_epi32(_mm256_madd_epi16(is[j], ones), lane0(z * asum[j]));
          acc[r][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32), _mm256_set1_ps(d * da[j]), acc[r][j]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) out[j * ldo + r] = hsum(acc[r][j]);
  }
};

// Bit-exact with q8_a_from_float: same amax, d, id and round-to-nearest-even.
void quantize_q8_a(const float* x, void* dst, int64_t k) {
  BlockQ8A* out = static_cast<BlockQ8A*>(dst);
  alignas(32) float tmp[kQK8_A];
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t i = 0; i < k; i += kQK8_A, ++out) {
    const float* src = x + i;
    if (k - i < kQK8_A) {
      std::memset(tmp, 0, sizeof tmp);
      std::memcpy(tmp, src, static_cast<size_t>(k - i) * sizeof(float));
      src = tmp;
    }
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < kQK8_A; j += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(src + j)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float d = _mm_cvtss_f32(m4) / 127.0f;
    const __m256 id = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
    out->d = d;
    for (int s = 0; s < kQK8_A / 32; ++s) {
      const float* p = src + 32 * s;
      const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(p), id));
      const __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(p + 8), id));
      const __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(p + 16), id));
      const __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(p + 24), id));
      out->bsums[s] = static_cast<int16_t>(hsum_i32(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3))));
      // packs work per 128-bit lane; the permute restores element order.
      const __m256i b8 = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out->qs + 32 * s), _mm256_permutevar8x32_epi32(b8, order));
    }
  }
}

}  // namespace

void register_avx2_gptq_kernels(KernelTable& t) {
  t[Type::Q8_A].quantize_act = quantize_q8_a;
#define QGML_GPTQ_SLOT(T, G, B, Z)                                     \
  t[Type::T##_G##G].vec_dot = vec_dot_tile<GptqKernel<B, G, Z>>;       \
  t[Type::T##_G##G].gemm = gemm_tiles<GptqKernel<B, G, Z>>;
#define QGML_GPTQ_SLOTS(T, B, Z) QGML_GPTQ_SLOT(T, 32, B, Z) QGML_GPTQ_SLOT(T, 64, B, Z) QGML_GPTQ_SLOT(T, 128, B, Z)
  QGML_GPTQ_SLOTS(GPTQ4, 4, true)
  QGML_GPTQ_SLOTS(GPTQ3, 3, true)
  QGML_GPTQ_SLOTS(GPTQ2, 2, true)
  QGML_GPTQ_SLOTS(GPTQ4S, 4, false)
  QGML_GPTQ_SLOTS(GPTQ3S, 3, false)
  QGML_GPTQ_SLOTS(GPTQ2S, 2, false)
#undef QGML_GPTQ_SLOTS
#undef QGML_GPTQ_SLOT
}

}  // namespace qgml
