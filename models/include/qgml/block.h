// qgml/block.h — running a model one decoder block at a time, with a hook on
// every linear layer. Quantizers use it to calibrate: capture the inputs of
// each linear, substitute already-quantized weights, and feed the next block
// the outputs of the quantized one.
#pragma once
#include <cstdint>

#include "qgml/graph.h"
#include "qgml/model.h"
#include "qgml/session.h"

namespace qgml {

// Sees every product of a weight with activations while a graph is built, in
// forward order (architectures route them all through one helper).
struct LinearHook {
  virtual ~LinearHook() = default;
  // weight: the model's tensor (its name is the GGUF name); x: [K, n] F32.
  // Returns the tensor to use as weight·x, or nullptr for the default product.
  virtual Tensor* linear(Context& ctx, Graph& graph, Tensor* weight, Tensor* x) = 0;
};

// Whether the model's architecture can run single blocks.
bool supports_blocks(const Model& m);

// The hidden states entering block 0 for tokens [n] (I32) at positions [n]
// (I32, filled): the token embeddings, plus whatever the family adds before
// its first block (GPT-2's and OPT's learned positions).
Tensor* build_input(const Model& m, Context& ctx, Tensor* tokens, Tensor* positions);

// Adds block `layer` applied to hidden states x [n_embd, n] (F32) at
// positions [n] (I32) to the graph and returns its output [n_embd, n].
// cache.k[layer] / cache.v[layer] must hold at least n positions; the block
// writes its keys and values at cache.n_past. hook may be null.
Tensor* build_block(const Model& m, Context& ctx, Graph& graph, KvCache& cache, Tensor* positions, int layer, Tensor* x,
                    LinearHook* hook);

}  // namespace qgml
