// qgml/quant.h — packing already-quantized weights (GPTQ, bitsandbytes NF4)
// into qgml's block types, and the act-order convention.
//
// Converters that import quantized checkpoints hand over the integers the
// checkpoint stores; these functions lay them out as the block types of
// qgml/types.h (byte layouts in gguf-spec.md, "Quantized block layouts").
//
// Act-order (GPTQ desc_act): a checkpoint's g_idx assigns each input column
// its group, in a permuted order. At conversion the columns are sorted by
// group (stable), so that groups are contiguous, and the permutation is
// stored beside the weight as the I32 tensor "<weight name>.perm" of K
// entries: perm[j] = the original column now at position j. The product then
// is y = W'·x' with x'[j] = x[perm[j]]; mul_mat_perm gathers x' while it
// converts the activations (once per token, not per row).
#pragma once
#include <cstdint>

#include "qgml/tensor.h"
#include "qgml/types.h"

namespace qgml {

// Suffix of the companion permutation tensor's name.
constexpr const char* kPermSuffix = ".perm";

// The GPTQ type for bits (2, 3, 4), group size (32, 64, 128) and whether zero
// points are stored (asymmetric) or fixed at 2^(bits−1) (symmetric).
// Throws qgml::Error for other combinations.
Type gptq_type(int bits, int group, bool asym);
// Whether t is a GPTQ type, and its parameters.
bool is_gptq_type(Type t, int* bits, int* group, bool* asym);

// Packs one row of k columns (groups contiguous, i.e. after act-order
// sorting). q[k]: quants 0..2^bits−1; scales[ceil(k/group)]; zeros likewise
// (asymmetric types; ignored, may be null, for symmetric ones — their zeros
// must be 2^(bits−1), which the caller checks). The true zero point is
// expected (AutoGPTQ's v1 checkpoints store zero − 1). The padding of a
// partial last group dequantizes to 0. dst receives row_size(t, k) bytes.
void pack_gptq_row(Type t, int64_t k, const uint8_t* q, const float* scales, const uint8_t* zeros, void* dst);

// Packs one row of NF4 (t = NF4 or NF4_DQ) from 4-bit codes (0..15, one per
// byte) and the absmax of each 64 columns (bitsandbytes' absmax, already
// dequantized when the checkpoint double-quantized it). NF4 rounds absmax to
// f16; NF4_DQ re-encodes every 4 absmax values as 8-bit multiples of a shared
// f16 scale (see the spec). Columns beyond k decode to 0.
void pack_nf4_row(Type t, int64_t k, const uint8_t* codes, const float* absmax, void* dst);

// Index of the first entry of p[0..n) that is out of range or repeats an
// earlier one, or −1 when p is a permutation of 0..n−1.
int64_t first_non_permutation_entry(const int32_t* p, int64_t n);

// mul_mat (qgml/ops.h) with the weight's columns permuted: result[m, n] =
// Σ_j a[j, m] · b[perm[j], n]. perm: I32 [K]. Its entries are read when the
// graph runs, not when it is built (a decode graph is built per token):
// whoever brings the data checks it (Model::load checks every ".perm" tensor
// of a file with first_non_permutation_entry); an entry out of range reads 0.
Tensor* mul_mat_perm(Context& ctx, Tensor* a, Tensor* b, Tensor* perm);

}  // namespace qgml
