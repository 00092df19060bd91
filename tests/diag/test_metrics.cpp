// Sample metrics in float64 with fixed seeds: MMD against an O(N^2) brute force and under the
// null, the median heuristic, histogram KL / TV against closed forms, cell masses of a density,
// and the Fisher divergence between Gaussian scores. Measured numbers print as [ measured ].
#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/diag/metrics.hpp>
#include <ebm/energy/analytic.hpp>

#include <gtest/gtest.h>

#include <Eigen/LU>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <numbers>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace {

using ebm_test::measured;
using ebm_test::expect_throws_with;

using ebm::Index;
using ebm::MatD;
using RowVecD = ebm::RowVec<double>;
using VecD = ebm::Vec<double>;

// n draws of N(shift, I) in d dimensions; row i from CounterRng(seed, i).
MatD normals(Index n, Index d, std::uint64_t seed, double shift = 0) {
  MatD x(n, d);
  std::vector<double> z(static_cast<std::size_t>(d));
  for (Index i = 0; i < n; ++i) {
    ebm::CounterRng(seed, static_cast<std::uint64_t>(i)).normal<double>(0, z);
    for (Index j = 0; j < d; ++j) x(i, j) = z[j] + shift;
  }
  return x;
}

double k(const MatD& a, Index i, const MatD& b, Index j, double h) {
  return std::exp(-(a.row(i) - b.row(j)).squaredNorm() / (2 * h * h));
}

// The textbook estimators, term by term.
double brute_mmd2(const MatD& x, const MatD& y, double h, bool unbiased) {
  const double n = double(x.rows()), m = double(y.rows());
  double sxx = 0, syy = 0, sxy = 0;
  for (Index i = 0; i < x.rows(); ++i)
    for (Index j = 0; j < x.rows(); ++j)
      if (!unbiased || i != j) sxx += k(x, i, x, j, h);
  for (Index i = 0; i < y.rows(); ++i)
    for (Index j = 0; j < y.rows(); ++j)
      if (!unbiased || i != j) syy += k(y, i, y, j, h);
  for (Index i = 0; i < x.rows(); ++i)
    for (Index j = 0; j < y.rows(); ++j) sxy += k(x, i, y, j, h);
  return unbiased ? sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2 * sxy / (n * m)
                  : sxx / (n * n) + syy / (m * m) - 2 * sxy / (n * m);
}

double brute_median(const MatD& z) {
  std::vector<double> d;
  for (Index i = 0; i < z.rows(); ++i)
    for (Index j = i + 1; j < z.rows(); ++j) d.push_back((z.row(i) - z.row(j)).norm());
  std::sort(d.begin(), d.end());
  const std::size_t n = d.size();
  return n % 2 ? d[n / 2] : 0.5 * (d[n / 2 - 1] + d[n / 2]);
}

// ----- MMD -----

// Sums of up to ~3e6 kernel values in [0, 1] in different orders: rounding ~1e-16 relative
// per sum, so 1e-12 absolute on mmd2 is generous. Sizes 1500 x 1100 span several of the
// implementation's blocks (1024 columns, 64 rows).
TEST(Mmd, MatchesBruteForce) {
  const MatD x = normals(1500, 3, 1), y = normals(1100, 3, 2, 0.3);
  const MatD xs = x.topRows(30), ys = y.topRows(40);
  double worst = 0;
  for (bool unbiased : {true, false}) {
    ebm::MmdOptions o;
    o.unbiased = unbiased;
    o.bandwidth = 1.3;
    for (const auto& [a, b] : {std::pair{&xs, &ys}, std::pair{&x, &y}}) {
      const auto r = ebm::mmd(*a, *b, o);
      const double err = std::fabs(r.mmd2 - brute_mmd2(*a, *b, 1.3, unbiased));
      worst = std::max(worst, err);
      EXPECT_LT(err, 1e-12) << a->rows() << " x " << b->rows() << (unbiased ? " unbiased" : " biased");
    }
    o.bandwidth = 0;
    MatD pooled(70, 3);
    pooled << xs, ys;
    const auto r = ebm::mmd(xs, ys, o);
    EXPECT_EQ(r.bandwidth, brute_median(pooled));
    EXPECT_LT(std::fabs(r.mmd2 - brute_mmd2(xs, ys, r.bandwidth, unbiased)), 1e-12);
  }
  measured("mmd vs brute force, max |difference|", worst);
}

