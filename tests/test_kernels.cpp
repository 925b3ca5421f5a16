// Every kernel level against the scalar reference, for every type of the
// traits table (new types are covered without touching this file).
//
//   to_float       exact: dequantization is d·q (+ m), exactly representable
//   vec_dot        |level − scalar| ≤ 1e-6 + γ·S and |scalar − double ref| ≤ the same,
//                  γ = 4·(k + block)·2⁻²⁴, S = Σ_i W_b(i)·|a_i| where W_b(i) is the
//                  largest |weight| in element i's block: float accumulation error,
//                  covering kernels that factor a block's scale or offset out of the sum
//   gemm           bitwise equal to the same level's vec_dot (the kernel contract)
//   quantize_act   byte-equal, or per block at most twice the scalar quantizer's
//                  largest error (SIMD rounding may differ at ties)
//   axpy           |y + a·x − exact| ≤ 2⁻²⁴·(|a·x| + |exact|) per element: one
//                  rounding of the product (none when fused) and one of the sum
// Levels the CPU cannot run are skipped loudly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cpu/kernels.h"
#include "qgml/cpu.h"
#include "qgml/fp16.h"
#include "qgml/types.h"

namespace qgml {
namespace {

const int64_t kLengths[] = {1, 7, 31, 32, 33, 64, 172, 256, 300, 4096 + 5};

std::vector<float> random_row(int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(k));
  for (float& x : v) x = dist(rng);
  if (k > 3) v[static_cast<size_t>(k / 2)] *= 8.0f;  // an outlier, as real weights have
  return v;
}

// Weight bytes of type t for k random values (rows padded to whole blocks).
std::vector<uint8_t> quantize(Type t, const std::vector<float>& x) {
  std::vector<uint8_t> q(row_size(t, static_cast<int64_t>(x.size())) + 64);
  traits(t).from_float(x.data(), q.data(), static_cast<int64_t>(x.size()));
  return q;
}

std::vector<float> dequantize(Type t, const void* q, int64_t k) {
  std::vector<float> y(static_cast<size_t>(k));
  traits(t).to_float(q, y.data(), k);
  return y;
}

class Kernels : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!isa_supported(GetParam())) {
      std::fprintf(stderr, "\n*** SKIPPED: kernel level %s is not supported on this CPU/build; its kernels are NOT tested "
                           "here ***\n\n", isa_name(GetParam()));
      GTEST_SKIP() << isa_name(GetParam()) << " not supported here";
    }
  }
  const KernelTable& level() const { return kernels_for(GetParam()); }
  const KernelTable& scalar() const { return kernels_for(Isa::Scalar); }
};

bool usable(Type t) { return traits(t).to_float != nullptr && traits(t).from_float != nullptr; }

TEST_P(Kernels, ToFloatEqualsScalar) {
  for (int ti = 0; ti < kTypeCount; ++ti) {
    const Type t = static_cast<Type>(ti);
    if (!usable(t) || level()[t].to_float == nullptr) continue;
    for (int64_t k : kLengths) {
      const std::vector<uint8_t> q = quantize(t, random_row(k, static_cast<uint32_t>(k * 31 + ti)));
      std::vector<float> a(static_cast<size_t>(k)), b(static_cast<size_t>(k));  // exact sizes: ASan sees overruns
      scalar()[t].to_float(q.data(), a.data(), k);
      level()[t].to_float(q.data(), b.data(), k);
      ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << type_name(t) << " k=" << k;
      // The kernel table's scalar slot is the traits' converter.
      EXPECT_EQ(dequantize(t, q.data(), k), a) << type_name(t) << " k=" << k;
    }
  }
}

// One weight row of type t and one activation row in its vec_dot_type, both
// random, with the double-precision reference and tolerance of their dot.
struct DotCase {
  std::vector<uint8_t> w, act;
  double ref = 0, tol = 0;
};

