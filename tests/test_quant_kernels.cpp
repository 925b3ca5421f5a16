// Every instruction-set level's kernels against the scalar reference:
// activation quantizers bit for bit, dot products within float-reordering
// tolerance, and gemm tiles bit-identical to the same level's vec_dot
// (which is what makes mul_mat independent of the thread split).
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "cpu/kernels.h"
#include "quant_test_util.h"
#include "quants.h"
#include "test_util.h"

namespace qgml {
namespace {

struct Row {
  std::vector<uint8_t> bytes;
  std::vector<float> values;  // dequantized
};

Row quantize_row(Type t, const std::vector<float>& x) {
  Row r;
  r.bytes.resize(row_size(t, static_cast<int64_t>(x.size())));
  traits(t).from_float(x.data(), r.bytes.data(), static_cast<int64_t>(x.size()));
  r.values.resize(x.size());
  traits(t).to_float(r.bytes.data(), r.values.data(), static_cast<int64_t>(x.size()));
  return r;
}

// Scalar and SIMD sum the same exact integer partial sums (one per group or
// block) in different orders and with FMA; the difference is bounded by a
// few roundings of the sum of magnitudes per term.
double reorder_tolerance(int64_t k, const Row& w, const Row& a) {
  double mag = 0.0;
  for (size_t i = 0; i < w.values.size(); ++i) mag += std::fabs(static_cast<double>(w.values[i]) * a.values[i]);
  const double terms = static_cast<double>(k) / 32 + 16;
  return 4.0 * terms * FLT_EPSILON * mag * 1.5 + 1e-30;
}

TEST(QuantKernels, ActivationQuantizersAreBitExact) {
  for (Isa isa : test::runnable_isas()) {
    const KernelTable& kt = kernels_for(isa);
    for (Type act : {Type::Q8_A, Type::Q8_0}) {
      for (int64_t k : test::odd_lengths()) {
        std::vector<float> x = test::random_floats(static_cast<size_t>(k), 100 + static_cast<uint32_t>(k), -3.0f, 3.0f);
        x[0] = 0.5f * 3.0f / 127 * 7;  // lands exactly on a rounding tie: checks round-to-nearest-even
        std::vector<uint8_t> ref(row_size(act, k)), got(row_size(act, k), 0xcd);
        traits(act).from_float(x.data(), ref.data(), k);
        kt[act].quantize_act(x.data(), got.data(), k);
        EXPECT_EQ(0, std::memcmp(ref.data(), got.data(), ref.size())) << isa_name(isa) << " " << type_name(act) << " k=" << k;
      }
    }
  }
}

TEST(QuantKernels, DotMatchesScalarReference) {
  const KernelTable& scalar = kernels_for(Isa::Scalar);
  for (Isa isa : test::runnable_isas()) {
    const KernelTable& kt = kernels_for(isa);
    for (Type t : test::quant_weight_types()) {
      const Type vdt = traits(t).vec_dot_type;
      for (int64_t k : test::odd_lengths()) {
        for (uint32_t seed = 0; seed < 3; ++seed) {
          const Row w = quantize_row(t, test::random_floats(static_cast<size_t>(k), seed * 31 + 1));
          const Row a = quantize_row(vdt, test::random_floats(static_cast<size_t>(k), seed * 31 + 2, -2.0f, 2.0f));
          const float ref = scalar[t].vec_dot(k, w.bytes.data(), a.bytes.data());
          const float got = kt[t].vec_dot(k, w.bytes.data(), a.bytes.data());
          EXPECT_NEAR(got, ref, reorder_tolerance(k, w, a)) << isa_name(isa) << " " << type_name(t) << " k=" << k;
          // The integer reference itself against the dequantized values in
          // double (exact but for NF4's integer code table kNF4Int, ≤ half a
          // kNF4IntUnit = 1/65534 of absmax per weight).
          double exact = 0.0, mag = 0.0;
          for (int64_t i = 0; i < k; ++i) {
            exact += static_cast<double>(w.values[i]) * a.values[i];
            mag += std::fabs(static_cast<double>(w.values[i]) * a.values[i]);
          }
          const bool nf4 = t == Type::NF4 || t == Type::NF4_DQ;
          double table = 0.0;
          if (nf4)
            for (int64_t i = 0; i < k; ++i) table += std::fabs(a.values[i]) * 0.5 / 32767 * 1.01;  // |w| ≤ absmax ≤ 1
          EXPECT_NEAR(ref, exact, table + 1e-5 * mag + 1e-6) << "scalar " << type_name(t) << " k=" << k;
        }
      }
    }
  }
}

TEST(QuantKernels, GemmTilesEqualVecDotBitForBit) {
  for (Isa isa : test::runnable_isas()) {
    const KernelTable& kt = kernels_for(isa);
    for (Type t : test::quant_weight_types()) {
      if (kt[t].gemm == nullptr) continue;
      const Type vdt = traits(t).vec_dot_type;
      for (int64_t k : {int64_t(172), int64_t(4096 + 32), int64_t(33)}) {
        const int64_t nr = 11, nc = 7;  // not multiples of the 4-row / 4-column tiles
        const size_t ws = row_size(t, k), as = row_size(vdt, k);
        std::vector<uint8_t> w(ws * nr), a(as * nc);
        for (int64_t r = 0; r < nr; ++r) {
          const auto x = test::random_floats(static_cast<size_t>(k), 500 + static_cast<uint32_t>(r));
          traits(t).from_float(x.data(), w.data() + r * ws, k);
        }
        for (int64_t c = 0; c < nc; ++c) {
          const auto x = test::random_floats(static_cast<size_t>(k), 900 + static_cast<uint32_t>(c));
          traits(vdt).from_float(x.data(), a.data() + c * as, k);
        }
        const int64_t ldo = nr + 3;
        for (int64_t first_col : {int64_t(0), int64_t(2)}) {
          // All columns at once (4-column tiles) and one at a time (4-row tiles).
          std::vector<float> all(static_cast<size_t>(ldo * nc), -1.0f), single(all);
          kt[t].gemm(k, w.data(), ws, nr, a.data() + first_col * as, as, nc - first_col, all.data(), ldo);
          for (int64_t c = 0; c < nc - first_col; ++c)
            kt[t].gemm(k, w.data(), ws, nr, a.data() + (first_col + c) * as, as, 1, single.data() + c * ldo, ldo);
          for (int64_t c = 0; c < nc - first_col; ++c)
            for (int64_t r = 0; r < nr; ++r) {
              const float d = kt[t].vec_dot(k, w.data() + r * ws, a.data() + (first_col + c) * as);
              ASSERT_EQ(all[c * ldo + r], d) << isa_name(isa) << " " << type_name(t) << " r=" << r << " c=" << c;
              ASSERT_EQ(single[c * ldo + r], d) << isa_name(isa) << " " << type_name(t) << " r=" << r << " c=" << c;
            }
          for (int64_t c = 0; c < nc - first_col; ++c)
            for (int64_t r = nr; r < ldo; ++r) ASSERT_EQ(all[c * ldo + r], -1.0f) << "wrote outside the tile";
        }
      }
    }
  }
}

}  // namespace
}  // namespace qgml
