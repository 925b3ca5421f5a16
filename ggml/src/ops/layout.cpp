// Ops that move or reinterpret memory: views (view/reshape/permute/transpose),
// copies with type conversion (cpy, cont), concat and get_rows.
#include <cstring>
#include <vector>

#include "../cpu/kernels.h"
#include "op_impl.h"

namespace qgml {
namespace {

// A view of a with shape ne and strides nb (all four dims) at a byte offset.
Tensor* make_view(Context& ctx, Tensor* a, const int64_t* ne, const size_t* nb, size_t offset) {
  Tensor* v = ctx.new_node(a->type, kMaxDims, ne);
  for (int i = 0; i < kMaxDims; ++i) v->nb[i] = nb[i];
  // Bounds are checked with the final strides, so that permuted and
  // transposed views are measured by the bytes they really span.
  if (v->nelements() > 0 && (offset > a->nbytes() || v->nbytes() > a->nbytes() - offset))
    fail("view: %s at offset %zu reaches past the end of %s", describe(v).c_str(), offset, describe(a).c_str());
  v->op = Op::View;
  v->src[0] = a;
  // Views of views point at the tensor that owns the memory.
  v->view_src = a->view_src ? a->view_src : a;
  v->view_offset = (a->view_src ? a->view_offset : 0) + offset;
  // Views of loaded leaves (also through other views) can be read before any
  // graph is computed; views of op results get their data when planned.
  if (v->view_src->op == Op::None && v->view_src->data != nullptr)
    v->data = static_cast<char*>(v->view_src->data) + v->view_offset;
  return v;
}

// A view of the first n_dims dims with the given strides of dims 1..n_dims−1;
// element stride and the trailing dims' strides are the contiguous ones.
Tensor* make_view(Context& ctx, Tensor* a, int n_dims, const int64_t* ne_in, const size_t* nb_in, size_t offset) {
  int64_t ne[kMaxDims];
  size_t nb[kMaxDims];
  for (int i = 0; i < kMaxDims; ++i) ne[i] = i < n_dims ? ne_in[i] : 1;
  nb[0] = traits(a->type).type_size;
  for (int i = 1; i < kMaxDims; ++i) nb[i] = i < n_dims ? nb_in[i - 1] : nb[i - 1] * static_cast<size_t>(ne[i - 1]);
  return make_view(ctx, a, ne, nb, offset);
}

// Reads element i (logical order, ne[0] fastest) of a float tensor.
struct FloatReader {
  const Tensor* t;
  const ToFloatRowFn to_float;
  explicit FloatReader(const Tensor* t_) : t(t_), to_float(kernels()[t_->type].to_float) {}
  // Converts the whole row (i1, i2, i3) into dst (ne[0] floats).
  void row(int64_t i1, int64_t i2, int64_t i3, float* dst) const {
    const char* src = t->row(i1, i2, i3);
    if (t->rows_contiguous()) {
      to_float(src, dst, t->ne[0]);
      return;
    }
    if (t->type == Type::F32) {  // permuted F32 (attention's values): no call per element
      for (int64_t i = 0; i < t->ne[0]; ++i) dst[i] = *reinterpret_cast<const float*>(src + i * t->nb[0]);
      return;
    }
    for (int64_t i = 0; i < t->ne[0]; ++i) to_float(src + i * t->nb[0], dst + i, 1);
  }
};

void check_float_source(const Tensor* a, const char* op) {
  if (traits(a->type).to_float == nullptr) fail("%s: cannot read type %s", op, type_name(a->type));
  if (traits(a->type).block_size != 1 && !a->rows_contiguous())
    fail("%s: a block-quantized source must have contiguous rows: %s", op, describe(a).c_str());
}

// Copies src into dst element by element in logical order, converting types.
void copy_elements(const ComputeParams& p, const Tensor* src, Tensor* dst) {
  const FloatReader reader(src);
  const int64_t n0 = src->ne[0];
  std::vector<float> buf(static_cast<size_t>(n0));
  const TypeTraits& dt = traits(dst->type);
  bool same_shape = true;
  for (int i = 0; i < kMaxDims; ++i) same_shape = same_shape && src->ne[i] == dst->ne[i];
  int64_t r0, r1;
  split_range(src->nrows(), p.ith, p.nth, &r0, &r1);
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t i1 = r % src->ne[1], i2 = (r / src->ne[1]) % src->ne[2], i3 = r / (src->ne[1] * src->ne[2]);
    reader.row(i1, i2, i3, buf.data());
    if (dt.block_size != 1) {  // whole rows of a block type (shapes checked at build time)
      const int64_t d1 = r % dst->ne[1], d2 = (r / dst->ne[1]) % dst->ne[2], d3 = r / (dst->ne[1] * dst->ne[2]);
      dt.from_float(buf.data(), dst->row(d1, d2, d3), n0);
      continue;
    }
    if (same_shape) {  // row r of src is row r of dst: no index arithmetic per element
      char* out = dst->row(i1, i2, i3);
      if (dst->nb[0] == dt.type_size) {
        dt.from_float(buf.data(), out, n0);
      } else if (dst->type == Type::F32) {
        for (int64_t i0 = 0; i0 < n0; ++i0) *reinterpret_cast<float*>(out + i0 * dst->nb[0]) = buf[static_cast<size_t>(i0)];
      } else {
        for (int64_t i0 = 0; i0 < n0; ++i0) dt.from_float(&buf[static_cast<size_t>(i0)], out + i0 * dst->nb[0], 1);
      }
      continue;
    }
    for (int64_t i0 = 0; i0 < n0; ++i0) {
      int64_t flat = r * n0 + i0;  // logical index, mapped onto dst's shape
      const int64_t d0 = flat % dst->ne[0];
      flat /= dst->ne[0];
      const int64_t d1 = flat % dst->ne[1];
      flat /= dst->ne[1];
      const int64_t d2 = flat % dst->ne[2], d3 = flat / dst->ne[2];
      dt.from_float(&buf[static_cast<size_t>(i0)], dst->row(d1, d2, d3) + d0 * dst->nb[0], 1);
    }
  }
}

}  // namespace

