// One binary must run on any x86-64. SIMD code is compiled per instruction
// set in its own files; if an inline function or template from a shared
// header were instantiated in an AVX2/AVX-512 file with external linkage, the
// linker could keep that copy for everyone and the generic path would execute
// AVX instructions on a CPU without them. This test disassembles the qgml
// binary and checks that every function using ymm/zmm registers either has
// internal linkage (an ISA file's anonymous namespace) or says its ISA in its
// name, i.e. is only reached through run-time dispatch.
#include <cstdio>
#include <set>
#include <string>

#include "test_util.h"

TEST(IsaHygiene, WideRegistersOnlyInDispatchedFunctions) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "x86-64 only";
#else
  if (std::system("command -v objdump >/dev/null 2>&1") != 0) {
    std::fprintf(stderr, "\n*** SKIPPED: objdump not found (binutils) ***\n\n");
    GTEST_SKIP() << "objdump missing";
  }
  const std::string cmd = "objdump -d --no-show-raw-insn -C '" + qgml::test::cli_path() + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string fn, line;
  std::set<std::string> offenders;
  size_t functions = 0, wide = 0;
  char buf[8192];
  while (std::fgets(buf, sizeof buf, p) != nullptr) {
    line = buf;
    if (line.size() > 3 && line.back() == '\n' && line[line.size() - 2] == ':' && line.find(" <") != std::string::npos &&
        line[0] != ' ') {
      fn = line.substr(line.find(" <") + 2);
      fn = fn.substr(0, fn.rfind(">:"));
      ++functions;
      continue;
    }
    if (line.find("%ymm") == std::string::npos && line.find("%zmm") == std::string::npos) continue;
    ++wide;
    const bool internal = fn.find("(anonymous namespace)") != std::string::npos;
    const bool dispatched = fn.find("avx2") != std::string::npos || fn.find("avx512") != std::string::npos ||
                            fn.find("fma_peak") != std::string::npos;
    if (!internal && !dispatched) offenders.insert(fn);
  }
  const int status = ::pclose(p);
  ASSERT_EQ(status, 0) << cmd;
  ASSERT_GT(functions, 1000u) << "objdump output not understood";
  ASSERT_GT(wide, 0u) << "no SIMD code found at all: the check would be vacuous";
  std::string list;
  for (const std::string& o : offenders) list += "\n  " + o;
  EXPECT_TRUE(offenders.empty()) << "functions with external linkage use AVX registers outside run-time dispatch:"
                                 << list;
#endif
}