DotCase make_dot_case(Type t, int64_t k, uint32_t seed) {
  const Type vdt = traits(t).vec_dot_type;
  const int64_t bs = traits(t).block_size;
  DotCase c;
  c.w = quantize(t, random_row(k, seed));
  const std::vector<float> x = random_row(k, seed + 1000);
  c.act.resize(row_size(vdt, k) + 64);
  kernels_for(Isa::Scalar)[vdt].quantize_act(x.data(), c.act.data(), k);
  const std::vector<float> wd = dequantize(t, c.w.data(), k);
  const std::vector<float> ad = dequantize(vdt, c.act.data(), k);
  double s = 0;
  for (int64_t i0 = 0; i0 < k; i0 += bs) {
    double wmax = 0;
    for (int64_t i = i0; i < std::min(k, i0 + bs); ++i) wmax = std::max(wmax, std::fabs(static_cast<double>(wd[i])));
    for (int64_t i = i0; i < std::min(k, i0 + bs); ++i) {
      c.ref += static_cast<double>(wd[i]) * ad[i];
      s += wmax * std::fabs(static_cast<double>(ad[i]));
    }
  }
  c.tol = 1e-6 + 4.0 * static_cast<double>(k + bs) * std::ldexp(1.0, -24) * s;
  return c;
}

bool has_dot(Type t) {
  return usable(t) && kernels_for(Isa::Scalar)[t].vec_dot != nullptr &&
         kernels_for(Isa::Scalar)[traits(t).vec_dot_type].quantize_act != nullptr;
}

TEST_P(Kernels, VecDotEqualsScalar) {
  for (int ti = 0; ti < kTypeCount; ++ti) {
    const Type t = static_cast<Type>(ti);
    if (!has_dot(t)) continue;
    ASSERT_NE(level()[t].vec_dot, nullptr) << type_name(t);
    for (int64_t k : kLengths) {
      const DotCase c = make_dot_case(t, k, static_cast<uint32_t>(k * 7 + ti));
      const float sc = scalar()[t].vec_dot(k, c.w.data(), c.act.data());
      const float lv = level()[t].vec_dot(k, c.w.data(), c.act.data());
      EXPECT_NEAR(lv, sc, c.tol) << isa_name(GetParam()) << " " << type_name(t) << " k=" << k;
    }
  }
}

// The scalar kernel computes the dot of what to_float says the weights are
// (with the activation as quantize_act made it): mul_mat must agree with
// dequantize-then-multiply up to float accumulation.
TEST(KernelReference, ScalarVecDotMatchesDequantizedDouble) {
  for (int ti = 0; ti < kTypeCount; ++ti) {
    const Type t = static_cast<Type>(ti);
    if (!has_dot(t)) continue;
    int bad = 0;
    double worst = 0;
    for (int64_t k : kLengths) {
      const DotCase c = make_dot_case(t, k, static_cast<uint32_t>(k * 7 + ti));
      const double got = kernels_for(Isa::Scalar)[t].vec_dot(k, c.w.data(), c.act.data());
      if (std::fabs(got - c.ref) > c.tol) {
        ++bad;
        worst = std::max(worst, std::fabs(got - c.ref) / c.tol);
      }
    }
    EXPECT_EQ(bad, 0) << type_name(t) << ": vec_dot disagrees with to_float-dequantized weights on " << bad << " of "
                      << std::size(kLengths) << " lengths (worst error " << worst << "× the accumulation tolerance)";
  }
}

TEST_P(Kernels, GemmEqualsVecDot) {
  for (int ti = 0; ti < kTypeCount; ++ti) {
    const Type t = static_cast<Type>(ti);
    if (!has_dot(t) || level()[t].gemm == nullptr) continue;
    const Type vdt = traits(t).vec_dot_type;
    for (int64_t k : {int64_t{33}, int64_t{256}, int64_t{300}, int64_t{1000}}) {
      const int64_t NR = 17, NC = 9;
      const size_t ws = row_size(t, k), as = row_size(vdt, k);
      std::vector<uint8_t> w(ws * NR + 64), a(as * NC + 64);
      for (int64_t r = 0; r < NR; ++r) {
        const std::vector<float> x = random_row(k, static_cast<uint32_t>(r + 100 * ti));
        traits(t).from_float(x.data(), &w[static_cast<size_t>(r) * ws], k);
      }
      for (int64_t c = 0; c < NC; ++c) {
        const std::vector<float> x = random_row(k, static_cast<uint32_t>(c + 5000 + 100 * ti));
        level()[vdt].quantize_act(x.data(), &a[static_cast<size_t>(c) * as], k);
      }
      for (int64_t nr : {1, 2, 3, 4, 5, 8, 17}) {
        for (int64_t nc : {1, 2, 3, 4, 9}) {
          const int64_t ldo = NR + 3;
          std::vector<float> out(static_cast<size_t>(ldo * NC), -12345.0f);
          level()[t].gemm(k, w.data(), ws, nr, a.data(), as, nc, out.data(), ldo);
          for (int64_t c = 0; c < NC; ++c) {
            for (int64_t r = 0; r < ldo; ++r) {
              const float got = out[static_cast<size_t>(c * ldo + r)];
              if (r < nr && c < nc) {
                const float want = level()[t].vec_dot(k, &w[static_cast<size_t>(r) * ws], &a[static_cast<size_t>(c) * as]);
                ASSERT_EQ(f32_to_bits(got), f32_to_bits(want)) << isa_name(GetParam()) << " " << type_name(t) << " k=" << k
                                                          << " nr=" << nr << " nc=" << nc << " at (" << r << "," << c << ")";
              } else {
                ASSERT_EQ(got, -12345.0f) << "gemm wrote outside its tile: " << type_name(t) << " (" << r << "," << c << ")";
              }
            }
          }
        }
      }
    }
  }
}

