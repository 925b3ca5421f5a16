// Matrix products: weight (any registered type) × F32 activations, with an
// optional column permutation of the weight (GPTQ act-order).
//
// Phase 1 converts the activation rows to the weight type's vec_dot_type (for
// quantized weights, 8-bit blocks) once, into the shared work buffer,
// gathering x[perm[k]] first when a permutation is attached. Phase 2 splits
// the weight rows among threads (never K, so no cross-thread reductions) and
// calls the type's gemm kernel on tiles: one call per row range for a single
// token (the kernel walks several rows at once), activation chunks that stay
// in L2 for many tokens (the kernel unpacks each weight block once for
// several activation rows). Every output element is computed by the same
// float operations whatever the split, so results are identical for any
// thread count.
#include <algorithm>
#include <cstring>
#include <vector>

#include "../cpu/kernels.h"
#include "op_impl.h"
#include "qgml/gpu.h"
#include "qgml/quant.h"

namespace qgml {
namespace {

// Activation rows per chunk in phase 2: 64 rows of K = 4096 in Q8_A are
// about 280 KB, which stays in a 512 KB L2 while every weight row of the
// thread's range passes over it.
constexpr int64_t kActChunk = 64;

// Weight rows per claimed chunk: at most this many, and at least 8 chunks per
// thread so that a thread slowed by a busy core hands work to the others.
// Matrix-vector kernels walk a chunk as several far-apart streams
// (matvec_streams), and each stream restarts the hardware prefetcher at every
// chunk: 256 rather than 64 rows made TinyLlama gptq4_g128 generation at 1
// thread 32.7/33.3 -> 35.6/35.6 t/s (alternated; 1024 or no cap: 35.2-35.6).
constexpr int64_t kMaxRowChunk = 256;

// In a CUDA build the work buffer starts with the offload outcome, written by
// thread 0 and read by the others after a barrier (see forward_mul_mat).
constexpr size_t kGpuFlagBytes = 64;
size_t gpu_flag_bytes() { return gpu::compiled() ? kGpuFlagBytes : 0; }

bool needs_conversion(const Tensor* a, const Tensor* b, const Tensor* perm) {
  return perm != nullptr || traits(a->type).vec_dot_type != Type::F32 || b->nb[0] != sizeof(float);
}

Tensor* build(Context& ctx, Tensor* a, Tensor* b, Tensor* perm) {
  if (b->type != Type::F32) fail("mul_mat: activations must be F32, got %s", describe(b).c_str());
  if (a->ne[0] != b->ne[0])
    fail("mul_mat: inner dimensions differ: %s × %s", describe(a).c_str(), describe(b).c_str());
  if (b->ne[2] % a->ne[2] != 0 || b->ne[3] % a->ne[3] != 0)
    fail("mul_mat: cannot broadcast %s over %s", describe(a).c_str(), describe(b).c_str());
  if (!a->rows_contiguous()) fail("mul_mat: weight rows must be contiguous: %s", describe(a).c_str());
  if (traits(a->type).to_float == nullptr) fail("mul_mat: type %s cannot be a weight", type_name(a->type));
  if (perm != nullptr) {
    if (perm->type != Type::I32 || perm->ne[0] != a->ne[0] || perm->nrows() != 1 || !perm->is_contiguous())
      fail("mul_mat: permutation must be a contiguous I32 vector of %lld, got %s",
           static_cast<long long>(a->ne[0]), describe(perm).c_str());
  }
  const int64_t ne[] = {a->ne[1], b->ne[1], b->ne[2], b->ne[3]};
  Tensor* r = new_result(ctx, Op::MulMat, Type::F32, 4, ne);
  r->src[0] = a;
  r->src[1] = b;
  r->src[2] = perm;
  return r;
}

}  // namespace

Tensor* mul_mat(Context& ctx, Tensor* a, Tensor* b) { return build(ctx, a, b, nullptr); }

Tensor* mul_mat_perm(Context& ctx, Tensor* a, Tensor* b, Tensor* perm) {
  if (perm == nullptr) fail("mul_mat_perm: no permutation given");
  return build(ctx, a, b, perm);
}

size_t work_size_mul_mat(const Tensor* dst, int /*nth*/) {
  const Tensor* a = dst->src[0];
  const Tensor* b = dst->src[1];
  if (!needs_conversion(a, b, dst->src[2])) return gpu_flag_bytes();
  return gpu_flag_bytes() + row_size(traits(a->type).vec_dot_type, b->ne[0]) * static_cast<size_t>(b->nrows());
}

void forward_mul_mat(const ComputeParams& p, Tensor* dst) {
  const Tensor* a = dst->src[0];
  const Tensor* b = dst->src[1];
  const Tensor* perm = dst->src[2];
  const KernelTable& kt = kernels();
  const Type vdt = traits(a->type).vec_dot_type;
  const VecDotFn dot = kt[a->type].vec_dot;
  const GemmFn gemm = kt[a->type].gemm;
  const int64_t K = a->ne[0];
  char* work = static_cast<char*>(p.work);

  // GPU offload (qgml/gpu.h): gpu::wants gives every thread the same answer;
  // thread 0 tries the device and the others wait for the outcome. When the
  // device cannot do it (no device, out of memory, a CUDA error) the product
  // runs below on the CPU as if it had never been offered.
  if (gpu::compiled()) {
    if (gpu::wants(a, b)) {
      int* done = reinterpret_cast<int*>(work);
      if (p.ith == 0) *done = gpu::mul_mat(a, b, perm, dst) ? 1 : 0;
      p.barrier();
      if (*done != 0) return;
    }
    work += kGpuFlagBytes;
  }

  // Phase 1: activations → vec_dot_type, rows split among threads.
  const bool convert = needs_conversion(a, b, perm);
  const size_t act_row = row_size(vdt, K);
  if (convert) {
    const QuantizeActFn quantize = kt[vdt].quantize_act;
    const int32_t* pidx = perm != nullptr ? static_cast<const int32_t*>(perm->data) : nullptr;
    std::vector<float> tmp(b->nb[0] == sizeof(float) && pidx == nullptr ? 0 : static_cast<size_t>(K));
    int64_t r0, r1;
    split_range(b->nrows(), p.ith, p.nth, &r0, &r1);
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t i1 = r % b->ne[1], i2 = (r / b->ne[1]) % b->ne[2], i3 = r / (b->ne[1] * b->ne[2]);
      const char* src = b->row(i1, i2, i3);
      const float* x = reinterpret_cast<const float*>(src);
      if (!tmp.empty()) {
        // The entries are checked where they come from (qgml/quant.h); one out
        // of range still reads 0 rather than memory outside the row.
        const size_t step = b->nb[0];
        if (pidx == nullptr) {
          for (int64_t k = 0; k < K; ++k) tmp[k] = *reinterpret_cast<const float*>(src + k * step);
        } else {
          for (int64_t k = 0; k < K; ++k) {
            const uint32_t from = static_cast<uint32_t>(pidx[k]);
            tmp[k] = from < static_cast<uint32_t>(K) ? *reinterpret_cast<const float*>(src + from * step) : 0.0f;
          }
        }
        x = tmp.data();
      }
      quantize(x, work + static_cast<size_t>(r) * act_row, K);
    }
    p.barrier();
  }
  auto act = [&](int64_t n, int64_t i2, int64_t i3) -> const char* {
    if (!convert) return b->row(n, i2, i3);
    const int64_t r = n + b->ne[1] * (i2 + b->ne[2] * i3);
    return work + static_cast<size_t>(r) * act_row;
  };
  const size_t act_stride = convert ? act_row : b->nb[1];

