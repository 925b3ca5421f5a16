// linalg: the blocked SGEMM driver, Hessian accumulation and Cholesky-based
// inverse factor. Blocking (BLIS order): for each kc-deep slice, B is packed
// into kNR-wide column panels (kc × nc, stays in L2/L3), A into kMR-high row
// panels (mc × kc, in L2); the micro-kernel then streams one A panel against a
// B panel that sits in L1.
#include "linalg.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>

#include "linalg_kernels.h"
#include "qgml/cpu.h"
#include "qgml/threadpool.h"

namespace qgml::linalg {
namespace {

constexpr int64_t kKC = 256;   // depth of a packed slice: 6·256 + 16·256 floats fit L1 (22 KiB)
constexpr int64_t kMC = 96;    // rows of A packed at once: 96·256·4 = 96 KiB (L2)
constexpr int64_t kNC = 2048;  // columns of B packed at once: 2 MiB at kc = 256 (L2/L3)
static_assert(kMC % kMR == 0, "row blocks are whole micro-tiles (split_rows, pack_a)");

void kernel_portable(int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc, float alpha, int mr, int nr,
                     bool overwrite) {
  float acc[kMR][kNR] = {};
  for (int64_t k = 0; k < kc; ++k, Ap += kMR, Bp += kNR)
    for (int i = 0; i < kMR; ++i)
      for (int j = 0; j < kNR; ++j) acc[i][j] += Ap[i] * Bp[j];
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) C[i * ldc + j] = overwrite ? alpha * acc[i][j] : C[i * ldc + j] + alpha * acc[i][j];
}

MicroKernel pick_kernel() {
  const Isa isa = active_isa();
  if (have_avx2_kernel() && (isa == Isa::Avx2 || isa == Isa::Avx512)) return kernel_6x16_avx2;
  return kernel_portable;
}

MicroKernel kernel() {
  static const MicroKernel k = pick_kernel();
  return k;
}

// A[i0 .. i0+mc) × [p0 .. p0+kc) into kMR-row panels, column by column.
void pack_a(View A, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* dst) {
  for (int64_t ir = 0; ir < mc; ir += kMR) {
    const int64_t m = std::min<int64_t>(kMR, mc - ir);
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = A.p + (i0 + ir) * A.rs + (p0 + k) * A.cs;
      int64_t i = 0;
      if (A.rs == 1 && m == kMR) {  // Xᵀ of the Hessian: fixed-length copy, inlined as vector moves
        std::memcpy(dst, src, kMR * sizeof(float));
        i = kMR;
      }
      for (; i < m; ++i) dst[i] = src[i * A.rs];
      for (; i < kMR; ++i) dst[i] = 0.0f;
      dst += kMR;
    }
  }
}

// B[p0 .. p0+kc) × [j0 .. j0+nc) into kNR-column panels, row by row.
void pack_b(View B, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* dst) {
  if (B.cs == 1) {
    // Rows of B are contiguous: read each once, front to back, and scatter
    // it over the panels (panel by panel, the reads would stride through
    // every row once per panel, a cache miss per row and panel).
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = B.p + (p0 + k) * B.rs + j0;
      for (int64_t jr = 0; jr < nc; jr += kNR) {
        float* d = dst + jr * kc + k * kNR;  // panel jr / kNR holds kc rows of kNR
        const int64_t n = std::min<int64_t>(kNR, nc - jr);
        if (n == kNR) {
          std::memcpy(d, src + jr, kNR * sizeof(float));  // fixed length: inlined as vector moves
        } else {
          std::memcpy(d, src + jr, static_cast<size_t>(n) * sizeof(float));
          std::fill(d + n, d + kNR, 0.0f);
        }
      }
    }
    return;
  }
  for (int64_t jr = 0; jr < nc; jr += kNR) {
    const int64_t n = std::min<int64_t>(kNR, nc - jr);
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = B.p + (p0 + k) * B.rs + (j0 + jr) * B.cs;
      int64_t j = 0;
      for (; j < n; ++j) dst[j] = src[j * B.cs];
      for (; j < kNR; ++j) dst[j] = 0.0f;
      dst += kNR;
    }
  }
}

}  // namespace

