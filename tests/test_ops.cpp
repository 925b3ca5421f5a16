// Every compute op against a naive double-precision reference, on odd shapes
// and non-contiguous inputs. Layout ops (views, cpy, cont, concat) are in
// test_ops_layout.cpp, mul_mat in test_ops_mul_mat.cpp.
//
// Tolerances (|got − ref| ≤ atol + rtol·|ref|):
//   add, mul, scale, relu     exact: one IEEE operation on floats is the double
//                             result rounded to float
//   silu, gelu, swiglu        atol 1e-6, rtol 1e-5 (float exp/tanh/erf)
//   rms_norm, layer_norm      atol 1e-6, rtol 1e-5 (sums in double, one float scale)
//   rope                      atol 2e-6 for |x| ≤ 1 (angles in double, float rotation)
//   soft_max                  atol 1e-6, rtol 1e-5 (float exp, double sum)
//   get_rows                  exact (conversion to float is exact for every type)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "ops_test_util.h"

namespace qgml::test {
namespace {

// --- element-wise ---------------------------------------------------------

using BinaryBuilder = Tensor* (*)(Context&, Tensor*, Tensor*);

void check_binary(const char* name, BinaryBuilder build, double (*ref_fn)(double, double), bool exact) {
  uint32_t seed = 100;
  for (const Dims& d : test_shapes(1)) {
    // b either has a's shape or broadcasts (dims of 1, or a divisor).
    std::vector<Dims> b_shapes = {d, {d[0], 1, 1, 1}, {1, d[1], 1, d[3]}, {d[0], d[1], 1, 1}};
    if (d[2] % 2 == 0) b_shapes.push_back({d[0], 1, d[2] / 2, 1});
    for (const Dims& bd : b_shapes) {
      for (Layout la : kAllLayouts) {
        const Layout lb = la == Layout::Contiguous ? Layout::Transposed : Layout::Contiguous;
        Context ctx;
        Tensor* a = make_input(ctx, d, la, ++seed);
        Tensor* b = make_input(ctx, bd, lb, ++seed);
        Tensor* r = build(ctx, a, b);
        ASSERT_EQ(dims_of(r), d);
        const std::vector<double> got = eval(r);
        std::vector<double> ref(static_cast<size_t>(numel(d)));
        for (int64_t i = 0; i < numel(d); ++i) {
          const auto ix = unflatten(i, d);
          ref[static_cast<size_t>(i)] = ref_fn(elem(a, ix[0], ix[1], ix[2], ix[3]),
                                               elem(b, ix[0] % bd[0], ix[1] % bd[1], ix[2] % bd[2], ix[3] % bd[3]));
        }
        const std::string what = std::string(name) + " a" + dims_str(d) + " " + layout_name(la) + " b" +
                                 dims_str(bd) + " " + layout_name(lb);
        if (exact) expect_float_exact(got, ref, what);
        else expect_close(got, ref, 1e-6, 1e-5, what);
      }
    }
  }
}

double ref_silu(double x) { return x / (1.0 + std::exp(-x)); }

TEST(Ops, Add) { check_binary("add", add, [](double x, double y) { return x + y; }, true); }
TEST(Ops, Mul) { check_binary("mul", mul, [](double x, double y) { return x * y; }, true); }

TEST(Ops, SwiGlu) {
  uint32_t seed = 900;
  for (const Dims& d : test_shapes(2)) {
    for (Layout l : kAllLayouts) {
      Context ctx;
      Tensor* g = make_input(ctx, d, l, ++seed, -6.0f, 6.0f);
      Tensor* u = make_input(ctx, d, Layout::RowStrided, ++seed, -2.0f, 2.0f);
      const std::vector<double> got = eval(swiglu(ctx, g, u));
      const std::vector<double> gv = values(g), uv = values(u);
      std::vector<double> ref(gv.size());
      for (size_t i = 0; i < gv.size(); ++i) ref[i] = ref_silu(gv[i]) * uv[i];
      expect_close(got, ref, 1e-6, 1e-5, "swiglu " + dims_str(d) + " " + layout_name(l));
    }
  }
}

void check_unary(const std::string& name, const std::function<Tensor*(Context&, Tensor*)>& build,
                 double (*ref_fn)(double), bool exact, float range) {
  uint32_t seed = 300;
  for (const Dims& d : test_shapes(3)) {
    for (Layout l : kAllLayouts) {
      Context ctx;
      Tensor* a = make_input(ctx, d, l, ++seed, -range, range);
      const std::vector<double> got = eval(build(ctx, a));
      std::vector<double> ref = values(a);
      for (double& x : ref) x = ref_fn(x);
      const std::string what = name + " " + dims_str(d) + " " + layout_name(l);
      if (exact) expect_float_exact(got, ref, what);
      else expect_close(got, ref, 1e-6, 1e-5, what);
    }
  }
}

TEST(Ops, Scale) {
  check_unary("scale", [](Context& c, Tensor* a) { return scale(c, a, -0.3f); },
              [](double x) { return x * static_cast<double>(-0.3f); }, true, 5.0f);
}
TEST(Ops, Relu) {
  check_unary("relu", relu, [](double x) { return x > 0 ? x : 0.0; }, true, 5.0f);
}
TEST(Ops, Silu) { check_unary("silu", silu, ref_silu, false, 12.0f); }
TEST(Ops, GeluTanh) {
  check_unary("gelu(tanh)", [](Context& c, Tensor* a) { return gelu(c, a, true); },
              [](double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); },
              false, 8.0f);
}
TEST(Ops, GeluErf) {
  check_unary("gelu(erf)", [](Context& c, Tensor* a) { return gelu(c, a, false); },
              [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }, false, 8.0f);
}

// --- normalisation --------------------------------------------------------

void check_norm(bool rms) {
  uint32_t seed = 500;
  const float eps = 1e-5f;
  for (const Dims& d : test_shapes(4)) {
    for (Layout l : kAllLayouts) {
      Context ctx;
      // An offset so that layer_norm's mean subtraction matters.
      Tensor* a = make_input(ctx, d, l, ++seed, -1.0f, 3.0f);
      const std::vector<double> got = eval(rms ? rms_norm(ctx, a, eps) : layer_norm(ctx, a, eps));
      std::vector<double> ref = values(a);
      for (size_t r = 0; r < ref.size(); r += static_cast<size_t>(d[0])) {
        double mean = 0, var = 0, ss = 0;
        for (int64_t i = 0; i < d[0]; ++i) mean += ref[r + i], ss += ref[r + i] * ref[r + i];
        mean /= static_cast<double>(d[0]);
        for (int64_t i = 0; i < d[0]; ++i) var += (ref[r + i] - mean) * (ref[r + i] - mean);
        var /= static_cast<double>(d[0]);
        const double s = rms ? 1 / std::sqrt(ss / static_cast<double>(d[0]) + eps) : 1 / std::sqrt(var + eps);
        for (int64_t i = 0; i < d[0]; ++i) ref[r + i] = rms ? ref[r + i] * s : (ref[r + i] - mean) * s;
      }
      expect_close(got, ref, 1e-6, 1e-5, std::string(rms ? "rms_norm " : "layer_norm ") + dims_str(d) + " " +
                                            layout_name(l));
    }
  }
}

TEST(Ops, RmsNorm) { check_norm(true); }
TEST(Ops, LayerNorm) { check_norm(false); }

// --- get_rows -------------------------------------------------------------

TEST(Ops, GetRowsEveryType) {
  for (Type t : {Type::F32, Type::F16, Type::BF16, Type::Q8_0, Type::Q4_0}) {
    for (int64_t K : {1, 7, 33, 64, 172}) {
      const int64_t M = 9, B = 2, N = 6;
      Context ctx;
      Tensor* a = ctx.new_tensor_3d(t, K, M, B);
      fill_random(a, static_cast<uint32_t>(K) * 7 + static_cast<uint32_t>(t), -2.0f, 2.0f);
      Tensor* idx = ctx.new_tensor_2d(Type::I32, N, B);
      // Repeats, out-of-order, and two out-of-range ids (documented to give zero rows).
      const int32_t ids[2][6] = {{3, 0, 8, 3, -1, 5}, {8, 9, 1, 1, 0, 7}};
      for (int b = 0; b < B; ++b) std::memcpy(idx->row(b), ids[b], sizeof ids[b]);
      Tensor* r = get_rows(ctx, a, idx);
      ASSERT_EQ(dims_of(r), (Dims{K, N, B, 1}));
      const std::vector<double> got = eval(r);
      std::vector<double> ref;
      std::vector<float> row(static_cast<size_t>(K));
      for (int b = 0; b < B; ++b) {
        for (int n = 0; n < N; ++n) {
          const int32_t id = ids[b][n];
          if (id < 0 || id >= M) std::fill(row.begin(), row.end(), 0.0f);
          else traits(t).to_float(a->row(id, b), row.data(), K);
          ref.insert(ref.end(), row.begin(), row.end());
        }
      }
      expect_close(got, ref, 0, 0, std::string("get_rows ") + type_name(t) + " K=" + std::to_string(K));
    }
  }
}

TEST(Ops, GetRowsFromTransposedView) {
  Context ctx;
  Tensor* a = make_input(ctx, {13, 5, 1, 1}, Layout::Transposed, 77);
  Tensor* idx = ctx.new_tensor_1d(Type::I32, 3);
  const int32_t ids[] = {4, 0, 2};
  std::memcpy(idx->data, ids, sizeof ids);
  const std::vector<double> got = eval(get_rows(ctx, a, idx));
  std::vector<double> ref;
  for (int32_t id : ids)
    for (int64_t i = 0; i < 13; ++i) ref.push_back(elem(a, i, id));
  expect_close(got, ref, 0, 0, "get_rows from a transposed view");
}

// --- rope -----------------------------------------------------------------

struct RopeCase {
  int64_t head_dim, n_heads, n_tokens;
  int32_t n_rot;
  RopeMode mode;
  float freq_scale;
  bool factors;
  Layout layout;
};

std::vector<double> rope_ref(const Tensor* a, const std::vector<int32_t>& pos, const RopeParams& p,
                             const std::vector<float>& factors) {
  std::vector<double> out = values(a);
  const int64_t hd = a->ne[0], nh = a->ne[1], nt = a->ne[2];
  for (int64_t t = 0; t < nt; ++t) {
    for (int64_t h = 0; h < nh; ++h) {
      double* x = &out[static_cast<size_t>((t * nh + h) * hd)];
      for (int i = 0; i < p.n_rot / 2; ++i) {
        double theta = pos[static_cast<size_t>(t)] * static_cast<double>(p.freq_scale) *
                       std::pow(static_cast<double>(p.freq_base), -2.0 * i / p.n_rot);
        if (!factors.empty()) theta /= factors[static_cast<size_t>(i)];
        const int64_t k0 = p.mode == RopeMode::Neox ? i : 2 * i;
        const int64_t k1 = p.mode == RopeMode::Neox ? i + p.n_rot / 2 : 2 * i + 1;
        const double v0 = x[k0], v1 = x[k1];
        x[k0] = v0 * std::cos(theta) - v1 * std::sin(theta);
        x[k1] = v0 * std::sin(theta) + v1 * std::cos(theta);
      }
    }
  }
  return out;
}

TEST(Ops, Rope) {
  const RopeCase cases[] = {
      {64, 4, 5, 64, RopeMode::Adjacent, 1.0f, false, Layout::Contiguous},
      {64, 4, 5, 64, RopeMode::Neox, 1.0f, false, Layout::Contiguous},
      // Same frequencies as the case before, other position scale: rope's
      // angle table, kept across calls, must not serve the old angles.
      {64, 4, 5, 64, RopeMode::Neox, 0.5f, false, Layout::Contiguous},
      {96, 3, 7, 32, RopeMode::Neox, 1.0f, false, Layout::Contiguous},  // partial rotary
      {96, 3, 7, 32, RopeMode::Adjacent, 1.0f, false, Layout::Permuted},
      {10, 5, 3, 6, RopeMode::Neox, 0.25f, false, Layout::RowStrided},  // linear scaling
      {128, 2, 4, 128, RopeMode::Adjacent, 1.0f, true, Layout::Transposed},  // llama3 factors
      {128, 2, 4, 100, RopeMode::Neox, 0.5f, true, Layout::Contiguous},
      {2, 1, 1, 2, RopeMode::Adjacent, 1.0f, false, Layout::Contiguous},
      {34, 7, 9, 34, RopeMode::Neox, 1.0f, true, Layout::Permuted},
  };
  uint32_t seed = 1000;
  for (const RopeCase& c : cases) {
    Context ctx;
    Tensor* a = make_input(ctx, {c.head_dim, c.n_heads, c.n_tokens, 1}, c.layout, ++seed);
    // Arbitrary positions: unordered, repeated, zero, and long-context values.
    std::mt19937 rng(seed);
    std::vector<int32_t> pos(static_cast<size_t>(c.n_tokens));
    for (size_t i = 0; i < pos.size(); ++i)
      pos[i] = i == 0 ? 0 : i == 1 ? 32767 : std::uniform_int_distribution<int32_t>(0, 40000)(rng);
    if (pos.size() > 3) pos[3] = pos[2];
    Tensor* pt = ctx.new_tensor_1d(Type::I32, c.n_tokens);
    std::memcpy(pt->data, pos.data(), pos.size() * 4);
    std::vector<float> factors;
    Tensor* ft = nullptr;
    if (c.factors) {
      ft = ctx.new_tensor_1d(Type::F32, c.n_rot / 2);
      for (int i = 0; i < c.n_rot / 2; ++i) factors.push_back(1.0f + 7.0f * static_cast<float>(i) / c.n_rot);
      std::memcpy(ft->data, factors.data(), factors.size() * 4);
    }
    RopeParams p;
    p.n_rot = c.n_rot;
    p.mode = c.mode;
    p.freq_base = c.factors ? 500000.0f : 10000.0f;
    p.freq_scale = c.freq_scale;
    const std::vector<double> got = eval(rope(ctx, a, pt, p, ft));
    const std::string what = "rope hd=" + std::to_string(c.head_dim) + " n_rot=" + std::to_string(c.n_rot) +
                             (c.mode == RopeMode::Neox ? " neox " : " adjacent ") + layout_name(c.layout) +
                             (c.factors ? " factors" : "") + " fs=" + std::to_string(c.freq_scale);
    expect_close(got, rope_ref(a, pos, p, factors), 2e-6, 0, what);
  }
}

// --- soft_max -------------------------------------------------------------


struct SoftMaxCase {
  Dims d;  // n_kv, n_tokens, n_heads
  float scale;
  int32_t causal_past;
  float alibi;
  bool mask;
  Layout layout;
};

TEST(Ops, SoftMax) {
  const SoftMaxCase cases[] = {
      {{37, 5, 3, 1}, 1.0f, -1, 0.0f, false, Layout::Contiguous},
      {{37, 5, 3, 1}, 0.125f, 0, 0.0f, false, Layout::Permuted},
      {{16, 4, 2, 1}, 0.5f, 3, 0.0f, true, Layout::Contiguous},
      {{33, 6, 5, 1}, 0.3f, -1, 8.0f, false, Layout::Transposed},  // ALiBi, 5 heads
      {{20, 3, 12, 1}, 1.0f, 17, 8.0f, true, Layout::RowStrided},  // ALiBi, 12 heads + mask + causal
      {{1, 1, 1, 1}, 2.0f, -1, 0.0f, false, Layout::Contiguous},
      {{172, 2, 2, 2}, 0.1f, 100, 0.0f, true, Layout::Contiguous},
  };
  uint32_t seed = 2000;
  for (const SoftMaxCase& c : cases) {
    Context ctx;
    Tensor* a = make_input(ctx, c.d, c.layout, ++seed, -8.0f, 8.0f);
    Tensor* mask = nullptr;
    if (c.mask) {
      // One more row than needed (masks are often padded); −inf entries and one
      // fully masked row, which must come out all zero.
      mask = ctx.new_tensor_2d(Type::F32, c.d[0], c.d[1] + 1);
      fill_random(mask, seed + 7, -2.0f, 2.0f);
      float* m = static_cast<float*>(mask->data);
      for (int64_t i = 0; i < c.d[0] * (c.d[1] + 1); i += 3) m[i] = -INFINITY;
      for (int64_t j = 0; j < c.d[0]; ++j) m[j] = -INFINITY;
    }
    SoftMaxParams p;
    p.scale = c.scale;
    p.causal_past = c.causal_past;
    p.alibi_max_bias = c.alibi;
    const std::vector<double> got = eval(soft_max(ctx, a, p, mask));

    std::vector<double> ref = values(a);
    const int64_t n = c.d[0];
    for (size_t r = 0; r < ref.size() / static_cast<size_t>(n); ++r) {
      const int64_t i1 = static_cast<int64_t>(r) % c.d[1], h = static_cast<int64_t>(r) / c.d[1] % c.d[2];
      double* x = &ref[r * static_cast<size_t>(n)];
      double mx = -INFINITY;
      for (int64_t j = 0; j < n; ++j) {
        double v = x[j] * static_cast<double>(c.scale);
        if (mask) v += elem(mask, j, i1);
        if (c.alibi > 0) v += alibi_slope_ref(c.alibi, h, c.d[2]) * static_cast<double>(j);
        if (c.causal_past >= 0 && j > c.causal_past + i1) v = -INFINITY;
        x[j] = v;
        mx = std::max(mx, v);
      }
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) sum += mx == -INFINITY ? 0.0 : std::exp(x[j] - mx);
      for (int64_t j = 0; j < n; ++j) x[j] = mx == -INFINITY ? 0.0 : std::exp(x[j] - mx) / sum;
    }
    expect_close(got, ref, 1e-6, 1e-5,
                 "soft_max " + dims_str(c.d) + " " + layout_name(c.layout) + " causal_past=" +
                     std::to_string(c.causal_past) + " alibi=" + std::to_string(c.alibi) + (c.mask ? " mask" : ""));
  }
}

TEST(Ops, SoftMaxStridedMask) {
  // The mask as a transposed view: read through its strides, not as rows of floats.
  Context ctx;
  Tensor* a = make_input(ctx, {9, 4, 2, 1}, Layout::Contiguous, 31, -3.0f, 3.0f);
  Tensor* mask = make_input(ctx, {9, 4, 1, 1}, Layout::Transposed, 32, -2.0f, 2.0f);
  const std::vector<double> got = eval(soft_max(ctx, a, SoftMaxParams(), mask));
  std::vector<double> ref = values(a);
  for (size_t r = 0; r < 8; ++r) {
    double* x = &ref[r * 9];
    double sum = 0;
    for (int64_t j = 0; j < 9; ++j) sum += std::exp(x[j] += elem(mask, j, static_cast<int64_t>(r % 4)));
    for (int64_t j = 0; j < 9; ++j) x[j] = std::exp(x[j]) / sum;
  }
  expect_close(got, ref, 1e-6, 1e-5, "soft_max with a transposed mask");
}

}  // namespace
}  // namespace qgml::test
