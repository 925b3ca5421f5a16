// Micro-kernels of linalg::gemm (private to linalg*.cpp).
#pragma once
#include <cstdint>

namespace qgml::linalg {

constexpr int kMR = 6;   // rows of C per micro-tile
constexpr int kNR = 16;  // columns of C per micro-tile (two 8-float vectors)

// C[mr×nr] += alpha·Ap·Bp over kc, or C = alpha·Ap·Bp with overwrite (the
// first depth slice of a product into C that was not zeroed).
using MicroKernel = void (*)(int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc, float alpha, int mr,
                             int nr, bool overwrite);
void kernel_6x16_avx2(int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc, float alpha, int mr, int nr,
                      bool overwrite);
// The same tile with A read in place, element (i, k) at A[i·rs + k·cs]
// (no packing), same operations, same results.
using ViewKernel = void (*)(int64_t kc, const float* A, int64_t rs, int64_t cs, const float* Bp, float* C, int64_t ldc,
                            float alpha, int mr, int nr, bool overwrite);
void kernel_6x16_view_avx2(int64_t kc, const float* A, int64_t rs, int64_t cs, const float* Bp, float* C, int64_t ldc,
                           float alpha, int mr, int nr, bool overwrite);
bool have_avx2_kernel();
// y[j] −= f·x[j] for j < n, in double: the inner loop of the Cholesky factor
// and the triangular inverse (one rounding per element with FMA, two without).
using AxpyF64 = void (*)(double* y, const double* x, double f, int64_t n);
void axpy_neg_f64_avx2(double* y, const double* x, double f, int64_t n);
// Four of those in a row, y −= f[0]·x[0], then f[1]·x[1], ...: each element
// takes the same operations as four axpy calls, but y is loaded and stored
// once (the loops are bound by loads and stores, not by the FMAs).
using Axpy4F64 = void (*)(double* y, const double* const* x, const double* f, int64_t n);
void axpy4_neg_f64_avx2(double* y, const double* const* x, const double* f, int64_t n);
// y[j] −= f·x[j] for j < n in float (one rounding per element with FMA, two
// without): GPTQ's update of the columns left in its batch.
using AxpyF32 = void (*)(float* y, const float* x, float f, int64_t n);
void axpy_neg_f32_avx2(float* y, const float* x, float f, int64_t n);
// Runs `iters` iterations of 12 independent 8-wide FMAs; returns a value so the loop is kept.
double fma_peak_loop(int64_t iters);

}  // namespace qgml::linalg
