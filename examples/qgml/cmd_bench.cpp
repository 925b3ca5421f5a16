// qgml bench: `--kernels` measures the quantized kernels alone
// (bench_kernels.cpp); whole-model benchmarks come later.
#include <cstdio>
#include <string>
#include <vector>

#include "command.h"

namespace qgml::cli {

int run_kernel_bench(const std::vector<std::string>& args);  // bench_kernels.cpp

namespace {

int cmd_bench(const std::vector<std::string>& args) {
  for (const std::string& a : args)
    if (a == "--kernels") return run_kernel_bench(args);
  std::fprintf(stderr, "qgml bench: model benchmark not available yet; use 'qgml bench --kernels' (--help for options)\n");
  return 1;
}

}  // namespace

QGML_COMMAND(bench, "benchmarks: --kernels for the quantized matrix kernels", cmd_bench);

}  // namespace qgml::cli
