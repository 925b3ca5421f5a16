// AVX2 + FMA + F16C kernels (compiled with those flags; used only when CPUID
// reports them).
#include <immintrin.h>

#include "../../quants.h"
#include "../kernels.h"

namespace qgml {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256 load_bf16(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

float dot_f32(int64_t k, const void* w, const void* a) {
  const float* x = static_cast<const float*>(w);
  const float* y = static_cast<const float*>(a);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= k; i += 32)
    for (int u = 0; u < 4; ++u)
      acc[u] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8 * u), _mm256_loadu_ps(y + i + 8 * u), acc[u]);
  for (; i + 8 <= k; i += 8) acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc[0]);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < k; ++i) s += x[i] * y[i];
  return s;
}

float dot_f16(int64_t k, const void* w, const void* a) {
  const uint16_t* x = static_cast<const uint16_t*>(w);
  const float* y = static_cast<const float*>(a);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= k; i += 32)
    for (int u = 0; u < 4; ++u)
      acc[u] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i + 8 * u))),
                               _mm256_loadu_ps(y + i + 8 * u), acc[u]);
  for (; i + 8 <= k; i += 8)
    acc[0] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))),
                             _mm256_loadu_ps(y + i), acc[0]);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < k; ++i) s += fp16_to_f32(x[i]) * y[i];
  return s;
}

float dot_bf16(int64_t k, const void* w, const void* a) {
  const uint16_t* x = static_cast<const uint16_t*>(w);
  const float* y = static_cast<const float*>(a);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= k; i += 32)
    for (int u = 0; u < 4; ++u) acc[u] = _mm256_fmadd_ps(load_bf16(x + i + 8 * u), _mm256_loadu_ps(y + i + 8 * u), acc[u]);
  for (; i + 8 <= k; i += 8) acc[0] = _mm256_fmadd_ps(load_bf16(x + i), _mm256_loadu_ps(y + i), acc[0]);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < k; ++i) s += bf16_to_f32(x[i]) * y[i];
  return s;
}

void f16_row_to_float(const void* src, float* dst, int64_t k) {
  const uint16_t* x = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= k; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
  for (; i < k; ++i) dst[i] = fp16_to_f32(x[i]);
}

}  // namespace

void register_avx2_kernels(KernelTable& t) {
  t[Type::F32].vec_dot = dot_f32;
  t[Type::F16].vec_dot = dot_f16;
  t[Type::F16].to_float = f16_row_to_float;
  t[Type::BF16].vec_dot = dot_bf16;
  register_avx2_quant_kernels(t);
  register_avx2_q5_iq4_kernels(t);
  register_avx2_kquant_kernels(t);
  register_avx2_bnb4_kernels(t);
}

}  // namespace qgml
