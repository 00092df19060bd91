#include <ebm/core/check.hpp>
#include <ebm/core/error.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/data/dataset.hpp>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <sstream>
#include <numeric>
#include <string>

namespace ebm {
namespace {

// The counter at which permutations draw, apart from the counters other users of a stream take.
__extension__ typedef unsigned __int128 U128;  // for the multiply-shift below

constexpr std::uint64_t kPermutationCounter = 0x5045524d00000000ull;  // "PERM"

}  // namespace

std::vector<Index> seeded_permutation(Index n, std::uint64_t seed, std::uint64_t stream) {
  if (n < 0) throw InvalidArgument("seeded_permutation: n = " + std::to_string(n) + ", must be >= 0");
  std::vector<Index> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), Index{0});
  const CounterRng rng(seed, stream);
  std::uint64_t words[4];
  std::uint64_t w = 0;  // words used so far
  for (Index i = n - 1; i >= 1; --i, ++w) {
    if (w % 4 == 0) rng.raw_block(kPermutationCounter, w / 4, words);
    const auto j = static_cast<Index>((static_cast<U128>(words[w % 4]) * static_cast<U128>(i + 1)) >> 64);
    std::swap(p[static_cast<std::size_t>(i)], p[static_cast<std::size_t>(j)]);
  }
  return p;
}

template <class T>
Standardization<T> Standardization<T>::fit(const Mat<T>& x, T min_scale) {
  constexpr const char* where = "Standardization::fit";
  if (x.rows() < 1) throw InvalidArgument(std::string(where) + ": x has shape " + shape_str(x) + ", needs >= 1 row");
  if (!(min_scale >= T(0)) || !std::isfinite(min_scale)) {
    throw InvalidArgument(std::string(where) + ": min_scale = " + std::to_string(min_scale) + ", must be >= 0");
  }
  require_finite(x, where, "x");
  const Index n = x.rows(), d = x.cols();
  Standardization s;
  s.mean.resize(d);
  s.scale.resize(d);
  for (Index j = 0; j < d; ++j) {
    // Moments of x / unit, unit = 1 unless the squares (or the sum) would overflow.
    auto moments = [&](double unit) {
      double sum = 0;
      for (Index i = 0; i < n; ++i) sum += static_cast<double>(x(i, j)) / unit;
      const double mean = sum / static_cast<double>(n);
      double ss = 0;
      for (Index i = 0; i < n; ++i) {
        const double dev = static_cast<double>(x(i, j)) / unit - mean;
        ss += dev * dev;
      }
      return std::pair<double, double>(mean * unit, std::sqrt(ss / static_cast<double>(n)) * unit);
    };
    auto [mean, sd] = moments(1.0);
    if (!std::isfinite(mean) || !std::isfinite(sd)) {
      double largest = 0;
      for (Index i = 0; i < n; ++i) largest = std::max(largest, std::abs(static_cast<double>(x(i, j))));
      std::tie(mean, sd) = moments(largest);
    }
    if (!std::isfinite(static_cast<T>(mean)) || !std::isfinite(static_cast<T>(sd))) {
      std::ostringstream m;
      m << where << ": column " << j << " has mean " << mean << " and spread " << sd << ", beyond the range of "
        << (sizeof(T) == 4 ? "float32" : "float64") << "; rescale the data (or use --float64)";
      throw InvalidArgument(m.str());
    }
    s.mean(j) = static_cast<T>(mean);
    const bool constant = sd <= static_cast<double>(min_scale) * std::max(1.0, std::abs(mean));
    s.scale(j) = constant ? T(1) : static_cast<T>(sd);
    if (constant) s.constant_columns.push_back(j);
  }
  return s;
}

template <class T>
Mat<T> Standardization<T>::apply(const Mat<T>& x) const {
  require_shape(x, -1, mean.cols(), "Standardization::apply", "x");
  return (x.rowwise() - mean).array().rowwise() / scale.array();
}

template <class T>
Mat<T> Standardization<T>::invert(const Mat<T>& x) const {
  require_shape(x, -1, mean.cols(), "Standardization::invert", "x");
  return (x.array().rowwise() * scale.array()).matrix().rowwise() + mean;
}

