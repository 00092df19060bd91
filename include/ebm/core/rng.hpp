#pragma once
// Counter-based random numbers (Philox4x64-10 from Random123). A draw is a pure function of
// (seed, stream, counter, index): no state is carried, so any thread can produce any chain's
// numbers and results do not depend on the thread count or on how work is split.
#include <cstdint>
#include <span>

namespace ebm {

/// One random stream. Typical use: stream = chain or sample index, counter = step.
class CounterRng {
 public:
  CounterRng(std::uint64_t seed, std::uint64_t stream) : seed_(seed), stream_(stream) {}

  std::uint64_t seed() const { return seed_; }
  std::uint64_t stream() const { return stream_; }

  /// Fills out[i] with the i-th uniform draw in the open interval (0, 1) at this counter.
  template <class T>
  void uniform(std::uint64_t counter, std::span<T> out) const;
  /// Fills out[i] with the i-th standard normal draw at this counter (Box-Muller).
  template <class T>
  void normal(std::uint64_t counter, std::span<T> out) const;
  /// Normal draws of the consecutive streams stream(), stream() + 1, ...: row i of `out`
  /// (rows x cols, row-major, out.size() a multiple of cols) holds bit for bit what
  /// CounterRng(seed(), stream() + i).normal(counter, <cols draws>) gives. For short rows (one
  /// chain per stream, dimension 2) much faster than a call per stream: the transform is
  /// vectorised across rows.
  template <class T>
  void normal_rows(std::uint64_t counter, std::size_t cols, std::span<T> out) const;
  /// Normal draws at consecutive counters of this stream: row i of `out` (rows x cols) holds
  /// bit for bit what normal(first_counter + i, <cols draws>) gives. For a few chains of small
  /// dimension, drawing ahead for many steps at once (vectorised across rows).
  template <class T>
  void normal_steps(std::uint64_t first_counter, std::size_t cols, std::span<T> out) const;
  /// Fills out[i] with the i-th Rademacher draw (-1 or +1, equally likely) at this counter.
  template <class T>
  void rademacher(std::uint64_t counter, std::span<T> out) const;

  /// The four raw 64-bit words of block `block` at this counter.
  void raw_block(std::uint64_t counter, std::uint64_t block, std::uint64_t out[4]) const;

 private:
  std::uint64_t seed_;
  std::uint64_t stream_;
};

}  // namespace ebm