Tensor* view_1d(Context& ctx, Tensor* a, int64_t ne0, size_t offset) { return make_view(ctx, a, 1, &ne0, nullptr, offset); }

Tensor* view_2d(Context& ctx, Tensor* a, int64_t ne0, int64_t ne1, size_t nb1, size_t offset) {
  const int64_t ne[] = {ne0, ne1};
  const size_t nb[] = {nb1};
  return make_view(ctx, a, 2, ne, nb, offset);
}

Tensor* view_3d(Context& ctx, Tensor* a, int64_t ne0, int64_t ne1, int64_t ne2, size_t nb1, size_t nb2, size_t offset) {
  const int64_t ne[] = {ne0, ne1, ne2};
  const size_t nb[] = {nb1, nb2};
  return make_view(ctx, a, 3, ne, nb, offset);
}

Tensor* view_4d(Context& ctx, Tensor* a, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3, size_t nb1, size_t nb2,
                size_t nb3, size_t offset) {
  const int64_t ne[] = {ne0, ne1, ne2, ne3};
  const size_t nb[] = {nb1, nb2, nb3};
  return make_view(ctx, a, 4, ne, nb, offset);
}

static Tensor* reshape(Context& ctx, Tensor* a, int n_dims, const int64_t* ne) {
  if (!a->is_contiguous()) fail("reshape: %s is not contiguous (use cont first)", describe(a).c_str());
  int64_t n = 1;
  for (int i = 0; i < n_dims; ++i) n *= ne[i];
  if (n != a->nelements()) fail("reshape: %s has %lld elements, not %lld", describe(a).c_str(),
                                static_cast<long long>(a->nelements()), static_cast<long long>(n));
  if (ne[0] % traits(a->type).block_size != 0) fail("reshape: rows of %s must hold whole blocks", type_name(a->type));
  size_t nb[kMaxDims - 1];
  nb[0] = row_size(a->type, ne[0]);
  for (int i = 1; i < n_dims - 1; ++i) nb[i] = nb[i - 1] * static_cast<size_t>(ne[i]);
  return make_view(ctx, a, n_dims, ne, nb, 0);
}

Tensor* reshape_2d(Context& ctx, Tensor* a, int64_t ne0, int64_t ne1) {
  const int64_t ne[] = {ne0, ne1};
  return reshape(ctx, a, 2, ne);
}
Tensor* reshape_3d(Context& ctx, Tensor* a, int64_t ne0, int64_t ne1, int64_t ne2) {
  const int64_t ne[] = {ne0, ne1, ne2};
  return reshape(ctx, a, 3, ne);
}
Tensor* reshape_4d(Context& ctx, Tensor* a, int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3) {
  const int64_t ne[] = {ne0, ne1, ne2, ne3};
  return reshape(ctx, a, 4, ne);
}

Tensor* permute(Context& ctx, Tensor* a, int axis0, int axis1, int axis2, int axis3) {
  const int axes[] = {axis0, axis1, axis2, axis3};
  bool used[kMaxDims] = {};
  for (int ax : axes) {
    if (ax < 0 || ax >= kMaxDims || used[ax]) fail("permute: (%d %d %d %d) is not a permutation", axis0, axis1, axis2, axis3);
    used[ax] = true;
  }
  if (traits(a->type).block_size != 1 && axis0 != 0) fail("permute: cannot move the block dimension of %s", type_name(a->type));
  int64_t ne[kMaxDims];
  size_t nb[kMaxDims];
  for (int i = 0; i < kMaxDims; ++i) {
    ne[axes[i]] = a->ne[i];
    nb[axes[i]] = a->nb[i];
  }
  return make_view(ctx, a, ne, nb, 0);
}

Tensor* transpose(Context& ctx, Tensor* a) { return permute(ctx, a, 1, 0, 2, 3); }