  // Phase 2: (weight row, matrix) pairs in chunks, each handled as runs of
  // rows of one matrix.
  const int64_t M = a->ne[1], N = b->ne[1];
  const int64_t r2 = b->ne[2] / a->ne[2], r3 = b->ne[3] / a->ne[3];
  const int64_t ldo = static_cast<int64_t>(dst->nb[1] / sizeof(float));
  // Chunks of rows are claimed dynamically (see ComputeParams::claim_chunk);
  // every output is computed by the same operations whichever thread takes
  // its chunk, so results stay identical for any thread count.
  const int64_t total = M * dst->ne[2] * dst->ne[3];
  const int64_t chunk =
      std::max<int64_t>(1, std::min<int64_t>(kMaxRowChunk, total / (static_cast<int64_t>(p.nth) * 8)));
  int64_t local = 0;
  for (int64_t c = p.claim_chunk(&local); c * chunk < total; c = p.claim_chunk(&local)) {
    const int64_t j0 = c * chunk, j1 = std::min(total, j0 + chunk);
    for (int64_t j = j0; j < j1;) {
      const int64_t m0 = j % M, i2 = (j / M) % dst->ne[2], i3 = j / (M * dst->ne[2]);
      const int64_t rows = std::min(j1 - j, M - m0);
      const char* w = a->row(m0, i2 / r2, i3 / r3);
      for (int64_t n0 = 0; n0 < N; n0 += kActChunk) {
        const int64_t nc = std::min(kActChunk, N - n0);
        float* out = reinterpret_cast<float*>(dst->row(n0, i2, i3)) + m0;
        if (gemm != nullptr) {
          gemm(K, w, a->nb[1], rows, act(n0, i2, i3), act_stride, nc, out, ldo);
          continue;
        }
        for (int64_t m = 0; m < rows; ++m)
          for (int64_t n = 0; n < nc; ++n) out[n * ldo + m] = dot(K, w + m * a->nb[1], act(n0 + n, i2, i3));
      }
      j += rows;
    }
  }
}

}  // namespace qgml
