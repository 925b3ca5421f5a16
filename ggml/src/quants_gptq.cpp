// GPTQ int4/int3/int2 blocks: reference conversions, one instantiation per
// (bits, group size, zero point stored) combination.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quants.h"

namespace qgml {

bool gptq_format(Type t, GptqFormat* f) {
  const int first = static_cast<int>(Type::GPTQ4_G32);
  const int i = static_cast<int>(t) - first;
  if (i < 0 || i >= 18) return false;
  static const int kBits[3] = {4, 3, 2};
  f->bits = kBits[(i % 9) / 3];
  f->group = 32 << (i % 3);
  f->asym = i < 9;
  return true;
}

template <int B, int G, bool Z>
void gptq_to_float(const void* src, float* dst, int64_t n) {
  constexpr const GptqFormat& kF = kGptqFormat<B, G, Z>;
  const uint8_t* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; i += G, p += kF.bytes()) {
    uint16_t dh;
    std::memcpy(&dh, p, 2);
    const float d = fp16_to_f32(dh);
    const int z = Z ? p[2] : 1 << (B - 1);
    for (int e = 0; e < G && i + e < n; ++e) dst[i + e] = d * static_cast<float>(gptq_get_q(p + kF.header(), B, G, e) - z);
  }
}

template <int B, int G, bool Z>
void gptq_from_float(const float* src, void* dst, int64_t n) {
  constexpr const GptqFormat& kF = kGptqFormat<B, G, Z>;
  constexpr int maxq = (1 << B) - 1;
  uint8_t* out = static_cast<uint8_t*>(dst);
  for_each_block<G>(src, n, [&](const float* x, int64_t ib) {
    uint8_t* p = out + ib * kF.bytes();
    // GPTQ's quantizer: the range always contains 0; an all-zero group gets [−1, 1].
    float lo = 0.0f, hi = 0.0f;
    for (int e = 0; e < G; ++e) {
      lo = std::min(lo, x[e]);
      hi = std::max(hi, x[e]);
    }
    if (!Z) {
      hi = std::max(-lo, hi);
      lo = -hi;
    }
    if (lo == 0.0f && hi == 0.0f) {
      lo = -1.0f;
      hi = 1.0f;
    }
    const uint16_t dh = f32_to_fp16((hi - lo) / maxq);
    const float d = fp16_to_f32(dh);
    const int z = Z ? std::min(maxq, std::max(0, static_cast<int>(std::nearbyint(-lo / d)))) : 1 << (B - 1);
    std::memcpy(p, &dh, 2);
    if (Z) p[2] = static_cast<uint8_t>(z);
    uint8_t* qs = p + kF.header();
    std::memset(qs, 0, static_cast<size_t>(G * B / 8));
    for (int e = 0; e < G; ++e) {
      const int q = std::min(maxq, std::max(0, static_cast<int>(std::nearbyint(x[e] / d)) + z));
      if (B == 3) {
        plane_set(qs, 2, G, e, q & 3);
        plane_set(qs + G / 4, 1, G, e, q >> 2);
      } else {
        plane_set(qs, B, G, e, q);
      }
    }
  });
}

#define QGML_GPTQ_INSTANTIATE(B, G, Z)                                         \
  template void gptq_to_float<B, G, Z>(const void*, float*, int64_t);          \
  template void gptq_from_float<B, G, Z>(const float*, void*, int64_t);
#define QGML_GPTQ_INSTANTIATE_G(B, Z) \
  QGML_GPTQ_INSTANTIATE(B, 32, Z) QGML_GPTQ_INSTANTIATE(B, 64, Z) QGML_GPTQ_INSTANTIATE(B, 128, Z)
QGML_GPTQ_INSTANTIATE_G(4, true) QGML_GPTQ_INSTANTIATE_G(3, true) QGML_GPTQ_INSTANTIATE_G(2, true)
QGML_GPTQ_INSTANTIATE_G(4, false) QGML_GPTQ_INSTANTIATE_G(3, false) QGML_GPTQ_INSTANTIATE_G(2, false)

}  // namespace qgml
