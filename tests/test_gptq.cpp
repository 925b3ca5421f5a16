// GPTQ's per-layer algorithm and its linear algebra: SGEMM/SYRK against
// naive sums, the inverse Cholesky factor, RTN against the block types' own
// reference quantizers, GPTQ against RTN (identity Hessian: equal; correlated
// inputs: clearly lower output error), GPTQ's loss against the output error
// it claims to measure, and act-order / static groups through the kernels.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "qgml/error.h"
#include "qgml/graph.h"
#include "qgml/ops.h"
#include "qgml/quant.h"
#include "qgml/threadpool.h"
#include "quantize/gptq.h"
#include "quantize/linalg.h"
#include "test_util.h"

namespace qgml::quantize {
namespace {

using Mat = std::vector<float>;

Mat gaussian(size_t n, uint32_t seed, float sd = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sd);
  Mat v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// Inputs with strong correlations: x = A·z + 0.05·noise, z of rank 12, and a
// few columns ten times louder than the rest (as activation outliers are).
Mat correlated_inputs(int64_t K, int64_t T, uint32_t seed) {
  const int64_t R = 12;
  const Mat A = gaussian(static_cast<size_t>(K * R), seed), Z = gaussian(static_cast<size_t>(R * T), seed + 1),
            noise = gaussian(static_cast<size_t>(K * T), seed + 2, 0.05f);
  Mat X(static_cast<size_t>(T * K));  // T rows of K
  for (int64_t t = 0; t < T; ++t)
    for (int64_t k = 0; k < K; ++k) {
      double s = noise[static_cast<size_t>(t * K + k)];
      for (int64_t r = 0; r < R; ++r) s += A[static_cast<size_t>(k * R + r)] * Z[static_cast<size_t>(r * T + t)];
      X[static_cast<size_t>(t * K + k)] = static_cast<float>(s * (k % 17 == 3 ? 10.0 : 1.0));
    }
  return X;
}

// H = 2·Xᵀ·X (X: T × K), in double then rounded.
Mat hessian(const Mat& X, int64_t K, int64_t T) {
  Mat H(static_cast<size_t>(K * K));
  for (int64_t a = 0; a < K; ++a)
    for (int64_t b = 0; b < K; ++b) {
      double s = 0;
      for (int64_t t = 0; t < T; ++t) s += static_cast<double>(X[static_cast<size_t>(t * K + a)]) * X[static_cast<size_t>(t * K + b)];
      H[static_cast<size_t>(a * K + b)] = static_cast<float>(2 * s);
    }
  return H;
}

// ‖(W − Ŵ)·Xᵀ‖² in double.
double output_error(const Mat& W, const Mat& Wq, int64_t rows, int64_t K, const Mat& X, int64_t T) {
  double e = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < T; ++t) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k)
        s += (static_cast<double>(W[static_cast<size_t>(r * K + k)]) - Wq[static_cast<size_t>(r * K + k)]) * X[static_cast<size_t>(t * K + k)];
      e += s * s;
    }
  return e;
}

Mat dequant(const QuantizedLayer& L) {
  Mat out(static_cast<size_t>(L.rows * L.cols));
  L.dequantize(out.data());
  return out;
}

TEST(Linalg, GemmMatchesNaiveSums) {
  struct Case { int64_t M, N, K; bool ta, tb; };
  for (const Case c : {Case{7, 37, 300, false, false}, Case{100, 20, 5, true, false}, Case{13, 130, 257, false, true},
                       Case{1, 1, 1, true, true}, Case{97, 2100, 40, false, false}}) {
    const Mat A = gaussian(static_cast<size_t>(c.M * c.K), 1), B = gaussian(static_cast<size_t>(c.K * c.N), 2);
    Mat C = gaussian(static_cast<size_t>(c.M * c.N), 3);
    const Mat C0 = C;
    const linalg::View av = c.ta ? linalg::transposed(A.data(), c.M) : linalg::row_major(A.data(), c.K);
    const linalg::View bv = c.tb ? linalg::transposed(B.data(), c.K) : linalg::row_major(B.data(), c.N);
    ThreadPool pool(2);
    Mat C2 = C;
    linalg::gemm(c.M, c.N, c.K, -0.5f, av, bv, C.data(), c.N);
    linalg::gemm(c.M, c.N, c.K, -0.5f, av, bv, C2.data(), c.N, &pool);
    ASSERT_EQ(C, C2) << "threads split rows only: identical results";
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = 0; j < c.N; ++j) {
        double s = 0, mag = 0;
        for (int64_t k = 0; k < c.K; ++k) {
          const double p = static_cast<double>(av.p[i * av.rs + k * av.cs]) * bv.p[k * bv.rs + j * bv.cs];
          s += p;
          mag += std::fabs(p);
        }
        const double want = C0[static_cast<size_t>(i * c.N + j)] - 0.5 * s;
        ASSERT_NEAR(C[static_cast<size_t>(i * c.N + j)], want, 1e-5 * (mag + 1)) << c.M << "x" << c.N << "x" << c.K << " at " << i << "," << j;
      }
  }
}

