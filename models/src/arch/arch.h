// What an architecture provides: reading its hyperparameters and binding its
// weights at load time, and building the forward graph for a batch of tokens.
// One file per family in this folder; registry.cpp lists them.
#pragma once
#include <string>

#include "qgml/block.h"
#include "qgml/graph.h"
#include "qgml/model.h"
#include "qgml/session.h"

namespace qgml {

// The inputs of one forward pass.
struct BatchInputs {
  Tensor* tokens = nullptr;     // I32 [n]
  Tensor* positions = nullptr;  // I32 [n], n_past + i
  int64_t n = 0;
  bool all_logits = false;      // logits for every token, not only the last
  LinearHook* hook = nullptr;   // optional
};

struct Architecture {
  const char* name;  // general.architecture
  // Reads hyperparameters into m.mutable_hparams() and binds weights into
  // m.arch_state; throws qgml::Error naming what is missing or malformed.
  void (*load)(Model& m);
  // Returns logits [n_vocab, n or 1]. Writes to the KV cache must be added to
  // `graph` (in layer order) before anything that reads them.
  Tensor* (*build)(const Model& m, Context& ctx, Graph& graph, KvCache& cache, const BatchInputs& in);
  // One decoder block on hidden states x [n_embd, n] (F32) at in.positions:
  // returns the block's output, the next block's input. Used to run a model
  // block by block (calibration); in.tokens is not read. nullptr when the
  // family cannot run one block on its own.
  Tensor* (*build_block)(const Model& m, Context& ctx, Graph& graph, KvCache& cache, const BatchInputs& in, int layer,
                         Tensor* x) = nullptr;
  // The first block's input for in.tokens at in.positions (filled), [n_embd, n].
  // nullptr: the token embeddings; families with learned positions or an
  // embedding projection (GPT-2, OPT) add them here.
  Tensor* (*build_input)(const Model& m, Context& ctx, const BatchInputs& in) = nullptr;
};

// weight·x for a linear layer: through in.hook when one is set, with the
// weight's act-order permutation (the companion "<name>.perm", qgml/quant.h)
// when the file has one.
Tensor* linear(const Model& m, Context& ctx, Graph& graph, const BatchInputs& in, Tensor* weight, Tensor* x);

// nullptr when qgml does not know the architecture.
const Architecture* find_architecture(const std::string& name);
std::string supported_architectures();  // "llama, qwen2, ..."

// Hyperparameters every decoder-only family shares, read from {arch}.* keys.
void read_common_hparams(Model& m);

// Attention over the KV cache for one layer: stores k and v at positions
// [n_past, n_past + n) and returns the attention output [head_dim·n_head, n].
// q: [head_dim, n_head, n], k/v: [head_dim, n_head_kv, n], all F32, already rotated.
// score_bias (optional, [n_past + n, 1, n_head]) is added to the raw scores q·k
// before the softmax scaling, as Falcon adds its ALiBi bias.
Tensor* attention(const Model& m, Context& ctx, Graph& graph, KvCache& cache, int layer, Tensor* q, Tensor* k,
                  Tensor* v, int64_t n, const SoftMaxParams& sm, Tensor* score_bias = nullptr);

}  // namespace qgml