Tensor* cpy(Context& ctx, Tensor* a, Tensor* b) {
  check_float_source(a, "cpy");
  if (a->nelements() != b->nelements())
    fail("cpy: %s and %s differ in element count", describe(a).c_str(), describe(b).c_str());
  const TypeTraits& bt = traits(b->type);
  if (bt.from_float == nullptr) fail("cpy: cannot write type %s", type_name(b->type));
  if (bt.block_size != 1 && (a->ne[0] != b->ne[0] || !b->rows_contiguous() || a->nrows() != b->nrows()))
    fail("cpy: writing %s needs whole rows of equal length: %s → %s", type_name(b->type), describe(a).c_str(),
         describe(b).c_str());
  Tensor* r = make_view(ctx, b, b->ne, b->nb, 0);
  r->op = Op::Cpy;
  r->src[0] = a;
  r->src[1] = b;
  r->data = nullptr;  // resolved when the graph is planned, after b
  return r;
}

Tensor* cont(Context& ctx, Tensor* a) {
  check_float_source(a, "cont");
  Tensor* r = new_result_like(ctx, Op::Cont, a);
  r->src[0] = a;
  return r;
}

void forward_cpy(const ComputeParams& p, Tensor* dst) { copy_elements(p, dst->src[0], dst); }
void forward_cont(const ComputeParams& p, Tensor* dst) { copy_elements(p, dst->src[0], dst); }

Tensor* concat(Context& ctx, Tensor* a, Tensor* b, int dim) {
  if (a->type != Type::F32 || b->type != Type::F32)
    fail("concat: expects F32 inputs, got %s and %s", describe(a).c_str(), describe(b).c_str());
  if (dim < 0 || dim >= kMaxDims) fail("concat: dimension %d out of range", dim);
  int64_t ne[kMaxDims];
  for (int i = 0; i < kMaxDims; ++i) {
    if (i != dim && a->ne[i] != b->ne[i])
      fail("concat: %s and %s differ outside dimension %d", describe(a).c_str(), describe(b).c_str(), dim);
    ne[i] = i == dim ? a->ne[i] + b->ne[i] : a->ne[i];
  }
  Tensor* r = new_result(ctx, Op::Concat, Type::F32, kMaxDims, ne);
  r->src[0] = a;
  r->src[1] = b;
  r->params[0] = dim;
  return r;
}

void forward_concat(const ComputeParams& p, Tensor* dst) {
  const Tensor* a = dst->src[0];
  const Tensor* b = dst->src[1];
  const int dim = dst->params[0];
  int64_t r0, r1;
  split_range(dst->nrows(), p.ith, p.nth, &r0, &r1);
  for (int64_t r = r0; r < r1; ++r) {
    int64_t idx[kMaxDims] = {0, r % dst->ne[1], (r / dst->ne[1]) % dst->ne[2], r / (dst->ne[1] * dst->ne[2])};
    float* out = reinterpret_cast<float*>(dst->row(idx[1], idx[2], idx[3]));
    for (int64_t i0 = 0; i0 < dst->ne[0]; ++i0) {
      idx[0] = i0;
      const bool from_a = idx[dim] < a->ne[dim];
      const Tensor* s = from_a ? a : b;
      int64_t j[kMaxDims] = {idx[0], idx[1], idx[2], idx[3]};
      if (!from_a) j[dim] -= a->ne[dim];
      out[i0] = *reinterpret_cast<const float*>(s->row(j[1], j[2], j[3]) + j[0] * s->nb[0]);
    }
  }
}

Tensor* get_rows(Context& ctx, Tensor* a, Tensor* idx) {
  check_float_source(a, "get_rows");
  if (idx->type != Type::I32) fail("get_rows: indices must be I32, got %s", describe(idx).c_str());
  if (idx->ne[1] != a->ne[2] || idx->ne[2] != 1 || idx->ne[3] != 1 || a->ne[3] != 1)
    fail("get_rows: indices %s do not match rows of %s", describe(idx).c_str(), describe(a).c_str());
  const int64_t ne[] = {a->ne[0], idx->ne[0], a->ne[2]};
  Tensor* r = new_result(ctx, Op::GetRows, Type::F32, 3, ne);
  r->src[0] = a;
  r->src[1] = idx;
  return r;
}

// Out-of-range indices give zero rows: forward functions cannot fail, and
// the model validates token ids before building its graph.
void forward_get_rows(const ComputeParams& p, Tensor* dst) {
  const Tensor* a = dst->src[0];
  const Tensor* idx = dst->src[1];
  const FloatReader reader(a);
  int64_t r0, r1;
  split_range(dst->nrows(), p.ith, p.nth, &r0, &r1);
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t n = r % dst->ne[1], b = r / dst->ne[1];
    const int32_t row = *reinterpret_cast<const int32_t*>(idx->row(b) + n * idx->nb[0]);
    float* out = reinterpret_cast<float*>(dst->row(n, b));
    if (row < 0 || row >= a->ne[1]) {
      std::memset(out, 0, static_cast<size_t>(dst->ne[0]) * sizeof(float));
      continue;
    }
    reader.row(row, b, 0, out);
  }
}

}  // namespace qgml
