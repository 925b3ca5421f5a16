// qgml inspect FILE: what a GGUF file holds — header, metadata, tensor table.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "args.h"
#include "command.h"
#include "qgml/error.h"
#include "qgml/gguf.h"

namespace qgml::cli {
namespace {

const char* kHelp =
    "usage: qgml inspect FILE [options]\n"
    "\n"
    "Prints the GGUF version, alignment, metadata and a table of tensors.\n"
    "\n"
    "options:\n"
    "  -n, --items N     array items shown per metadata value (default 8)\n"
    "  --full            print long strings in full (default: cut at 160 bytes)\n"
    "  --no-tensors      omit the tensor table (totals are still printed)\n";

std::string shape_string(const gguf::TensorInfo& t) {
  std::string s = "[";
  for (int j = 0; j < t.n_dims; ++j) s += format(j ? ", %lld" : "%lld", static_cast<long long>(t.ne[j]));
  return s + "]";
}

std::string type_string(const gguf::Value& v) {
  if (v.type != gguf::ValueType::ARRAY) return gguf::value_type_name(v.type);
  return format("%s[%zu]", gguf::value_type_name(v.elem_type), v.items.size());
}

int cmd_inspect(const std::vector<std::string>& argv) {
  Args args(argv, {{"-n", "--items"}}, {{"-h", "--help"}, {"--full"}, {"--no-tensors"}});
  if (args.has("--help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (args.positional().size() != 1) fail("expected exactly one FILE (see --help)");
  const int64_t items = args.get_int("--items", 8);
  if (items < 0) fail("--items must be >= 0");
  const bool full = args.has("--full");

  const gguf::Reader r(args.positional()[0]);
  std::printf("file:        %s\n", r.path().c_str());
  std::printf("size:        %zu bytes\n", r.file_size());
  std::printf("version:     %u\n", r.version());
  std::printf("alignment:   %zu\n", r.alignment());
  std::printf("data offset: %zu\n", r.data_offset());

  std::printf("\nmetadata: %zu keys\n", r.metadata().size());
  size_t key_width = 0, type_width = 0;
  std::vector<std::string> types;
  for (const auto& kv : r.metadata()) {
    key_width = std::max(key_width, kv.key.size());
    types.push_back(type_string(kv.value));
    type_width = std::max(type_width, types.back().size());
  }
  for (size_t i = 0; i < r.metadata().size(); ++i) {
    const auto& kv = r.metadata()[i];
    std::string v = kv.value.to_string(static_cast<size_t>(items));
    if (!full && v.size() > 160) v = v.substr(0, 160) + format("... (%zu bytes)", v.size());
    std::printf("  %-*s  %-*s  %s\n", static_cast<int>(key_width), kv.key.c_str(), static_cast<int>(type_width),
                types[i].c_str(), v.c_str());
  }

  const auto& tensors = r.tensors();
  std::printf("\ntensors: %zu\n", tensors.size());
  size_t name_width = 4;
  for (const auto& t : tensors) name_width = std::max(name_width, t.name.size());
  if (!args.has("--no-tensors") && !tensors.empty()) {
    std::printf("  %5s  %-*s  %-6s  %-24s  %12s  %12s\n", "#", static_cast<int>(name_width), "name", "type", "shape",
                "offset", "bytes");
    for (size_t i = 0; i < tensors.size(); ++i) {
      const auto& t = tensors[i];
      std::printf("  %5zu  %-*s  %-6s  %-24s  %12llu  %12zu\n", i, static_cast<int>(name_width), t.name.c_str(),
                  type_name(t.type), shape_string(t).c_str(), static_cast<unsigned long long>(t.offset), t.nbytes);
    }
  }

  // Totals per type: the quickest check of what a quantizer actually chose.
  std::map<std::string, std::pair<size_t, unsigned long long>> by_type;
  unsigned long long total_bytes = 0, total_elements = 0;
  for (const auto& t : tensors) {
    auto& e = by_type[type_name(t.type)];
    e.first += 1;
    e.second += t.nbytes;
    total_bytes += t.nbytes;
    unsigned long long n = 1;
    for (int j = 0; j < t.n_dims; ++j) n *= static_cast<unsigned long long>(t.ne[j]);
    total_elements += n;
  }
  std::printf("\ntotal: %zu tensors, %llu elements, %llu bytes of tensor data\n", tensors.size(), total_elements,
              total_bytes);
  for (const auto& e : by_type) {
    std::printf("  %-6s %5zu tensors  %12llu bytes\n", e.first.c_str(), e.second.first, e.second.second);
  }
  return 0;
}

}  // namespace

QGML_COMMAND(inspect, "print a GGUF file's header, metadata and tensor table", cmd_inspect);

}  // namespace qgml::cli
