// Recursive-descent JSON parser. Works on a string_view so a safetensors
// header can be parsed in place from a mapping.
#include "json.h"

#include <charconv>
#include <cmath>

#include "qgml/error.h"
#include "qgml/io.h"

namespace qgml::json {

const char* Value::kind_name(Kind k) {
  switch (k) {
    case Kind::Null: return "null";
    case Kind::Bool: return "boolean";
    case Kind::Number: return "number";
    case Kind::String: return "string";
    case Kind::Array: return "array";
    case Kind::Object: return "object";
  }
  return "?";
}

static void expect_kind(const Value& v, Value::Kind k) {
  if (v.kind() != k) fail("expected %s, found %s", Value::kind_name(k), Value::kind_name(v.kind()));
}

bool Value::as_bool() const {
  expect_kind(*this, Kind::Bool);
  return bool_;
}

double Value::as_double() const {
  expect_kind(*this, Kind::Number);
  return num_;
}

int64_t Value::as_int() const {
  expect_kind(*this, Kind::Number);
  if (is_int_) return int_;
  // 2^63 is exactly representable; anything at or beyond it does not fit.
  if (std::nearbyint(num_) != num_ || !(std::fabs(num_) < 9223372036854775808.0)) {
    fail("expected an integer, found %g", num_);
  }
  return static_cast<int64_t>(num_);
}

const std::string& Value::as_string() const {
  expect_kind(*this, Kind::String);
  return str_;
}

const std::vector<Value>& Value::items() const {
  expect_kind(*this, Kind::Array);
  return items_;
}

const std::vector<std::pair<std::string, Value>>& Value::members() const {
  expect_kind(*this, Kind::Object);
  return members_;
}

const Value* Value::find(std::string_view key) const {
  if (kind_ != Kind::Object) return nullptr;
  for (auto it = members_.rbegin(); it != members_.rend(); ++it) {
    if (it->first == key) return &it->second;
  }
  return nullptr;
}

const Value* Value::get(std::string_view key) const {
  const Value* v = find(key);
  return v && !v->is_null() ? v : nullptr;
}

class Parser {
 public:
  Parser(std::string_view text, const std::string& source) : s_(text), source_(source) {}

  Value parse_document() {
    Value v;
    skip_ws();
    parse_value(v, 0);
    skip_ws();
    if (pos_ != s_.size()) error("unexpected text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void error(const char* what) const {
    fail("%s: byte %zu: %s", source_.c_str(), pos_, what);
  }

  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }

  bool consume(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  void expect_literal(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) != lit) error("invalid literal");
    pos_ += lit.size();
  }