const char* gemm_kernel_name() { return kernel() == kernel_portable ? "portable" : "avx2+fma"; }

namespace {

// gemm's loops over C[M×N]; b_block(jc, nc, pc, kc) gives the kc × nc block
// of B at (pc, jc) in packed form (packed now, or found in a PackedB).
// overwrite: the first depth slice stores into C instead of adding.
template <typename BBlock>
void gemm_loops(int64_t M, int64_t N, int64_t K, float alpha, View A, const BBlock& b_block, float* C, int64_t ldc,
                bool overwrite = false) {
  if (M <= 0 || N <= 0 || K <= 0) return;
  const MicroKernel kern = kernel();
  // A with contiguous rows is read in place where the level has a kernel for it.
  const ViewKernel view_kern = A.cs == 1 && kern == kernel_6x16_avx2 ? kernel_6x16_view_avx2 : nullptr;
  // Per thread and reused: gemm is called many times per layer.
  thread_local std::vector<float> apack;
  apack.resize(static_cast<size_t>(std::min(kKC, K) * std::min(kMC, (M + kMR - 1) / kMR * kMR)));
  for (int64_t jc = 0; jc < N; jc += kNC) {
    const int64_t nc = std::min(kNC, N - jc);
    for (int64_t pc = 0; pc < K; pc += kKC) {
      const int64_t kc = std::min(kKC, K - pc);
      const float* bp = b_block(jc, nc, pc, kc);
      for (int64_t ic = 0; ic < M; ic += kMC) {
        const int64_t mc = std::min(kMC, M - ic);
        if (view_kern == nullptr) pack_a(A, ic, mc, pc, kc, apack.data());
        for (int64_t jr = 0; jr < nc; jr += kNR) {
          const int nr = static_cast<int>(std::min<int64_t>(kNR, nc - jr));
          for (int64_t ir = 0; ir < mc; ir += kMR) {
            const int mr = static_cast<int>(std::min<int64_t>(kMR, mc - ir));
            float* c = C + (ic + ir) * ldc + jc + jr;
            if (view_kern != nullptr) {
              view_kern(kc, A.p + (ic + ir) * A.rs + pc, A.rs, 1, bp + jr * kc, c, ldc, alpha, mr, nr, overwrite && pc == 0);
            } else {
              kern(kc, apack.data() + ir * kc, bp + jr * kc, c, ldc, alpha, mr, nr, overwrite && pc == 0);
            }
          }
        }
      }
    }
  }
}

int64_t round_nr(int64_t n) { return (n + kNR - 1) / kNR * kNR; }

// Splits the rows of C among the pool's threads in whole micro-tiles.
template <typename RowsFn>
void split_rows(int64_t M, ThreadPool* pool, const RowsFn& rows) {
  if (pool == nullptr || pool->size() <= 1 || M < 2 * kMR) {
    rows(int64_t{0}, M);
    return;
  }
  pool->run([&](int ith, int nth) {
    const int64_t per = ((M + nth - 1) / nth + kMR - 1) / kMR * kMR;
    const int64_t m0 = std::min(M, per * ith), m1 = std::min(M, m0 + per);
    if (m0 < m1) rows(m0, m1);
  });
}

}  // namespace

void gemm(int64_t M, int64_t N, int64_t K, float alpha, View A, View B, float* C, int64_t ldc) {
  thread_local std::vector<float> bpack;
  bpack.resize(static_cast<size_t>(std::min(kKC, K) * std::min(kNC, round_nr(N))));
  gemm_loops(M, N, K, alpha, A, [&](int64_t jc, int64_t nc, int64_t pc, int64_t kc) {
    pack_b(B, pc, kc, jc, nc, bpack.data());
    return static_cast<const float*>(bpack.data());
  }, C, ldc);
}

