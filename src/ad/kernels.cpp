#include "kernels.hpp"

#include "row_product.hpp"

#include <vector>

namespace ebm::ad::kernels {
namespace {

// Rows per chunk of a product whose rows follow the batch, at most (any chunking gives the
// same bits: rows are computed independently).
constexpr Index kMatmulChunkRows = 192;
// Batch rows per partial product when a product sums over the batch (op(a) = a^T).
constexpr Index kReduceChunkRows = 1024;
// Outputs narrower than this take the dot-product route (one AVX2 packet).
template <class T>
constexpr Index kNarrowColumns = 32 / Index(sizeof(T));
// Below this many multiply-adds a product runs as one call (and on one thread).
constexpr Index kMatmulParallelWork = 1 << 18;
// Fewest rows per thread worth a parallel row-independent product.
constexpr Index kMatmulMinRowsPerThread = 12;
// Output rows per block of a product that sums over the batch (a^T b, the weight gradients):
// the blocks are fixed by the shape alone, so they may run on any threads.
constexpr Index kReduceBlockRows = 64;

template <class T>
using CMap = ConstMatMap<T>;

// a^T op(b) with Eigen's GEMM, for products that sum over the batch.
template <class T>
void product_at(CMap<T> a, CMap<T> b, bool tb, MatMap<T> out) {
  if (!tb) out.noalias() = a.transpose() * b;
  else out.noalias() = a.transpose() * b.transpose();
}

// Scratch memory is aligned as Eigen's own matrices are: Eigen peels an unaligned head off
// vectorised reductions and products, so a buffer's address would change the order of the
// additions and the bits (found by a CLI test whose result changed with the command line's
// length, which moves the heap).
template <class T>
using Scratch = std::vector<T, Eigen::aligned_allocator<T>>;

template <class T>
Scratch<T>& scratch() {
  thread_local Scratch<T> buffer;
  return buffer;
}

template <class T>
Scratch<T>& bias_scratch() {
  thread_local Scratch<T> buffer;
  return buffer;
}

}  // namespace

template <class T>
void matmul(const T* a, Index ar, Index ac, bool ta, const T* b, Index br, Index bc, bool tb, const T* b_transposed,
            const T* bias, T* out) {
  const Index n = ta ? ac : ar, k = ta ? ar : ac, m = tb ? br : bc;
  count_product_flops(static_cast<std::uint64_t>(2 * n * k * m));
  MatMap<T> O(out, n, m);
  if (k == 0) {
    if (bias) O.rowwise() = ConstMatMap<T>(bias, 1, m).row(0);
    else O.setZero();
    return;
  }
  if (!ta) {
    // Output rows follow a's rows (the batch): row-independent products, so a row's result
    // does not depend on the rest of the batch.
    const Index P = packet_size<T>();
    const int threads = num_threads();
    const bool parallel = n * k * m >= kMatmulParallelWork && threads > 1 && n >= 2 * kMatmulMinRowsPerThread;
    // Even shares for mid-size batches, chunks of at most kMatmulChunkRows for large ones,
    // in whole blocks of 6 rows (the kernel's row block).
    const Index chunk = std::min(kMatmulChunkRows, ((n + threads - 1) / threads + 5) / 6 * 6);
    Scratch<T>& packed = scratch<T>();
    if (m < kNarrowColumns<T>) {
      // Narrow output: one dot product per element against the rows of op(b)^T (m x k). The
      // bound is the AVX2 packet on every target, so the route, and the bits, do not depend on
      // the target.
      const T* bt = tb ? b : b_transposed;
      if (bt == nullptr) {
        packed.resize(static_cast<std::size_t>(m * k));
        MatMap<T>(packed.data(), m, k) = CMap<T>(b, br, bc).transpose();
        bt = packed.data();
      }
      auto rows = [&](Index r0, Index r1) {
        row_dot_product<T>(a + r0 * ac, ac, r1 - r0, k, bt, k, m, bias, out + r0 * m, m);
      };
      if (parallel) parallel_for_chunks(n, chunk, rows);
      else rows(0, n);
      return;
    }
    // Otherwise op(b) as k x m row-major, rows padded to whole packets unless m is a
    // multiple of the packet size.
    const T* panel = tb ? b_transposed : b;
    Index ldb = m;
    const T* bias_row = bias;
    if (panel == nullptr || m % P != 0) {
      ldb = (m + P - 1) / P * P;
      if (bias && m % P != 0) {  // whole packets of bias too
        Scratch<T>& padded = bias_scratch<T>();
        padded.assign(static_cast<std::size_t>(ldb), T(0));
        std::copy(bias, bias + m, padded.begin());
        bias_row = padded.data();
      }
      packed.resize(static_cast<std::size_t>(k * ldb));
      MatMap<T> dst(packed.data(), k, ldb);
      if (tb) dst.leftCols(m) = CMap<T>(b, br, bc).transpose();
      else dst.leftCols(m) = CMap<T>(b, br, bc);
      dst.rightCols(ldb - m).setZero();
      panel = packed.data();
    }
    auto rows = [&](Index r0, Index r1) {
      row_product<T>(a + r0 * ac, ac, r1 - r0, k, panel, ldb, m, bias_row, out + r0 * m, m);
    };
    if (parallel) {
      parallel_for_chunks(n, chunk, rows);
    } else {
      // In chunks on one thread too: the kernel runs every row against one column panel, then
      // the next, so a chunk's rows stay in cache across the panels instead of the whole
      // batch being read from memory once per panel (8 times at m = 128 on AVX2).
      for (Index r0 = 0; r0 < n; r0 += kMatmulChunkRows) rows(r0, std::min(n, r0 + kMatmulChunkRows));
    }
    return;
  }
  CMap<T> A(a, ar, ac), B(b, br, bc);
  // op(a) = a^T: the product sums over a's rows (the batch). Fixed chunks of the sum, each a
  // partial product, added in chunk order: the same bits for any thread count.
  if (k <= 4 && !tb) {
    // A sum of a few outer products (batch of one to four), row by row: Eigen's GEMM would
    // pack both operands first, which costs more than the product.
    for (Index i = 0; i < n; ++i) {
      O.row(i).noalias() = A(0, i) * B.row(0);
      for (Index r = 1; r < k; ++r) O.row(i).noalias() += A(r, i) * B.row(r);
    }
    return;
  }
  if (k <= kReduceChunkRows) {
    // Blocks of output rows (a's columns), each its own GEMM: which block a row is in is
    // fixed by the shape, so its bits do not depend on the thread count.
    if (n * k * m < kMatmulParallelWork || n <= kReduceBlockRows) {
      product_at<T>(A, B, tb, O);
      return;
    }
    parallel_for_chunks(n, kReduceBlockRows, [&](Index r0, Index r1) {
      MatMap<T> rows(out + r0 * m, r1 - r0, m);
      if (!tb) rows.noalias() = A.middleCols(r0, r1 - r0).transpose() * B;
      else rows.noalias() = A.middleCols(r0, r1 - r0).transpose() * B.transpose();
    });
    return;
  }
  const Index chunks = chunk_count(k, kReduceChunkRows);
  Scratch<T>& partial = scratch<T>();
  partial.resize(static_cast<std::size_t>(chunks * n * m));
  parallel_for_chunks(chunks, 1, [&](Index c0, Index c1) {
    for (Index c = c0; c < c1; ++c) {
      const Index r0 = c * kReduceChunkRows, len = std::min(k, r0 + kReduceChunkRows) - r0;
      CMap<T> a_rows(a + r0 * ac, len, ac);
      MatMap<T> p(partial.data() + c * n * m, n, m);
      if (!tb) product_at<T>(a_rows, CMap<T>(b + r0 * bc, len, bc), false, p);
      else p.noalias() = a_rows.transpose() * B.middleCols(r0, len).transpose();
    }
  });
  O = MatMap<T>(partial.data(), n, m);
  for (Index c = 1; c < chunks; ++c) O += MatMap<T>(partial.data() + c * n * m, n, m);
}

template <class T>
void arith(Arith op, const T* a, Index ar, Index ac, const T* b, Index br, Index bc, T* out, Index rows,
           Index cols) {
  using Arr = Eigen::Array<T, Eigen::Dynamic, 1>;
  using CArr = Eigen::Map<const Arr>;
  using OArr = Eigen::Map<Arr>;
  auto apply = [op](const auto& x, const auto& y, OArr o) {
    switch (op) {
      case Arith::Add: o = x + y; break;
      case Arith::Sub: o = x - y; break;
      case Arith::Mul: o = x * y; break;
      case Arith::Div: o = x / y; break;
    }
  };
  const bool a_full = ar == rows && ac == cols, b_full = br == rows && bc == cols;
  if ((a_full || ar * ac == 1) && (b_full || br * bc == 1)) {
    // Same shapes or scalar operands: one flat loop.
    elementwise_chunks(rows * cols, [&](Index i0, Index i1) {
      const Index len = i1 - i0;
      OArr o(out + i0, len);
      if (a_full && b_full) apply(CArr(a + i0, len), CArr(b + i0, len), o);
      else if (a_full) apply(CArr(a + i0, len), Arr::Constant(len, b[0]), o);
      else if (b_full) apply(Arr::Constant(len, a[0]), CArr(b + i0, len), o);
      else apply(Arr::Constant(len, a[0]), Arr::Constant(len, b[0]), o);
    });
    return;
  }
  // Row or column broadcasting: row by row.
  const Index rows_per_chunk = std::max<Index>(1, kElementwiseChunk / std::max<Index>(cols, 1));
  auto rows_body = [&](Index r0, Index r1) {
    for (Index i = r0; i < r1; ++i) {
      const T* pa = a + (ar == 1 ? 0 : i) * ac;
      const T* pb = b + (br == 1 ? 0 : i) * bc;
      OArr o(out + i * cols, cols);
      if (ac == cols && bc == cols) apply(CArr(pa, cols), CArr(pb, cols), o);
      else if (ac == cols) apply(CArr(pa, cols), Arr::Constant(cols, pb[0]), o);
      else if (bc == cols) apply(Arr::Constant(cols, pa[0]), CArr(pb, cols), o);
      else apply(Arr::Constant(cols, pa[0]), Arr::Constant(cols, pb[0]), o);
    }
  };
  if (rows <= rows_per_chunk) rows_body(0, rows);
  else parallel_for_chunks(rows, rows_per_chunk, rows_body);
}

template <class T>
void reduce_to(const T* a, Index ar, Index ac, T* out, Index rows, Index cols) {
  CMap<T> A(a, ar, ac);
  if (rows == ar && cols == ac) {
    MatMap<T>(out, rows, cols) = A;
    return;
  }
  if (rows == ar) {
    // Sum of each row, left to right: Eigen's vectorised sum would start at the row's first
    // aligned address, so a row's sum would depend on where the row sits in the batch.
    for (Index i = 0; i < ar; ++i) {
      const T* row = a + i * ac;
      T s = ac > 0 ? row[0] : T(0);
      for (Index j = 1; j < ac; ++j) s += row[j];
      out[i] = s;
    }
    return;
  }
  // Sums over rows: fixed chunks of rows, partials added in order.
  const Index chunks = chunk_count(ar, kReduceChunkRows);
  Scratch<T>& partial = scratch<T>();
  partial.resize(static_cast<std::size_t>(std::max<Index>(chunks, 1) * ac));
  std::fill(partial.begin(), partial.end(), T(0));
  auto body = [&](Index c0, Index c1) {
    for (Index c = c0; c < c1; ++c) {
      const Index r0 = c * kReduceChunkRows, len = std::min(ar, r0 + kReduceChunkRows) - r0;
      Eigen::Map<RowVec<T>>(partial.data() + c * ac, ac) = A.middleRows(r0, len).colwise().sum();
    }
  };
  if (chunks <= 1 || ar * ac < kElementwiseChunk) body(0, chunks);
  else parallel_for_chunks(chunks, 1, body);
  Eigen::Map<RowVec<T>> col_total(partial.data(), ac);
  for (Index c = 1; c < chunks; ++c) col_total += Eigen::Map<RowVec<T>>(partial.data() + c * ac, ac);
  if (cols == ac) Eigen::Map<RowVec<T>>(out, ac) = col_total;
  else out[0] = col_total.sum();
}

#define EBM_INSTANTIATE(T)                                                                                \
  template void matmul<T>(const T*, Index, Index, bool, const T*, Index, Index, bool, const T*, const T*, T*);                \
  template void arith<T>(Arith, const T*, Index, Index, const T*, Index, Index, T*, Index, Index);         \
  template void reduce_to<T>(const T*, Index, Index, T*, Index, Index);
EBM_INSTANTIATE(float)
EBM_INSTANTIATE(double)
#undef EBM_INSTANTIATE

}  // namespace ebm::ad::kernels
