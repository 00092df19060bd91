// The analytic energies in float64, fixed seeds:
//  - for each energy, at random points: the closed-form energy against the differentiable one,
//    the closed-form score against autodiff of the differentiable energy (EnergyEvaluator on a
//    differentiable-only view, i.e. tape.grad) and against fourth-order central differences of
//    the closed-form energy;
//  - the energies and normalisers against formulas written independently here (Eigen solves,
//    products of 1-D normal densities, 1-D quadrature);
//  - the exact samplers against the closed-form mean and covariance, within 4 Monte Carlo
//    standard errors, and their reproducibility;
//  - the mixture far from every component, the tempered wrapper, the JSON parser's errors and
//    its round trip, and a float smoke test.
// Measured errors are printed as "[ measured ] ..." lines.
#include <ebm/ad/ops.hpp>
#include <ebm/core/error.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/energy/analytic.hpp>
#include <ebm/energy/json.hpp>
#include <ebm/energy/mlp.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <Eigen/Cholesky>
#include <Eigen/LU>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace {

using ebm_test::measured;

namespace ad = ebm::ad;
using ebm::Index;
using ebm::MatD;
using RowVecD = ebm::RowVec<double>;
using VecD = ebm::Vec<double>;

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Tolerances, u = 2^-53 ~ 1.1e-16. All values below are O(1..1e3) at the test points.
//  - Closed form against the differentiable form: the same formulas, evaluated in another order
//    (and the ad product kernel fuses multiply-adds): a few ulp of the largest intermediate,
//    relative to max(1, |value|). Observed <= 1e-14; tolerance 1e-12.
//  - Central differences, 4th order, h = 2e-4 max(1, |x|) (|x| <= 6): truncation
//    h^4 |E^(5)| / 30 is 0 for the polynomial energies and <~ 2e-14 |E^(5)| otherwise (the
//    mixture's E^(5) reaches ~1e3 where the responsibilities switch between narrow
//    components); rounding ~ 1.5 u |E| / h <~ 1e-12 |E| with |E| < 1e3 here. Error <~ 1e-9
//    relative to max(1, |score|); tolerance 1e-8.
constexpr double kFormTol = 1e-12;
constexpr double kFdTol = 1e-8;
constexpr double kFdStep = 2e-4;

// Only the differentiable form, so that EnergyEvaluator computes the score by autodiff.
template <class E>
struct AutodiffOnly {
  const E& e;
  Index dim() const { return e.dim(); }
  ad::Var<double> energy(ad::Var<double> x) const { return e.energy(x); }
};

// n points, coordinate j uniform in [lo_j, hi_j].
MatD uniform_points(Index n, const std::vector<double>& lo, const std::vector<double>& hi, std::uint64_t seed) {
  const Index d = static_cast<Index>(lo.size());
  MatD x(n, d);
  for (Index i = 0; i < n; ++i) {
    const ebm::CounterRng rng(seed, static_cast<std::uint64_t>(i));
    rng.uniform<double>(0, std::span<double>(&x(i, 0), std::size_t(d)));
    for (Index j = 0; j < d; ++j) x(i, j) = lo[std::size_t(j)] + (hi[std::size_t(j)] - lo[std::size_t(j)]) * x(i, j);
  }
  return x;
}

// max over entries of |a - b| / max(1, |b|).
double rel_error(const MatD& a, const MatD& b) {
  EXPECT_EQ(a.rows(), b.rows());
  EXPECT_EQ(a.cols(), b.cols());
  return ((a - b).array().abs() / b.array().abs().max(1.0)).maxCoeff();
}

template <class E>
VecD closed_energy(const E& e, const MatD& x) {
  VecD out;
  e.energy(x, out);
  return out;
}

template <class E>
MatD closed_score(const E& e, const MatD& x) {
  MatD out;
  e.score(x, out);
  return out;
}

// -dE/dx_j by the 4th-order central difference of the closed-form energy, all rows at once.
template <class E>
MatD fd_score(const E& e, const MatD& x) {
  const VecD h = kFdStep * x.cwiseAbs().rowwise().maxCoeff().cwiseMax(1.0);
  MatD out(x.rows(), x.cols());
  for (Index j = 0; j < x.cols(); ++j) {
    auto at = [&](double k) {
      MatD y = x;
      y.col(j) += k * h;
      return closed_energy(e, y);
    };
    const VecD d = (at(-2) - 8 * at(-1) + 8 * at(1) - at(2)).cwiseQuotient(12 * h);
    out.col(j) = -d;
  }
  return out;
}

template <class E>
void check_forms(const std::string& name, const E& e, const MatD& x) {
  ebm::EnergyEvaluator<double> ev;
  const AutodiffOnly<E> diff{e};
  const VecD energy = closed_energy(e, x);
  const MatD score = closed_score(e, x);
  ASSERT_TRUE(energy.allFinite() && score.allFinite()) << name;
  const double e_err = rel_error(energy, ev.energy(diff, x));
  const double ad_err = rel_error(score, ev.score(diff, x));
  const double fd_err = rel_error(score, fd_score(e, x));
  measured(name + " energy closed vs ad", e_err);
  measured(name + " score closed vs autodiff", ad_err);
  measured(name + " score closed vs central differences", fd_err);
  EXPECT_LT(e_err, kFormTol) << name;
  EXPECT_LT(ad_err, kFormTol) << name;
  EXPECT_LT(fd_err, kFdTol) << name;
  // EnergyEvaluator takes the closed form when there is one.
  EXPECT_EQ(ev.score(e, x), score) << name;
}

