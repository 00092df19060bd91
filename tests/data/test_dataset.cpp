// Standardisation, seeded permutations and splits, the stateless Batcher, and gather_rows:
// exactness where it is exact, uniformity of the permutations (positions counted over many
// streams, within 5 binomial sd), the Batcher's purity (any order of calls, copies, huge steps),
// its epochs (distinct points, drop-last), and argument errors.
#include <ebm/core/error.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/data/dataset.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <set>
#include <thread>
#include <vector>

#include "data/util.hpp"

namespace {

using ebm::Batcher;
using ebm::Index;
using ebm::MatD;
using ebm::MatF;

bool is_permutation_of_n(std::vector<Index> p, Index n) {
  if (static_cast<Index>(p.size()) != n) return false;
  std::sort(p.begin(), p.end());
  for (Index i = 0; i < n; ++i) {
    if (p[static_cast<std::size_t>(i)] != i) return false;
  }
  return true;
}

TEST(Permutation, IsAPermutationReproducibleAndUniform) {
  for (Index n : {0, 1, 2, 7, 1000}) EXPECT_TRUE(is_permutation_of_n(ebm::seeded_permutation(n, 3, 0), n));
  EXPECT_EQ(ebm::seeded_permutation(100, 3, 5), ebm::seeded_permutation(100, 3, 5));
  EXPECT_NE(ebm::seeded_permutation(100, 3, 5), ebm::seeded_permutation(100, 3, 6));
  EXPECT_NE(ebm::seeded_permutation(100, 3, 5), ebm::seeded_permutation(100, 4, 5));
  // Element e lands at position p with probability 1/n: counts over 20000 streams, n = 5.
  constexpr Index n = 5, trials = 20000;
  std::vector<Index> count(n * n, 0);
  for (Index s = 0; s < trials; ++s) {
    const auto p = ebm::seeded_permutation(n, 11, static_cast<std::uint64_t>(s));
    for (Index pos = 0; pos < n; ++pos) ++count[static_cast<std::size_t>(p[static_cast<std::size_t>(pos)] * n + pos)];
  }
  const double expected = static_cast<double>(trials) / n;
  const double sd = std::sqrt(trials * (1.0 / n) * (1 - 1.0 / n));
  for (Index c : count) EXPECT_LT(std::abs(static_cast<double>(c) - expected), 5 * sd) << c;
  EXPECT_ERROR(ebm::InvalidArgument, ebm::seeded_permutation(-1, 0, 0), "seeded_permutation", "-1");
}

TEST(Standardization, CentresAndScalesAndInverts) {
  MatD x(1000, 3);
  const ebm::CounterRng rng(1, 0);
  std::vector<double> z(3000);
  rng.normal<double>(0, z);
  for (Index i = 0; i < 1000; ++i) {
    x(i, 0) = 5 + 3 * z[static_cast<std::size_t>(3 * i)];
    x(i, 1) = -1e3 + 1e-3 * z[static_cast<std::size_t>(3 * i + 1)];  // large mean, small spread
    x(i, 2) = 7.25;                                                  // constant
  }
  const auto s = ebm::Standardization<double>::fit(x);
  EXPECT_EQ(s.scale(2), 1.0);  // constant: centred only
  EXPECT_EQ(s.mean(2), 7.25);
  const MatD y = s.apply(x);
  for (Index j = 0; j < 2; ++j) {
    EXPECT_NEAR(y.col(j).mean(), 0, 1e-9);
    EXPECT_NEAR(std::sqrt(y.col(j).squaredNorm() / 1000), 1, 1e-9);  // population sd
  }
  EXPECT_EQ(y.col(2), Eigen::VectorXd::Zero(1000));
  EXPECT_LT((s.invert(y) - x).cwiseAbs().maxCoeff(), 1e-9);
  // Spread below min_scale relative to the mean (1e6 + 1e-6 z: 1e-12 relative) counts as constant.
  MatD almost(1000, 1);
  for (Index i = 0; i < 1000; ++i) almost(i, 0) = 1e6 + 1e-6 * z[static_cast<std::size_t>(i)];
  EXPECT_EQ(ebm::Standardization<double>::fit(almost).scale(0), 1.0);
  // float data: statistics accumulated in double, results within float rounding.
  const MatF xf = x.leftCols(1).cast<float>();
  const auto sf = ebm::Standardization<float>::fit(xf);
  EXPECT_NEAR(sf.apply(xf).cast<double>().mean(), 0, 1e-6);
  EXPECT_ERROR(ebm::InvalidArgument, ebm::Standardization<double>::fit(MatD(0, 3)), "Standardization::fit", "0x3");
  EXPECT_ERROR(ebm::InvalidArgument, s.apply(MatD(2, 4)), "Standardization::apply", "2x4");
  EXPECT_ERROR(ebm::InvalidArgument, s.invert(MatD(2, 2)), "Standardization::invert", "2x2");
  MatD bad = x;
  bad(3, 1) = std::numeric_limits<double>::infinity();
  EXPECT_ERROR(ebm::NumericalError, ebm::Standardization<double>::fit(bad), "row 3, column 1");
}

TEST(Split, PartitionsTheRowsReproducibly) {
  MatD x(101, 2);
  for (Index i = 0; i < 101; ++i) x.row(i) << static_cast<double>(i), -static_cast<double>(i);
  const auto s = ebm::split<double>(x, 0.2, 42);
  EXPECT_EQ(s.test.rows(), 20);  // round(20.2)
  EXPECT_EQ(s.train.rows(), 81);
  std::vector<Index> all = s.train_rows;
  all.insert(all.end(), s.test_rows.begin(), s.test_rows.end());
  EXPECT_TRUE(is_permutation_of_n(all, 101));
  EXPECT_TRUE(std::is_sorted(s.test_rows.begin(), s.test_rows.end()));
  for (std::size_t k = 0; k < s.test_rows.size(); ++k) EXPECT_EQ(s.test(static_cast<Index>(k), 0), s.test_rows[k]);
  const auto again = ebm::split<double>(x, 0.2, 42);
  EXPECT_EQ(again.test_rows, s.test_rows);
  EXPECT_NE(ebm::split<double>(x, 0.2, 43).test_rows, s.test_rows);
  EXPECT_EQ(ebm::split<double>(x, 0, 1).test.rows(), 0);
  EXPECT_EQ(ebm::split<double>(x, 1, 1).train.rows(), 0);
  EXPECT_ERROR(ebm::InvalidArgument, ebm::split<double>(x, 1.5, 1), "split", "test_fraction", "1.5");
  EXPECT_ERROR(ebm::InvalidArgument, ebm::split<double>(x, std::nan(""), 1), "split", "test_fraction");
}

TEST(Batcher, BatchesArePureFunctionsOfSeedAndStep) {
  const Batcher b(103, 10, 9);  // 10 batches per epoch, 3 points skipped per epoch
  EXPECT_EQ(b.batches_per_epoch(), 10);
  std::vector<std::vector<Index>> forward;
  for (std::int64_t k = 0; k < 35; ++k) forward.push_back(b.indices(k));
  // A fresh batcher, called in reverse and interleaved order, gives the same batches.
  const Batcher c(103, 10, 9);
  for (std::int64_t k = 34; k >= 0; k -= 3) EXPECT_EQ(c.indices(k), forward[static_cast<std::size_t>(k)]);
  const Batcher copy = b;
  EXPECT_EQ(copy.indices(17), forward[17]);
  EXPECT_NE(Batcher(103, 10, 10).indices(0), forward[0]);
  // Each epoch: 100 distinct points; consecutive epochs in different orders.
  for (int e = 0; e < 3; ++e) {
    std::set<Index> seen;
    for (int k = 0; k < 10; ++k) {
      const auto& batch = forward[static_cast<std::size_t>(e * 10 + k)];
      ASSERT_EQ(batch.size(), 10u);
      for (Index i : batch) {
        EXPECT_TRUE(i >= 0 && i < 103);
        seen.insert(i);
      }
    }
    EXPECT_EQ(seen.size(), 100u) << "epoch " << e;
    EXPECT_EQ(b.epoch(e * 10), e);
    EXPECT_EQ(b.epoch(e * 10 + 9), e);
  }
  EXPECT_NE(forward[0], forward[10]);
  // Resuming far into training needs nothing but the step.
  const std::int64_t far = 1000000000000LL;
  EXPECT_EQ(b.epoch(far), far / 10);
  EXPECT_EQ(b.indices(far), Batcher(103, 10, 9).indices(far));
  // The documented definition: slice (step mod 10) of epoch (step / 10)'s permutation.
  const auto perm = ebm::seeded_permutation(103, 9, static_cast<std::uint64_t>(far / 10));
  const auto first = static_cast<std::ptrdiff_t>((far % 10) * 10);
  EXPECT_EQ(b.indices(far), std::vector<Index>(perm.begin() + first, perm.begin() + first + 10));
  // batch == n: every step is a whole epoch.
  EXPECT_TRUE(is_permutation_of_n(Batcher(7, 7, 1).indices(3), 7));
  // Concurrent use of one batcher (two threads alternating epochs): the same answers.
  std::atomic<int> wrong{0};
  auto worker = [&](int offset) {
    for (int r = 0; r < 60; ++r) {
      const std::int64_t k = offset + 10 * (r % 3);
      if (b.indices(k) != forward[static_cast<std::size_t>(k)]) ++wrong;
    }
  };
  std::thread t1(worker, 5), t2(worker, 6);
  t1.join();
  t2.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_ERROR(ebm::InvalidArgument, Batcher(10, 11, 0), "Batcher", "batch = 11", "n = 10");
  EXPECT_ERROR(ebm::InvalidArgument, Batcher(10, 0, 0), "Batcher", "batch = 0");
  EXPECT_ERROR(ebm::InvalidArgument, b.indices(-1), "Batcher", "step = -1");
}

TEST(GatherRows, CopiesTheRowsAndChecksIndices) {
  MatF x(4, 2);
  x << 0, 1, 2, 3, 4, 5, 6, 7;
  MatF out;
  const std::vector<Index> rows = {3, 0, 3};
  ebm::gather_rows<float>(x, rows, out);
  EXPECT_EQ(out, (MatF(3, 2) << 6, 7, 0, 1, 6, 7).finished());
  ebm::gather_rows<float>(x, rows, x);  // in place
  EXPECT_EQ(x, out);
  const std::vector<Index> bad = {0, 4};
  EXPECT_ERROR(ebm::InvalidArgument, ebm::gather_rows<float>(out, bad, x), "gather_rows", "index 4", "position 1");
}

}  // namespace

namespace {

TEST(Standardization, HugeValuesDoNotOverflowTheScaleAndConstantColumnsAreListed) {
  // Squares of 1e300 overflow double: the spread is computed on rescaled values instead.
  ebm::MatD x(4, 3);
  x << 1e300, 7, 1, -1e300, 7, 2, 5e299, 7, 3, -5e299, 7, 4;
  const auto s = ebm::Standardization<double>::fit(x);
  EXPECT_TRUE(s.scale.allFinite()) << s.scale;
  EXPECT_NEAR(s.scale(0) / 7.905694150420948e299, 1.0, 1e-12);  // sqrt((2 + 0.5) / 4) * 1e300
  EXPECT_TRUE(s.apply(x).allFinite());
  EXPECT_EQ(s.constant_columns, (std::vector<ebm::Index>{1}));
  EXPECT_EQ(s.scale(1), 1.0);
}

}  // namespace
