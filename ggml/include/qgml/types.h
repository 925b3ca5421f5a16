// qgml/types.h — the element types qgml stores, one row of traits per type.
//
// Tensors are stored in blocks: `block_size` consecutive elements of a row are
// packed into `type_size` bytes. Float types have block_size 1. Adding a type
// means adding one enumerator here and one row to the table in
// ggml/src/types.cpp (plus its kernels under ggml/src/cpu/<isa>/).
//
// The numeric value of Type is qgml-internal and may change; files store
// `gguf_id`, which is stable (see gguf-spec.md).
#pragma once
#include <cstddef>
#include <cstdint>

namespace qgml {

enum class Type : uint8_t {
  F32,
  F16,
  BF16,
  I32,   // indices (get_rows) and positions (rope)
  Q8_0,  // llama.cpp: 32 × int8 + f16 scale
  Q4_0,  // llama.cpp: 32 × 4-bit + f16 scale, value = d·(q−8)
  Q4_1,  // llama.cpp: 32 × 4-bit + f16 scale + f16 min, value = d·q + m
  // qgml's own types (gguf ids 0x51470000 + n); byte layouts in gguf-spec.md,
  // "Quantized block layouts (qgml types)".
  Q8_A,  // activations: 256 × int8, f32 scale, per-32 sums (the dot partner of the types below)
  // GPTQ: one group of g weights of a row per block; value = d·(q − z).
  // Asymmetric ("gptqB_gG") store z per group; symmetric ("gptqBs_gG") fix z = 2^(B−1).
  GPTQ4_G32, GPTQ4_G64, GPTQ4_G128,
  GPTQ3_G32, GPTQ3_G64, GPTQ3_G128,
  GPTQ2_G32, GPTQ2_G64, GPTQ2_G128,
  GPTQ4S_G32, GPTQ4S_G64, GPTQ4S_G128,
  GPTQ3S_G32, GPTQ3S_G64, GPTQ3S_G128,
  GPTQ2S_G32, GPTQ2S_G64, GPTQ2S_G128,
  NF4,     // QLoRA NormalFloat4: 64 codes + f16 absmax per block
  NF4_DQ,  // NF4 with 8-bit absmax: 4 blocks of 64 share one f16 scale of their absmax values
  // llama.cpp's other types (its gguf ids and exact block layouts), so its
  // common downloads (Q4_K_M, Q5_K_M, Q6_K, IQ4_NL...) run unchanged.
  Q5_0,    // 32 × 5-bit + f16 scale, value = d·(q−16)
  Q5_1,    // 32 × 5-bit + f16 scale + f16 min, value = d·q + m
  IQ4_NL,  // 32 × 4-bit indices into a fixed non-linear int8 table + f16 scale
  Q2_K,    // K-quants: super-blocks of 256 with quantized sub-block scales
  Q3_K,
  Q4_K,
  Q5_K,
  Q6_K,
  Q8_K,    // llama.cpp's K-quant activation block: 256 × int8, f32 scale, per-16 sums
  // bitsandbytes' 4-bit types with an exact f32 absmax per block of 64, so
  // checkpoints import without requantizing (see gguf-spec.md).
  NF4_F32,
  FP4_F32,
  Count
};
constexpr int kTypeCount = static_cast<int>(Type::Count);

using ToFloatFn = void (*)(const void* src, float* dst, int64_t n);
// Reference (round-to-nearest) conversion from float; n is a multiple of block_size.
using FromFloatFn = void (*)(const float* src, void* dst, int64_t n);

struct TypeTraits {
  const char* name;       // as llama.cpp prints it ("f32", "q4_0", ...)
  uint32_t gguf_id;       // the id written to GGUF files
  int64_t block_size;     // elements per block
  size_t type_size;       // bytes per block
  bool is_quantized;
  ToFloatFn to_float;     // null for I32
  FromFloatFn from_float; // null where no direct conversion exists
  Type vec_dot_type;      // what activations are converted to before the dot kernel
};

const TypeTraits& traits(Type t);
inline const char* type_name(Type t) { return traits(t).name; }

// Looks up a type by its GGUF id; returns false if qgml does not know the id.
bool type_from_gguf_id(uint32_t id, Type* out);
// Looks up a type by its name ("f16", "q4_0"); returns false if unknown.
bool type_from_name(const char* name, Type* out);

// Bytes of one row of `n` elements. Rows whose length is not a multiple of the
// block size are padded to a whole number of blocks.
size_t row_size(Type t, int64_t n);

}  // namespace qgml
