// NEON kernels for llama.cpp's K-quants against Q8_K activations, and the
// Q8_K activation quantizer.
//
// Quants are unpacked 16 at a time to bytes (all below 64, so they are valid
// int8) and multiplied with the activations by dot16 (SDOT where the CPU has
// it, else widening multiplies: 2·63·127 < 2^15). Each 16-element sum is
// weighted by its sub-block scale in int32; mins and offsets come from the
// Q8_K bsums. The super-block's integer is then reduced across lanes and
// enters the float sum by the scalar reference's own expression, so results
// are bit-identical to cpu/scalar/kquants_scalar.cpp on both paths.
#include <arm_neon.h>

#include <cmath>
#include <cstring>
#include <type_traits>

#include "../../quants.h"
#include "../../quants_k.h"
#include "../gemm_tiles.h"
#include "../kernels.h"
#include "nf4_neon.h"

namespace qgml {
namespace {

using namespace neon;

inline int8x16_t s8(uint8x16_t v) { return vreinterpretq_s8_u8(v); }
inline uint8x16_t shr(uint8x16_t v, int n) { return vshlq_u8(v, vdupq_n_s8(static_cast<int8_t>(-n))); }

// Σ_j sc[j]·bsums[j] over the 16 sums (Q3_K/Q6_K offsets, Q2_K mins).
inline int scaled_bsums16(int16x8_t s0, int16x8_t s1, const BlockQ8K* a) {
  const int32x4_t p = vmlal_s16(vmull_s16(vget_low_s16(s0), vld1_s16(a->bsums)), vget_high_s16(s0), vld1_s16(a->bsums + 4));
  const int32x4_t q = vmlal_s16(vmull_s16(vget_low_s16(s1), vld1_s16(a->bsums + 8)), vget_high_s16(s1), vld1_s16(a->bsums + 12));
  return vaddvq_s32(vaddq_s32(p, q));
}

// Per super-block, U::block<kDot, NA> gives each activation row's exact
// integer sums (isum, and msum for types with mins); the float update is the
// scalar kernel's: s += d·Ad·isum − dmin·Ad·msum.
template <bool kDot, class U>
struct KTile {
  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    const int64_t nb = (k + kQK_K - 1) / kQK_K;
    float acc[R][NA];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) acc[r][j] = 0.0f;
    for (int64_t b = 0; b < nb; ++b) {
      const BlockQ8K* a[NA];
      for (int j = 0; j < NA; ++j) a[j] = reinterpret_cast<const BlockQ8K*>(act[j]) + b;
      for (int r = 0; r < R; ++r) {
        const auto& x = reinterpret_cast<const typename U::Block*>(w + r * ws)[b];
        __builtin_prefetch(reinterpret_cast<const uint8_t*>(&x) + kPrefetchBytes);
        int isum[NA], msum[NA];
        U::template block<kDot, NA>(x, a, isum, msum);
        const float d = fp16_to_f32(x.d);
        for (int j = 0; j < NA; ++j) {
          if constexpr (U::kMins)
            acc[r][j] += d * a[j]->d * static_cast<float>(isum[j]) -
                         fp16_to_f32(x.dmin) * a[j]->d * static_cast<float>(msum[j]);
          else
            acc[r][j] += d * a[j]->d * static_cast<float>(isum[j]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) out[j * ldo + r] = acc[r][j];
  }
};

// is[j] += scale · (Σ over each 4 lanes of q·a[off..off+16)).
template <bool kDot, int NA>
inline void chunk16(int8x16_t q, int scale, const BlockQ8K* const* a, int off, int32x4_t* is) {
  for (int j = 0; j < NA; ++j) is[j] = vmlaq_n_s32(is[j], dot16<kDot>(vdupq_n_s32(0), q, vld1q_s8(a[j]->qs + off)), scale);
}

template <int NA>
inline void reduce(const int32x4_t* is, int* isum) {
  for (int j = 0; j < NA; ++j) isum[j] = vaddvq_s32(is[j]);
}

struct Q2K {
  using Block = BlockQ2K;
  static constexpr bool kMins = true;
  template <bool kDot, int NA>
  static void block(const BlockQ2K& x, const BlockQ8K* const* a, int* isum, int* msum) {
    int32x4_t is[NA];
    for (int j = 0; j < NA; ++j) is[j] = vdupq_n_s32(0);
    for (int h = 0; h < 2; ++h)
      for (int part = 0; part < 2; ++part) {
        const uint8x16_t q = vld1q_u8(x.qs + 32 * h + 16 * part);
        for (int c = 0; c < 4; ++c) {
          const int sb = 8 * h + 2 * c + part;
          chunk16<kDot, NA>(s8(vandq_u8(shr(q, 2 * c), vdupq_n_u8(3))), x.scales[sb] & 15, a, 16 * sb, is);
        }
      }
    reduce<NA>(is, isum);
    const uint8x16_t m = vshrq_n_u8(vld1q_u8(x.scales), 4);
    const int16x8_t m0 = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(m))), m1 = vreinterpretq_s16_u16(vmovl_high_u8(m));
    for (int j = 0; j < NA; ++j) msum[j] = scaled_bsums16(m0, m1, a[j]);
  }
};

struct Q3K {
  using Block = BlockQ3K;
  static constexpr bool kMins = false;
  template <bool kDot, int NA>
  static void block(const BlockQ3K& x, const BlockQ8K* const* a, int* isum, int*) {
    // The 16 six-bit scales (layout in quants_k.h) through 32-bit words.
    uint32_t w[3], s[4];
    std::memcpy(w, x.scales, 12);
    const uint32_t lo4 = 0x0f0f0f0f, lo2 = 0x03030303;
    s[0] = (w[0] & lo4) | ((w[2] & lo2) << 4);
    s[1] = (w[1] & lo4) | (((w[2] >> 2) & lo2) << 4);
    s[2] = ((w[0] >> 4) & lo4) | (((w[2] >> 4) & lo2) << 4);
    s[3] = ((w[1] >> 4) & lo4) | (((w[2] >> 6) & lo2) << 4);
    int8_t sc[16];
    vst1q_s8(sc, vsubq_s8(vreinterpretq_s8_u32(vld1q_u32(s)), vdupq_n_s8(32)));
    int32x4_t is[NA];
    for (int j = 0; j < NA; ++j) is[j] = vdupq_n_s32(0);
    for (int part = 0; part < 2; ++part) {
      const uint8x16_t hm = vld1q_u8(x.hmask + 16 * part);
      for (int h = 0; h < 2; ++h) {
        const uint8x16_t q = vld1q_u8(x.qs + 32 * h + 16 * part);
        for (int c = 0; c < 4; ++c) {
          const uint8x16_t lo = vandq_u8(shr(q, 2 * c), vdupq_n_u8(3));
          const uint8x16_t hi = vandq_u8(shr(hm, 4 * h + c), vdupq_n_u8(1));
          const int sb = 8 * h + 2 * c + part;
          chunk16<kDot, NA>(s8(vorrq_u8(lo, vshlq_n_u8(hi, 2))), sc[sb], a, 16 * sb, is);
        }
      }
    }
    reduce<NA>(is, isum);
    const int8x16_t scv = vld1q_s8(sc);
    const int16x8_t s0 = vmovl_s8(vget_low_s8(scv)), s1 = vmovl_high_s8(scv);
    for (int j = 0; j < NA; ++j) isum[j] -= 4 * scaled_bsums16(s0, s1, a[j]);
  }
};

template <bool kHigh>
struct Q45K {
  using Block = std::conditional_t<kHigh, BlockQ5K, BlockQ4K>;
  static constexpr bool kMins = true;
  template <bool kDot, int NA>
  static void block(const Block& x, const BlockQ8K* const* a, int* isum, int* msum) {
    // Scales to bytes 0-7 and mins to bytes 8-15 (layout in quants_k.h).
    uint32_t w[3], s[4];
    std::memcpy(w, x.scales, 12);
    const uint32_t lo6 = 0x3f3f3f3f, lo4 = 0x0f0f0f0f, lo2 = 0x03030303;
    s[0] = w[0] & lo6;
    s[1] = (w[2] & lo4) | (((w[0] >> 6) & lo2) << 4);
    s[2] = w[1] & lo6;
    s[3] = ((w[2] >> 4) & lo4) | (((w[1] >> 6) & lo2) << 4);
    const uint8_t* sc = reinterpret_cast<const uint8_t*>(s);
    int32x4_t is[NA];
    for (int j = 0; j < NA; ++j) is[j] = vdupq_n_s32(0);
    for (int part = 0; part < 2; ++part) {
      uint8x16_t qh = vdupq_n_u8(0);
      if constexpr (kHigh) qh = vld1q_u8(x.qh + 16 * part);
      for (int p = 0; p < 4; ++p) {
        const uint8x16_t q = vld1q_u8(x.qs + 32 * p + 16 * part);
        uint8x16_t lo = vandq_u8(q, vdupq_n_u8(15)), hi = vshrq_n_u8(q, 4);
        if constexpr (kHigh) {
          lo = vorrq_u8(lo, vshlq_n_u8(vandq_u8(shr(qh, 2 * p), vdupq_n_u8(1)), 4));
          hi = vorrq_u8(hi, vshlq_n_u8(vandq_u8(shr(qh, 2 * p + 1), vdupq_n_u8(1)), 4));
        }
        chunk16<kDot, NA>(s8(lo), sc[2 * p], a, 64 * p + 16 * part, is);
        chunk16<kDot, NA>(s8(hi), sc[2 * p + 1], a, 64 * p + 32 + 16 * part, is);
      }
    }
    reduce<NA>(is, isum);
    const int16x8_t mins = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(sc + 8)));
    for (int j = 0; j < NA; ++j) {
      // Pairwise: the two 16-sums of each 32-element sub-block.
      const int16x8_t b32 = vpaddq_s16(vld1q_s16(a[j]->bsums), vld1q_s16(a[j]->bsums + 8));
      msum[j] = vaddvq_s32(vmlal_high_s16(vmull_s16(vget_low_s16(mins), vget_low_s16(b32)), mins, b32));
    }
  }
};

