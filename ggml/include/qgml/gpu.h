// qgml/gpu.h — optional offload of large matrix products to an NVIDIA GPU.
//
// The product is the same with or without a GPU: these functions only decide
// where a matmul runs. A build without CUDA (the default: QGML_CUDA=OFF)
// answers "no" everywhere and says "built without CUDA" when asked why.
//
// Policy (as llama.cpp's -ngl): weights registered as resident (the layers a
// model offloads) are uploaded once and stay on the device, so every product
// with them runs there, one token or many. Other products go to the device
// when they have at least kMinOffloadRows activation rows (prompts), their
// weights streamed and, for registered (immutable) weights, cached. Any CUDA
// failure prints one clear message and the product runs on the CPU.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "qgml/tensor.h"

namespace qgml::gpu {

// Activation rows from which a product without resident weights is worth
// the transfer of its weights.
constexpr int64_t kMinOffloadRows = 32;

// True when qgml was built with QGML_CUDA=ON.
bool compiled();
// True when a CUDA device is usable. The first call initialises the device;
// when none is usable it prints once why ("built without CUDA", "no CUDA
// device", the driver's error) and every later call returns false at once.
// QGML_GPU=0 in the environment turns offload off (to compare with the CPU).
bool available();
// The device ("NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB") or why none is used.
std::string description();
// True when the device kernels decode weights of type t (F16, BF16, Q8_0,
// Q4_0, GPTQ int4/int3/int2 with or without zero points, NF4, NF4_DQ).
bool supports(Type t);

// Declares w (a 2-D weight of a supported type whose data never changes
// while registered) cacheable on the device; resident = upload it now and
// keep it. Returns false when it could not be made resident (no device, out
// of device memory: a message says so and the weight stays on the CPU).
bool register_weight(const Tensor* w, bool resident);
// Forgets w and frees its device copy (call before its memory goes away).
void unregister_weight(const Tensor* w);
// Bytes of weights held on the device (resident and cached).
size_t device_bytes();

// The offload decision for mul_mat(a, b): the same answer on every thread of
// a graph node (it depends on nothing that changes while a graph runs).
bool wants(const Tensor* a, const Tensor* b);
// dst = a × b (perm: GPTQ act-order column permutation or null) on the
// device. Returns false, leaving dst to the CPU, when the device cannot do it.
// Thread-safe (products from several sessions take turns on the device).
bool mul_mat(const Tensor* a, const Tensor* b, const Tensor* perm, Tensor* dst);

}  // namespace qgml::gpu
