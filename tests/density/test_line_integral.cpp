// log p(x) - log p(x0) by the line integral of the score, in float64 with fixed seeds:
//  - for energies (Gaussian with full covariance, a mixture, the double well, Rosenbrock, an
//    MLP through autodiff) it must equal E(x0) - E(x): the integrand s(x0 + t d) . d is a
//    polynomial in t of degree 1 (Gaussian) or 3 (double well, Rosenbrock), which 32-node
//    Gauss-Legendre integrates exactly, so only rounding remains (~1e-13 at |E| ~ 1e2); for the
//    mixture and the MLP the integrand is analytic and the Gauss error decays geometrically in n
//    (measured below);
//  - for the linear field s(x) = A x with a rotational part w J, the path difference is the
//    circulation around the triangle (x0, x, m): 2 w area = w |d|^2 / 2 exactly;
//  - batching, the AnyEnergy route and float; argument errors.
// Measured errors are printed as "[ measured ] ..." lines.
#include <ebm/core/error.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/density/line_integral.hpp>
#include <ebm/energy/analytic.hpp>
#include <ebm/energy/mlp.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
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

// n points uniform in [-r, r]^d.
MatD uniform_points(Index n, Index d, double r, std::uint64_t seed) {
  MatD x(n, d);
  for (Index i = 0; i < n; ++i) {
    std::vector<double> u(static_cast<std::size_t>(d));
    ebm::CounterRng(seed, static_cast<std::uint64_t>(i)).uniform<double>(0, u);
    for (Index j = 0; j < d; ++j) x(i, j) = r * (2 * u[j] - 1);
  }
  return x;
}

// Compares the line integral with E(x0) - E(x) at 200 random points; returns the max error.
template <class E>
double check_energy(const E& energy, const std::string& name, double radius, double tol, double path_tol,
                    double quad_tol, int nodes = 32) {
  const Index d = energy.dim();
  const MatD x = uniform_points(200, d, radius, 11);
  const MatD x0 = uniform_points(1, d, 0.5 * radius, 12);
  ebm::LineIntegralOptions o;
  o.nodes = nodes;
  const auto r = ebm::log_density_relative<double>(energy, x, x0, o);
  VecD e, e0;
  energy.energy(x, e);
  energy.energy(x0, e0);
  double worst = 0;
  for (Index i = 0; i < x.rows(); ++i) {
    const double err = std::fabs(r.log_p_relative(i) - (e0(0) - e(i)));
    worst = std::max(worst, err);
    EXPECT_LT(err, tol) << name << " point " << i;
  }
  EXPECT_LT(r.quadrature_error.maxCoeff(), quad_tol) << name;
  EXPECT_LT(r.path_difference.maxCoeff(), path_tol) << name;
  EXPECT_TRUE(r.path_difference.allFinite());
  EXPECT_EQ(r.evaluations, 200 * (nodes + nodes / 2 + 2 * nodes));
  measured(name + ": max |line integral - (E(x0) - E(x))|", worst);
  measured(name + ": max quadrature error estimate", r.quadrature_error.maxCoeff());
  measured(name + ": max path difference", r.path_difference.maxCoeff());
  return worst;
}

ebm::Gaussian<double> full_gaussian() {
  RowVecD mean(3);
  mean << 0.5, -1.0, 0.25;
  MatD cov(3, 3);
  cov << 2.0, 0.6, -0.3, 0.6, 1.0, 0.2, -0.3, 0.2, 0.5;
  return {mean, cov};
}

// Exact cases: rounding only. |E| <= ~1e3 at these points, so 1e-9 is far above rounding and
// far below the 1e-6 asked; quadrature error and path difference are rounding too (1e-9).
TEST(LineIntegral, GaussianFullCovarianceIsExact) { check_energy(full_gaussian(), "gaussian 3-D", 4, 1e-9, 1e-9, 1e-9); }
TEST(LineIntegral, DoubleWellIsExact) { check_energy(ebm::DoubleWell<double>(4, 1.0, 1.5), "double well 4-D", 3, 1e-9, 1e-9, 1e-9); }
TEST(LineIntegral, RosenbrockIsExact) { check_energy(ebm::Rosenbrock<double>(1.0, 5.0), "rosenbrock", 3, 1e-9, 1e-9, 1e-9); }