TEST(Linalg, PackedBGivesGemmsBits) {
  // Over one column block (2048) and one depth slice (256), B transposed as calibration passes it.
  const struct { int64_t M, N, K; } cases[] = {{13, 2100, 300}, {7, 5, 3}, {64, 40, 256}};
  for (const auto& c : cases) {
    const Mat A = gaussian(static_cast<size_t>(c.M * c.K), 11), W = gaussian(static_cast<size_t>(c.N * c.K), 12);
    const Mat C0 = gaussian(static_cast<size_t>(c.M * c.N), 13);
    Mat plain = C0, packed = C0;
    ThreadPool pool(2);
    linalg::gemm(c.M, c.N, c.K, 0.75f, linalg::row_major(A.data(), c.K), linalg::transposed(W.data(), c.K), plain.data(), c.N, &pool);
    const linalg::PackedB pb(linalg::transposed(W.data(), c.K), c.K, c.N);
    linalg::gemm(c.M, 0.75f, linalg::row_major(A.data(), c.K), pb, packed.data(), c.N, &pool);
    ASSERT_EQ(std::memcmp(plain.data(), packed.data(), plain.size() * sizeof(float)), 0) << c.M << "x" << c.N << "x" << c.K;
    // Overwriting ignores C's old contents (NaN here) and equals accumulating onto zeros.
    Mat zeros(C0.size(), 0.0f), set(C0.size(), std::nanf(""));
    linalg::gemm(c.M, 0.75f, linalg::row_major(A.data(), c.K), pb, zeros.data(), c.N, &pool);
    linalg::gemm(c.M, 0.75f, linalg::row_major(A.data(), c.K), pb, set.data(), c.N, &pool, true);
    for (size_t i = 0; i < set.size(); ++i) ASSERT_EQ(set[i], zeros[i]) << c.M << "x" << c.N << "x" << c.K << " at " << i;
  }
}

TEST(Linalg, SyrkUpperMatchesNaiveOnThreads) {
  // Odd widths, a single row block, and depths over one packed slice (256).
  const struct { int64_t n, t; int threads; } cases[] = {{150, 70, 2}, {37, 600, 2}, {301, 257, 1}, {5, 3, 2}};
  for (const auto& c : cases) {
    const int64_t n = c.n, t = c.t;
    const Mat X = gaussian(static_cast<size_t>(t * n), 5);
    ThreadPool pool(c.threads);
    Mat C(static_cast<size_t>(n * n), 0.0f);
    linalg::syrk_upper(n, t, 2.0f, X.data(), n, C.data(), n, &pool);
    linalg::mirror_upper(n, C.data(), n);
    const Mat H = hessian(X, n, t);
    for (size_t i = 0; i < H.size(); ++i) ASSERT_NEAR(C[i], H[i], 1e-4 * (std::fabs(H[i]) + 10)) << n << "x" << t << " at " << i;
  }
}