// ---- Fixtures: one instance of each energy ----

ebm::Gaussian<double> make_gaussian() {
  RowVecD mean(3);
  mean << 0.5, -1.0, 2.0;
  MatD a(3, 3);
  a << 1.0, 0.3, -0.2, 0.0, 0.8, 0.5, 0.4, -0.6, 1.2;
  return {mean, a * a.transpose() + 0.3 * MatD::Identity(3, 3)};
}

ebm::GaussianMixture<double> make_gmm() {
  VecD w(3);
  w << 0.5, 0.3, 0.2;
  MatD means(3, 2);
  means << -2.0, 0.0, 2.0, 1.0, 0.0, -2.5;
  MatD c0(2, 2), c1(2, 2), c2(2, 2);
  c0 << 1.0, 0.6, 0.6, 0.8;
  c1 << 0.3, -0.1, -0.1, 0.5;
  c2 << 2.0, 0.0, 0.0, 0.2;
  return {w, means, {c0, c1, c2}};
}

const std::vector<double> kBox3 = {-3, -3, -3}, kBoxHi3 = {3, 3, 3};

// ---- Closed form against autodiff against central differences ----

TEST(AnalyticForms, Gaussian) {
  const auto g = make_gaussian();
  check_forms("gaussian", g, uniform_points(64, {-2.5, -4, -1}, {3.5, 2, 5}, 1));
}

TEST(AnalyticForms, GaussianMixture) {
  check_forms("gmm", make_gmm(), uniform_points(64, {-5, -5}, {5, 5}, 2));
}

TEST(AnalyticForms, DoubleWell) {
  check_forms("double_well", ebm::DoubleWell<double>(3, 1.5, 1.2), uniform_points(64, {-2, -2, -2}, {2, 2, 2}, 3));
  check_forms("double_well 1-D", ebm::DoubleWell<double>(1, 2.0, 0.7), uniform_points(16, {-2}, {2}, 4));
}

TEST(AnalyticForms, Rosenbrock) {
  check_forms("rosenbrock", ebm::Rosenbrock<double>(1.0, 5.0), uniform_points(64, {-1, -1}, {3, 6}, 5));
}

TEST(AnalyticForms, Ring) {
  const ebm::Ring<double> ring(2.0, 0.3);
  check_forms("ring", ring, uniform_points(64, {-3, -3}, {3, 3}, 6));
  // At the origin the energy has a cone point; the closed-form score is 0 by convention.
  const MatD origin = MatD::Zero(1, 2);
  EXPECT_EQ(closed_score(ring, origin), MatD::Zero(1, 2));
  EXPECT_DOUBLE_EQ(closed_energy(ring, origin)(0), 2.0 * 2.0 / (2 * 0.3 * 0.3));
}

TEST(AnalyticForms, Funnel) {
  check_forms("funnel", ebm::Funnel<double>(4), uniform_points(64, {-3, -3, -3, -3}, {3, 3, 3, 3}, 7));
  check_forms("funnel 2-D sigma 1", ebm::Funnel<double>(2, 1.0), uniform_points(16, {-2, -2}, {2, 2}, 8));
}

TEST(AnalyticForms, TemperedMixture) {
  check_forms("tempered gmm", ebm::tempered(make_gmm(), 2.5), uniform_points(64, {-5, -5}, {5, 5}, 9));
}

// The differentiable form supports gradients of gradients (training needs them): the
// Laplacian of the Gaussian energy is trace(cov^-1) everywhere.
TEST(AnalyticForms, GaussianLaplacianByDoubleBackward) {
  const auto g = make_gaussian();
  const MatD x = uniform_points(5, kBox3, kBoxHi3, 10);
  ad::Tape<double> tape;
  const auto xv = tape.variable(x);
  ad::GradOptions<double> keep;
  keep.create_graph = true;
  const auto grad = tape.grad(ad::sum(g.energy(xv)), {xv}, keep)[0];
  VecD laplacian = VecD::Zero(x.rows());
  for (Index j = 0; j < 3; ++j) laplacian += tape.grad(ad::sum(ad::slice_cols(grad, j, 1)), {xv})[0].value().col(j);
  const double trace = g.covariance().inverse().trace();
  EXPECT_LT((laplacian.array() - trace).abs().maxCoeff(), 1e-12 * trace);
}

// ---- Energies and normalisers against independent formulas ----

double log_normal(double x, double mean, double var) {
  return -0.5 * (x - mean) * (x - mean) / var - 0.5 * std::log(2 * std::numbers::pi * var);
}

// log N(x; m, S) by an Eigen LDLT solve and determinant, not by ebm's precision matrix.
double log_mvn(const RowVecD& x, const RowVecD& m, const MatD& s) {
  const VecD d = (x - m).transpose();
  const Eigen::LDLT<MatD> ldlt(s);
  const double quad = d.dot(ldlt.solve(d));
  return -0.5 * quad - 0.5 * std::log((2 * std::numbers::pi * s).determinant());
}