void gemm(int64_t M, int64_t N, int64_t K, float alpha, View A, View B, float* C, int64_t ldc, ThreadPool* pool) {
  split_rows(M, pool, [&](int64_t m0, int64_t m1) {
    gemm(m1 - m0, N, K, alpha, View{A.p + m0 * A.rs, A.rs, A.cs}, B, C + m0 * ldc, ldc);
  });
}

PackedB::PackedB(View B, int64_t K, int64_t N) : K_(K), N_(N) {
  // Blocks in the order gemm visits them: column blocks of kNC, then depth slices.
  size_t total = 0;
  for (int64_t jc = 0; jc < N; jc += kNC) total += static_cast<size_t>(K * round_nr(std::min(kNC, N - jc)));
  data_.resize(total);
  float* dst = data_.data();
  for (int64_t jc = 0; jc < N; jc += kNC) {
    const int64_t nc = std::min(kNC, N - jc);
    for (int64_t pc = 0; pc < K; pc += kKC) {
      const int64_t kc = std::min(kKC, K - pc);
      pack_b(B, pc, kc, jc, nc, dst);
      dst += kc * round_nr(nc);
    }
  }
}

void gemm(int64_t M, float alpha, View A, const PackedB& B, float* C, int64_t ldc, ThreadPool* pool, bool overwrite) {
  const int64_t K = B.rows(), N = B.cols();
  const float* data = B.data();
  split_rows(M, pool, [&](int64_t m0, int64_t m1) {
    gemm_loops(m1 - m0, N, K, alpha, View{A.p + m0 * A.rs, A.rs, A.cs}, [&](int64_t jc, int64_t nc, int64_t pc, int64_t) {
      // Earlier column blocks are whole (K × kNC); earlier slices of this one are kKC deep.
      return data + jc * K + pc * round_nr(nc);
    }, C + m0 * ldc, ldc, overwrite);
  });
}

void syrk_upper(int64_t n, int64_t t, float alpha, const float* X, int64_t ldx, float* C, int64_t ldc, ThreadPool* pool) {
  if (n <= 0 || t <= 0) return;
  // X is both operands: per kc-deep slice of the t rows, all n columns are
  // packed once as B panels (shared by the threads), and each block of mc
  // rows of Xᵀ packs its A panels once for every column right of it. Tiles
  // that lie wholly below the diagonal are skipped: half the flops.
  const MicroKernel kern = kernel();
  const int nth = pool != nullptr ? pool->size() : 1;
  // Row blocks get cheaper towards the bottom (shorter rows of the triangle):
  // several per thread, taken from the top, keep the threads evenly loaded.
  const int64_t mc = std::clamp<int64_t>(n / (4 * nth) / kMR * kMR, kMR, kMC);
  const int64_t n_blocks = (n + mc - 1) / mc;
  // Reused (called once per window and layer group); the workers reach the
  // calling thread's buffer through `packed`, not through the name.
  thread_local std::vector<float> bpack;
  bpack.resize(static_cast<size_t>(std::min(kKC, t) * ((n + kNR - 1) / kNR * kNR)));
  const float* packed = bpack.data();
  for (int64_t pc = 0; pc < t; pc += kKC) {
    const int64_t kc = std::min(kKC, t - pc);
    pack_b(row_major(X, ldx), pc, kc, 0, n, bpack.data());
    std::atomic<int64_t> next{0};
    auto work = [&](int, int) {
      thread_local std::vector<float> apack;
      apack.resize(static_cast<size_t>(kMC * kKC));
      for (int64_t b; (b = next.fetch_add(1)) < n_blocks;) {
        const int64_t ic = b * mc, m = std::min(mc, n - ic);
        pack_a(transposed(X, ldx), ic, m, pc, kc, apack.data());
        // BLIS order: one B micro-panel stays in L1 while the A panels pass.
        for (int64_t jr = ic / kNR * kNR; jr < n; jr += kNR) {
          const int nr = static_cast<int>(std::min<int64_t>(kNR, n - jr));
          for (int64_t ir = 0; ir < m && ic + ir < jr + nr; ir += kMR) {
            const int mr = static_cast<int>(std::min<int64_t>(kMR, m - ir));
            kern(kc, apack.data() + ir * kc, packed + jr * kc, C + (ic + ir) * ldc + jr, ldc, alpha, mr, nr, false);
          }
        }
      }
    };
    if (nth > 1) {
      pool->run(work);
    } else {
      work(0, 1);
    }
  }
}

