// Layout ops — view_1d..4d, reshape, permute, transpose, cpy, cont, concat —
// against index arithmetic done in the test. Every check here is exact: these
// ops move values, and the conversions they apply (f32→f16/bf16/q8_0/q4_0)
// are compared against the reference converters bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "ops_test_util.h"

namespace qgml::test {
namespace {

// Reads element (i0..i3) of a hypothetical view of `leaf` with shape ne,
// strides nb and byte offset, straight from the leaf's memory.
double leaf_at(const Tensor* leaf, size_t offset, const size_t* nb, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
  Tensor tmp = *leaf;
  tmp.data = static_cast<char*>(leaf->data) + offset;
  for (int i = 0; i < 4; ++i) tmp.nb[i] = nb[i];
  return elem(&tmp, i0, i1, i2, i3);
}

std::vector<double> expected_view(const Tensor* leaf, const Dims& ne, const size_t* nb, size_t offset) {
  std::vector<double> v;
  for (int64_t i3 = 0; i3 < ne[3]; ++i3)
    for (int64_t i2 = 0; i2 < ne[2]; ++i2)
      for (int64_t i1 = 0; i1 < ne[1]; ++i1)
        for (int64_t i0 = 0; i0 < ne[0]; ++i0) v.push_back(leaf_at(leaf, offset, nb, i0, i1, i2, i3));
  return v;
}

TEST(Layout, Views) {
  for (Type t : {Type::F32, Type::F16}) {
    Context ctx;
    Tensor* leaf = ctx.new_tensor_3d(t, 13, 7, 5);
    fill_random(leaf, 1);
    const size_t es = leaf->nb[0];
    struct V {
      Tensor* v;
      Dims ne;
      size_t nb[4];
      size_t off;
    };
    std::vector<V> vs;
    vs.push_back({view_1d(ctx, leaf, 50, 3 * es), {50, 1, 1, 1}, {es, 50 * es, 50 * es, 50 * es}, 3 * es});
    vs.push_back({view_2d(ctx, leaf, 5, 9, 13 * es, 2 * es), {5, 9, 1, 1}, {es, 13 * es, 117 * es, 117 * es}, 2 * es});
    vs.push_back({view_3d(ctx, leaf, 4, 3, 2, 26 * es, 91 * es, es), {4, 3, 2, 1}, {es, 26 * es, 91 * es, 182 * es}, es});
    vs.push_back({view_4d(ctx, leaf, 3, 2, 2, 2, 13 * es, 91 * es, 2 * es, 0), {3, 2, 2, 2}, {es, 13 * es, 91 * es, 2 * es}, 0});
    vs.push_back({reshape_2d(ctx, leaf, 65, 7), {65, 7, 1, 1}, {es, 65 * es, 455 * es, 455 * es}, 0});
    vs.push_back({reshape_3d(ctx, leaf, 7, 13, 5), {7, 13, 5, 1}, {es, 7 * es, 91 * es, 455 * es}, 0});
    vs.push_back({reshape_4d(ctx, leaf, 13, 7, 1, 5), {13, 7, 1, 5}, {es, 13 * es, 91 * es, 91 * es}, 0});
    vs.push_back({transpose(ctx, leaf), {7, 13, 5, 1}, {13 * es, es, 91 * es, 455 * es}, 0});
    // A view of a view, and a reshape of a view (offsets and strides compose).
    Tensor* inner = view_2d(ctx, leaf, 13, 14, 13 * es, 91 * es);
    vs.push_back({view_1d(ctx, inner, 20, 13 * es + es), {20, 1, 1, 1}, {es, 20 * es, 20 * es, 20 * es}, 105 * es});
    vs.push_back({reshape_2d(ctx, inner, 7, 26), {7, 26, 1, 1}, {es, 7 * es, 182 * es, 182 * es}, 91 * es});
    for (const V& v : vs) {
      ASSERT_EQ(dims_of(v.v), v.ne);
      const std::vector<double> want = expected_view(leaf, v.ne, v.nb, v.off);
      // Read through the view node itself (after planning) and through cont().
      Graph g;
      Tensor* c = cont(ctx, v.v);
      g.add_output(v.v);
      g.add_output(c);
      g.compute(2);
      EXPECT_EQ(values(v.v), want) << type_name(t) << " view " << dims_str(v.ne);
      EXPECT_EQ(values(c), want) << type_name(t) << " cont(view) " << dims_str(v.ne);
      EXPECT_TRUE(c->is_contiguous());
    }
  }
}

TEST(Layout, EveryPermutation) {
  Context ctx;
  Tensor* leaf = ctx.new_tensor_4d(Type::F32, 5, 3, 4, 2);
  fill_random(leaf, 2);
  int axes[4] = {0, 1, 2, 3};
  int count = 0;
  do {
    Tensor* p = permute(ctx, leaf, axes[0], axes[1], axes[2], axes[3]);
    Dims ne;
    size_t nb[4];
    for (int i = 0; i < 4; ++i) {
      ne[axes[i]] = leaf->ne[i];
      nb[axes[i]] = leaf->nb[i];
    }
    ASSERT_EQ(dims_of(p), ne);
    const std::vector<double> want = expected_view(leaf, ne, nb, 0);
    EXPECT_EQ(eval(cont(ctx, p)), want) << "permute " << axes[0] << axes[1] << axes[2] << axes[3];
    // Permuting twice with the inverse gives the original back.
    int inv[4];
    for (int i = 0; i < 4; ++i) inv[axes[i]] = i;
    Tensor* back = permute(ctx, p, inv[0], inv[1], inv[2], inv[3]);
    EXPECT_EQ(dims_of(back), dims_of(leaf));
    EXPECT_EQ(eval(cont(ctx, back)), values(leaf));
    ++count;
  } while (std::next_permutation(axes, axes + 4));
  EXPECT_EQ(count, 24);
}

TEST(Layout, ViewOfOpResult) {
  // Views of intermediate results: their memory is the op's scratch slot.
  Context ctx;
  Tensor* x = make_input(ctx, {6, 4, 3, 1}, Layout::Contiguous, 3);
  Tensor* y = scale(ctx, x, 2.0f);
  // Elements y[1..2, 0..2] (a view at an offset), then transposed.
  Tensor* v = view_2d(ctx, y, 2, 3, y->nb[1], y->nb[0]);
  Tensor* t = transpose(ctx, v);
  Tensor* z = add(ctx, cont(ctx, t), cont(ctx, t));
  const std::vector<double> got = eval(z);
  std::vector<double> want;
  for (int64_t r = 1; r < 3; ++r)
    for (int64_t c = 0; c < 3; ++c) want.push_back(4.0 * static_cast<double>(static_cast<float>(elem(x, r, c))));
  expect_float_exact(got, want, "view of op result");
}

TEST(Layout, ContFromF16AndBF16AndQuantized) {
  for (Type t : {Type::F16, Type::BF16, Type::Q8_0, Type::Q4_0}) {
    for (Layout l : {Layout::Contiguous, Layout::Transposed, Layout::Permuted}) {
      if (traits(t).block_size != 1 && l != Layout::Contiguous) continue;  // block rows cannot be reordered
      Context ctx;
      Tensor* a = nullptr;
      if (traits(t).block_size == 1) {
        a = make_input(ctx, {33, 7, 3, 1}, l, 4, -3.0f, 3.0f, t);
      } else {
        a = ctx.new_tensor_3d(t, 33, 7, 3);
        fill_random(a, 4);
      }
      const std::vector<double> got = eval(cont(ctx, a));
      std::vector<double> want;
      if (traits(t).block_size == 1) {
        want = values(a);
      } else {
        std::vector<float> row(33);
        for (int64_t r = 0; r < a->nrows(); ++r) {
          traits(t).to_float(a->row(r % 7, r / 7), row.data(), 33);
          want.insert(want.end(), row.begin(), row.end());
        }
      }
      EXPECT_EQ(got, want) << "cont from " << type_name(t) << " " << layout_name(l);
    }
  }
}

// Expected bytes of dst after cpy: the reference converter applied per row.
std::vector<uint8_t> converted_rows(const std::vector<float>& src, int64_t row_len, Type t) {
  const size_t rs = row_size(t, row_len);
  std::vector<uint8_t> out(rs * (src.size() / static_cast<size_t>(row_len)));
  for (size_t r = 0; r * static_cast<size_t>(row_len) < src.size(); ++r)
    traits(t).from_float(&src[r * static_cast<size_t>(row_len)], &out[r * rs], row_len);
  return out;
}

TEST(Layout, CpyConvertsTypes) {
  for (Type t : {Type::F32, Type::F16, Type::BF16, Type::Q8_0, Type::Q4_0}) {
    for (Layout l : kAllLayouts) {
      for (const Dims& d : std::vector<Dims>{{33, 7, 2, 1}, {64, 3, 1, 2}, {1, 5, 1, 1}}) {
        Context ctx;
        Tensor* a = make_input(ctx, d, l, 5, -4.0f, 4.0f);
        Tensor* b = ctx.new_tensor_4d(t, d[0], d[1], d[2], d[3]);
        Tensor* r = cpy(ctx, a, b);
        Graph g;
        g.add_output(r);
        g.compute(3);
        EXPECT_EQ(r->data, b->data) << "cpy's result is a view of its destination";
        const std::vector<double> av = values(a);
        const std::vector<float> src(av.begin(), av.end());
        const std::vector<uint8_t> want = converted_rows(src, d[0], t);
        const std::vector<uint8_t> got(static_cast<uint8_t*>(b->data), static_cast<uint8_t*>(b->data) + want.size());
        EXPECT_EQ(got, want) << "cpy f32 " << layout_name(l) << " " << dims_str(d) << " → " << type_name(t);
      }
    }
  }
}

TEST(Layout, CpyIntoStridedDestination) {
  for (Type t : {Type::F32, Type::F16, Type::BF16}) {
    Context ctx;
    Tensor* a = make_input(ctx, {9, 5, 3, 1}, Layout::Permuted, 6);
    // Destination: the transpose of a [5, 9, 3] leaf, so consecutive source
    // elements land 5 elements apart.
    Tensor* leaf = ctx.new_tensor_3d(t, 5, 9, 3);
    Tensor* dst = transpose(ctx, leaf);
    Tensor* r = cpy(ctx, a, dst);
    Graph g;
    g.add_output(r);
    g.compute(2);
    for (int64_t i2 = 0; i2 < 3; ++i2)
      for (int64_t i1 = 0; i1 < 5; ++i1)
        for (int64_t i0 = 0; i0 < 9; ++i0) {
          const float x = static_cast<float>(elem(a, i0, i1, i2));
          const double want = t == Type::F32 ? x : t == Type::F16 ? fp16_to_f32(f32_to_fp16(x)) : bf16_to_f32(f32_to_bf16(x));
          ASSERT_EQ(elem(leaf, i1, i0, i2), want) << type_name(t) << " at " << i0 << "," << i1 << "," << i2;
        }
    // A row-strided destination (every other row of a bigger leaf).
    Tensor* big = ctx.new_tensor_2d(t, 9, 10);
    Tensor* rows = view_2d(ctx, big, 9, 5, 2 * big->nb[1], big->nb[1]);
    Tensor* a2 = make_input(ctx, {9, 5, 1, 1}, Layout::Contiguous, 7);
    Graph g2;
    g2.add_output(cpy(ctx, a2, rows));
    g2.compute(2);
    for (int64_t i1 = 0; i1 < 10; ++i1)
      for (int64_t i0 = 0; i0 < 9; ++i0) {
        double want = 0;  // untouched rows stay zero
        if (i1 % 2 == 1) {
          const float x = static_cast<float>(elem(a2, i0, i1 / 2));
          want = t == Type::F32 ? x : t == Type::F16 ? fp16_to_f32(f32_to_fp16(x)) : bf16_to_f32(f32_to_bf16(x));
        }
        ASSERT_EQ(elem(big, i0, i1), want) << type_name(t) << " strided rows at " << i0 << "," << i1;
      }
  }
}

TEST(Layout, CpyReshapesByElementOrder) {
  // Same element count, different shape: elements are copied in logical order.
  Context ctx;
  Tensor* a = make_input(ctx, {6, 4, 1, 1}, Layout::Transposed, 8);
  Tensor* b = ctx.new_tensor_3d(Type::F32, 4, 3, 2);
  Graph g;
  g.add_output(cpy(ctx, a, b));
  g.compute(3);
  EXPECT_EQ(values(b), values(a));
}

TEST(Layout, CpyIntoOpResultAndReadBack) {
  // cpy into an intermediate node's memory, consumed by a later op.
  Context ctx;
  Tensor* x = make_input(ctx, {10, 3, 1, 1}, Layout::Contiguous, 9);
  Tensor* y = scale(ctx, x, 0.0f);  // zeros, then overwritten
  Tensor* src = make_input(ctx, {10, 3, 1, 1}, Layout::RowStrided, 10);
  Tensor* c = cpy(ctx, src, y);
  Tensor* z = scale(ctx, c, 3.0f);
  std::vector<double> want = values(src);
  for (double& w : want) w *= 3.0;
  expect_float_exact(eval(z), want, "cpy into an op result");
}

TEST(Layout, ConcatEveryDim) {
  const Dims a_dims = {5, 4, 3, 2};
  uint32_t seed = 20;
  for (int dim = 0; dim < 4; ++dim) {
    for (Layout l : kAllLayouts) {
      Dims bd = a_dims;
      bd[dim] = dim == 0 ? 7 : 1 + dim;
      Context ctx;
      Tensor* a = make_input(ctx, a_dims, l, ++seed);
      Tensor* b = make_input(ctx, bd, l == Layout::Contiguous ? Layout::Permuted : Layout::Contiguous, ++seed);
      Tensor* r = concat(ctx, a, b, dim);
      Dims rd = a_dims;
      rd[dim] += bd[dim];
      ASSERT_EQ(dims_of(r), rd);
      const std::vector<double> got = eval(r);
      std::vector<double> want;
      for (int64_t i = 0; i < numel(rd); ++i) {
        auto ix = unflatten(i, rd);
        if (ix[dim] < a_dims[dim]) {
          want.push_back(elem(a, ix[0], ix[1], ix[2], ix[3]));
        } else {
          ix[dim] -= a_dims[dim];
          want.push_back(elem(b, ix[0], ix[1], ix[2], ix[3]));
        }
      }
      EXPECT_EQ(got, want) << "concat dim " << dim << " " << layout_name(l);
    }
  }
}

}  // namespace
}  // namespace qgml::test
