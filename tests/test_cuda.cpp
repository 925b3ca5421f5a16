// The CUDA offload (qgml/gpu.h): every device kernel and weight type against
// an independent reference (the CPU's to_float dequantization, then a double
// dot product), the matrix-vector kernel (few rows) and the tensor-core GEMM
// (many rows), with and without GPTQ's act-order permutation. Without a GPU,
// or in a build without CUDA, the device tests skip loudly; the fallback
// tests run everywhere: mul_mat through a graph must give the CPU's result
// whatever the device situation, and `qgml run -ngl 99` on a machine without
// a usable GPU must say so and produce the same tokens as without -ngl.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>
#include <vector>

#include "qgml/gpu.h"
#include "qgml/graph.h"
#include "qgml/ops.h"
#include "qgml/quant.h"
#include "quants.h"
#include "test_util.h"

namespace qgml {
namespace {

void require_gpu() {
  if (!gpu::compiled())
    GTEST_SKIP() << "*** CUDA kernel tests SKIPPED: " << gpu::description() << " (make cuda builds them) ***";
  if (!gpu::available())
    GTEST_SKIP() << "*** CUDA kernel tests SKIPPED: " << gpu::description() << " ***";
}

Tensor* weight(Context& ctx, Type t, int64_t K, int64_t M, uint32_t seed) {
  Tensor* w = ctx.new_tensor_2d(t, K, M);
  for (int64_t m = 0; m < M; ++m) {
    const auto x = test::random_floats(static_cast<size_t>(K), seed + static_cast<uint32_t>(m));
    traits(t).from_float(x.data(), w->row(m), K);
  }
  return w;
}

Tensor* activations(Context& ctx, int64_t K, int64_t N, uint32_t seed) {
  Tensor* b = ctx.new_tensor_2d(Type::F32, K, N);
  const auto v = test::random_floats(static_cast<size_t>(K * N), seed);
  std::memcpy(b->data, v.data(), v.size() * sizeof(float));
  return b;
}

Tensor* permutation(Context& ctx, int64_t K, uint32_t seed) {
  Tensor* p = ctx.new_tensor_1d(Type::I32, K);
  int32_t* d = static_cast<int32_t*>(p->data);
  std::iota(d, d + K, 0);
  std::mt19937 rng(seed);
  std::shuffle(d, d + K, rng);
  return p;
}

// The reference product and, per output, Σ|w·x| (the scale of rounding errors).
void reference(const Tensor* a, const Tensor* b, const Tensor* perm, std::vector<double>* out,
               std::vector<double>* mag) {
  const int64_t K = a->ne[0], M = a->ne[1], N = b->ne[1];
  out->assign(static_cast<size_t>(N * M), 0.0);
  mag->assign(out->size(), 0.0);
  std::vector<float> w(static_cast<size_t>(K));
  const int32_t* p = perm != nullptr ? static_cast<const int32_t*>(perm->data) : nullptr;
  for (int64_t m = 0; m < M; ++m) {
    traits(a->type).to_float(a->row(m), w.data(), K);
    for (int64_t n = 0; n < N; ++n) {
      const float* x = reinterpret_cast<const float*>(b->row(n));
      double s = 0.0, g = 0.0;
      for (int64_t k = 0; k < K; ++k) {
        const double t = static_cast<double>(w[k]) * x[p != nullptr ? p[k] : k];
        s += t;
        g += std::fabs(t);
      }
      (*out)[n * M + m] = s;
      (*mag)[n * M + m] = g;
    }
  }
}

// rel: allowed error relative to Σ|w·x|. The matrix-vector kernel is F32
// throughout; the GEMM rounds weights and activations to F16 (2^-11 each).
void expect_close(const Tensor* dst, const std::vector<double>& ref, const std::vector<double>& mag, double rel,
                  const std::string& what) {
  const int64_t M = dst->ne[0], N = dst->ne[1];
  int bad = 0;
  for (int64_t n = 0; n < N && bad < 5; ++n)
    for (int64_t m = 0; m < M && bad < 5; ++m) {
      const double got = reinterpret_cast<const float*>(dst->row(n))[m];
      const double want = ref[n * M + m], tol = rel * mag[n * M + m] + 1e-6;
      if (!(std::fabs(got - want) <= tol)) {
        ++bad;
        ADD_FAILURE() << what << ": out[" << n << "][" << m << "] = " << got << ", reference " << want
                      << " (tolerance " << tol << ")";
      }
    }
}

std::vector<Type> device_types() {
  std::vector<Type> v = {Type::F16, Type::BF16, Type::Q8_0, Type::Q4_0, Type::NF4, Type::NF4_DQ};
  for (int i = static_cast<int>(Type::GPTQ4_G32); i <= static_cast<int>(Type::GPTQ2S_G128); ++i)
    v.push_back(static_cast<Type>(i));
  return v;
}

TEST(Cuda, SupportsExactlyTheKernelTypes) {
  for (Type t : device_types()) EXPECT_TRUE(gpu::supports(t)) << type_name(t);
  for (Type t : {Type::F32, Type::I32, Type::Q4_1, Type::Q8_A, Type::Q4_K, Type::Q6_K})
    EXPECT_FALSE(gpu::supports(t)) << type_name(t);
}

// Every type, both kernels (N ≤ 8: matrix-vector; N > 8: GEMM), M not a
// multiple of the 64-row tile, with and without act-order.
TEST(Cuda, EveryTypeAndKernelMatchesTheReference) {
  require_gpu();
  if (IsSkipped()) return;
  const int64_t K = 512, M = 70;
  for (Type t : device_types()) {
    for (int64_t N : {1, 3, 8, 9, 40, 130}) {
      for (bool act_order : {false, true}) {
        Context ctx;
        Tensor* a = weight(ctx, t, K, M, 100 + static_cast<uint32_t>(t));
        Tensor* b = activations(ctx, K, N, 7 + static_cast<uint32_t>(N));
        Tensor* perm = act_order ? permutation(ctx, K, 3) : nullptr;
        Tensor* dst = ctx.new_tensor_2d(Type::F32, M, N);
        const std::string what = std::string(type_name(t)) + " N=" + std::to_string(N) + (act_order ? " act-order" : "");
        ASSERT_TRUE(gpu::mul_mat(a, b, perm, dst)) << what;
        std::vector<double> ref, mag;
        reference(a, b, perm, &ref, &mag);
        expect_close(dst, ref, mag, N <= 8 ? 1e-5 : 2e-3, what);
      }
    }
  }
}

// K not a multiple of the GEMM's K step (F16 rows of 100) and odd sizes
// everywhere: the padding must add nothing.
TEST(Cuda, PaddedShapesMatchTheReference) {
  require_gpu();
  if (IsSkipped()) return;
  for (int64_t N : {2, 33, 65}) {
    Context ctx;
    Tensor* a = weight(ctx, Type::F16, 100, 17, 5);
    Tensor* b = activations(ctx, 100, N, 6);
    Tensor* dst = ctx.new_tensor_2d(Type::F32, 17, N);
    ASSERT_TRUE(gpu::mul_mat(a, b, nullptr, dst));
    std::vector<double> ref, mag;
    reference(a, b, nullptr, &ref, &mag);
    expect_close(dst, ref, mag, N <= 8 ? 1e-5 : 2e-3, "f16 K=100 N=" + std::to_string(N));
  }
}

// The policy: products with few rows go to the device only for resident
// weights; a resident weight gives the same result as a streamed one.
TEST(Cuda, ResidentWeightsAndThePolicy) {
  require_gpu();
  if (IsSkipped()) return;
  Context ctx;
  Tensor* a = weight(ctx, Type::GPTQ4_G128, 256, 96, 11);
  Tensor* one = activations(ctx, 256, 1, 12);
  Tensor* many = activations(ctx, 256, gpu::kMinOffloadRows, 13);
  EXPECT_FALSE(gpu::wants(a, one));
  EXPECT_TRUE(gpu::wants(a, many));
  Tensor* streamed = ctx.new_tensor_2d(Type::F32, 96, 1);
  ASSERT_TRUE(gpu::mul_mat(a, one, nullptr, streamed));
  const size_t before = gpu::device_bytes();
  ASSERT_TRUE(gpu::register_weight(a, true));
  EXPECT_EQ(gpu::device_bytes(), before + a->nbytes());
  EXPECT_TRUE(gpu::wants(a, one));
  Tensor* resident = ctx.new_tensor_2d(Type::F32, 96, 1);
  ASSERT_TRUE(gpu::mul_mat(a, one, nullptr, resident));
  EXPECT_EQ(0, std::memcmp(streamed->data, resident->data, 96 * sizeof(float)));
  gpu::unregister_weight(a);
  EXPECT_EQ(gpu::device_bytes(), before);
  EXPECT_FALSE(gpu::wants(a, one));
}

// The GEMM takes activations in F16: a product whose activations exceed its
// range is declined (and runs on the CPU); the F32 matrix-vector kernel takes it.
TEST(Cuda, ActivationsBeyondF16RangeAreDeclinedByTheGemm) {
  require_gpu();
  if (IsSkipped()) return;
  for (int64_t N : {2, 40}) {
    Context ctx;
    Tensor* a = weight(ctx, Type::Q8_0, 64, 16, 31);
    Tensor* b = activations(ctx, 64, N, 32);
    static_cast<float*>(b->data)[5] = 1e5f;
    Tensor* dst = ctx.new_tensor_2d(Type::F32, 16, N);
    EXPECT_EQ(gpu::mul_mat(a, b, nullptr, dst), N <= 8) << "N=" << N;
  }
}

// Runs everywhere: a graph's mul_mat, offered to the device or not, equals
// the reference within the CPU kernels' own error (8-bit activations) or the
// GEMM's, whichever ran.
TEST(CudaFallback, GraphMulMatIsRightWhereverItRuns) {
  for (Type t : {Type::Q4_0, Type::GPTQ4_G32, Type::F16}) {
    for (int threads : {1, 2}) {
      Context ctx;
      const int64_t K = 256, M = 48, N = gpu::kMinOffloadRows + 8;
      Tensor* a = weight(ctx, t, K, M, 21);
      Tensor* b = activations(ctx, K, N, 22);
      Tensor* perm = t == Type::GPTQ4_G32 ? permutation(ctx, K, 9) : nullptr;
      Tensor* out = perm != nullptr ? mul_mat_perm(ctx, a, b, perm) : mul_mat(ctx, a, b);
      Graph g;
      g.add_output(out);
      g.compute(threads);
      std::vector<double> ref, mag;
      reference(a, b, perm, &ref, &mag);
      expect_close(out, ref, mag, 1e-2, std::string(type_name(t)) + " threads=" + std::to_string(threads));
    }
  }
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// `-ngl 99` where no GPU can take the layers (a CPU-only build, or a CUDA
// build on a machine without a device): one clear message on stderr and the
// same tokens as without the flag. With a GPU it must report the layers it
// placed; the model is F32, which stays on the CPU, so tokens match too.
TEST(CudaFallback, NglWithoutAGpuRunsOnTheCpuWithTheSameTokens) {
  const std::string model = test::source_dir() + "/models/stories260K/stories260K.gguf";
  test::TempDir dir;
  const std::string err = dir.path() + "/stderr.txt";
  const std::string common = "run -m " + model + " -n 48 --temp 0 -t 2 -p 'Once upon a time'";
  const auto plain = test::run_cli(common + " 2>/dev/null");
  const auto offl = test::run_cli(common + " -ngl 99 2>" + err);
  ASSERT_EQ(plain.exit_code, 0);
  ASSERT_EQ(offl.exit_code, 0);
  EXPECT_EQ(plain.out, offl.out);
  EXPECT_GT(plain.out.size(), std::string("Once upon a time").size());
  const std::string msg = read_text(err);
  if (!gpu::available()) {
    EXPECT_NE(msg.find("-ngl 99 ignored: " + gpu::description() + "; running on the CPU"), std::string::npos) << msg;
  } else {
    EXPECT_NE(msg.find("layers on the GPU"), std::string::npos) << msg;
  }
  // A negative count is a usage error, not a crash.
  const auto neg = test::run_cli(common + " -ngl -1 2>&1");
  EXPECT_NE(neg.exit_code, 0);
  EXPECT_NE(neg.out.find("-ngl expects a layer count"), std::string::npos) << neg.out;
}

}  // namespace
}  // namespace qgml
