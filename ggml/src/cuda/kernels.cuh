// Kernel launchers shared by the CUDA files (device.cu calls them). Every
// launcher enqueues on `s` and returns cudaGetLastError() of the launch.
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <cstdint>

#include "backend.h"

namespace qgml::cuda {

// GEMM tile sizes: padded dimensions are multiples of these.
constexpr int64_t kTileN = 64, kTileM = 64, kTileK = 32;
inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Copies the 16 NF4 code values into the decoders' constant memory.
cudaError_t upload_nf4_table(const float* table);
// out[n·M + m] = Σ_k w[m][k] · x[n·K + k] for n < N ≤ kMatVecMaxRows, F32.
cudaError_t launch_matvec(const WeightFormat& f, const uint8_t* w, size_t row_bytes, int64_t K, int64_t M,
                          const float* x, int64_t N, float* out, cudaStream_t s);
// out (Mp × Kp, F16, zero padded) = the weight rows dequantized.
cudaError_t launch_dequant_f16(const WeightFormat& f, const uint8_t* w, size_t row_bytes, int64_t K, int64_t M,
                               int64_t Mp, int64_t Kp, __half* out, cudaStream_t s);
// out[n][k] = x[n][perm ? perm[k] : k] for N rows of K floats.
cudaError_t launch_gather_f32(const float* x, const int32_t* perm, int64_t K, int64_t N, float* out, cudaStream_t s);
// out (Np × Kp, F16, zero padded) = the activations, permuted when perm.
cudaError_t launch_to_f16(const float* x, const int32_t* perm, int64_t K, int64_t N, int64_t Np, int64_t Kp,
                          __half* out, cudaStream_t s);
// C (Np × Mp, F32) = X (Np × Kp) · W (Mp × Kp)ᵀ on tensor cores (wmma, F16
// inputs, F32 accumulation); Np, Mp multiples of 64, Kp of 32.
cudaError_t launch_gemm_f16(const __half* X, const __half* W, float* C, int64_t Np, int64_t Mp, int64_t Kp,
                            cudaStream_t s);

}  // namespace qgml::cuda
