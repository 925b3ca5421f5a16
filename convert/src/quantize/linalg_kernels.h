// Micro-kernels of linalg::gemm (private to linalg*.cpp).
#pragma once
#include <cstdint>

namespace qgml::linalg {

constexpr int kMR = 6;   // rows of C per micro-tile
constexpr int kNR = 16;  // columns of C per micro-tile (two 8-float vectors)

using MicroKernel = void (*)(int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc, float alpha, int mr,
                             int nr);
void kernel_6x16_avx2(int64_t kc, const float* Ap, const float* Bp, float* C, int64_t ldc, float alpha, int mr, int nr);
bool have_avx2_kernel();
// Runs `iters` iterations of 10 independent 8-wide FMAs; returns a value so the loop is kept.
double fma_peak_loop(int64_t iters);

}  // namespace qgml::linalg
