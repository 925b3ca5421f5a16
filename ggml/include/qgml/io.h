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

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = true;  // false: data_ is our heap buffer
};

// Writes to a temporary file beside `path`; commit() fsyncs and renames it
// into place. Destroyed without commit() (an error, an exception), the
// temporary file is removed, so a partial output never appears under `path`.
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

// Reads a whole file into a string; throws qgml::Error naming the file.
std::string read_file(const std::string& path);

}  // namespace qgml