TEST(AnalyticDensity, GaussianAndMixtureAgainstDirectFormulas) {
  const auto g = make_gaussian();
  const auto gmm = make_gmm();
  const MatD x3 = uniform_points(32, kBox3, kBoxHi3, 11), x2 = uniform_points(32, {-5, -5}, {5, 5}, 12);
  const VecD eg = closed_energy(g, x3), em = closed_energy(gmm, x2);
  double worst = 0;
  for (Index i = 0; i < 32; ++i) {
    const double lp = -eg(i) - g.log_normalizer();
    worst = std::max(worst, std::abs(lp - log_mvn(x3.row(i), g.mean(), g.covariance())) / std::max(1.0, std::abs(lp)));
    double p = 0;
    for (Index k = 0; k < 3; ++k)
      p += gmm.weights()(k) * std::exp(log_mvn(x2.row(i), gmm.component_mean(k), gmm.component_covariance(k)));
    worst = std::max(worst, std::abs(-em(i) - std::log(p)) / std::max(1.0, std::abs(em(i))));
  }
  measured("gaussian and gmm log density vs direct formulas", worst);
  EXPECT_LT(worst, 1e-12);
}

// log p = -E - log Z against the generative definitions as products of 1-D normal densities.
TEST(AnalyticDensity, RosenbrockAndFunnelAgainstConditionals) {
  const ebm::Rosenbrock<double> rb(0.7, 4.0);
  const ebm::Funnel<double> fn(4, 1.5);
  const MatD xr = uniform_points(32, {-2, -1}, {3, 6}, 13), xf = uniform_points(32, {-3, -3, -3, -3}, {3, 3, 3, 3}, 14);
  const VecD er = closed_energy(rb, xr), ef = closed_energy(fn, xf);
  double worst = 0;
  for (Index i = 0; i < 32; ++i) {
    const double x0 = xr(i, 0);
    const double ref_r = log_normal(x0, 0.7, 0.5) + log_normal(xr(i, 1), x0 * x0, 1 / 8.0);
    worst = std::max(worst, std::abs(-er(i) - rb.log_normalizer() - ref_r) / std::max(1.0, std::abs(ref_r)));
    const double v = xf(i, 0);
    double ref_f = log_normal(v, 0, 1.5 * 1.5);
    for (Index j = 1; j < 4; ++j) ref_f += log_normal(xf(i, j), 0, std::exp(v));
    worst = std::max(worst, std::abs(-ef(i) - fn.log_normalizer() - ref_f) / std::max(1.0, std::abs(ref_f)));
  }
  measured("rosenbrock and funnel log density vs conditionals", worst);
  EXPECT_LT(worst, 1e-12);
}

// Composite Simpson rule of f on [a, b] with n (even) intervals: error (b - a) h^4 max|f^(4)| / 180,
// ~1e-13 relative for the integrands below at h <~ 5e-4. (The trapezoid rule would converge
// spectrally where an integrand is negligible at both ends, as for the double well, but the
// ring's radial density r exp(-E) is not negligible at r = 0 when radius / width is small.)
double simpson(const std::function<double(double)>& f, double a, double b, int n) {
  const double h = (b - a) / n;
  double s = f(a) + f(b);
  for (int i = 1; i < n; ++i) s += (i % 2 ? 4 : 2) * f(a + i * h);
  return s * h / 3;
}

// The ring's covariance and normaliser against quadrature of the radial density r exp(-E).
TEST(AnalyticDensity, RingMomentsByQuadrature) {
  for (const auto& rw : {std::pair{2.0, 0.3}, std::pair{0.5, 0.6}}) {
    const double radius = rw.first, width = rw.second;  // not a structured binding: lambdas capture them (clang 14)
    const ebm::Ring<double> ring(radius, width);
    auto radial = [&](int k) {
      return simpson([&](double r) { return std::pow(r, k) * std::exp(-0.5 * std::pow((r - radius) / width, 2)); },
                       0, radius + 14 * width, 20000);
    };
    const double m1 = radial(1), m3 = radial(3);
    const double var_err = std::abs(ring.covariance()(0, 0) - 0.5 * m3 / m1) / (0.5 * m3 / m1);
    const double logz_err = std::abs(ring.log_normalizer() - std::log(2 * std::numbers::pi * m1));
    const std::string name = "ring radius " + fmt(radius) + " width " + fmt(width);
    measured(name + ": covariance vs quadrature", var_err);
    measured(name + ": log Z vs quadrature", logz_err);
    EXPECT_LT(var_err, 1e-11);
    EXPECT_LT(logz_err, 1e-11);
    EXPECT_EQ(ring.covariance()(0, 1), 0.0);
  }
}

