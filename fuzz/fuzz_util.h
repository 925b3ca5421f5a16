// Shared pieces of the libFuzzer targets.
//
// The parsers take paths (they map files), so each input is written to an
// in-memory file (memfd) and opened as /proc/self/fd/N — no disk I/O, no API
// added for fuzzing. Directory-based inputs (Hugging Face model folders) use a
// private temporary directory made once per process.
//
// Contract of every target: a malformed input may only end in qgml::Error.
// Anything else — a crash, a sanitizer report, another exception type
// (std::bad_alloc from a size taken on trust, std::out_of_range...), an
// allocation past libFuzzer's -malloc_limit_mb, a hang — is a finding.
#pragma once
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace qgml::fuzz {

[[noreturn]] inline void die(const char* what) {
  std::perror(what);
  std::abort();
}

inline void write_all(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    const ssize_t w = ::write(fd, data, size);
    if (w <= 0) die("fuzz: write");
    data += w;
    size -= static_cast<size_t>(w);
  }
}

// One in-memory file, rewritten for every input.
class MemFile {
 public:
  explicit MemFile(const char* name) {
    fd_ = ::memfd_create(name, MFD_CLOEXEC);
    if (fd_ < 0) die("fuzz: memfd_create");
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }

  // Replaces the contents; returns the path to open.
  const std::string& set(const uint8_t* data, size_t size) {
    if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0) die("fuzz: truncate");
    write_all(fd_, data, size);
    return path_;
  }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// A temporary directory for the process's lifetime.
class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/qgml_fuzz_XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) die("fuzz: mkdtemp");
    path_ = tmpl;
  }
  ~ScratchDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  // Writes (replacing) `name` in the directory.
  void put(const std::string& name, const void* data, size_t size) const {
    const std::string p = file(name);
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) die("fuzz: open");
    write_all(fd, static_cast<const uint8_t*>(data), size);
    ::close(fd);
  }
  // Symlinks `name` to an existing file (fixed inputs shared by every run).
  void link(const std::string& name, const std::string& target) const {
    ::unlink(file(name).c_str());
    if (::symlink(target.c_str(), file(name).c_str()) != 0) die("fuzz: symlink");
  }

 private:
  std::string path_;
};

inline std::string source_file(const std::string& rel) { return std::string(QGML_SOURCE_DIR) + "/" + rel; }

// Keeps reads of handed-out data from being optimised away, so ASan checks them.
inline volatile uint8_t g_sink = 0;
inline void touch(const void* p, size_t n) {
  if (n == 0) return;
  const uint8_t* b = static_cast<const uint8_t*>(p);
  g_sink = static_cast<uint8_t>(g_sink ^ b[0] ^ b[n / 2] ^ b[n - 1]);
}

}  // namespace qgml::fuzz
