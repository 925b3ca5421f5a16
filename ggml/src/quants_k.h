// llama.cpp's K-quant blocks (super-blocks of 256 weights) and their
// activation partner Q8_K: byte layouts identical to llama.cpp's (ggml-common.h),
// documented in gguf-spec.md §7. Shared by the reference conversions
// (quants_k.cpp) and every level's kernels (cpu/<isa>/kquants_<isa>.cpp).
#pragma once
#include <cstdint>

namespace qgml {

constexpr int kQK_K = 256;

// Q2_K: 16 sub-blocks of 16; value = d·(sc & 15)·q − dmin·(sc >> 4), q in 0..3.
struct BlockQ2K {
  uint8_t scales[16];  // per sub-block: low nibble scale, high nibble min
  uint8_t qs[64];      // 2-bit quants, see q2k_quant
  uint16_t d, dmin;    // f16
};
static_assert(sizeof(BlockQ2K) == 84, "q2_K block is 84 bytes");

// Q3_K: 16 sub-blocks of 16; value = d·(s − 32)·(q − 4), q in 0..7 (2 low
// bits in qs, the third in hmask), s a 6-bit scale.
struct BlockQ3K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];  // 16 × 6 bits, see q3k_scale
  uint16_t d;
};
static_assert(sizeof(BlockQ3K) == 110, "q3_K block is 110 bytes");

// Q4_K: 8 sub-blocks of 32; value = d·sc·q − dmin·m, q in 0..15, sc/m 6-bit.
struct BlockQ4K {
  uint16_t d, dmin;
  uint8_t scales[12];  // 8 scales + 8 mins × 6 bits, see k4_scale_min
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ4K) == 144, "q4_K block is 144 bytes");

// Q5_K: as Q4_K with a fifth bit per weight in qh, q in 0..31.
struct BlockQ5K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ5K) == 176, "q5_K block is 176 bytes");

// Q6_K: 16 sub-blocks of 16; value = d·sc·(q − 32), q in 0..63, sc int8.
struct BlockQ6K {
  uint8_t ql[128];  // low 4 bits
  uint8_t qh[64];   // high 2 bits
  int8_t scales[16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6K) == 210, "q6_K block is 210 bytes");

// Q8_K: the activation block the K-quant dot kernels take.
struct BlockQ8K {
  float d;            // x ≈ d·q
  int8_t qs[kQK_K];
  int16_t bsums[16];  // Σ qs over each 16 consecutive elements (the min/offset terms)
};
static_assert(sizeof(BlockQ8K) == 292, "q8_K block is 292 bytes");

// Where element e (0..255) of a super-block lives. Every K type orders its
// low bits the same way: 128-element halves h, within them 32-element runs
// that take successive bit positions of the same 32 bytes.

// Q2_K: bits 2·((e % 128) / 32) of qs[32·h + e % 32].
inline int q2k_quant(const BlockQ2K& b, int e) {
  return (b.qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}
// Q3_K: low 2 bits as Q2_K, third bit = bit e/32 of hmask[e % 32]; 0..7.
inline int q3k_quant(const BlockQ3K& b, int e) {
  const int lo = (b.qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
  return lo | (((b.hmask[e % 32] >> (e / 32)) & 1) << 2);
}
// Q3_K's 6-bit scale j (0..15), still offset by 32: low nibble from byte j
// (j < 8) or the high nibble of byte j − 8; top 2 bits from byte 8 + j % 4.
inline int q3k_scale(const uint8_t* sc, int j) {
  const int lo = j < 8 ? sc[j] & 15 : sc[j - 8] >> 4;
  return lo | (((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4);
}
// Q4_K/Q5_K's 6-bit scale and min of sub-block j (0..7): j < 4 in bytes j and
// j + 4; otherwise low nibbles in byte j + 4, top 2 bits in bits 6-7 of
// bytes j − 4 (scale) and j (min).
inline void k4_scale_min(const uint8_t* q, int j, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 15) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}
// Q4_K: element e of 64-run r = e/64 is the low (e % 64 < 32) or high nibble of qs[32·r + e % 32].
inline int q4k_quant(const uint8_t* qs, int e) { return (qs[32 * (e / 64) + e % 32] >> (4 * ((e % 64) / 32))) & 15; }
// Q5_K: the Q4_K nibble plus 16 · (bit e/32 of qh[e % 32]).
inline int q5k_quant(const BlockQ5K& b, int e) {
  return q4k_quant(b.qs, e) | (((b.qh[e % 32] >> (e / 32)) & 1) << 4);
}
// Q6_K: element e, half h = e/128, i = e % 128: low nibble (i < 64) or high
// nibble of ql[64h + i % 64], top 2 bits at bit 2·(i/32) of qh[32h + i % 32]; 0..63.
inline int q6k_quant(const BlockQ6K& b, int e) {
  const int h = e / 128, i = e % 128;
  const int lo = (b.ql[64 * h + i % 64] >> (4 * (i / 64))) & 15;
  return lo | (((b.qh[32 * h + i % 32] >> (2 * (i / 32))) & 3) << 4);
}

}  // namespace qgml
