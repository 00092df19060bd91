#pragma once
// Preparing data for training: per-column standardisation, a seeded train/test split, and a
// stateless mini-batch schedule.
//
// Batcher: the batch of step k is a pure function of (seed, k). Steps run through epochs of
// floor(n / batch) batches; epoch e visits the points in the order of a Fisher-Yates shuffle
// driven by CounterRng(seed, stream = e), and the n mod batch points left at the end of an
// epoch's order are skipped in that epoch (drop-last: batches never straddle epochs, every
// batch has exactly `batch` distinct points, and a point is skipped in an epoch with probability
// (n mod batch) / n). Resuming training at step k needs nothing but k.
#include <ebm/core/types.hpp>

#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

namespace ebm {

/// A uniformly random permutation of 0..n-1: Fisher-Yates driven by CounterRng(seed, stream), a
/// pure function of (n, seed, stream). (Each swap index is a 64-bit word mapped to [0, i] by a
/// multiply-shift; the bias, at most i / 2^64, is far below anything measurable.)
std::vector<Index> seeded_permutation(Index n, std::uint64_t seed, std::uint64_t stream);

/// x -> (x - mean) / scale per column. scale is the column's standard deviation (population,
/// divisor N); a column whose sd is at most min_scale * max(1, |mean|) is constant for this
/// purpose and gets scale 1, so it is centred but not divided by (almost) zero.
template <class T>
struct Standardization {
  RowVec<T> mean;   // 1 x D
  RowVec<T> scale;  // 1 x D, all > 0
  std::vector<Index> constant_columns;  // columns whose spread is below min_scale: scale 1

  /// From data x (N x D, N >= 1, finite); statistics accumulated in double (rescaled when the
  /// values are so large that their squares overflow). Throws InvalidArgument naming the column
  /// when its mean or spread does not fit in T.
  static Standardization fit(const Mat<T>& x, T min_scale = T(1e-8));
  /// (x - mean) / scale: N x D -> N x D.
  Mat<T> apply(const Mat<T>& x) const;
  /// x * scale + mean: N x D -> N x D, the inverse of apply.
  Mat<T> invert(const Mat<T>& x) const;
};

template <class T>
struct Split {
  Mat<T> train, test;                        // rows of x, each part in the original order
  std::vector<Index> train_rows, test_rows;  // which rows of x (to split labels alike)
};

/// Splits the rows of x (N x D): the first round(test_fraction N) entries of
/// seeded_permutation(N, seed, kSplitStream) go to test, the rest to train. test_fraction in
/// [0, 1]. The stream keeps the split independent of a Batcher's epochs under the same seed.
inline constexpr std::uint64_t kSplitStream = std::uint64_t{1} << 63;
template <class T>
Split<T> split(const Mat<T>& x, double test_fraction, std::uint64_t seed);

/// The mini-batch schedule described at the top of this file.
class Batcher {
 public:
  /// n points, batches of `batch` (1 <= batch <= n).
  Batcher(Index n, Index batch, std::uint64_t seed);
  Batcher(const Batcher& other);
  Batcher& operator=(const Batcher& other);

  Index n() const { return n_; }
  Index batch() const { return batch_; }
  std::uint64_t seed() const { return seed_; }
  Index batches_per_epoch() const { return n_ / batch_; }
  /// The epoch step k belongs to (k >= 0).
  std::int64_t epoch(std::int64_t step) const;

  /// Row indices of step k's batch (batch values, distinct, in 0..n-1).
  std::vector<Index> indices(std::int64_t step) const;
  void indices(std::int64_t step, std::vector<Index>& out) const;

 private:
  Index n_, batch_;
  std::uint64_t seed_;
  // The last epoch's permutation, so consecutive steps do not reshuffle; guarded for use from
  // several threads. It is a cache only: results never depend on it.
  mutable std::mutex mutex_;
  mutable std::int64_t cached_epoch_ = -1;
  mutable std::vector<Index> cached_;
};

/// out = the rows of x (N x D) at `rows`, in that order: rows.size() x D. Throws
/// InvalidArgument for an index outside 0..N-1.
template <class T>
void gather_rows(const Mat<T>& x, std::span<const Index> rows, Mat<T>& out);

extern template struct Standardization<float>;
extern template struct Standardization<double>;
extern template Split<float> split<float>(const Mat<float>&, double, std::uint64_t);
extern template Split<double> split<double>(const Mat<double>&, double, std::uint64_t);
extern template void gather_rows<float>(const Mat<float>&, std::span<const Index>, Mat<float>&);
extern template void gather_rows<double>(const Mat<double>&, std::span<const Index>, Mat<double>&);

}  // namespace ebm
