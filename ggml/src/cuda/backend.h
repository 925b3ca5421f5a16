// The interface between the offload policy (offload.cpp, plain C++ compiled
// in every build) and the CUDA code (*.cu, compiled only with QGML_CUDA=ON).
// Plain types only: host code never includes a CUDA header, so the default
// build needs no CUDA Toolkit.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace qgml::cuda {

// Declined: the product is not one for the device (see mul_mat); the CPU
// takes it without any message.
enum class Status { Ok, OutOfMemory, Failed, Declined };
struct Result {
  Status status = Status::Ok;
  std::string what;  // the failing call and CUDA's message
  bool ok() const { return status == Status::Ok; }
};

// How the kernels decode a weight row (block layouts of ggml/src/quants.h).
enum class WeightKind : int { F16, BF16, Q8_0, Q4_0, GPTQ, NF4, NF4_DQ };
struct WeightFormat {
  WeightKind kind = WeightKind::F16;
  int bits = 0, group = 0;  // GPTQ only
  bool asym = false;        // GPTQ: a zero point byte per group
};

// Selects device 0 and creates the streams; `description` gets the device or
// the reason there is none.
Result init(std::string* description);
// Device memory: free bytes now.
size_t free_memory();
Result device_alloc(size_t bytes, void** out);
void device_free(void* p);
// Host → device copy of weight bytes on the weight stream (waited for before
// the next product uses them).
Result upload(void* dst, const void* src, size_t bytes);

struct MatMulArgs {
  WeightFormat fmt;
  int64_t K = 0, M = 0;       // weight: M rows of K elements
  size_t row_bytes = 0;       // bytes of one weight row (whole blocks)
  const void* w = nullptr;    // weight rows on the device, row_bytes apart
  int64_t N = 0;              // activation rows
  const float* const* x = nullptr;  // host: N rows of K floats
  const int32_t* perm = nullptr;    // host: K column indices (act-order) or null
  float* const* out = nullptr;      // host: N rows of M floats
};
// out[n][m] = Σ_k w[m][k] · x[n][perm ? perm[k] : k]. Few rows: a
// matrix-vector kernel in F32; many: weights dequantized to F16 and a
// tensor-core GEMM with F32 accumulation; activations beyond F16's range
// (or not finite) would overflow there, so such a product is Declined.
Result mul_mat(const MatMulArgs& a);
// Rows up to which mul_mat uses the matrix-vector kernel.
constexpr int64_t kMatVecMaxRows = 8;

}  // namespace qgml::cuda
