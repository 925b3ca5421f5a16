// Reference (scalar) conversions for every storage type: the definitions the
// SIMD kernels are tested against. Block layouts are documented in gguf-spec.md.
#pragma once
#include <cstdint>
#include <cstring>

#include "qgml/fp16.h"
#include "qgml/types.h"

namespace qgml {

constexpr int kQK8_0 = 32;
struct BlockQ8_0 {
  uint16_t d;  // f16 scale
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34, "q8_0 block is 34 bytes");

constexpr int kQK4_0 = 32;
struct BlockQ4_0 {
  uint16_t d;                // f16 scale
  uint8_t qs[kQK4_0 / 2];    // element j in low nibble of qs[j], element j+16 in the high nibble
};
static_assert(sizeof(BlockQ4_0) == 18, "q4_0 block is 18 bytes");

constexpr int kQK4_1 = 32;
struct BlockQ4_1 {
  uint16_t d;              // f16 scale
  uint16_t m;              // f16 minimum
  uint8_t qs[kQK4_1 / 2];  // as Q4_0: element j low nibble of qs[j], element j+16 high nibble
};
static_assert(sizeof(BlockQ4_1) == 20, "q4_1 block is 20 bytes");

// Activations for the integer dot kernels of Q4_1, GPTQ and NF4 weights. One
// scale per 256 lets a weight group of up to 256 accumulate in integers and
// convert to float once; bsums give Σa per 32 for the zero-point terms.
constexpr int kQK8_A = 256;
struct BlockQ8A {
  float d;              // scale: x ≈ d·q
  int16_t bsums[8];     // Σ qs over each 32 consecutive elements
  int8_t qs[kQK8_A];    // round-to-nearest-even of x/d, |q| ≤ 127
};
static_assert(sizeof(BlockQ8A) == 276, "q8_a block is 276 bytes");

// The 32 activations of a Q8_A row that start at element e0 (a multiple of
// 32): their quants, the scale of their block and their sum, which kernels
// with a min term (Q4_1, Q5_1) multiply by the weight block's min.
struct Q8AChunk {
  const int8_t* qs;
  float d;
  int sum;
};
inline Q8AChunk q8a_chunk(const void* row, int64_t e0) {
  const BlockQ8A* a = static_cast<const BlockQ8A*>(row) + e0 / kQK8_A;
  const int64_t off = e0 % kQK8_A;
  return {a->qs + off, a->d, a->bsums[off / 32]};
}

// GPTQ blocks: one group of G weights of one row.
//   bytes 0-1  f16 scale d
//   byte  2    zero point z (asymmetric types only)
//   then the quants as bit planes: a plane of p bits for G elements is G·p/8
//   bytes, element e sits in byte (e mod G·p/8) at bit p·(e div G·p/8).
//   4-bit: one 4-bit plane; 2-bit: one 2-bit plane; 3-bit: a 2-bit plane
//   (low bits) followed by a 1-bit plane (bit 2).
// This "strided" plane order lets SIMD code unpack 32 consecutive elements
// with one load (or broadcast), one variable shift and one mask.
struct GptqFormat {
  int bits = 0;
  int group = 0;
  bool asym = false;
  constexpr int header() const { return asym ? 3 : 2; }
  constexpr int bytes() const { return header() + group * bits / 8; }
};
template <int B, int G, bool Z>
constexpr GptqFormat kGptqFormat{B, G, Z};
// False for non-GPTQ types.
bool gptq_format(Type t, GptqFormat* f);

// Element e (0 ≤ e < G) of a p-bit plane.
inline int plane_get(const uint8_t* plane, int p, int group, int e) {
  const int np = group * p / 8;
  return (plane[e % np] >> (p * (e / np))) & ((1 << p) - 1);
}
inline void plane_set(uint8_t* plane, int p, int group, int e, int v) {
  const int np = group * p / 8;
  plane[e % np] = static_cast<uint8_t>(plane[e % np] | (v << (p * (e / np))));
}
// The quant of element e of a GPTQ block's quant bytes.
inline int gptq_get_q(const uint8_t* qs, int bits, int group, int e) {
  if (bits == 3) return plane_get(qs, 2, group, e) | plane_get(qs + group / 4, 1, group, e) << 2;
  return plane_get(qs, bits, group, e);
}

// NF4 (QLoRA NormalFloat): element value = absmax · kNF4[code].
extern const float kNF4[16];
// What the integer dot kernels multiply with: kNF4Int[c] = round(32767 ·
// kNF4[c]), the code in units of kNF4IntUnit = 1/32767, at most half a unit
// (1.53e-5 of absmax) from the float code. That is 250 times below the
// rounding of the int8 activations it multiplies (amax/254), and small enough
// that the dot agrees with to_float within the documented tolerance (an
// 8-bit table would leave small codes up to 4 % off). 16 bits is what every
// SIMD level multiplies in one step (AVX2 madd_epi16, NEON smlal) and keeps
// a 64-block's sum in int32: 64 · 32767 · 127 < 2^31.
extern const int16_t kNF4Int[16];
constexpr float kNF4IntUnit = 1.0f / 32767.0f;
constexpr int kQKNF4 = 64;
struct BlockNF4 {
  uint16_t d;                // f16 absmax
  uint8_t qs[kQKNF4 / 2];    // 4-bit plane: element j low nibble of qs[j], j+32 high nibble
};
static_assert(sizeof(BlockNF4) == 34, "nf4 block is 34 bytes");
constexpr int kQKNF4DQ = 256;
struct BlockNF4DQ {
  uint16_t d;                // f16 scale of the absmax values
  uint8_t sc[4];             // absmax of sub-block i = d · sc[i]
  uint8_t qs[kQKNF4DQ / 2];  // sub-block i (elements 64i..64i+63): bytes 32i..32i+31, as BlockNF4
};
static_assert(sizeof(BlockNF4DQ) == 134, "nf4_dq block is 134 bytes");

// Rows whose length is not a multiple of the block are padded with zeros, so
// every converter works on whole blocks and reads only n input values.
template <int QK, typename Fn>
inline void for_each_block(const float* src, int64_t n, Fn&& fn) {
  float tmp[QK];
  for (int64_t i = 0; i < n; i += QK) {
    const int64_t m = n - i < QK ? n - i : QK;
    if (m == QK) {
      fn(src + i, i / QK);
    } else {
      std::memset(tmp, 0, sizeof tmp);
      std::memcpy(tmp, src + i, static_cast<size_t>(m) * sizeof(float));
      fn(tmp, i / QK);
    }
  }
}

void f16_to_float(const void* src, float* dst, int64_t n);
void f16_from_float(const float* src, void* dst, int64_t n);
void bf16_to_float(const void* src, float* dst, int64_t n);
void bf16_from_float(const float* src, void* dst, int64_t n);

void q8_0_to_float(const void* src, float* dst, int64_t n);
void q8_0_from_float(const float* src, void* dst, int64_t n);
void q4_0_to_float(const void* src, float* dst, int64_t n);
void q4_0_from_float(const float* src, void* dst, int64_t n);
void q4_1_to_float(const void* src, float* dst, int64_t n);
void q4_1_from_float(const float* src, void* dst, int64_t n);
void q8_a_to_float(const void* src, float* dst, int64_t n);
void q8_a_from_float(const float* src, void* dst, int64_t n);
void nf4_to_float(const void* src, float* dst, int64_t n);
void nf4_from_float(const float* src, void* dst, int64_t n);
void nf4_dq_to_float(const void* src, float* dst, int64_t n);
void nf4_dq_from_float(const float* src, void* dst, int64_t n);

// llama.cpp's 32-blocks beyond Q4 (quants_q5_iq4.cpp).
void q5_0_to_float(const void* src, float* dst, int64_t n);
void q5_0_from_float(const float* src, void* dst, int64_t n);
void q5_1_to_float(const void* src, float* dst, int64_t n);
void q5_1_from_float(const float* src, void* dst, int64_t n);
void iq4_nl_to_float(const void* src, float* dst, int64_t n);
void iq4_nl_from_float(const float* src, void* dst, int64_t n);
// llama.cpp's K-quants and their activation block Q8_K (quants_k.cpp).
void q2_k_to_float(const void* src, float* dst, int64_t n);
void q2_k_from_float(const float* src, void* dst, int64_t n);
void q3_k_to_float(const void* src, float* dst, int64_t n);
void q3_k_from_float(const float* src, void* dst, int64_t n);
void q4_k_to_float(const void* src, float* dst, int64_t n);
void q4_k_from_float(const float* src, void* dst, int64_t n);
void q5_k_to_float(const void* src, float* dst, int64_t n);
void q5_k_from_float(const float* src, void* dst, int64_t n);
void q6_k_to_float(const void* src, float* dst, int64_t n);
void q6_k_from_float(const float* src, void* dst, int64_t n);
void q8_k_to_float(const void* src, float* dst, int64_t n);
void q8_k_from_float(const float* src, void* dst, int64_t n);
// bitsandbytes-compatible 4-bit blocks with f32 absmax (quants_bnb.cpp).
void nf4_f32_to_float(const void* src, float* dst, int64_t n);
void nf4_f32_from_float(const float* src, void* dst, int64_t n);
void fp4_f32_to_float(const void* src, float* dst, int64_t n);
void fp4_f32_from_float(const float* src, void* dst, int64_t n);

// GPTQ conversions, one instantiation per type (quants_gptq.cpp).
template <int B, int G, bool Z> void gptq_to_float(const void* src, float* dst, int64_t n);
// Round to nearest with min/max (asymmetric) or absmax (symmetric) group
// statistics, as GPTQ's own quantizer before error feedback.
template <int B, int G, bool Z> void gptq_from_float(const float* src, void* dst, int64_t n);

}  // namespace qgml