// Over 1000 pooled points the heuristic uses rows floor(k P / 1000) of the pool.
TEST(Mmd, MedianHeuristicSubsample) {
  const MatD x = normals(700, 2, 3), y = normals(900, 2, 4, 1.0);
  MatD pooled(1600, 2), sub(1000, 2);
  pooled << x, y;
  for (Index k = 0; k < 1000; ++k) sub.row(k) = pooled.row(k * 1600 / 1000);
  EXPECT_EQ(ebm::median_pairwise_distance(x, y), brute_median(sub));
  MatD small(5, 2);
  small << 0, 0, 1, 0, 0, 2, 3, 3, 1, 1;
  EXPECT_EQ(ebm::median_pairwise_distance(MatD(small.topRows(2)), MatD(small.bottomRows(3)), 10), brute_median(small));
}

// Under the null (both samples from N(0, I), 2-D, n = 300) the unbiased estimate has mean 0:
// the mean of 30 replicates lies within 4 standard errors of 0. A 0.5 shift gives values far
// outside the null's spread (> 10 sd). Identical sets: mmd2_u = 2 (S - N^2) / (N^2 (N - 1)) in
// [-2/(N-1), 0] and the biased one is 0 up to rounding.
TEST(Mmd, NullAndAlternative) {
  std::vector<double> null;
  for (std::uint64_t r = 0; r < 30; ++r) null.push_back(ebm::mmd(normals(300, 2, 100 + r), normals(300, 2, 200 + r)).mmd2);
  double mean = 0, var = 0;
  for (double v : null) mean += v / 30;
  for (double v : null) var += (v - mean) * (v - mean) / 29;
  const double sd = std::sqrt(var);
  const double alt = ebm::mmd(normals(300, 2, 300), normals(300, 2, 301, 0.5)).mmd2;
  measured("null mmd2: mean of 30", mean);
  measured("null mmd2: sd", sd);
  measured("shift 0.5: mmd2", alt);
  EXPECT_LT(std::fabs(mean), 4 * sd / std::sqrt(30.0));
  EXPECT_GT(alt, mean + 10 * sd);

  const MatD x = normals(200, 2, 5);
  const double same = ebm::mmd(x, x).mmd2;
  EXPECT_LE(same, 0.0);
  EXPECT_GE(same, -2.0 / 199);
  ebm::MmdOptions biased;
  biased.unbiased = false;
  EXPECT_NEAR(ebm::mmd(x, x, biased).mmd2, 0.0, 1e-14);
}

TEST(Mmd, ThreadsFloatAndErrors) {
  const MatD x = normals(900, 2, 6), y = normals(800, 2, 7, 0.2);
  const int saved = ebm::num_threads();
  ebm::set_num_threads(1);
  const double a = ebm::mmd(x, y).mmd2;
  ebm::set_num_threads(2);
  const double b = ebm::mmd(x, y).mmd2;
  ebm::set_num_threads(saved);
  EXPECT_EQ(a, b);
  // float input is widened to double: the same as the double of the rounded data.
  const ebm::MatF xf = x.cast<float>(), yf = y.cast<float>();
  EXPECT_EQ(ebm::mmd(xf, yf).mmd2, ebm::mmd(MatD(xf.cast<double>()), MatD(yf.cast<double>())).mmd2);

  expect_throws_with<ebm::InvalidArgument>([&] { ebm::mmd(x, MatD(MatD::Zero(5, 3))); },
                                           "mmd: x has shape 900x2 and y 5x3: different dimensions");
  expect_throws_with<ebm::InvalidArgument>([&] { ebm::mmd(x, MatD(MatD::Zero(1, 2))); }, "y has shape 1x2, needs at least 2 rows");
  ebm::MmdOptions o;
  o.bandwidth = -1;
  expect_throws_with<ebm::InvalidArgument>([&] { ebm::mmd(x, y, o); }, "MmdOptions: bandwidth must be >= 0");
}

// ----- histograms -----

ebm::GridHistogramOptions line4() {
  ebm::GridHistogramOptions o;
  o.lower = {0};
  o.upper = {4};
  o.bins = {4};
  return o;
}

MatD points_1d(const std::vector<std::pair<double, int>>& at) {
  std::vector<double> v;
  for (auto [x, n] : at)
    for (int i = 0; i < n; ++i) v.push_back(x);
  return Eigen::Map<MatD>(v.data(), static_cast<Index>(v.size()), 1);
}