TEST_P(Kernels, QuantizeActMatchesScalar) {
  for (int ti = 0; ti < kTypeCount; ++ti) {
    const Type t = static_cast<Type>(ti);
    if (!usable(t) || scalar()[t].quantize_act == nullptr) continue;
    ASSERT_NE(level()[t].quantize_act, nullptr) << type_name(t);
    const int64_t bs = traits(t).block_size;
    for (int64_t k : kLengths) {
      const std::vector<float> x = random_row(k, static_cast<uint32_t>(k * 3 + ti));
      const size_t bytes = row_size(t, k);
      std::vector<uint8_t> qs(bytes), ql(bytes);  // exact sizes: ASan sees overruns
      scalar()[t].quantize_act(x.data(), qs.data(), k);
      level()[t].quantize_act(x.data(), ql.data(), k);
      if (qs == ql) continue;
      const std::vector<float> ds = dequantize(t, qs.data(), k), dl = dequantize(t, ql.data(), k);
      for (int64_t i0 = 0; i0 < k; i0 += bs) {
        double es = 0, el = 0;
        for (int64_t i = i0; i < std::min(k, i0 + bs); ++i) {
          es = std::max(es, std::fabs(static_cast<double>(ds[i]) - x[i]));
          el = std::max(el, std::fabs(static_cast<double>(dl[i]) - x[i]));
        }
        EXPECT_LE(el, 2 * es + 1e-7) << isa_name(GetParam()) << " " << type_name(t) << " k=" << k << " block " << i0 / bs;
      }
    }
  }
}

TEST_P(Kernels, AxpyEqualsExact) {
  for (int ti = 0; ti < kTypeCount; ++ti) {
    const Type t = static_cast<Type>(ti);
    if (scalar()[t].axpy == nullptr) continue;
    ASSERT_NE(level()[t].axpy, nullptr) << type_name(t);
    for (int64_t k : kLengths) {
      const std::vector<float> x = random_row(k, static_cast<uint32_t>(k + 11)), y0 = random_row(k, static_cast<uint32_t>(k + 12));
      const std::vector<uint8_t> xq = quantize(t, x);
      const std::vector<float> xd = dequantize(t, xq.data(), k);
      const float a = -0.37f;
      std::vector<float> y = y0;
      // Offset writes: a kernel that writes past k would change the guard.
      y.push_back(12345.0f);
      level()[t].axpy(k, a, xq.data(), y.data());
      EXPECT_EQ(y.back(), 12345.0f) << isa_name(GetParam()) << " " << type_name(t) << " k=" << k << ": wrote past the end";
      for (int64_t i = 0; i < k; ++i) {
        const double exact = static_cast<double>(y0[i]) + static_cast<double>(a) * xd[i];
        // One rounding of a·x and one of the sum: at most 2⁻²⁴ of each magnitude.
        const double tol = std::ldexp(std::fabs(static_cast<double>(a) * xd[i]) + std::fabs(exact), -24);
        EXPECT_LE(std::fabs(y[i] - exact), tol) << isa_name(GetParam()) << " " << type_name(t) << " k=" << k << " i=" << i;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, Kernels, ::testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon),
                         [](const ::testing::TestParamInfo<Isa>& i) { return std::string(isa_name(i.param)); });

}  // namespace
}  // namespace qgml
