// The code books of the code-book kernels (nf4, nf4_dq, nf4_f32, fp4_f32):
// 16 int16 codes and their unit, shared by every SIMD level.
#pragma once
#include <cstdint>

#include "../quants.h"
#include "../quants_bnb.h"

namespace qgml {

struct Nf4Book {
  static const int16_t* codes() { return kNF4Int; }
  static constexpr float kUnit = kNF4IntUnit;
};
struct Fp4Book {
  static const int16_t* codes() { return kFP4Int; }
  static constexpr float kUnit = kFP4IntUnit;
};

// A book's codes split into low and high bytes: the two byte-lookup tables
// (pshufb, tbl) whose results interleave back into the int16 codes.
struct CodeBytes {
  alignas(16) uint8_t lo[16];
  alignas(16) uint8_t hi[16];
  explicit CodeBytes(const int16_t* codes) {
    for (int i = 0; i < 16; ++i) {
      lo[i] = static_cast<uint8_t>(codes[i] & 0xff);
      hi[i] = static_cast<uint8_t>(static_cast<uint16_t>(codes[i]) >> 8);
    }
  }
};

}  // namespace qgml