// Reference uniform over 4 cells, samples (3, 3, 1, 1) / 8:
// KL(ref || samples) = 1/2 log(4/3), KL(samples || ref) = 3/4 log(3/2) - 1/4 log 2, TV = 1/4.
TEST(Histogram, ClosedFormValues) {
  auto o = line4();
  o.smoothing = 0;
  const MatD ref = points_1d({{0.5, 100}, {1.5, 100}, {2.5, 100}, {3.5, 100}});
  const MatD smp = points_1d({{0.5, 300}, {1.5, 300}, {2.5, 100}, {3.5, 100}, {9.0, 200}});
  const auto r = ebm::histogram_divergences(smp, ref, o);
  EXPECT_NEAR(r.kl, 0.5 * std::log(4.0 / 3), 1e-15);
  EXPECT_NEAR(r.kl_reverse, 0.75 * std::log(1.5) - 0.25 * std::log(2.0), 1e-15);
  EXPECT_NEAR(r.tv, 0.25, 1e-15);
  EXPECT_NEAR(r.samples_outside, 0.2, 1e-15);
  EXPECT_EQ(r.reference_outside, 0.0);
  // The same reference as cell masses (unnormalised on purpose).
  const auto m = ebm::histogram_divergences(smp, VecD::Constant(4, 3.0), o);
  EXPECT_NEAR(m.kl, r.kl, 1e-15);
  EXPECT_NEAR(m.tv, r.tv, 1e-15);

  // Uniform over 2 cells vs everything in the first: TV = 1/2; KL(ref || samples) with
  // smoothing s: q = (1/2 + s, 1/2 + s) / (1 + 2s), p = (1 + s, s) / (1 + 2s).
  auto o2 = o;
  o2.upper = {2};
  o2.bins = {2};
  o2.smoothing = 1e-6;
  const auto h = ebm::histogram_divergences(points_1d({{0.2, 10}}), points_1d({{0.5, 5}, {1.5, 5}}), o2);
  const double s = 1e-6, z = 1 + 2 * s, q = (0.5 + s) / z, p0 = (1 + s) / z, p1 = s / z;
  EXPECT_NEAR(h.kl, q * std::log(q / p0) + q * std::log(q / p1), 1e-12);
  EXPECT_NEAR(h.tv, 0.5, 1e-15);
  // Disjoint supports: TV = 1, the top of its range.
  const auto d = ebm::histogram_divergences(points_1d({{0.2, 10}}), points_1d({{1.5, 5}}), o2);
  EXPECT_EQ(d.tv, 1.0);
  EXPECT_GE(d.kl, 0.0);
  EXPECT_FALSE(d.summary().empty());
}

// 2-D cells are row-major, dimension 0 slowest; the upper face belongs to the last cell.
TEST(Histogram, TwoDimensionalLayout) {
  ebm::GridHistogramOptions o;
  o.lower = {0, 0};
  o.upper = {2, 3};
  o.bins = {2, 3};
  MatD p(5, 2);
  p << 0.5, 0.5,  // cell (0, 0) = 0
      0.5, 2.5,   // (0, 2) = 2
      1.5, 1.5,   // (1, 1) = 4
      2.0, 3.0,   // on the upper corner: (1, 2) = 5
      -0.1, 1.0;  // outside
  double outside = 0;
  const VecD h = ebm::grid_histogram(p, o, &outside);
  VecD expect(6);
  expect << 0.25, 0, 0.25, 0, 0.25, 0.25;
  EXPECT_EQ(h, expect);
  EXPECT_EQ(outside, 0.2);
}

// Cell masses of N(0, 1) on [-3, 3] with 6 cells against Phi differences (renormalised to the
// box); the midpoint rule with 64 points per cell errs by ~h^2/24 max|f''| / f ~ 1e-5 relative.
// Exact draws of N(0, 1) then have small TV against them (sampling noise ~ sqrt(cells / N)),
// draws of N(1, 1) large.
TEST(Histogram, DensityCellMasses) {
  ebm::GridHistogramOptions o;
  o.lower = {-3};
  o.upper = {3};
  o.bins = {6};
  const auto log_density = [](const MatD& x, VecD& out) { out = (-0.5 * x.array().square()).matrix().col(0); };
  const VecD m = ebm::grid_cell_masses(log_density, o, 64);
  const auto phi = [](double v) { return 0.5 * std::erfc(-v / std::sqrt(2.0)); };
  const double total = phi(3) - phi(-3);
  double worst = 0;
  for (Index c = 0; c < 6; ++c) {
    const double exact = (phi(double(c) - 2) - phi(double(c) - 3)) / total;
    worst = std::max(worst, std::fabs(m(c) - exact) / exact);
  }
  measured("cell masses vs Phi, max relative error", worst);
  EXPECT_LT(worst, 1e-4);

  RowVecD mean(1);
  mean << 0.0;
  const ebm::Gaussian<double> g(mean, MatD::Identity(1, 1));
  const auto good = ebm::histogram_divergences(g.sample(20000, 1), m, o);
  mean << 1.0;
  const auto bad = ebm::histogram_divergences(ebm::Gaussian<double>(mean, MatD::Identity(1, 1)).sample(20000, 2), m, o);
  measured("exact draws: TV, KL", good.tv);
  measured("exact draws: KL(reference || samples)", good.kl);
  measured("shifted draws: TV", bad.tv);
  EXPECT_LT(good.tv, 0.02);
  EXPECT_LT(good.kl, 1e-3);
  EXPECT_GT(bad.tv, 0.3);
}

