#include <ebm/core/check.hpp>
#include <ebm/core/parallel.hpp>

#include <omp.h>

#include <atomic>

namespace ebm {
namespace {
std::atomic<int> g_threads{0};  // 0: not set, use OpenMP's default
}

int num_threads() {
  const int n = g_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : omp_get_max_threads();
}

void set_num_threads(int n) {
  require(n >= 1, "ebm::set_num_threads", "n must be >= 1, got " + std::to_string(n));
  g_threads.store(n, std::memory_order_relaxed);
}

int thread_index() { return omp_get_thread_num(); }

void parallel_for_chunks_impl(Index n, Index chunk, void (*call)(void*, Index, Index), void* ctx) {
  require(chunk >= 1, "ebm::parallel_for_chunks", [&] { return "chunk must be >= 1, got " + std::to_string(chunk); });
  const Index chunks = chunk_count(n, chunk);
  const int threads = num_threads();
  if (chunks <= 1 || threads <= 1 || omp_in_parallel()) {
    for (Index c = 0; c < chunks; ++c) call(ctx, c * chunk, std::min(n, (c + 1) * chunk));
    return;
  }
#pragma omp parallel for schedule(static) num_threads(threads)
  for (Index c = 0; c < chunks; ++c) call(ctx, c * chunk, std::min(n, (c + 1) * chunk));
}

}  // namespace ebm