void mirror_upper(int64_t n, float* C, int64_t ldc) {
  for (int64_t i = 1; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) C[i * ldc + j] = C[j * ldc + i];
}

namespace {

void axpy_neg_portable(double* y, const double* x, double f, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] -= f * x[j];
}

void axpy_neg_f32_portable(float* y, const float* x, float f, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] -= f * x[j];
}

void axpy4_neg_portable(double* y, const double* const* x, const double* f, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double v = y[j];
    for (int u = 0; u < 4; ++u) v -= f[u] * x[u][j];
    y[j] = v;
  }
}

AxpyF64 axpy_neg_f64() {
  static const AxpyF64 k = kernel() == kernel_6x16_avx2 ? axpy_neg_f64_avx2 : axpy_neg_portable;
  return k;
}
AxpyF32 axpy_neg_f32() {
  static const AxpyF32 k = kernel() == kernel_6x16_avx2 ? axpy_neg_f32_avx2 : axpy_neg_f32_portable;
  return k;
}
Axpy4F64 axpy4_neg_f64() {
  static const Axpy4F64 k = kernel() == kernel_6x16_avx2 ? axpy4_neg_f64_avx2 : axpy4_neg_portable;
  return k;
}

// fn(first, end) on contiguous shares of [begin, end), one per thread.
template <typename Fn>
void split_range_on(ThreadPool* pool, int64_t begin, int64_t end, const Fn& fn) {
  if (pool == nullptr || pool->size() <= 1 || end - begin < 2) {
    fn(begin, end);
    return;
  }
  pool->run([&](int ith, int nth) {
    const int64_t per = (end - begin + nth - 1) / nth;
    const int64_t r0 = std::min(end, begin + per * ith), r1 = std::min(end, r0 + per);
    if (r0 < r1) fn(r0, r1);
  });
}

// fn(i) for every i in [begin, end), rows claimed one at a time (rows of a
// triangle cost different amounts).
template <typename Fn>
void each_row_on(ThreadPool* pool, int64_t begin, int64_t end, const Fn& fn) {
  if (pool == nullptr || pool->size() <= 1 || end - begin < 2) {
    for (int64_t i = begin; i < end; ++i) fn(i);
    return;
  }
  std::atomic<int64_t> next{begin};
  pool->run([&](int, int) {
    for (int64_t i; (i = next.fetch_add(1)) < end;) fn(i);
  });
}

}  // namespace

void axpy_neg(float* y, const float* x, float f, int64_t n) { axpy_neg_f32()(y, x, f, n); }