TEST(Histogram, Errors) {
  ebm::GridHistogramOptions o;
  o.lower = {0, 0, 0};
  o.upper = {1, 1, 1};
  o.bins = {4};
  expect_throws_with<ebm::InvalidArgument>([&] { ebm::grid_histogram(MatD(MatD::Zero(3, 3)), o); },
                                           "GridHistogramOptions: histograms need dim 1 or 2, got dim 3");
  o = line4();
  o.bins = {0};
  expect_throws_with<ebm::InvalidArgument>([&] { ebm::grid_histogram(MatD(MatD::Zero(3, 1)), o); },
                                           "bins[0] must be in 1..100000, got 0");
  o = line4();
  o.smoothing = -1;
  expect_throws_with<ebm::InvalidArgument>([&] { ebm::grid_histogram(MatD(MatD::Zero(3, 1)), o); },
                                           "smoothing must be finite and >= 0, got -1");
  o = line4();
  expect_throws_with<ebm::InvalidArgument>([&] { ebm::histogram_divergences(MatD(MatD::Ones(3, 1)), VecD::Ones(5), o); },
                                           "reference_masses has 5 values, the grid has 4 cells");
  expect_throws_with<ebm::InvalidArgument>([&] { ebm::grid_histogram(MatD(MatD::Constant(3, 1, 7.0)), o); },
                                           "none of the 3 points lies in the box");
  expect_throws_with<ebm::InvalidArgument>([&] { ebm::histogram_divergences(MatD(MatD::Ones(3, 1)), MatD(MatD::Ones(3, 2)), o); },
                                           "different dimensions");
}

// ----- Fisher divergence -----

// Same covariance, mean shifted by delta: s_model - s_true = S^-1 delta everywhere, so the
// divergence is 1/2 |S^-1 delta|^2 exactly (rounding only). Different covariances S1 (model)
// and S2 (truth), points from N(0, S2): s_model - s_true = (S2^-1 - S1^-1) x = B x, and
// 1/2 E|B x|^2 = 1/2 tr(B S2 B^T): within 4 standard errors.
TEST(Fisher, GaussianClosedForms) {
  MatD s(2, 2);
  s << 1.0, 0.3, 0.3, 0.5;
  RowVecD m(2), delta(2);
  m << 0.2, -0.1;
  delta << 0.4, -0.7;
  const ebm::Gaussian<double> truth(m, s), model(m + delta, s);
  const MatD x = truth.sample(2000, 1);
  MatD st, sm;
  truth.score(x, st);
  model.score(x, sm);
  const auto r = ebm::fisher_divergence(sm, st);
  const double exact = 0.5 * (s.inverse() * delta.transpose()).squaredNorm();
  EXPECT_NEAR(r.value, exact, 1e-12);
  const auto rc = ebm::fisher_divergence<double>(ebm::score_function<double>(model), ebm::score_function<double>(truth), x);
  EXPECT_EQ(rc.value, r.value);

  MatD s1(2, 2);
  s1 << 0.6, -0.1, -0.1, 1.4;
  const ebm::Gaussian<double> wide(RowVecD::Zero(2), s1), t2(RowVecD::Zero(2), s);
  const MatD y = t2.sample(20000, 2);
  const auto f = ebm::fisher_divergence<double>(ebm::score_function<double>(wide), ebm::score_function<double>(t2), y);
  const MatD b = s.inverse() - s1.inverse();
  const double expect = 0.5 * (b * s * b.transpose()).trace();
  measured("fisher (different covariances) - closed form", f.value - expect);
  measured("fisher standard error", f.standard_error);
  EXPECT_LT(std::fabs(f.value - expect), 4 * f.standard_error);
  EXPECT_FALSE(f.summary().empty());

  expect_throws_with<ebm::InvalidArgument>([&] { ebm::fisher_divergence(MatD(MatD::Zero(3, 2)), MatD(MatD::Zero(3, 3))); },
                                           "fisher_divergence: true_scores has shape 3x3, expected 3x2");
}

}  // namespace