// The mixture's integrand is analytic but varies sharply where the responsibilities switch
// between narrow components far out in the tails (sd down to 0.45, paths up to ~9 long, E up
// to ~80): Gauss errors measured at 32 / 64 / 128 nodes: 3e-2 / 8e-5 / 9e-10. With 128 nodes
// the asked 1e-6 holds. At 32 nodes the error is large, and the n/2-node estimate must say so:
// it bounds the actual error at every point (measured ratio <= 0.21).
TEST(LineIntegral, MixtureWithinToleranceAndErrorEstimateBounds) {
  const auto m = mixture2d();
  check_energy(m, "mixture 2-D, 128 nodes", 4, 1e-6, 1e-6, 1e-3, 128);
  const MatD x = uniform_points(200, 2, 4, 11), x0 = uniform_points(1, 2, 2, 12);
  const auto r = ebm::log_density_relative<double>(m, x, x0);
  VecD e, e0;
  m.energy(x, e);
  m.energy(x0, e0);
  double ratio = 0;
  for (Index i = 0; i < x.rows(); ++i) {
    const double err = std::fabs(r.log_p_relative(i) - (e0(0) - e(i)));
    ratio = std::max(ratio, err / (r.quadrature_error(i) + 1e-12));
    EXPECT_LE(err, r.quadrature_error(i) + 1e-12) << "point " << i;
  }
  measured("mixture 2-D, 32 nodes: max actual error / estimate", ratio);
  measured("mixture 2-D, 32 nodes: max actual error", (r.log_p_relative - (VecD::Constant(200, e0(0)) - e)).cwiseAbs().maxCoeff());
}

// An MLP (softplus) through autodiff: the EnergyEvaluator route in parallel blocks.
TEST(LineIntegral, MlpThroughAutodiff) {
  ebm::MlpOptions mo;
  mo.widths = {3, 32, 32, 1};
  mo.seed = 5;
  const ebm::Mlp<double> mlp(mo);
  const MatD x = uniform_points(100, 3, 3, 21), x0 = uniform_points(1, 3, 1, 22);
  const auto r = ebm::log_density_relative<double>(mlp, x, x0);
  ebm::EnergyEvaluator<double> ev;
  const VecD e = ev.energy(mlp, x), e0 = ev.energy(mlp, x0);
  const double worst = (r.log_p_relative - (VecD::Constant(100, e0(0)) - e)).cwiseAbs().maxCoeff();
  measured("mlp: max |line integral - (E(x0) - E(x))|", worst);
  EXPECT_LT(worst, 1e-10);
  EXPECT_LT(r.path_difference.maxCoeff(), 1e-10);
}

// s(x) = A x, A = -I + w J (J the 90-degree rotation): curl 2w. Along the straight path the
// rotational part does nothing (d^T J d = 0): I = d^T A x0 + 1/2 d^T A d. The circulation
// around the triangle x0 -> x -> m -> x0 is 2 w area, area = |d| (|d| / 2) / 2.
TEST(LineIntegral, RotationalFieldShowsPathDependence) {
  const double w = 0.7;
  MatD a(2, 2);
  a << -1, -w, w, -1;
  const ebm::ScoreFunction<double> score = [&](const MatD& p, MatD& s) { s = p * a.transpose(); };
  const MatD x = uniform_points(50, 2, 3, 31), x0 = uniform_points(1, 2, 1, 32);
  const auto r = ebm::log_density_relative<double>(score, x, x0);
  double worst_value = 0, worst_circ = 0;
  for (Index i = 0; i < x.rows(); ++i) {
    const RowVecD d = x.row(i) - x0.row(0);
    const double expect = (d * a * x0.row(0).transpose())(0) + 0.5 * (d * a * d.transpose())(0);
    worst_value = std::max(worst_value, std::fabs(r.log_p_relative(i) - expect));
    const double circulation = w * d.squaredNorm() / 2;
    worst_circ = std::max(worst_circ, std::fabs(r.path_difference(i) - circulation));
    EXPECT_GT(r.path_difference(i), 1e3 * r.quadrature_error(i) + 1e-8);
  }
  measured("rotational field: max |straight - closed form|", worst_value);
  measured("rotational field: max |path difference - w |d|^2 / 2|", worst_circ);
  EXPECT_LT(worst_value, 1e-12);
  EXPECT_LT(worst_circ, 1e-12);
  // Without the rotational part the same field is conservative: no path difference.
  MatD sym(2, 2);
  sym << -1, 0, 0, -1;
  const ebm::ScoreFunction<double> grad = [&](const MatD& p, MatD& s) { s = p * sym; };
  EXPECT_LT(ebm::log_density_relative<double>(grad, x, x0).path_difference.maxCoeff(), 1e-12);
}

