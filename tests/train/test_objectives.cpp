// Training objectives: the forward-Laplacian route against the naive D-backward-pass route,
// Hyvarinen's Theorem 1 by quadrature, the closed-form minimiser of exact score matching for a
// Gaussian energy, and recovery of a Gaussian by the sliced, denoising and contrastive objectives.
#include <ebm/ad/ops.hpp>
#include <ebm/core/error.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/energy/energy.hpp>
#include <ebm/energy/mlp.hpp>
#include <ebm/train/objectives.hpp>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <gtest/gtest.h>

#include "train/quadratic.hpp"

#include <cmath>
#include <string>
#include <vector>

namespace {

namespace ad = ebm::ad;
using ebm::Index;
using ebm::LaplacianRoute;
using ebm::MatD;

MatD normal(Index rows, Index cols, std::uint64_t seed) {
  MatD m(rows, cols);
  ebm::CounterRng(seed, 0).normal<double>(0, std::span<double>(m.data(), static_cast<std::size_t>(m.size())));
  return m;
}

double max_rel(const MatD& a, const MatD& b) {
  return (a - b).cwiseAbs().maxCoeff() / std::max(b.cwiseAbs().maxCoeff(), 1e-300);
}

using ebm_test::Quadratic;

struct Moments {
  MatD mean, cov;
};
Moments moments(const MatD& x) {
  Moments m;
  m.mean = x.colwise().mean();
  const MatD centred = x.rowwise() - m.mean.row(0);
  m.cov = centred.transpose() * centred / double(x.rows());
  return m;
}

// Gaussian data N(mu, L L^T) in 2-D.
MatD gaussian_data(Index n, std::uint64_t seed, MatD* cov_out = nullptr) {
  MatD l(2, 2);
  l << 1.0, 0.0, 0.6, 0.8;
  MatD mu(1, 2);
  mu << 0.5, -1.0;
  if (cov_out) *cov_out = l * l.transpose();
  return (normal(n, 2, seed) * l.transpose()).rowwise() + mu.row(0);
}

// Plain gradient descent, full batch, fixed rate.
template <class Model>
void descend(Model& model, ebm::Objective<double>& objective, const MatD& data, Index steps, double lr) {
  ebm::ModelOf<double, Model> view(model);
  for (Index step = 0; step < steps; ++step) {
    const auto r = objective.evaluate(view, data, step, true);
    model.edit_parameters([&](const std::vector<MatD*>& p) {
      for (std::size_t k = 0; k < p.size(); ++k) *p[k] -= lr * r.gradients[k];
    });
  }
}

// ---------------------------------------------------------------- forward route vs naive route

struct RouteCase {
  const char* name;
  std::vector<Index> widths;
  ebm::Activation activation;
  Index rows = 7;  // batch size
};

class ForwardRoute : public ::testing::TestWithParam<RouteCase> {};

ebm::Mlp<double> route_mlp(const RouteCase& c, std::uint64_t seed) {
  ebm::MlpOptions options;
  options.widths = c.widths;
  options.activation = c.activation;
  options.seed = seed;
  return ebm::Mlp<double>(options);
}

// The same loss and gradient up to rounding (1e-10 relative).
void expect_same_result(const ebm::LossResult<double>& fast, const ebm::LossResult<double>& naive, const std::string& what) {
  EXPECT_LE(std::abs(fast.loss - naive.loss) / std::abs(naive.loss), 1e-10) << what << ": " << fast.loss << " vs " << naive.loss;
  ASSERT_EQ(fast.gradients.size(), naive.gradients.size()) << what;
  for (std::size_t k = 0; k < fast.gradients.size(); ++k) {
    if (naive.gradients[k].cwiseAbs().maxCoeff() == 0) {  // the last bias: no effect on the score
      EXPECT_EQ(fast.gradients[k].cwiseAbs().maxCoeff(), 0.0) << what << ", parameter " << k;
      continue;
    }
    EXPECT_LE(max_rel(fast.gradients[k], naive.gradients[k]), 1e-10) << what << ", parameter " << k;
  }
}

TEST_P(ForwardRoute, EqualsTheNaiveRouteInLossAndGradient) {
  const RouteCase& c = GetParam();
  ebm::Mlp<double> mlp = route_mlp(c, 11);
  const ebm::ModelOf<double, ebm::Mlp<double>> model(mlp);
  const MatD x = normal(c.rows, c.widths.front(), 4) * 1.5;
  expect_same_result(ebm::exact_score_matching(model, x, LaplacianRoute::Forward, true),
                     ebm::exact_score_matching(model, x, LaplacianRoute::Naive, true), "exact");
}

INSTANTIATE_TEST_SUITE_P(
    Objectives, ForwardRoute,
    ::testing::Values(RouteCase{"jacobian_softplus", {3, 8, 8, 1}, ebm::Activation::Softplus},
                      RouteCase{"jacobian_silu", {3, 8, 8, 1}, ebm::Activation::Silu},
                      RouteCase{"jacobian_tanh", {3, 8, 8, 1}, ebm::Activation::Tanh},
                      RouteCase{"jacobian_gelu", {3, 8, 8, 1}, ebm::Activation::Gelu},
                      RouteCase{"jacobian_elu", {3, 8, 8, 1}, ebm::Activation::Elu},
                      RouteCase{"one_hidden_layer", {4, 6, 1}, ebm::Activation::Softplus},
                      RouteCase{"three_hidden_layers", {2, 5, 7, 5, 1}, ebm::Activation::Tanh},
                      RouteCase{"gram_wider_input", {12, 5, 7, 1}, ebm::Activation::Softplus},
                      RouteCase{"gram_silu_deep", {20, 6, 6, 6, 1}, ebm::Activation::Silu},
                      RouteCase{"gram_one_hidden", {9, 4, 1}, ebm::Activation::Gelu},
                      // Batches the forward route splits into several blocks of samples (2^16
                      // numbers of stacked Jacobian per block: 341 and 256 samples here).
                      RouteCase{"jacobian_blocks", {3, 64, 64, 1}, ebm::Activation::Softplus, 1000},
                      RouteCase{"gram_blocks", {80, 16, 16, 1}, ebm::Activation::Silu, 600}),
    [](const ::testing::TestParamInfo<RouteCase>& param) { return std::string(param.param.name); });

// Sliced SM's forward route (tangent and v^T H v propagated with the values) against its naive
// route (a backward pass through the gradient): the same draws, so the same loss and gradient up
// to rounding, for both norms, both projections, several projections per point, and networks
// whose inputs are narrower and wider than their first layer.
TEST_P(ForwardRoute, SlicedScoreMatchingEqualsItsNaiveRoute) {
  const RouteCase& c = GetParam();
  ebm::Mlp<double> mlp = route_mlp(c, 12);
  const ebm::ModelOf<double, ebm::Mlp<double>> model(mlp);
  const MatD x = normal(c.rows, c.widths.front(), 5) * 1.5;
  for (bool variance_reduced : {true, false}) {
    for (auto projection : {ebm::ObjectiveOptions::Projection::Gaussian, ebm::ObjectiveOptions::Projection::Rademacher}) {
      ebm::ObjectiveOptions o;
      o.kind = ebm::ObjectiveKind::SlicedSm;
      o.variance_reduced = variance_reduced;
      o.projection = projection;
      o.projections = 3;
      o.route = LaplacianRoute::Forward;
      ebm::Objective<double> forward(o, x.cols(), 9);
      o.route = LaplacianRoute::Naive;
      ebm::Objective<double> naive(o, x.cols(), 9);
      const std::string what = std::string(variance_reduced ? "variance-reduced, " : "plain, ") +
                               (projection == ebm::ObjectiveOptions::Projection::Gaussian ? "gaussian" : "rademacher");
      expect_same_result(forward.evaluate(model, x, 4, true), naive.evaluate(model, x, 4, true), what);
    }
  }
}

TEST(Objectives, SlicedForwardRouteNeedsAPlainMlp) {
  Quadratic q{MatD::Identity(2, 2), MatD::Zero(1, 2)};
  const ebm::ModelOf<double, Quadratic> model(q);
  ebm::ObjectiveOptions o;
  o.kind = ebm::ObjectiveKind::SlicedSm;
  o.route = LaplacianRoute::Forward;
  ebm::Objective<double> forced(o, 2, 0);
  EXPECT_THROW(forced.evaluate(model, normal(4, 2, 1), 0, true), ebm::InvalidArgument);
  o.route = LaplacianRoute::Auto;  // falls back to the naive route
  ebm::Objective<double> automatic(o, 2, 0);
  EXPECT_TRUE(std::isfinite(automatic.evaluate(model, normal(4, 2, 1), 0, true).loss));
}

TEST(Objectives, ExactAndSlicedScoreMatchingRefuseRelu) {
  ebm::MlpOptions options;
  options.widths = {2, 8, 1};
  options.activation = ebm::Activation::Relu;
  ebm::Mlp<double> mlp(options);
  const ebm::ModelOf<double, ebm::Mlp<double>> model(mlp);
  for (auto kind : {ebm::ObjectiveKind::ExactSm, ebm::ObjectiveKind::SlicedSm}) {
    ebm::ObjectiveOptions o;
    o.kind = kind;
    ebm::Objective<double> objective(o, 2, 0);
    try {
      objective.evaluate(model, normal(4, 2, 1), 0, true);
      ADD_FAILURE() << "expected InvalidArgument for relu";
    } catch (const ebm::InvalidArgument& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("relu"), std::string::npos) << m;
      EXPECT_NE(m.find("second derivative is zero"), std::string::npos) << m;
    }
  }
  ebm::ObjectiveOptions dsm;
  dsm.kind = ebm::ObjectiveKind::DenoisingSm;
  ebm::Objective<double> objective(dsm, 2, 0);
  EXPECT_NO_THROW(objective.evaluate(model, normal(4, 2, 1), 0, true));  // DSM needs no Laplacian
}

