// log Z by grid quadrature and by AIS, and test-set NLL, in float64 with fixed seeds, against
// closed-form normalisers (analytic.hpp). Measured numbers print as "[ measured ] ..." lines.
#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/density/line_integral.hpp>
#include <ebm/density/log_z.hpp>
#include <ebm/energy/analytic.hpp>

#include <gtest/gtest.h>

#include <Eigen/Cholesky>

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "density/mixture.hpp"
#include "support/test_support.hpp"

namespace {

using ebm_test::measured;
using ebm_test::mixture2d;
using ebm_test::expect_throws_with;

using ebm::Index;
using ebm::MatD;
using RowVecD = ebm::RowVec<double>;
using VecD = ebm::Vec<double>;

// A D x D covariance with eigenvalues spread over about [0.3, 3]: B B^T / D + 0.3 I, B from
// fixed normals.
MatD covariance(Index d, std::uint64_t seed) {
  MatD b(d, d);
  for (Index i = 0; i < d; ++i) {
    std::vector<double> z(static_cast<std::size_t>(d));
    ebm::CounterRng(seed, static_cast<std::uint64_t>(i)).normal<double>(0, z);
    for (Index j = 0; j < d; ++j) b(i, j) = z[j];
  }
  return b * b.transpose() / double(d) + 0.3 * MatD::Identity(d, d);
}

RowVecD shifted_mean(Index d) {
  RowVecD m(d);
  for (Index j = 0; j < d; ++j) m(j) = 0.5 * std::sin(1.0 + double(j));
  return m;
}

// A box of +-10 marginal standard deviations around the mean.
ebm::GridOptions box(const RowVecD& mean, const MatD& cov, double k = 10) {
  ebm::GridOptions o;
  for (Index j = 0; j < mean.cols(); ++j) {
    o.lower.push_back(mean(j) - k * std::sqrt(cov(j, j)));
    o.upper.push_back(mean(j) + k * std::sqrt(cov(j, j)));
  }
  return o;
}

// ----- grid -----

// The trapezoid rule on a Gaussian with spacing h has relative error ~2 exp(-2 pi^2 s^2 / h^2)
// (s the smallest standard deviation along an axis); with the default points and +-10 sd boxes
// h <= 0.2 s in 3-D, so the error is below 1e-300 and rounding (~1e-13) is all that remains;
// truncation at 10 sd is ~1e-23. Tolerance 1e-6 as asked; the measured errors print.
TEST(LogZGrid, GaussiansInOneTwoThreeDimensions) {
  for (Index d : {1, 2, 3}) {
    const ebm::Gaussian<double> g(shifted_mean(d), covariance(d, 100 + d));
    const ebm::LogZResult r = ebm::log_normalizer_grid<double>(g, box(g.mean(), g.covariance()));
    const double err = std::fabs(r.log_z - g.log_normalizer());
    measured("grid gaussian " + std::to_string(d) + "-D: |log Z - exact|", err);
    measured("grid gaussian " + std::to_string(d) + "-D: error estimate", r.error_estimate);
    EXPECT_LT(err, 1e-6) << r.summary();
    EXPECT_LT(r.error_estimate, 1e-6);
    EXPECT_LT(r.boundary_fraction, 1e-12);
    EXPECT_EQ(r.method, "grid");
    EXPECT_EQ(r.evaluations, d == 1 ? 4001 : d == 2 ? 401 * 401 : 81 * 81 * 81);
  }
}

// The mixture (log Z = 0 exactly) has narrow components (sd down to ~0.4); box [-7, 7] x
// [-6, 6], h = 0.035: the same argument as above.
TEST(LogZGrid, MixtureAndRosenbrock) {
  const auto m = mixture2d();
  ebm::GridOptions o;
  o.lower = {-7, -6};
  o.upper = {7, 6};
  const auto r = ebm::log_normalizer_grid<double>(m, o);
  measured("grid mixture 2-D: |log Z - 0|", std::fabs(r.log_z));
  EXPECT_LT(std::fabs(r.log_z), 1e-6) << r.summary();
  // Rosenbrock a = 1, b = 5: x0 ~ N(1, 1/2), x1 | x0 ~ N(x0^2, 1/10); the box holds x0 within
  // 6 sd and x1 within 6 sd of x0^2 for all those x0.
  const ebm::Rosenbrock<double> rb(1.0, 5.0);
  ebm::GridOptions ob;
  ob.lower = {1 - 6 * std::sqrt(0.5), -2};
  ob.upper = {1 + 6 * std::sqrt(0.5), 28.5};
  ob.points_per_dim = 1201;
  const auto rr = ebm::log_normalizer_grid<double>(rb, ob);
  measured("grid rosenbrock: |log Z - exact|", std::fabs(rr.log_z - rb.log_normalizer()));
  EXPECT_LT(std::fabs(rr.log_z - rb.log_normalizer()), 1e-6) << rr.summary();
}

// log p(x) = -E(x0) - log Z_grid + line integral: the whole pipeline from a score to a
// normalised density, against the mixture's exact log density -E(x). Asked: 1e-3; both parts
// are accurate to ~1e-9 (see the other tests).
TEST(LogZGrid, NormalisedLogDensityFromScoreAndGrid) {
  const auto m = mixture2d();
  ebm::GridOptions o;
  o.lower = {-7, -6};
  o.upper = {7, 6};
  const double log_z = ebm::log_normalizer_grid<double>(m, o).log_z;
  MatD x(100, 2);
  for (Index i = 0; i < 100; ++i) {
    double u[2];
    ebm::CounterRng(7, static_cast<std::uint64_t>(i)).uniform<double>(0, u);
    x(i, 0) = 8 * u[0] - 4;
    x(i, 1) = 8 * u[1] - 4;
  }
  MatD x0(1, 2);
  x0 << 0.3, 0.1;
  const auto rel = ebm::log_density_relative<double>(m, x, x0);
  VecD e, e0;
  m.energy(x, e);
  m.energy(x0, e0);
  const VecD log_p = (rel.log_p_relative.array() - e0(0) - log_z).matrix();
  const double worst = (log_p + e).cwiseAbs().maxCoeff();
  measured("normalised log p (line integral + grid) vs exact, max error", worst);
  EXPECT_LT(worst, 1e-3);
}

// A box of +-1.5 sd cuts off ~13% of a 1-D Gaussian: the boundary share is large and the
// summary warns. The half-grid difference bounds the error of a coarse grid (h = 1 sd: full-grid
// error ~2 exp(-2 pi^2) ~ 5e-9, half-grid error ~2 exp(-pi^2 / 2) ~ 1.4e-2).
TEST(LogZGrid, BoundaryWarningAndErrorEstimate) {
  RowVecD mean(1);
  mean << 0.0;
  const ebm::Gaussian<double> g(mean, MatD::Identity(1, 1));
  ebm::GridOptions o;
  o.lower = {-1.5};
  o.upper = {1.5};
  const auto r = ebm::log_normalizer_grid<double>(g, o);
  measured("1.5 sd box: boundary fraction", r.boundary_fraction);
  EXPECT_GT(r.boundary_fraction, 1e-3);
  EXPECT_NE(r.summary().find("warning"), std::string::npos);

  o.lower = {-20};
  o.upper = {20};
  o.points_per_dim = 41;  // h = 1
  const auto c = ebm::log_normalizer_grid<double>(g, o);
  const double err = std::fabs(c.log_z - g.log_normalizer());
  measured("coarse grid (h = 1 sd): |error|", err);
  measured("coarse grid (h = 1 sd): estimate", c.error_estimate);
  EXPECT_LT(err, c.error_estimate);
  EXPECT_GT(c.error_estimate, 1e-3);
  EXPECT_LT(err, 1e-7);
  // An even count is raised to odd; batching does not change the bits.
  o.points_per_dim = 40;
  o.batch_rows = 3;
  const auto c2 = ebm::log_normalizer_grid<double>(g, o);
  EXPECT_EQ(c2.evaluations, 41);
  EXPECT_EQ(c2.log_z, c.log_z);
}

// ----- AIS -----

// The accuracy tests run on one thread: the result is the same bits for any count (tested
// below), and on a loaded two-core machine each of the ~1600 short parallel regions of a run
// (the analytic energies split 512 rows in two) can cost milliseconds of OpenMP barrier waits.
class OneThread {
 public:
  OneThread() : saved_(ebm::num_threads()) { ebm::set_num_threads(1); }
  ~OneThread() { ebm::set_num_threads(saved_); }