// Small batches give the same bits (every row of the analytic score is computed on its own);
// AnyEnergy gives the same bits as the concrete type; x = x0 gives 0 and no NaN.
TEST(LineIntegral, BatchingAnyEnergyAndDegeneratePoints) {
  const auto g = full_gaussian();
  MatD x = uniform_points(40, 3, 3, 41);
  const MatD x0 = uniform_points(1, 3, 1, 42);
  x.row(7) = x0.row(0);
  ebm::LineIntegralOptions small;
  small.batch_rows = 7;  // below one point's 112 rows: one point per call
  const auto a = ebm::log_density_relative<double>(g, x, x0);
  const auto b = ebm::log_density_relative<double>(g, x, x0, small);
  const auto c = ebm::log_density_relative<double>(ebm::AnyEnergy<double>(g), x, x0);
  EXPECT_EQ(a.log_p_relative, b.log_p_relative);
  EXPECT_EQ(a.path_difference, b.path_difference);
  EXPECT_EQ(a.log_p_relative, c.log_p_relative);
  EXPECT_EQ(a.log_p_relative(7), 0.0);
  EXPECT_EQ(a.path_difference(7), 0.0);
  ebm::LineIntegralOptions no_check;
  no_check.check_path = false;
  const auto n = ebm::log_density_relative<double>(g, x, x0, no_check);
  EXPECT_EQ(n.evaluations, 40 * 48);
  EXPECT_EQ(n.path_difference, VecD::Zero(40));
  EXPECT_EQ(n.log_p_relative, a.log_p_relative);
  EXPECT_FALSE(a.summary().empty());
}

// float: rounding ~1e-7 relative to |E| <= ~50 here.
TEST(LineIntegral, FloatGaussian) {
  const auto gd = full_gaussian();
  const ebm::Gaussian<float> g(gd.mean().cast<float>(), gd.covariance().cast<float>());
  const ebm::MatF x = uniform_points(50, 3, 3, 51).cast<float>(), x0 = uniform_points(1, 3, 1, 52).cast<float>();
  const auto r = ebm::log_density_relative<float>(g, x, x0);
  ebm::Vec<float> e, e0;
  g.energy(x, e);
  g.energy(x0, e0);
  const float worst = (r.log_p_relative - (ebm::Vec<float>::Constant(50, e0(0)) - e)).cwiseAbs().maxCoeff();
  measured("float gaussian: max error", worst);
  EXPECT_LT(worst, 1e-4f);
}

TEST(LineIntegral, Errors) {
  const auto g = full_gaussian();
  const MatD x = uniform_points(5, 3, 1, 61);
  expect_throws_with<ebm::InvalidArgument>([&] { ebm::log_density_relative<double>(g, x, MatD::Zero(2, 3)); },
                                           "log_density_relative: x0 has shape 2x3, expected 1x3");
  expect_throws_with<ebm::InvalidArgument>([&] { ebm::log_density_relative<double>(g, x, MatD::Zero(1, 2)); },
                                           "log_density_relative: x0 has shape 1x2, expected 1x3");
  expect_throws_with<ebm::InvalidArgument>(
      [&] { ebm::log_density_relative<double>(g, MatD::Zero(4, 2), MatD::Zero(1, 2)); },
      "log_density_relative: the energy's dim is 3 but the points have 2 columns");
  ebm::LineIntegralOptions bad;
  bad.nodes = 1;
  expect_throws_with<ebm::InvalidArgument>([&] { ebm::log_density_relative<double>(g, x, MatD::Zero(1, 3), bad); },
                                           "LineIntegralOptions: nodes must be in 2..4096, got 1");
  bad = {};
  bad.batch_rows = 0;
  expect_throws_with<ebm::InvalidArgument>([&] { ebm::log_density_relative<double>(g, x, MatD::Zero(1, 3), bad); },
                                           "batch_rows must be >= 1, got 0");
  const ebm::ScoreFunction<double> wrong = [](const MatD& p, MatD& s) { s = MatD::Zero(p.rows(), 1); };
  expect_throws_with<ebm::InvalidArgument>([&] { ebm::log_density_relative<double>(wrong, x, MatD::Zero(1, 3)); },
                                           "score returned shape");
  const ebm::ScoreFunction<double> nan = [](const MatD& p, MatD& s) {
    s = -p;
    for (Index i = 0; i < p.rows(); ++i)
      if (p(i, 0) > 0.5) s(i, 0) = std::numeric_limits<double>::quiet_NaN();
  };
  MatD y = MatD::Zero(3, 3);
  y(2, 0) = 1;
  expect_throws_with<ebm::NumericalError>([&] { ebm::log_density_relative<double>(nan, y, MatD::Zero(1, 3)); },
                                          "the score is not finite on the path to x row 2");
  MatD inf = x;
  inf(1, 1) = std::numeric_limits<double>::infinity();
  expect_throws_with<ebm::NumericalError>([&] { ebm::log_density_relative<double>(g, inf, MatD::Zero(1, 3)); },
                                          "log_density_relative: x (5x3) has non-finite value");
}

}  // namespace