bool inverse_cholesky_upper(const std::vector<double>& H, int64_t n, std::vector<double>* U, ThreadPool* pool) {
  const size_t nn = static_cast<size_t>(n);
  const AxpyF64 axpy = axpy_neg_f64();
  const Axpy4F64 axpy4 = axpy4_neg_f64();
  // Blocks of kNB rows: the O(n³) loops below would otherwise stream the whole
  // trailing matrix from memory once per row (memory-bound: 100+ s at n = 5632).
  constexpr int64_t kNB = 64;
  auto at = [n](std::vector<double>& M, int64_t i) { return &M[static_cast<size_t>(i * n)]; };
  // R: upper Cholesky factor of P·H·P, right-looking, row-major so that the
  // trailing update is a contiguous axpy per row.
  std::vector<double> R(nn * nn, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) R[static_cast<size_t>(i * n + j)] = H[static_cast<size_t>((n - 1 - i) * n + (n - 1 - j))];
  for (int64_t kb = 0; kb < n; kb += kNB) {
    const int64_t ke = std::min(n, kb + kNB);
    // The panel rows [kb, ke): factor them, updating only each other.
    for (int64_t k = kb; k < ke; ++k) {
      double* rk = at(R, k);
      if (!(rk[k] > 0.0) || !std::isfinite(rk[k])) return false;
      const double d = std::sqrt(rk[k]);
      const double inv = 1.0 / d;
      rk[k] = d;
      for (int64_t j = k + 1; j < n; ++j) rk[j] *= inv;
      for (int64_t i = k + 1; i < ke; ++i) axpy(at(R, i) + i, rk + i, rk[i], n - i);
    }
    // Every later row takes the panel's updates while it sits in cache, in
    // the same k order as the unblocked loop (so the same rounding); rows
    // are independent, so they are shared among the threads.
    each_row_on(pool, ke, n, [&](int64_t i) {
      double* ri = at(R, i);
      int64_t k = kb;
      for (; k + 4 <= ke; k += 4) {
        const double* x[4] = {at(R, k) + i, at(R, k + 1) + i, at(R, k + 2) + i, at(R, k + 3) + i};
        const double f[4] = {at(R, k)[i], at(R, k + 1)[i], at(R, k + 2)[i], at(R, k + 3)[i]};
        axpy4(ri + i, x, f, n - i);
      }
      for (; k < ke; ++k) axpy(ri + i, at(R, k) + i, at(R, k)[i], n - i);
    });
  }
  // Rinv = R⁻¹ (upper), bottom rows first: Rinv[i,:] = (e_i − Σ_{k>i} R[i,k]·Rinv[k,:]) / R[i,i].
  // By blocks of rows: rows below the block are applied to the whole block
  // first (each read once per block, the block's rows shared among the
  // threads), then the block solves itself bottom up.
  std::vector<double> Ri(nn * nn, 0.0);
  for (int64_t ie = n; ie > 0; ie -= kNB) {
    const int64_t ib = std::max<int64_t>(0, ie - kNB);
    for (int64_t i = ib; i < ie; ++i) at(Ri, i)[i] = 1.0;
    split_range_on(pool, ib, ie, [&](int64_t i0, int64_t i1) {
      // Four rows k at a time, all from column k: rows k+1.. are zero
      // before their diagonal, so the extra terms subtract exact zeros.
      int64_t k = ie;
      for (; k + 4 <= n; k += 4) {
        const double* x[4] = {at(Ri, k) + k, at(Ri, k + 1) + k, at(Ri, k + 2) + k, at(Ri, k + 3) + k};
        for (int64_t i = i0; i < i1; ++i) {
          const double* ri = &R[static_cast<size_t>(i * n)];
          const double f[4] = {ri[k], ri[k + 1], ri[k + 2], ri[k + 3]};
          axpy4(at(Ri, i) + k, x, f, n - k);
        }
      }
      for (; k < n; ++k)
        for (int64_t i = i0; i < i1; ++i) axpy(at(Ri, i) + k, at(Ri, k) + k, R[static_cast<size_t>(i * n + k)], n - k);
    });
    for (int64_t i = ie - 1; i >= ib; --i) {
      double* out = at(Ri, i);
      const double* ri = at(R, i);
      for (int64_t k = i + 1; k < ie; ++k) axpy(out + k, at(Ri, k) + k, ri[k], n - k);
      const double inv = 1.0 / ri[i];
      for (int64_t j = i; j < n; ++j) out[j] *= inv;
    }
  }
  // U = P·Rinvᵀ·P: U[i][j] = Rinv[n−1−j][n−1−i], upper because Rinv is.
  U->assign(nn * nn, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) (*U)[static_cast<size_t>(i * n + j)] = Ri[static_cast<size_t>((n - 1 - j) * n + (n - 1 - i))];
  return true;
}

double measure_peak_gflops(double seconds) {
  if (kernel() == kernel_portable) return 0.0;
  int64_t iters = 1 << 20;
  volatile double sink = 0;
  for (;;) {
    const auto t0 = std::chrono::steady_clock::now();
    sink = sink + fma_peak_loop(iters);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s >= seconds) return static_cast<double>(iters) * 12 * 8 * 2 / s * 1e-9;
    iters *= 2;
  }
}

}  // namespace qgml::linalg
