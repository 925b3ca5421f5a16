// qgml/cpu.h — what the processor can do, and which kernel level is in use.
//
// Kernels are compiled for several instruction-set levels in separate files
// and picked at run time from CPUID (x86) or the build target (arm64). The
// level can be forced lower with the QGML_ISA environment variable
// (scalar, avx2, avx512, neon) or set_max_isa(), for tests and benchmarks.
#pragma once

namespace qgml {

enum class Isa { Scalar, Avx2, Avx512, Neon };

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false;
  bool neon = false, dotprod = false;
};

const CpuFeatures& cpu_features();
const char* isa_name(Isa isa);
bool parse_isa(const char* name, Isa* out);

// The best level this CPU and build support.
Isa best_isa();
// Whether kernels of `isa` can run here.
bool isa_supported(Isa isa);
// The level in use: best_isa(), lowered by QGML_ISA or set_max_isa().
Isa active_isa();
// Throws qgml::Error when the level is not supported here.
void set_max_isa(Isa isa);

}  // namespace qgml
