// Dense linear algebra for the quantizers: a packed, cache-blocked SGEMM
// (BLIS-style loops around a 6×16 register micro-kernel, AVX2/FMA where the
// CPU has it), the Hessian accumulation X·Xᵀ built on it, and the
// double-precision factorisations GPTQ needs.
#pragma once
#include <cstdint>
#include <vector>

namespace qgml {
class ThreadPool;
}

namespace qgml::linalg {

// A strided matrix: element (i, j) at p[i·rs + j·cs]. Transposes are views.
struct View {
  const float* p;
  int64_t rs, cs;
};
inline View row_major(const float* p, int64_t ld) { return {p, ld, 1}; }
inline View transposed(const float* p, int64_t ld) { return {p, 1, ld}; }

// C[M×N] (row-major, leading dimension ldc) += alpha · A[M×K] · B[K×N], on the calling thread.
void gemm(int64_t M, int64_t N, int64_t K, float alpha, View A, View B, float* C, int64_t ldc);

// gemm with the rows of C split among the pool's threads (pool may be null).
void gemm(int64_t M, int64_t N, int64_t K, float alpha, View A, View B, float* C, int64_t ldc, ThreadPool* pool);

// B [K×N] packed once into the panels gemm's inner loops read, for many
// products with the same B (the quantized weights, once per calibration
// window). Results are bitwise those of gemm with B itself.
class PackedB {
 public:
  PackedB(View B, int64_t K, int64_t N);
  int64_t rows() const { return K_; }
  int64_t cols() const { return N_; }
  const float* data() const { return data_.data(); }

 private:
  int64_t K_, N_;
  std::vector<float> data_;
};

// gemm with a packed B: C[M×N] += alpha · A[M×K] · B, rows split among the
// pool's threads; with overwrite, C = alpha · A · B (C's old contents unread).
void gemm(int64_t M, float alpha, View A, const PackedB& B, float* C, int64_t ldc, ThreadPool* pool, bool overwrite = false);

// The upper triangle (j ≥ i, and whole diagonal tiles) of C[n×n] += alpha · Xᵀ·X
// for X [t×n] row-major (leading dimension ldx): the Gram matrix of t
// activation rows. Blocks of rows are shared among the pool's threads (pool
// may be null: calling thread only). Each entry takes the same operations as
// gemm would give it. mirror_upper() completes C once at the end.
void syrk_upper(int64_t n, int64_t t, float alpha, const float* X, int64_t ldx, float* C, int64_t ldc, ThreadPool* pool);
void mirror_upper(int64_t n, float* C, int64_t ldc);

// y[j] −= f·x[j] for j < n (fused where the CPU has FMA).
void axpy_neg(float* y, const float* x, float f, int64_t n);

// Which micro-kernel gemm uses ("avx2+fma" or "portable").
const char* gemm_kernel_name();

// The upper Cholesky factor U of H⁻¹ (H⁻¹ = Uᵀ·U), H [n×n] symmetric positive
// definite, row-major. Computed without forming H⁻¹: with P the reversal
// permutation, P·H·P = Rᵀ·R (Cholesky) gives H = V·Vᵀ for the upper V = P·Rᵀ·P,
// so U = V⁻¹ = P·R⁻ᵀ·P. Returns false (U unspecified) when H is not positive
// definite in double precision. The O(n³) updates are shared among the
// pool's threads (pool may be null); results do not depend on their number.
bool inverse_cholesky_upper(const std::vector<double>& H, int64_t n, std::vector<double>* U, ThreadPool* pool = nullptr);

// Peak single-thread FP32 throughput of the FMA units, measured by a loop of
// independent vector FMAs (GFLOPS, one FMA = 2 flops).
double measure_peak_gflops(double seconds);

}  // namespace qgml::linalg
