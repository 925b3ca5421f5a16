// GPTQ and round-to-nearest for one layer (see gptq.h). The algorithm is the
// paper's Algorithm 1 with its reference implementation's conventions:
//  * dead inputs (diag H = 0) get H_jj = 1 and weight 0;
//  * act-order sorts columns by decreasing diag H (stable here);
//  * λ = damp · mean(diag H) is added to the diagonal; the upper Cholesky
//    factor U of H⁻¹ drives the updates (H⁻¹ = Uᵀ·U);
//  * columns are processed in lazy batches of `block`: inside a batch the
//    error of column j is spread over the batch's later columns with row j of
//    U, and the batch's errors reach the columns after it in one matrix product;
//  * a group's parameters are fitted when its first column comes up, on the
//    weights as they stood at the start of the current batch (the reference
//    reads them from W, which the in-batch updates do not touch), or up front
//    from the original weights (static groups); group −1 fits one set per row
//    from the original weights.
// On llama.cpp's Q4_0/Q4_1 grids blocks are 32 contiguous ORIGINAL columns
// (no permutation can be stored). A block's scale is fitted when its first
// column comes up in quantization order, from the block's error-fed weights
// as they stand then (in-batch updates included): with act-order the block's
// other columns are quantized later against that scale, GPTQ-style.
// Rows are independent given U, so threads take contiguous row ranges.
#include "gptq.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>

#include "linalg.h"
#include "qgml/error.h"
#include "qgml/fp16.h"
#include "qgml/quant.h"
#include "qgml/threadpool.h"

namespace qgml::quantize {
namespace {

struct Params {
  float d = 0;  // f16-representable scale (uniform, Q4_0, Q4_1) or absmax (NF4)
  int z = 0;    // zero point (uniform; 8 for Q4_0)
  float m = 0;  // Q4_1: f16-representable minimum
};

bool llama_grid(Grid g) { return g == Grid::Q4_0 || g == Grid::Q4_1; }

float round_f16(float x) { return fp16_to_f32(f32_to_fp16(x)); }

// The grid of a spec: fitting parameters to a group, and rounding one value.
// The uniform rules are those of the gptq types' reference quantizer (the
// range always contains 0, symmetric ranges are [−m, m], d rounded to f16
// before the zero point), so RTN here equals the types' from_float.
class Quantizer {
 public:
  explicit Quantizer(const LayerSpec& s) : grid_(s.grid), sym_(s.sym), maxq_((1 << s.bits) - 1), cb_(nf4_codebook()) {}

  Params fit(const float* x, int64_t n) const {
    Params p;
    if (grid_ == Grid::Q4_0) {
      // llama.cpp's choice: the first value of largest magnitude maps to −8.
      float amax = 0.0f, max = 0.0f;
      for (int64_t i = 0; i < n; ++i)
        if (amax < std::fabs(x[i])) {
          amax = std::fabs(x[i]);
          max = x[i];
        }
      p.d = round_f16(max / -8.0f);
      p.z = 8;
      return p;
    }
    if (grid_ == Grid::Q4_1) {
      float lo = x[0], hi = x[0];
      for (int64_t i = 1; i < n; ++i) {
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
      }
      p.d = round_f16((hi - lo) / 15.0f);
      p.m = round_f16(lo);
      return p;
    }
    if (grid_ == Grid::NF4) {
      float a = 0.0f;
      for (int64_t i = 0; i < n; ++i) a = std::fmax(a, std::fabs(x[i]));
      p.d = round_f16(a);
      return p;
    }
    float lo = 0.0f, hi = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      lo = std::min(lo, x[i]);
      hi = std::max(hi, x[i]);
    }
    if (sym_) {
      hi = std::max(-lo, hi);
      lo = -hi;
    }
    if (lo == 0.0f && hi == 0.0f) {
      lo = -1.0f;
      hi = 1.0f;
    }
    p.d = round_f16((hi - lo) / static_cast<float>(maxq_));
    p.z = sym_ ? (maxq_ + 1) / 2 : (p.d > 0.0f ? std::min(maxq_, std::max(0, static_cast<int>(std::nearbyint(-lo / p.d)))) : 0);
    return p;
  }

