#pragma once
// The sum of per-block partial results over a fixed binary tree of the blocks, split across the
// ranks of a communicator. The tree depends only on the number of blocks: node [l, r) is
// node [l, mid) + node [mid, r) with mid = (l + r) / 2. Rank k computes the blocks of
// share_of(blocks, k, K) and, from them, the largest tree nodes that lie inside its share (at
// most 2 log2(blocks)); the ranks exchange those nodes and every rank finishes the tree the same
// way. One process computes the same nodes by the same additions, so the sum has the same bits
// whatever the number of processes (docs/scaling.md). Within a process the blocks run on its
// threads, each block on one thread (its kernels run serially inside the parallel loop), so
// the bits do not depend on the thread count either.
#include <ebm/core/bytes.hpp>
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

/// Bytes in, bytes out: this process's tree nodes travel in one all_gather, with the failure
/// (if any) of its block computations, which every rank then throws (agree()).
template <class T>
class BlockSum {
 public:
  /// The partial result of one block; called concurrently for different blocks.
  using Block = std::function<Partial<T>(Index block)>;

  /// `extra` is this rank's payload that rides along with its nodes (PCD's new chains), handed
  /// back from every rank in rank order by extras().
  Partial<T> operator()(const Communicator& comm, Index blocks, const Block& block, const std::function<std::string()>& extra = {}) {
    const Share mine = share_of(blocks, comm.rank(), comm.size());
    std::vector<std::pair<std::pair<Index, Index>, Partial<T>>> nodes;
    std::string payload;
    std::exception_ptr failure;
    try {
      collect(0, blocks, mine, block, nodes);
      if (comm.size() == 1) {
        extras_.assign(1, extra ? extra() : std::string());
        return std::move(nodes.front().second);
      }
      payload = encode(nodes, extra ? extra() : std::string());
    } catch (...) {
      failure = std::current_exception();
    }
    const Gathered all = gather_agreed(comm, payload, failure);
    std::map<std::pair<Index, Index>, Partial<T>> known;
    extras_.clear();
    for (int rank = 0; rank < all.size(); ++rank) extras_.push_back(decode(all[rank], known));
    return complete(0, blocks, known);
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

  static std::string encode(const std::vector<std::pair<std::pair<Index, Index>, Partial<T>>>& nodes, const std::string& extra) {
    ByteWriter out;
    out.value(static_cast<std::int64_t>(nodes.size()));
    for (const auto& [range, p] : nodes) {
      out.value(static_cast<std::int64_t>(range.first));
      out.value(static_cast<std::int64_t>(range.second));
      out.values(p.scalars);
      out.value(static_cast<std::int64_t>(p.matrices.size()));
      for (const Mat<T>& m : p.matrices) out.matrix(m);
    }
    out.raw(extra);
    return out.take();
  }

  // Adds the message's nodes to `known`; returns its extra payload.
  static std::string decode(std::string_view bytes, std::map<std::pair<Index, Index>, Partial<T>>& known) {
    ByteReader in(bytes);
    const auto count = in.value<std::int64_t>();
    for (std::int64_t n = 0; n < count; ++n) {
      const auto l = in.value<std::int64_t>(), r = in.value<std::int64_t>();
      Partial<T> p;
      p.scalars = in.values<T>();
      const auto matrices = in.value<std::int64_t>();
      for (std::int64_t i = 0; i < matrices; ++i) p.matrices.push_back(in.matrix<T>());
      known.emplace(std::make_pair(Index(l), Index(r)), std::move(p));
    }
    return in.rest();
  }
};

}  // namespace ebm::detail
