// Building blocks of the LayerNorm families (OPT, Falcon, GPT-2, GPT-NeoX):
// linear layers with optional biases, affine LayerNorm, fused q/k/v split,
// learned position embeddings, and attention with an additive per-head score
// bias (Falcon's ALiBi). In their own namespace so they never collide with
// helpers of the shared arch.h.
#pragma once
#include <string>

#include "arch.h"

namespace qgml::blocks {

struct Dense {
  Tensor* w = nullptr;  // [n_in, n_out]
  Tensor* b = nullptr;  // [n_out] or nullptr
};
struct Norm {
  Tensor* w = nullptr;  // nullptr: no affine part
  Tensor* b = nullptr;
};

// "<name>.weight" of shape [n_in, n_out] (required) and "<name>.bias" [n_out] (when present).
Dense dense(const Model& m, const std::string& name, int64_t n_in, int64_t n_out);
// "<name>.weight" and "<name>.bias" of shape [n]; both optional unless `required`.
Norm norm(const Model& m, const std::string& name, int64_t n, bool required = true);
bool present(const Norm& n);

// What building a block needs besides its weights.
struct Builder {
  const Model& m;
  Context& ctx;
  Graph& graph;
  KvCache& cache;
  const BatchInputs& in;
  // w·x + b through qgml::linear (calibration hooks, act-order permutations).
  Tensor* linear(const Dense& d, Tensor* x) const;
  Tensor* norm(const Norm& n, Tensor* x, float eps) const;  // LayerNorm, then w·x + b
};

// Checks build_block's arguments: the layer exists and x is [n_embd, in.n].
void check_block_args(const Model& m, const BatchInputs& in, int layer, const Tensor* x);

// {arch}.attention.layer_norm_epsilon (llama.cpp's key for LayerNorm models).
float layer_norm_eps(const Model& m);

// A boolean key {arch}.<key>; `def` when absent, an error when not a bool.
bool flag(const Model& m, const std::string& key, bool def);

// Splits a fused product [(n_head + 2·n_head_kv)·head_dim, n] laid out as
// [all q; all k; all v] (llama.cpp's attn_qkv) into contiguous
// q [hd, n_head, n], k and v [hd, n_head_kv, n].
void split_qkv(Context& ctx, const HParams& hp, Tensor* qkv, int64_t n, Tensor** q, Tensor** k, Tensor** v);

// The rows of a learned position table [n_embd, n_pos] for in.positions
// (filled before the graph is built); fails naming the model when a position
// runs past the table.
Tensor* learned_positions(const Model& m, Context& ctx, Tensor* table, const BatchInputs& in);

// The last token's column of x [n_embd, n] unless every position's logits are wanted.
Tensor* logits_rows(Context& ctx, Tensor* x, const BatchInputs& in);

}  // namespace qgml::blocks
