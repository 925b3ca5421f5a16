// llama.cpp's Q5_0, Q5_1 and IQ4_NL: reference conversions. to_float uses
// llama.cpp's arithmetic (one int→float conversion, one multiply, and for
// Q5_1 one add, each rounded on its own: CMakeLists builds this file with
// -ffp-contract=off so that no FMA fuses them) and is therefore bit-exact
// with its dequantize_row_*; from_float follows its round-to-nearest
// reference quantizers (quantize_row_*_ref) step by step.
#include <algorithm>
#include <cfloat>
#include <cmath>

#include "quants.h"
#include "quants_q5_iq4.h"

namespace qgml {

const int8_t kIQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

namespace {

// Packs 32 quants (0..31) into the Q5 nibble + high-bit layout.
void q5_pack(const int* q, uint8_t* qs, uint8_t* qh) {
  uint32_t h = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | (q[j + 16] & 0x0f) << 4);
    h |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
    h |= static_cast<uint32_t>((q[j + 16] >> 4) & 1) << (j + 16);
  }
  std::memcpy(qh, &h, 4);
}

// llama.cpp truncates x + 0.5 (or + 16.5) through an int8_t/uint8_t cast;
// the values stay inside [0, 32] for finite input, where that is a plain
// truncation toward zero.
int trunc_to_int(float v) { return static_cast<int>(v); }

// llama.cpp's best_index_int8: the nearest table entry, ties to the upper
// neighbour's lower side exactly as its binary search resolves them.
int iq4nl_index(float x) {
  if (x <= kIQ4NL[0]) return 0;
  if (x >= kIQ4NL[15]) return 15;
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (x < kIQ4NL[mid])
      hi = mid;
    else
      lo = mid;
  }
  return x - kIQ4NL[hi - 1] < kIQ4NL[hi] - x ? hi - 1 : hi;
}

}  // namespace

void q5_0_to_float(const void* src, float* dst, int64_t n) {
  const BlockQ5_0* b = static_cast<const BlockQ5_0*>(src);
  int q[kQK5];
  for (int64_t i = 0; i < n; i += kQK5) {
    const BlockQ5_0& blk = b[i / kQK5];
    const float d = fp16_to_f32(blk.d);
    q5_unpack(blk.qs, blk.qh, q);
    for (int j = 0; j < kQK5 && i + j < n; ++j) dst[i + j] = static_cast<float>(q[j] - 16) * d;
  }
}

// quantize_row_q5_0_ref: the value of largest magnitude maps to −16,
// d = max/−16, q = min(31, trunc(x/d + 16.5)).
void q5_0_from_float(const float* src, void* dst, int64_t n) {
  BlockQ5_0* out = static_cast<BlockQ5_0*>(dst);
  for_each_block<kQK5>(src, n, [&](const float* x, int64_t ib) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK5; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int q[kQK5];
    for (int j = 0; j < kQK5; ++j) q[j] = std::min(31, trunc_to_int(x[j] * id + 16.5f));
    out[ib].d = f32_to_fp16(d);
    q5_pack(q, out[ib].qs, out[ib].qh);
  });
}

void q5_1_to_float(const void* src, float* dst, int64_t n) {
  const BlockQ5_1* b = static_cast<const BlockQ5_1*>(src);
  int q[kQK5];
  for (int64_t i = 0; i < n; i += kQK5) {
    const BlockQ5_1& blk = b[i / kQK5];
    const float d = fp16_to_f32(blk.d), m = fp16_to_f32(blk.m);
    q5_unpack(blk.qs, blk.qh, q);
    for (int j = 0; j < kQK5 && i + j < n; ++j) dst[i + j] = static_cast<float>(q[j]) * d + m;
  }
}

// quantize_row_q5_1_ref: d = (max − min)/31, q = trunc((x − min)/d + 0.5),
// with the unrounded d and min.
void q5_1_from_float(const float* src, void* dst, int64_t n) {
  BlockQ5_1* out = static_cast<BlockQ5_1*>(dst);
  for_each_block<kQK5>(src, n, [&](const float* x, int64_t ib) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < kQK5; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int q[kQK5];
    // llama.cpp casts to uint8_t without a clamp; (x − min)/d ≤ 31 up to
    // rounding, so 31 is the most it can give. The clamp only guards the
    // packing against non-finite input.
    for (int j = 0; j < kQK5; ++j) q[j] = std::clamp(trunc_to_int((x[j] - min) * id + 0.5f), 0, 31);
    out[ib].d = f32_to_fp16(d);
    out[ib].m = f32_to_fp16(min);
    q5_pack(q, out[ib].qs, out[ib].qh);
  });
}

void iq4_nl_to_float(const void* src, float* dst, int64_t n) {
  const BlockIQ4NL* b = static_cast<const BlockIQ4NL*>(src);
  for (int64_t i = 0; i < n; i += kQKIQ4NL) {
    const BlockIQ4NL& blk = b[i / kQKIQ4NL];
    const float d = fp16_to_f32(blk.d);
    for (int j = 0; j < 16 && i + j < n; ++j) dst[i + j] = d * static_cast<float>(kIQ4NL[blk.qs[j] & 0x0f]);
    for (int j = 0; j < 16 && i + j + 16 < n; ++j) dst[i + j + 16] = d * static_cast<float>(kIQ4NL[blk.qs[j] >> 4]);
  }
}

// quantize_row_iq4_nl_ref (llama.cpp's quantize_row_iq4_nl_impl with one
// block of 32, no importance weights and no scale search): codes for
// d = max/−127, then d refit by weighted least squares (weights x²) for
// those codes. Blocks with amax < 1e-15 are all zero with d = 0.
void iq4_nl_from_float(const float* src, void* dst, int64_t n) {
  BlockIQ4NL* out = static_cast<BlockIQ4NL*>(dst);
  for_each_block<kQKIQ4NL>(src, n, [&](const float* x, int64_t ib) {
    BlockIQ4NL& b = out[ib];
    std::memset(b.qs, 0, sizeof b.qs);
    b.d = f32_to_fp16(0.0f);
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQKIQ4NL; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax < 1e-15f) return;
    const float d0 = max / static_cast<float>(kIQ4NL[0]);
    const float id = 1.0f / d0;
    uint8_t L[kQKIQ4NL];
    float sumqx = 0.0f, sumq2 = 0.0f;
    for (int j = 0; j < kQKIQ4NL; ++j) {
      L[j] = static_cast<uint8_t>(iq4nl_index(id * x[j]));
      const float q = kIQ4NL[L[j]];
      const float w = x[j] * x[j];
      sumqx += w * q * x[j];
      sumq2 += w * q * q;
    }
    b.d = f32_to_fp16(sumqx / sumq2);
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(L[j] | L[j + 16] << 4);
  });
}

}  // namespace qgml
