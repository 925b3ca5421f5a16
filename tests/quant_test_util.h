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
  std::vector<Type> v = {Type::Q8_0, Type::Q4_0, Type::Q4_1, Type::NF4, Type::NF4_DQ};
  for (int i = static_cast<int>(Type::GPTQ4_G32); i <= static_cast<int>(Type::GPTQ2S_G128); ++i)
    v.push_back(static_cast<Type>(i));
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