// The double well has no exact sampler: its first coordinate's moments by quadrature, checked
// against the Stein identity E[x E'(x)] = 1, i.e. 4 a (E[x^4] - c^2 E[x^2]) = 1, and the
// normaliser against its closed form
//   int exp(-a (x^2 - b)^2) dx = (pi/2) sqrt(b) e^{-ab^2/2} (I_{-1/4} + I_{1/4})(a b^2 / 2), b = c^2,
// with I_{-1/4} = I_{1/4} + (2/pi) sin(pi/4) K_{1/4}. The other coordinates are N(0, 1).
TEST(AnalyticDensity, DoubleWellFirstCoordinateByQuadrature) {
  for (const auto& ac : {std::pair{1.0, 1.0}, std::pair{2.0, 1.5}}) {
    const double a = ac.first, c = ac.second;  // not a structured binding: lambdas capture them (clang 14)
    const ebm::DoubleWell<double> dw(2, a, c);
    auto moment = [&](int k) {
      return simpson(
          [&](double x) {
            MatD p(1, 2);
            p << x, 0;
            return std::pow(x, k) * std::exp(-closed_energy(dw, p)(0));
          },
          -c - 6, c + 6, 40000);
    };
    const double z = moment(0), m2 = moment(2) / z, m4 = moment(4) / z;
    const double stein = 4 * a * (m4 - c * c * m2) - 1;
    const double arg = a * std::pow(c, 4) / 2;
    const double i_pos = std::cyl_bessel_i(0.25, arg);
    const double i_neg = i_pos + 2 / std::numbers::pi * std::sin(std::numbers::pi / 4) * std::cyl_bessel_k(0.25, arg);
    const double z_exact = std::numbers::pi / 2 * c * std::exp(-arg) * (i_neg + i_pos);
    const std::string name = "double well a " + fmt(a) + " c " + fmt(c);
    measured(name + ": E[x0^2] by quadrature", m2);
    measured(name + ": Stein identity residual", std::abs(stein));
    measured(name + ": Z by quadrature vs Bessel closed form", std::abs(z / z_exact - 1));
    EXPECT_LT(std::abs(stein), 1e-10);
    EXPECT_LT(std::abs(z / z_exact - 1), 1e-10);
    EXPECT_GT(m2, 0.5 * c * c);  // mass sits near the wells at +-c
    EXPECT_EQ(dw.mean(), RowVecD::Zero(2));
  }
}

// ---- Exact samplers ----

// Largest |z| over the sample means and covariance entries, n draws:
//   mean_j:  SE = sqrt(cov_jj / n) with the exact covariance;
//   cov_jk:  SE = sqrt(Var[(x_j - m_j)(x_k - m_k)] / n), the variance of the product estimated
//            from the draws (centred at the sample mean; the O(1/n) bias is negligible).
double worst_z(const MatD& s, const RowVecD& mean, const MatD& cov) {
  const double n = double(s.rows());
  const RowVecD m = s.colwise().mean();
  const MatD c = s.rowwise() - m;
  double worst = 0;
  for (Index j = 0; j < s.cols(); ++j) {
    worst = std::max(worst, std::abs(m(j) - mean(j)) / std::sqrt(cov(j, j) / n));
    for (Index k = j; k < s.cols(); ++k) {
      const VecD prod = c.col(j).cwiseProduct(c.col(k));
      const double est = prod.mean();
      const double var = (prod.array() - est).square().mean();
      worst = std::max(worst, std::abs(est - cov(j, k)) / std::sqrt(var / n));
    }
  }
  return worst;
}

constexpr Index kDraws = 200000;

template <class E>
void check_sampler(const std::string& name, const E& e) {
  const MatD s = e.sample(kDraws, 2024);
  ASSERT_EQ(s.rows(), kDraws);
  ASSERT_EQ(s.cols(), e.dim());
  const double z = worst_z(s, e.mean(), e.covariance());
  measured(name + " sampler: worst |z| of mean and covariance entries (n = 200000)", z);
  EXPECT_LT(z, 4.0) << name;
  // Reproducible: row i depends only on (seed, first + i).
  EXPECT_EQ(e.sample(10, 2024), s.topRows(10));
  EXPECT_EQ(e.sample(7, 2024, 3), s.middleRows(3, 7));
  EXPECT_NE(e.sample(10, 2025), s.topRows(10));
}

TEST(AnalyticSampler, Gaussian) { check_sampler("gaussian", make_gaussian()); }
// The mixture's mean and covariance depend on the weights, so they also test the component
// choice.
TEST(AnalyticSampler, GaussianMixture) { check_sampler("gmm", make_gmm()); }
TEST(AnalyticSampler, Rosenbrock) { check_sampler("rosenbrock", ebm::Rosenbrock<double>(1.0, 5.0)); }
TEST(AnalyticSampler, Funnel) {
  // sigma = 1: x_i's fourth moment 3 e^{2 sigma^2} keeps the covariance SEs meaningful.
  check_sampler("funnel sigma 1", ebm::Funnel<double>(3, 1.0));
  // sigma = 3 (the default): the neck variable v alone, N(0, 9).
  const ebm::Funnel<double> f(5);
  const MatD s = f.sample(kDraws, 77);
  const double z = worst_z(s.leftCols(1), f.mean().head(1), f.covariance().topLeftCorner(1, 1));
  measured("funnel sigma 3 sampler: worst |z| of v's mean and variance", z);
  EXPECT_LT(z, 4.0);
}

