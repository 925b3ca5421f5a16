// AVX2 kernels for NF4 / NF4_DQ (the code-book kernel of nf4_avx2.h) and
// Q4_1 against Q8_A activations, and for llama.cpp's Q4_0 (two blocks per
// register, q4_0_avx2.h) and Q8_0 against Q8_0 activations.
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
  t[Type::Q8_0].vec_dot = vec_dot_tile<Q8_0ActKernel<Q8_0Decode>>;
  t[Type::Q8_0].gemm = gemm_tiles<Q8_0ActKernel<Q8_0Decode>>;
}

void register_avx2_quant_kernels(KernelTable& t) {
  register_avx2_gptq_kernels(t);
  register_avx2_nf4_q4_kernels(t);
}

}  // namespace qgml
