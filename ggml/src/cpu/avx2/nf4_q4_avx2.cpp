// AVX2 kernels for NF4 / NF4_DQ and Q4_1 (against Q8_A activations) and for
// llama.cpp's Q4_0 / Q8_0 (against Q8_0 activations).
//
// NF4 multiplies with the 21-bit integer codes kNF4Int (quants.h) as three
// base-128 digits, each one pshufb of a 16-entry table: Σ w·a = 2^14·Σ hi·a
// + 2^7·Σ mid·a + Σ lo·a, each sum by maddubs. maddubs needs an unsigned
// operand, so the code's sign (that of its hi digit) moves onto the
// activation: |digit| · sign(a, hi). Each maddubs is widened at once (madd
// by the digit's weight 2^14 / 2^7 / 1), since 2·127·127 leaves no int16
// headroom. One int32 lane then sums 8 elements: Σ|w·a| ≤ 8·127·2^14·127 <
// 2^31, and every partial sum is part of it (the digits share the sign).
// Three digits, not two: a 14-bit table (e.g. round(2^14·code) with
// madd_epi16) leaves small codes up to 1.6e-4 off, which fails mul_mat's
// float-accumulation tolerance on short rows; a float codebook (permutevar
// lookups + FMA) needs about half again as many instructions as this.
// The NF4 digit arithmetic and tile loop live in nf4_avx2.h, shared with
// bitsandbytes' nf4_f32 (bnb4_avx2.cpp).
#include "../../quants.h"
#include "../gemm_tiles.h"
#include "../kernels.h"
#include "avx2_util.h"
#include "block32_avx2.h"
#include "nf4_avx2.h"

namespace qgml {
namespace {

using namespace avx2;

struct Nf4DqKernel {
  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    const Nf4Tables tbl;
    __m256 acc[R][NA];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) acc[r][j] = _mm256_setzero_ps();
    for (int64_t e0 = 0; e0 < k; e0 += kQKNF4DQ) {
      const int8_t* qa[NA];
      float da[NA];
      for (int j = 0; j < NA; ++j) {
        const BlockQ8A* A = reinterpret_cast<const BlockQ8A*>(act[j]) + e0 / kQK8_A;
        qa[j] = A->qs;
        da[j] = A->d * kNF4IntUnit;
      }
      for (int r = 0; r < R; ++r) {
        const BlockNF4DQ* x = reinterpret_cast<const BlockNF4DQ*>(w + r * ws) + e0 / kQKNF4DQ;
        _mm_prefetch(reinterpret_cast<const char*>(x) + kPrefetchBytes, _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(x) + kPrefetchBytes + 64, _MM_HINT_T0);
        const float d = _cvtsh_ss(x->d);
        for (int s = 0; s < 4; ++s) {
          __m256i i32[NA];
          nf4_sub<NA>(x->qs + 32 * s, qa, 64 * s, tbl, i32);
          const float ds = d * static_cast<float>(x->sc[s]);
          for (int j = 0; j < NA; ++j)
            acc[r][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32[j]), _mm256_set1_ps(ds * da[j]), acc[r][j]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) out[j * ldo + r] = hsum(acc[r][j]);
  }
};

// llama.cpp's blocks, decoded for the shared loops of block32_avx2.h.
struct Q4_0Decode {
  using Block = BlockQ4_0;
  static constexpr int kPrefetchEvery = 4;
  struct Tables {};
  static __m256i weights(const Block* x, const Tables&) { return _mm256_sub_epi8(nibbles32(x->qs), _mm256_set1_epi8(8)); }
};
struct Q8_0Decode {
  using Block = BlockQ8_0;
  static constexpr int kPrefetchEvery = 2;
  struct Tables {};
  static __m256i weights(const Block* x, const Tables&) { return load(x->qs); }
};
struct Q4_1Decode {
  using Block = BlockQ4_1;
  static __m256i weights(const Block* x) { return nibbles32(x->qs); }
};

}  // namespace

void register_avx2_nf4_q4_kernels(KernelTable& t) {
  t[Type::NF4].vec_dot = vec_dot_tile<Code64Kernel<BlockNF4, Nf4Code>>;
  t[Type::NF4].gemm = gemm_tiles<Code64Kernel<BlockNF4, Nf4Code>>;
  t[Type::NF4_DQ].vec_dot = vec_dot_tile<Nf4DqKernel>;
  t[Type::NF4_DQ].gemm = gemm_tiles<Nf4DqKernel>;
  t[Type::Q4_1].vec_dot = vec_dot_tile<MinKernel<Q4_1Decode>>;
  t[Type::Q4_1].gemm = gemm_tiles<MinKernel<Q4_1Decode>>;
  t[Type::Q4_0].vec_dot = vec_dot_tile<Q8_0ActKernel<Q4_0Decode>>;
  t[Type::Q4_0].gemm = gemm_tiles<Q8_0ActKernel<Q4_0Decode>>;
  t[Type::Q8_0].vec_dot = vec_dot_tile<Q8_0ActKernel<Q8_0Decode>>;
  t[Type::Q8_0].gemm = gemm_tiles<Q8_0ActKernel<Q8_0Decode>>;
}

void register_avx2_quant_kernels(KernelTable& t) {
  register_avx2_gptq_kernels(t);
  register_avx2_nf4_q4_kernels(t);
}

}  // namespace qgml
