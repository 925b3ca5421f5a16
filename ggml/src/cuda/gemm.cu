// Activation kernels (gather with the act-order permutation, F32 → F16) and
// the tensor-core GEMM of prompt processing: C = X · Wᵀ with both operands
// row-major in K (the "NT" layout qgml's weights and activations already
// have), 64 × 64 output tiles per block of four warps, each warp 32 × 32 as
// 2 × 2 wmma fragments of 16 × 16 × 16, K in steps of 32 through shared
// memory.
#include <mma.h>

#include "kernels.cuh"

namespace qgml::cuda {
namespace {

// x[n][perm[k]], or 0 for an entry out of range (as on the CPU, qgml/quant.h).
__device__ float gathered(const float* x, const int32_t* perm, int64_t n, int64_t K, int64_t k) {
  const int64_t from = perm ? perm[k] : k;
  return from >= 0 && from < K ? x[n * K + from] : 0.0f;
}

__global__ void gather_f32_kernel(const float* x, const int32_t* perm, int64_t K, float* out) {
  const int64_t n = blockIdx.x;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) out[n * K + k] = gathered(x, perm, n, K, k);
}

__global__ void to_f16_kernel(const float* x, const int32_t* perm, int64_t K, int64_t N, int64_t Kp, __half* out) {
  const int64_t n = blockIdx.x;
  for (int64_t k = threadIdx.x; k < Kp; k += blockDim.x)
    out[n * Kp + k] = __float2half(n < N && k < K ? gathered(x, perm, n, K, k) : 0.0f);
}

// Shared tiles are kTileK + 8 halves wide: rows 80 bytes apart keep the
// 16-byte stores and the wmma loads off each other's banks, and every
// fragment start stays 32-byte aligned as wmma requires.
constexpr int kLd = static_cast<int>(kTileK) + 8;

__global__ void __launch_bounds__(128) gemm_kernel(const __half* X, const __half* W, float* C, int64_t Mp, int64_t Kp) {
  using namespace nvcuda;
  __shared__ __align__(32) __half sx[kTileN][kLd];
  __shared__ __align__(32) __half sw[kTileM][kLd];
  const int warp = threadIdx.x / 32, wn = warp / 2, wm = warp % 2;
  const int64_t n0 = static_cast<int64_t>(blockIdx.y) * kTileN, m0 = static_cast<int64_t>(blockIdx.x) * kTileM;

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
  for (auto& row : acc)
    for (auto& a : row) wmma::fill_fragment(a, 0.0f);

  for (int64_t k0 = 0; k0 < Kp; k0 += kTileK) {
    // 64 rows × 32 halves = 256 chunks of 8 halves per operand: two per thread.
    for (int c = threadIdx.x; c < 256; c += 128) {
      const int r = c / 4, q = (c % 4) * 8;
      *reinterpret_cast<int4*>(&sx[r][q]) = *reinterpret_cast<const int4*>(X + (n0 + r) * Kp + k0 + q);
      *reinterpret_cast<int4*>(&sw[r][q]) = *reinterpret_cast<const int4*>(W + (m0 + r) * Kp + k0 + q);
    }
    __syncthreads();
    for (int kk = 0; kk < kTileK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a[2];
      // Wᵀ read as a column-major K × M matrix: element (k, m) at sw[m][k].
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> b[2];
      for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], &sx[wn * 32 + i * 16][kk], kLd);
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], &sw[wm * 32 + j * 16][kk], kLd);
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(C + (n0 + wn * 32 + i * 16) * Mp + m0 + wm * 32 + j * 16, acc[i][j],
                              static_cast<unsigned>(Mp), wmma::mem_row_major);
}

}  // namespace

cudaError_t launch_gather_f32(const float* x, const int32_t* perm, int64_t K, int64_t N, float* out, cudaStream_t s) {
  gather_f32_kernel<<<static_cast<unsigned>(N), 256, 0, s>>>(x, perm, K, out);
  return cudaGetLastError();
}

cudaError_t launch_to_f16(const float* x, const int32_t* perm, int64_t K, int64_t N, int64_t Np, int64_t Kp,
                          __half* out, cudaStream_t s) {
  to_f16_kernel<<<static_cast<unsigned>(Np), 256, 0, s>>>(x, perm, K, N, Kp, out);
  return cudaGetLastError();
}

cudaError_t launch_gemm_f16(const __half* X, const __half* W, float* C, int64_t Np, int64_t Mp, int64_t Kp,
                            cudaStream_t s) {
  if (Np % kTileN != 0 || Mp % kTileM != 0 || Kp % kTileK != 0) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(Mp / kTileM), static_cast<unsigned>(Np / kTileN));
  gemm_kernel<<<grid, 128, 0, s>>>(X, W, C, Mp, Kp);
  return cudaGetLastError();
}

}  // namespace qgml::cuda
