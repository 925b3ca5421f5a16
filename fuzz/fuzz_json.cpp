// The JSON reader behind config.json, tokenizer.json, shard indexes and
// safetensors headers: parse, then walk the whole tree through the accessors.
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "json.h"
#include "qgml/error.h"

using namespace qgml;

namespace {

size_t walk(const json::Value& v, int depth) {
  if (depth > json::kMaxDepth + 1) __builtin_trap();  // the depth limit did not hold
  size_t n = 1;
  switch (v.kind()) {
    case json::Value::Kind::Array:
      for (const json::Value& x : v.items()) n += walk(x, depth + 1);
      break;
    case json::Value::Kind::Object:
      for (const auto& [k, x] : v.members()) {
        if (v.find(k) == nullptr) __builtin_trap();  // every key must be findable
        n += walk(x, depth + 1);
      }
      break;
    case json::Value::Kind::Number:
      (void)v.as_double();
      try {
        (void)v.as_int();
      } catch (const Error&) {
      }
      break;
    case json::Value::Kind::String: n += v.as_string().size(); break;
    case json::Value::Kind::Bool: (void)v.as_bool(); break;
    case json::Value::Kind::Null: break;
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const json::Value v = json::parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    (void)walk(v, 0);
  } catch (const Error&) {
  }
  return 0;
}