TEST(Linalg, InverseCholeskyUpperFactorsTheInverse) {
  for (const int64_t n : {int64_t{60}, int64_t{150}}) {  // one block of 64 rows, and several
    const Mat X = gaussian(static_cast<size_t>(400 * n), 7);
    const Mat Hf = hessian(X, n, 400);
    std::vector<double> H(Hf.begin(), Hf.end()), U, U2;
    ThreadPool pool(2);
    ASSERT_TRUE(linalg::inverse_cholesky_upper(H, n, &U, &pool));
    ASSERT_TRUE(linalg::inverse_cholesky_upper(H, n, &U2));
    ASSERT_EQ(std::memcmp(U.data(), U2.data(), U.size() * sizeof(double)), 0) << "thread count changed the factor, n=" << n;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < i; ++j) ASSERT_EQ(U[static_cast<size_t>(i * n + j)], 0.0);
    // (UᵀU)·H = I
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t k = 0; k < n; ++k) {
          double inv = 0;
          for (int64_t m = 0; m <= std::min(i, k); ++m) inv += U[static_cast<size_t>(m * n + i)] * U[static_cast<size_t>(m * n + k)];
          s += inv * H[static_cast<size_t>(k * n + j)];
        }
        ASSERT_NEAR(s, i == j ? 1.0 : 0.0, 1e-8) << "n=" << n;
      }
    H[0] = -1.0;  // not positive definite
    EXPECT_FALSE(linalg::inverse_cholesky_upper(H, n, &U, &pool));
  }
}

std::vector<LayerSpec> uniform_specs() {
  std::vector<LayerSpec> v;
  for (int bits : {4, 3, 2})
    for (int group : {32, 64, 128})
      for (bool sym : {false, true}) {
        LayerSpec s;
        s.bits = bits;
        s.group = group;
        s.sym = sym;
        v.push_back(s);
      }
  LayerSpec nf4;
  nf4.grid = Grid::NF4;
  v.push_back(nf4);
  return v;
}

TEST(Rtn, EqualsTheBlockTypesReferenceQuantizer) {
  for (int64_t K : {172, 256, 64}) {
    const int64_t rows = 9;
    Mat W = gaussian(static_cast<size_t>(rows * K), 11);
    for (int64_t k = 0; k < 32; ++k) W[static_cast<size_t>(k)] = std::fabs(W[static_cast<size_t>(k)]);  // a one-signed group
    for (const LayerSpec& s : uniform_specs()) {
      if (storage_group(s) > K) continue;
      const QuantizedLayer L = rtn(W.data(), rows, K, s);
      const std::vector<uint8_t> got = L.pack();
      const size_t rs = row_size(L.type, K);
      std::vector<uint8_t> want(rs * rows);
      for (int64_t r = 0; r < rows; ++r) traits(L.type).from_float(&W[static_cast<size_t>(r * K)], &want[r * rs], K);
      ASSERT_EQ(got, want) << type_name(L.type) << " K=" << K;
    }
  }
}

TEST(Gptq, IdentityHessianEqualsRtnExactly) {
  const int64_t rows = 16, K = 256;
  const Mat W = gaussian(static_cast<size_t>(rows * K), 21);
  Mat H(static_cast<size_t>(K * K), 0.0f);
  for (int64_t k = 0; k < K; ++k) H[static_cast<size_t>(k * K + k)] = 3.0f;
  std::vector<LayerSpec> specs = uniform_specs();
  LayerSpec whole_row;
  whole_row.group = -1;
  specs.push_back(whole_row);
  for (LayerSpec s : specs)
    for (bool act : {false, true})
      for (bool stat : {false, true}) {
        s.act_order = act;
        s.static_groups = stat;
        const QuantizedLayer g = gptq(W.data(), rows, K, H.data(), s, nullptr);
        const QuantizedLayer r = rtn(W.data(), rows, K, s);
        EXPECT_TRUE(g.perm.empty());  // equal diagonal: the stable order is the identity
        ASSERT_EQ(g.pack(), r.pack()) << type_name(r.type) << " act " << act << " static " << stat;
      }
}

TEST(Gptq, LowerOutputErrorThanRtnOnCorrelatedInputs) {
  const int64_t rows = 48, K = 192, T = 1024;
  const Mat W = gaussian(static_cast<size_t>(rows * K), 31), X = correlated_inputs(K, T, 32), H = hessian(X, K, T);
  ThreadPool pool(2);
  for (LayerSpec s : uniform_specs())
    for (bool act : {false, true}) {
      if (s.group > 64 && s.grid == Grid::Uniform && !act) continue;
      s.act_order = act;
      const double e_rtn = output_error(W, dequant(rtn(W.data(), rows, K, s)), rows, K, X, T);
      const double e_gptq = output_error(W, dequant(gptq(W.data(), rows, K, H.data(), s, &pool)), rows, K, X, T);
      EXPECT_LT(e_gptq, 0.7 * e_rtn) << type_name(storage_type(s)) << " act-order " << act << ": gptq " << e_gptq << " rtn " << e_rtn;
    }
}

