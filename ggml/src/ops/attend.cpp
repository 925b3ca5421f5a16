// Attention over cached keys and values in one op (ops.h: attend).
//
// Work items are (key/value head, block of queries). When enough query rows
// share the item's keys (a prompt), it copies the keys they can see into a
// transposed F32 scratch, kt[d][j], converting them once for every query and
// grouped head of the item; the item's scores are then one register-tiled
// product of its query rows with kt (math.gemm_nn), scored up to the last
// row's visible length, and after the softmax (masked tails zeroed) its
// outputs are one tiled product of the probability rows with the values,
// which are stored transposed (positions contiguous). With few rows
// (generation: one token) the copy would cost as much as the scores, so each
// score is a dot of the query with the key row, as mul_mat computes it, and
// each output a dot of the probabilities with a value row. Masked positions
// beyond a block of queries are never scored, which about halves the work of
// a causal prompt against mul_mat → soft_max. Items are claimed dynamically
// and every output is computed by the same operations whichever thread takes
// it, so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <limits>

#include "../cpu/kernels.h"
#include "op_impl.h"

namespace qgml {
namespace {

constexpr int64_t kQueryBlock = 16;  // queries per work item
// Query rows (queries × heads sharing a key head) from which transposing the
// keys pays off.
constexpr int64_t kTransposeFromRows = 8;

bool cache_type_ok(Type t) { return t == Type::F32 || t == Type::F16 || t == Type::BF16; }

// Per-thread scratch, in floats: kt (hd × n_kv), the values as rows of
// positions vt (n_kv × hd), the score rows of one item (rows × n_kv), its
// query rows and outputs (rows × hd each), one key row; rows = the query
// rows of one item, min(kQueryBlock, n) · group.
int64_t item_rows(const Tensor* dst) {
  const Tensor* q = dst->src[0];
  return std::min(kQueryBlock, q->ne[2]) * (q->ne[1] / dst->src[1]->ne[1]);
}
size_t scratch_floats(const Tensor* dst) {
  const Tensor* k = dst->src[1];
  const int64_t hd = k->ne[0], n_kv = k->ne[2], rows = item_rows(dst);
  return static_cast<size_t>(2 * hd * n_kv + rows * n_kv + 2 * rows * hd + hd) + 16;
}

}  // namespace

Tensor* attend(Context& ctx, Tensor* q, Tensor* k, Tensor* v, const SoftMaxParams& sp) {
  if (q->type != Type::F32) fail("attend: queries must be F32, got %s", describe(q).c_str());
  if (!cache_type_ok(k->type) || !cache_type_ok(v->type))
    fail("attend: keys and values must be F32, F16 or BF16, got %s and %s", describe(k).c_str(), describe(v).c_str());
  const int64_t hd = q->ne[0], n_head = q->ne[1], n_kv_head = k->ne[1], n_kv = k->ne[2];
  if (q->ne[3] != 1 || k->ne[3] != 1 || v->ne[3] != 1) fail("attend: expects 3-d tensors");
  if (k->ne[0] != hd || v->ne[0] != n_kv || v->ne[1] != hd || v->ne[2] != n_kv_head)
    fail("attend: shapes do not match: q %s, k %s, v %s (want k [hd, kv heads, n_kv], v [n_kv, hd, kv heads])",
         describe(q).c_str(), describe(k).c_str(), describe(v).c_str());
  if (n_kv_head <= 0 || n_head % n_kv_head != 0)
    fail("attend: %lld query heads cannot share %lld key/value heads", static_cast<long long>(n_head),
         static_cast<long long>(n_kv_head));
  if (n_kv <= 0) fail("attend: no cached positions");
  if (k->nb[0] != traits(k->type).type_size || v->nb[0] != traits(v->type).type_size)
    fail("attend: key rows and value rows must be contiguous: k %s, v %s", describe(k).c_str(), describe(v).c_str());
  const int64_t ne[] = {hd, n_head, q->ne[2]};
  Tensor* r = new_result(ctx, Op::Attend, Type::F32, 3, ne);
  r->src[0] = q;
  r->src[1] = k;
  r->src[2] = v;
  store_softmax_params("attend", sp, r);
  return r;
}

size_t work_size_attend(const Tensor* dst, int nth) { return scratch_floats(dst) * sizeof(float) * static_cast<size_t>(nth); }

void forward_attend(const ComputeParams& p, Tensor* dst) {
  const Tensor* q = dst->src[0];
  const Tensor* k = dst->src[1];
  const Tensor* v = dst->src[2];
  const SoftMaxParams sp = load_softmax_params(dst);
  const float scale = sp.scale, max_bias = sp.alibi_max_bias;
  const int32_t causal_past = sp.causal_past;
  const int64_t hd = q->ne[0], n_head = q->ne[1], n = q->ne[2], n_kv_head = k->ne[1], n_kv = k->ne[2];
  const int64_t group = n_head / n_kv_head;

  const KernelTable& kt_table = kernels();
  const ToFloatRowFn key_to_float = kt_table[k->type].to_float;
  const VecDotFn key_dot = kt_table[k->type].vec_dot;  // F32/F16/BF16 take F32 queries (vec_dot_type F32)
  const VecDotFn value_dot = kt_table[v->type].vec_dot;
  const ToFloatRowFn value_to_float = kt_table[v->type].to_float;
  const GemmNNFn gemm_nn = kt_table.math.gemm_nn;
  const ScaleMaxFn scale_max = kt_table.math.scale_max;
  const size_t value_size = traits(v->type).type_size;
  QGML_ASSERT(traits(v->type).vec_dot_type == Type::F32);  // probabilities enter the value dots as F32

  const int64_t max_rows = item_rows(dst);
  float* scratch = static_cast<float*>(p.work) + scratch_floats(dst) * static_cast<size_t>(p.ith);
  float* kt = scratch;                       // [hd][n_kv]
  float* vt = kt + hd * n_kv;                // [n_kv][hd]
  float* scores = vt + hd * n_kv;            // [max_rows][n_kv]
  float* qrows = scores + max_rows * n_kv;   // [max_rows][hd]
  float* outs = qrows + max_rows * hd;       // [max_rows][hd]
  float* key = outs + max_rows * hd;         // [hd]

  auto visible = [&](int64_t i) { return causal_past >= 0 ? std::min(n_kv, causal_past + i + 1) : n_kv; };
  // Softmax of one row of raw scores, as forward_soft_max computes it.
  auto softmax = [&](float* row, int64_t vis, int64_t h) {
    const float slope = max_bias > 0.0f ? alibi_slope(max_bias, h, n_head) : 0.0f;
    if (slope == 0.0f) {
      exp_normalize(row, vis, scale_max(row, vis, scale));
      return;
    }
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < vis; ++j) {
      const float s = row[j] * scale + slope * static_cast<float>(j);
      row[j] = s;
      max = std::max(max, s);
    }
    exp_normalize(row, vis, max);
  };
  auto query = [&](int64_t h, int64_t i, float* dst_row) {
    const char* src = q->row(h, i);
    for (int64_t d = 0; d < hd; ++d) dst_row[d] = *reinterpret_cast<const float*>(src + d * q->nb[0]);
  };
  const int64_t n_blocks = (n + kQueryBlock - 1) / kQueryBlock;
  const int64_t items = n_kv_head * n_blocks;
  // kt and vt hold positions [0, have_seen) of head have_hk: a thread takes
  // the blocks of a head in increasing order, so each block only converts
  // the positions the previous one did not see.
  int64_t have_hk = -1, have_seen = 0;
  int64_t local = 0;
  for (int64_t item = p.claim_chunk(&local); item < items; item = p.claim_chunk(&local)) {
    const int64_t hk = item / n_blocks, i0 = (item % n_blocks) * kQueryBlock, i1 = std::min(n, i0 + kQueryBlock);
    const int64_t seen = visible(i1 - 1);
    if ((i1 - i0) * group >= kTransposeFromRows) {
      // Row r of the item is query i0 + r / group of head hk·group + r % group.
      const int64_t rows = (i1 - i0) * group;
      const int64_t from = hk == have_hk ? std::min(have_seen, seen) : 0;
      for (int64_t j = from; j < seen; ++j) {
        key_to_float(k->row(hk, j), key, hd);
        for (int64_t d = 0; d < hd; ++d) kt[d * n_kv + j] = key[d];
      }
      for (int64_t d = 0; d < hd; ++d) {  // the values as rows of positions
        // scores: free until the scores are computed
        value_to_float(static_cast<const char*>(v->row(d, hk)) + from * value_size, scores, seen - from);
        for (int64_t j = from; j < seen; ++j) vt[j * hd + d] = scores[j - from];
      }
      have_seen = hk == have_hk ? std::max(have_seen, seen) : seen;
      have_hk = hk;
      for (int64_t r = 0; r < rows; ++r) query(hk * group + r % group, i0 + r / group, qrows + r * hd);
      // Every row is scored against all `seen` keys and its masked tail
      // zeroed, so the value products are one tiled product for the item.
      gemm_nn(rows, seen, hd, qrows, hd, kt, n_kv, scores, n_kv);
      for (int64_t r = 0; r < rows; ++r) {
        float* row = scores + r * n_kv;
        const int64_t vis = visible(i0 + r / group);
        softmax(row, vis, hk * group + r % group);
        std::fill(row + vis, row + seen, 0.0f);
      }
      gemm_nn(rows, hd, seen, scores, n_kv, vt, hd, outs, hd);
      for (int64_t r = 0; r < rows; ++r) {
        float* out = reinterpret_cast<float*>(dst->row(hk * group + r % group, i0 + r / group));
        std::copy(outs + r * hd, outs + (r + 1) * hd, out);
      }
      continue;
    }
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t vis = visible(i);
      for (int64_t h = hk * group; h < (hk + 1) * group; ++h) {
        query(h, i, qrows);
        for (int64_t j = 0; j < vis; ++j) scores[j] = key_dot(hd, k->row(hk, j), qrows);
        softmax(scores, vis, h);
        float* out = reinterpret_cast<float*>(dst->row(h, i));
        for (int64_t d = 0; d < hd; ++d) out[d] = value_dot(vis, v->row(d, hk), scores);
      }
    }
  }
}

}  // namespace qgml
