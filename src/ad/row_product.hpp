#pragma once
// A matrix product that computes every output row the same way whatever the other rows are
// (internal). Eigen's GEMM does not: its result for a row depends on the block the row falls in
// (measured in docs/design.md), which would make a chain's trajectory depend on how chains are
// batched.
#include <ebm/core/types.hpp>

namespace ebm::ad::kernels {

/// SIMD width in elements of T of the kernel target in use (ebm/ad/kernel_target.hpp).
template <class T>
Index packet_size();

/// out (n x M, row stride ldo) = a (n x K, row stride lda) * b (K x M, row stride ldb) + bias.
/// Each out(i, j) is the fused multiply-add chain over k = 0..K-1 in order, from bias(j) (or 0
/// when bias is null). Requires ldb to be a multiple of packet_size<T>(), or M to be (then ldb
/// may equal M): whole packets are read from b's rows, and from bias.
template <class T>
void row_product(const T* a, Index lda, Index n, Index K, const T* b, Index ldb, Index M, const T* bias, T* out,
                 Index ldo);

/// out (n x M, row stride ldo) with out(i, j) = dot(a row i, bt row j): a is n x K (stride lda),
/// bt is M x K (stride ldbt), i.e. b's transpose. For narrow outputs (M below the packet size),
/// where row_product would waste most of each packet. Each dot product has a fixed
/// accumulation order that depends only on K, so rows are again independent of each other.
/// bias (1 x M, or null) is added to each dot product.
template <class T>
void row_dot_product(const T* a, Index lda, Index n, Index K, const T* bt, Index ldbt, Index M, const T* bias, T* out,
                     Index ldo);

}  // namespace ebm::ad::kernels
