// MALA against analytic targets: every mean, variance and covariance (hence correlation) of
// the draws within 4 Monte Carlo standard errors of the exact value, the MCSE from the
// multi-chain ESS (diag/mcmc.hpp). Fixed seeds. Also: R-hat flags chains stuck in separate modes.
#include <ebm/core/rng.hpp>
#include <ebm/diag/mcmc.hpp>
#include <ebm/energy/analytic.hpp>
#include <ebm/sample/samplers.hpp>

#include <gtest/gtest.h>

#include <Eigen/QR>

#include <cmath>
#include <string>

namespace {

using ebm::Index;
using ebm::MatD;
using ebm::RowVec;

// Runs MALA (adapting during burn-in) and checks E[x_i], E[(x_i - m_i)(x_j - m_j)] against
// mean and cov for every i <= j. Each check is the mean of a per-draw quantity, so its MCSE is
// mcse_mean of that quantity's S x C draws.
template <class E>
void expect_moments(const E& target, const RowVec<double>& mean, const MatD& cov, Index chains, Index steps,
                    std::uint64_t seed, double init_scale = 1.0) {
  ebm::MalaOptions<double> o;
  o.chains = chains;
  o.steps = steps;
  o.burn_in = steps / 4;
  o.step_size = 0.1;
  o.seed = seed;
  o.init.scale = init_scale;
  const auto r = ebm::mala(target, o);
  ASSERT_TRUE(r.failures.empty());
  const Index d = target.dim(), s = r.draws_per_chain;
  const auto chains_draws = ebm::unstack_chains(r.samples, s);
  auto check = [&](const std::string& what, double expected, auto&& f) {
    MatD values(s, chains);
    for (Index c = 0; c < chains; ++c)
      for (Index t = 0; t < s; ++t) values(t, c) = f(chains_draws[static_cast<std::size_t>(c)].row(t));
    const double estimate = values.mean(), mcse = ebm::mcse_mean(values);
    EXPECT_LE(std::abs(estimate - expected), 4 * mcse)
        << what << ": " << estimate << " vs exact " << expected << ", MCSE " << mcse << ", ESS "
        << ebm::ess_basic(values) << ", R-hat " << ebm::rhat(values) << "; " << r.summary();
    EXPECT_LT(ebm::rhat(values), 1.05) << what;
  };
  for (Index i = 0; i < d; ++i) {
    check("mean[" + std::to_string(i) + "]", mean(i), [&](const auto& x) { return x(i); });
    for (Index j = i; j < d; ++j)
      check("cov[" + std::to_string(i) + "," + std::to_string(j) + "]", cov(i, j),
            [&](const auto& x) { return (x(i) - mean(i)) * (x(j) - mean(j)); });
  }
}

TEST(MalaMoments, CorrelatedGaussian2D) {
  const MatD cov{{2.0, 1.2}, {1.2, 1.0}};
  const ebm::Gaussian<double> g(RowVec<double>{{0.5, -1.0}}, cov);
  expect_moments(g, g.mean(), g.covariance(), 8, 8000, 21);
}

TEST(MalaMoments, Gaussian10DWithConditionNumber100) {
  // Covariance Q diag(lambda) Q^T, lambda log-spaced from 0.1 to 10, Q a random rotation.
  const Index d = 10;
  MatD a(d, d);
  ebm::CounterRng(22, 0).normal<double>(0, std::span<double>(a.data(), static_cast<std::size_t>(a.size())));
  const MatD q = Eigen::HouseholderQR<MatD>(a).householderQ();
  Eigen::VectorXd lambda(d);
  for (Index i = 0; i < d; ++i) lambda(i) = 0.1 * std::pow(100.0, static_cast<double>(i) / static_cast<double>(d - 1));
  MatD cov = q * lambda.asDiagonal() * q.transpose();
  cov = 0.5 * (cov + cov.transpose()).eval();
  const ebm::Gaussian<double> g(RowVec<double>::LinSpaced(d, -1.0, 1.0), cov);
  expect_moments(g, g.mean(), g.covariance(), 16, 20000, 23, 2.0);
}

TEST(MalaMoments, GaussianMixture1D) {
  const ebm::GaussianMixture<double> m(ebm::Vec<double>{{0.3, 0.7}}, MatD{{-1.5}, {1.5}},
                                       {MatD{{1.0}}, MatD{{0.8}}});
  expect_moments(m, m.mean(), m.covariance(), 16, 20000, 24, 2.0);
}

TEST(MalaMoments, GaussianMixture2D) {
  const ebm::GaussianMixture<double> m(ebm::Vec<double>{{0.5, 0.3, 0.2}}, MatD{{-1.0, 0.0}, {1.0, 1.0}, {0.5, -1.5}},
                                       {MatD{{0.8, 0.2}, {0.2, 0.6}}, MatD{{0.5, 0.0}, {0.0, 0.9}},
                                        MatD{{0.7, -0.3}, {-0.3, 0.6}}});
  expect_moments(m, m.mean(), m.covariance(), 16, 20000, 25, 2.0);
}

TEST(MalaMoments, Banana) {
  // A moderately curved banana (x0 ~ N(0.5, 1/2), x1 | x0 ~ N(x0^2, 1/4)). In a strongly curved
  // one (a = 1, b = 5) MALA needs ~10^6 steps to reach the tails: with 2*10^4 its variance of
  // x1 was 1.81 against 2.6 while the ESS-based MCSE claimed 0.17 -- the classic case where
  // diagnostics of a short run are overconfident.
  const ebm::Rosenbrock<double> banana(0.5, 2.0);
  expect_moments(banana, banana.mean(), banana.covariance(), 16, 40000, 26);
}

TEST(Diagnostics, RhatFlagsChainsStuckInSeparateModes) {
  // Two wells 8 apart with a barrier MALA does not cross in this run: half the chains start in
  // each. Every chain mixes within its well, but R-hat sees the disagreement.
  const ebm::GaussianMixture<double> m(ebm::Vec<double>{{0.5, 0.5}}, MatD{{-4.0}, {4.0}}, {MatD{{0.25}}, MatD{{0.25}}});
  ebm::MalaOptions<double> o;
  o.chains = 4;
  o.steps = 4000;
  o.burn_in = 1000;
  o.init.kind = ebm::Initialization<double>::Kind::Points;
  o.init.points = MatD{{-4.0}, {-4.0}, {4.0}, {4.0}};
  const auto r = ebm::mala(m, o);
  const auto summary = ebm::summarize(ebm::unstack_chains(r.samples, r.draws_per_chain));
  EXPECT_GT(summary.rhat(0), 1.5);
  EXPECT_FALSE(summary.flagged().empty());
  const auto occupancy = ebm::mode_occupancy(r.samples, MatD{{-4.0}, {4.0}});
  EXPECT_DOUBLE_EQ(occupancy(0), 0.5);  // nobody crossed
}

}  // namespace
