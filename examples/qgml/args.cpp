#include "args.h"

#include <cerrno>
#include <cstdlib>

#include "qgml/error.h"

namespace qgml::cli {

Args::Args(const std::vector<std::string>& argv, const std::vector<std::vector<std::string>>& value_flags,
           const std::vector<std::vector<std::string>>& bool_flags)
    : value_flags_(value_flags), bool_flags_(bool_flags) {
  auto find = [](const std::vector<std::vector<std::string>>& set, const std::string& a) -> const std::string* {
    for (const auto& names : set)
      for (const auto& n : names)
        if (n == a) return &names.front();
    return nullptr;
  };
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    std::string name = a, inline_value;
    bool has_inline = false;
    if (a.rfind("--", 0) == 0 && a.find('=') != std::string::npos) {  // --flag=value
      name = a.substr(0, a.find('='));
      inline_value = a.substr(a.find('=') + 1);
      has_inline = true;
    }
    if (const std::string* canon = find(value_flags_, name)) {
      if (has_inline) {
        values_.emplace_back(*canon, inline_value);
      } else {
        if (i + 1 >= argv.size()) fail("flag %s needs a value", a.c_str());
        values_.emplace_back(*canon, argv[++i]);
      }
    } else if (const std::string* canon = find(bool_flags_, name)) {
      if (has_inline) fail("flag %s takes no value", name.c_str());
      values_.emplace_back(*canon, "1");
    } else if (a.size() > 1 && a[0] == '-' && !(a[1] >= '0' && a[1] <= '9')) {
      fail("unknown flag %s (see --help)", a.c_str());
    } else {
      positional_.push_back(a);
    }
  }
}

const std::vector<std::string>* Args::spellings(const std::string& flag) const {
  for (const auto* set : {&value_flags_, &bool_flags_})
    for (const auto& names : *set)
      for (const auto& n : names)
        if (n == flag) return &names;
  return nullptr;
}

bool Args::has(const std::string& flag) const {
  const auto* names = spellings(flag);
  if (names == nullptr) fail("internal error: flag %s was not declared", flag.c_str());
  for (const auto& kv : values_)
    if (kv.first == names->front()) return true;
  return false;
}

std::string Args::get(const std::string& flag, const std::string& def) const {
  const auto* names = spellings(flag);
  if (names == nullptr) fail("internal error: flag %s was not declared", flag.c_str());
  std::string v = def;
  for (const auto& kv : values_)
    if (kv.first == names->front()) v = kv.second;  // the last occurrence wins
  return v;
}

std::vector<std::string> Args::get_all(const std::string& flag) const {
  const auto* names = spellings(flag);
  if (names == nullptr) fail("internal error: flag %s was not declared", flag.c_str());
  std::vector<std::string> out;
  for (const auto& kv : values_)
    if (kv.first == names->front()) out.push_back(kv.second);
  return out;
}

int64_t Args::get_int(const std::string& flag, int64_t def) const {
  if (!has(flag)) return def;
  const std::string s = get(flag);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno != 0) fail("flag %s expects an integer, got '%s'", flag.c_str(), s.c_str());
  return v;
}

double Args::get_float(const std::string& flag, double def) const {
  if (!has(flag)) return def;
  const std::string s = get(flag);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || errno != 0) fail("flag %s expects a number, got '%s'", flag.c_str(), s.c_str());
  return v;
}

const std::vector<std::string> kGpuLayersFlag = {"-ngl", "--n-gpu-layers", "--gpu-layers"};

int gpu_layers(const Args& args) {
  const int64_t n = args.get_int("-ngl", 0);
  if (n < 0 || n > 1000000) fail("-ngl expects a layer count >= 0, got %lld", static_cast<long long>(n));
  return static_cast<int>(n);
}

std::string Args::require(const std::string& flag) const {
  if (!has(flag)) {
    const auto* names = spellings(flag);
    std::string all;
    for (const auto& n : *names) all += (all.empty() ? "" : " / ") + n;
    fail("missing required flag %s", all.c_str());
  }
  return get(flag);
}

}  // namespace qgml::cli
