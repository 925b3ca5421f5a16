// The CPU kernel table: the slots each storage type fills per instruction-set
// level. The scalar level fills every slot and is the reference; each SIMD
// level (avx2/, avx512/, neon/ — compiled with their own flags) overrides the
// slots it implements. kernels() returns the table for the active level.
#pragma once
#include <cstdint>

#include "qgml/cpu.h"
#include "qgml/types.h"

namespace qgml {

// Dot product of one weight row (k elements of the weight type) with one
// activation row already converted to the type's vec_dot_type.
using VecDotFn = float (*)(int64_t k, const void* w_row, const void* act_row);
// Dot products of several weight rows with several activation rows (already
// in vec_dot_type): out[c·ldo + r] = dot(weight row r, activation row c) for
// r < nr, c < nc; rows are w_stride / a_stride bytes apart. Kernels tile
// internally (several rows per pass for matrix-vector, weight blocks unpacked
// once for several activation rows otherwise), but every (r, c) result is
// computed by the same sequence of float operations whatever nr, nc and the
// tile it falls in, so results do not depend on how callers split the work,
// and equal vec_dot's.
using GemmFn = void (*)(int64_t k, const void* w, size_t w_stride, int64_t nr, const void* a, size_t a_stride,
                        int64_t nc, float* out, int64_t ldo);
// Converts k floats into the type's vec_dot_type layout (activation side).
using QuantizeActFn = void (*)(const float* x, void* dst, int64_t k);
// Converts a row of any storage type to float (a faster to_float).
using ToFloatRowFn = void (*)(const void* src, float* dst, int64_t k);

struct TypeKernels {
  VecDotFn vec_dot = nullptr;
  GemmFn gemm = nullptr;                 // optional: callers fall back to vec_dot
  QuantizeActFn quantize_act = nullptr;  // set on the vec_dot_type's own row
  ToFloatRowFn to_float = nullptr;
};

// Elementwise float math of the graph's glue ops (not tied to a storage type).
// x[i] = exp(x[i] − max) for n elements; returns Σ x[i] (the softmax denominator).
using ExpSumFn = double (*)(float* x, int64_t n, float max);
// x[i] ·= scale for n elements; returns the largest result (−inf for n = 0).
using ScaleMaxFn = float (*)(float* x, int64_t n, float scale);
// out[i] = silu(g[i]) · u[i] = g[i] / (1 + exp(−g[i])) · u[i] (out may alias g or u).
using SwigluFn = void (*)(const float* g, const float* u, float* out, int64_t n);

// c[r·ldc + j] = Σ_d a[r·lda + d] · b[d·ldb + j] for r < m, j < n: rows of a
// against columns of b (attention scores against transposed keys), the terms
// added in d order from 0, so each entry's operations do not depend on m, n
// or the tile it falls in; c is overwritten.
using GemmNNFn = void (*)(int64_t m, int64_t n, int64_t depth, const float* a, int64_t lda, const float* b, int64_t ldb,
                          float* c, int64_t ldc);

// SIMD levels compute exp with a polynomial (cpu/exp_poly.h documents the error
// bound; tests/test_kernels.cpp checks it) instead of the C library's expf.
struct MathKernels {
  ExpSumFn exp_sum = nullptr;
  ScaleMaxFn scale_max = nullptr;
  SwigluFn swiglu = nullptr;
  GemmNNFn gemm_nn = nullptr;
};

struct KernelTable {
  Isa isa = Isa::Scalar;
  MathKernels math;
  TypeKernels type[kTypeCount];
  const TypeKernels& operator[](Type t) const { return type[static_cast<int>(t)]; }
  TypeKernels& operator[](Type t) { return type[static_cast<int>(t)]; }
};

// The table for the active level (see qgml/cpu.h).
const KernelTable& kernels();
// The table for a given level (scalar slots where the level has none);
// throws qgml::Error when the level cannot run here.
const KernelTable& kernels_for(Isa isa);

// Each level's registration, defined in that level's folder.
void register_scalar_kernels(KernelTable& t);
void register_avx2_kernels(KernelTable& t);
void register_avx512_kernels(KernelTable& t);
void register_neon_kernels(KernelTable& t);
// The elementwise math of each level (files math_<level>.cpp).
void register_scalar_math_kernels(KernelTable& t);
void register_avx2_math_kernels(KernelTable& t);
void register_neon_math_kernels(KernelTable& t);
// The quantized-type kernels of each level (separate files per level).
void register_scalar_quant_kernels(KernelTable& t);
void register_avx2_quant_kernels(KernelTable& t);
void register_avx2_gptq_kernels(KernelTable& t);
void register_avx2_nf4_q4_kernels(KernelTable& t);
void register_avx512_quant_kernels(KernelTable& t);
void register_avx512_codebook_kernels(KernelTable& t);
void register_avx512_block32_kernels(KernelTable& t);
void register_neon_quant_kernels(KernelTable& t);
// llama.cpp's Q5_0 / Q5_1 / IQ4_NL (files q5_iq4_<level>.cpp).
void register_scalar_q5_iq4_kernels(KernelTable& t);
void register_avx2_q5_iq4_kernels(KernelTable& t);
void register_neon_q5_iq4_kernels(KernelTable& t);
// llama.cpp's K-quants (files kquants_<level>.cpp).
void register_scalar_kquant_kernels(KernelTable& t);
void register_avx2_kquant_kernels(KernelTable& t);
void register_neon_kquant_kernels(KernelTable& t);
// bitsandbytes NF4/FP4 with f32 absmax (files bnb4_<level>.cpp).
void register_scalar_bnb4_kernels(KernelTable& t);
void register_avx2_bnb4_kernels(KernelTable& t);
void register_neon_bnb4_kernels(KernelTable& t);

}  // namespace qgml
