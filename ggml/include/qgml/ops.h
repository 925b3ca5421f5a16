// qgml/ops.h — building a compute graph, one op call at a time.
//
// Each function records an op and returns its result node; nothing is
// computed until a Graph containing the node is computed (qgml/graph.h).
// Shapes follow ggml: ne[0] is the row length. Results are F32 unless stated.
// Binary element-wise ops broadcast b over a when a's dims are multiples of b's.
// Every function checks its arguments and throws qgml::Error on a mismatch.
#pragma once
#include <cstdint>

#include "qgml/tensor.h"

namespace qgml {

// rows[i] = a[:, idx[i]] for an I32 index vector (a may be any type; result F32).
// a: [K, M, B]; idx: [N, B] (I32); result: [K, N, B].
Tensor* get_rows(Context& ctx, Tensor* a, Tensor* idx);

Tensor* add(Context& ctx, Tensor* a, Tensor* b);
Tensor* mul(Context& ctx, Tensor* a, Tensor* b);
Tensor* scale(Context& ctx, Tensor* a, float s);

// x / sqrt(mean(x²) + eps) over each row.
Tensor* rms_norm(Context& ctx, Tensor* a, float eps);
// (x − mean) / sqrt(var + eps) over each row (no affine part: follow with mul/add).
Tensor* layer_norm(Context& ctx, Tensor* a, float eps);

// Matrix product with a weight of any registered type and F32 activations:
// a: [K, M, A2, A3] (weight), b: [K, N, B2, B3] (F32) → [M, N, B2, B3], where
// B2 % A2 == 0 and B3 % A3 == 0 (a's matrices broadcast, as in grouped-query
// attention). result[m, n] = Σ_k a[k, m] · b[k, n].
Tensor* mul_mat(Context& ctx, Tensor* a, Tensor* b);

enum class RopeMode : int32_t {
  Adjacent = 0,  // rotate pairs (x[2i], x[2i+1]) — llama.cpp's "normal" mode, llama2.c, GGUF llama
  Neox = 2,      // rotate (x[i], x[i + n_rot/2]) — Hugging Face rotate_half, GPT-NeoX, Qwen2
};
struct RopeParams {
  int32_t n_rot = 0;          // rotated dimensions per head (≤ head size; partial rotary when less)
  RopeMode mode = RopeMode::Adjacent;
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;    // linear position scaling (1 = none)
};
// a: [head_dim, n_heads, n_tokens] F32; pos: [n_tokens] I32 positions;
// freq_factors (optional, F32 [n_rot/2]): per-frequency divisors, as llama3
// rope scaling produces them. Angle for pair i: pos·freq_scale·base^(−2i/n_rot) / factor[i].
Tensor* rope(Context& ctx, Tensor* a, Tensor* pos, const RopeParams& p, Tensor* freq_factors = nullptr);

struct SoftMaxParams {
  float scale = 1.0f;        // applied to the input before the mask
  int32_t causal_past = -1;  // ≥ 0: causal mask, row i sees columns ≤ causal_past + i; −1: no mask
  float alibi_max_bias = 0;  // > 0: ALiBi bias slope_h · column, heads along dim 2
};
// Softmax over rows of a: [n_kv, n_tokens, n_heads]; mask (optional, F32
// [n_kv, n_tokens]) is added after scaling (use −INFINITY to mask).
Tensor* soft_max(Context& ctx, Tensor* a, const SoftMaxParams& p, Tensor* mask = nullptr);

// Attention over cached keys and values in one op: for query i of head h,
// out = Σ_j softmax_j(p.scale · q·k_j [causal, ALiBi as soft_max]) · v_j,
// the same as mul_mat → soft_max → mul_mat, without materializing the scores
// of masked positions or permuting the result.
// q: [hd, n_head, n] F32 (any strides); k: [hd, n_kv_head, n_kv] (F32 or F16,
// rows contiguous); v: [n_kv, hd, n_kv_head] (values transposed, positions
// contiguous; F32 or F16). n_head must be a multiple of n_kv_head (heads
// h·n_kv_head/n_head share key/value head). Result: [hd, n_head, n] F32, contiguous.
Tensor* attend(Context& ctx, Tensor* q, Tensor* k, Tensor* v, const SoftMaxParams& p);

Tensor* silu(Context& ctx, Tensor* a);
// GELU: the tanh approximation (GPT-2, "gelu_new") or the exact erf form (Falcon, GPT-NeoX).
Tensor* gelu(Context& ctx, Tensor* a, bool tanh_approximation = true);
Tensor* relu(Context& ctx, Tensor* a);
// silu(gate) · up, element-wise.
Tensor* swiglu(Context& ctx, Tensor* gate, Tensor* up);

// Copies a into b's memory, converting to b's type; the result is a view of b
// (compute it to make the copy happen). Shapes must have equal element counts.
Tensor* cpy(Context& ctx, Tensor* a, Tensor* b);
// A contiguous F32 copy of a (possibly strided, any float type) tensor.
Tensor* cont(Context& ctx, Tensor* a);

// Views share memory with a: no data is copied.
Tensor* view_1d(Context& ctx, Tensor* a, int64_t ne0, size_t offset);
Tensor* view_2d(Context& ctx, Tensor* a, int64_t ne0, int64_t ne1, size_t nb1, size_t offset);
Tensor* view_3d(Context& ctx, Tensor* a, int64_t ne0, int64_t ne1, int64_t ne2, size_t nb1, size_t nb2,
                size_t offset);
Tensor* view_4d(Context& ctx, Tensor* a, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3, size_t nb1,
                size_t nb2, size_t nb3, size_t offset);
// Reshape requires a contiguous tensor.
Tensor* reshape_2d(Context& ctx, Tensor* a, int64_t ne0, int64_t ne1);
Tensor* reshape_3d(Context& ctx, Tensor* a, int64_t ne0, int64_t ne1, int64_t ne2);
Tensor* reshape_4d(Context& ctx, Tensor* a, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3);
// Dimension i of a becomes dimension axis_i of the result (ggml's convention).
Tensor* permute(Context& ctx, Tensor* a, int axis0, int axis1, int axis2, int axis3);
Tensor* transpose(Context& ctx, Tensor* a);  // swaps dims 0 and 1

// Concatenates along `dim`; all other dims must match.
Tensor* concat(Context& ctx, Tensor* a, Tensor* b, int dim);

}  // namespace qgml
