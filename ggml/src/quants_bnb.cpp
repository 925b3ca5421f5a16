// bitsandbytes-compatible NF4 / FP4 blocks with an f32 absmax: reference
// conversions. value = absmax · code[q], one float multiply, as bitsandbytes
// dequantizes (its CUDA and CPU kernels compute code·absmax in float).
#include <cmath>
#include <cstring>

#include "quants.h"
#include "quants_bnb.h"

namespace qgml {

// bitsandbytes' FP4 (1 sign, 2 exponent, 1 mantissa bit) after dividing by
// the largest magnitude 12: {0, 0.0625, 8, 12, 4, 6, 2, 3}/12, negated for
// codes 8..15 (code 8 is −0). These literals are the ones bitsandbytes'
// dDequantizeFP4Tree uses (5.208333333e-03f, 0.66666667f, 0.33333333f,
// 0.16666667f), which round to the same floats as the divisions.
const float kFP4[16] = {0.0f,  5.208333333e-03f,  0.66666667f,  1.0f,  0.33333333f,  0.5f,  0.16666667f,  0.25f,
                        -0.0f, -5.208333333e-03f, -0.66666667f, -1.0f, -0.33333333f, -0.5f, -0.16666667f, -0.25f};
// 192·kFP4 as exact integers (test_quant_bnb4 checks both tables agree).
const int16_t kFP4Int[16] = {0, 1, 128, 192, 64, 96, 32, 48, 0, -1, -128, -192, -64, -96, -32, -48};

namespace {

// The code nearest to v (the first of equally near ones), as bitsandbytes'
// quantizer picks the nearest code of x/absmax.
int nearest(const float* code, float v) {
  int best = 0;
  float err = std::fabs(v - code[0]);
  for (int c = 1; c < 16; ++c) {
    const float e = std::fabs(v - code[c]);
    if (e < err) {
      err = e;
      best = c;
    }
  }
  return best;
}

void to_float(const float* code, const void* src, float* dst, int64_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; i += kQKBnb4, p += sizeof(BlockBnb4)) {
    float d;
    std::memcpy(&d, p, 4);  // rows may sit at any 4-byte offset; memcpy keeps this free of alignment assumptions
    const uint8_t* qs = p + 4;
    for (int j = 0; j < kQKBnb4 && i + j < n; ++j) dst[i + j] = code[j < 32 ? qs[j] & 0x0f : qs[j - 32] >> 4] * d;
  }
}

void from_float(const float* code, const float* src, void* dst, int64_t n) {
  uint8_t* out = static_cast<uint8_t*>(dst);
  for_each_block<kQKBnb4>(src, n, [&](const float* x, int64_t ib) {
    uint8_t* p = out + ib * static_cast<int64_t>(sizeof(BlockBnb4));
    float amax = 0.0f;
    for (int j = 0; j < kQKBnb4; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    std::memcpy(p, &amax, 4);
    const float inv = amax != 0.0f ? 1.0f / amax : 0.0f;
    for (int j = 0; j < 32; ++j)
      p[4 + j] = static_cast<uint8_t>(nearest(code, x[j] * inv) | nearest(code, x[j + 32] * inv) << 4);
  });
}

}  // namespace

void nf4_f32_to_float(const void* src, float* dst, int64_t n) { to_float(kNF4, src, dst, n); }
void nf4_f32_from_float(const float* src, void* dst, int64_t n) { from_float(kNF4, src, dst, n); }
void fp4_f32_to_float(const void* src, float* dst, int64_t n) { to_float(kFP4, src, dst, n); }
void fp4_f32_from_float(const float* src, void* dst, int64_t n) { from_float(kFP4, src, dst, n); }

}  // namespace qgml
