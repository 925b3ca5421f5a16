// The device: initialisation, memory, streams and the host side of a
// product. Activations go up and results come back through pinned staging
// buffers with asynchronous copies on the compute stream; weight uploads use
// their own stream and an event, so a streamed weight's transfer overlaps the
// activation transfer and conversion. Every CUDA call is checked: out of
// memory is reported as such (the caller frees cache and retries), anything
// else as a failure that turns offload off.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "../quants.h"
#include "backend.h"
#include "kernels.cuh"

namespace qgml::cuda {
namespace {

Result error_result(cudaError_t e, const char* call) {
  Result r;
  r.status = e == cudaErrorMemoryAllocation ? Status::OutOfMemory : Status::Failed;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s: %s (%s)", call, cudaGetErrorString(e), cudaGetErrorName(e));
  r.what = buf;
  if (r.status == Status::OutOfMemory) cudaGetLastError();  // not sticky: clear it so later calls work
  return r;
}

#define QG_CUDA_CHECK(call)                                   \
  do {                                                        \
    const cudaError_t qg_err_ = (call);                       \
    if (qg_err_ != cudaSuccess) return error_result(qg_err_, #call); \
  } while (0)

// A device or pinned host buffer that only grows.
struct Buffer {
  void* p = nullptr;
  size_t size = 0;
  bool pinned = false;
};

Result ensure(Buffer& b, size_t bytes, bool pinned) {
  if (b.size >= bytes) return {};
  if (b.p != nullptr) {
    if (b.pinned) cudaFreeHost(b.p); else cudaFree(b.p);
    b.p = nullptr;
    b.size = 0;
  }
  // Grow by at least half again to avoid reallocating on every longer prompt.
  const size_t want = bytes + bytes / 2;
  b.pinned = pinned;
  if (pinned) {
    QG_CUDA_CHECK(cudaMallocHost(&b.p, want));
  } else {
    QG_CUDA_CHECK(cudaMalloc(&b.p, want));
  }
  b.size = want;
  return {};
}

struct Device {
  cudaStream_t compute = nullptr, weights = nullptr;
  cudaEvent_t weights_done = nullptr;
  // Device scratch: activations (F32, gathered F32, F16), the dequantized
  // weight (F16), the permutation and the result; pinned host staging.
  Buffer x, xg, x16, w16, perm, out;
  Buffer hx, hperm, hout;
};
Device g_dev;

}  // namespace

Result init(std::string* description) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    Result r = error_result(e, "cudaGetDeviceCount");
    r.status = Status::Failed;
    r.what = "no usable CUDA device (" + r.what + ")";
    *description = r.what;
    return r;
  }
  if (n == 0) {
    *description = "no CUDA device";
    return {Status::Failed, *description};
  }
  QG_CUDA_CHECK(cudaSetDevice(0));
  cudaDeviceProp prop;
  QG_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s, sm_%d%d, %.1f GiB", prop.name, prop.major, prop.minor,
                static_cast<double>(prop.totalGlobalMem) / (1u << 30));
  *description = buf;
  // The build carries sm_80 and sm_90 code (and PTX for newer GPUs); the
  // tensor-core kernels need at least sm_80's.
  if (prop.major < 8) {
    *description += ": compute capability below 8.0, which this build has no kernels for";
    return {Status::Failed, *description};
  }
  QG_CUDA_CHECK(cudaStreamCreateWithFlags(&g_dev.compute, cudaStreamNonBlocking));
  QG_CUDA_CHECK(cudaStreamCreateWithFlags(&g_dev.weights, cudaStreamNonBlocking));
  QG_CUDA_CHECK(cudaEventCreateWithFlags(&g_dev.weights_done, cudaEventDisableTiming));
  QG_CUDA_CHECK(upload_nf4_table(kNF4));
  return {};
}

size_t free_memory() {
  size_t free_b = 0, total = 0;
  if (cudaMemGetInfo(&free_b, &total) != cudaSuccess) return 0;
  return free_b;
}

Result device_alloc(size_t bytes, void** out) {
  *out = nullptr;
  QG_CUDA_CHECK(cudaMalloc(out, bytes));
  return {};
}

void device_free(void* p) {
  if (p == nullptr) return;
  // The compute stream may still read the buffer; freeing waits for it.
  cudaStreamSynchronize(g_dev.compute);
  cudaFree(p);
}

Result upload(void* dst, const void* src, size_t bytes) {
  QG_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, g_dev.weights));
  QG_CUDA_CHECK(cudaEventRecord(g_dev.weights_done, g_dev.weights));
  return {};
}

