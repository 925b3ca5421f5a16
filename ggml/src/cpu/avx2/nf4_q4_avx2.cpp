// AVX2 kernels for NF4 / NF4_DQ (the code-book kernel of nf4_avx2.h) and
// Q4_1 against Q8_A activations, for llama.cpp's Q4_0 (two blocks per
// register, q4_0_avx2.h) and Q8_0 against Q8_0 activations, and the Q8_0
// activation quantizer.
#include "qgml/fp16.h"
#include "../../quants.h"
#include "../gemm_tiles.h"
#include "../kernels.h"
#include "avx2_util.h"
#include "block32_avx2.h"
#include "nf4_avx2.h"
#include "q4_0_avx2.h"

namespace qgml {
namespace {

using namespace avx2;

// llama.cpp's blocks, decoded for the shared loops of block32_avx2.h.
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

// Bit-exact with q8_0_from_float (llama.cpp's reference quantizer): d =
// amax/127 stored as f16, q = roundf(x · (1/d)), ties away from zero. The
// rounding is trunc(y) plus sign(y) where |y − trunc(y)| ≥ 0.5 (exact: the
// difference is y's fraction bits), since the SIMD round-to-nearest breaks
// ties to even. Prompt processing of a Q4_0 model spent ~10 % of its time in
// the scalar version (libm fmaxf / roundf calls).
void quantize_q8_0(const float* x, void* dst, int64_t k) {
  BlockQ8_0* out = static_cast<BlockQ8_0*>(dst);
  alignas(32) float tmp[kQK8_0];
  const __m256 sign = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
  for (int64_t i = 0; i < k; i += kQK8_0, ++out) {
    const float* src = block_floats(x, i, k, tmp, kQK8_0);
    const float d = absmax(src, kQK8_0) / 127.0f;
    const __m256 id = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
    out->d = f32_to_fp16(d);
    __m256i q[4];
    for (int j = 0; j < 4; ++j) {
      const __m256 y = _mm256_mul_ps(_mm256_loadu_ps(src + 8 * j), id);
      const __m256 t = _mm256_round_ps(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      const __m256 up = _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(y, t)), half, _CMP_GE_OQ);
      const __m256 step = _mm256_and_ps(up, _mm256_or_ps(_mm256_and_ps(y, sign), one));  // ±1 where rounding away
      q[j] = _mm256_cvttps_epi32(_mm256_add_ps(t, step));
    }
    store_i8(out->qs, q[0], q[1], q[2], q[3]);
  }
}

}  // namespace

void register_avx2_nf4_q4_kernels(KernelTable& t) {
  t[Type::NF4].vec_dot = Nf4Kernel::vec_dot;
  t[Type::NF4].gemm = Nf4Kernel::gemm;
  t[Type::NF4_DQ].vec_dot = Nf4DqKernel::vec_dot;
  t[Type::NF4_DQ].gemm = Nf4DqKernel::gemm;
  t[Type::Q4_1].vec_dot = vec_dot_tile<MinKernel<Q4_1Decode>>;
  t[Type::Q4_1].gemm = gemm_tiles<MinKernel<Q4_1Decode>>;
  t[Type::Q4_0].vec_dot = Q4_0PairKernel::vec_dot;
  t[Type::Q4_0].gemm = Q4_0PairKernel::gemm;
  t[Type::Q8_0].quantize_act = quantize_q8_0;
  t[Type::Q8_0].vec_dot = vec_dot_tile<Q8_0ActKernel<Q8_0Decode>>;
  t[Type::Q8_0].gemm = gemm_tiles<Q8_0ActKernel<Q8_0Decode>>;
}

void register_avx2_quant_kernels(KernelTable& t) {
  register_avx2_gptq_kernels(t);
  register_avx2_nf4_q4_kernels(t);
}

}  // namespace qgml
