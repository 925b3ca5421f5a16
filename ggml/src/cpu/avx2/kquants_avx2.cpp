// AVX2 kernels for llama.cpp's K-quants against Q8_K activations, and the
// Q8_K activation quantizer.
//
// Per super-block and activation row, the same exact integers as the scalar
// reference (cpu/scalar/kquants_scalar.cpp): each 32-weight chunk is
// unpacked to bytes (quants are unsigned: Q3_K/Q6_K's −4/−32 offsets are
// taken out later through the activation sums), multiplied with the int8
// activations by maddubs (u8 × s8 into int16: at most 2·63·127 = 16002, no
// saturation), weighted by its sub-block scales with madd into int32
// (|Σ| < 2^27 per block). Mins and offsets are Σ scale_j·bsums_j, one more
// madd. One convert and FMA per super-block carries it into the row's float
// accumulator; only the float summation order differs from scalar.
#include <cmath>
#include <type_traits>

#include "../../quants.h"
#include "../../quants_k.h"
#include "../gemm_tiles.h"
#include "../kernels.h"
#include "avx2_util.h"

namespace qgml {
namespace {

using namespace avx2;

inline const BlockQ8K* act_block(const uint8_t* a, int64_t b) { return reinterpret_cast<const BlockQ8K*>(a) + b; }

// Sub-block scales for the int16 madd, by one byte shuffle per chunk from
// the 8 int16 scales of a 128-element half broadcast to both 128-bit lanes
// (half16): pair_scale gives lanes 0-7 (elements 0-15 after maddubs) scale
// 2c and lanes 8-15 scale 2c+1; one_scale gives every lane scale j.
inline __m256i half16(__m128i s16) { return _mm256_broadcastsi128_si256(s16); }
inline __m256i pair_scale(__m256i h, int c) {
  const char lo = static_cast<char>(4 * c), hi = static_cast<char>(4 * c + 2);
  return _mm256_shuffle_epi8(h, _mm256_setr_epi8(lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1,
                                                 lo, lo + 1, lo, lo + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1,
                                                 hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1));
}
inline __m256i one_scale(__m256i h, int j) {
  return _mm256_shuffle_epi8(h, _mm256_set1_epi16(static_cast<int16_t>(2 * j | (2 * j + 1) << 8)));
}
// The int16 scales of half h (0: scales 0-7, 1: scales 8-15) of 16.
inline __m256i half_of(__m256i s16, int h) {
  return half16(h == 0 ? _mm256_castsi256_si128(s16) : _mm256_extracti128_si256(s16, 1));
}

// Shared tiling over super-blocks: U::block<NA> adds one super-block of one
// weight row into NA float accumulators (the same operations for any NA).
template <class U>
struct KTile {
  template <int R, int NA>
  static void tile(int64_t k, const uint8_t* w, size_t ws, const uint8_t* const* act, float* out, int64_t ldo) {
    const int64_t nb = (k + kQK_K - 1) / kQK_K;
    __m256 acc[R][NA];
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) acc[r][j] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const BlockQ8K* a[NA];
      for (int j = 0; j < NA; ++j) a[j] = act_block(act[j], b);
      for (int r = 0; r < R; ++r) {
        const uint8_t* p = w + r * ws + b * static_cast<int64_t>(sizeof(typename U::Block));
        _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T0);
        U::template block<NA>(*reinterpret_cast<const typename U::Block*>(p), a, acc[r]);
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < NA; ++j) out[j * ldo + r] = hsum(acc[r][j]);
  }
};

// isum += scale16 · maddubs(q, a) for each activation row.
template <int NA>
inline void chunk(__m256i q, __m256i scale16, const BlockQ8K* const* a, int off, __m256i* isum) {
  for (int j = 0; j < NA; ++j)
    isum[j] = _mm256_add_epi32(isum[j], _mm256_madd_epi16(_mm256_maddubs_epi16(q, load(a[j]->qs + off)), scale16));
}

inline __m256i bsums(const BlockQ8K* a) { return load(a->bsums); }