 private:
  int saved_;
};

// 10-D Gaussian, shifted mean and covariance eigenvalues ~[0.3, 3], from the N(0, I) base:
// 512 chains, 200 sigmoid temperatures, 2 MALA steps each. Checks |error| < 4 SE and SE < 0.1.
TEST(LogZAis, Gaussian10D) {
  const OneThread one;
  const Index d = 10;
  const ebm::Gaussian<double> g(shifted_mean(d), covariance(d, 7));
  ebm::AisOptions o;
  o.chains = 512;
  o.mala_steps = 2;
  o.seed = 3;
  const auto r = ebm::log_normalizer_ais<double>(g, o);
  const double err = r.log_z - g.log_normalizer();
  measured("AIS gaussian 10-D: log Z - exact", err);
  measured("AIS gaussian 10-D: standard error", r.error_estimate);
  measured("AIS gaussian 10-D: ESS of 512", r.ess);
  measured("AIS gaussian 10-D: acceptance", r.acceptance_rate);
  measured("AIS gaussian 10-D: seconds", r.seconds);
  EXPECT_LT(std::fabs(err), 4 * r.error_estimate) << r.summary();
  EXPECT_LT(r.error_estimate, 0.1);
  EXPECT_GT(r.error_estimate, 0.0);
  std::printf("%s\n", r.summary().c_str());
  EXPECT_EQ(r.evaluations, 512 * (1 + 199 * 2));
}

// A 5-D two-component mixture (log Z = 0), modes 3 apart along x0, from a wide base N(0, 2^2 I).
TEST(LogZAis, Mixture5D) {
  const OneThread one;
  const Index d = 5;
  VecD w(2);
  w << 0.35, 0.65;
  MatD means = MatD::Zero(2, d);
  means(0, 0) = -1.5;
  means(1, 0) = 1.5;
  means(1, 1) = 0.5;
  const ebm::GaussianMixture<double> m(w, means, {0.5 * MatD::Identity(d, d), covariance(d, 9)});
  ebm::AisOptions o;
  o.chains = 512;
  o.mala_steps = 2;
  o.base_scale = 2;
  o.seed = 4;
  const auto r = ebm::log_normalizer_ais<double>(m, o);
  measured("AIS mixture 5-D: log Z - exact", r.log_z);
  measured("AIS mixture 5-D: standard error", r.error_estimate);
  measured("AIS mixture 5-D: ESS of 512", r.ess);
  EXPECT_LT(std::fabs(r.log_z), 4 * r.error_estimate) << r.summary();
  EXPECT_LT(r.error_estimate, 0.1);
}

// Same bits for 1 and 2 threads, with more chains than one parallel task (2048), for each
// schedule; float runs and lands near the answer.
TEST(LogZAis, BitIdenticalAcrossThreadCounts) {
  const ebm::Gaussian<double> g(shifted_mean(4), covariance(4, 11));
  for (auto schedule : {ebm::AisSchedule::Sigmoid, ebm::AisSchedule::Geometric, ebm::AisSchedule::Linear}) {
    ebm::AisOptions o;
    o.chains = 2100;
    o.temperatures = 10;
    o.schedule = schedule;
    o.base_mean = {0.1, 0.2, 0.3, 0.4};
    const int saved = ebm::num_threads();
    ebm::set_num_threads(1);
    const auto a = ebm::log_normalizer_ais<double>(g, o);
    ebm::set_num_threads(2);
    const auto b = ebm::log_normalizer_ais<double>(g, o);
    ebm::set_num_threads(saved);
    EXPECT_EQ(a.log_z, b.log_z);
    EXPECT_EQ(a.error_estimate, b.error_estimate);
    EXPECT_EQ(a.ess, b.ess);
    EXPECT_EQ(a.step_size, b.step_size);
    // 10 temperatures is a short ladder: the estimate is noisy but still consistent.
    EXPECT_LT(std::fabs(a.log_z - g.log_normalizer()), 4 * a.error_estimate + 1e-3) << a.summary();
  }
  const OneThread one;
  const ebm::Gaussian<float> gf(shifted_mean(4).cast<float>(), covariance(4, 11).cast<float>());
  ebm::AisOptions o;
  o.temperatures = 50;
  const auto f = ebm::log_normalizer_ais<float>(gf, o);
  measured("AIS float gaussian 4-D: log Z - exact", f.log_z - g.log_normalizer());
  EXPECT_LT(std::fabs(f.log_z - g.log_normalizer()), 4 * f.error_estimate + 1e-3) << f.summary();
}

// ----- NLL -----

// Exact draws from N(m, S): E(x) = 1/2 chi^2_D, so E[NLL] = D / 2 + log Z and sd(E) = sqrt(D/2).
TEST(Nll, GaussianDataMatchesClosedForm) {
  const Index d = 3;
  const ebm::Gaussian<double> g(shifted_mean(d), covariance(d, 13));
  const MatD data = g.sample(4000, 5);
  const auto r = ebm::negative_log_likelihood<double>(g, data, g.log_normalizer());
  const double expect = 0.5 * double(d) + g.log_normalizer();
  measured("NLL - expected", r.nll - expect);
  measured("NLL standard error", r.standard_error);
  EXPECT_LT(std::fabs(r.nll - expect), 4 * r.standard_error);
  EXPECT_NEAR(r.standard_error, std::sqrt(0.5 * double(d) / 4000), 0.1 * std::sqrt(0.5 * double(d) / 4000));
  ebm::LogZResult lz;
  lz.log_z = g.log_normalizer();
  lz.error_estimate = 0.01;
  const auto r2 = ebm::negative_log_likelihood<double>(ebm::AnyEnergy<double>(g), data, lz);
  EXPECT_EQ(r2.nll, r.nll);
  EXPECT_EQ(r2.log_z_error, 0.01);
  EXPECT_FALSE(r2.summary().empty());
}

// ----- errors -----

TEST(LogZ, Errors) {
  const ebm::Gaussian<double> g4(shifted_mean(4), covariance(4, 1));
  const ebm::Gaussian<double> g2(shifted_mean(2), covariance(2, 1));
  ebm::GridOptions o;
  o.lower = {-1, -1, -1, -1};
  o.upper = {1, 1, 1, 1};
  expect_throws_with<ebm::InvalidArgument>([&] { ebm::log_normalizer_grid<double>(g4, o); },
                                           "GridOptions: the grid rule needs dim 1, 2 or 3, got dim 4");
  o.lower = {-1};
  o.upper = {1};
  expect_throws_with<ebm::InvalidArgument>([&] { ebm::log_normalizer_grid<double>(g2, o); },
                                           "lower and upper must have dim = 2 values, got 1 and 1");
  o.lower = {-1, 2};
  o.upper = {1, 1};
  expect_throws_with<ebm::InvalidArgument>([&] { ebm::log_normalizer_grid<double>(g2, o); },
                                           "lower[1] = 2 must be finite and below upper[1] = 1");
  o.lower = {-1, -1};
  o.upper = {1, 1};
  o.points_per_dim = 3;
  expect_throws_with<ebm::InvalidArgument>([&] { ebm::log_normalizer_grid<double>(g2, o); },
                                           "points_per_dim must be 0 (automatic) or in 5..1000000, got 3");
  o.points_per_dim = 0;
  const ebm::EnergyFunction<double> nan = [](const MatD& p, VecD& e, MatD*) {
    e = VecD::Constant(p.rows(), std::numeric_limits<double>::quiet_NaN());
  };
  expect_throws_with<ebm::NumericalError>([&] { ebm::log_normalizer_grid<double>(2, nan, o); },
                                          "log_normalizer_grid: the energy is nan at grid point");

  auto ais_error = [&](const std::function<void(ebm::AisOptions&)>& edit, const std::string& fragment) {
    ebm::AisOptions a;
    edit(a);
    expect_throws_with<ebm::InvalidArgument>([&] { ebm::log_normalizer_ais<double>(g2, a); }, fragment);
  };
  ais_error([](ebm::AisOptions& a) { a.chains = 1; }, "AisOptions: chains must be >= 2, got 1");
  ais_error([](ebm::AisOptions& a) { a.temperatures = 0; }, "temperatures must be >= 1, got 0");
  ais_error([](ebm::AisOptions& a) { a.mala_steps = 0; }, "mala_steps must be >= 1, got 0");
  ais_error([](ebm::AisOptions& a) { a.step_size = -0.1; }, "step_size must be positive, got -0.1");
  ais_error([](ebm::AisOptions& a) { a.base_scale = 0; }, "base_scale must be positive, got 0");
  ais_error([](ebm::AisOptions& a) { a.base_mean = {1, 2, 3}; }, "base_mean must be empty or have dim = 2 values, got 3");
  ais_error([](ebm::AisOptions& a) { a.target_acceptance = 1; }, "target_acceptance must be in (0, 1), got 1");

  expect_throws_with<ebm::InvalidArgument>(
      [&] { ebm::negative_log_likelihood<double>(g2, MatD::Zero(5, 3), 0.0); },
      "negative_log_likelihood: the energy's dim is 2 but the points have 3 columns");
  expect_throws_with<ebm::InvalidArgument>([&] { ebm::negative_log_likelihood<double>(g2, MatD::Zero(1, 2), 0.0); },
                                           "data has shape 1x2, needs at least 2 rows");
  expect_throws_with<ebm::InvalidArgument>(
      [&] { ebm::negative_log_likelihood<double>(g2, MatD::Zero(4, 2), std::numeric_limits<double>::infinity()); },
      "log_z must be finite, got inf");
}

}  // namespace
