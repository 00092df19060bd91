#pragma once
// The sum of per-block partial results over a fixed binary tree of the blocks, split across the
// ranks of a communicator. The tree depends only on the number of blocks: node [l, r) is
// node [l, mid) + node [mid, r) with mid = (l + r) / 2. Rank k computes the blocks of
// share_of(blocks, k, K) and, from them, the largest tree nodes that lie inside its share (at
// most 2 log2(blocks)); the ranks exchange slices of those nodes and complete the tree on them
// (BlockSum below), every rank ending with the same sum. One process computes the same nodes by the same additions, so the sum has the same bits
// whatever the number of processes (docs/scaling.md). Within a process the blocks run on its
// threads, each block on one thread (its kernels run serially inside the parallel loop), so
// the bits do not depend on the thread count either.
#include <ebm/core/bytes.hpp>
#include <ebm/core/check.hpp>
#include <ebm/core/communicator.hpp>
#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/core/types.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ebm::detail {

/// A partial result: scalars and matrices, all added elementwise.
template <class T>
struct Partial {
  std::vector<T> scalars;
  std::vector<Mat<T>> matrices;

  void add(const Partial& other) {
    for (std::size_t i = 0; i < scalars.size(); ++i) scalars[i] += other.scalars[i];
    for (std::size_t i = 0; i < matrices.size(); ++i) matrices[i] += other.matrices[i];
  }
};

/// The shapes of a partial result: how many scalars, and each matrix's rows x cols. A process
/// without blocks of its own learns the shapes from it.
struct Layout {
  std::size_t scalars = 0;
  std::vector<std::pair<Index, Index>> shapes;
  std::size_t length() const {
    std::size_t n = scalars;
    for (const auto& [rows, cols] : shapes) n += static_cast<std::size_t>(rows * cols);
    return n;
  }
};

/// Several processes: a reduce-scatter then an all-gather, both along the fixed tree. Each
/// process owns a contiguous slice of the flattened result (share_of(length, k, K)); it sends
/// every other process that process's slice of each of its tree nodes, completes the tree on
/// its own slice (the additions of each element are the tree's, whoever does them), and the
/// slices are then gathered. Per process about (nodes + 1) x the result's size travels, as in a
/// ring all-reduce, instead of K x with an all-gather of the nodes. Failures in the block
/// computations travel with the first exchange, and every rank throws them (agree()).
template <class T>
class BlockSum {
 public:
  /// The partial result of one block; called concurrently for different blocks.
  using Block = std::function<Partial<T>(Index block)>;

  /// `extra` is this rank's payload that rides along (PCD's new chains), handed back from every
  /// rank in rank order by extras().
  Partial<T> operator()(const Communicator& comm, Index blocks, const Block& block, const Layout& layout,
                        const std::function<std::string()>& extra = {}) {
    const Share mine = share_of(blocks, comm.rank(), comm.size());
    const int processes = comm.size();
    std::vector<std::pair<std::pair<Index, Index>, Partial<T>>> nodes;
    std::vector<std::string> slices(static_cast<std::size_t>(processes));
    std::exception_ptr failure;
    const std::size_t length = layout.length();
    try {
      collect(0, blocks, mine, block, nodes);
      if (processes == 1) {
        extras_.assign(1, extra ? extra() : std::string());
        return std::move(nodes.front().second);
      }
      std::vector<ByteWriter> out(static_cast<std::size_t>(processes));
      for (ByteWriter& w : out) w.value(static_cast<std::int64_t>(nodes.size()));
      for (const auto& [range, p] : nodes) {
        const std::vector<T> flat = flatten(p, layout);
        for (int q = 0; q < processes; ++q) {
          const Share slice = share_of(static_cast<long long>(length), q, processes);
          out[static_cast<std::size_t>(q)].value(static_cast<std::int64_t>(range.first));
          out[static_cast<std::size_t>(q)].value(static_cast<std::int64_t>(range.second));
          out[static_cast<std::size_t>(q)].values(std::vector<T>(flat.begin() + slice.first, flat.begin() + slice.last));
        }
      }
      for (int q = 0; q < processes; ++q) slices[static_cast<std::size_t>(q)] = out[static_cast<std::size_t>(q)].take();
    } catch (...) {
      failure = std::current_exception();
    }
    // My slice of every node, from every process; the tree completed on it.
    const Gathered parts = exchange_agreed(comm, slices, failure);
    std::map<std::pair<Index, Index>, Partial<T>> known;
    for (int rank = 0; rank < parts.size(); ++rank) {
      ByteReader in(parts[rank]);
      const auto count = in.value<std::int64_t>();
      for (std::int64_t n = 0; n < count; ++n) {
        const auto l = in.value<std::int64_t>(), r = in.value<std::int64_t>();
        const std::vector<T> values = in.values<T>();
        Partial<T> p;
        p.matrices.emplace_back(Eigen::Map<const Mat<T>>(values.data(), 1, static_cast<Index>(values.size())));
        known.emplace(std::make_pair(Index(l), Index(r)), std::move(p));
      }
    }
    const Partial<T> my_slice = complete(0, blocks, known);
    ByteWriter w;
    w.matrix(my_slice.matrices.at(0));
    w.raw(extra ? extra() : std::string());
    const Gathered all = gather_agreed(comm, w.take(), nullptr);
    std::vector<T> flat;
    flat.reserve(length);
    extras_.clear();
    for (int rank = 0; rank < all.size(); ++rank) {
      ByteReader in(all[rank]);
      const Mat<T> slice = in.matrix<T>();
      flat.insert(flat.end(), slice.data(), slice.data() + slice.size());
      extras_.push_back(in.rest());
    }
    if (flat.size() != length) throw Error("BlockSum: the slices do not add up to the result");
    return unflatten(flat, layout);
  }