TEST(AnalyticSampler, RejectsNegativeCount) {
  EXPECT_THROW(make_gaussian().sample(-1, 0), ebm::InvalidArgument);
}

// ---- Mixture far from every component ----

TEST(AnalyticMixture, StableFarFromAllComponents) {
  const auto gmm = make_gmm();
  MatD x(3, 2);
  x << 1e3, 1e3, -1e3, 5e2, 1e3, -1e3;
  const VecD e = closed_energy(gmm, x);
  const MatD s = closed_score(gmm, x);
  ASSERT_TRUE(e.allFinite()) << e.transpose();
  ASSERT_TRUE(s.allFinite()) << s;
  // exp(-E) is below 1e-4000 here (a naive sum of densities gives E = inf); one component
  // dominates, so E and the score are those of the component with the largest log w_k N_k.
  for (Index i = 0; i < x.rows(); ++i) {
    double best = -std::numeric_limits<double>::infinity();
    Index arg = 0;
    for (Index k = 0; k < 3; ++k) {
      const double l =
          std::log(gmm.weights()(k)) + log_mvn(x.row(i), gmm.component_mean(k), gmm.component_covariance(k));
      if (l > best) best = l, arg = k;
    }
    EXPECT_GT(e(i), 1e4);
    EXPECT_NEAR(e(i), -best, 1e-12 * std::abs(best));
    const RowVecD comp_score = -(gmm.component_covariance(arg).ldlt().solve(
                                      (x.row(i) - gmm.component_mean(arg)).transpose())).transpose();
    EXPECT_LT((s.row(i) - comp_score).norm(), 1e-12 * comp_score.norm());
  }
  ebm::EnergyEvaluator<double> ev;
  const AutodiffOnly<ebm::GaussianMixture<double>> diff{gmm};
  const double e_err = rel_error(ev.energy(diff, x), e), s_err = rel_error(ev.score(diff, x), s);
  measured("gmm at |x| ~ 1e3: energy closed vs ad", e_err);
  measured("gmm at |x| ~ 1e3: score closed vs autodiff", s_err);
  EXPECT_LT(e_err, kFormTol);
  EXPECT_LT(s_err, kFormTol);
}

// ---- Temperature ----

TEST(AnalyticTempered, DividesEnergyAndScore) {
  const auto g = make_gaussian();
  const MatD x = uniform_points(16, kBox3, kBoxHi3, 20);
  for (double t : {0.5, 2.0}) {
    const auto tg = ebm::tempered(g, t);
    EXPECT_EQ(tg.temperature(), t);
    EXPECT_LT(rel_error(closed_energy(tg, x), closed_energy(g, x) / t), 1e-15);
    EXPECT_LT(rel_error(closed_score(tg, x), closed_score(g, x) / t), 1e-15);
    ebm::EnergyEvaluator<double> ev;
    EXPECT_LT(rel_error(ev.energy(AutodiffOnly<decltype(tg)>{tg}, x), closed_energy(g, x) / t), kFormTol);
    // A tempered Gaussian is the Gaussian with covariance t cov.
    const ebm::Gaussian<double> wide(g.mean(), t * g.covariance());
    EXPECT_LT(rel_error(closed_energy(tg, x), closed_energy(wide, x)), 1e-12);
  }
  EXPECT_THROW(ebm::tempered(g, 0.0), ebm::InvalidArgument);
  EXPECT_THROW(ebm::tempered(g, -1.0), ebm::InvalidArgument);
  EXPECT_THROW(ebm::tempered(g, std::numeric_limits<double>::infinity()), ebm::InvalidArgument);
}

// Closed-form-only and differentiable-only energies keep exactly their forms when tempered.
struct ClosedOnly {
  Index dim() const { return 1; }
  void energy(const MatD& x, VecD& out) const { out = x.col(0).array().square(); }
  void score(const MatD& x, MatD& out) const { out = -2 * x; }
};
static_assert(ebm::ClosedFormEnergy<ebm::Tempered<ClosedOnly, double>, double>);
static_assert(!ebm::DifferentiableEnergy<ebm::Tempered<ClosedOnly, double>, double>);
static_assert(ebm::DifferentiableEnergy<ebm::Tempered<ebm::Mlp<double>, double>, double>);
static_assert(!ebm::ClosedFormEnergy<ebm::Tempered<ebm::Mlp<double>, double>, double>);
static_assert(ebm::ClosedFormEnergy<ebm::Funnel<float>, float> && ebm::DifferentiableEnergy<ebm::Funnel<float>, float>);

TEST(AnalyticTempered, WrapsMlp) {
  const ebm::Mlp<double> mlp(ebm::MlpOptions{.widths = {2, 8, 1}});
  const ebm::Tempered<ebm::Mlp<double>, double> hot(mlp, 4.0);
  const MatD x = uniform_points(8, {-1, -1}, {1, 1}, 21);
  ebm::EnergyEvaluator<double> ev;
  EXPECT_LT(rel_error(ev.score(hot, x), ev.score(mlp, x) / 4.0), 1e-15);
}

// ---- Constructor checks (C++ API) ----