struct Q6K {
  using Block = BlockQ6K;
  static constexpr bool kMins = false;
  template <bool kDot, int NA>
  static void block(const BlockQ6K& x, const BlockQ8K* const* a, int* isum, int*) {
    int32x4_t is[NA];
    for (int j = 0; j < NA; ++j) is[j] = vdupq_n_s32(0);
    for (int h = 0; h < 2; ++h)
      for (int part = 0; part < 2; ++part) {
        const uint8x16_t l0 = vld1q_u8(x.ql + 64 * h + 16 * part), l1 = vld1q_u8(x.ql + 64 * h + 32 + 16 * part);
        const uint8x16_t qh = vld1q_u8(x.qh + 32 * h + 16 * part);
        const uint8x16_t lo[4] = {vandq_u8(l0, vdupq_n_u8(15)), vandq_u8(l1, vdupq_n_u8(15)), vshrq_n_u8(l0, 4),
                                  vshrq_n_u8(l1, 4)};
        for (int c = 0; c < 4; ++c) {
          const uint8x16_t q = vorrq_u8(lo[c], vshlq_n_u8(vandq_u8(shr(qh, 2 * c), vdupq_n_u8(3)), 4));
          const int sb = 8 * h + 2 * c + part;
          chunk16<kDot, NA>(s8(q), x.scales[sb], a, 16 * sb, is);
        }
      }
    reduce<NA>(is, isum);
    const int8x16_t scv = vld1q_s8(x.scales);
    const int16x8_t s0 = vmovl_s8(vget_low_s8(scv)), s1 = vmovl_high_s8(scv);
    for (int j = 0; j < NA; ++j) isum[j] -= 32 * scaled_bsums16(s0, s1, a[j]);
  }
};

