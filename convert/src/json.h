// A small, strict JSON reader for the files checkpoints come with
// (config.json, tokenizer.json, safetensors headers, shard indexes).
//
// Strict RFC 8259: no comments, no trailing commas, no NaN. Errors are
// qgml::Error "SOURCE: byte N: problem", where SOURCE names the file (or
// "FILE header") so a user can find the bad spot. Nesting is limited so that
// a hostile file cannot exhaust the stack.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qgml::json {

constexpr int kMaxDepth = 256;

class Value {
 public:
  enum class Kind : uint8_t { Null, Bool, Number, String, Array, Object };

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::Null; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_number() const { return kind_ == Kind::Number; }
  // A number written without fraction or exponent that fits int64.
  bool is_int() const { return kind_ == Kind::Number && is_int_; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_array() const { return kind_ == Kind::Array; }
  bool is_object() const { return kind_ == Kind::Object; }

  // Accessors throw qgml::Error (without file context; callers add it) on a kind mismatch.
  bool as_bool() const;
  double as_double() const;
  int64_t as_int() const;  // also accepts integral doubles such as 1e3
  const std::string& as_string() const;
  const std::vector<Value>& items() const;                            // Array
  const std::vector<std::pair<std::string, Value>>& members() const;  // Object, in file order

  // Object member lookup (the last one wins for duplicate keys, like Python's
  // json); nullptr when absent or when this is not an object.
  const Value* find(std::string_view key) const;
  // Like find(), but a JSON null counts as absent.
  const Value* get(std::string_view key) const;

  static const char* kind_name(Kind k);

 private:
  friend class Parser;
  Kind kind_ = Kind::Null;
  bool bool_ = false;
  bool is_int_ = false;
  int64_t int_ = 0;
  double num_ = 0;
  std::string str_;
  std::vector<Value> items_;
  std::vector<std::pair<std::string, Value>> members_;
};

// Parses a whole document; trailing non-space text is an error.
Value parse(std::string_view text, const std::string& source);
// Reads and parses a file; errors name the path.
Value parse_file(const std::string& path);

}  // namespace qgml::json
