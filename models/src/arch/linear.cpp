// linear(): the one place where architectures multiply a weight with
// activations, so that act-order permutations and calibration hooks apply to
// every family without touching its forward pass; and the public entry to
// Architecture::build_block (qgml/block.h).
#include <string>

#include "arch.h"
#include "qgml/error.h"
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

namespace qgml {

bool supports_blocks(const Model& m) { return m.arch().build_block != nullptr; }

Tensor* build_input(const Model& m, Context& ctx, Tensor* tokens, Tensor* positions) {
  BatchInputs in;
  in.tokens = tokens;
  in.positions = positions;
  in.n = tokens->ne[0];
  if (m.arch().build_input != nullptr) return m.arch().build_input(m, ctx, in);
  return get_rows(ctx, m.weight("token_embd.weight"), tokens);
}

Tensor* build_block(const Model& m, Context& ctx, Graph& graph, KvCache& cache, Tensor* positions, int layer, Tensor* x,
                    LinearHook* hook) {
  if (!supports_blocks(m)) fail("architecture %s cannot run single blocks", m.hparams().arch.c_str());
  BatchInputs in;
  in.positions = positions;
  in.n = x->ne[1];
  in.hook = hook;
  return m.arch().build_block(m, ctx, graph, cache, in, layer, x);
}

}  // namespace qgml
