// qgml/error.h — the one exception type qgml throws.
//
// Every failure inside the library (bad file, bad shape, bad argument) is a
// qgml::Error whose message names the file or tensor and the problem. The CLI
// prints it and exits non-zero; the C API turns it into an error code.
#pragma once
#include <stdexcept>
#include <string>

namespace qgml {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// printf-style message builder, so call sites stay one line.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

[[noreturn]] void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace qgml

// Internal invariant check: a violated QGML_ASSERT is a qgml bug, not bad input,
// but it still throws instead of aborting so that an embedding app survives.
#define QGML_ASSERT(cond)                                                           \
  do {                                                                              \
    if (!(cond)) ::qgml::fail("internal error: %s:%d: %s", __FILE__, __LINE__, #cond); \
  } while (0)
