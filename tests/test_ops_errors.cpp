// Bad arguments to every op builder throw qgml::Error, with a message that
// names the problem (checked by a substring of the message).
#include <gtest/gtest.h>

#include "ops_test_util.h"

namespace qgml::test {
namespace {

class OpErrors : public ::testing::Test {
 protected:
  Context ctx;
  Tensor* f32_2d = ctx.new_tensor_2d(Type::F32, 8, 4);
  Tensor* f32_3d = ctx.new_tensor_3d(Type::F32, 8, 4, 3);
  Tensor* f16_2d = ctx.new_tensor_2d(Type::F16, 8, 4);
  Tensor* i32_1d = ctx.new_tensor_1d(Type::I32, 3);
  Tensor* q8_2d = ctx.new_tensor_2d(Type::Q8_0, 64, 4);
};

TEST_F(OpErrors, Context) {
  const int64_t neg[] = {4, -1};
  expect_error([&] { ctx.new_tensor(Type::F32, 2, neg); }, "negative", "negative dim");
  const int64_t five[] = {1, 1, 1, 1, 1};
  expect_error([&] { ctx.new_tensor(Type::F32, 5, five); }, "1 to 4 dimensions", "5 dims");
}

TEST_F(OpErrors, ElementWise) {
  expect_error([&] { add(ctx, f16_2d, f32_2d); }, "expects F32", "add f16");
  expect_error([&] { mul(ctx, f32_2d, i32_1d); }, "expects F32", "mul i32");
  Tensor* odd = ctx.new_tensor_2d(Type::F32, 3, 4);
  expect_error([&] { add(ctx, f32_2d, odd); }, "cannot broadcast", "add 8 vs 3");
  expect_error([&] { mul(ctx, odd, f32_2d); }, "cannot broadcast", "b bigger than a");
  expect_error([&] { swiglu(ctx, f32_2d, f32_3d); }, "shapes differ", "swiglu shapes");
  expect_error([&] { scale(ctx, i32_1d, 2.0f); }, "expects F32", "scale i32");
  expect_error([&] { silu(ctx, f16_2d); }, "expects F32", "silu f16");
  expect_error([&] { gelu(ctx, q8_2d); }, "expects F32", "gelu q8_0");
  expect_error([&] { relu(ctx, i32_1d); }, "expects F32", "relu i32");
}

TEST_F(OpErrors, Norms) {
  expect_error([&] { rms_norm(ctx, f16_2d, 1e-5f); }, "expects F32", "rms_norm f16");
  expect_error([&] { layer_norm(ctx, f32_2d, -1.0f); }, "epsilon", "negative eps");
  expect_error([&] { rms_norm(ctx, f32_2d, NAN); }, "epsilon", "nan eps");
}

TEST_F(OpErrors, MulMat) {
  Tensor* w = ctx.new_tensor_2d(Type::F16, 8, 5);
  expect_error([&] { mul_mat(ctx, w, f16_2d); }, "activations must be F32", "f16 activations");
  Tensor* b7 = ctx.new_tensor_2d(Type::F32, 7, 2);
  expect_error([&] { mul_mat(ctx, w, b7); }, "inner dimensions differ", "K mismatch");
  Tensor* w3 = ctx.new_tensor_3d(Type::F32, 8, 5, 2);
  expect_error([&] { mul_mat(ctx, w3, f32_3d); }, "cannot broadcast", "3 heads over 2");
  expect_error([&] { mul_mat(ctx, transpose(ctx, ctx.new_tensor_2d(Type::F32, 5, 8)), f32_2d); },
               "weight rows must be contiguous", "transposed weight");
  Tensor* wi = ctx.new_tensor_2d(Type::I32, 8, 5);
  expect_error([&] { mul_mat(ctx, wi, f32_2d); }, "cannot be a weight", "i32 weight");
}

TEST_F(OpErrors, Rope) {
  Tensor* a = ctx.new_tensor_3d(Type::F32, 16, 2, 3);
  Tensor* pos = ctx.new_tensor_1d(Type::I32, 3);
  RopeParams p;
  p.n_rot = 16;
  RopeParams bad = p;
  expect_error([&] { rope(ctx, ctx.new_tensor_3d(Type::F16, 16, 2, 3), pos, p); }, "expects F32", "f16 input");
  expect_error([&] { rope(ctx, a, ctx.new_tensor_1d(Type::F32, 3), p); }, "positions must be I32", "f32 pos");
  expect_error([&] { rope(ctx, a, ctx.new_tensor_1d(Type::I32, 4), p); }, "positions must be I32 [3]", "pos length");
  expect_error([&] { rope(ctx, a, ctx.new_tensor_2d(Type::I32, 3, 2), p); }, "positions", "2-d pos");
  bad.n_rot = 7;
  expect_error([&] { rope(ctx, a, pos, bad); }, "n_rot 7 must be even", "odd n_rot");
  bad.n_rot = 18;
  expect_error([&] { rope(ctx, a, pos, bad); }, "n_rot 18", "n_rot > head_dim");
  bad.n_rot = 0;
  expect_error([&] { rope(ctx, a, pos, bad); }, "n_rot 0", "n_rot 0");
  bad = p;
  bad.mode = static_cast<RopeMode>(1);
  expect_error([&] { rope(ctx, a, pos, bad); }, "unknown mode", "mode 1");
  bad = p;
  bad.freq_base = 0.0f;
  expect_error([&] { rope(ctx, a, pos, bad); }, "freq_base", "zero base");
  bad = p;
  bad.freq_scale = 0.0f;
  expect_error([&] { rope(ctx, a, pos, bad); }, "freq_scale", "zero scale");
  expect_error([&] { rope(ctx, a, pos, p, ctx.new_tensor_1d(Type::F32, 7)); }, "freq_factors", "short factors");
  expect_error([&] { rope(ctx, a, pos, p, ctx.new_tensor_1d(Type::F16, 8)); }, "freq_factors", "f16 factors");
}

TEST_F(OpErrors, SoftMax) {
  SoftMaxParams p;
  expect_error([&] { soft_max(ctx, i32_1d, p); }, "expects F32", "i32 input");
  expect_error([&] { soft_max(ctx, f32_3d, p, ctx.new_tensor_2d(Type::F32, 7, 4)); }, "mask must be F32", "mask ne0");
  expect_error([&] { soft_max(ctx, f32_3d, p, ctx.new_tensor_2d(Type::F32, 8, 3)); }, "mask must be F32", "mask rows");
  expect_error([&] { soft_max(ctx, f32_3d, p, f16_2d); }, "mask must be F32", "f16 mask");
  SoftMaxParams bad = p;
  bad.alibi_max_bias = -1.0f;
  expect_error([&] { soft_max(ctx, f32_3d, bad); }, "alibi_max_bias", "negative bias");
  bad = p;
  bad.causal_past = -2;
  expect_error([&] { soft_max(ctx, f32_3d, bad); }, "causal_past", "causal_past -2");
}

TEST_F(OpErrors, GetRows) {
  expect_error([&] { get_rows(ctx, f32_2d, ctx.new_tensor_1d(Type::F32, 2)); }, "indices must be I32", "f32 idx");
  expect_error([&] { get_rows(ctx, f32_3d, ctx.new_tensor_2d(Type::I32, 2, 2)); }, "do not match", "batch mismatch");
  expect_error([&] { get_rows(ctx, f32_2d, ctx.new_tensor_4d(Type::I32, 2, 1, 1, 2)); }, "do not match", "4-d idx");
  expect_error([&] { get_rows(ctx, ctx.new_tensor_2d(Type::I32, 4, 4), i32_1d); }, "cannot read type i32", "i32 rows");
}

TEST_F(OpErrors, CpyAndCont) {
  expect_error([&] { cpy(ctx, f32_2d, f32_3d); }, "differ in element count", "count");
  expect_error([&] { cpy(ctx, f32_2d, ctx.new_tensor_2d(Type::I32, 8, 4)); }, "cannot write type i32", "to i32");
  expect_error([&] { cpy(ctx, i32_1d, ctx.new_tensor_1d(Type::F32, 3)); }, "cannot read type i32", "from i32");
  Tensor* src = ctx.new_tensor_2d(Type::F32, 128, 2);
  expect_error([&] { cpy(ctx, src, ctx.new_tensor_2d(Type::Q8_0, 64, 4)); }, "whole rows", "q8_0 row length");
  expect_error([&] { cont(ctx, i32_1d); }, "cannot read type i32", "cont i32");
}

TEST_F(OpErrors, Views) {
  expect_error([&] { view_1d(ctx, f32_2d, 33, 0); }, "reaches past the end", "1d too long");
  expect_error([&] { view_1d(ctx, f32_2d, 2, 31 * 4); }, "reaches past the end", "1d offset");
  expect_error([&] { view_1d(ctx, f32_2d, 1, size_t{1} << 62); }, "reaches past the end", "huge offset");
  expect_error([&] { view_2d(ctx, f32_2d, 8, 4, 9 * 4, 0); }, "reaches past the end", "2d stride");
  expect_error([&] { view_3d(ctx, f32_3d, 8, 4, 3, 32, 128, 4); }, "reaches past the end", "3d offset");
  expect_error([&] { view_4d(ctx, f32_3d, 8, 4, 1, 2, 32, 128, 512, 0); }, "reaches past the end", "4d ne3");
  // A transposed view spans more than ne0 elements per row.
  Tensor* t = transpose(ctx, f32_2d);  // [4, 8] with nb0 = 32
  EXPECT_NO_THROW(view_2d(ctx, t, 4, 8, 4, 4));
  expect_error([&] { view_2d(ctx, t, 4, 8, 32, 4); }, "reaches past the end", "view of transposed");
  expect_error([&] { reshape_2d(ctx, t, 8, 4); }, "not contiguous", "reshape of transposed");
  expect_error([&] { reshape_3d(ctx, f32_2d, 4, 4, 3); }, "elements", "reshape count");
  expect_error([&] { reshape_2d(ctx, q8_2d, 16, 16); }, "whole blocks", "reshape q8_0 rows");
  expect_error([&] { permute(ctx, f32_3d, 0, 0, 1, 2); }, "not a permutation", "repeated axis");
  expect_error([&] { permute(ctx, f32_3d, 0, 1, 2, 4); }, "not a permutation", "axis 4");
  expect_error([&] { permute(ctx, f32_3d, -1, 1, 2, 3); }, "not a permutation", "axis -1");
  expect_error([&] { transpose(ctx, q8_2d); }, "block dimension", "transpose q8_0");
}

TEST_F(OpErrors, Concat) {
  expect_error([&] { concat(ctx, f32_2d, f32_2d, 4); }, "out of range", "dim 4");
  expect_error([&] { concat(ctx, f32_2d, f32_2d, -1); }, "out of range", "dim -1");
  expect_error([&] { concat(ctx, f32_2d, f32_3d, 0); }, "differ outside dimension 0", "shape");
  expect_error([&] { concat(ctx, f32_2d, f16_2d, 1); }, "expects F32", "f16");
}

}  // namespace
}  // namespace qgml::test
