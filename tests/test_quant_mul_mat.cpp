// mul_mat with quantized weights: against dequantize-then-double, identical
// for 1 and 2 threads, and with an act-order permutation.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "qgml/cpu.h"
#include "qgml/error.h"
#include "qgml/graph.h"
#include "qgml/ops.h"
#include "qgml/quant.h"
#include "quant_test_util.h"
#include "quants.h"
#include "test_util.h"

namespace qgml {
namespace {

struct Case {
  int64_t K, M, N;
};

Tensor* quantized_weight(Context& ctx, Type t, int64_t K, int64_t M, uint32_t seed) {
  Tensor* w = ctx.new_tensor_2d(t, K, M);
  for (int64_t m = 0; m < M; ++m) {
    auto x = test::random_floats(static_cast<size_t>(K), seed + static_cast<uint32_t>(m));
    traits(t).from_float(x.data(), w->row(m), K);
  }
  return w;
}

std::vector<float> dequantize_row(const Tensor* w, int64_t m) {
  std::vector<float> v(static_cast<size_t>(w->ne[0]));
  traits(w->type).to_float(w->row(m), v.data(), w->ne[0]);
  return v;
}

std::vector<float> run(Tensor* out, int threads) {
  Graph g;
  g.add_output(out);
  g.compute(threads);
  std::vector<float> v(static_cast<size_t>(out->nelements()));
  for (int64_t n = 0; n < out->ne[1]; ++n) std::memcpy(&v[n * out->ne[0]], out->row(n), out->ne[0] * sizeof(float));
  return v;
}

// Bound on |mul_mat − Σ ŵ·x| (documented in gguf-spec.md): activations are
// rounded to int8 with step amax(block)/127, so each term errs by at most
// |ŵ|·amax/254 (Q8_0 activations: also the f16 scale, 2^-11 relative); NF4
// adds its integer code table kNF4Int (≤ 1/65534 of absmax per weight);
// plus float summation slack.
double bound(Type t, const std::vector<float>& w, const std::vector<float>& x, const std::vector<float>& absmax) {
  const Type vdt = traits(t).vec_dot_type;
  const int64_t blk = vdt == Type::Q8_A ? 256 : 32;
  double e = 0.0, mag = 0.0;
  for (size_t k0 = 0; k0 < x.size(); k0 += blk) {
    double amax = 0.0;
    for (size_t k = k0; k < std::min(x.size(), k0 + blk); ++k) amax = std::max(amax, std::fabs(static_cast<double>(x[k])));
    for (size_t k = k0; k < std::min(x.size(), k0 + blk); ++k) {
      const double aw = std::fabs(static_cast<double>(w[k]));
      e += aw * amax / 254 * 1.001 + (vdt == Type::Q8_0 ? aw * std::fabs(x[k]) * std::ldexp(1.0, -10) : 0.0);
      if (t == Type::NF4 || t == Type::NF4_DQ) e += (std::fabs(x[k]) + amax / 254) * absmax[k] * 0.5 / 32767 * 1.01;
      mag += aw * std::fabs(x[k]);
    }
  }
  return e + 1e-5 * mag + 1e-6;
}

std::vector<float> absmax_per_64(const std::vector<float>& w) {
  std::vector<float> a(w.size());
  for (size_t b = 0; b < w.size(); b += 64) {
    float m = 0.0f;
    for (size_t k = b; k < std::min(w.size(), b + 64); ++k) m = std::max(m, std::fabs(w[k]));
    for (size_t k = b; k < std::min(w.size(), b + 64); ++k) a[k] = m;
  }
  return a;
}

TEST(QuantMulMat, MatchesDequantizedDoubleReferenceAndThreadCounts) {
  const Case cases[] = {{172, 37, 1}, {172, 9, 70}, {33, 5, 3}, {4096 + 32, 8, 2}, {256, 13, 65}};
  for (Isa isa : test::runnable_isas()) {
    set_max_isa(isa);
    for (Type t : test::quant_weight_types()) {
      for (const Case& c : cases) {
        Context ctx;
        Tensor* w = quantized_weight(ctx, t, c.K, c.M, 17);
        Tensor* x = ctx.new_tensor_2d(Type::F32, c.K, c.N);
        const auto xv = test::random_floats(static_cast<size_t>(c.K * c.N), 23, -2.0f, 2.0f);
        std::memcpy(x->data, xv.data(), xv.size() * sizeof(float));
        Tensor* y = mul_mat(ctx, w, x);
        const std::vector<float> y1 = run(y, 1), y2 = run(y, 2);
        ASSERT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)))
            << isa_name(isa) << " " << type_name(t) << ": 1 and 2 threads differ";
        for (int64_t m = 0; m < c.M; ++m) {
          const std::vector<float> wr = dequantize_row(w, m);
          const std::vector<float> am = absmax_per_64(wr);
          for (int64_t n = 0; n < c.N; ++n) {
            const std::vector<float> xr(xv.begin() + n * c.K, xv.begin() + (n + 1) * c.K);
            double ref = 0.0;
            for (int64_t k = 0; k < c.K; ++k) ref += static_cast<double>(wr[k]) * xr[k];
            ASSERT_NEAR(y1[n * c.M + m], ref, bound(t, wr, xr, am))
                << isa_name(isa) << " " << type_name(t) << " K=" << c.K << " m=" << m << " n=" << n;
          }
        }
      }
    }
  }
  set_max_isa(best_isa());
}