struct Q2K {
  using Block = BlockQ2K;
  template <int NA>
  static void block(const BlockQ2K& x, const BlockQ8K* const* a, __m256* acc) {
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m256i sc16 = _mm256_cvtepu8_epi16(
        _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.scales)), _mm_set1_epi8(15)));
    __m256i isum[NA];
    for (int j = 0; j < NA; ++j) isum[j] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i q = load(x.qs + 32 * h), sh = half_of(sc16, h);
      for (int c = 0; c < 4; ++c) {
        const __m256i qc = _mm256_and_si256(_mm256_srli_epi16(q, 2 * c), m3);
        chunk<NA>(qc, pair_scale(sh, c), a, 128 * h + 32 * c, isum);
      }
    }
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_srli_epi16(
        _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.scales)), _mm_set1_epi8(static_cast<char>(0xf0))), 4));
    const float d = fp16_to_f32(x.d), dmin = fp16_to_f32(x.dmin);
    for (int j = 0; j < NA; ++j) {
      const __m256i msum = _mm256_madd_epi16(mins, bsums(a[j]));
      acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[j]), _mm256_set1_ps(d * a[j]->d), acc[j]);
      acc[j] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(dmin * a[j]->d), acc[j]);
    }
  }
};

// Offsets types (Q3_K: q − 4, Q6_K: q − 32): isum −= off · Σ sc_j·bsums_j.
template <int NA, int kShift>
inline void take_offset(const __m256i sc16, const BlockQ8K* const* a, __m256i* isum) {
  for (int j = 0; j < NA; ++j)
    isum[j] = _mm256_sub_epi32(isum[j], _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsums(a[j])), kShift));
}

struct Q3K {
  using Block = BlockQ3K;
  template <int NA>
  static void block(const BlockQ3K& x, const BlockQ8K* const* a, __m256* acc) {
    // The 16 six-bit scales (layout in quants_k.h) through 32-bit words.
    uint32_t w[3], s[4];
    std::memcpy(w, x.scales, 12);
    const uint32_t lo4 = 0x0f0f0f0f, lo2 = 0x03030303;
    s[0] = (w[0] & lo4) | ((w[2] & lo2) << 4);
    s[1] = (w[1] & lo4) | (((w[2] >> 2) & lo2) << 4);
    s[2] = ((w[0] >> 4) & lo4) | (((w[2] >> 4) & lo2) << 4);
    s[3] = ((w[1] >> 4) & lo4) | (((w[2] >> 6) & lo2) << 4);
    const __m256i m3 = _mm256_set1_epi8(3), m1 = _mm256_set1_epi8(1);
    const __m256i hm = load(x.hmask);
    const __m256i sc16 = _mm256_cvtepi8_epi16(
        _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s)), _mm_set1_epi8(32)));
    __m256i isum[NA];
    for (int j = 0; j < NA; ++j) isum[j] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i q = load(x.qs + 32 * h), sh = half_of(sc16, h);
      for (int c = 0; c < 4; ++c) {
        const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(q, 2 * c), m3);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + c), m1);
        const __m256i qc = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 2));
        chunk<NA>(qc, pair_scale(sh, c), a, 128 * h + 32 * c, isum);
      }
    }
    take_offset<NA, 2>(sc16, a, isum);
    const float d = fp16_to_f32(x.d);
    for (int j = 0; j < NA; ++j)
      acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[j]), _mm256_set1_ps(d * a[j]->d), acc[j]);
  }
};

// Q4_K / Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins.
template <bool kHigh>
struct Q45K {
  using Block = std::conditional_t<kHigh, BlockQ5K, BlockQ4K>;
  template <int NA>
  static void block(const Block& x, const BlockQ8K* const* a, __m256* acc) {
    // Scales to bytes 0-7 and mins to bytes 8-15 (layout in quants_k.h).
    uint32_t w[3], s[4];
    std::memcpy(w, x.scales, 12);
    const uint32_t lo6 = 0x3f3f3f3f, lo4 = 0x0f0f0f0f, lo2 = 0x03030303;
    s[0] = w[0] & lo6;
    s[1] = (w[2] & lo4) | (((w[0] >> 6) & lo2) << 4);
    s[2] = w[1] & lo6;
    s[3] = ((w[2] >> 4) & lo4) | (((w[1] >> 6) & lo2) << 4);
    const __m256i sh = half16(_mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(s))));
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256i qh;
    if constexpr (kHigh) qh = load(x.qh);
    __m256i isum[NA];
    for (int j = 0; j < NA; ++j) isum[j] = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
      const __m256i q = load(x.qs + 32 * p);
      __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
      if constexpr (kHigh) {
        const __m256i one = _mm256_set1_epi8(1);
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * p), one), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * p + 1), one), 4));
      }
      chunk<NA>(lo, one_scale(sh, 2 * p), a, 64 * p, isum);
      chunk<NA>(hi, one_scale(sh, 2 * p + 1), a, 64 * p + 32, isum);
    }
    // Each min pairs with the two 16-sums of its sub-block.
    const __m128i dup = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s)), dup));
    const float d = fp16_to_f32(x.d), dmin = fp16_to_f32(x.dmin);
    for (int j = 0; j < NA; ++j) {
      const __m256i msum = _mm256_madd_epi16(mins, bsums(a[j]));
      acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[j]), _mm256_set1_ps(d * a[j]->d), acc[j]);
      acc[j] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(dmin * a[j]->d), acc[j]);
    }
  }
};

