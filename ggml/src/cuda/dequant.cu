// Weight kernels: the matrix-vector product for generation (a warp per
// weight row, F32 activations, up to kMatVecMaxRows tokens per weight read)
// and dequantization to F16 for the tensor-core GEMM of prompts. One
// instantiation per WeightKind (7 each), to keep nvcc's time down.
#include "decode.cuh"
#include "kernels.cuh"

namespace qgml::cuda {

cudaError_t upload_nf4_table(const float* table) { return cudaMemcpyToSymbol(kNF4Dev, table, sizeof(kNF4Dev)); }

namespace {

constexpr int kWarpsPerBlock = 4;

template <WeightKind KIND>
__global__ void matvec_kernel(const uint8_t* w, size_t row_bytes, WeightFormat f, int64_t K, int64_t M, const float* x,
                              int N, float* out) {
  const int64_t m = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (m >= M) return;
  const uint8_t* row = w + m * row_bytes;
  float acc[kMatVecMaxRows] = {};
  // Each weight element is decoded once and used for every activation row.
  for (int k = lane; k < K; k += 32) {
    const float v = decode<KIND>(row, k, f);
#pragma unroll
    for (int n = 0; n < kMatVecMaxRows; ++n)
      if (n < N) acc[n] += v * x[n * K + k];
  }
#pragma unroll
  for (int n = 0; n < kMatVecMaxRows; ++n) {
    if (n >= N) break;
    float s = acc[n];
    for (int off = 16; off > 0; off /= 2) s += __shfl_down_sync(0xffffffffu, s, off);
    if (lane == 0) out[n * M + m] = s;
  }
}

template <WeightKind KIND>
__global__ void dequant_kernel(const uint8_t* w, size_t row_bytes, WeightFormat f, int64_t K, int64_t M, int64_t Kp,
                               __half* out) {
  const int64_t m = blockIdx.x;
  const uint8_t* row = w + m * row_bytes;
  for (int k = threadIdx.x; k < Kp; k += blockDim.x)
    out[m * Kp + k] = __float2half(m < M && k < K ? decode<KIND>(row, k, f) : 0.0f);
}

template <WeightKind KIND>
cudaError_t matvec_as(const WeightFormat& f, const uint8_t* w, size_t row_bytes, int64_t K, int64_t M, const float* x,
                      int64_t N, float* out, cudaStream_t s) {
  const unsigned blocks = static_cast<unsigned>((M + kWarpsPerBlock - 1) / kWarpsPerBlock);
  matvec_kernel<KIND><<<blocks, kWarpsPerBlock * 32, 0, s>>>(w, row_bytes, f, K, M, x, static_cast<int>(N), out);
  return cudaGetLastError();
}

template <WeightKind KIND>
cudaError_t dequant_as(const WeightFormat& f, const uint8_t* w, size_t row_bytes, int64_t K, int64_t M, int64_t Mp,
                       int64_t Kp, __half* out, cudaStream_t s) {
  dequant_kernel<KIND><<<static_cast<unsigned>(Mp), 256, 0, s>>>(w, row_bytes, f, K, M, Kp, out);
  return cudaGetLastError();
}

// The run-time kind → template dispatch, written once for both launchers.
template <template <WeightKind> class Op, typename... A>
cudaError_t dispatch(WeightKind kind, A... a) {
  switch (kind) {
    case WeightKind::F16: return Op<WeightKind::F16>::run(a...);
    case WeightKind::BF16: return Op<WeightKind::BF16>::run(a...);
    case WeightKind::Q8_0: return Op<WeightKind::Q8_0>::run(a...);
    case WeightKind::Q4_0: return Op<WeightKind::Q4_0>::run(a...);
    case WeightKind::GPTQ: return Op<WeightKind::GPTQ>::run(a...);
    case WeightKind::NF4: return Op<WeightKind::NF4>::run(a...);
    case WeightKind::NF4_DQ: return Op<WeightKind::NF4_DQ>::run(a...);
  }
  return cudaErrorInvalidValue;
}
template <WeightKind KIND>
struct MatVecOp {
  template <typename... A>
  static cudaError_t run(A... a) { return matvec_as<KIND>(a...); }
};
template <WeightKind KIND>
struct DequantOp {
  template <typename... A>
  static cudaError_t run(A... a) { return dequant_as<KIND>(a...); }
};

}  // namespace

cudaError_t launch_matvec(const WeightFormat& f, const uint8_t* w, size_t row_bytes, int64_t K, int64_t M,
                          const float* x, int64_t N, float* out, cudaStream_t s) {
  if (N < 1 || N > kMatVecMaxRows) return cudaErrorInvalidValue;
  return dispatch<MatVecOp>(f.kind, f, w, row_bytes, K, M, x, N, out, s);
}

cudaError_t launch_dequant_f16(const WeightFormat& f, const uint8_t* w, size_t row_bytes, int64_t K, int64_t M,
                               int64_t Mp, int64_t Kp, __half* out, cudaStream_t s) {
  return dispatch<DequantOp>(f.kind, f, w, row_bytes, K, M, Mp, Kp, out, s);
}

}  // namespace qgml::cuda