Result mul_mat(const MatMulArgs& a) {
  Device& d = g_dev;
  const int64_t K = a.K, M = a.M, N = a.N;
  const size_t xbytes = static_cast<size_t>(N * K) * sizeof(float);
  const size_t obytes = static_cast<size_t>(N * M) * sizeof(float);
  Result r;
  if (!(r = ensure(d.hx, xbytes, true)).ok() || !(r = ensure(d.x, xbytes, false)).ok() ||
      !(r = ensure(d.hout, obytes, true)).ok())
    return r;
  // Activations: packed into pinned memory, then one asynchronous copy.
  float* hx = static_cast<float*>(d.hx.p);
  for (int64_t n = 0; n < N; ++n) std::memcpy(hx + n * K, a.x[n], static_cast<size_t>(K) * sizeof(float));
  // The GEMM rounds activations to F16: larger values would become infinite.
  if (N > kMatVecMaxRows)
    for (int64_t i = 0; i < N * K; ++i)
      if (!(std::fabs(hx[i]) < 65504.0f)) return {Status::Declined, "activations beyond F16 range"};
  QG_CUDA_CHECK(cudaMemcpyAsync(d.x.p, hx, xbytes, cudaMemcpyHostToDevice, d.compute));
  const int32_t* perm = nullptr;
  if (a.perm != nullptr) {
    const size_t pbytes = static_cast<size_t>(K) * sizeof(int32_t);
    if (!(r = ensure(d.hperm, pbytes, true)).ok() || !(r = ensure(d.perm, pbytes, false)).ok()) return r;
    std::memcpy(d.hperm.p, a.perm, pbytes);
    QG_CUDA_CHECK(cudaMemcpyAsync(d.perm.p, d.hperm.p, pbytes, cudaMemcpyHostToDevice, d.compute));
    perm = static_cast<const int32_t*>(d.perm.p);
  }
  // The weight may still be on its way up.
  QG_CUDA_CHECK(cudaStreamWaitEvent(d.compute, d.weights_done, 0));
  const uint8_t* w = static_cast<const uint8_t*>(a.w);
  const float* x = static_cast<const float*>(d.x.p);
  size_t out_pitch = static_cast<size_t>(M) * sizeof(float);
  if (N <= kMatVecMaxRows) {
    if (!(r = ensure(d.out, obytes, false)).ok()) return r;
    if (perm != nullptr) {
      if (!(r = ensure(d.xg, xbytes, false)).ok()) return r;
      QG_CUDA_CHECK(launch_gather_f32(x, perm, K, N, static_cast<float*>(d.xg.p), d.compute));
      x = static_cast<const float*>(d.xg.p);
    }
    QG_CUDA_CHECK(launch_matvec(a.fmt, w, a.row_bytes, K, M, x, N, static_cast<float*>(d.out.p), d.compute));
  } else {
    const int64_t Np = round_up(N, kTileN), Mp = round_up(M, kTileM), Kp = round_up(K, kTileK);
    if (!(r = ensure(d.x16, static_cast<size_t>(Np * Kp) * sizeof(__half), false)).ok() ||
        !(r = ensure(d.w16, static_cast<size_t>(Mp * Kp) * sizeof(__half), false)).ok() ||
        !(r = ensure(d.out, static_cast<size_t>(Np * Mp) * sizeof(float), false)).ok())
      return r;
    __half* x16 = static_cast<__half*>(d.x16.p);
    __half* w16 = static_cast<__half*>(d.w16.p);
    QG_CUDA_CHECK(launch_to_f16(x, perm, K, N, Np, Kp, x16, d.compute));
    QG_CUDA_CHECK(launch_dequant_f16(a.fmt, w, a.row_bytes, K, M, Mp, Kp, w16, d.compute));
    QG_CUDA_CHECK(launch_gemm_f16(x16, w16, static_cast<float*>(d.out.p), Np, Mp, Kp, d.compute));
    out_pitch = static_cast<size_t>(Mp) * sizeof(float);
  }
  QG_CUDA_CHECK(cudaMemcpy2DAsync(d.hout.p, static_cast<size_t>(M) * sizeof(float), d.out.p, out_pitch,
                                  static_cast<size_t>(M) * sizeof(float), static_cast<size_t>(N),
                                  cudaMemcpyDeviceToHost, d.compute));
  QG_CUDA_CHECK(cudaStreamSynchronize(d.compute));
  const float* hout = static_cast<const float*>(d.hout.p);
  for (int64_t n = 0; n < N; ++n) std::memcpy(a.out[n], hout + n * M, static_cast<size_t>(M) * sizeof(float));
  return {};
}

}  // namespace qgml::cuda
