// Device decoding of one weight element, following the block layouts of
// ggml/src/quants.h (gguf-spec.md, Appendix Q) exactly, so that a weight
// means the same number on the device as in the CPU's to_float. Bytes are
// read one at a time: GPTQ blocks with a zero point are an odd number of
// bytes long, so their f16 scales are not 2-byte aligned.
#pragma once
#include <cuda_fp16.h>
#include <cstdint>

#include "backend.h"

namespace qgml::cuda {

// QLoRA's NF4 code values, copied from qgml::kNF4 at initialisation
// (upload_nf4_table). Defined here because, without relocatable device code,
// a __constant__ belongs to one translation unit: only dequant.cu includes
// this header.
__constant__ float kNF4Dev[16];

__device__ __forceinline__ float f16_at(const uint8_t* p) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(p[0] | (p[1] << 8))));
}

// Element e (0 ≤ e < group) of a plane of p bits: byte e mod (group·p/8),
// bit p·(e div (group·p/8)) — the "strided" plane order of quants.h.
__device__ __forceinline__ int plane_get(const uint8_t* plane, int p, int group, int e) {
  const int np = group * p / 8;
  return (plane[e % np] >> (p * (e / np))) & ((1 << p) - 1);
}

// Element k of a weight row. KIND is a template parameter so the kernels
// compile one branch-free decoder per kind; GPTQ's bits, group and zero
// point stay run-time values (one instantiation for all 18 GPTQ types). k is
// 32-bit: rows are far shorter than 2^31 and 64-bit division is slow on GPUs.
template <WeightKind KIND>
__device__ __forceinline__ float decode(const uint8_t* row, int k, const WeightFormat& f) {
  if constexpr (KIND == WeightKind::F16) {
    return __half2float(reinterpret_cast<const __half*>(row)[k]);
  } else if constexpr (KIND == WeightKind::BF16) {
    const uint32_t h = reinterpret_cast<const uint16_t*>(row)[k];
    return __uint_as_float(h << 16);
  } else if constexpr (KIND == WeightKind::Q8_0) {
    const uint8_t* b = row + (k / 32) * 34;
    return f16_at(b) * static_cast<float>(static_cast<int8_t>(b[2 + k % 32]));
  } else if constexpr (KIND == WeightKind::Q4_0) {
    const uint8_t* b = row + (k / 32) * 18;
    const int j = k % 32;
    const int q = j < 16 ? b[2 + j] & 0x0f : b[2 + j - 16] >> 4;
    return f16_at(b) * static_cast<float>(q - 8);
  } else if constexpr (KIND == WeightKind::GPTQ) {
    const int header = f.asym ? 3 : 2;
    const uint8_t* b = row + (k / f.group) * (header + f.group * f.bits / 8);
    const int e = k % f.group;
    const uint8_t* qs = b + header;
    const int q = f.bits == 3 ? plane_get(qs, 2, f.group, e) | plane_get(qs + f.group / 4, 1, f.group, e) << 2
                              : plane_get(qs, f.bits, f.group, e);
    const int z = f.asym ? b[2] : 1 << (f.bits - 1);
    return f16_at(b) * static_cast<float>(q - z);
  } else if constexpr (KIND == WeightKind::NF4) {
    const uint8_t* b = row + (k / 64) * 34;
    const int j = k % 64;
    const int code = j < 32 ? b[2 + j] & 0x0f : b[2 + j - 32] >> 4;
    return f16_at(b) * kNF4Dev[code];
  } else {  // NF4_DQ: absmax of sub-block s = d · sc[s], then as NF4
    const uint8_t* b = row + (k / 256) * 134;
    const int j = k % 256, s = j / 64, jj = j % 64;
    const uint8_t* qs = b + 6 + 32 * s;
    const int code = jj < 32 ? qs[jj] & 0x0f : qs[jj - 32] >> 4;
    return f16_at(b) * static_cast<float>(b[2 + s]) * kNF4Dev[code];
  }
}

}  // namespace qgml::cuda