  int code(float x, const Params& p) const {
    if (grid_ == Grid::NF4) {
      const float v = x * (p.d != 0.0f ? 1.0f / p.d : 0.0f);
      int best = 0;
      float err = std::fabs(v - cb_[0]);
      for (int c = 1; c < 16; ++c) {
        const float e = std::fabs(v - cb_[c]);
        if (e < err) {
          err = e;
          best = c;
        }
      }
      return best;
    }
    if (grid_ == Grid::Q4_0) {
      // d may be negative (a positive maximum); d = 0: the block is all zeros.
      if (p.d == 0.0f || !std::isfinite(p.d)) return 8;
      return static_cast<int>(std::min(15.0f, std::max(0.0f, std::nearbyint(x / p.d) + 8.0f)));
    }
    if (grid_ == Grid::Q4_1) {
      if (!(p.d > 0.0f) || !std::isfinite(p.d)) return 0;
      return static_cast<int>(std::min(15.0f, std::max(0.0f, std::nearbyint((x - p.m) / p.d))));
    }
    if (!(p.d > 0.0f)) return p.z;  // a scale that underflowed f16: every weight decodes to 0
    const float r = std::nearbyint(x / p.d);
    const float q = std::min(static_cast<float>(maxq_), std::max(0.0f, r + static_cast<float>(p.z)));
    return static_cast<int>(q);
  }

  // Exactly what the stored block decodes to (the error GPTQ feeds back).
  float value(int c, const Params& p) const {
    if (grid_ == Grid::Q4_1) return static_cast<float>(c) * p.d + p.m;
    return grid_ == Grid::NF4 ? p.d * cb_[c] : p.d * static_cast<float>(c - p.z);
  }

 private:
  Grid grid_;
  bool sym_;
  int maxq_;
  const float* cb_;
};

int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Runs fn(first_row, end_row) on the pool's threads, rows split evenly.
template <typename Fn>
void for_rows(ThreadPool* pool, int64_t rows, Fn&& fn) {
  if (pool == nullptr || pool->size() <= 1 || rows < 2) {
    fn(int64_t{0}, rows);
    return;
  }
  pool->run([&](int ith, int nth) {
    const int64_t per = cdiv(rows, nth);
    const int64_t r0 = std::min(rows, per * ith), r1 = std::min(rows, r0 + per);
    if (r0 < r1) fn(r0, r1);
  });
}

}  // namespace

const float* nf4_codebook() {
  static const std::vector<float> cb = [] {
    uint8_t codes[64];
    for (int i = 0; i < 64; ++i) codes[i] = static_cast<uint8_t>(i < 16 ? i : 7);
    const float absmax = 1.0f;
    std::vector<uint8_t> blk(row_size(Type::NF4, 64));
    pack_nf4_row(Type::NF4, 64, codes, &absmax, blk.data());
    std::vector<float> v(64);
    traits(Type::NF4).to_float(blk.data(), v.data(), 64);
    v.resize(16);
    return v;
  }();
  return cb.data();
}

void validate(const LayerSpec& s) {
  if (llama_grid(s.grid)) {
    if (s.bits != 4) fail("llama.cpp's Q4_0/Q4_1 are 4-bit grids, not %d bits", s.bits);
    if (s.group != 32) fail("llama.cpp's Q4_0/Q4_1 have blocks of 32 columns, not groups of %d", s.group);
  } else if (s.grid == Grid::Uniform) {
    if (s.bits < 2 || s.bits > 4) fail("GPTQ stores 2, 3 or 4 bits, not %d", s.bits);
    if (s.group != -1 && s.group != 32 && s.group != 64 && s.group != 128)
      fail("group size %d: qgml stores groups of 32, 64 or 128 columns (or -1, one per row)", s.group);
  } else if (s.bits != 4) {
    fail("NF4 is a 4-bit code, not %d bits", s.bits);
  }
  if (s.block < 1 || s.block > 4096) fail("block size %d is out of range [1, 4096]", s.block);
  if (!(s.damp >= 0.0 && s.damp < 1.0)) fail("damping %g is out of range [0, 1)", s.damp);
}

int storage_group(const LayerSpec& s) {
  if (llama_grid(s.grid)) return 32;
  return s.grid == Grid::NF4 ? 64 : (s.group < 0 ? 128 : s.group);
}

Type storage_type(const LayerSpec& s) {
  validate(s);
  if (s.grid == Grid::Q4_0) return Type::Q4_0;
  if (s.grid == Grid::Q4_1) return Type::Q4_1;
  return s.grid == Grid::NF4 ? Type::NF4 : gptq_type(s.bits, storage_group(s), !s.sym);
}

