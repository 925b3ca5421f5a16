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
//   math.exp_sum   every x[i] within 2⁻²² relative of exp in double for x in
//                  cpu/exp_poly.h's [kMinX, kMaxX], the documented values outside
//                  it; the returned sum within 1e-12 of Σ x[i] in double
//   math.swiglu    within 2⁻²⁰ relative (+1e-30) of g/(1+e^−g)·u in double
//   math.scale_max bitwise the reference's products and maximum (NaN skipped)
//   math.gemm_nn   within (depth+1)·2⁻²⁴·Σ|a·b| of the double sum, only inside
//                  the m × n block (ldc padding untouched); a sub-block of rows
//                  and columns gives bitwise the same entries (tile independence)
// Levels the CPU cannot run are skipped loudly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "cpu/exp_poly.h"
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

// Arguments the glue ops meet (softmax: ≤ 0; silu: both signs) and the edges.
std::vector<float> exp_arguments() {
  std::vector<float> x;
  for (float v = -100.0f; v <= 100.0f; v += 0.0137f) x.push_back(v);
  const float inf = std::numeric_limits<float>::infinity();
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, exp_poly::kMinX, std::nextafter(exp_poly::kMinX, -inf), exp_poly::kMaxX,
                  std::nextafter(exp_poly::kMaxX, inf), exp_poly::kOverflowX, std::nextafter(exp_poly::kOverflowX, inf),
                  -inf, inf, 88.3762626647949f, 0.5f * 0.693147181f, -0.5f * 0.693147181f})
    x.push_back(v);
  return x;
}

TEST_P(Kernels, ExpSumWithinBound) {
  const std::vector<float> args = exp_arguments();
  double worst = 0;
  for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{8}, int64_t{9}, int64_t{17}, static_cast<int64_t>(args.size())}) {
    std::vector<float> x(args.end() - n, args.end());
    x.push_back(12345.0f);  // a kernel that writes past n would change the guard
    const double sum = level().math.exp_sum(x.data(), n, 0.0f);
    EXPECT_EQ(x.back(), 12345.0f) << "n=" << n << ": wrote past the end";
    double direct = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float a = args[args.size() - static_cast<size_t>(n) + static_cast<size_t>(i)], y = x[static_cast<size_t>(i)];
      direct += y;
      if (std::isnan(a)) continue;
      if (a < exp_poly::kMinX) {
        EXPECT_TRUE(y >= 0.0f && y <= std::numeric_limits<float>::min()) << "exp(" << a << ") = " << y;
      } else if (a > exp_poly::kOverflowX) {
        EXPECT_EQ(y, std::numeric_limits<float>::infinity()) << "exp(" << a << ")";
      } else if (a > exp_poly::kMaxX) {
        EXPECT_TRUE(y > 2e38f && y <= std::exp(static_cast<double>(a)) * (1 + std::ldexp(1.0, -22))) << "exp(" << a << ") = " << y;
      } else {
        const double want = std::exp(static_cast<double>(a)), rel = std::fabs(y - want) / want;
        worst = std::max(worst, rel);
        EXPECT_LE(rel, std::ldexp(1.0, -22)) << isa_name(GetParam()) << " exp(" << a << ") = " << y << " vs " << want;
      }
    }
    if (std::isfinite(direct)) {
      EXPECT_NEAR(sum, direct, 1e-12 * direct) << "n=" << n;
    }
  }
  std::printf("%s exp: largest relative error %.3g (2^%.2f)\n", isa_name(GetParam()), worst, std::log2(worst));
  // max is subtracted first: softmax rows with a large max do not overflow.
  std::vector<float> row = {1000.0f, 999.0f, -std::numeric_limits<float>::infinity()};
  const double s = level().math.exp_sum(row.data(), 3, 1000.0f);
  EXPECT_NEAR(row[0], 1.0f, 1e-6f);
  EXPECT_NEAR(row[1], std::exp(-1.0), 1e-6);
  EXPECT_EQ(row[2], 0.0f);
  EXPECT_NEAR(s, 1.0 + std::exp(-1.0), 1e-6);
  std::vector<float> nan_row = {std::numeric_limits<float>::quiet_NaN(), 0.0f};
  level().math.exp_sum(nan_row.data(), 2, 0.0f);
  EXPECT_TRUE(std::isnan(nan_row[0])) << "NaN must stay NaN";
}

