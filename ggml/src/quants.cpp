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

// Rows whose length is not a multiple of the block are padded with zeros, so
// every converter works on whole blocks and reads only n input values.
template <int QK, typename Fn>
static void for_each_block(const float* src, int64_t n, Fn&& fn) {
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

}  // namespace qgml
