// qgml bench: whole-model prompt/generation speed (bench_model.cpp), or with
// --kernels the quantized matrix kernels alone (bench_kernels.cpp).
#include <string>
#include <vector>

#include "bench.h"
#include "command.h"

namespace qgml::cli {
namespace {

int cmd_bench(const std::vector<std::string>& args) {
  for (const std::string& a : args)
    if (a == "--kernels") return run_kernel_bench(args);
  return run_model_bench(args);
}

}  // namespace

QGML_COMMAND(bench, "speed: -m MODEL for prompt/generation tokens/s, --kernels for the matrix kernels", cmd_bench);

}  // namespace qgml::cli
