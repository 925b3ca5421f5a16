// How ops are implemented: one row per op in the table of op_table.cpp, with
// the forward function defined in the op's own file. Forward functions run on
// every thread of the pool; each thread computes its share of rows (split
// with split_range) so that results do not depend on the thread count.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "qgml/error.h"
#include "qgml/ops.h"
#include "qgml/tensor.h"
#include "qgml/threadpool.h"

namespace qgml {

struct ComputeParams {
  int ith = 0, nth = 1;
  void* work = nullptr;  // per-node scratch of work_size bytes, shared by all threads
  size_t work_size = 0;
  ThreadPool* pool = nullptr;
  // A counter shared by the threads of this node, starting at 0: threads claim
  // chunks of work from it, so a thread whose core is busy with another
  // process does fewer chunks instead of holding the others at the barrier.
  std::atomic<int64_t>* next_chunk = nullptr;
  // Separates phases inside one op (e.g. convert activations, then multiply).
  void barrier() const { if (pool != nullptr && nth > 1) pool->barrier(); }
  // The next chunk index to work on (single-threaded: 0, 1, 2, ...).
  int64_t claim_chunk(int64_t* local) const {
    return next_chunk != nullptr && nth > 1 ? next_chunk->fetch_add(1, std::memory_order_relaxed) : (*local)++;
  }
};

using ForwardFn = void (*)(const ComputeParams& p, Tensor* dst);
using WorkSizeFn = size_t (*)(const Tensor* dst, int nth);

struct OpImpl {
  ForwardFn forward;     // null for ops that only reinterpret memory (views)
  WorkSizeFn work_size;  // null when the op needs no scratch
};
const OpImpl& op_impl(Op op);

// Thread ith's share [begin, end) of n items.
inline void split_range(int64_t n, int ith, int nth, int64_t* begin, int64_t* end) {
  const int64_t per = (n + nth - 1) / nth;
  *begin = per * ith < n ? per * ith : n;
  *end = *begin + per < n ? *begin + per : n;
}

// Forward functions, one per op, defined in the op files of this folder.
void forward_get_rows(const ComputeParams& p, Tensor* dst);
void forward_add(const ComputeParams& p, Tensor* dst);
void forward_mul(const ComputeParams& p, Tensor* dst);
void forward_scale(const ComputeParams& p, Tensor* dst);
void forward_rms_norm(const ComputeParams& p, Tensor* dst);
void forward_layer_norm(const ComputeParams& p, Tensor* dst);
void forward_mul_mat(const ComputeParams& p, Tensor* dst);
size_t work_size_mul_mat(const Tensor* dst, int nth);
void forward_rope(const ComputeParams& p, Tensor* dst);
void forward_soft_max(const ComputeParams& p, Tensor* dst);
void forward_silu(const ComputeParams& p, Tensor* dst);
void forward_gelu(const ComputeParams& p, Tensor* dst);
void forward_relu(const ComputeParams& p, Tensor* dst);
void forward_swiglu(const ComputeParams& p, Tensor* dst);
void forward_cpy(const ComputeParams& p, Tensor* dst);
void forward_cont(const ComputeParams& p, Tensor* dst);
void forward_concat(const ComputeParams& p, Tensor* dst);
void forward_attend(const ComputeParams& p, Tensor* dst);
size_t work_size_attend(const Tensor* dst, int nth);

// Shared builder helpers.
Tensor* new_result(Context& ctx, Op op, Type type, int n_dims, const int64_t* ne);
Tensor* new_result_like(Context& ctx, Op op, const Tensor* shape_of);  // F32, same shape
// Softmax parameters of soft_max and attend: checked (naming op in the error)
// and kept in a node's params, and read back.
void store_softmax_params(const char* op, const SoftMaxParams& sp, Tensor* r);
SoftMaxParams load_softmax_params(const Tensor* r);
// The softmax of x[0, n) given its maximum (all zero when max is −∞: every
// entry masked): float exp, double sum (soft_max, attend).
void exp_normalize(float* x, int64_t n, float max);
// ALiBi slope of head h of n_heads (soft_max, attend).
float alibi_slope(float max_bias, int64_t h, int64_t n_heads);
// "a: [1 2 3 4] f32" for error messages.
std::string describe(const Tensor* t);

}  // namespace qgml
