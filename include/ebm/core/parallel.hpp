#pragma once
// The one thread setting. Every parallel loop in ebm runs over fixed chunks whose boundaries
// do not depend on the thread count, and combines partial results in chunk order, so results
// are bit-identical for any number of threads.
#include <ebm/core/types.hpp>

#include <type_traits>

namespace ebm {

/// Threads used by ebm's parallel loops (default: OpenMP's default, usually the core count).
int num_threads();
/// Sets the thread count for every parallel loop in ebm; n must be >= 1.
void set_num_threads(int n);

/// Index of the calling thread within the innermost parallel loop (0 outside any).
int thread_index();

void parallel_for_chunks_impl(Index n, Index chunk, void (*call)(void*, Index, Index), void* ctx);

/// Runs body(begin, end) over [0, n) split into chunks of `chunk` items (the last may be
/// shorter), in parallel when there is more than one chunk and more than one thread. body must
/// not throw. Nothing is allocated: body is called through a plain pointer. Inside another
/// parallel loop it runs serially on the calling thread.
template <class Body>
void parallel_for_chunks(Index n, Index chunk, Body&& body) {
  using B = std::remove_reference_t<Body>;
  parallel_for_chunks_impl(n, chunk, [](void* ctx, Index b, Index e) { (*static_cast<B*>(ctx))(b, e); },
                           const_cast<void*>(static_cast<const void*>(&body)));
}

/// Number of chunks parallel_for_chunks uses for n items.
inline Index chunk_count(Index n, Index chunk) { return n <= 0 ? 0 : (n + chunk - 1) / chunk; }

}  // namespace ebm
