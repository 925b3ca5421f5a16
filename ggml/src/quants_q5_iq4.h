// llama.cpp's Q5_0, Q5_1 and IQ4_NL blocks (its exact byte layouts, see
// gguf-spec.md §7) and the helpers their converters and kernels share.
#pragma once
#include <cstdint>
#include <cstring>

namespace qgml {

constexpr int kQK5 = 32;
// Element j (0..15) is the low nibble of qs[j], element j+16 the high nibble;
// bit 4 of element e is bit e of the little-endian 32-bit word qh.
struct BlockQ5_0 {
  uint16_t d;       // f16 scale; value = d·(q − 16)
  uint8_t qh[4];
  uint8_t qs[kQK5 / 2];
};
static_assert(sizeof(BlockQ5_0) == 22, "q5_0 block is 22 bytes");

struct BlockQ5_1 {
  uint16_t d;       // f16 scale; value = d·q + m
  uint16_t m;       // f16 minimum
  uint8_t qh[4];
  uint8_t qs[kQK5 / 2];
};
static_assert(sizeof(BlockQ5_1) == 24, "q5_1 block is 24 bytes");

constexpr int kQKIQ4NL = 32;
// Nibbles as Q4_0; value = d·kIQ4NL[q].
struct BlockIQ4NL {
  uint16_t d;
  uint8_t qs[kQKIQ4NL / 2];
};
static_assert(sizeof(BlockIQ4NL) == 18, "iq4_nl block is 18 bytes");

// llama.cpp's non-linear IQ4_NL code values (kvalues_iq4nl), in code order.
extern const int8_t kIQ4NL[16];

inline uint32_t q5_high_bits(const uint8_t* qh) {
  uint32_t v;
  std::memcpy(&v, qh, 4);  // little-endian hosts only, as the whole format
  return v;
}

// The 5-bit quants 0..31 of one block, in element order.
inline void q5_unpack(const uint8_t* qs, const uint8_t* qh, int* q) {
  const uint32_t h = q5_high_bits(qh);
  for (int j = 0; j < 16; ++j) {
    q[j] = (qs[j] & 0x0f) | static_cast<int>((h >> j) & 1) << 4;
    q[j + 16] = (qs[j] >> 4) | static_cast<int>((h >> (j + 16)) & 1) << 4;
  }
}

}  // namespace qgml
