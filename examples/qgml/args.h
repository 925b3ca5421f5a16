// A small flag parser with llama.cpp's habits: short and long spellings
// (-m/--model), values as the next argument, positional arguments kept in
// order. Unknown flags and missing or malformed values throw qgml::Error.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qgml::cli {

class Args {
 public:
  // `value_flags`: flags that take a value; `bool_flags`: flags that do not.
  // Every spelling of a flag is listed ("-m", "--model").
  Args(const std::vector<std::string>& argv, const std::vector<std::vector<std::string>>& value_flags,
       const std::vector<std::vector<std::string>>& bool_flags);

  bool has(const std::string& flag) const;
  std::string get(const std::string& flag, const std::string& def = "") const;
  // Every value given for a repeatable flag, in order.
  std::vector<std::string> get_all(const std::string& flag) const;
  int64_t get_int(const std::string& flag, int64_t def) const;
  double get_float(const std::string& flag, double def) const;
  // Throws qgml::Error "missing required flag -m (--model)" when absent.
  std::string require(const std::string& flag) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  const std::vector<std::string>* spellings(const std::string& flag) const;
  std::vector<std::vector<std::string>> value_flags_, bool_flags_;
  std::vector<std::pair<std::string, std::string>> values_;  // canonical flag → value
  std::vector<std::string> positional_;
};

// llama.cpp's -ngl (--n-gpu-layers): layers whose weights stay on the GPU.
// Every model-running command declares these spellings as a value flag.
extern const std::vector<std::string> kGpuLayersFlag;
constexpr const char* kGpuLayersHelp =
    "  -ngl, --n-gpu-layers N  layers to keep on the GPU (CUDA builds; default 0: only large prompt\n"
    "                          products go to a GPU; without one everything runs on the CPU)\n";
// The -ngl value: 0 when absent; throws on a negative value.
int gpu_layers(const Args& args);

}  // namespace qgml::cli