  /// The `extra` payloads of the last call, by rank.
  const std::vector<std::string>& extras() const { return extras_; }

 private:
  std::vector<std::string> extras_;

  // Blocks [l, r), on the process's threads; the failure of the lowest failing block is thrown.
  static std::vector<Partial<T>> compute_blocks(Index l, Index r, const Block& block) {
    const auto count = static_cast<std::size_t>(r - l);
    std::vector<Partial<T>> leaves(count);
    std::vector<std::exception_ptr> failures(count);
    parallel_for_chunks(r - l, 1, [&](Index b0, Index b1) {
      for (Index b = b0; b < b1; ++b) {
        try {
          leaves[static_cast<std::size_t>(b)] = block(l + b);
        } catch (...) {
          failures[static_cast<std::size_t>(b)] = std::current_exception();
        }
      }
    });
    for (const std::exception_ptr& f : failures)
      if (f) std::rethrow_exception(f);
    return leaves;
  }

  // Node [l, r) of leaves[b - first] = block b (moved from).
  static Partial<T> fold(Index l, Index r, Index first, std::vector<Partial<T>>& leaves) {
    if (r - l == 1) return std::move(leaves[static_cast<std::size_t>(l - first)]);
    const Index mid = l + (r - l) / 2;
    Partial<T> sum = fold(l, mid, first, leaves);
    sum.add(fold(mid, r, first, leaves));
    return sum;
  }

  // Node [l, r): a node of a few blocks per thread is computed as a whole on the threads; a
  // larger one child after child, so that at most that many blocks' results are held at once
  // (a full-batch step of thousands of blocks would otherwise hold a gradient per block). The
  // additions are the tree's either way.
  static Partial<T> compute(Index l, Index r, const Block& block) {
    if (r - l <= 4 * static_cast<Index>(num_threads())) {
      std::vector<Partial<T>> leaves = compute_blocks(l, r, block);
      return fold(l, r, l, leaves);
    }
    const Index mid = l + (r - l) / 2;
    Partial<T> sum = compute(l, mid, block);
    sum.add(compute(mid, r, block));
    return sum;
  }

  static void collect(Index l, Index r, Share mine, const Block& block,
                      std::vector<std::pair<std::pair<Index, Index>, Partial<T>>>& out) {
    if (r <= mine.first || l >= mine.last) return;
    if (l >= mine.first && r <= mine.last) {
      out.emplace_back(std::make_pair(l, r), compute(l, r, block));
      return;
    }
    const Index mid = l + (r - l) / 2;
    collect(l, mid, mine, block, out);
    collect(mid, r, mine, block, out);
  }

  static Partial<T> complete(Index l, Index r, std::map<std::pair<Index, Index>, Partial<T>>& known) {
    if (auto it = known.find({l, r}); it != known.end()) return std::move(it->second);
    if (r - l <= 1) throw Error("BlockSum: block " + std::to_string(l) + " came from no rank");
    const Index mid = l + (r - l) / 2;
    Partial<T> sum = complete(l, mid, known);
    sum.add(complete(mid, r, known));
    return sum;
  }

  // The scalars, then each matrix's values row by row.
  static std::vector<T> flatten(const Partial<T>& p, const Layout& layout) {
    if (p.scalars.size() != layout.scalars || p.matrices.size() != layout.shapes.size())
      throw Error("BlockSum: a block's result does not have the layout of the sum");
    std::vector<T> flat(p.scalars);
    for (std::size_t i = 0; i < p.matrices.size(); ++i) {
      const Mat<T>& m = p.matrices[i];
      if (m.rows() != layout.shapes[i].first || m.cols() != layout.shapes[i].second)
        throw Error("BlockSum: a block's matrix " + std::to_string(i) + " has shape " + shape_str(m));
      flat.insert(flat.end(), m.data(), m.data() + m.size());
    }
    return flat;
  }

  static Partial<T> unflatten(const std::vector<T>& flat, const Layout& layout) {
    Partial<T> p;
    p.scalars.assign(flat.begin(), flat.begin() + static_cast<std::ptrdiff_t>(layout.scalars));
    std::size_t at = layout.scalars;
    for (const auto& [rows, cols] : layout.shapes) {
      p.matrices.emplace_back(Eigen::Map<const Mat<T>>(flat.data() + at, rows, cols));
      at += static_cast<std::size_t>(rows * cols);
    }
    return p;
  }
};

}  // namespace ebm::detail
