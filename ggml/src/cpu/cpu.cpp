#include "qgml/cpu.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "kernels.h"
#include "qgml/error.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace qgml {
namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(_M_X64)
  unsigned a, b, c, d;
  if (!__get_cpuid_count(1, 0, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  const bool avx = (c >> 28) & 1;
  f.fma = (c >> 12) & 1;
  f.f16c = (c >> 29) & 1;
  uint64_t xcr0 = 0;
  if (osxsave) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (static_cast<uint64_t>(hi) << 32) | lo;
  }
  const bool ymm_os = (xcr0 & 0x6) == 0x6;     // SSE + AVX state saved by the OS
  const bool zmm_os = (xcr0 & 0xe6) == 0xe6;   // plus opmask and ZMM state
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.avx2 = avx && ymm_os && ((b >> 5) & 1);
    f.avx512f = zmm_os && ((b >> 16) & 1);
    f.avx512dq = zmm_os && ((b >> 17) & 1);
    f.avx512bw = zmm_os && ((b >> 30) & 1);
    f.avx512vl = zmm_os && ((b >> 31) & 1);
    f.avx512vnni = zmm_os && ((c >> 11) & 1);
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avx512bf16 = zmm_os && ((a >> 5) & 1);
  }
#if defined(QGML_EMULATED_AVX512)
  // Test builds only (CMake option QGML_EMULATED_AVX512): the AVX-512 files
  // run on SIMDe's emulation of the intrinsics, so the level is reported as
  // present; QGML_EMULATED_NO_VNNI=1 tests the path for CPUs without VNNI.
  f.avx512f = f.avx512dq = f.avx512bw = f.avx512vl = f.avx512bf16 = true;
  const char* no_vnni = std::getenv("QGML_EMULATED_NO_VNNI");
  f.avx512vnni = no_vnni == nullptr || *no_vnni == '\0' || std::strcmp(no_vnni, "0") == 0;
#endif
  if (!f.fma || !f.f16c) f.avx2 = false;  // our AVX2 level assumes FMA and F16C too
#elif defined(__aarch64__)
  f.neon = true;
#if defined(__linux__)
  // The NEON files are built with +dotprod, but SDOT must only run where the
  // CPU has it (Cortex-A72 and older lack it): ask the kernel.
  f.dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#elif defined(__APPLE__)
  f.dotprod = true;  // every Apple arm64 CPU has it
#endif
#endif
  return f;
}

std::atomic<int> g_forced_isa{-1};

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Neon: return "neon";
  }
  return "?";
}

bool parse_isa(const char* name, Isa* out) {
  for (Isa i : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon}) {
    if (std::strcmp(name, isa_name(i)) == 0) {
      *out = i;
      return true;
    }
  }
  return false;
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::Scalar: return true;
#if defined(QGML_HAVE_X86_KERNELS)
    case Isa::Avx2: return f.avx2;
    case Isa::Avx512: return f.avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
#endif
#if defined(QGML_HAVE_NEON_KERNELS)
    case Isa::Neon: return f.neon;
#endif
    default: return false;
  }
}

Isa best_isa() {
  for (Isa i : {Isa::Avx512, Isa::Avx2, Isa::Neon})
    if (isa_supported(i)) return i;
  return Isa::Scalar;
}

static Isa env_isa() {
  static const Isa isa = [] {
    const char* s = std::getenv("QGML_ISA");
    Isa want;
    if (s == nullptr || *s == '\0') return best_isa();
    if (!parse_isa(s, &want) || !isa_supported(want)) {
      // An unusable request must not silently run something else unnoticed.
      std::fprintf(stderr, "qgml: QGML_ISA=%s is not supported here; using %s\n", s, isa_name(best_isa()));
      return best_isa();
    }
    return want;
  }();
  return isa;
}

Isa active_isa() {
  const int forced = g_forced_isa.load(std::memory_order_relaxed);
  return forced >= 0 ? static_cast<Isa>(forced) : env_isa();
}

void set_max_isa(Isa isa) {
  if (!isa_supported(isa)) fail("instruction set %s is not supported on this CPU or build", isa_name(isa));
  g_forced_isa.store(static_cast<int>(isa), std::memory_order_relaxed);
}

const KernelTable& kernels_for(Isa isa) {
  if (!isa_supported(isa)) fail("instruction set %s is not supported on this CPU or build", isa_name(isa));
  static KernelTable tables[4];
  static std::once_flag once[4];
  const int i = static_cast<int>(isa);
  std::call_once(once[i], [&] {
    KernelTable& t = tables[i];
    t.isa = isa;
    register_scalar_kernels(t);
#if defined(QGML_HAVE_X86_KERNELS)
    if (isa == Isa::Avx2 || isa == Isa::Avx512) register_avx2_kernels(t);
    if (isa == Isa::Avx512) register_avx512_kernels(t);
#endif
#if defined(QGML_HAVE_NEON_KERNELS)
    if (isa == Isa::Neon) register_neon_kernels(t);
#endif
  });
  return tables[i];
}

const KernelTable& kernels() { return kernels_for(active_isa()); }

}  // namespace qgml
