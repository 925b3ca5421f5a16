// The Llama family's forward pass, shared by the families that are Llama
// with small differences (Qwen2: q/k/v biases and NeoX rope).
#pragma once
#include <vector>

#include "arch.h"

namespace qgml {

struct LlamaLayer {
  Tensor* attn_norm;
  Tensor *wq, *wk, *wv, *wo;
  Tensor *bq, *bk, *bv;  // optional
  Tensor* ffn_norm;
  Tensor *w_gate, *w_up, *w_down;
};

struct LlamaWeights {
  Tensor* tok_embd;
  std::vector<LlamaLayer> layers;
  Tensor* output_norm;
  Tensor* output;        // the embedding when the head is tied
  Tensor* freq_factors;  // llama3 rope scaling, or nullptr
};

// Reads the common hyperparameters with the given rope pairing and binds the weights.
void llama_load(Model& m, RopeMode mode);
Tensor* llama_build(const Model& m, Context& ctx, Graph& graph, KvCache& cache, const BatchInputs& in);
Tensor* llama_build_block(const Model& m, Context& ctx, Graph& graph, KvCache& cache, const BatchInputs& in, int layer,
                          Tensor* x);

}  // namespace qgml
