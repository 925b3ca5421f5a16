// Half and bfloat16 conversions (qgml/fp16.h): exhaustive round trips, and
// float→half / float→bf16 rounding against the F16C hardware conversion
// (where the CPU has it) and against independent double-precision formulas.
// All checks are exact (bit for bit); NaNs only need to stay NaN with their sign.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "qgml/cpu.h"
#include "qgml/fp16.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define QGML_TEST_F16C 1
#endif

namespace qgml {
namespace {

bool is_nan_f16(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }
bool is_nan_bf16(uint16_t h) { return (h & 0x7f80u) == 0x7f80u && (h & 0x7fu) != 0; }

// Round-to-nearest-even of |x| to the half grid, computed in double.
uint16_t ref_f32_to_f16(float f) {
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  if (std::isnan(f)) return sign | 0x7e00;
  const double a = std::fabs(static_cast<double>(f));
  if (a < std::ldexp(1.0, -14)) {  // subnormal grid: units of 2^-24 (1024 units is the first normal)
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(a / std::ldexp(1.0, -24))));
  }
  int e;
  std::frexp(a, &e);  // a = m·2^e, m in [0.5, 1): the half exponent is e − 1
  const double unit = std::ldexp(1.0, e - 1 - 10);
  const double q = std::nearbyint(a / unit) * unit;  // may round up to the next power of two
  if (q >= 65536.0) return sign | 0x7c00;
  int e2;
  const double m2 = std::frexp(q, &e2);
  const uint16_t exp = static_cast<uint16_t>(e2 - 1 + 15);
  const uint16_t mant = static_cast<uint16_t>(std::lround((m2 * 2 - 1) * 1024));
  return static_cast<uint16_t>(sign | exp << 10 | mant);
}

uint16_t ref_f32_to_bf16(float f) {
  if (std::isnan(f)) return std::signbit(f) ? 0xffc0 : 0x7fc0;
  const double a = std::fabs(static_cast<double>(f));
  double q;
  if (a < std::ldexp(1.0, -126)) {
    q = std::nearbyint(a / std::ldexp(1.0, -133)) * std::ldexp(1.0, -133);
  } else {
    int e;
    std::frexp(a, &e);
    const double unit = std::ldexp(1.0, e - 1 - 7);
    q = std::nearbyint(a / unit) * unit;
  }
  float qf = q >= std::ldexp(1.0, 128) ? INFINITY : static_cast<float>(q);  // exact: q is on the bf16 grid
  if (std::signbit(f)) qf = -qf;
  return static_cast<uint16_t>(f32_to_bits(qf) >> 16);
}

// Floats worth checking: every half value, the midpoints between consecutive
// halves and their neighbours (the rounding boundaries), the same for the bf16
// grid, special values, and random bit patterns of every exponent.
std::vector<float> edge_and_random_floats() {
  std::vector<float> v;
  auto around = [&](uint32_t bits) {
    for (int d = -2; d <= 2; ++d) v.push_back(bits_to_f32(bits + static_cast<uint32_t>(d)));
  };
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    const double lo = fp16_to_f32(static_cast<uint16_t>(h));
    const double hi = h + 1 == 0x7c00 ? 65536.0 : fp16_to_f32(static_cast<uint16_t>(h + 1));
    for (uint32_t s : {0u, 0x80000000u}) {
      around(f32_to_bits(static_cast<float>(lo)) | s);
      around(f32_to_bits(static_cast<float>((lo + hi) / 2)) | s);  // exact: halves have 11-bit mantissas
    }
  }
  for (uint32_t b = 0; b < 0x7f80; b += 7) {
    around(b << 16);
    around((b << 16) | 0x8000u);  // bf16 midpoint
    around((b << 16) | 0x80008000u);
  }
  for (float f : {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 65504.0f, 65519.99f, 65520.0f, 1e-8f, 2.98e-8f,
                  5.96e-8f, 6.1e-5f, 3.4028235e38f, 1.17549435e-38f, 1e-45f})
    v.push_back(f);
  around(0x7f800001u);  // signalling NaN payloads
  around(0x7fbfffffu);
  std::mt19937 rng(42);
  for (int i = 0; i < 2000000; ++i) v.push_back(bits_to_f32(static_cast<uint32_t>(rng())));
  return v;
}

TEST(Fp16, EveryHalfRoundTrips) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    const float f = fp16_to_f32(h);
    const uint16_t back = f32_to_fp16(f);
    if (is_nan_f16(h)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << h;
      ASSERT_TRUE(is_nan_f16(back)) << std::hex << h << " → " << back;
      ASSERT_EQ(back & 0x8000, h & 0x8000) << "NaN sign, " << std::hex << h;
    } else {
      ASSERT_EQ(back, h) << std::hex << "half 0x" << h << " → " << f << " → 0x" << back;
    }
  }
}

