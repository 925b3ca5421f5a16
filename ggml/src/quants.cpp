#include "quants.h"

#include <cmath>
#include <algorithm>
#include <cstring>

namespace qgml {

void f16_to_float(const void* src, float* dst, int64_t n) {
  const uint16_t* s = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(s[i]);
}
void f16_from_float(const float* src, void* dst, int64_t n) {
  uint16_t* d = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = f32_to_fp16(src[i]);
}
void bf16_to_float(const void* src, float* dst, int64_t n) {
  const uint16_t* s = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
}
void bf16_from_float(const float* src, void* dst, int64_t n) {
  uint16_t* d = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
}

void q8_0_to_float(const void* src, float* dst, int64_t n) {
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(b[i / kQK8_0].d) * b[i / kQK8_0].qs[i % kQK8_0];
}

// Same arithmetic as llama.cpp's reference quantizer: d = amax/127, q = round(x/d).
void q8_0_from_float(const float* src, void* dst, int64_t n) {
  BlockQ8_0* out = static_cast<BlockQ8_0*>(dst);
  for_each_block<kQK8_0>(src, n, [&](const float* x, int64_t ib) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[ib].d = f32_to_fp16(d);
    for (int j = 0; j < kQK8_0; ++j) out[ib].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  });
}

void q4_0_to_float(const void* src, float* dst, int64_t n) {
  const BlockQ4_0* b = static_cast<const BlockQ4_0*>(src);
  for (int64_t i = 0; i < n; i += kQK4_0) {
    const BlockQ4_0& blk = b[i / kQK4_0];
    const float d = fp16_to_f32(blk.d);
    for (int j = 0; j < kQK4_0 / 2 && i + j < n; ++j) dst[i + j] = d * ((blk.qs[j] & 0x0f) - 8);
    for (int j = 0; j < kQK4_0 / 2 && i + j + 16 < n; ++j) dst[i + j + 16] = d * ((blk.qs[j] >> 4) - 8);
  }
}

// llama.cpp's reference: the value of largest magnitude maps to −8, d = max/−8,
// q = min(15, (int8)(x/d + 8.5)).
void q4_0_from_float(const float* src, void* dst, int64_t n) {
  BlockQ4_0* out = static_cast<BlockQ4_0*>(dst);
  for_each_block<kQK4_0>(src, n, [&](const float* x, int64_t ib) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK4_0; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[ib].d = f32_to_fp16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const float x0 = x[j] * id, x1 = x[j + kQK4_0 / 2] * id;
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(x0 + 8.5f)));
      const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>(x1 + 8.5f)));
      out[ib].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  });
}


void q4_1_to_float(const void* src, float* dst, int64_t n) {
  const BlockQ4_1* b = static_cast<const BlockQ4_1*>(src);
  for (int64_t i = 0; i < n; i += kQK4_1) {
    const BlockQ4_1& blk = b[i / kQK4_1];
    const float d = fp16_to_f32(blk.d), m = fp16_to_f32(blk.m);
    for (int j = 0; j < kQK4_1 / 2 && i + j < n; ++j) dst[i + j] = (blk.qs[j] & 0x0f) * d + m;
    for (int j = 0; j < kQK4_1 / 2 && i + j + 16 < n; ++j) dst[i + j + 16] = (blk.qs[j] >> 4) * d + m;
  }
}

// llama.cpp's reference: d = (max − min)/15, q = min(15, (int8)((x − min)/d + 0.5)),
// computed with the unrounded d and min.
void q4_1_from_float(const float* src, void* dst, int64_t n) {
  BlockQ4_1* out = static_cast<BlockQ4_1*>(dst);
  for_each_block<kQK4_1>(src, n, [&](const float* x, int64_t ib) {
    float min = x[0], max = x[0];
    for (int j = 1; j < kQK4_1; ++j) {
      min = std::min(min, x[j]);
      max = std::max(max, x[j]);
    }
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[ib].d = f32_to_fp16(d);
    out[ib].m = f32_to_fp16(min);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      const float x0 = (x[j] - min) * id, x1 = (x[j + kQK4_1 / 2] - min) * id;
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(x0 + 0.5f)));
      const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>(x1 + 0.5f)));
      out[ib].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  });
}

}  // namespace qgml