// Bit-exact with q8_k_from_float: the first element of largest magnitude
// sets iscale = −127/max; vcvtnq rounds to nearest even; clamp at 127.
void quantize_q8_k(const float* x, void* dst, int64_t k) {
  BlockQ8K* out = static_cast<BlockQ8K*>(dst);
  float tmp[kQK_K];
  for (int64_t i = 0; i < k; i += kQK_K, ++out) {
    const float* src = x + i;
    if (k - i < kQK_K) {
      std::memset(tmp, 0, sizeof tmp);
      std::memcpy(tmp, src, static_cast<size_t>(k - i) * sizeof(float));
      src = tmp;
    }
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int j = 0; j < kQK_K; j += 4) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(src + j)));
    const float amax = vmaxvq_f32(m);
    if (amax == 0.0f) {
      std::memset(out, 0, sizeof *out);
      continue;
    }
    float max = amax;
    for (int j = 0; j < kQK_K; ++j)
      if (std::fabs(src[j]) == amax) {
        max = src[j];
        break;
      }
    const float iscale = -127.0f / max;
    const int32x4_t lim = vdupq_n_s32(127);
    for (int s = 0; s < kQK_K / 16; ++s) {
      int32x4_t v[4];
      for (int u = 0; u < 4; ++u) v[u] = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(src + 16 * s + 4 * u), iscale)), lim);
      out->bsums[s] = static_cast<int16_t>(vaddvq_s32(vaddq_s32(vaddq_s32(v[0], v[1]), vaddq_s32(v[2], v[3]))));
      const int16x8_t h0 = vcombine_s16(vqmovn_s32(v[0]), vqmovn_s32(v[1]));
      const int16x8_t h1 = vcombine_s16(vqmovn_s32(v[2]), vqmovn_s32(v[3]));
      vst1q_s8(out->qs + 16 * s, vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1)));
    }
    out->d = 1.0f / iscale;
  }
}

template <bool kDot>
void register_level(KernelTable& t) {
  t[Type::Q8_K].quantize_act = quantize_q8_k;
#define QGML_SET(T, ...)                                     \
  t[Type::T].vec_dot = vec_dot_tile<KTile<kDot, __VA_ARGS__>>; \
  t[Type::T].gemm = gemm_tiles<KTile<kDot, __VA_ARGS__>>;
  QGML_SET(Q2_K, Q2K)
  QGML_SET(Q3_K, Q3K)
  QGML_SET(Q4_K, Q45K<false>)
  QGML_SET(Q5_K, Q45K<true>)
  QGML_SET(Q6_K, Q6K)
#undef QGML_SET
}

}  // namespace

void register_neon_kquant_kernels(KernelTable& t) {
  if (cpu_features().dotprod)
    register_level<true>(t);
  else
    register_level<false>(t);
}

}  // namespace qgml