template <class F>
void expect_invalid(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one mentioning '" << needle << "'";
  } catch (const ebm::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(AnalyticValidation, Constructors) {
  const MatD i2 = MatD::Identity(2, 2);
  expect_invalid([&] { ebm::Gaussian<double>(RowVecD::Zero(0), MatD(0, 0)); }, "mean is empty");
  expect_invalid([&] { ebm::Gaussian<double>(RowVecD::Zero(2), MatD::Identity(3, 3)); }, "cov has 3 rows, mean has 2");
  MatD bad = i2;
  bad(0, 1) = 2;
  bad(1, 0) = 2;
  expect_invalid([&] { ebm::Gaussian<double>(RowVecD::Zero(2), bad); }, "cov is not positive definite");
  bad(1, 0) = 1;
  expect_invalid([&] { ebm::Gaussian<double>(RowVecD::Zero(2), bad); }, "cov is not symmetric");
  RowVecD nan_mean = RowVecD::Zero(2);
  nan_mean(1) = std::numeric_limits<double>::quiet_NaN();
  expect_invalid([&] { ebm::Gaussian<double>(nan_mean, i2); }, "mean[1] is nan");
  VecD w(2);
  w << 0.6, 0.5;
  expect_invalid([&] { ebm::GaussianMixture<double>(w, MatD::Zero(2, 2), {i2, i2}); }, "weights sum to 1.1");
  w << 1.2, -0.2;
  expect_invalid([&] { ebm::GaussianMixture<double>(w, MatD::Zero(2, 2), {i2, i2}); }, "weights[1] is -0.2");
  w << 0.5, 0.5;
  expect_invalid([&] { ebm::GaussianMixture<double>(w, MatD::Zero(2, 2), {i2, bad}); }, "covs[1] is not symmetric");
  expect_invalid([&] { ebm::GaussianMixture<double>(w, MatD::Zero(3, 2), {i2, i2}); }, "means has 3 rows");
  expect_invalid([&] { ebm::DoubleWell<double>(0, 1, 1); }, "dim is 0");
  expect_invalid([&] { ebm::DoubleWell<double>(2, 0, 1); }, "a is 0");
  expect_invalid([&] { ebm::Rosenbrock<double>(1, -5); }, "b is -5");
  expect_invalid([&] { ebm::Ring<double>(2, 0); }, "width is 0");
  expect_invalid([&] { ebm::Funnel<double>(1); }, "dim is 1, must be >= 2");
  expect_invalid([&] { ebm::Funnel<double>(3, std::numeric_limits<double>::infinity()); }, "sigma is inf");
  // Wrong batch width.
  VecD out;
  expect_invalid([&] { make_gaussian().energy(MatD::Zero(2, 2), out); }, "expected Nx3");
}

// ---- JSON ----

struct JsonCase {
  std::string text;
  std::string needle;
};

TEST(AnalyticJson, InvalidArgumentsNameTheField) {
  const std::vector<JsonCase> cases = {
      {R"([1, 2])", "expected an object"},
      {R"({})", "missing field 'type'"},
      {R"({"type": 3})", "type must be a string, got number 3"},
      {R"({"type": "banana"})", "known: gaussian, gmm, double_well, rosenbrock, ring, funnel"},
      {R"({"type": "ring", "radius": 2, "width": 0.2, "temprature": 2})", "unknown field 'temprature'"},
      {R"({"type": "ring", "radius": 2})", "missing field 'width'"},
      {R"({"type": "ring", "radius": "2", "width": 0.2})", "radius must be a number, got string \"2\""},
      {R"({"type": "ring", "radius": true, "width": 0.2})", "radius must be a number, got boolean"},
      {R"({"type": "ring", "radius": 2, "width": 0})", "width is 0"},
      {R"({"type": "ring", "radius": -2, "width": 0.2})", "radius is -2"},
      {R"({"type": "gaussian", "mean": 1, "cov": [[1]]})", "mean must be an array"},
      {R"({"type": "gaussian", "mean": null, "cov": [[1]]})", "mean must be an array of numbers, got null"},
      {R"({"type": "gaussian", "mean": [0, 0], "cov": [[1, 0], [0]]})", "cov[1] has 1 entries, cov[0] has 2"},
      {R"({"type": "gaussian", "mean": [0, 0], "cov": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]})",
       "cov has 3 rows, mean has 2 entries"},
      {R"({"type": "gaussian", "mean": [0, 0], "cov": [[1, 0.5], [0.4, 1]]})", "cov is not symmetric"},
      {R"({"type": "gaussian", "mean": [0, 1e400], "cov": [[1, 0], [0, 1]]})", "mean[1] is 1e400"},
      {R"({"type": "gaussian", "mean": [0, 0], "cov": [[1, 0], [0, "x"]]})", "cov[1][1] must be a number"},
      {R"({"type": "gmm", "weights": [0.5, 0.5], "means": [[0], [1]], "covs": [[[1]], [[-1]]]})",
       "covs[1] is not positive definite"},
      {R"({"type": "gmm", "weights": [0.5, 0.5], "means": [[0, 0], [1, 1]],
           "covs": [[[1, 0], [0, 1]], [[1, 2], [2, 1]]]})",
       "covs[1] is not positive definite"},
      {R"({"type": "gmm", "weights": [0.5, 0.4], "means": [[0], [1]], "covs": [[[1]], [[1]]]})", "weights sum to 0.9"},
      {R"({"type": "gmm", "weights": [1.5, -0.5], "means": [[0], [1]], "covs": [[[1]], [[1]]]})", "weights[1] is -0.5"},
      {R"({"type": "gmm", "weights": [0.5, 0.5], "means": [[0]], "covs": [[[1]], [[1]]]})",
       "means has 1 rows, weights has 2 entries"},
      {R"({"type": "gmm", "weights": [0.5, 0.5], "means": [[0], [1]], "covs": [[[1]]]})",
       "covs has 1 entries, weights has 2 entries"},
      {R"({"type": "gmm", "weights": [1], "means": [[0]], "covs": [1]})", "covs[0] must be an array of rows"},
      {R"({"type": "gmm", "weights": [1], "means": [[0]], "covs": [[[-1e999]]]})", "covs[0][0][0] is -1e999"},
      {R"({"type": "gmm", "weights": [1], "means": [[0, "x"]], "covs": [[[1]]]})", "means[0][1] must be a number"},
      {R"({"type": "double_well", "dim": 2, "a": 0, "c": 1})", "a is 0"},
      {R"({"type": "double_well", "dim": 0, "a": 1, "c": 1})", "dim is 0"},
      {R"({"type": "funnel", "dim": 2.5})", "dim must be an integer, got number 2.5"},
      {R"({"type": "funnel", "dim": 1})", "dim is 1, must be >= 2"},
      {R"({"type": "funnel", "dim": 3, "sigma": -3})", "sigma is -3"},
      {R"({"type": "rosenbrock", "a": 1, "b": 0})", "b is 0"},
      {R"({"type": "rosenbrock", "a": 1, "b": 5, "temperature": 0})", "temperature is 0"},
      {R"({"type": "rosenbrock", "a": 1, "b": 5, "temperature": "hot"})", "temperature must be a number"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    expect_invalid([&] { ebm::energy_from_json<double>(c.text); }, c.needle);
  }
  // 1e39 is a double but not a float.
  expect_invalid([] { ebm::energy_from_json<float>(R"({"type": "rosenbrock", "a": 1e39, "b": 5})"); },
                 "a is 1e+39, not finite in float");
}

