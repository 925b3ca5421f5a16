// qgml/io.h — files: read-only mappings, and outputs that appear atomically.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace qgml {

// A read-only memory mapping of a whole file (empty files map to size 0).
// With use_mmap false the file is read into an owned, page-aligned buffer
// instead: for file systems where mapping is slow or unavailable, and for
// callers who need the file closed and unreferenced after loading.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path, bool use_mmap = true);  // throws qgml::Error naming the file
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // A hint that [p, p+n) will not be read again soon. A mapping gives back
  // the whole pages inside the range (clean file pages: touched again, they
  // are re-read from the file), so a pass over a file larger than memory
  // keeps only what it is working on resident; a heap buffer keeps its data.
  void release(const void* p, size_t n) const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = true;  // false: data_ is our heap buffer
};

// Writes to a temporary file beside `path` (`path`.tmp.<pid>.<hex>); commit()
// fsyncs and renames it into place. Destroyed without commit() (an error, an
// exception), the temporary file is removed, so a partial output never appears
// under `path`. A writer killed outright (SIGKILL, power loss) leaves its
// temporary file; the constructor removes those of dead writers of the same
// `path` (remove_stale_temp_files).
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);  // throws qgml::Error
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);  // throws qgml::Error (disk full, ...)
  void pad_to(uint64_t offset);            // writes zero bytes up to `offset`
  uint64_t offset() const { return offset_; }
  void commit();

 private:
  std::string path_, tmp_path_;
  int fd_ = -1;
  uint64_t offset_ = 0;
  bool committed_ = false;
};

// Removes `path`.tmp.<pid>.<hex> files whose <pid> is not a running process
// (checked with kill(pid, 0): ESRCH). Best effort, never throws: files of
// live writers, other names and non-regular files are left alone. Pids are
// those of this machine's pid namespace; see gguf-spec.md §8.3.
void remove_stale_temp_files(const std::string& path);

// Reads a whole file into a string; throws qgml::Error naming the file.
std::string read_file(const std::string& path);

}  // namespace qgml