namespace {

// llama.cpp's Q4_0 / Q4_1 block: f16 d, (Q4_1: f16 m,) then 16 bytes holding
// column i in the low nibble of byte i and column i + 16 in the high nibble.
void pack_q4_row(Type t, int64_t k, const uint8_t* q, const float* d, const float* m, uint8_t* dst) {
  const size_t bytes = traits(t).type_size;
  for (int64_t b = 0; b < k / 32; ++b, dst += bytes) {
    uint8_t* p = dst;
    const uint16_t hd = f32_to_fp16(d[b]);
    std::memcpy(p, &hd, 2);
    p += 2;
    if (t == Type::Q4_1) {
      const uint16_t hm = f32_to_fp16(m[b]);
      std::memcpy(p, &hm, 2);
      p += 2;
    }
    const uint8_t* qb = q + b * 32;
    for (int i = 0; i < 16; ++i) p[i] = static_cast<uint8_t>((qb[i] & 0x0f) | (qb[i + 16] << 4));
  }
}

}  // namespace

std::vector<uint8_t> QuantizedLayer::pack() const {
  const size_t rs = row_size(type, cols);
  std::vector<uint8_t> out(rs * static_cast<size_t>(rows));
  const int64_t ng = n_groups();
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* qr = q.data() + r * cols;
    const float* sr = scale.data() + r * ng;
    if (type == Type::NF4) {
      pack_nf4_row(type, cols, qr, sr, out.data() + static_cast<size_t>(r) * rs);
    } else if (type == Type::Q4_0 || type == Type::Q4_1) {
      pack_q4_row(type, cols, qr, sr, min.empty() ? nullptr : min.data() + r * ng, out.data() + static_cast<size_t>(r) * rs);
    } else {
      pack_gptq_row(type, cols, qr, sr, zero.empty() ? nullptr : zero.data() + r * ng, out.data() + static_cast<size_t>(r) * rs);
    }
  }
  return out;
}

void QuantizedLayer::dequantize(float* W) const {
  const std::vector<uint8_t> blocks = pack();
  const size_t rs = row_size(type, cols);
  std::vector<float> tmp(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    float* dst = perm.empty() ? W + r * cols : tmp.data();
    traits(type).to_float(blocks.data() + static_cast<size_t>(r) * rs, dst, cols);
    if (!perm.empty())
      for (int64_t j = 0; j < cols; ++j) W[r * cols + perm[static_cast<size_t>(j)]] = tmp[static_cast<size_t>(j)];
  }
}

namespace {

// Lays out codes produced in quantization order `order` (order[j] = original
// column quantized j-th; empty = identity) for storage. Stored order is
// the quantization order only when groups were fitted along it (act-order
// with dynamic groups); otherwise groups are contiguous in the original order.
QuantizedLayer finish(const LayerSpec& spec, int64_t rows, int64_t cols, std::vector<uint8_t> qord,
                      const std::vector<int32_t>& order, bool store_permuted,
                      const std::function<Params(int64_t r, int64_t g)>& params) {
  QuantizedLayer L;
  L.rows = rows;
  L.cols = cols;
  L.type = storage_type(spec);
  L.group = storage_group(spec);
  const int64_t ng = L.n_groups();
  if (order.empty() || store_permuted) {
    L.q = std::move(qord);
    if (!order.empty()) L.perm = order;
  } else {
    L.q.resize(qord.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < cols; ++j) L.q[static_cast<size_t>(r * cols + order[static_cast<size_t>(j)])] = qord[static_cast<size_t>(r * cols + j)];
  }
  L.scale.resize(static_cast<size_t>(rows * ng));
  if (spec.grid == Grid::Uniform && !spec.sym) L.zero.resize(static_cast<size_t>(rows * ng));
  if (spec.grid == Grid::Q4_1) L.min.resize(static_cast<size_t>(rows * ng));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < ng; ++g) {
      const Params p = params(r, g);
      L.scale[static_cast<size_t>(r * ng + g)] = p.d;
      if (!L.zero.empty()) L.zero[static_cast<size_t>(r * ng + g)] = static_cast<uint8_t>(p.z);
      if (!L.min.empty()) L.min[static_cast<size_t>(r * ng + g)] = p.m;
    }
  return L;
}

}  // namespace

QuantizedLayer rtn(const float* W, int64_t rows, int64_t cols, const LayerSpec& spec) {
  validate(spec);
  if (llama_grid(spec.grid) && cols % 32 != 0) fail("rows of %lld columns are not a multiple of llama.cpp's block of 32", static_cast<long long>(cols));
  const Quantizer qz(spec);
  const bool per_row = spec.grid == Grid::Uniform && spec.group < 0;
  const int64_t G = per_row ? cols : storage_group(spec), ng = cdiv(cols, G);
  std::vector<Params> prm(static_cast<size_t>(rows * ng));
  std::vector<uint8_t> q(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < ng; ++g) {
      const float* x = W + r * cols + g * G;
      const int64_t n = std::min(G, cols - g * G);
      const Params p = prm[static_cast<size_t>(r * ng + g)] = qz.fit(x, n);
      for (int64_t j = 0; j < n; ++j) q[static_cast<size_t>(r * cols + g * G + j)] = static_cast<uint8_t>(qz.code(x[j], p));
    }
  return finish(spec, rows, cols, std::move(q), {}, false, [&](int64_t r, int64_t g) {
    return per_row ? prm[static_cast<size_t>(r)] : prm[static_cast<size_t>(r * ng + g)];
  });
}