// Without damping, GPTQ's loss Σ (w − q)²/(2·[H⁻¹]²) is exactly the output
// error it causes (optimal brain surgeon): a check of U, the lazy batches and
// the error feedback together.
TEST(Gptq, LossEqualsTheOutputErrorItCauses) {
  const int64_t rows = 8, K = 96, T = 400;
  const Mat W = gaussian(static_cast<size_t>(rows * K), 41), X = gaussian(static_cast<size_t>(T * K), 42), H = hessian(X, K, T);
  for (bool act : {false, true})
    for (int block : {128, 32, 7}) {
      LayerSpec s;
      s.bits = 3;
      s.group = 32;
      s.damp = 0.0;
      s.act_order = act;
      s.block = block;
      const QuantizedLayer L = gptq(W.data(), rows, K, H.data(), s, nullptr);
      const double e = output_error(W, dequant(L), rows, K, X, T);
      EXPECT_NEAR(L.loss, e, 2e-3 * e) << "act-order " << act << " block " << block;
    }
}

std::vector<float> run_graph(Tensor* out) {
  Graph g;
  g.add_output(out);
  g.compute(2);
  std::vector<float> v(static_cast<size_t>(out->nelements()));
  for (int64_t n = 0; n < out->ne[1]; ++n) std::memcpy(&v[static_cast<size_t>(n * out->ne[0])], out->row(n), static_cast<size_t>(out->ne[0]) * sizeof(float));
  return v;
}

// The stored tensor and its permutation, multiplied by the kernels, equal the
// dequantized weight applied to inputs in the original column order.
TEST(Gptq, ActOrderAndStaticGroupsRoundTripThroughTheKernels) {
  const int64_t rows = 24, K = 256, N = 5;
  const Mat W = gaussian(static_cast<size_t>(rows * K), 51), X = correlated_inputs(K, 512, 52), H = hessian(X, K, 512);
  const Mat x = gaussian(static_cast<size_t>(K * N), 53);
  for (bool stat : {false, true})
    for (Grid grid : {Grid::Uniform, Grid::NF4}) {
      LayerSpec s;
      s.grid = grid;
      s.group = 32;
      s.static_groups = stat;
      const QuantizedLayer L = gptq(W.data(), rows, K, H.data(), s, nullptr);
      ASSERT_EQ(L.perm.empty(), stat) << "static groups store the original column order";
      if (!stat) {
        std::vector<int32_t> id(static_cast<size_t>(K));
        for (int64_t k = 0; k < K; ++k) id[static_cast<size_t>(k)] = static_cast<int32_t>(k);
        ASSERT_NE(L.perm, id);
        std::vector<int32_t> sorted = L.perm;
        std::sort(sorted.begin(), sorted.end());
        ASSERT_EQ(sorted, id);
      }
      const Mat Wq = dequant(L);
      // Dequantized values are on the stored grid: decode the blocks directly.
      const std::vector<uint8_t> blocks = L.pack();
      Mat row(static_cast<size_t>(K));
      traits(L.type).to_float(blocks.data(), row.data(), K);
      for (int64_t j = 0; j < K; ++j) ASSERT_EQ(Wq[static_cast<size_t>(L.perm.empty() ? j : L.perm[static_cast<size_t>(j)])], row[static_cast<size_t>(j)]);

      Context ctx(true);
      Tensor* wt = ctx.new_tensor_2d(L.type, K, rows);
      std::memcpy(wt->data, blocks.data(), blocks.size());
      Tensor* xt = ctx.new_tensor_2d(Type::F32, K, N);
      std::memcpy(xt->data, x.data(), x.size() * sizeof(float));
      Tensor* out;
      if (L.perm.empty()) {
        out = mul_mat(ctx, wt, xt);
      } else {
        Tensor* p = ctx.new_tensor_1d(Type::I32, K);
        std::memcpy(p->data, L.perm.data(), L.perm.size() * sizeof(int32_t));
        out = mul_mat_perm(ctx, wt, xt, p);
      }
      const std::vector<float> got = run_graph(out);
      double worst = 0, wrong_order = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t r = 0; r < rows; ++r) {
          double want = 0, mag = 0, stored_order = 0;
          for (int64_t k = 0; k < K; ++k) {
            want += static_cast<double>(Wq[static_cast<size_t>(r * K + k)]) * x[static_cast<size_t>(n * K + k)];
            mag += std::fabs(Wq[static_cast<size_t>(r * K + k)] * x[static_cast<size_t>(n * K + k)]);
            // The stored columns applied without the permutation: what a loader that ignored .perm would compute.
            const int64_t orig = L.perm.empty() ? k : L.perm[static_cast<size_t>(k)];
            stored_order += static_cast<double>(Wq[static_cast<size_t>(r * K + orig)]) * x[static_cast<size_t>(n * K + k)];
          }
          worst = std::max(worst, std::fabs(got[static_cast<size_t>(n * rows + r)] - want) / mag);
          wrong_order = std::max(wrong_order, std::fabs(stored_order - want) / mag);
        }
      EXPECT_LT(worst, 0.02) << "kernels vs dequantized weights, static " << stat;  // int8 activations: ~1/254 per term
      if (!stat) {
        EXPECT_GT(wrong_order, 0.2) << "the permutation must matter for this test to mean anything";
      }
    }
}

