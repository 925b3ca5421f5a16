// Corrupt-file campaigns for the tests/test_corrupt_*.cpp suites: a real file
// truncated at many offsets and with seeded random byte changes, each variant
// handed to a loader. A variant may load (a change that landed in tensor data)
// or fail with qgml::Error; anything else — a crash, a sanitizer report,
// another exception type, a hang, unbounded memory — fails the test.
//
// Each campaign runs in a forked child: under a RLIMIT_AS cap (not under ASan,
// whose shadow mappings need the address space; there ASan itself aborts on a
// giant allocation), with an alarm against hangs, and with its peak RSS
// checked by the parent, so "a header claiming 2^60 of something" cannot
// allocate it unnoticed.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include "qgml/error.h"
#include "qgml/io.h"
#include "test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define QGML_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QGML_TEST_ASAN 1
#endif
#endif

namespace qgml::test {

struct CampaignOptions {
  size_t dense = 512;       // every truncation offset below this (header region)...
  int sparse = 64;          // ...and this many more, seeded, across the rest
  int flips = 120;          // variants with 1-8 bytes changed
  size_t flip_region = 0;   // half of the flips land below this offset (0: the whole file)
  size_t must_fail_below = 0;  // a truncation shorter than this must not load (0: none must)
  uint32_t seed = 1;
  int timeout_s = 300;
  size_t as_limit = size_t{3} << 30;     // RLIMIT_AS of the child (non-ASan builds)
  long max_rss_mb = 1024;                // peak RSS allowed for the child (doubled under ASan)
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot write " + path);
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (w <= 0) break;
    off += static_cast<size_t>(w);
  }
  ::close(fd);
}

inline std::vector<size_t> truncation_offsets(size_t size, const CampaignOptions& o) {
  std::set<size_t> s;
  for (size_t i = 0; i < std::min(o.dense, size); ++i) s.insert(i);
  std::mt19937_64 rng(o.seed * 7919u + 1);
  if (size > 0)
    for (int i = 0; i < o.sparse; ++i) s.insert(static_cast<size_t>(rng() % size));
  if (size > 0) s.insert(size - 1);
  return {s.begin(), s.end()};
}

// Runs `body` in a child process (see the file comment). Returns "" when it
// exited cleanly, otherwise what went wrong plus everything the child logged.
// `body` returns the number of problems it logged.
inline std::string run_isolated(const std::function<int(FILE* log)>& body, const CampaignOptions& o) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(fds[0]);
    FILE* log = ::fdopen(fds[1], "w");
#ifndef QGML_TEST_ASAN
    struct rlimit rl = {o.as_limit, o.as_limit};
    ::setrlimit(RLIMIT_AS, &rl);
#endif
    ::alarm(static_cast<unsigned>(o.timeout_s));
    int rc = 0;
    try {
      rc = body(log) != 0 ? 1 : 0;
    } catch (const std::exception& e) {
      std::fprintf(log, "unexpected exception escaped the campaign: %s\n", e.what());
      rc = 3;
    }
    std::fflush(log);
    ::_exit(rc);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  struct rusage ru {};
  ::wait4(pid, &status, 0, &ru);
  std::string problem;
  if (WIFSIGNALED(status)) {
    problem = std::string("child killed by signal ") + strsignal(WTERMSIG(status)) +
              (WTERMSIG(status) == SIGALRM ? " (hang: timeout)" : "");
  } else if (WEXITSTATUS(status) != 0) {
    problem = "child exit status " + std::to_string(WEXITSTATUS(status));
  }
#ifdef QGML_TEST_ASAN
  const long rss_limit_kb = o.max_rss_mb * 2 * 1024;
#else
  const long rss_limit_kb = o.max_rss_mb * 1024;
#endif
  if (ru.ru_maxrss > rss_limit_kb) {
    problem += (problem.empty() ? "" : "; ") + std::string("peak RSS ") + std::to_string(ru.ru_maxrss / 1024) +
               " MiB exceeds " + std::to_string(rss_limit_kb / 1024) + " MiB";
  }
  if (problem.empty() && text.empty()) return "";
  return problem + "\n" + text.substr(0, 8000);
}

// Truncations and byte flips of `original`, written to `target` and loaded
// with `load` (which reads `target`), in an isolated child. Returns "" when
// every variant loaded or failed with qgml::Error as allowed.
inline std::string corrupt_campaign(const std::string& original, const std::string& target,
                                    const std::function<void()>& load, const CampaignOptions& o) {
  auto body = [&](FILE* log) {
    int loaded = 0, failed = 0, problems = 0;
    auto attempt = [&](const std::string& bytes, const std::string& what, bool must_fail) {
      write_bytes(target, bytes);
      try {
        load();
        ++loaded;
        if (must_fail) {
          ++problems;
          std::fprintf(log, "%s: loaded, but should have failed\n", what.c_str());
        }
      } catch (const Error& e) {
        ++failed;
        if (std::strlen(e.what()) == 0) {
          ++problems;
          std::fprintf(log, "%s: empty error message\n", what.c_str());
        }
      } catch (const std::exception& e) {
        ++problems;
        std::fprintf(log, "%s: %s instead of qgml::Error: %s\n", what.c_str(), typeid(e).name(), e.what());
      }
    };
    for (size_t off : truncation_offsets(original.size(), o)) {
      attempt(original.substr(0, off), "truncated at " + std::to_string(off), off < o.must_fail_below);
    }
    std::mt19937_64 rng(o.seed);
    const size_t region = o.flip_region != 0 ? std::min(o.flip_region, original.size()) : original.size();
    for (int i = 0; i < o.flips && !original.empty(); ++i) {
      std::string bytes = original;
      const int k = 1 + static_cast<int>(rng() % 8);
      std::string what = "flip";
      for (int j = 0; j < k; ++j) {
        const size_t limit = (i % 2 == 0) ? region : bytes.size();
        const size_t at = static_cast<size_t>(rng() % limit);
        // Mostly random bytes; sometimes the values that break sizes the most.
        static const uint8_t kSpecial[] = {0x00, 0xff, 0x7f, 0x80, 0x01};
        const uint8_t v = (rng() % 4 == 0) ? kSpecial[rng() % 5] : static_cast<uint8_t>(rng());
        bytes[at] = static_cast<char>(v);
        what += " @" + std::to_string(at);
      }
      attempt(bytes, what, false);
    }
    write_bytes(target, original);  // leave the fixture as it was
    std::fprintf(stderr, "campaign: %d variants loaded, %d failed with qgml::Error, %d problems\n", loaded, failed,
                 problems);
    return problems;
  };
  return run_isolated(body, o);
}

}  // namespace qgml::test
