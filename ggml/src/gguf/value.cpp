// GGUF metadata values: factories, numeric accessors and a printable form.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include "qgml/error.h"
#include "qgml/gguf.h"

namespace qgml::gguf {

const char* value_type_name(ValueType t) {
  switch (t) {
    case ValueType::U8: return "u8";
    case ValueType::I8: return "i8";
    case ValueType::U16: return "u16";
    case ValueType::I16: return "i16";
    case ValueType::U32: return "u32";
    case ValueType::I32: return "i32";
    case ValueType::F32: return "f32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::U64: return "u64";
    case ValueType::I64: return "i64";
    case ValueType::F64: return "f64";
  }
  return "unknown";
}

namespace {

Value make_unsigned(ValueType t, uint64_t v) {
  Value r;
  r.type = t;
  r.num.u = v;
  return r;
}

Value make_signed(ValueType t, int64_t v) {
  Value r;
  r.type = t;
  r.num.i = v;
  return r;
}

Value make_float(ValueType t, double v) {
  Value r;
  r.type = t;
  r.num.f = v;
  return r;
}

bool is_unsigned_type(ValueType t) {
  return t == ValueType::U8 || t == ValueType::U16 || t == ValueType::U32 || t == ValueType::U64;
}

bool is_signed_type(ValueType t) {
  return t == ValueType::I8 || t == ValueType::I16 || t == ValueType::I32 || t == ValueType::I64;
}

// The shortest decimal that reads back as the same number, so that metadata
// such as 1e-5 prints as "1e-05" rather than "9.99999975e-06".
template <typename T>
std::string shortest(T v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  // Whole numbers print plainly ("10000", not "1e+04": rope.freq_base reads better).
  if (std::trunc(v) == v && std::fabs(v) < static_cast<T>(1e15)) {
    std::snprintf(buf, sizeof(buf), "%.0f", static_cast<double>(v));
    return buf;
  }
  for (int prec = 1; prec <= std::numeric_limits<T>::max_digits10; ++prec) {
    std::snprintf(buf, sizeof(buf), "%.*g", prec, static_cast<double>(v));
    if (static_cast<T>(std::strtod(buf, nullptr)) == v) break;
  }
  return buf;
}

void append_quoted(std::string& out, const std::string& s) {
  out += '"';
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += format("\\x%02x", c);
        } else {
          out += ch;  // UTF-8 bytes pass through
        }
    }
  }
  out += '"';
}

}  // namespace

Value Value::u8(uint8_t v) { return make_unsigned(ValueType::U8, v); }
Value Value::i8(int8_t v) { return make_signed(ValueType::I8, v); }
Value Value::u16(uint16_t v) { return make_unsigned(ValueType::U16, v); }
Value Value::i16(int16_t v) { return make_signed(ValueType::I16, v); }
Value Value::u32(uint32_t v) { return make_unsigned(ValueType::U32, v); }
Value Value::i32(int32_t v) { return make_signed(ValueType::I32, v); }
Value Value::u64(uint64_t v) { return make_unsigned(ValueType::U64, v); }
Value Value::i64(int64_t v) { return make_signed(ValueType::I64, v); }
Value Value::f32(float v) { return make_float(ValueType::F32, v); }
Value Value::f64(double v) { return make_float(ValueType::F64, v); }
Value Value::boolean(bool v) { return make_unsigned(ValueType::BOOL, v ? 1 : 0); }

Value Value::string(std::string v) {
  Value r;
  r.type = ValueType::STRING;
  r.str = std::move(v);
  return r;
}

Value Value::array(ValueType elem, std::vector<Value> items) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].type != elem) {
      fail("gguf: array of %s: item %zu is a %s", value_type_name(elem), i, value_type_name(items[i].type));
    }
  }
  Value r;
  r.type = ValueType::ARRAY;
  r.elem_type = elem;
  r.items = std::move(items);
  return r;
}

Value Value::string_array(const std::vector<std::string>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (const auto& s : v) items.push_back(string(s));
  return array(ValueType::STRING, std::move(items));
}

Value Value::f32_array(const std::vector<float>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (const float x : v) items.push_back(f32(x));
  return array(ValueType::F32, std::move(items));
}

Value Value::i32_array(const std::vector<int32_t>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (const int32_t x : v) items.push_back(i32(x));
  return array(ValueType::I32, std::move(items));
}

bool Value::is_integer() const { return is_unsigned_type(type) || is_signed_type(type); }

bool Value::is_float() const { return type == ValueType::F32 || type == ValueType::F64; }

int64_t Value::as_int() const {
  if (is_signed_type(type)) return num.i;
  // Booleans count as 0/1: llama.cpp stores flags such as add_bos_token as bool.
  if (is_unsigned_type(type) || type == ValueType::BOOL) {
    if (num.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      fail("gguf: %s value %llu does not fit in int64", value_type_name(type),
           static_cast<unsigned long long>(num.u));
    }
    return static_cast<int64_t>(num.u);
  }
  if (is_float()) {
    // Only whole numbers convert: silently truncating 0.5 would hide a wrong key.
    const double f = num.f;
    if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0) || std::trunc(f) != f) {
      fail("gguf: %s value %s is not an integer", value_type_name(type), shortest(f).c_str());
    }
    return static_cast<int64_t>(f);
  }
  fail("gguf: expected a number, found a %s", value_type_name(type));
}

double Value::as_double() const {
  if (is_float()) return num.f;
  if (is_signed_type(type)) return static_cast<double>(num.i);
  if (is_unsigned_type(type) || type == ValueType::BOOL) return static_cast<double>(num.u);
  fail("gguf: expected a number, found a %s", value_type_name(type));
}

std::string Value::to_string(size_t max_items) const {
  switch (type) {
    case ValueType::U8:
    case ValueType::U16:
    case ValueType::U32:
    case ValueType::U64:
      return format("%llu", static_cast<unsigned long long>(num.u));
    case ValueType::I8:
    case ValueType::I16:
    case ValueType::I32:
    case ValueType::I64:
      return format("%lld", static_cast<long long>(num.i));
    case ValueType::F32:
      return shortest(static_cast<float>(num.f));
    case ValueType::F64:
      return shortest(num.f);
    case ValueType::BOOL:
      return num.u ? "true" : "false";
    case ValueType::STRING: {
      std::string out;
      append_quoted(out, str);
      return out;
    }
    case ValueType::ARRAY: {
      std::string out = "[";
      const size_t shown = items.size() < max_items ? items.size() : max_items;
      for (size_t i = 0; i < shown; ++i) {
        if (i > 0) out += ", ";
        out += items[i].to_string(max_items);
      }
      if (shown < items.size()) out += format("%s... (%zu items)", shown > 0 ? ", " : "", items.size());
      out += "]";
      return out;
    }
  }
  return format("<value type %u>", static_cast<unsigned>(type));
}

}  // namespace qgml::gguf
