// NF4 (QLoRA NormalFloat, 4 bits) reference conversions, plain and with
// 8-bit absmax values ("double quantization").
#include <algorithm>
#include <cmath>

#include "quants.h"

namespace qgml {

// The 16 code values of bitsandbytes' NF4 data type, in code order 0..15.
const float kNF4[16] = {-1.0f,
                        -0.6961928009986877f,
                        -0.5250730514526367f,
                        -0.39491748809814453f,
                        -0.28444138169288635f,
                        -0.18477343022823334f,
                        -0.09105003625154495f,
                        0.0f,
                        0.07958029955625534f,
                        0.16093020141124725f,
                        0.24611230194568634f,
                        0.33791524171829224f,
                        0.44070982933044434f,
                        0.5626170039176941f,
                        0.7229568362236023f,
                        1.0f};
// round(32767 · kNF4[i]); test_quant_types checks this against kNF4.
const int16_t kNF4Int[16] = {-32767, -22812, -17205, -12940, -9320, -6054, -2983, 0,
                             2608,   5273,   8064,   11072,  14441, 18435, 23689, 32767};

namespace {

int nearest_code(float v) {
  int best = 0;
  float err = std::fabs(v - kNF4[0]);
  for (int c = 1; c < 16; ++c) {
    const float e = std::fabs(v - kNF4[c]);
    if (e < err) {
      err = e;
      best = c;
    }
  }
  return best;
}

// 64 elements scaled by 1/scale into a 4-bit plane of 32 bytes.
void encode64(const float* x, float scale, uint8_t* qs) {
  const float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
  for (int j = 0; j < 32; ++j)
    qs[j] = static_cast<uint8_t>(nearest_code(x[j] * inv) | nearest_code(x[j + 32] * inv) << 4);
}

float absmax64(const float* x) {
  float a = 0.0f;
  for (int j = 0; j < 64; ++j) a = std::fmax(a, std::fabs(x[j]));
  return a;
}

void decode64(const uint8_t* qs, float scale, float* dst, int64_t n) {
  for (int j = 0; j < 64 && j < n; ++j) dst[j] = scale * kNF4[j < 32 ? qs[j] & 0x0f : qs[j - 32] >> 4];
}

}  // namespace

void nf4_to_float(const void* src, float* dst, int64_t n) {
  const BlockNF4* b = static_cast<const BlockNF4*>(src);
  for (int64_t i = 0; i < n; i += kQKNF4) decode64(b[i / kQKNF4].qs, fp16_to_f32(b[i / kQKNF4].d), dst + i, n - i);
}

void nf4_from_float(const float* src, void* dst, int64_t n) {
  BlockNF4* out = static_cast<BlockNF4*>(dst);
  for_each_block<kQKNF4>(src, n, [&](const float* x, int64_t ib) {
    out[ib].d = f32_to_fp16(absmax64(x));
    encode64(x, fp16_to_f32(out[ib].d), out[ib].qs);
  });
}

void nf4_dq_to_float(const void* src, float* dst, int64_t n) {
  const BlockNF4DQ* b = static_cast<const BlockNF4DQ*>(src);
  for (int64_t i = 0; i < n; i += kQKNF4DQ) {
    const BlockNF4DQ& blk = b[i / kQKNF4DQ];
    const float d = fp16_to_f32(blk.d);
    for (int s = 0; s < 4 && i + 64 * s < n; ++s) decode64(blk.qs + 32 * s, d * blk.sc[s], dst + i + 64 * s, n - i - 64 * s);
  }
}

// The largest absmax of the four sub-blocks gets code 255; the others round
// to the nearest multiple of d (at least 1, so no non-zero sub-block vanishes).
void nf4_dq_from_float(const float* src, void* dst, int64_t n) {
  BlockNF4DQ* out = static_cast<BlockNF4DQ*>(dst);
  for_each_block<kQKNF4DQ>(src, n, [&](const float* x, int64_t ib) {
    float am[4], top = 0.0f;
    for (int s = 0; s < 4; ++s) top = std::fmax(top, am[s] = absmax64(x + 64 * s));
    BlockNF4DQ& b = out[ib];
    b.d = f32_to_fp16(top / 255.0f);
    const float d = fp16_to_f32(b.d);
    for (int s = 0; s < 4; ++s) {
      int c = d > 0.0f ? static_cast<int>(std::nearbyint(am[s] / d)) : 0;
      if (am[s] > 0.0f && d > 0.0f) c = std::max(1, c);
      b.sc[s] = static_cast<uint8_t>(std::min(255, c));
      encode64(x + 64 * s, d * b.sc[s], b.qs + 32 * s);
    }
  });
}

}  // namespace qgml
