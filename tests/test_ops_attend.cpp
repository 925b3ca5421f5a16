// attend (ops.h) against a double-precision reference computed from the
// tensors' own elements, and against the op chain it replaces (mul_mat →
// soft_max → mul_mat), on odd shapes, grouped-query heads, F32/F16/BF16
// caches, causal masks with and without past positions, ALiBi and strided
// queries.
//
// Tolerance: |got − ref| ≤ 2e-6 + 2e-5·max|v|: the output is a convex
// combination of values, computed with float scores (a dot of hd terms),
// float exp and a double sum, as soft_max and mul_mat compute them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "ops_test_util.h"

namespace qgml::test {
namespace {

struct AttendCase {
  int64_t hd, n_head, n_kv_head, n, n_kv;
  int32_t causal_past;  // −1: no mask
  float alibi;
  Type cache;
  Layout q_layout;
};

struct Built {
  Tensor* q;
  Tensor* k;  // [hd, n_kv_head, n_kv]
  Tensor* v;  // [n_kv, hd, n_kv_head]
};

Built build_inputs(Context& ctx, const AttendCase& c, uint32_t seed) {
  Built b;
  b.q = make_input(ctx, {c.hd, c.n_head, c.n, 1}, c.q_layout, seed, -1.0f, 1.0f);
  // The caches as the models keep them: larger than the visible part, viewed.
  Tensor* kc = ctx.new_tensor_3d(c.cache, c.hd, c.n_kv_head, c.n_kv + 5);
  Tensor* vc = ctx.new_tensor_3d(c.cache, c.n_kv + 5, c.hd, c.n_kv_head);
  fill_random(kc, seed + 1, -1.5f, 1.5f);
  fill_random(vc, seed + 2, -1.0f, 1.0f);
  b.k = view_3d(ctx, kc, c.hd, c.n_kv_head, c.n_kv, kc->nb[1], kc->nb[2], 0);
  b.v = view_3d(ctx, vc, c.n_kv, c.hd, c.n_kv_head, vc->nb[1], vc->nb[2], 0);
  return b;
}

std::vector<double> reference(const Built& b, const AttendCase& c, float scale) {
  std::vector<double> out(static_cast<size_t>(c.hd * c.n_head * c.n));
  const int64_t group = c.n_head / c.n_kv_head;
  for (int64_t i = 0; i < c.n; ++i)
    for (int64_t h = 0; h < c.n_head; ++h) {
      const int64_t hk = h / group;
      const int64_t vis = c.causal_past >= 0 ? std::min(c.n_kv, c.causal_past + i + 1) : c.n_kv;
      std::vector<double> s(static_cast<size_t>(vis));
      double mx = -INFINITY;
      for (int64_t j = 0; j < vis; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < c.hd; ++d) dot += elem(b.q, d, h, i) * elem(b.k, d, hk, j);
        s[j] = dot * scale + (c.alibi > 0 ? alibi_slope_ref(c.alibi, h, c.n_head) * static_cast<double>(j) : 0.0);
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - mx));
      for (int64_t d = 0; d < c.hd; ++d) {
        double acc = 0;
        for (int64_t j = 0; j < vis; ++j) acc += s[j] / sum * elem(b.v, j, d, hk);
        out[static_cast<size_t>((i * c.n_head + h) * c.hd + d)] = acc;
      }
    }
  return out;
}

SoftMaxParams params_of(const AttendCase& c, float scale) {
  SoftMaxParams p;
  p.scale = scale;
  p.causal_past = c.causal_past;
  p.alibi_max_bias = c.alibi;
  return p;
}

std::string describe_case(const AttendCase& c) {
  return "attend hd=" + std::to_string(c.hd) + " heads=" + std::to_string(c.n_head) + "/" + std::to_string(c.n_kv_head) +
         " n=" + std::to_string(c.n) + " n_kv=" + std::to_string(c.n_kv) + " past=" + std::to_string(c.causal_past) +
         " alibi=" + std::to_string(c.alibi) + " " + type_name(c.cache) + " q " + layout_name(c.q_layout);
}

const AttendCase kCases[] = {
    {32, 8, 2, 37, 37, 0, 0.0f, Type::F32, Layout::Contiguous},    // a causal prompt, grouped heads
    {32, 8, 2, 37, 37, 0, 0.0f, Type::F16, Layout::Contiguous},
    {7, 3, 3, 5, 16, 11, 0.0f, Type::F32, Layout::Permuted},      // past positions, odd head size
    {33, 4, 1, 1, 70, 69, 0.0f, Type::F16, Layout::Contiguous},   // one token after 69 (generation)
    {16, 6, 2, 9, 9, -1, 0.0f, Type::BF16, Layout::Transposed},   // no mask
    {20, 5, 5, 18, 40, 22, 8.0f, Type::F32, Layout::RowStrided},  // ALiBi, 5 heads
    {64, 2, 1, 33, 33, 0, 0.0f, Type::F32, Layout::Contiguous},   // more queries than one work item
    {24, 2, 2, 17, 20, 3, 0.0f, Type::F16, Layout::Contiguous},   // blocks of 16 and 1 query: both score paths
};

