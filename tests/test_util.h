// Helpers shared by the test suites: where the real data lives, loud skips,
// random tensors.
#pragma once
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <vector>

namespace qgml::test {

// ../shared beside the source tree, or $QGML_SHARED.
inline std::string shared_dir() {
  if (const char* s = std::getenv("QGML_SHARED")) return s;
  return std::string(QGML_SOURCE_DIR) + "/../shared";
}

inline std::string source_dir() { return QGML_SOURCE_DIR; }

// True under `make test-sanitize` (QGML_SANITIZER_QUICK=1), where everything
// runs 5-20x slower: a long model test then checks a shorter stretch against
// an independent reference of that stretch, so CI's sanitizer stage fits its
// time budget (.ci/run). Never a reason to skip a check outright.
inline bool sanitizer_quick() {
  const char* s = std::getenv("QGML_SANITIZER_QUICK");
  return s != nullptr && *s != '\0' && std::string(s) != "0";
}
inline std::string cli_path() { return QGML_CLI_PATH; }

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout (stderr goes to the test log)
};

// Runs `build/bin/qgml ARGS` through the shell; ARGS must be shell-quoted by the caller.
inline CliResult run_cli(const std::string& args) {
  CliResult r;
  FILE* p = ::popen((cli_path() + " " + args).c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline bool file_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

// Path of a file under ../shared/, or "" when absent (the caller skips).
inline std::string shared_file(const std::string& rel) {
  const std::string p = shared_dir() + "/" + rel;
  return file_exists(p) ? p : std::string();
}

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// A temporary directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/qgml_test_XXXXXX";
    const char* d = mkdtemp(tmpl);
    path_ = d ? d : "/tmp";
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace qgml::test

// Skips the test, loudly, when a file under ../shared is missing.
#define QGML_REQUIRE_SHARED(var, rel)                                                         \
  const std::string var = ::qgml::test::shared_file(rel);                                     \
  if (var.empty()) {                                                                          \
    std::fprintf(stderr, "\n*** SKIPPED: %s not found under %s (real data absent) ***\n\n", \
                 rel, ::qgml::test::shared_dir().c_str());                                    \
    GTEST_SKIP() << "shared data missing: " << rel;                                           \
  }
