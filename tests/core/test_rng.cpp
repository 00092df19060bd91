// Counter-based RNG: reproducibility (a draw depends on neither the request length, nor where
// the output lies, nor the thread), and the distribution of each kind of draw checked by moments,
// tail counts and correlations (tolerances from their standard errors) and by the
// Kolmogorov-Smirnov statistic.
#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/core/rng.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
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
  // Continuous draws under another seed, stream or counter differ at every index (a chance
  // equality among these 4000 comparisons has probability well below 1e-3).
  const auto base = draws<T>("normal", 42, 3, 17, 1000);
  for (const auto& other : {draws<T>("normal", 43, 3, 17, 1000), draws<T>("normal", 42, 4, 17, 1000),
                            draws<T>("normal", 42, 3, 18, 1000), draws<T>("normal", 42, 2, 17, 1000)})
    for (std::size_t i = 0; i < base.size(); ++i) ASSERT_NE(base[i], other[i]) << i;
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

// Draw i is a function of (seed, stream, counter, i) alone: the same for every request length
// (the normal transform runs over padded packets and chunks of pairs, so lengths around packet,
// block and chunk sizes matter) and wherever the output lies in memory.
TYPED_TEST(RngTyped, DrawDoesNotDependOnRequestLengthOrAddress) {
  using T = TypeParam;
  const std::size_t longest = 5000;
  std::vector<std::size_t> lengths;
  for (std::size_t n = 1; n <= 70; ++n) lengths.push_back(n);
  for (std::size_t n : {127, 128, 129, 255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 1535, 3001, 4999})
    lengths.push_back(n);
  for (const char* kind : {"normal", "uniform", "rademacher"}) {
    const auto full = draws<T>(kind, 8, 6, 31, longest);
    for (std::size_t n : lengths) {
      const auto part = draws<T>(kind, 8, 6, 31, n);
      ASSERT_TRUE(std::equal(part.begin(), part.end(), full.begin())) << kind << " n=" << n;
    }
    // Output at every offset within a cache line, for a short and a long request.
    std::vector<T> buf(longest + 16);
    for (std::size_t n : {std::size_t{3}, std::size_t{37}, longest})
      for (std::size_t off = 0; off < 16; ++off) {
        const std::span<T> out(buf.data() + off, n);
        const CounterRng rng(8, 6);
        const std::string k = kind;
        if (k == "normal") rng.normal<T>(31, out);
        else if (k == "uniform") rng.uniform<T>(31, out);
        else rng.rademacher<T>(31, out);
        ASSERT_TRUE(std::equal(out.begin(), out.end(), full.begin())) << kind << " n=" << n << " offset=" << off;
      }
  }
}

// normal_rows gives row i exactly the draws of a call for stream + i, for short and long rows
// and row counts that split the pairs across the internal chunks at varied places.
TYPED_TEST(RngTyped, NormalRowsMatchOneCallPerStream) {
  using T = TypeParam;
  for (std::size_t cols : {1, 2, 3, 7, 8, 9, 33, 600}) {
    for (std::size_t rows : {1, 5, 300, 1001}) {
      std::vector<T> batch(rows * cols);
      CounterRng(12, 40).normal_rows<T>(77, cols, batch);
      for (std::size_t i = 0; i < rows; ++i) {
        const auto one = draws<T>("normal", 12, 40 + i, 77, cols);
        ASSERT_TRUE(std::equal(one.begin(), one.end(), batch.begin() + static_cast<std::ptrdiff_t>(i * cols)))
            << "cols=" << cols << " rows=" << rows << " row " << i;
      }
    }
  }
  std::vector<T> bad(10);
  EXPECT_THROW(CounterRng(1, 0).normal_rows<T>(0, 3, bad), ebm::InvalidArgument);
  EXPECT_THROW(CounterRng(1, 0).normal_rows<T>(0, 0, bad), ebm::InvalidArgument);
}

// normal_steps gives row i exactly the draws of a call at counter + i.
TYPED_TEST(RngTyped, NormalStepsMatchOneCallPerCounter) {
  using T = TypeParam;
  for (std::size_t cols : {1, 2, 3, 8, 33}) {
    for (std::size_t rows : {1, 64, 301}) {
      std::vector<T> batch(rows * cols);
      CounterRng(12, 40).normal_steps<T>(77, cols, batch);
      for (std::size_t i = 0; i < rows; ++i) {
        const auto one = draws<T>("normal", 12, 40, 77 + i, cols);
        ASSERT_TRUE(std::equal(one.begin(), one.end(), batch.begin() + static_cast<std::ptrdiff_t>(i * cols)))
            << "cols=" << cols << " rows=" << rows << " row " << i;
      }
    }
  }
  std::vector<T> bad(10);
  EXPECT_THROW(CounterRng(1, 0).normal_steps<T>(0, 3, bad), ebm::InvalidArgument);
}