template <class T>
Split<T> split(const Mat<T>& x, double test_fraction, std::uint64_t seed) {
  if (!(test_fraction >= 0 && test_fraction <= 1)) {
    throw InvalidArgument("split: test_fraction = " + std::to_string(test_fraction) + ", must be in [0, 1]");
  }
  const Index n = x.rows();
  const auto n_test = static_cast<Index>(std::llround(test_fraction * static_cast<double>(n)));
  const std::vector<Index> perm = seeded_permutation(n, seed, kSplitStream);
  Split<T> s;
  s.test_rows.assign(perm.begin(), perm.begin() + n_test);
  s.train_rows.assign(perm.begin() + n_test, perm.end());
  std::sort(s.test_rows.begin(), s.test_rows.end());
  std::sort(s.train_rows.begin(), s.train_rows.end());
  gather_rows<T>(x, s.train_rows, s.train);
  gather_rows<T>(x, s.test_rows, s.test);
  return s;
}

Batcher::Batcher(Index n, Index batch, std::uint64_t seed) : n_(n), batch_(batch), seed_(seed) {
  if (n < 1 || batch < 1 || batch > n) {
    throw InvalidArgument("Batcher: batch = " + std::to_string(batch) + " with n = " + std::to_string(n) +
                          " points; needs 1 <= batch <= n");
  }
}

Batcher::Batcher(const Batcher& other) : n_(other.n_), batch_(other.batch_), seed_(other.seed_) {
  const std::lock_guard lock(other.mutex_);
  cached_epoch_ = other.cached_epoch_;
  cached_ = other.cached_;
}

Batcher& Batcher::operator=(const Batcher& other) {
  if (this == &other) return *this;
  std::scoped_lock lock(mutex_, other.mutex_);
  n_ = other.n_;
  batch_ = other.batch_;
  seed_ = other.seed_;
  cached_epoch_ = other.cached_epoch_;
  cached_ = other.cached_;
  return *this;
}

std::int64_t Batcher::epoch(std::int64_t step) const {
  if (step < 0) throw InvalidArgument("Batcher: step = " + std::to_string(step) + ", must be >= 0");
  return step / batches_per_epoch();
}

void Batcher::indices(std::int64_t step, std::vector<Index>& out) const {
  const std::int64_t e = epoch(step);
  const Index first = (step % batches_per_epoch()) * batch_;
  const std::lock_guard lock(mutex_);
  if (e != cached_epoch_) {
    cached_ = seeded_permutation(n_, seed_, static_cast<std::uint64_t>(e));
    cached_epoch_ = e;
  }
  out.assign(cached_.begin() + first, cached_.begin() + first + batch_);
}

std::vector<Index> Batcher::indices(std::int64_t step) const {
  std::vector<Index> out;
  indices(step, out);
  return out;
}

template <class T>
void gather_rows(const Mat<T>& x, std::span<const Index> rows, Mat<T>& out) {
  for (std::size_t k = 0; k < rows.size(); ++k) {
    if (rows[k] < 0 || rows[k] >= x.rows()) {
      throw InvalidArgument("gather_rows: index " + std::to_string(rows[k]) + " at position " + std::to_string(k) +
                            " is outside the " + std::to_string(x.rows()) + " rows of x");
    }
  }
  if (&out == &x) {  // resizing out would destroy x
    Mat<T> tmp;
    gather_rows<T>(x, rows, tmp);
    out.swap(tmp);
    return;
  }
  out.resize(static_cast<Index>(rows.size()), x.cols());
  for (std::size_t k = 0; k < rows.size(); ++k) out.row(static_cast<Index>(k)) = x.row(rows[k]);
}

template struct Standardization<float>;
template struct Standardization<double>;
template Split<float> split<float>(const Mat<float>&, double, std::uint64_t);
template Split<double> split<double>(const Mat<double>&, double, std::uint64_t);
template void gather_rows<float>(const Mat<float>&, std::span<const Index>, Mat<float>&);
template void gather_rows<double>(const Mat<double>&, std::span<const Index>, Mat<double>&);

}  // namespace ebm
