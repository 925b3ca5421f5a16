// Force-included into ggml/src/cpu/avx512/*.cpp by the CMake option
// QGML_EMULATED_AVX512 (tests only, off by default): the AVX-512 intrinsics
// are then SIMDe's software versions (Debian's libsimde-dev, header-only), so
// the AVX-512 kernels can be tested on CPUs without AVX-512, as the NEON ones
// are under qemu. SIMDe's native aliases are macros with the intrinsics'
// names; the few intrinsics Debian's SIMDe (0.7.4) lacks are defined below,
// element by element, with Intel's documented semantics.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

// SIMDe 0.7.4 aliases _mm512_madd_epi16 to its 4-argument masked form.
#undef _mm512_madd_epi16
#define _mm512_madd_epi16(a, b) simde_mm512_madd_epi16(a, b)

namespace qgml_emu {

template <class V, class T, int N>
inline V from_array(const T (&a)[N]) {
  static_assert(sizeof(V) == sizeof(a), "lane count");
  V v;
  std::memcpy(&v, a, sizeof v);
  return v;
}
template <class T, int N, class V>
inline void to_array(V v, T (&a)[N]) {
  static_assert(sizeof(V) == sizeof(a), "lane count");
  std::memcpy(a, &v, sizeof v);
}

inline simde__m512 cvtepi32_ps(simde__m512i a) {
  int32_t x[16];
  float r[16];
  to_array(a, x);
  for (int i = 0; i < 16; ++i) r[i] = static_cast<float>(x[i]);
  return from_array<simde__m512>(r);
}
inline simde__m512i cvtepu16_epi32(__m256i a) {
  uint16_t x[16];
  int32_t r[16];
  to_array(a, x);
  for (int i = 0; i < 16; ++i) r[i] = x[i];
  return from_array<simde__m512i>(r);
}
inline simde__m512i cvtepu8_epi16(__m256i a) {
  uint8_t x[32];
  int16_t r[32];
  to_array(a, x);
  for (int i = 0; i < 32; ++i) r[i] = x[i];
  return from_array<simde__m512i>(r);
}
inline simde__m512i cvtepi16_epi32(__m256i a) {
  int16_t x[16];
  int32_t r[16];
  to_array(a, x);
  for (int i = 0; i < 16; ++i) r[i] = x[i];
  return from_array<simde__m512i>(r);
}
inline simde__m512 cvtph_ps(__m256i a) {
  uint16_t x[16];
  float r[16];
  to_array(a, x);
  for (int i = 0; i < 16; ++i) r[i] = _cvtsh_ss(x[i]);
  return from_array<simde__m512>(r);
}
// Masked-off elements are not read (AVX-512 suppresses their faults).
inline simde__m512 maskz_loadu_ps(uint16_t k, const void* p) {
  float r[16] = {};
  for (int i = 0; i < 16; ++i)
    if ((k >> i) & 1) std::memcpy(&r[i], static_cast<const char*>(p) + 4 * i, 4);
  return from_array<simde__m512>(r);
}
inline __m256i maskz_loadu_epi16_256(uint16_t k, const void* p) {
  uint16_t r[16] = {};
  for (int i = 0; i < 16; ++i)
    if ((k >> i) & 1) std::memcpy(&r[i], static_cast<const char*>(p) + 2 * i, 2);
  return from_array<__m256i>(r);
}
// In GCC's order: the 256-bit halves, then the 128-bit halves, then lanes (0+2, 1+3), then those two.
inline float reduce_add_ps(simde__m512 a) {
  float x[16];
  to_array(a, x);
  float h[8], q[4];
  for (int i = 0; i < 8; ++i) h[i] = x[8 + i] + x[i];
  for (int i = 0; i < 4; ++i) q[i] = h[4 + i] + h[i];
  return (q[0] + q[2]) + (q[1] + q[3]);
}

}  // namespace qgml_emu

#ifndef _mm512_cvtepi32_ps
#define _mm512_cvtepi32_ps(a) qgml_emu::cvtepi32_ps(a)
#endif
#ifndef _mm512_cvtepu16_epi32
#define _mm512_cvtepu16_epi32(a) qgml_emu::cvtepu16_epi32(a)
#endif
#ifndef _mm512_cvtepu8_epi16
#define _mm512_cvtepu8_epi16(a) qgml_emu::cvtepu8_epi16(a)
#endif
#ifndef _mm512_cvtepi16_epi32
#define _mm512_cvtepi16_epi32(a) qgml_emu::cvtepi16_epi32(a)
#endif
#ifndef _mm512_cvtph_ps
#define _mm512_cvtph_ps(a) qgml_emu::cvtph_ps(a)
#endif
#ifndef _mm512_maskz_loadu_ps
#define _mm512_maskz_loadu_ps(k, p) qgml_emu::maskz_loadu_ps(k, p)
#endif
#ifndef _mm256_maskz_loadu_epi16
#define _mm256_maskz_loadu_epi16(k, p) qgml_emu::maskz_loadu_epi16_256(k, p)
#endif
#ifndef _mm512_reduce_add_ps
#define _mm512_reduce_add_ps(a) qgml_emu::reduce_add_ps(a)
#endif
