// Unicode facts the tokenizers need: lenient UTF-8 decoding, major general
// categories, White_Space, and GPT-2's byte <-> printable-character mapping.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace qgml::tok {

// Major general categories; the order matches the generated table.
enum Category : uint8_t { kLetter, kMark, kNumber, kPunct, kSymbol, kSeparator, kOther };

// A byte that is not part of a valid UTF-8 sequence decodes to kInvalidBase + byte:
// outside Unicode, so no class matches it by accident, yet the byte survives a
// round trip through the byte-level tokenizers.
constexpr uint32_t kInvalidBase = 0x110000;

Category category(uint32_t cp);  // kOther for unassigned code points and invalid bytes
bool is_whitespace(uint32_t cp);  // the White_Space property (what \s means to the HF regexes)

// Decodes the unit starting at s[0] (n >= 1 bytes available). Strict UTF-8: overlong forms,
// surrogates and values above U+10FFFF are invalid and decode one byte at a time.
// Returns the unit's length in bytes.
size_t utf8_decode(const char* s, size_t n, uint32_t* cp);
// Length of the valid UTF-8 sequence starting at s[0], or 1 when it is invalid.
inline size_t utf8_unit_len(const char* s, size_t n) {
  uint32_t cp;
  return utf8_decode(s, n, &cp);
}
void utf8_append(std::string& out, uint32_t cp);

// GPT-2's byte-level alphabet: every byte has a printable stand-in character.
const std::string& byte_to_symbol(uint8_t b);  // UTF-8 of the stand-in
int symbol_to_byte(uint32_t cp);               // -1 when cp stands for no byte

}  // namespace qgml::tok
