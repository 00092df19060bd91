#pragma once
#include <cstdint>

// Process-wide allocator policy for programs that run many similar steps (training, sampling).
namespace ebm {

/// Tells glibc's malloc to serve large blocks from the heap instead of fresh mmap()s and to keep
/// freed memory: without it every step's large temporaries (GEMM workspaces, batch copies) come
/// back as new zero-filled pages, measured at 15-20% of a convolutional DSM step. A no-op on other
/// C libraries. Call once, early, from main(); the library never calls it itself.
void retain_freed_memory();

/// This machine's physical memory in bytes (16 GiB when the system does not say).
std::uint64_t physical_memory_bytes();

}  // namespace ebm
