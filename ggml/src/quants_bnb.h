// bitsandbytes' 4-bit blocks with an exact f32 absmax (nf4_f32, fp4_f32):
// the layout a bitsandbytes checkpoint (blocksize 64) maps onto without
// requantizing. Byte layout in gguf-spec.md, Appendix Q.
#pragma once
#include <cstdint>

namespace qgml {

constexpr int kQKBnb4 = 64;
struct BlockBnb4 {
  float d;                  // absmax of the block (little-endian f32)
  uint8_t qs[kQKBnb4 / 2];  // element j low nibble of qs[j], element j+32 high nibble
};
static_assert(sizeof(BlockBnb4) == 36, "nf4_f32 / fp4_f32 block is 36 bytes");

// bitsandbytes' FP4 code book (its dDequantizeFP4Tree constants / the
// normalised get_4bit_type("fp4") map), code order 0..15; bit 3 is the sign.
extern const float kFP4[16];
// The FP4 codes are exactly k/192 as real numbers (k ∈ {0, 1, 32, 48, 64,
// 96, 128, 192}) and the float codes are those fractions correctly rounded,
// so the dot kernels multiply with kFP4Int[c] = ±k, in units of 1/192: the
// integer sum is exact and only the final scaling rounds (unlike NF4, whose
// irrational codes are rounded to kNF4Int). int16 like kNF4Int, so both code
// books run the same kernels.
extern const int16_t kFP4Int[16];
constexpr float kFP4IntUnit = 1.0f / 192.0f;

}  // namespace qgml