TEST(OpsAttend, MatchesDoubleReference) {
  uint32_t seed = 4000;
  for (const AttendCase& c : kCases) {
    Context ctx;
    const Built b = build_inputs(ctx, c, seed += 10);
    const SoftMaxParams p = params_of(c, 1.0f / std::sqrt(static_cast<float>(c.hd)));
    Tensor* r = attend(ctx, b.q, b.k, b.v, p);
    ASSERT_EQ(dims_of(r), (Dims{c.hd, c.n_head, c.n, 1}));
    const std::vector<double> got = eval(r);
    expect_close(got, reference(b, c, p.scale), 2e-6, 2e-5, describe_case(c));
  }
}

TEST(OpsAttend, MatchesTheOpChainItReplaces) {
  uint32_t seed = 5000;
  for (const AttendCase& c : kCases) {
    Context ctx;
    const Built b = build_inputs(ctx, c, seed += 10);
    const SoftMaxParams p = params_of(c, 0.3f);
    const std::vector<double> fused = eval(attend(ctx, b.q, b.k, b.v, p));
    // scores [n_kv, n, n_head] = keys · queries, with keys as [hd, n_kv, n_kv_head].
    Tensor* keys = permute(ctx, b.k, 0, 2, 1, 3);
    Tensor* keys_c = ctx.new_tensor_3d(c.cache, c.hd, c.n_kv, c.n_kv_head);  // mul_mat wants contiguous weight rows
    Tensor* kcopy = cpy(ctx, keys, keys_c);
    Tensor* scores = mul_mat(ctx, kcopy, permute(ctx, b.q, 0, 2, 1, 3));
    Tensor* out = mul_mat(ctx, b.v, soft_max(ctx, scores, p));                  // [hd, n, n_head]
    const std::vector<double> chain = eval(cont(ctx, permute(ctx, out, 0, 2, 1, 3)));
    expect_close(fused, chain, 2e-6, 2e-5, describe_case(c) + " vs mul_mat/soft_max/mul_mat");
  }
}

TEST(OpsAttend, SameResultForAnyThreadCount) {
  const AttendCase c = {32, 8, 2, 70, 70, 0, 0.0f, Type::F16, Layout::Contiguous};
  Context ctx;
  const Built b = build_inputs(ctx, c, 77);
  SoftMaxParams p;
  p.scale = 0.2f;
  p.causal_past = 0;
  Tensor* r = attend(ctx, b.q, b.k, b.v, p);
  const std::vector<double> one = eval(r, 1);
  for (int nth : {2, 3, 5}) EXPECT_EQ(eval(r, nth), one) << nth << " threads";
}

TEST(OpsAttend, RejectsMismatchedInputs) {
  Context ctx;
  Tensor* q = ctx.new_tensor_3d(Type::F32, 8, 6, 3);
  Tensor* k = ctx.new_tensor_3d(Type::F32, 8, 4, 10);  // 6 heads cannot share 4
  Tensor* v = ctx.new_tensor_3d(Type::F32, 10, 8, 4);
  EXPECT_THROW(attend(ctx, q, k, v, SoftMaxParams()), Error);
  Tensor* k2 = ctx.new_tensor_3d(Type::F32, 8, 2, 10);
  Tensor* v_bad = ctx.new_tensor_3d(Type::F32, 9, 8, 2);  // 9 positions of values, 10 of keys
  EXPECT_THROW(attend(ctx, q, k2, v_bad, SoftMaxParams()), Error);
  Tensor* v2 = ctx.new_tensor_3d(Type::F32, 10, 8, 2);
  Tensor* q16 = ctx.new_tensor_3d(Type::F16, 8, 6, 3);
  EXPECT_THROW(attend(ctx, q16, k2, v2, SoftMaxParams()), Error);
  Tensor* kq = ctx.new_tensor_3d(Type::Q8_0, 32, 2, 10);
  Tensor* q32 = ctx.new_tensor_3d(Type::F32, 32, 6, 3);
  Tensor* v32 = ctx.new_tensor_3d(Type::F32, 10, 32, 2);
  EXPECT_THROW(attend(ctx, q32, kq, v32, SoftMaxParams()), Error);
  SoftMaxParams bad;
  bad.causal_past = -2;
  EXPECT_THROW(attend(ctx, q, k2, v2, bad), Error);
  EXPECT_NO_THROW(attend(ctx, q, k2, v2, SoftMaxParams()));
}

}  // namespace
}  // namespace qgml::test
