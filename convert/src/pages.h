// Dropping pages of a read-only file mapping once a tensor has been read, so
// that a streaming conversion's resident memory stays near one tensor rather
// than growing to the whole mapped checkpoint.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

namespace qgml::convert {

inline void release_pages(const void* p, size_t n) {
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(p);
  const uintptr_t first = (begin + page - 1) / page * page;  // whole pages only: neighbours may still be needed
  const uintptr_t last = (begin + n) / page * page;
  // The mapping is read-only, so dropped pages are simply re-read from the
  // file if touched again; failure only costs memory, so it is ignored.
  if (last > first) (void)::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

}  // namespace qgml::convert
