// Helpers for the quantized-type tests: the types under test, odd row
// lengths, and loud skips for instruction sets this machine cannot run.
#pragma once
#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "qgml/cpu.h"
#include "qgml/types.h"

namespace qgml::test {

// Every quantized weight type with an integer dot kernel.
inline std::vector<Type> quant_weight_types() {
  // Every quantized weight type with a reference quantizer: a type added to
  // the traits table joins these suites without an edit here.
  std::vector<Type> v;
  for (int i = 0; i < kTypeCount; ++i) {
    const Type t = static_cast<Type>(i);
    const TypeTraits& tr = traits(t);
    if (!tr.is_quantized || t == Type::Q8_A || t == Type::Q8_K) continue;  // activation blocks
    if (tr.to_float == nullptr || tr.from_float == nullptr) continue;
    v.push_back(t);
  }
  return v;
}

// Row lengths: tiny-model (172), not a multiple of 32 (33), one past a
// common width by a block (4096 + 32), exact blocks.
inline std::vector<int64_t> odd_lengths() { return {172, 33, 4096 + 32, 256, 64, 1, 300}; }

// Every level compiled in; the ones this CPU cannot run are reported loudly.
inline std::vector<Isa> runnable_isas() {
  std::vector<Isa> v;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon}) {
    if (isa_supported(isa)) {
      v.push_back(isa);
      continue;
    }
#if defined(__x86_64__)
    const bool compiled = isa == Isa::Avx2 || isa == Isa::Avx512;
#elif defined(__aarch64__)
    const bool compiled = isa == Isa::Neon;
#else
    const bool compiled = false;
#endif
    if (compiled)
      std::fprintf(stderr, "\n*** SKIPPED: %s kernels are compiled but this CPU cannot run them: untested here ***\n\n",
                   isa_name(isa));
  }
  return v;
}

}  // namespace qgml::test