TEST(AnalyticJson, MalformedIsFormatErrorWithPosition) {
  for (const std::string text : {R"({"type": "ring", )", R"({"type": "ring" "radius": 2})", "", "[NaN]"}) {
    try {
      ebm::energy_from_json<double>(text);
      ADD_FAILURE() << "no exception for " << text;
    } catch (const ebm::FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("line 1, column"), std::string::npos) << e.what();
    }
  }
}

TEST(AnalyticJson, Files) {
  EXPECT_THROW(ebm::energy_from_json_file<double>("/nonexistent/energy.json"), ebm::IoError);
  const auto path =
      std::filesystem::temp_directory_path() / ("ebm-test-analytic-" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << R"({"type": "ring", "radius": 2, "width": -1})";
  try {
    ebm::energy_from_json_file<double>(path.string());
    ADD_FAILURE() << "no exception";
  } catch (const ebm::InvalidArgument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path.string()), std::string::npos) << what;
    EXPECT_NE(what.find("width is -1"), std::string::npos) << what;
  }
  std::ofstream(path) << R"({"type": "ring", "radius": 2, "width": 0.5})";
  EXPECT_EQ(ebm::energy_from_json_file<double>(path.string()).dim(), 2);
  std::filesystem::remove(path);
}

// Energies and scores through AnyEnergy, bit for bit against the direct construction.
template <class E>
void expect_same(const std::string& text, const E& direct, const MatD& x, const std::string& name) {
  SCOPED_TRACE(text);
  const ebm::AnyEnergy<double> any = ebm::energy_from_json<double>(text);
  EXPECT_EQ(any.name(), name);
  EXPECT_EQ(any.dim(), direct.dim());
  EXPECT_TRUE(any.differentiable());
  ebm::EnergyEvaluator<double> ev;
  VecD e;
  MatD s;
  any.evaluate(ev, x, &e, &s);
  EXPECT_EQ(e, closed_energy(direct, x));
  EXPECT_EQ(s, closed_score(direct, x));
  // The recorded form too.
  ad::Tape<double> tape;
  const auto xv = tape.constant(x);
  EXPECT_EQ(MatD(any.energy(xv).value()), MatD(direct.energy(xv).value()));
}