TEST(Fp16, HalfToFloatValues) {
  // Independent definition: (−1)^s · 2^(e−15) · (1 + m/1024), subnormals 2^−14 · m/1024.
  for (uint32_t i = 0; i < 0x10000; ++i) {
    const uint32_t s = i >> 15, e = (i >> 10) & 31, m = i & 1023;
    if (e == 31) continue;
    double want = e == 0 ? std::ldexp(m / 1024.0, -14) : std::ldexp(1 + m / 1024.0, static_cast<int>(e) - 15);
    if (s) want = -want;
    ASSERT_EQ(static_cast<double>(fp16_to_f32(static_cast<uint16_t>(i))), want) << std::hex << i;
    ASSERT_EQ(std::signbit(fp16_to_f32(static_cast<uint16_t>(i))), s != 0) << std::hex << i;
  }
  EXPECT_EQ(fp16_to_f32(0x7c00), INFINITY);
  EXPECT_EQ(fp16_to_f32(0xfc00), -INFINITY);
}

TEST(Fp16, FloatToHalfMatchesDoubleFormula) {
  size_t bad = 0;
  for (float f : edge_and_random_floats()) {
    const uint16_t got = f32_to_fp16(f), want = ref_f32_to_f16(f);
    const bool ok = std::isnan(f) ? is_nan_f16(got) && (got & 0x8000) == (want & 0x8000) : got == want;
    if (!ok && ++bad <= 10)
      ADD_FAILURE() << std::hex << "f32 0x" << f32_to_bits(f) << " (" << f << "): got 0x" << got << " want 0x" << want;
  }
  EXPECT_EQ(bad, 0u);
}

#if defined(QGML_TEST_F16C)
__attribute__((target("f16c"))) uint16_t hw_f32_to_f16(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, 0));  // 0: round to nearest even
}
__attribute__((target("f16c"))) float hw_f16_to_f32(uint16_t h) { return _cvtsh_ss(h); }
#endif

TEST(Fp16, MatchesF16cHardware) {
#if defined(QGML_TEST_F16C)
  if (!cpu_features().f16c) {
    std::fprintf(stderr, "\n*** SKIPPED: this CPU has no F16C; the double-precision formula test still ran ***\n\n");
    GTEST_SKIP() << "no F16C";
  }
  size_t bad = 0;
  for (float f : edge_and_random_floats()) {
    const uint16_t got = f32_to_fp16(f), want = hw_f32_to_f16(f);
    if (got != want && ++bad <= 10)  // NaNs included: both quieten and keep the payload's top bits
      ADD_FAILURE() << std::hex << "f32 0x" << f32_to_bits(f) << " (" << f << "): got 0x" << got << " F16C 0x" << want;
  }
  EXPECT_EQ(bad, 0u);
  for (uint32_t i = 0; i < 65536; ++i) {
    const float got = fp16_to_f32(static_cast<uint16_t>(i)), want = hw_f16_to_f32(static_cast<uint16_t>(i));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << i;
    } else {
      ASSERT_EQ(f32_to_bits(got), f32_to_bits(want)) << std::hex << "half 0x" << i;
    }
  }
#else
  std::fprintf(stderr, "\n*** SKIPPED: F16C comparison is x86-only ***\n\n");
  GTEST_SKIP() << "not x86";
#endif
}

TEST(Bf16, EveryBf16RoundTrips) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    const float f = bf16_to_f32(h);
    ASSERT_EQ(f32_to_bits(f), i << 16) << std::hex << h;  // bf16 is the top half of a float
    const uint16_t back = f32_to_bf16(f);
    if (is_nan_bf16(h)) {
      ASSERT_TRUE(is_nan_bf16(back)) << std::hex << h << " → " << back;
      ASSERT_EQ(back & 0x8000, h & 0x8000);
    } else {
      ASSERT_EQ(back, h) << std::hex << h;
    }
  }
}

TEST(Bf16, FloatToBf16MatchesDoubleFormula) {
  size_t bad = 0;
  for (float f : edge_and_random_floats()) {
    const uint16_t got = f32_to_bf16(f), want = ref_f32_to_bf16(f);
    const bool ok = std::isnan(f) ? is_nan_bf16(got) && (got & 0x8000) == (want & 0x8000) : got == want;
    if (!ok && ++bad <= 10)
      ADD_FAILURE() << std::hex << "f32 0x" << f32_to_bits(f) << " (" << f << "): got 0x" << got << " want 0x" << want;
  }
  EXPECT_EQ(bad, 0u);
}

}  // namespace
}  // namespace qgml
