#include <ebm/core/memory.hpp>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ebm {

void retain_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest accepted value on 64-bit (it refuses more)
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

}  // namespace ebm
