// Helpers for the op tests: independent element access (through a tensor's
// own strides, not the library's readers), input layouts that exercise
// strided code paths, graph evaluation and tolerance checks.
#pragma once
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "qgml/error.h"
#include "qgml/fp16.h"
#include "qgml/graph.h"
#include "qgml/ops.h"
#include "qgml/tensor.h"
#include "qgml/types.h"

namespace qgml::test {

using Dims = std::array<int64_t, 4>;

inline int64_t numel(const Dims& d) { return d[0] * d[1] * d[2] * d[3]; }

inline std::string dims_str(const Dims& d) {
  return "[" + std::to_string(d[0]) + " " + std::to_string(d[1]) + " " + std::to_string(d[2]) + " " +
         std::to_string(d[3]) + "]";
}

inline Dims dims_of(const Tensor* t) { return {t->ne[0], t->ne[1], t->ne[2], t->ne[3]}; }

inline const char* at_ptr(const Tensor* t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
  return static_cast<const char*>(t->data) + i0 * static_cast<int64_t>(t->nb[0]) +
         i1 * static_cast<int64_t>(t->nb[1]) + i2 * static_cast<int64_t>(t->nb[2]) +
         i3 * static_cast<int64_t>(t->nb[3]);
}

// One element of a non-block tensor, read through its strides.
inline double elem(const Tensor* t, int64_t i0, int64_t i1 = 0, int64_t i2 = 0, int64_t i3 = 0) {
  const char* p = at_ptr(t, i0, i1, i2, i3);
  uint16_t h;
  switch (t->type) {
    case Type::F32: {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    case Type::F16:
      std::memcpy(&h, p, 2);
      return fp16_to_f32(h);
    case Type::BF16:
      std::memcpy(&h, p, 2);
      return bf16_to_f32(h);
    case Type::I32: {
      int32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    default:
      ADD_FAILURE() << "elem(): block type " << type_name(t->type);
      return 0;
  }
}

// Every element in logical order (ne[0] fastest).
inline std::vector<double> values(const Tensor* t) {
  std::vector<double> v;
  v.reserve(static_cast<size_t>(t->nelements()));
  for (int64_t i3 = 0; i3 < t->ne[3]; ++i3)
    for (int64_t i2 = 0; i2 < t->ne[2]; ++i2)
      for (int64_t i1 = 0; i1 < t->ne[1]; ++i1)
        for (int64_t i0 = 0; i0 < t->ne[0]; ++i0) v.push_back(elem(t, i0, i1, i2, i3));
  return v;
}

// Fills all of a leaf's memory (padding included) with random values.
inline void fill_random(Tensor* leaf, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  const size_t bytes = leaf->nbytes();
  if (leaf->type == Type::F32) {
    for (size_t i = 0; i + 4 <= bytes; i += 4) {
      const float f = dist(rng);
      std::memcpy(static_cast<char*>(leaf->data) + i, &f, 4);
    }
  } else if (leaf->type == Type::F16 || leaf->type == Type::BF16) {
    for (size_t i = 0; i + 2 <= bytes; i += 2) {
      const float f = dist(rng);
      const uint16_t h = leaf->type == Type::F16 ? f32_to_fp16(f) : f32_to_bf16(f);
      std::memcpy(static_cast<char*>(leaf->data) + i, &h, 2);
    }
  } else {
    // Block types: quantize random rows with the reference converter.
    const TypeTraits& tr = traits(leaf->type);
    std::vector<float> row(static_cast<size_t>(leaf->ne[0]));
    for (int64_t r = 0; r < leaf->nrows(); ++r) {
      for (float& x : row) x = dist(rng);
      tr.from_float(row.data(), static_cast<char*>(leaf->data) + r * leaf->nb[1], leaf->ne[0]);
    }
  }
}

// How an F32 test input with a given logical shape is laid out in memory.
enum class Layout { Contiguous, RowStrided, Permuted, Transposed };
constexpr Layout kAllLayouts[] = {Layout::Contiguous, Layout::RowStrided, Layout::Permuted, Layout::Transposed};

inline const char* layout_name(Layout l) {
  switch (l) {
    case Layout::Contiguous: return "contiguous";
    case Layout::RowStrided: return "row-strided view";
    case Layout::Permuted: return "permuted";
    case Layout::Transposed: return "transposed";
  }
  return "?";
}

// A tensor of logical shape d and type `type` (F32/F16/BF16) laid out as l;
// non-contiguous layouts are views of a larger or reordered random leaf.
inline Tensor* make_input(Context& ctx, const Dims& d, Layout l, uint32_t seed, float lo = -1.0f, float hi = 1.0f,
                          Type type = Type::F32) {
  Tensor* leaf = nullptr;
  Tensor* out = nullptr;
  switch (l) {
    case Layout::Contiguous:
      out = leaf = ctx.new_tensor_4d(type, d[0], d[1], d[2], d[3]);
      break;
    case Layout::RowStrided:
      // Rows padded by 3 elements, one extra matrix; the view starts one element in.
      leaf = ctx.new_tensor_4d(type, d[0] + 3, d[1], d[2], d[3] + 1);
      out = view_4d(ctx, leaf, d[0], d[1], d[2], d[3], leaf->nb[1], leaf->nb[2], leaf->nb[3], leaf->nb[0]);
      break;
    case Layout::Permuted:
      // Leaf dim i becomes result dim axes[i] = {2, 0, 3, 1}.
      leaf = ctx.new_tensor_4d(type, d[2], d[0], d[3], d[1]);
      out = permute(ctx, leaf, 2, 0, 3, 1);
      break;
    case Layout::Transposed:
      leaf = ctx.new_tensor_4d(type, d[1], d[0], d[2], d[3]);
      out = transpose(ctx, leaf);
      break;
  }
  fill_random(leaf, seed, lo, hi);
  EXPECT_EQ(dims_of(out), d) << layout_name(l);
  return out;
}

inline double alibi_slope_ref(double max_bias, int64_t h, int64_t n_heads) {
  // Press et al.: for a power of two n the slopes are 2^(−max_bias/n · (h+1)); for
  // other counts, the slopes of the largest power of two below n, then every
  // other slope of twice that count.
  int64_t c = 1;
  while (c * 2 <= n_heads) c *= 2;
  if (h < c) return std::pow(2.0, -max_bias / c * (h + 1));
  return std::pow(2.0, -max_bias / (2 * c) * (2 * (h - c) + 1));
}

// Computes the graph of `out` and returns its values (copied before the graph
// and its scratch memory go away).
inline std::vector<double> eval(Tensor* out, int n_threads = 3) {
  Graph g;
  g.add_output(out);
  g.compute(n_threads);
  return values(out);
}

// |got − ref| ≤ tol[i] for every element (NaN only matches NaN). Reports the
// worst offenders.
inline void expect_within(const std::vector<double>& got, const std::vector<double>& ref,
                          const std::function<double(size_t)>& tol, const std::string& what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  size_t bad = 0;
  double worst = 0;
  size_t worst_i = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(ref[i]) || std::isnan(got[i])) {
      if (std::isnan(ref[i]) != std::isnan(got[i])) {
        if (++bad <= 5) ADD_FAILURE() << what << ": element " << i << " got " << got[i] << " want " << ref[i];
      }
      continue;
    }
    if (std::isinf(ref[i]) && got[i] == ref[i]) continue;
    const double err = std::fabs(got[i] - ref[i]);
    if (!(err <= tol(i))) {
      if (++bad <= 5)
        ADD_FAILURE() << what << ": element " << i << " got " << got[i] << " want " << ref[i] << " (err " << err
                      << " > tol " << tol(i) << ")";
      if (err > worst) worst = err, worst_i = i;
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << got.size() << " elements out of tolerance; worst error "
                     << worst << " at " << worst_i;
}

inline void expect_close(const std::vector<double>& got, const std::vector<double>& ref, double atol, double rtol,
                         const std::string& what) {
  expect_within(got, ref, [&](size_t i) { return atol + rtol * std::fabs(ref[i]); }, what);
}

// Exact equality after rounding the double reference to float: for a single
// IEEE float operation on float inputs this is the correctly rounded result.
inline void expect_float_exact(const std::vector<double>& got, const std::vector<double>& ref, const std::string& what) {
  std::vector<double> rounded(ref.size());
  for (size_t i = 0; i < ref.size(); ++i) rounded[i] = static_cast<float>(ref[i]);
  expect_close(got, rounded, 0.0, 0.0, what);
}

// Runs f and checks it throws qgml::Error whose message contains `needle`.
inline void expect_error(const std::function<void()>& f, const std::string& needle, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << what << ": no qgml::Error thrown";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << what << ": message \"" << e.what() << "\" lacks \"" << needle << "\"";
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": threw a non-qgml exception: " << e.what();
  }
}

// Odd and even shapes, degenerate dims, plus a few seeded random ones.
inline std::vector<Dims> test_shapes(uint32_t seed) {
  std::vector<Dims> s = {{172, 1, 1, 1}, {33, 7, 1, 1}, {7, 33, 3, 1}, {1, 1, 1, 1}, {5, 3, 2, 2}, {64, 4, 3, 2}};
  std::mt19937 rng(seed);
  for (int i = 0; i < 3; ++i) {
    s.push_back({std::uniform_int_distribution<int64_t>(1, 40)(rng), std::uniform_int_distribution<int64_t>(1, 9)(rng),
                 std::uniform_int_distribution<int64_t>(1, 4)(rng), std::uniform_int_distribution<int64_t>(1, 3)(rng)});
  }
  return s;
}

// Index helper: logical (i0, i1, i2, i3) of the flat index i in shape d.
inline std::array<int64_t, 4> unflatten(int64_t i, const Dims& d) {
  std::array<int64_t, 4> r;
  for (int k = 0; k < 4; ++k) {
    r[k] = i % d[k];
    i /= d[k];
  }
  return r;
}

}  // namespace qgml::test
