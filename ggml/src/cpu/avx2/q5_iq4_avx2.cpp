// AVX2 kernels for llama.cpp's Q5_0 and IQ4_NL (against Q8_0 activations)
// and Q5_1 (against Q8_A). Same integer sums as the scalar reference
// (q5_iq4_scalar.cpp); only the float summation order differs.
//
// Signed weights (Q5_0's q − 16 ∈ [−16, 15], IQ4_NL's table values in
// [−127, 113]) use maddubs through |w| · sign(a, w): pairs stay within
// 2·127·127 < 2^15. Q5_1's quants 0..31 are unsigned already.
#include "../../quants.h"
#include "../../quants_q5_iq4.h"
#include "../gemm_tiles.h"
#include "../kernels.h"
#include "avx2_util.h"

namespace qgml {
namespace {

using namespace avx2;

// Nibbles (element j low, j+16 high, as Q4_0) as 32 ordered bytes.
inline __m256i nibbles32(const uint8_t* qs) {
  return _mm256_and_si256(_mm256_srlv_epi64(bcast16(qs), _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0f));
}

// Byte e = 0x10 where bit e of the 32-bit word qh is set, else 0.
inline __m256i high_bits(const uint8_t* qh) {
  const __m256i bytes = _mm256_shuffle_epi8(
      bcast4(qh), _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3,
                                   3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit), _mm256_set1_epi8(0x10));
}

// Weight decoders for Q8_0-activation kernels: 32 signed int8 weights and the f16 scale.
struct Q5_0Decode {
  using Block = BlockQ5_0;
  struct Tables {};
  static __m256i weights(const Block* x, const Tables&) {
    // q − 16 = nibble − 16 where bit 4 is clear, nibble where it is set.
    return _mm256_sub_epi8(nibbles32(x->qs), _mm256_xor_si256(high_bits(x->qh), _mm256_set1_epi8(0x10)));
  }
};

struct IQ4NLDecode {
  using Block = BlockIQ4NL;
  struct Tables {
    __m256i values = bcast16(reinterpret_cast<const uint8_t*>(kIQ4NL));
  };
  static __m256i weights(const Block* x, const Tables& t) { return _mm256_shuffle_epi8(t.values, nibbles32(x->qs)); }
};

template <class D>
struct Q8_0ActKernel {
  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    const typename D::Tables tbl;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[R][NA];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) acc[r][j] = _mm256_setzero_ps();
    const int64_t nb = (k + 31) / 32;
    for (int64_t b = 0; b < nb; ++b) {
      const BlockQ8_0* y[NA];
      for (int j = 0; j < NA; ++j) y[j] = reinterpret_cast<const BlockQ8_0*>(act[j]) + b;
      for (int r = 0; r < R; ++r) {
        const typename D::Block* x = reinterpret_cast<const typename D::Block*>(w + r * ws) + b;
        if (b % 4 == 0) _mm_prefetch(reinterpret_cast<const char*>(x) + kPrefetchBytes, _MM_HINT_T0);
        const __m256i q = D::weights(x, tbl);
        const float d = _cvtsh_ss(x->d);
        const __m256i aq = _mm256_sign_epi8(q, q);
        for (int j = 0; j < NA; ++j) {
          const __m256i i32 = _mm256_madd_epi16(_mm256_maddubs_epi16(aq, _mm256_sign_epi8(load(y[j]->qs), q)), ones);
          acc[r][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32), _mm256_set1_ps(d * _cvtsh_ss(y[j]->d)), acc[r][j]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) out[j * ldo + r] = hsum(acc[r][j]);
  }
};

// As qgml's Q4_1 kernel: the min term m·Σa is summed in a scalar per pair.
struct Q5_1Kernel {
  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[R][NA];
    float ms[R][NA];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) {
        acc[r][j] = _mm256_setzero_ps();
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
        if ((e0 / kQK5) % 3 == 0) _mm_prefetch(reinterpret_cast<const char*>(x) + kPrefetchBytes, _MM_HINT_T0);
        const float d = _cvtsh_ss(x->d), m = _cvtsh_ss(x->m);
        const __m256i q = _mm256_or_si256(nibbles32(x->qs), high_bits(x->qh));
        for (int j = 0; j < NA; ++j) {
          const __m256i i32 = _mm256_madd_epi16(_mm256_maddubs_epi16(q, load(qa[j])), ones);
          acc[r][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32), _mm256_set1_ps(d * da[j]), acc[r][j]);
          ms[r][j] += m * da[j] * static_cast<float>(asum[j]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) out[j * ldo + r] = hsum(acc[r][j]) + ms[r][j];
  }
};

}  // namespace

void register_avx2_q5_iq4_kernels(KernelTable& t) {
  t[Type::Q5_0].vec_dot = vec_dot_tile<Q8_0ActKernel<Q5_0Decode>>;
  t[Type::Q5_0].gemm = gemm_tiles<Q8_0ActKernel<Q5_0Decode>>;
  t[Type::IQ4_NL].vec_dot = vec_dot_tile<Q8_0ActKernel<IQ4NLDecode>>;
  t[Type::IQ4_NL].gemm = gemm_tiles<Q8_0ActKernel<IQ4NLDecode>>;
  t[Type::Q5_1].vec_dot = vec_dot_tile<Q5_1Kernel>;
  t[Type::Q5_1].gemm = gemm_tiles<Q5_1Kernel>;
}

}  // namespace qgml
