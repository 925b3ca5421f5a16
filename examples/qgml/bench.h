// The two halves of `qgml bench`: whole models, and the kernels alone.
#pragma once
#include <string>
#include <vector>

namespace qgml::cli {

int run_model_bench(const std::vector<std::string>& args);   // bench_model.cpp
int run_kernel_bench(const std::vector<std::string>& args);  // bench_kernels.cpp

}  // namespace qgml::cli