// ---------------------------------------------------------------- Theorem 1

// Gauss-Hermite nodes and weights for E over N(0, 1) (probabilists'), by Golub-Welsch.
void gauss_hermite(int n, std::vector<double>& nodes, std::vector<double>& weights) {
  Eigen::MatrixXd jacobi = Eigen::MatrixXd::Zero(n, n);
  for (int i = 1; i < n; ++i) jacobi(i, i - 1) = jacobi(i - 1, i) = std::sqrt(double(i));
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(jacobi);
  nodes.assign(eig.eigenvalues().data(), eig.eigenvalues().data() + n);
  weights.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) weights[static_cast<std::size_t>(i)] = eig.eigenvectors()(0, i) * eig.eigenvectors()(0, i);
}

// For data N(mu, Sigma) with true score s(x) = -Sigma^-1 (x - mu) and several MLPs s_phi:
// explicit loss 1/2 E|s_phi - s|^2 minus the tractable loss E[Tr grad s_phi + 1/2 |s_phi|^2]
// equals 1/2 E|s|^2 = 1/2 tr(Sigma^-1), whatever phi. The expectations are Gauss-Hermite sums
// (60^2 nodes), so what is left is quadrature error, not Monte Carlo noise.
TEST(Objectives, TheoremOneTheGapIsTheSameConstantForEveryModel) {
  MatD l(2, 2);
  l << 1.0, 0.0, 0.5, 0.7;
  MatD mu(1, 2);
  mu << 0.3, -0.2;
  const MatD sigma = l * l.transpose();
  const MatD precision = sigma.inverse();
  std::vector<double> z, w;
  gauss_hermite(60, z, w);
  const Index n = 60 * 60;
  MatD x(n, 2);
  std::vector<double> weight(static_cast<std::size_t>(n));
  for (Index i = 0; i < 60; ++i)
    for (Index j = 0; j < 60; ++j) {
      MatD u(1, 2);
      u << z[static_cast<std::size_t>(i)], z[static_cast<std::size_t>(j)];
      x.row(i * 60 + j) = u * l.transpose() + mu;
      weight[static_cast<std::size_t>(i * 60 + j)] = w[static_cast<std::size_t>(i)] * w[static_cast<std::size_t>(j)];
    }
  const MatD true_score = -(x.rowwise() - mu.row(0)) * precision;
  const double constant = 0.5 * precision.trace();

  std::vector<double> explicit_losses;
  for (std::uint64_t seed : {1, 2, 3, 4}) {
    ebm::MlpOptions options;
    options.widths = {2, 16, 16, 1};
    options.seed = seed;
    options.activation = seed % 2 ? ebm::Activation::Softplus : ebm::Activation::Tanh;
    ebm::Mlp<double> mlp(options);
    mlp.edit_parameters([&](const std::vector<MatD*>& p) { *p[4] *= 4.0 * double(seed); });  // different scales
    const ebm::ModelOf<double, ebm::Mlp<double>> model(mlp);
    ebm::EnergyEvaluator<double> evaluator;
    const MatD score = evaluator.score(mlp, x);
    double explicit_loss = 0, tractable = 0;
    for (Index i = 0; i < n; ++i) {
      const double wi = weight[static_cast<std::size_t>(i)];
      explicit_loss += wi * 0.5 * (score.row(i) - true_score.row(i)).squaredNorm();
      tractable += wi * ebm::exact_score_matching(model, MatD(x.row(i)), LaplacianRoute::Forward, false).loss;
    }
    explicit_losses.push_back(explicit_loss);
    EXPECT_NEAR(explicit_loss - tractable, constant, 1e-9) << "seed " << seed << ": explicit " << explicit_loss;
  }
  // The explicit losses differ from model to model while the gap does not.
  EXPECT_GT(*std::max_element(explicit_losses.begin(), explicit_losses.end()) -
                *std::min_element(explicit_losses.begin(), explicit_losses.end()),
            0.1);  // far beyond the 1e-9 agreement: the models really differ
}