TEST_P(Kernels, SwigluWithinBound) {
  const std::vector<float> g = exp_arguments();
  for (int64_t n : {int64_t{1}, int64_t{5}, int64_t{8}, int64_t{13}, static_cast<int64_t>(g.size())}) {
    const std::vector<float> u = random_row(n, static_cast<uint32_t>(n + 3));
    std::vector<float> out(static_cast<size_t>(n) + 1, 12345.0f);
    level().math.swiglu(g.data(), u.data(), out.data(), n);
    EXPECT_EQ(out.back(), 12345.0f) << "n=" << n << ": wrote past the end";
    for (int64_t i = 0; i < n; ++i) {
      const double gd = g[static_cast<size_t>(i)], ud = u[static_cast<size_t>(i)];
      if (std::isinf(gd)) continue;
      const double want = gd / (1.0 + std::exp(-gd)) * ud;
      EXPECT_NEAR(out[static_cast<size_t>(i)], want, std::ldexp(std::fabs(want), -20) + 1e-30)
          << isa_name(GetParam()) << " swiglu(" << gd << ", " << ud << ")";
    }
  }
}

TEST_P(Kernels, ScaleMaxEqualsScalar) {
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{8}, int64_t{16}, int64_t{17}, int64_t{300}}) {
    std::vector<float> x = random_row(n, static_cast<uint32_t>(n + 101));
    if (n > 5) x[3] = std::numeric_limits<float>::quiet_NaN();
    x.push_back(12345.0f);
    std::vector<float> want = x;
    const float m = level().math.scale_max(x.data(), n, 0.17677669f);
    const float m_ref = scalar().math.scale_max(want.data(), n, 0.17677669f);
    EXPECT_EQ(m, m_ref) << isa_name(GetParam()) << " n=" << n;
    EXPECT_EQ(x.back(), 12345.0f) << "n=" << n << ": wrote past the end";
    for (int64_t i = 0; i < n; ++i)
      if (!std::isnan(want[static_cast<size_t>(i)])) {
        ASSERT_EQ(x[static_cast<size_t>(i)], want[static_cast<size_t>(i)]) << isa_name(GetParam()) << " n=" << n << " i=" << i;
      }
  }
}

TEST_P(Kernels, GemmNNWithinBound) {
  for (int64_t m : {1, 2, 5, 6, 7, 13}) {
    for (int64_t n : {1, 3, 8, 15, 16, 17, 33, 300}) {
      for (int64_t depth : {1, 32, 80}) {
        const int64_t lda = depth + 3, ldb = n + 5, ldc = n + 2;
        const std::vector<float> a = random_row(m * lda, static_cast<uint32_t>(m * 7 + n)),
                                 b = random_row(depth * ldb, static_cast<uint32_t>(depth + n));
        std::vector<float> c(static_cast<size_t>(m * ldc), 12345.0f);
        level().math.gemm_nn(m, n, depth, a.data(), lda, b.data(), ldb, c.data(), ldc);
        for (int64_t r = 0; r < m; ++r) {
          for (int64_t j = 0; j < ldc; ++j) {
            const float got = c[static_cast<size_t>(r * ldc + j)];
            if (j >= n) {
              ASSERT_EQ(got, 12345.0f) << "wrote outside the block at " << r << "," << j;
              continue;
            }
            double want = 0, mag = 0;
            for (int64_t d = 0; d < depth; ++d) {
              const double t = static_cast<double>(a[static_cast<size_t>(r * lda + d)]) * b[static_cast<size_t>(d * ldb + j)];
              want += t;
              mag += std::fabs(t);
            }
            ASSERT_LE(std::fabs(got - want), static_cast<double>(depth + 1) * std::ldexp(mag, -24))
                << isa_name(GetParam()) << " " << m << "x" << n << "x" << depth << " at " << r << "," << j;
          }
        }
        // The last row and column alone: the same bits as inside the full block.
        float corner = 0;
        level().math.gemm_nn(1, 1, depth, a.data() + (m - 1) * lda, lda, b.data() + (n - 1), ldb, &corner, 1);
        ASSERT_EQ(corner, c[static_cast<size_t>((m - 1) * ldc + n - 1)]) << m << "x" << n << "x" << depth;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, Kernels, ::testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon),
                         [](const ::testing::TestParamInfo<Isa>& i) { return std::string(isa_name(i.param)); });

}  // namespace
}  // namespace qgml
