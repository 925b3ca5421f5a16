// NEON elementwise math: exp by the polynomial of exp_poly.h, 4 lanes at a
// time; the softmax sum in double, like the reference; attention scores in
// register tiles.
#include <arm_neon.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "../exp_poly.h"
#include "../gemm_tiles.h"
#include "../kernels.h"

namespace qgml {
namespace {

inline float32x4_t exp4(float32x4_t x) {
  namespace ep = exp_poly;
  // FMAX/FMIN propagate NaN.
  const float32x4_t xc = vminq_f32(vmaxq_f32(x, vdupq_n_f32(ep::kMinX)), vdupq_n_f32(ep::kMaxX));
  const float32x4_t n = vrndnq_f32(vmulq_f32(xc, vdupq_n_f32(ep::kLog2e)));
  float32x4_t r = vfmsq_f32(xc, n, vdupq_n_f32(ep::kLn2Hi));
  r = vfmsq_f32(r, n, vdupq_n_f32(ep::kLn2Lo));
  float32x4_t q = vdupq_n_f32(ep::kQ[0]);
  for (int i = 1; i < 6; ++i) q = vfmaq_f32(vdupq_n_f32(ep::kQ[i]), q, r);
  const float32x4_t p = vaddq_f32(vfmaq_f32(r, q, vmulq_f32(r, r)), vdupq_n_f32(1.0f));
  const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
  float32x4_t y = vmulq_f32(p, vreinterpretq_f32_s32(e));
  y = vbslq_f32(vcltq_f32(x, vdupq_n_f32(ep::kMinX)), vdupq_n_f32(0.0f), y);
  return vbslq_f32(vcgtq_f32(x, vdupq_n_f32(ep::kOverflowX)), vdupq_n_f32(std::numeric_limits<float>::infinity()), y);
}

inline float64x2_t add_as_double(float64x2_t acc, float32x4_t v) {
  return vaddq_f64(vaddq_f64(acc, vcvt_f64_f32(vget_low_f32(v))), vcvt_high_f64_f32(v));
}

double exp_sum(float* x, int64_t n, float max) {
  const float32x4_t vmax = vdupq_n_f32(max);
  float64x2_t s0 = vdupq_n_f64(0.0), s1 = vdupq_n_f64(0.0);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float32x4_t e0 = exp4(vsubq_f32(vld1q_f32(x + i), vmax));
    const float32x4_t e1 = exp4(vsubq_f32(vld1q_f32(x + i + 4), vmax));
    vst1q_f32(x + i, e0);
    vst1q_f32(x + i + 4, e1);
    s0 = add_as_double(s0, e0);
    s1 = add_as_double(s1, e1);
  }
  for (; i < n; i += 4) {  // the tail through a buffer padded with −inf, whose exp is 0
    float buf[4];
    const int64_t m = n - i < 4 ? n - i : 4;
    for (int j = 0; j < 4; ++j) buf[j] = j < m ? x[i + j] : -std::numeric_limits<float>::infinity();
    const float32x4_t e = exp4(vsubq_f32(vld1q_f32(buf), vmax));
    vst1q_f32(buf, e);
    std::memcpy(x + i, buf, static_cast<size_t>(m) * sizeof(float));
    s0 = add_as_double(s0, e);
  }
  const float64x2_t s = vaddq_f64(s0, s1);
  return vgetq_lane_f64(s, 0) + vgetq_lane_f64(s, 1);
}

float scale_max(float* x, int64_t n, float scale) {
  float32x4_t m0 = vdupq_n_f32(-std::numeric_limits<float>::infinity()), m1 = m0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float32x4_t a = vmulq_n_f32(vld1q_f32(x + i), scale), b = vmulq_n_f32(vld1q_f32(x + i + 4), scale);
    vst1q_f32(x + i, a);
    vst1q_f32(x + i + 4, b);
    m0 = vmaxnmq_f32(m0, a);  // maxNum: a NaN is passed over, as the reference's x > max does
    m1 = vmaxnmq_f32(m1, b);
  }
  float max = vmaxnmvq_f32(vmaxnmq_f32(m0, m1));
  for (; i < n; ++i) {
    x[i] *= scale;
    if (x[i] > max) max = x[i];
  }
  return max;
}

inline float32x4_t swiglu4(float32x4_t g, float32x4_t u) {
  const float32x4_t e = exp4(vnegq_f32(g));
  return vmulq_f32(vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), e)), u);
}

void swiglu(const float* g, const float* u, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(out + i, swiglu4(vld1q_f32(g + i), vld1q_f32(u + i)));
  if (i < n) {
    float bg[4] = {}, bu[4] = {};
    const size_t m = static_cast<size_t>(n - i) * sizeof(float);
    std::memcpy(bg, g + i, m);
    std::memcpy(bu, u + i, m);
    vst1q_f32(bg, swiglu4(vld1q_f32(bg), vld1q_f32(bu)));
    std::memcpy(out + i, bg, m);
  }
}

// R rows of c: 8 columns at a time in 2R accumulators (each b load serves R
// FMAs), then 4 at a time, the last ones one by one with the same fused
// multiply-add.
template <int R>
void gemm_nn_rows(int64_t n, int64_t depth, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    float32x4_t acc[R][2];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = vdupq_n_f32(0.0f);
    for (int64_t d = 0; d < depth; ++d) {
      const float32x4_t b0 = vld1q_f32(b + d * ldb + j), b1 = vld1q_f32(b + d * ldb + j + 4);
      for (int r = 0; r < R; ++r) {
        const float av = a[r * lda + d];
        acc[r][0] = vfmaq_n_f32(acc[r][0], b0, av);
        acc[r][1] = vfmaq_n_f32(acc[r][1], b1, av);
      }
    }
    for (int r = 0; r < R; ++r) {
      vst1q_f32(c + r * ldc + j, acc[r][0]);
      vst1q_f32(c + r * ldc + j + 4, acc[r][1]);
    }
  }
  for (; j + 4 <= n; j += 4) {
    float32x4_t acc[R];
    for (int r = 0; r < R; ++r) acc[r] = vdupq_n_f32(0.0f);
    for (int64_t d = 0; d < depth; ++d) {
      const float32x4_t bv = vld1q_f32(b + d * ldb + j);
      for (int r = 0; r < R; ++r) acc[r] = vfmaq_n_f32(acc[r], bv, a[r * lda + d]);
    }
    for (int r = 0; r < R; ++r) vst1q_f32(c + r * ldc + j, acc[r]);
  }
  for (; j < n; ++j)
    for (int r = 0; r < R; ++r) {
      float s = 0.0f;
      for (int64_t d = 0; d < depth; ++d) s = std::fma(a[r * lda + d], b[d * ldb + j], s);
      c[r * ldc + j] = s;
    }
}

void gemm_nn(int64_t m, int64_t n, int64_t depth, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
             int64_t ldc) {
  for_row_tiles<6>(m, [&](auto rows, int64_t r) {
    gemm_nn_rows<decltype(rows)::value>(n, depth, a + r * lda, lda, b, ldb, c + r * ldc, ldc);
  });
}

}  // namespace

void register_neon_math_kernels(KernelTable& t) {
  t.math.gemm_nn = gemm_nn;
  t.math.exp_sum = exp_sum;
  t.math.scale_max = scale_max;
  t.math.swiglu = swiglu;
}

}  // namespace qgml
