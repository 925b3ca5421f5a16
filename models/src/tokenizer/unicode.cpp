#include "tokenizer/unicode.h"

#include <array>
#include <vector>

namespace qgml::tok {
namespace {

struct CategoryRun {
  uint32_t first;
  uint8_t cat;
};
#include "tokenizer/unicode_tables.inc"

// The BMP is looked up in a flat table: pre-tokenizers ask for a category per
// code point, and a binary search over 2,000 runs would dominate encoding.
const std::vector<uint8_t>& bmp_table() {
  static const std::vector<uint8_t> table = [] {
    std::vector<uint8_t> t(0x10000);
    for (uint32_t i = 0; i < kCategoryRunCount; ++i) {
      const uint32_t lo = kCategoryRuns[i].first;
      if (lo >= 0x10000) break;
      const uint32_t hi = i + 1 < kCategoryRunCount ? kCategoryRuns[i + 1].first : 0x110000;
      for (uint32_t cp = lo; cp < hi && cp < 0x10000; ++cp) t[cp] = kCategoryRuns[i].cat;
    }
    return t;
  }();
  return table;
}

struct ByteMap {
  std::array<std::string, 256> to_symbol;
  std::array<int16_t, 0x144> to_byte;  // stand-ins all lie below U+0144
};

// GPT-2 keeps the printable Latin-1 bytes as themselves and moves the others
// (controls, space, soft hyphen...) to U+0100 onwards, in byte order.
const ByteMap& byte_map() {
  static const ByteMap m = [] {
    ByteMap bm;
    bm.to_byte.fill(-1);
    uint32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const uint32_t cp = printable ? uint32_t(b) : next++;
      utf8_append(bm.to_symbol[b], cp);
      bm.to_byte[cp] = int16_t(b);
    }
    return bm;
  }();
  return m;
}

}  // namespace

Category category(uint32_t cp) {
  if (cp < 0x10000) return Category(bmp_table()[cp]);
  if (cp >= 0x110000) return kOther;
  uint32_t lo = 0, hi = kCategoryRunCount;  // last run with first <= cp
  while (hi - lo > 1) {
    const uint32_t mid = (lo + hi) / 2;
    if (kCategoryRuns[mid].first <= cp) lo = mid; else hi = mid;
  }
  return Category(kCategoryRuns[lo].cat);
}

bool is_whitespace(uint32_t cp) {
  if (cp < 0x80) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

size_t utf8_decode(const char* s, size_t n, uint32_t* cp) {
  const auto* u = reinterpret_cast<const uint8_t*>(s);
  const uint8_t b0 = u[0];
  *cp = kInvalidBase + b0;
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  size_t len;
  uint32_t v, min;
  if ((b0 & 0xE0) == 0xC0) { len = 2; v = b0 & 0x1F; min = 0x80; }
  else if ((b0 & 0xF0) == 0xE0) { len = 3; v = b0 & 0x0F; min = 0x800; }
  else if ((b0 & 0xF8) == 0xF0) { len = 4; v = b0 & 0x07; min = 0x10000; }
  else return 1;
  if (n < len) return 1;
  for (size_t i = 1; i < len; ++i) {
    if ((u[i] & 0xC0) != 0x80) return 1;
    v = (v << 6) | (u[i] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 1;
  *cp = v;
  return len;
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp >= kInvalidBase && cp < kInvalidBase + 256) {
    out += char(cp - kInvalidBase);
  } else if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

const std::string& byte_to_symbol(uint8_t b) { return byte_map().to_symbol[b]; }

int symbol_to_byte(uint32_t cp) {
  const auto& m = byte_map();
  return cp < m.to_byte.size() ? m.to_byte[cp] : -1;
}

}  // namespace qgml::tok
