// Q8_A activation blocks: the reference quantizer. The SIMD quantizers
// (quantize_act slots) reproduce it bit for bit: same amax, the same
// d = amax/127 and id = 1/d, and round-to-nearest-even of x·id.
#include <cmath>

#include "quants.h"

namespace qgml {

void q8_a_to_float(const void* src, float* dst, int64_t n) {
  const BlockQ8A* b = static_cast<const BlockQ8A*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = b[i / kQK8_A].d * b[i / kQK8_A].qs[i % kQK8_A];
}

void q8_a_from_float(const float* src, void* dst, int64_t n) {
  BlockQ8A* out = static_cast<BlockQ8A*>(dst);
  for_each_block<kQK8_A>(src, n, [&](const float* x, int64_t ib) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_A; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ8A& b = out[ib];
    b.d = d;
    for (int s = 0; s < kQK8_A / 32; ++s) {
      int sum = 0;
      for (int j = 32 * s; j < 32 * s + 32; ++j) {
        b.qs[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
        sum += b.qs[j];
      }
      b.bsums[s] = static_cast<int16_t>(sum);
    }
  });
}

}  // namespace qgml