// Act-order: a permuted weight with mul_mat_perm equals the unpermuted
// product on explicitly gathered activations, bit for bit.
TEST(QuantMulMat, PermutationGathersActivations) {
  const int64_t K = 172, M = 6, N = 3;
  std::vector<int32_t> perm(K);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(5));
  for (Type t : {Type::GPTQ4_G32, Type::GPTQ3_G128, Type::F32}) {
    Context ctx;
    Tensor* w = t == Type::F32 ? ctx.new_tensor_2d(t, K, M) : quantized_weight(ctx, t, K, M, 3);
    if (t == Type::F32) {
      const auto v = test::random_floats(static_cast<size_t>(K * M), 4);
      std::memcpy(w->data, v.data(), v.size() * sizeof(float));
    }
    Tensor* p = ctx.new_tensor_1d(Type::I32, K);
    std::memcpy(p->data, perm.data(), perm.size() * sizeof(int32_t));
    Tensor* x = ctx.new_tensor_2d(Type::F32, K, N);
    Tensor* xg = ctx.new_tensor_2d(Type::F32, K, N);
    const auto xv = test::random_floats(static_cast<size_t>(K * N), 8);
    std::memcpy(x->data, xv.data(), xv.size() * sizeof(float));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) static_cast<float*>(xg->data)[n * K + k] = xv[n * K + perm[k]];
    const auto a = run(mul_mat_perm(ctx, w, x, p), 2);
    const auto b = run(mul_mat(ctx, w, xg), 1);
    ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float))) << type_name(t);
    // And it is not the unpermuted product.
    const auto c = run(mul_mat(ctx, w, x), 1);
    EXPECT_NE(0, std::memcmp(a.data(), c.data(), a.size() * sizeof(float)));
  }
  // Entries are checked where they come from (first_non_permutation_entry,
  // which Model::load applies to every .perm tensor), not when a graph is
  // built; one out of range reads 0 rather than memory outside the row.
  Context ctx;
  Tensor* w = ctx.new_tensor_2d(Type::F32, 4, 2);
  Tensor* x = ctx.new_tensor_2d(Type::F32, 4, 1);
  Tensor* p = ctx.new_tensor_1d(Type::I32, 4);
  const float wv[8] = {1, 2, 3, 4, 5, 6, 7, 8}, xv[4] = {10, 20, 30, 40};
  std::memcpy(w->data, wv, sizeof wv);
  std::memcpy(x->data, xv, sizeof xv);
  const int32_t pv[4] = {3, 1, 4, 0};  // entry 2 out of range
  std::memcpy(p->data, pv, sizeof pv);
  EXPECT_EQ(first_non_permutation_entry(pv, 4), 2);
  const auto y = run(mul_mat_perm(ctx, w, x, p), 1);
  EXPECT_EQ(y[0], 1 * 40 + 2 * 20 + 3 * 0 + 4 * 10);
  EXPECT_EQ(y[1], 5 * 40 + 6 * 20 + 7 * 0 + 8 * 10);
  const int32_t repeated[4] = {3, 1, 3, 0}, negative[4] = {3, -1, 2, 0};
  EXPECT_EQ(first_non_permutation_entry(repeated, 4), 2);
  EXPECT_EQ(first_non_permutation_entry(negative, 4), 1);
  EXPECT_EQ(first_non_permutation_entry(perm.data(), K), -1);
  Tensor* short_p = ctx.new_tensor_1d(Type::I32, 3);
  EXPECT_THROW(mul_mat_perm(ctx, w, x, short_p), Error);
}

}  // namespace
}  // namespace qgml