struct Q6K {
  using Block = BlockQ6K;
  template <int NA>
  static void block(const BlockQ6K& x, const BlockQ8K* const* a, __m256* acc) {
    const __m256i m4 = _mm256_set1_epi8(15), m3 = _mm256_set1_epi8(3);
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.scales)));
    __m256i isum[NA];
    for (int j = 0; j < NA; ++j) isum[j] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i l0 = load(x.ql + 64 * h), l1 = load(x.ql + 64 * h + 32), qh = load(x.qh + 32 * h);
      const __m256i sh = half_of(sc16, h);
      const __m256i lo[4] = {_mm256_and_si256(l0, m4), _mm256_and_si256(l1, m4),
                             _mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(_mm256_srli_epi16(l1, 4), m4)};
      for (int c = 0; c < 4; ++c) {
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), m3);
        const __m256i qc = _mm256_or_si256(lo[c], _mm256_slli_epi16(hi, 4));
        chunk<NA>(qc, pair_scale(sh, c), a, 128 * h + 32 * c, isum);
      }
    }
    take_offset<NA, 5>(sc16, a, isum);
    const float d = fp16_to_f32(x.d);
    for (int j = 0; j < NA; ++j)
      acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[j]), _mm256_set1_ps(d * a[j]->d), acc[j]);
  }
};

// Bit-exact with q8_k_from_float: the same first element of largest
// magnitude (ties keep the earliest), the same iscale = −127/max, and
// round-to-nearest-even of iscale·x clamped at 127.
void quantize_q8_k(const float* x, void* dst, int64_t k) {
  BlockQ8K* out = static_cast<BlockQ8K*>(dst);
  alignas(32) float tmp[kQK_K];
  for (int64_t i = 0; i < k; i += kQK_K, ++out) {
    const float* src = block_floats(x, i, k, tmp, kQK_K);
    const float amax = absmax(src, kQK_K);
    if (amax == 0.0f) {
      std::memset(out, 0, sizeof *out);
      continue;
    }
    // The sign of the first element reaching amax (the scalar scan's choice).
    float max = amax;
    for (int j = 0; j < kQK_K; ++j)
      if (std::fabs(src[j]) == amax) {
        max = src[j];
        break;
      }
    const float iscale = -127.0f / max;
    const __m256 is = _mm256_set1_ps(iscale);
    const __m256i lim = _mm256_set1_epi32(127);
    for (int s = 0; s < kQK_K / 32; ++s) {
      const float* p = src + 32 * s;
      __m256i v[4];
      for (int u = 0; u < 4; ++u)
        v[u] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(p + 8 * u), is)), lim);
      // Sums of 16: elements 0-15 are v[0], v[1]; 16-31 are v[2], v[3].
      out->bsums[2 * s] = static_cast<int16_t>(hsum_i32(_mm256_add_epi32(v[0], v[1])));
      out->bsums[2 * s + 1] = static_cast<int16_t>(hsum_i32(_mm256_add_epi32(v[2], v[3])));
      store_i8(out->qs + 32 * s, v[0], v[1], v[2], v[3]);
    }
    out->d = 1.0f / iscale;
  }
}

}  // namespace

void register_avx2_kquant_kernels(KernelTable& t) {
  t[Type::Q8_K].quantize_act = quantize_q8_k;
  t[Type::Q2_K].vec_dot = vec_dot_tile<KTile<Q2K>>;
  t[Type::Q2_K].gemm = gemm_tiles<KTile<Q2K>>;
  t[Type::Q3_K].vec_dot = vec_dot_tile<KTile<Q3K>>;
  t[Type::Q3_K].gemm = gemm_tiles<KTile<Q3K>>;
  t[Type::Q4_K].vec_dot = vec_dot_tile<KTile<Q45K<false>>>;
  t[Type::Q4_K].gemm = gemm_tiles<KTile<Q45K<false>>>;
  t[Type::Q5_K].vec_dot = vec_dot_tile<KTile<Q45K<true>>>;
  t[Type::Q5_K].gemm = gemm_tiles<KTile<Q45K<true>>>;
  t[Type::Q6_K].vec_dot = vec_dot_tile<KTile<Q6K>>;
  t[Type::Q6_K].gemm = gemm_tiles<KTile<Q6K>>;
}

}  // namespace qgml
