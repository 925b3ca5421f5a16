// Files: read-only mappings (MappedFile), outputs that appear atomically
// (AtomicFile) and whole-file reads (read_file). POSIX only.
#include "qgml/io.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>
#include <random>
#include <vector>

#include "qgml/error.h"

namespace qgml {
namespace {

std::string errno_text(int e) { return std::strerror(e); }

constexpr size_t kReadAlignment = 4096;  // a page, as mmap would give

int open_retry(const char* path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::open(path, flags, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Directory part of `path` ("." when it has none), for fsyncing the rename.
std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// A name nobody else is using: pid for processes, a counter for threads of one
// process, and randomness for a pid reused after a crash left a stale file.
std::string temp_name(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  const uint64_t r = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
                     static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return format("%s.tmp.%ld.%llx%llx", path.c_str(), static_cast<long>(::getpid()),
                static_cast<unsigned long long>(counter.fetch_add(1)), static_cast<unsigned long long>(r));
}

// The pid in a temporary file's name "<base>.tmp.<pid>.<hex>" (temp_name's
// format), or 0 when `name` is anything else: only names this code could have
// made are ever considered for removal.
long temp_owner(const char* name, const std::string& base) {
  const std::string prefix = base + ".tmp.";
  if (std::strncmp(name, prefix.c_str(), prefix.size()) != 0) return 0;
  const char* p = name + prefix.size();
  long pid = 0;
  const char* digits = p;
  while (*p >= '0' && *p <= '9') {
    pid = pid * 10 + (*p++ - '0');
    if (pid > 0x7fffffffL) return 0;  // no such pid; also keeps the arithmetic in range
  }
  if (p == digits || *digits == '0' || *p++ != '.' || *p == '\0') return 0;
  for (; *p != '\0'; ++p)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
  return pid;
}

}  // namespace

void remove_stale_temp_files(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty()) return;
  const std::string dir = parent_dir(path);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;  // the writer's own open reports a missing directory
  std::vector<std::string> stale;
  while (const dirent* e = ::readdir(d)) {
    const long pid = temp_owner(e->d_name, base);
    // kill(pid, 0) sends nothing; ESRCH means no such process. EPERM (another
    // user's live process) and success (a live writer, this process, or a
    // reused pid) keep the file: a live writer's file is never taken.
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(e->d_name);
  }
  ::closedir(d);
  for (const std::string& name : stale) {
    const std::string full = dir + "/" + name;
    struct stat st;
    // Only regular files: a directory or a device under that name is not ours.
    if (::lstat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ::unlink(full.c_str());
  }
}

// ---------------------------------------------------------------------------
// MappedFile

MappedFile::MappedFile(const std::string& path, bool use_mmap) : path_(path), mapped_(use_mmap) {
  const int fd = open_retry(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("%s: cannot open: %s", path.c_str(), errno_text(errno).c_str());
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    fail("%s: cannot stat: %s", path.c_str(), errno_text(e).c_str());
  }
  // Mapping a directory or a pipe either fails obscurely or maps nothing useful.
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("%s: not a regular file", path.c_str());
  }
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) > SIZE_MAX) {
    ::close(fd);
    fail("%s: file size %lld cannot be mapped", path.c_str(), static_cast<long long>(st.st_size));
  }
  size_ = static_cast<size_t>(st.st_size);
  if (!use_mmap && size_ > 0) {
    // Page-aligned like a mapping, so tensor data keeps the alignment the file promises.
    uint8_t* buf = static_cast<uint8_t*>(::operator new(size_, std::align_val_t(kReadAlignment), std::nothrow));
    if (buf == nullptr) {
      ::close(fd);
      fail("%s: cannot allocate %zu bytes to read the file", path.c_str(), size_);
    }
    size_t done = 0;
    while (done < size_) {
      const ssize_t r = ::pread(fd, buf + done, size_ - done, static_cast<off_t>(done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        const int e = r < 0 ? errno : 0;
        ::operator delete(buf, std::align_val_t(kReadAlignment));
        ::close(fd);
        if (r == 0) fail("%s: file shrank while reading (%zu of %zu bytes)", path.c_str(), done, size_);
        fail("%s: cannot read: %s", path.c_str(), errno_text(e).c_str());
      }
      done += static_cast<size_t>(r);
    }
    data_ = buf;
  } else if (size_ > 0) {  // mmap of length 0 is EINVAL; an empty file is simply size 0
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      fail("%s: cannot map %zu bytes: %s", path.c_str(), size_, errno_text(e).c_str());
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps the file alive
}

MappedFile::~MappedFile() {
  if (data_ == nullptr) return;
  if (mapped_)
    ::munmap(const_cast<uint8_t*>(data_), size_);
  else
    ::operator delete(const_cast<uint8_t*>(data_), std::align_val_t(kReadAlignment));
}

void MappedFile::release(const void* p, size_t n) const {
  if (!mapped_ || data_ == nullptr) return;
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t lo = std::max(reinterpret_cast<uintptr_t>(p), reinterpret_cast<uintptr_t>(data_));
  const uintptr_t hi = std::min(reinterpret_cast<uintptr_t>(p) + n, reinterpret_cast<uintptr_t>(data_) + size_);
  const uintptr_t first = (lo + page - 1) / page * page;  // whole pages only: neighbours may still be needed
  const uintptr_t last = hi / page * page;
  // Only memory is at stake, so a failure is ignored.
  if (last > first) (void)::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

// ---------------------------------------------------------------------------
// AtomicFile

AtomicFile::AtomicFile(const std::string& path) : path_(path), tmp_path_(temp_name(path)) {
  // Before this run adds a file: repeated interrupted runs must not fill the disk.
  remove_stale_temp_files(path_);
  // O_EXCL: never follow a planted symlink or clobber someone else's temp file.
  fd_ = open_retry(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd_ < 0) {
    fail("%s: cannot create temporary file %s: %s", path_.c_str(), tmp_path_.c_str(), errno_text(errno).c_str());
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_path_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  if (fd_ < 0) fail("%s: write after commit or failure", path_.c_str());
  const uint8_t* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    // Linux writes at most ~2 GiB per call; larger requests come back short anyway.
    const size_t chunk = n < (size_t{1} << 30) ? n : (size_t{1} << 30);
    const ssize_t w = ::write(fd_, p, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("%s: write failed at offset %llu: %s", path_.c_str(), static_cast<unsigned long long>(offset_),
           errno_text(errno).c_str());
    }
    if (w == 0) {
      fail("%s: write made no progress at offset %llu", path_.c_str(), static_cast<unsigned long long>(offset_));
    }
    p += w;
    n -= static_cast<size_t>(w);
    offset_ += static_cast<uint64_t>(w);
  }
}

void AtomicFile::pad_to(uint64_t offset) {
  if (offset < offset_) {
    fail("%s: internal error: pad_to(%llu) behind offset %llu", path_.c_str(),
         static_cast<unsigned long long>(offset), static_cast<unsigned long long>(offset_));
  }
  static const uint8_t zeros[4096] = {};
  while (offset_ < offset) {
    const uint64_t left = offset - offset_;
    write(zeros, left < sizeof(zeros) ? static_cast<size_t>(left) : sizeof(zeros));
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) fail("%s: commit after commit or failure", path_.c_str());
  // Data must be on disk before the rename publishes it, or a crash could
  // leave a complete-looking name pointing at a hole-filled file.
  if (::fsync(fd_) != 0) fail("%s: fsync failed: %s", path_.c_str(), errno_text(errno).c_str());
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("%s: close failed: %s", path_.c_str(), errno_text(errno).c_str());
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    fail("%s: cannot rename %s into place: %s", path_.c_str(), tmp_path_.c_str(), errno_text(errno).c_str());
  }
  committed_ = true;
  // Make the rename itself durable; failure here is harmless for correctness.
  const int dfd = open_retry(parent_dir(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

// ---------------------------------------------------------------------------

std::string read_file(const std::string& path) {
  const int fd = open_retry(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("%s: cannot open: %s", path.c_str(), errno_text(errno).c_str());
  std::string out;
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    out.reserve(static_cast<size_t>(st.st_size));
  }
  char buf[65536];
  for (;;) {
    const ssize_t r = ::read(fd, buf, sizeof(buf));
    if (r < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      fail("%s: read failed at offset %zu: %s", path.c_str(), out.size(), errno_text(e).c_str());
    }
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  ::close(fd);
  return out;
}

}  // namespace qgml