TEST(Gptq, NF4GridBeatsNF4RoundToNearest) {
  const int64_t rows = 32, K = 256, T = 1024;
  const Mat W = gaussian(static_cast<size_t>(rows * K), 61), X = correlated_inputs(K, T, 62), H = hessian(X, K, T);
  LayerSpec s;
  s.grid = Grid::NF4;
  const double e_rtn = output_error(W, dequant(rtn(W.data(), rows, K, s)), rows, K, X, T);
  const double e_gptq = output_error(W, dequant(gptq(W.data(), rows, K, H.data(), s, nullptr)), rows, K, X, T);
  EXPECT_LT(e_gptq, 0.7 * e_rtn) << "gptq-nf4 " << e_gptq << " nf4 " << e_rtn;
}

TEST(Gptq, WholeRowGroupSharesOneScalePerRow) {
  const int64_t rows = 4, K = 300;
  const Mat W = gaussian(static_cast<size_t>(rows * K), 71), X = correlated_inputs(K, 400, 72), H = hessian(X, K, 400);
  LayerSpec s;
  s.group = -1;
  const QuantizedLayer L = gptq(W.data(), rows, K, H.data(), s, nullptr);
  EXPECT_EQ(L.type, Type::GPTQ4_G128);
  EXPECT_TRUE(L.perm.empty()) << "one group: no permutation needed";
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 1; g < L.n_groups(); ++g) EXPECT_EQ(L.scale[static_cast<size_t>(r * L.n_groups() + g)], L.scale[static_cast<size_t>(r * L.n_groups())]);
}

TEST(Gptq, DeadColumnsAreZeroed) {
  const int64_t rows = 6, K = 64, T = 200;
  Mat X = gaussian(static_cast<size_t>(T * K), 81);
  for (int64_t t = 0; t < T; ++t) X[static_cast<size_t>(t * K + 5)] = 0.0f;
  const Mat W = gaussian(static_cast<size_t>(rows * K), 82), H = hessian(X, K, T);
  LayerSpec s;
  s.group = 32;
  const QuantizedLayer L = gptq(W.data(), rows, K, H.data(), s, nullptr);
  EXPECT_EQ(L.dead, 1);
  const Mat Wq = dequant(L);
  for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(Wq[static_cast<size_t>(r * K + 5)], 0.0f);
}

TEST(Gptq, RejectsSpecsQgmlCannotStore) {
  LayerSpec s;
  s.bits = 5;
  EXPECT_THROW(validate(s), Error);
  s.bits = 4;
  s.group = 48;
  EXPECT_THROW(validate(s), Error);
  s.group = 128;
  s.damp = 1.5;
  EXPECT_THROW(validate(s), Error);
  s.damp = 0.01;
  s.grid = Grid::NF4;
  s.bits = 3;
  EXPECT_THROW(validate(s), Error);
}

}  // namespace
}  // namespace qgml::quantize
