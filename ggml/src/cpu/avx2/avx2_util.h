// Helpers shared by the AVX2 kernel files (included only by files compiled
// with -mavx2 -mfma -mf16c).
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace qgml::avx2 {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// The activation quantizers' shared steps. block_floats: the qk floats of
// the block at x[i] in a row of k, or for a last partial block a zero-padded
// copy in tmp (qk floats).
inline const float* block_floats(const float* x, int64_t i, int64_t k, float* tmp, int qk) {
  if (k - i >= qk) return x + i;
  std::memset(tmp, 0, static_cast<size_t>(qk) * sizeof(float));
  std::memcpy(tmp, x + i, static_cast<size_t>(k - i) * sizeof(float));
  return tmp;
}

// max |p[j]| over n floats (n a multiple of 8).
inline float absmax(const float* p, int n) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  for (int j = 0; j < n; j += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(p + j)));
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  return _mm_cvtss_f32(m4);
}

// Stores 4 × 8 int32 as 32 int8 in element order (saturating): packs work
// per 128-bit lane, the permute restores the order.
inline void store_i8(int8_t* dst, __m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i b8 = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst),
                      _mm256_permutevar8x32_epi32(b8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}

inline float f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

inline int32_t load32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline __m256i load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m256i bcast16(const uint8_t* p) {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256i bcast8(const uint8_t* p) {
  int64_t v;
  std::memcpy(&v, p, 8);
  return _mm256_set1_epi64x(v);
}
inline __m256i bcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// Elements [32c, 32c+32) of a P-bit plane of a G-element group (layout in
// quants.h), one per byte in its low P bits; the bits above are not cleared.
// The plane is loaded or broadcast so that one variable shift brings every
// element's bits down.
template <int P, int G, int C>
inline __m256i plane_raw(const uint8_t* plane) {
  constexpr int kNp = G * P / 8;  // plane bytes
  constexpr int kE0 = 32 * C;
  static_assert(kE0 < G, "chunk inside the group");
  if constexpr (kNp >= 32) {
    return _mm256_srli_epi64(load(plane + kE0 % kNp), P * (kE0 / kNp));
  } else if constexpr (kNp == 16) {
    constexpr int s = P * (kE0 / 16);
    return _mm256_srlv_epi64(bcast16(plane), _mm256_setr_epi64x(s, s, s + P, s + P));
  } else if constexpr (kNp == 8) {
    constexpr int s = P * (kE0 / 8);
    return _mm256_srlv_epi64(bcast8(plane), _mm256_setr_epi64x(s, s + P, s + 2 * P, s + 3 * P));
  } else {
    static_assert(kNp == 4, "plane of 4 bytes");
    constexpr int s = P * (kE0 / 4);
    return _mm256_srlv_epi32(bcast4(plane),
                             _mm256_setr_epi32(s, s + P, s + 2 * P, s + 3 * P, s + 4 * P, s + 5 * P, s + 6 * P, s + 7 * P));
  }
}

// As plane_raw<1, G, C>, but with each element's bit at bit 2 of its byte
// (other bits not cleared): where every 64-bit lane's shift has the same
// sign, the one variable shift also moves the bit into place, saving a shift
// per chunk of the 3-bit types (G = 128 but for chunk 0, G = 64 but for
// chunk 0).
template <int G, int C>
inline __m256i bit_plane_at2(const uint8_t* plane) {
  constexpr int kNp = G / 8;
  constexpr int s = 32 * C / kNp;  // bit of the first 64-bit lane's elements
  if constexpr (kNp == 16 && s >= 2) {
    return _mm256_srlv_epi64(bcast16(plane), _mm256_setr_epi64x(s - 2, s - 2, s - 1, s - 1));
  } else if constexpr (kNp == 16 && s == 0) {
    return _mm256_sllv_epi64(bcast16(plane), _mm256_setr_epi64x(2, 2, 1, 1));
  } else if constexpr (kNp == 8 && s >= 2) {
    return _mm256_srlv_epi64(bcast8(plane), _mm256_setr_epi64x(s - 2, s - 1, s, s + 1));
  } else {
    // A left shift inside 64 bits: bit 2 of each byte comes from its own bit 0.
    return _mm256_slli_epi64(plane_raw<1, G, C>(plane), 2);
  }
}

// Quants (0 .. 2^B − 1) of elements [32c, 32c+32) of a GPTQ block's quant bytes.
template <int B, int G, int C>
inline __m256i gptq_chunk(const uint8_t* qs) {
  if constexpr (B == 3) {
    const __m256i lo = _mm256_and_si256(plane_raw<2, G, C>(qs), _mm256_set1_epi8(3));
    const __m256i hi = _mm256_and_si256(bit_plane_at2<G, C>(qs + G / 4), _mm256_set1_epi8(4));
    return _mm256_or_si256(lo, hi);
  } else {
    return _mm256_and_si256(plane_raw<B, G, C>(qs), _mm256_set1_epi8((1 << B) - 1));
  }
}

// Low 32-bit lane = v, others 0.
inline __m256i lane0(int v) { return _mm256_setr_epi32(v, 0, 0, 0, 0, 0, 0, 0); }

}  // namespace qgml::avx2
