#pragma once
// Numeric kernels behind the ops (internal). All are deterministic: work is split into chunks
// whose boundaries depend only on the shapes, and partial sums are combined in chunk order.
#include <ebm/core/types.hpp>

#include <cstdint>

namespace ebm::ad::kernels {

/// out (n x m) = op(a) op(b); a is ar x ac, b is br x bc as stored. b_transposed, when not
/// null, holds b's transpose (bc x br, row-major): used instead of transposing b when tb.
/// Without op(a) = a^T, each output row is computed independently of the other rows, and
/// `bias` (1 x m, or null) is added to every row inside the product.
template <class T>
void matmul(const T* a, Index ar, Index ac, bool ta, const T* b, Index br, Index bc, bool tb, const T* b_transposed,
            const T* bias, T* out);

/// Adds to ebm::ad::product_flops() (matmul counts its own).
void count_product_flops(std::uint64_t flops);

enum class Arith { Add, Sub, Mul, Div };
/// out (rows x cols) = a op b with a (ar x ac) and b (br x bc) broadcast to rows x cols.
template <class T>
void arith(Arith op, const T* a, Index ar, Index ac, const T* b, Index br, Index bc, T* out, Index rows,
           Index cols);

/// out (rows x cols) = sum of a (ar x ac) down to rows x cols (rows in {1, ar}, cols in {1, ac}).
template <class T>
void reduce_to(const T* a, Index ar, Index ac, T* out, Index rows, Index cols);

/// Elementwise loops over n items, in parallel chunks when n is large. body(begin, end).
template <class Body>
void elementwise_chunks(Index n, Body&& body);

}  // namespace ebm::ad::kernels

#include <ebm/core/parallel.hpp>

namespace ebm::ad::kernels {
inline constexpr Index kElementwiseChunk = 1 << 15;
inline constexpr Index kElementwiseParallelMin = 1 << 15;  // below this, threads cost more than they save

// Elementwise results do not depend on chunk boundaries: arrays are shared evenly between
// threads, in chunks of at most kElementwiseChunk.
template <class Body>
void elementwise_chunks(Index n, Body&& body) {
  const int threads = num_threads();
  if (n < kElementwiseParallelMin || threads == 1) {
    body(Index(0), n);
    return;
  }
  parallel_for_chunks(n, std::min(kElementwiseChunk, (n + threads - 1) / threads), body);
}
}  // namespace ebm::ad::kernels
