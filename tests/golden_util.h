// Helpers shared by the suites that compare against committed PyTorch goldens
// (golden.json files and the synthetic checkpoints under tests/data/arch/).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "json.h"
#include "test_util.h"

namespace qgml::test {

// A JSON array of token ids.
inline std::vector<int32_t> ids_of(const json::Value& arr) {
  std::vector<int32_t> out;
  for (const json::Value& v : arr.items()) out.push_back(static_cast<int32_t>(v.as_int()));
  return out;
}

// tests/data/arch/<name>: a tiny synthetic checkpoint and its goldens.
inline std::string arch_variant_dir(const std::string& name) { return source_dir() + "/tests/data/arch/" + name; }

}  // namespace qgml::test
