#include <ebm/core/memory.hpp>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <unistd.h>

namespace ebm {

void retain_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest accepted value on 64-bit (it refuses more)
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

std::uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return std::uint64_t{1} << 34;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page);
}

}  // namespace ebm
