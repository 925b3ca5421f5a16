// NEON kernels for bitsandbytes' nf4_f32 / fp4_f32 against Q8_A: the
// code-book kernel of nf4_neon.h with an f32 absmax per block, NF4's int16
// codes or FP4's exact ones (±k/192, |k| ≤ 192).
#include "../../quants.h"
#include "../../quants_bnb.h"
#include "../gemm_tiles.h"
#include "../kernels.h"
#include "nf4_neon.h"

namespace qgml {

void register_neon_bnb4_kernels(KernelTable& t) {
  using neon::CodebookKernel;
  t[Type::NF4_F32].vec_dot = vec_dot_tile<CodebookKernel<BlockBnb4>>;
  t[Type::NF4_F32].gemm = gemm_tiles<CodebookKernel<BlockBnb4>>;
  t[Type::FP4_F32].vec_dot = vec_dot_tile<CodebookKernel<BlockBnb4, Fp4Book>>;
  t[Type::FP4_F32].gemm = gemm_tiles<CodebookKernel<BlockBnb4, Fp4Book>>;
}

}  // namespace qgml