QuantizedLayer gptq(const float* W, int64_t rows, int64_t cols, const float* H, const LayerSpec& spec, ThreadPool* pool) {
  validate(spec);
  const bool contiguous = llama_grid(spec.grid);  // blocks of original columns, fitted at first touch
  if (contiguous && cols % 32 != 0) fail("rows of %lld columns are not a multiple of llama.cpp's block of 32", static_cast<long long>(cols));
  const Quantizer qz(spec);
  const int64_t K = cols;
  const size_t KK = static_cast<size_t>(K * K);
  const bool per_row = spec.grid == Grid::Uniform && spec.group < 0;
  const int64_t G = per_row ? K : storage_group(spec), ng = cdiv(K, G);
  const bool stat = spec.static_groups && !per_row;

  std::vector<float> w(W, W + rows * K);
  std::vector<Params> row_prm(per_row ? static_cast<size_t>(rows) : 0);
  for (size_t r = 0; r < row_prm.size(); ++r) row_prm[r] = qz.fit(W + r * K, K);

  std::vector<double> h(H, H + KK);
  int64_t dead = 0;
  for (int64_t j = 0; j < K; ++j) {
    if (h[static_cast<size_t>(j * K + j)] != 0.0) continue;
    h[static_cast<size_t>(j * K + j)] = 1.0;
    for (int64_t r = 0; r < rows; ++r) w[static_cast<size_t>(r * K + j)] = 0.0f;
    ++dead;
  }
  std::vector<Params> static_prm(stat ? static_cast<size_t>(rows * ng) : 0);
  if (stat)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t g = 0; g < ng; ++g) static_prm[static_cast<size_t>(r * ng + g)] = qz.fit(&w[static_cast<size_t>(r * K + g * G)], std::min(G, K - g * G));

  std::vector<int32_t> order;
  if (spec.act_order) {
    order.resize(static_cast<size_t>(K));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      return h[static_cast<size_t>(a) * K + a] > h[static_cast<size_t>(b) * K + b];
    });
    std::vector<float> wp(w.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < K; ++j) wp[static_cast<size_t>(r * K + j)] = w[static_cast<size_t>(r * K + order[static_cast<size_t>(j)])];
    w.swap(wp);
    std::vector<double> hp(KK);
    for (int64_t a = 0; a < K; ++a)
      for (int64_t b = 0; b < K; ++b) hp[static_cast<size_t>(a * K + b)] = h[static_cast<size_t>(order[static_cast<size_t>(a)]) * K + order[static_cast<size_t>(b)]];
    h.swap(hp);
  }

  // Damping, raised by 0.01 at a time while H + λI is not positive definite.
  double mean_diag = 0;
  for (int64_t j = 0; j < K; ++j) mean_diag += h[static_cast<size_t>(j * K + j)];
  mean_diag /= static_cast<double>(K);
  std::vector<double> Ud;
  double damp = spec.damp;
  std::string note;
  for (;;) {
    std::vector<double> hd = h;
    for (int64_t j = 0; j < K; ++j) hd[static_cast<size_t>(j * K + j)] += damp * mean_diag;
    if (linalg::inverse_cholesky_upper(hd, K, &Ud, pool)) break;
    const double next = damp + 0.01;
    if (next >= 1.0) fail("the Hessian is not positive definite even with damping %.2f", damp);
    char buf[160];
    std::snprintf(buf, sizeof buf, "%sHessian not positive definite with damp %.2f, raised to %.2f", note.empty() ? "" : "; ", damp, next);
    note += buf;
    damp = next;
  }
  std::vector<float> U(KK);
  for (size_t i = 0; i < KK; ++i) U[i] = static_cast<float>(Ud[i]);
  Ud.clear();
  Ud.shrink_to_fit();

  std::vector<uint8_t> q(static_cast<size_t>(rows * K));
  std::vector<Params> dyn_prm(per_row || stat ? 0 : static_cast<size_t>(rows * ng));
  std::vector<uint8_t> fitted(contiguous ? static_cast<size_t>(rows * ng) : 0);
  std::vector<int32_t> pos;  // pos[original column] = its place in quantization order
  if (contiguous && !order.empty()) {
    pos.resize(static_cast<size_t>(K));
    for (int64_t j = 0; j < K; ++j) pos[static_cast<size_t>(order[static_cast<size_t>(j)])] = static_cast<int32_t>(j);
  }
  const int64_t B = std::min<int64_t>(spec.block, K);
  std::vector<double> losses(static_cast<size_t>(pool ? pool->size() : 1), 0.0);
  for_rows(pool, rows, [&](int64_t r0, int64_t r1) {
    std::vector<float> err(static_cast<size_t>((r1 - r0) * B)), w1(static_cast<size_t>(B)), blk(static_cast<size_t>(G));
    double loss = 0;
    for (int64_t i1 = 0; i1 < K; i1 += B) {
      const int64_t i2 = std::min(K, i1 + B), count = i2 - i1;
      for (int64_t r = r0; r < r1; ++r) {
        const float* wr = &w[static_cast<size_t>(r * K)];  // as of the batch start: the groups are fitted on it
        std::copy(wr + i1, wr + i2, w1.begin());
        uint8_t* qr = &q[static_cast<size_t>(r * K)];
        float* er = &err[static_cast<size_t>((r - r0) * B)];
        for (int64_t i = 0; i < count; ++i) {
          const int64_t j = i1 + i;
          Params p;
          if (per_row) {
            p = row_prm[static_cast<size_t>(r)];
          } else if (contiguous && !stat) {
            const int64_t orig = order.empty() ? j : order[static_cast<size_t>(j)], g = orig / G;
            Params& slot = dyn_prm[static_cast<size_t>(r * ng + g)];
            if (!fitted[static_cast<size_t>(r * ng + g)]) {
              // First column of this block: its other columns are all still
              // ahead, in this batch (w1, updated) or a later one (wr).
              for (int64_t t = 0; t < G; ++t) {
                const int64_t at = pos.empty() ? g * G + t : pos[static_cast<size_t>(g * G + t)];
                blk[static_cast<size_t>(t)] = at >= i1 && at < i2 ? w1[static_cast<size_t>(at - i1)] : wr[at];
              }
              slot = qz.fit(blk.data(), G);
              fitted[static_cast<size_t>(r * ng + g)] = 1;
            }
            p = slot;
          } else if (stat) {
            const int64_t orig = order.empty() ? j : order[static_cast<size_t>(j)];
            p = static_prm[static_cast<size_t>(r * ng + orig / G)];
          } else {
            Params& slot = dyn_prm[static_cast<size_t>(r * ng + j / G)];
            if (j % G == 0) slot = qz.fit(wr + j, std::min(G, K - j));
            p = slot;
          }
          const float x = w1[static_cast<size_t>(i)];
          const int c = qz.code(x, p);
          qr[j] = static_cast<uint8_t>(c);
          const float diff = x - qz.value(c, p);
          const float* u = &U[static_cast<size_t>(j * K)];
          const float e = diff / u[j];
          loss += static_cast<double>(e) * e;
          linalg::axpy_neg(&w1[static_cast<size_t>(i + 1)], u + i1 + i + 1, e, count - i - 1);
          er[i] = e;
        }
      }
      if (i2 < K)
        linalg::gemm(r1 - r0, K - i2, count, -1.0f, linalg::row_major(err.data(), B),
                     linalg::row_major(&U[static_cast<size_t>(i1 * K + i2)], K), &w[static_cast<size_t>(r0 * K + i2)], K);
    }
    // Threads own disjoint row ranges; the first row identifies the slot.
    losses[static_cast<size_t>(pool && pool->size() > 1 ? r0 / cdiv(rows, pool->size()) : 0)] = loss;
  });

  // An identity order needs no companion tensor.
  bool identity = true;
  for (size_t j = 0; j < order.size() && identity; ++j) identity = order[j] == static_cast<int32_t>(j);
  if (identity) order.clear();
  const bool store_permuted = spec.act_order && !stat && !per_row && !contiguous;
  QuantizedLayer L = finish(spec, rows, K, std::move(q), order, store_permuted, [&](int64_t r, int64_t g) {
    if (per_row) return row_prm[static_cast<size_t>(r)];
    return stat ? static_prm[static_cast<size_t>(r * ng + g)] : dyn_prm[static_cast<size_t>(r * ng + g)];
  });
  L.loss = std::accumulate(losses.begin(), losses.end(), 0.0) / 2;
  L.damp = damp;
  L.dead = dead;
  L.note = note;
  return L;
}

}  // namespace qgml::quantize