  void parse_value(Value& v, int depth) {
    if (depth > kMaxDepth) error("nesting deeper than 256 levels");
    if (pos_ >= s_.size()) error("unexpected end of input, expected a value");
    const char c = s_[pos_];
    switch (c) {
      case '{': parse_object(v, depth); return;
      case '[': parse_array(v, depth); return;
      case '"':
        v.kind_ = Value::Kind::String;
        parse_string(v.str_);
        return;
      case 't': expect_literal("true"); v.kind_ = Value::Kind::Bool; v.bool_ = true; return;
      case 'f': expect_literal("false"); v.kind_ = Value::Kind::Bool; v.bool_ = false; return;
      case 'n': expect_literal("null"); v.kind_ = Value::Kind::Null; return;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          parse_number(v);
          return;
        }
        error("unexpected character, expected a value");
    }
  }

  void parse_object(Value& v, int depth) {
    v.kind_ = Value::Kind::Object;
    ++pos_;  // '{'
    skip_ws();
    if (consume('}')) return;
    for (;;) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') error("expected a string key");
      std::string key;
      parse_string(key);
      skip_ws();
      if (!consume(':')) error("expected ':' after an object key");
      skip_ws();
      v.members_.emplace_back(std::move(key), Value());
      parse_value(v.members_.back().second, depth + 1);
      skip_ws();
      if (consume(',')) continue;
      if (consume('}')) return;
      error(pos_ >= s_.size() ? "unexpected end of input inside an object" : "expected ',' or '}' in an object");
    }
  }

  void parse_array(Value& v, int depth) {
    v.kind_ = Value::Kind::Array;
    ++pos_;  // '['
    skip_ws();
    if (consume(']')) return;
    for (;;) {
      skip_ws();
      v.items_.emplace_back();
      parse_value(v.items_.back(), depth + 1);
      skip_ws();
      if (consume(',')) continue;
      if (consume(']')) return;
      error(pos_ >= s_.size() ? "unexpected end of input inside an array" : "expected ',' or ']' in an array");
    }
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  uint32_t parse_hex4() {
    if (s_.size() - pos_ < 4) error("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
      else { --pos_; error("invalid hex digit in \\u escape"); }
    }
    return v;
  }

  void parse_string(std::string& out) {
    ++pos_;  // opening quote
    for (;;) {
      // Copy the run of plain characters in one go: vocabularies are big.
      const size_t start = pos_;
      while (pos_ < s_.size() && s_[pos_] != '"' && s_[pos_] != '\\' && static_cast<unsigned char>(s_[pos_]) >= 0x20) ++pos_;
      out.append(s_.data() + start, pos_ - start);
      if (pos_ >= s_.size()) error("unterminated string");
      const char c = s_[pos_];
      if (c == '"') {
        ++pos_;
        return;
      }
      if (c != '\\') error("control character inside a string");
      ++pos_;
      if (pos_ >= s_.size()) error("unterminated string");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) error("unpaired low surrogate in \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (s_.size() - pos_ < 2 || s_[pos_] != '\\' || s_[pos_ + 1] != 'u') error("high surrogate not followed by a low surrogate");
            pos_ += 2;
            const uint32_t lo = parse_hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) error("high surrogate not followed by a low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: --pos_; error("invalid escape sequence");
      }
    }
  }

  void parse_number(Value& v) {
    const size_t start = pos_;
    consume('-');
    if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') error("invalid number");
    if (s_[pos_] == '0') {
      ++pos_;
    } else {
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    }
    bool integral = true;
    if (consume('.')) {
      integral = false;
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') error("invalid number: digits expected after '.'");
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (!consume('+')) consume('-');
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') error("invalid number: digits expected in exponent");
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    }
    const char* first = s_.data() + start;
    const char* last = s_.data() + pos_;
    v.kind_ = Value::Kind::Number;
    if (integral) {
      int64_t i = 0;
      const auto r = std::from_chars(first, last, i);
      if (r.ec == std::errc() && r.ptr == last) {
        v.is_int_ = true;
        v.int_ = i;
        v.num_ = static_cast<double>(i);
        return;
      }
    }
    // from_chars for double is locale-independent, unlike strtod.
    double d = 0;
    const auto r = std::from_chars(first, last, d);
    if (r.ec == std::errc::result_out_of_range) {
      // Underflow (1e-400) reads as zero, as in Python; overflow is an error.
      const std::string_view text(first, static_cast<size_t>(last - first));
      const size_t e = text.find_first_of("eE");
      if (e != std::string_view::npos && e + 1 < text.size() && text[e + 1] == '-') {
        v.num_ = text[0] == '-' ? -0.0 : 0.0;
        return;
      }
      pos_ = start;
      error("number out of range");
    }
    if (r.ec != std::errc() || r.ptr != last) {
      pos_ = start;
      error("invalid number");
    }
    v.num_ = d;
  }

  std::string_view s_;
  const std::string& source_;
  size_t pos_ = 0;
};

Value parse(std::string_view text, const std::string& source) { return Parser(text, source).parse_document(); }

Value parse_file(const std::string& path) {
  const std::string text = read_file(path);
  return parse(text, path);
}

}  // namespace qgml::json
