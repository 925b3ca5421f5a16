// AVX2 kernels for bitsandbytes' nf4_f32 / fp4_f32 against Q8_A activations:
// the code-book kernel of nf4_avx2.h with an f32 absmax per block, NF4's
// int16 codes or FP4's exact ones (±k/192, |k| ≤ 192).
#include "../../quants.h"
#include "../../quants_bnb.h"
#include "../kernels.h"
#include "nf4_avx2.h"

namespace qgml {

void register_avx2_bnb4_kernels(KernelTable& t) {
  using avx2::Fp4F32Kernel;
  using avx2::Nf4F32Kernel;
  t[Type::NF4_F32].vec_dot = Nf4F32Kernel::vec_dot;
  t[Type::NF4_F32].gemm = Nf4F32Kernel::gemm;
  t[Type::FP4_F32].vec_dot = Fp4F32Kernel::vec_dot;
  t[Type::FP4_F32].gemm = Fp4F32Kernel::gemm;
}

}  // namespace qgml