// ---------------------------------------------------------------- Gaussian recovery

// Exact score matching for E = 1/2 x A x - b x is a convex quadratic in (A, b) whose minimiser
// is A = inverse sample covariance, b = A * sample mean: full-batch descent must land there.
TEST(Objectives, ExactScoreMatchingRecoversSampleMeanAndInversecovariance) {
  const MatD data = gaussian_data(1000, 21);
  const Moments m = moments(data);
  Quadratic q{MatD::Identity(2, 2), MatD::Zero(1, 2)};
  ebm::ObjectiveOptions o;
  ebm::Objective<double> objective(o, 2, 0);
  descend(q, objective, data, 1500, 0.3);
  const MatD target = m.cov.inverse();
  EXPECT_LE(max_rel(q.precision(), target), 1e-4) << q.precision() << "\nvs\n" << target;
  EXPECT_LE(max_rel(q.mean(), m.mean), 1e-4) << q.mean() << " vs " << m.mean;
}

// At the true model of a standard Gaussian the loss is E[-D + 1/2 |x|^2] = -D/2; its Monte
// Carlo standard error is sqrt(D/2) / sqrt(N).
TEST(Objectives, ExactLossAtTheOptimumOfAStandardGaussianIsMinusHalfD) {
  const Index d = 5, n = 20000;
  Quadratic q{MatD::Identity(d, d), MatD::Zero(1, d)};
  const ebm::ModelOf<double, Quadratic> model(q);
  const MatD x = normal(n, d, 8);
  const double loss = ebm::exact_score_matching(model, x, LaplacianRoute::Naive, false).loss;
  const double se = std::sqrt(d / 2.0) / std::sqrt(double(n));
  EXPECT_NEAR(loss, -d / 2.0, 4 * se);
}

}  // namespace