// Each position of a Box-Muller pair (r sin theta at even i, r cos theta at odd i) is N(0, 1):
// moments against their standard errors at 4 SE, and the Kolmogorov-Smirnov statistic.
TYPED_TEST(RngTyped, NormalMomentsAndKolmogorovSmirnov) {
  using T = TypeParam;
  const std::size_t n = 1000000;
  const auto x = draws<T>("normal", 2024, 0, 0, n);
  std::vector<T> even, odd;
  for (std::size_t i = 0; i < n; ++i) (i % 2 ? odd : even).push_back(x[i]);
  for (const std::vector<T>* s : std::array<const std::vector<T>*, 3>{&x, &even, &odd}) {
    const Moments m = moments(*s);
    const double sn = std::sqrt(static_cast<double>(s->size()));
    // Standard errors for N(0,1): mean 1/sqrt(n), variance sqrt(2/n), skewness sqrt(6/n), kurtosis sqrt(24/n).
    EXPECT_LT(std::abs(m.mean), 4.0 / sn) << s->size();
    EXPECT_LT(std::abs(m.var - 1), 4.0 * std::sqrt(2.0) / sn) << s->size();
    EXPECT_LT(std::abs(m.skew), 4.0 * std::sqrt(6.0) / sn) << s->size();
    EXPECT_LT(std::abs(m.kurt - 3), 4.0 * std::sqrt(24.0) / sn) << s->size();
    const double d = ks_statistic(*s, [](double v) { return 0.5 * std::erfc(-v / std::sqrt(2.0)); });
    EXPECT_LT(d, ks_critical(s->size())) << s->size();
  }
}

// Tail frequencies: counts beyond 3 and 4 sigma are binomial(n, p) with p = P(|Z| > k), checked
// within 4 standard deviations sqrt(n p (1 - p)) (n = 1e6: 2699.8 +- 4 * 52 and 63.3 +- 4 * 8.0).
TYPED_TEST(RngTyped, NormalTails) {
  using T = TypeParam;
  const std::size_t n = 1000000;
  const auto x = draws<T>("normal", 99, 5, 7, n);
  for (double k : {3.0, 4.0}) {
    const double p = std::erfc(k / std::sqrt(2.0));
    const auto count = std::count_if(x.begin(), x.end(), [&](T v) { return std::abs(static_cast<double>(v)) > k; });
    const double expected = static_cast<double>(n) * p, sd = std::sqrt(expected * (1 - p));
    EXPECT_LT(std::abs(static_cast<double>(count) - expected), 4.0 * sd) << "beyond " << k << " sigma: " << count;
  }
  for (T v : x) ASSERT_TRUE(std::isfinite(v)) << v;
}

// The two halves of a pair share one radius and complementary angles; they must still be
// independent: correlation of z1 and z2, of z1^2 and z2^2 (a shared radius would show here), and
// of |z1| and |z2|, each within 4 SE (1/sqrt(pairs) under independence).
TYPED_TEST(RngTyped, NormalPairHalvesAreIndependent) {
  using T = TypeParam;
  const std::size_t pairs = 500000;
  const auto x = draws<T>("normal", 3, 1, 4, 2 * pairs);
  auto corr = [&](auto f) {
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
    for (std::size_t p = 0; p < pairs; ++p) {
      const double a = f(static_cast<double>(x[2 * p])), b = f(static_cast<double>(x[2 * p + 1]));
      sa += a, sb += b, saa += a * a, sbb += b * b, sab += a * b;
    }
    const double np = static_cast<double>(pairs), ma = sa / np, mb = sb / np;
    return (sab / np - ma * mb) / std::sqrt((saa / np - ma * ma) * (sbb / np - mb * mb));
  };
  const double bound = 4.0 / std::sqrt(static_cast<double>(pairs));
  EXPECT_LT(std::abs(corr([](double v) { return v; })), bound);
  EXPECT_LT(std::abs(corr([](double v) { return v * v; })), bound);
  EXPECT_LT(std::abs(corr([](double v) { return std::abs(v); })), bound);
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
