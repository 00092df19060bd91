// Counter-based RNG: reproducibility, and the distribution of each kind of draw checked by
// moments (tolerances from their standard errors) and by the Kolmogorov-Smirnov statistic.
#include <ebm/core/parallel.hpp>
#include <ebm/core/rng.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace {

using ebm::CounterRng;

template <class T>
std::vector<T> draws(const char* kind, std::uint64_t seed, std::uint64_t stream, std::uint64_t counter, std::size_t n) {
  std::vector<T> out(n);
  const CounterRng rng(seed, stream);
  const std::string k = kind;
  if (k == "normal") rng.normal<T>(counter, out);
  else if (k == "uniform") rng.uniform<T>(counter, out);
  else rng.rademacher<T>(counter, out);
  return out;
}

// Kolmogorov-Smirnov statistic sup |F_n - F| of a sample against a CDF.
template <class T, class Cdf>
double ks_statistic(std::vector<T> x, Cdf cdf) {
  std::sort(x.begin(), x.end());
  const double n = static_cast<double>(x.size());
  double d = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double f = cdf(static_cast<double>(x[i]));
    d = std::max({d, f - static_cast<double>(i) / n, static_cast<double>(i + 1) / n - f});
  }
  return d;
}

// Critical value of the KS statistic at level 0.001 for large n: 1.949 / sqrt(n).
double ks_critical(std::size_t n) { return 1.949 / std::sqrt(static_cast<double>(n)); }

struct Moments {
  double mean = 0, var = 0, skew = 0, kurt = 0;
};
template <class T>
Moments moments(const std::vector<T>& x) {
  Moments m;
  const double n = static_cast<double>(x.size());
  for (T v : x) m.mean += static_cast<double>(v);
  m.mean /= n;
  double m2 = 0, m3 = 0, m4 = 0;
  for (T v : x) {
    const double d = static_cast<double>(v) - m.mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  m.var = m2 / n;
  m.skew = (m3 / n) / std::pow(m.var, 1.5);
  m.kurt = (m4 / n) / (m.var * m.var);
  return m;
}

template <class T>
class RngTyped : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RngTyped, Scalars);

TYPED_TEST(RngTyped, SameKeySameNumbers) {
  using T = TypeParam;
  for (const char* kind : {"normal", "uniform", "rademacher"}) {
    EXPECT_EQ(draws<T>(kind, 42, 3, 17, 1001), draws<T>(kind, 42, 3, 17, 1001)) << kind;
    // A prefix is the same draws: the i-th number does not depend on how many are asked for.
    const auto full = draws<T>(kind, 42, 3, 17, 1001), part = draws<T>(kind, 42, 3, 17, 13);
    EXPECT_TRUE(std::equal(part.begin(), part.end(), full.begin())) << kind;
    EXPECT_NE(draws<T>(kind, 42, 3, 17, 64), draws<T>(kind, 43, 3, 17, 64)) << kind << " seed";
    EXPECT_NE(draws<T>(kind, 42, 3, 17, 64), draws<T>(kind, 42, 4, 17, 64)) << kind << " stream";
    EXPECT_NE(draws<T>(kind, 42, 3, 17, 64), draws<T>(kind, 42, 3, 18, 64)) << kind << " counter";
  }
}

TYPED_TEST(RngTyped, SameNumbersForOneAndTwoThreads) {
  using T = TypeParam;
  const ebm::Index streams = 4096, per = 7;
  auto fill = [&](int threads) {
    ebm::set_num_threads(threads);
    std::vector<T> out(static_cast<std::size_t>(streams * per));
    ebm::parallel_for_chunks(streams, 64, [&](ebm::Index s0, ebm::Index s1) {
      for (ebm::Index s = s0; s < s1; ++s)
        CounterRng(5, static_cast<std::uint64_t>(s))
            .normal<T>(9, std::span<T>(out.data() + s * per, static_cast<std::size_t>(per)));
    });
    return out;
  };
  const auto one = fill(1), two = fill(2);
  EXPECT_EQ(one, two);
}

TYPED_TEST(RngTyped, NormalMomentsAndKolmogorovSmirnov) {
  using T = TypeParam;
  const std::size_t n = 400000;
  const auto x = draws<T>("normal", 2024, 0, 0, n);
  const Moments m = moments(x);
  const double sn = std::sqrt(static_cast<double>(n));
  // Standard errors for N(0,1): mean 1/sqrt(n), variance sqrt(2/n), skewness sqrt(6/n), kurtosis sqrt(24/n).
  EXPECT_LT(std::abs(m.mean), 4.0 / sn);
  EXPECT_LT(std::abs(m.var - 1), 4.0 * std::sqrt(2.0) / sn);
  EXPECT_LT(std::abs(m.skew), 4.0 * std::sqrt(6.0) / sn);
  EXPECT_LT(std::abs(m.kurt - 3), 4.0 * std::sqrt(24.0) / sn);
  const double d = ks_statistic(x, [](double v) { return 0.5 * std::erfc(-v / std::sqrt(2.0)); });
  EXPECT_LT(d, ks_critical(n));
}

TYPED_TEST(RngTyped, UniformIsOpenUnitIntervalAndUniform) {
  using T = TypeParam;
  const std::size_t n = 400000;
  const auto u = draws<T>("uniform", 77, 1, 2, n);
  for (T v : u) ASSERT_TRUE(v > T(0) && v < T(1)) << v;
  const Moments m = moments(u);
  const double sn = std::sqrt(static_cast<double>(n));
  EXPECT_LT(std::abs(m.mean - 0.5), 4.0 * std::sqrt(1.0 / 12) / sn);
  EXPECT_LT(std::abs(m.var - 1.0 / 12), 4.0 * std::sqrt(1.0 / 180) / sn);  // sd of the sample variance
  EXPECT_LT(ks_statistic(u, [](double v) { return v; }), ks_critical(n));
}

TYPED_TEST(RngTyped, RademacherIsPlusMinusOneEvenly) {
  using T = TypeParam;
  const std::size_t n = 400000;
  const auto r = draws<T>("rademacher", 11, 2, 3, n);
  double sum = 0;
  for (T v : r) {
    ASSERT_TRUE(v == T(1) || v == T(-1)) << v;
    sum += static_cast<double>(v);
  }
  EXPECT_LT(std::abs(sum / static_cast<double>(n)), 4.0 / std::sqrt(static_cast<double>(n)));
}

TYPED_TEST(RngTyped, StreamsAreUncorrelated) {
  using T = TypeParam;
  const std::size_t n = 200000;
  const auto a = draws<T>("normal", 1, 0, 0, n), b = draws<T>("normal", 1, 1, 0, n),
             c = draws<T>("normal", 1, 0, 1, n);
  double ab = 0, ac = 0;
  for (std::size_t i = 0; i < n; ++i) {
    ab += static_cast<double>(a[i]) * static_cast<double>(b[i]);
    ac += static_cast<double>(a[i]) * static_cast<double>(c[i]);
  }
  const double bound = 4.0 / std::sqrt(static_cast<double>(n));
  EXPECT_LT(std::abs(ab / static_cast<double>(n)), bound);
  EXPECT_LT(std::abs(ac / static_cast<double>(n)), bound);
}

}  // namespace