TEST(AnalyticJson, RoundTripMatchesDirectConstruction) {
  const MatD x2 = uniform_points(16, {-3, -3}, {3, 3}, 30), x3 = uniform_points(16, kBox3, kBoxHi3, 31);
  const MatD x5 = uniform_points(16, {-3, -3, -3, -3, -3}, {3, 3, 3, 3, 3}, 32);
  expect_same(R"({"type": "gaussian", "mean": [0.5, -1, 2],
                  "cov": [[1.22, 0.24, 0.58], [0.24, 1.19, 0.12], [0.58, 0.12, 2.5]]})",
              [] {
                RowVecD m(3);
                m << 0.5, -1, 2;
                MatD c(3, 3);
                c << 1.22, 0.24, 0.58, 0.24, 1.19, 0.12, 0.58, 0.12, 2.5;
                return ebm::Gaussian<double>(m, c);
              }(),
              x3, "gaussian");
  expect_same(R"({"type": "gmm", "weights": [0.5, 0.3, 0.2], "means": [[-2, 0], [2, 1], [0, -2.5]],
                  "covs": [[[1, 0.6], [0.6, 0.8]], [[0.3, -0.1], [-0.1, 0.5]], [[2, 0], [0, 0.2]]]})",
              make_gmm(), x2, "gmm");
  expect_same(R"({"type": "double_well", "dim": 3, "a": 1.5, "c": 1.2})", ebm::DoubleWell<double>(3, 1.5, 1.2), x3,
              "double_well");
  expect_same(R"({"type": "rosenbrock", "a": 1, "b": 5})", ebm::Rosenbrock<double>(1, 5), x2, "rosenbrock");
  expect_same(R"({"type": "ring", "radius": 2, "width": 0.2})", ebm::Ring<double>(2, 0.2), x2, "ring");
  expect_same(R"({"type": "funnel", "dim": 5, "sigma": 3})", ebm::Funnel<double>(5, 3), x5, "funnel");
  expect_same(R"({"type": "funnel", "dim": 5.0})", ebm::Funnel<double>(5), x5, "funnel");
  expect_same(R"({"type": "ring", "radius": 2, "width": 0.2, "temperature": 2.0})",
              ebm::tempered(ebm::Ring<double>(2, 0.2), 2.0), x2, "ring");
  expect_same(R"({"type": "gmm", "weights": [0.5, 0.3, 0.2], "means": [[-2, 0], [2, 1], [0, -2.5]],
                  "covs": [[[1, 0.6], [0.6, 0.8]], [[0.3, -0.1], [-0.1, 0.5]], [[2, 0], [0, 0.2]]],
                  "temperature": 0.5})",
              ebm::tempered(make_gmm(), 0.5), x2, "gmm");
  EXPECT_EQ(ebm::energy_json_types().size(), 6u);
}

// ---- float ----

std::string any_name(const std::string& text) { return ebm::energy_from_json<double>(text).name(); }

TEST(AnalyticFloat, SmokeAgainstDouble) {
  const std::vector<std::pair<std::string, Index>> configs = {
      {R"({"type": "gaussian", "mean": [0.5, -1], "cov": [[1, 0.3], [0.3, 0.5]]})", 2},
      {R"({"type": "gmm", "weights": [0.7, 0.3], "means": [[-1, 0], [2, 1]],
           "covs": [[[1, 0], [0, 1]], [[0.5, 0.1], [0.1, 0.4]]]})",
       2},
      {R"({"type": "double_well", "dim": 2, "a": 1, "c": 1})", 2},
      {R"({"type": "rosenbrock", "a": 1, "b": 5})", 2},
      {R"({"type": "ring", "radius": 2, "width": 0.2, "temperature": 1.5})", 2},
      {R"({"type": "funnel", "dim": 3})", 3},
  };
  for (const auto& [text, dim] : configs) {
    SCOPED_TRACE(text);
    const std::vector<double> lo(std::size_t(dim), -2.0), hi(std::size_t(dim), 2.0);
    const MatD x = uniform_points(32, lo, hi, 40);
    const ebm::MatF xf = x.cast<float>();
    ebm::EnergyEvaluator<double> ev;
    ebm::EnergyEvaluator<float> evf;
    VecD e;
    MatD s;
    ebm::Vec<float> ef;
    ebm::MatF sf;
    ebm::energy_from_json<double>(text).evaluate(ev, x, &e, &s);
    const auto anyf = ebm::energy_from_json<float>(text);
    anyf.evaluate(evf, xf, &ef, &sf);
    // Rounding x to float (relative 6e-8) moves E and the score by their condition number
    // (|x| |grad| / max(1, |value|), below ~20 on this box, the steep ring the largest) times
    // 6e-8; the float arithmetic adds a few ulp. So <~ 2e-6 (observed <= 1.1e-6); tolerance 1e-5.
    const double e_err = rel_error(ef.cast<double>(), e), s_err = rel_error(sf.cast<double>(), s);
    measured("float vs double energy, " + any_name(text), e_err);
    measured("float vs double score, " + any_name(text), s_err);
    EXPECT_LT(e_err, 1e-5);
    EXPECT_LT(s_err, 1e-5);
    ad::Tape<float> tape;
    const ebm::Vec<float> recorded = anyf.energy(tape.constant(xf)).value();
    EXPECT_LT(rel_error(recorded.cast<double>(), ef.cast<double>()), 1e-5);
  }
  const ebm::GaussianMixture<float> gmm(ebm::Vec<float>::Constant(2, 0.5f), ebm::MatF::Zero(2, 2),
                                        {ebm::MatF::Identity(2, 2), 2 * ebm::MatF::Identity(2, 2)});
  const ebm::MatF draws = gmm.sample(1000, 1);
  EXPECT_TRUE(draws.allFinite());
  EXPECT_NEAR(double(gmm.covariance()(0, 0)), 1.5, 1e-6);
}

}  // namespace
