// llama.cpp's K-quants: the reference conversions to float and the Q8_K
// activation quantizer. to_float evaluates the same float expressions in the
// same order as llama.cpp's dequantize_row_qN_K (d·sc first, then ·q, then
// − dmin·m), so values are bit-identical to llama.cpp's (checked against
// dumps from libggml in tests/test_quant_kquants.cpp). The weight quantizers
// (llama.cpp's *_ref search for scales) are not implemented: files come from
// llama-quantize.
#include <cmath>
#include <cstring>

#include "qgml/fp16.h"
#include "quants.h"
#include "quants_k.h"

namespace qgml {
namespace {

// Runs block(b, out) for each super-block, out holding 256 values; rows that
// end inside a block (not produced by llama.cpp, but legal here) get only
// their first n values written.
template <typename B, typename Fn>
void each_superblock(const void* src, float* dst, int64_t n, Fn&& block) {
  const B* b = static_cast<const B*>(src);
  float tmp[kQK_K];
  for (int64_t i = 0; i < n; i += kQK_K, ++b) {
    if (n - i >= kQK_K) {
      block(*b, dst + i);
    } else {
      block(*b, tmp);
      std::memcpy(dst + i, tmp, static_cast<size_t>(n - i) * sizeof(float));
    }
  }
}

}  // namespace

void q2_k_to_float(const void* src, float* dst, int64_t n) {
  each_superblock<BlockQ2K>(src, dst, n, [](const BlockQ2K& b, float* y) {
    const float d = fp16_to_f32(b.d), dmin = fp16_to_f32(b.dmin);
    for (int s = 0; s < 16; ++s) {
      const float dl = d * static_cast<float>(b.scales[s] & 15);
      const float ml = dmin * static_cast<float>(b.scales[s] >> 4);
      for (int e = 16 * s; e < 16 * s + 16; ++e) y[e] = dl * static_cast<float>(q2k_quant(b, e)) - ml;
    }
  });
}

void q3_k_to_float(const void* src, float* dst, int64_t n) {
  each_superblock<BlockQ3K>(src, dst, n, [](const BlockQ3K& b, float* y) {
    const float d = fp16_to_f32(b.d);
    for (int s = 0; s < 16; ++s) {
      const float dl = d * static_cast<float>(q3k_scale(b.scales, s) - 32);
      for (int e = 16 * s; e < 16 * s + 16; ++e) y[e] = dl * static_cast<float>(q3k_quant(b, e) - 4);
    }
  });
}

void q4_k_to_float(const void* src, float* dst, int64_t n) {
  each_superblock<BlockQ4K>(src, dst, n, [](const BlockQ4K& b, float* y) {
    const float d = fp16_to_f32(b.d), dmin = fp16_to_f32(b.dmin);
    for (int s = 0; s < 8; ++s) {
      int sc, m;
      k4_scale_min(b.scales, s, &sc, &m);
      const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(m);
      for (int e = 32 * s; e < 32 * s + 32; ++e) y[e] = dl * static_cast<float>(q4k_quant(b.qs, e)) - ml;
    }
  });
}

void q5_k_to_float(const void* src, float* dst, int64_t n) {
  each_superblock<BlockQ5K>(src, dst, n, [](const BlockQ5K& b, float* y) {
    const float d = fp16_to_f32(b.d), dmin = fp16_to_f32(b.dmin);
    for (int s = 0; s < 8; ++s) {
      int sc, m;
      k4_scale_min(b.scales, s, &sc, &m);
      const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(m);
      for (int e = 32 * s; e < 32 * s + 32; ++e) y[e] = dl * static_cast<float>(q5k_quant(b, e)) - ml;
    }
  });
}

void q6_k_to_float(const void* src, float* dst, int64_t n) {
  each_superblock<BlockQ6K>(src, dst, n, [](const BlockQ6K& b, float* y) {
    const float d = fp16_to_f32(b.d);
    for (int e = 0; e < kQK_K; ++e)
      y[e] = d * static_cast<float>(b.scales[e / 16]) * static_cast<float>(q6k_quant(b, e) - 32);
  });
}

void q8_k_to_float(const void* src, float* dst, int64_t n) {
  each_superblock<BlockQ8K>(src, dst, n, [](const BlockQ8K& b, float* y) {
    for (int e = 0; e < kQK_K; ++e) y[e] = b.d * static_cast<float>(b.qs[e]);
  });
}

// llama.cpp's activation quantizer semantics: the element of largest
// magnitude maps to exactly −127 (scale −max/127, sign included, so d may be
// negative), the rest round to nearest even, clamped at 127. All-zero blocks
// get d = 0 and zero sums (llama.cpp leaves their sums unwritten).
void q8_k_from_float(const float* src, void* dst, int64_t n) {
  BlockQ8K* out = static_cast<BlockQ8K*>(dst);
  for_each_block<kQK_K>(src, n, [&](const float* x, int64_t ib) {
    BlockQ8K& b = out[ib];
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      std::memset(&b, 0, sizeof b);
      return;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQK_K; ++j) {
      const float v = std::nearbyint(iscale * x[j]);
      b.qs[j] = static_cast<int8_t>(v > 127.0f ? 127.0f : v);
    }
    for (int s = 0; s < 16; ++s) {
      int sum = 0;
      for (int j = 16 * s; j < 16 * s + 16; ++j) sum += b.qs[j];
      b.bsums[s] = static_cast<int16_t>(sum);
    }
    b.d = 1.0f / iscale;
  });
}

}  // namespace qgml
