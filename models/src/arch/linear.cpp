// linear(): the one place where architectures multiply a weight with
// activations, so that act-order permutations and calibration hooks apply to
// every family without touching its forward pass.
#include <string>

#include "arch.h"
#include "qgml/quant.h"

namespace qgml {

Tensor* linear(const Model& m, Context& ctx, Graph& graph, const BatchInputs& in, Tensor* weight, Tensor* x) {
  if (in.hook != nullptr) {
    if (Tensor* r = in.hook->linear(ctx, graph, weight, x)) return r;
  }
  // A map lookup per linear per graph build: negligible next to the product,
  // and it keeps the permutation binding out of every architecture's state.
  if (Tensor* perm = m.weight_or_null(std::string(weight->name) + kPermSuffix)) return mul_mat_perm(ctx, weight, x, perm);
  return mul_mat(ctx, weight, x);
}

}  // namespace qgml
