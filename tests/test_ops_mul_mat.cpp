// mul_mat with every weight type against a double-precision reference, with
// broadcasting over dims 2/3 (grouped-query attention) and strided activations.
//
// Reference: the weight dequantized with its type's to_float; for types whose
// vec_dot_type is not F32 the activation row is quantized the way the kernel
// does it (the active level's quantize_act, then to_float); products summed in
// double. Every weight type of the traits table with a dot kernel is tested. What is left is float accumulation, bounded by the classic
//   |err| ≤ γ·Σ|w_k·a_k|,  γ = (K + 32)·2⁻²⁴ (doubled for slack) + 1e-6 absolute,
// where the +32 covers the per-block scale products of the quantized kernels.
// The test runs at the active kernel level (QGML_ISA can lower it).
#include <gtest/gtest.h>

#include <cmath>

#include "cpu/kernels.h"
#include "ops_test_util.h"
#include "qgml/cpu.h"

namespace qgml::test {
namespace {

struct Case {
  int64_t K, M, N;
  int64_t a2, a3, b2, b3;
  Layout b_layout;
};

void check_mul_mat(Type wt, const Case& c, uint32_t seed) {
  Context ctx;
  Tensor* a = ctx.new_tensor_4d(wt, c.K, c.M, c.a2, c.a3);
  fill_random(a, seed, -1.0f, 1.0f);
  Tensor* b = make_input(ctx, {c.K, c.N, c.b2, c.b3}, c.b_layout, seed + 1);
  Tensor* r = mul_mat(ctx, a, b);
  ASSERT_EQ(dims_of(r), (Dims{c.M, c.N, c.b2, c.b3}));
  const std::vector<double> got = eval(r);

  const TypeTraits& tw = traits(wt);
  const Type vdt = tw.vec_dot_type;
  std::vector<double> ref, tol;
  std::vector<float> wrow(static_cast<size_t>(c.K)), arow(static_cast<size_t>(c.K));
  std::vector<char> qbuf(row_size(vdt, c.K));
  const double gamma = 2.0 * static_cast<double>(c.K + 32) * std::ldexp(1.0, -24);
  // The NF4 kernels multiply with kNF4Int, each code within half a unit
  // (1/65534) of absmax of the float code; absmax ≤ 1.01 for weights in
  // [-1, 1] (nf4_dq's 8-bit absmax may round up slightly).
  const bool nf4 = wt == Type::NF4 || wt == Type::NF4_DQ || wt == Type::NF4_F32;
  for (int64_t i3 = 0; i3 < c.b3; ++i3) {
    for (int64_t i2 = 0; i2 < c.b2; ++i2) {
      for (int64_t n = 0; n < c.N; ++n) {
        for (int64_t k = 0; k < c.K; ++k) arow[k] = static_cast<float>(elem(b, k, n, i2, i3));
        if (vdt != Type::F32) {
          kernels()[vdt].quantize_act(arow.data(), qbuf.data(), c.K);
          traits(vdt).to_float(qbuf.data(), arow.data(), c.K);
        }
        for (int64_t m = 0; m < c.M; ++m) {
          tw.to_float(a->row(m, i2 / (c.b2 / c.a2), i3 / (c.b3 / c.a3)), wrow.data(), c.K);
          double s = 0, sabs = 0, table = 0;
          for (int64_t k = 0; k < c.K; ++k) {
            s += static_cast<double>(wrow[k]) * arow[k];
            sabs += std::fabs(static_cast<double>(wrow[k]) * arow[k]);
            if (nf4) table += std::fabs(static_cast<double>(arow[k])) * 1.01 * 0.5 / 32767;
          }
          ref.push_back(s);
          tol.push_back(1e-6 + gamma * sabs + table);
        }
      }
    }
  }
  expect_within(got, ref, [&](size_t i) { return tol[i]; },
                std::string("mul_mat ") + type_name(wt) + " K=" + std::to_string(c.K) + " M=" + std::to_string(c.M) +
                    " N=" + std::to_string(c.N) + " a2/a3=" + std::to_string(c.a2) + "/" + std::to_string(c.a3) +
                    " b2/b3=" + std::to_string(c.b2) + "/" + std::to_string(c.b3) + " b " +
                    layout_name(c.b_layout) + " isa=" + isa_name(active_isa()));
}

const Case kCases[] = {
    {1, 1, 1, 1, 1, 1, 1, Layout::Contiguous},
    {7, 5, 3, 1, 1, 1, 1, Layout::Contiguous},
    {32, 17, 8, 1, 1, 1, 1, Layout::Transposed},
    {33, 4, 2, 1, 1, 1, 1, Layout::Contiguous},
    {172, 9, 5, 1, 1, 1, 1, Layout::RowStrided},
    {256, 3, 4, 2, 1, 6, 2, Layout::Contiguous},   // GQA: 6 query heads over 2 kv heads, batch 2
    {64, 5, 7, 2, 3, 4, 3, Layout::Permuted},      // broadcast over dims 2 and 3 with a non-contiguous b
    {4101, 2, 3, 1, 1, 1, 1, Layout::Contiguous},  // long rows with a tail
};

class MulMat : public ::testing::TestWithParam<Type> {};

TEST_P(MulMat, AgainstDoubleReference) {
  uint32_t seed = 10 + static_cast<uint32_t>(GetParam()) * 100;
  for (const Case& c : kCases) check_mul_mat(GetParam(), c, seed += 2);
}

std::vector<Type> weight_types() {
  std::vector<Type> v;
  for (int i = 0; i < kTypeCount; ++i) {
    const Type t = static_cast<Type>(i);
    if (traits(t).to_float && traits(t).from_float && kernels_for(Isa::Scalar)[t].vec_dot) v.push_back(t);
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(Types, MulMat, ::testing::ValuesIn(weight_types()),
                         [](const ::testing::TestParamInfo<Type>& i) { return std::string(type_name(i.param)); });

// The same product at every kernel level this CPU supports (the test above
// only sees the active one).
TEST(MulMat, EveryIsaLevel) {
  const Isa initial = active_isa();
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon}) {
    if (!isa_supported(isa)) {
      std::fprintf(stderr, "*** SKIPPED mul_mat at ISA level %s: not supported on this CPU/build ***\n",
                   isa_name(isa));
      continue;
    }
    set_max_isa(isa);
    for (Type t : weight_types()) check_mul_mat(t, {172, 9, 5, 2, 1, 4, 1, Layout::Transposed}, 7000 + static_cast<uint32_t>(t));
  }
  set_max_isa(initial);
}

}  // namespace
}  // namespace qgml::test
