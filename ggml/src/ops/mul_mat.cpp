// Matrix products: weight (any registered type) × F32 activations.
//
// Phase 1 converts the activation rows to the weight type's vec_dot_type (for
// quantized weights, 8-bit blocks) once, into the shared work buffer; phase 2
// splits the output rows (weight rows × broadcast matrices) among threads and
// calls the dot kernel of the active instruction-set level.
#include <cstring>
#include <vector>

#include "../cpu/kernels.h"
#include "op_impl.h"

namespace qgml {
namespace {

// Activations can be used in place when they already are contiguous-row F32
// and the kernel wants F32.
bool needs_conversion(const Tensor* a, const Tensor* b) {
  return traits(a->type).vec_dot_type != Type::F32 || b->nb[0] != sizeof(float);
}

}  // namespace

Tensor* mul_mat(Context& ctx, Tensor* a, Tensor* b) {
  if (b->type != Type::F32) fail("mul_mat: activations must be F32, got %s", describe(b).c_str());
  if (a->ne[0] != b->ne[0])
    fail("mul_mat: inner dimensions differ: %s × %s", describe(a).c_str(), describe(b).c_str());
  if (b->ne[2] % a->ne[2] != 0 || b->ne[3] % a->ne[3] != 0)
    fail("mul_mat: cannot broadcast %s over %s", describe(a).c_str(), describe(b).c_str());
  if (!a->rows_contiguous()) fail("mul_mat: weight rows must be contiguous: %s", describe(a).c_str());
  if (traits(a->type).to_float == nullptr) fail("mul_mat: type %s cannot be a weight", type_name(a->type));
  const int64_t ne[] = {a->ne[1], b->ne[1], b->ne[2], b->ne[3]};
  Tensor* r = new_result(ctx, Op::MulMat, Type::F32, 4, ne);
  r->src[0] = a;
  r->src[1] = b;
  return r;
}

size_t work_size_mul_mat(const Tensor* dst, int /*nth*/) {
  const Tensor* a = dst->src[0];
  const Tensor* b = dst->src[1];
  if (!needs_conversion(a, b)) return 0;
  return row_size(traits(a->type).vec_dot_type, b->ne[0]) * static_cast<size_t>(b->nrows());
}

void forward_mul_mat(const ComputeParams& p, Tensor* dst) {
  const Tensor* a = dst->src[0];
  const Tensor* b = dst->src[1];
  const KernelTable& kt = kernels();
  const Type vdt = traits(a->type).vec_dot_type;
  const VecDotFn dot = kt[a->type].vec_dot;
  const int64_t K = a->ne[0];

  // Phase 1: activations → vec_dot_type, rows split among threads.
  const bool convert = needs_conversion(a, b);
  const size_t act_row = row_size(vdt, K);
  if (convert) {
    const QuantizeActFn quantize = kt[vdt].quantize_act;
    std::vector<float> tmp(b->nb[0] == sizeof(float) ? 0 : static_cast<size_t>(K));
    int64_t r0, r1;
    split_range(b->nrows(), p.ith, p.nth, &r0, &r1);
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t i1 = r % b->ne[1], i2 = (r / b->ne[1]) % b->ne[2], i3 = r / (b->ne[1] * b->ne[2]);
      const char* src = b->row(i1, i2, i3);
      const float* x = reinterpret_cast<const float*>(src);
      if (!tmp.empty()) {
        for (int64_t k = 0; k < K; ++k) tmp[k] = *reinterpret_cast<const float*>(src + k * b->nb[0]);
        x = tmp.data();
      }
      quantize(x, static_cast<char*>(p.work) + static_cast<size_t>(r) * act_row, K);
    }
    p.barrier();
  }
  auto act = [&](int64_t n, int64_t i2, int64_t i3) -> const void* {
    if (!convert) return b->row(n, i2, i3);
    const int64_t r = n + b->ne[1] * (i2 + b->ne[2] * i3);
    return static_cast<const char*>(p.work) + static_cast<size_t>(r) * act_row;
  };

  // Phase 2: each thread takes a contiguous range of (weight row, matrix) pairs.
  const int64_t M = a->ne[1], N = b->ne[1];
  const int64_t r2 = b->ne[2] / a->ne[2], r3 = b->ne[3] / a->ne[3];
  int64_t j0, j1;
  split_range(M * dst->ne[2] * dst->ne[3], p.ith, p.nth, &j0, &j1);
  for (int64_t j = j0; j < j1; ++j) {
    const int64_t m = j % M, i2 = (j / M) % dst->ne[2], i3 = j / (M * dst->ne[2]);
    const char* w = a->row(m, i2 / r2, i3 / r3);
    for (int64_t n = 0; n < N; ++n) {
      float* out = reinterpret_cast<float*>(dst->row(n, i2, i3));
      out[m] = dot(K, w, act(n, i2, i3));
    }
  }
}

}  // namespace qgml
