// MCMC diagnostics against closed forms: AR(1) chains (autocorrelation phi^k, ESS and MCSE of
// the mean), iid draws, chains stuck in different modes or at different scales, constant
// chains, mode occupancy of a mixture, acceptance rates, the summary, and bad input. Plus a
// bit-for-bit-level comparison with an independent port of posterior's R code.
//
// Tolerances. The ESS and MCSE tolerances are 4 standard deviations of the estimator plus its
// bias, both measured once over 200 independent replications (seeds 1000..1199) of the same
// design, 4 chains x 20000 draws; they are listed per phi in kAr1Cases. Autocorrelation
// tolerances come from Bartlett's formula. Everything runs at fixed seeds, so a pass or a
// failure is reproducible.
#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/diag/mcmc.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

using ebm::Index;
using ebm::MatD;
using ebm::Vec;

// C chains (S x C, draw x chain) of x_t = phi x_{t-1} + sqrt(1 - phi^2) eps_t started from the
// stationary N(0, 1), chain j from the stream (seed, j).
MatD ar1(double phi, Index s, Index c, std::uint64_t seed) {
  MatD x(s, c);
  std::vector<double> eps(static_cast<std::size_t>(s));
  for (Index j = 0; j < c; ++j) {
    ebm::CounterRng(seed, static_cast<std::uint64_t>(j)).normal<double>(0, std::span<double>(eps));
    x(0, j) = eps[0];
    for (Index t = 1; t < s; ++t)
      x(t, j) = phi * x(t - 1, j) + std::sqrt(1 - phi * phi) * eps[static_cast<std::size_t>(t)];
  }
  return x;
}

// Chain j rescaled to location loc[j] and scale scale[j].
MatD located(MatD x, const std::vector<double>& loc, const std::vector<double>& scale) {
  for (Index j = 0; j < x.cols(); ++j) {
    x.col(j) = x.col(j) * scale[static_cast<std::size_t>(j)];
    x.col(j).array() += loc[static_cast<std::size_t>(j)];
  }
  return x;
}

// The chains of draws (S x C) as C matrices of S x 1, for summarize.
std::vector<MatD> as_chains(const MatD& draws) {
  std::vector<MatD> chains;
  for (Index j = 0; j < draws.cols(); ++j) chains.emplace_back(draws.col(j));
  return chains;
}

template <class E, class F>
void expect_error(F&& f, std::initializer_list<std::string_view> parts) {
  try {
    f();
    ADD_FAILURE() << "expected an exception";
  } catch (const E& e) {
    const std::string what = e.what();
    for (auto p : parts) EXPECT_NE(what.find(p), std::string::npos) << "'" << p << "' not in: " << what;
  }
}

constexpr Index kS = 20000, kC = 4;

// Measured over 200 replications of 4 chains x 20000 draws: mean and standard deviation of
// ess / closed form and mcse_mean / closed form.
struct Ar1Case {
  double phi;
  double ess_bias, ess_sd;  // ess_basic (ess_bulk agrees to 0.1 %)
  double mcse_bias, mcse_sd;
};
constexpr Ar1Case kAr1Cases[] = {
    {0.0, -0.0057, 0.0101, 0.0032, 0.0059},
    {0.5, -0.0031, 0.0233, 0.0021, 0.0130},
    {0.9, -0.0086, 0.0493, 0.0055, 0.0290},
    {-0.3, -0.0024, 0.0186, 0.0015, 0.0095},
};

TEST(Autocorrelation, Ar1LagKIsPhiToTheK) {
  // Bartlett: var(r_k) = [(1 + phi^2)(1 - phi^{2k}) / (1 - phi^2) - 2k phi^{2k}] / S; the
  // estimator's bias from centring at the sample mean is below tau / S, tau = (1+phi)/(1-phi).
  for (const Ar1Case& c : kAr1Cases) {
    const double phi = c.phi;
    const MatD x = ar1(phi, kS, 1, 11);
    const Vec<double> rho = ebm::autocorrelation(x.col(0), 5);
    ASSERT_EQ(rho.size(), 6);
    EXPECT_EQ(rho(0), 1.0);
    std::printf("phi %5.2f: rho_1..3 = %.4f %.4f %.4f (phi^k: %.4f %.4f %.4f)\n", phi, rho(1), rho(2), rho(3), phi,
                phi * phi, phi * phi * phi);
    const double tau = (1 + phi) / (1 - phi), s = static_cast<double>(kS);
    for (int k = 1; k <= 5; ++k) {
      const double p2k = std::pow(phi, 2 * k);
      const double var = ((1 + phi * phi) * (1 - p2k) / (1 - phi * phi) - 2 * k * p2k) / s;
      EXPECT_NEAR(rho(k), std::pow(phi, k), 4 * std::sqrt(var) + std::max(tau, 1.0) / s)
          << "phi " << phi << " lag " << k;
    }
  }
}

TEST(Autocorrelation, FftMatchesTheDirectSum) {
  const MatD x = ar1(0.6, 37, 1, 3);
  const Vec<double> rho = ebm::autocorrelation(x.col(0));
  ASSERT_EQ(rho.size(), 37);
  const double mean = x.mean();
  double acov0 = 0;
  for (Index t = 0; t < 37; ++t) acov0 += (x(t, 0) - mean) * (x(t, 0) - mean);
  for (Index k = 0; k < 37; ++k) {
    double acov = 0;
    for (Index t = 0; t + k < 37; ++t) acov += (x(t, 0) - mean) * (x(t + k, 0) - mean);
    EXPECT_NEAR(rho(k), acov / acov0, 1e-13) << "lag " << k;
  }
}

TEST(Autocorrelation, ConstantChainIsUncorrelated) {
  const Vec<double> rho = ebm::autocorrelation(Vec<double>::Constant(10, 0.1), 3);
  ASSERT_EQ(rho.size(), 4);
  EXPECT_EQ(rho(0), 1.0);
  EXPECT_EQ(rho.tail(3).cwiseAbs().maxCoeff(), 0.0);
}

TEST(Ess, Ar1MatchesTheClosedForm) {
  // ESS of the mean = S C (1 - phi) / (1 + phi); MCSE of the mean = sqrt((1 + phi) / ((1 - phi) S C)).
  for (const Ar1Case& c : kAr1Cases) {
    const double phi = c.phi, n = static_cast<double>(kS * kC);
    const MatD x = ar1(phi, kS, kC, 2024);
    const double ess_true = n * (1 - phi) / (1 + phi), mcse_true = std::sqrt((1 + phi) / ((1 - phi) * n));
    const double ess_tol = 4 * c.ess_sd + std::abs(c.ess_bias), mcse_tol = 4 * c.mcse_sd + std::abs(c.mcse_bias);
    const double basic = ebm::ess_basic(x), bulk = ebm::ess_bulk(x), mcse = ebm::mcse_mean(x);
    std::printf(
        "phi %5.2f: ess_basic %.0f ess_bulk %.0f (closed form %.0f, tol %.1f %%), mcse %.5f (%.5f, tol %.1f %%)\n", phi,
        basic, bulk, ess_true, 100 * ess_tol, mcse, mcse_true, 100 * mcse_tol);
    EXPECT_NEAR(basic / ess_true, 1, ess_tol) << "phi " << phi;
    EXPECT_NEAR(bulk / ess_true, 1, ess_tol) << "phi " << phi;
    EXPECT_NEAR(mcse / mcse_true, 1, mcse_tol) << "phi " << phi;
    // The MCSE is the sd of the mean's error: |mean| beyond 4 of them would mean it is too small.
    EXPECT_LT(std::abs(x.mean()), 4 * mcse_true) << "phi " << phi;
    // Stationary, well-mixed chains: the maximum over the 200 replications was 1.0028 (phi 0.9).
    EXPECT_LT(ebm::rhat(x), 1.01) << "phi " << phi;
  }
}

TEST(Ess, IidNormalIsTheDrawCount) {
  // Over 200 replications: ess_bulk / SC = 0.994 +- 0.010, ess_tail / SC = 0.989 +- 0.0097,
  // R-hat at most 1.0001. Tolerance: 4 sd plus the bias, 5 %.
  const MatD x = ar1(0.0, kS, kC, 77);
  const double n = static_cast<double>(kS * kC);
  const double bulk = ebm::ess_bulk(x), tail = ebm::ess_tail(x);
  std::printf("iid: ess_bulk %.0f ess_tail %.0f of %.0f, rhat %.5f\n", bulk, tail, n, ebm::rhat(x));
  EXPECT_NEAR(bulk / n, 1, 0.05);
  EXPECT_TRUE(std::isfinite(tail));
  EXPECT_NEAR(tail / n, 1, 0.05);
  EXPECT_NEAR(ebm::rhat(x), 1, 0.01);
  EXPECT_NEAR(ebm::rhat_bulk(x), 1, 0.01);
  EXPECT_NEAR(ebm::rhat_folded(x), 1, 0.01);
}

TEST(Rhat, ChainsStuckInDifferentModes) {
  // Two chains around -3, two around +3: the rank-normalised chain means are about -+0.8
  // against a within-chain variance of about 0.36, so R-hat is near 1.7, far above 1.01.
  const MatD x = located(ar1(0.5, 2000, 4, 5), {-3, -3, 3, 3}, {1, 1, 1, 1});
  const double r = ebm::rhat(x);
  std::printf("stuck modes: rhat %.3f, ess_bulk %.1f of 8000\n", r, ebm::ess_bulk(x));
  EXPECT_GT(r, 1.5);
  EXPECT_GT(ebm::rhat_bulk(x), 1.5);
  EXPECT_LT(ebm::ess_bulk(x), 100);  // of 8000 draws: the chains never mix
}

TEST(Rhat, FoldingCatchesUnequalScales) {
  // Same location, scales 1 and 3: the bulk R-hat sees equal centres; the folded one compares
  // |x - median| (mean 0.8 against 2.4) and flags the chains.
  const MatD x = located(ar1(0.0, 5000, 4, 6), {0, 0, 0, 0}, {1, 1, 3, 3});
  std::printf("unequal scales: rhat_bulk %.4f rhat_folded %.4f\n", ebm::rhat_bulk(x), ebm::rhat_folded(x));
  EXPECT_LT(ebm::rhat_bulk(x), 1.01);
  EXPECT_GT(ebm::rhat_folded(x), 1.1);
  EXPECT_EQ(ebm::rhat(x), ebm::rhat_folded(x));
}

TEST(Constant, IdenticalDrawsAreExactlyKnown) {
  const MatD x = MatD::Constant(10, 3, 0.1);
  EXPECT_EQ(ebm::ess_basic(x), 30);
  EXPECT_EQ(ebm::ess_bulk(x), 30);
  EXPECT_EQ(ebm::ess_tail(x), 30);
  EXPECT_EQ(ebm::rhat(x), 1);
  EXPECT_EQ(ebm::mcse_mean(x), 0);
}

TEST(Constant, ChainsStuckAtDifferentValuesNeverMeet) {
  MatD x(100, 4);
  for (Index j = 0; j < 4; ++j) x.col(j).setConstant(0.1 * static_cast<double>(j));
  EXPECT_EQ(ebm::rhat(x), std::numeric_limits<double>::infinity());
  EXPECT_EQ(ebm::rhat_bulk(x), std::numeric_limits<double>::infinity());
  // Every combined autocorrelation is 1 up to the last lag Geyer's loop reaches (46 of 50), so
  // ESS = 8 x 50 / (2 x 46): about one draw per chain.
  EXPECT_NEAR(ebm::ess_bulk(x), 400.0 / 92.0, 1e-12);
}

TEST(Ess, ShortChainsFallBackToHalfTheDraws) {
  // 11 draws per chain split into 5: no autocorrelation pair beyond lag 1 can be estimated, and
  // posterior and Stan both end with tau = 2.
  const MatD x = ar1(0.5, 11, 3, 8);
  EXPECT_EQ(ebm::ess_basic(x), 15.0);
  EXPECT_EQ(ebm::ess_bulk(x), 15.0);
}

TEST(Reference, MatchesAPortOfPosteriorsRCode) {
  // Expected values from a direct Python port of stan-dev/posterior's R/convergence.R (.ess,
  // .rhat, z_scale with Blom's 3/8, fold_draws, type-7 quantiles, the split dropping the middle
  // draw of an odd chain), with an O(n^2) autocovariance, on these same draws (101 x 3).
  struct Expected {
    double phi, basic, bulk, tail, rhat_bulk, rhat_folded, mcse;
  };
  const Expected cases[] = {
      {0.0, 208.24680921740855, 221.9555645155783, 270.4592704592708, 1.0228458208644362, 0.9940115021617691,
       0.06636274828672366},
      {0.7, 37.147247326868005, 37.387088772368124, 56.282423376921706, 1.0832517285006655, 1.0314292051620753,
       0.15297400619545412},
      {-0.3, 300.8594785550494, 281.541234843474, 337.5013513026555, 1.0182243085293197, 0.9932003384817907,
       0.055744376643145875},
  };
  for (const Expected& e : cases) {
    MatD x = ar1(e.phi, 101, 3, 7);
    x.col(2).array() += 0.3;
    const double tol = 1e-12;
    EXPECT_NEAR(ebm::ess_basic(x) / e.basic, 1, tol) << e.phi;
    EXPECT_NEAR(ebm::ess_bulk(x) / e.bulk, 1, tol) << e.phi;
    EXPECT_NEAR(ebm::ess_tail(x) / e.tail, 1, tol) << e.phi;
    EXPECT_NEAR(ebm::rhat_bulk(x), e.rhat_bulk, tol) << e.phi;
    EXPECT_NEAR(ebm::rhat_folded(x), e.rhat_folded, tol) << e.phi;
    EXPECT_NEAR(ebm::rhat(x), std::max(e.rhat_bulk, e.rhat_folded), tol) << e.phi;
    EXPECT_NEAR(ebm::mcse_mean(x) / e.mcse, 1, tol) << e.phi;
  }
}

TEST(ModeOccupancy, MixtureSampleByComponent) {
  // Three components 4 apart with sd 0.3: a draw lands nearer another centre with probability
  // Phi(-2 / 0.3) ~ 1e-11, so occupancy must equal the component counts exactly; those are
  // Binomial(N, w), within 4 sd = 4 sqrt(w (1 - w) / N) < 0.015 of the weights.
  const Index n = 20000;
  MatD centres(3, 2);
  centres << -4, 0, 0, 4, 4, 0;
  const double w[3] = {0.2, 0.3, 0.5};
  std::vector<double> u(static_cast<std::size_t>(n)), z(static_cast<std::size_t>(2 * n));
  ebm::CounterRng rng(9, 0);
  rng.uniform<double>(0, std::span<double>(u));
  rng.normal<double>(1, std::span<double>(z));
  MatD draws(n, 2);
  Vec<double> counts = Vec<double>::Zero(3);
  for (Index i = 0; i < n; ++i) {
    const double ui = u[static_cast<std::size_t>(i)];
    const Index k = ui < w[0] ? 0 : ui < w[0] + w[1] ? 1 : 2;
    counts(k) += 1;
    for (Index d = 0; d < 2; ++d) draws(i, d) = centres(k, d) + 0.3 * z[static_cast<std::size_t>(2 * i + d)];
  }
  const Vec<double> occ = ebm::mode_occupancy(draws, centres);
  ASSERT_EQ(occ.size(), 3);
  for (Index k = 0; k < 3; ++k) {
    EXPECT_EQ(occ(k), counts(k) / static_cast<double>(n)) << k;
    EXPECT_NEAR(occ(k), w[k], 4 * std::sqrt(w[k] * (1 - w[k]) / static_cast<double>(n))) << k;
  }
  EXPECT_NEAR(occ.sum(), 1, 1e-15);
}

TEST(ModeOccupancy, TiesGoToTheLowerIndex) {
  MatD draws(2, 1), centres(2, 1);
  draws << 0, 2;
  centres << -1, 1;  // 0 is equidistant
  const Vec<double> occ = ebm::mode_occupancy(draws, centres);
  EXPECT_EQ(occ(0), 0.5);
  EXPECT_EQ(occ(1), 0.5);
}

TEST(Acceptance, SummaryOfCounts) {
  const std::vector<std::int64_t> accepted = {50, 80, 0}, proposed = {100, 100, 200};
  const ebm::AcceptanceSummary a = ebm::acceptance_summary(accepted, proposed);
  EXPECT_EQ(a.overall, 130.0 / 400.0);
  EXPECT_EQ(a.min, 0.0);
  EXPECT_EQ(a.max, 0.8);
  ASSERT_EQ(a.per_chain.size(), 3);
  EXPECT_EQ(a.per_chain(0), 0.5);
}

// Three dimensions: iid, AR(0.7), and one whose chains sit in different modes.
std::vector<MatD> three_dimension_chains() {
  const MatD iid = ar1(0.0, 4000, 4, 21), sticky = ar1(0.7, 4000, 4, 22);
  const MatD stuck = located(ar1(0.5, 4000, 4, 23), {-3, 3, -3, 3}, {1, 1, 1, 1});
  std::vector<MatD> chains;
  for (Index j = 0; j < 4; ++j) {
    MatD c(4000, 3);
    c << iid.col(j), sticky.col(j), stuck.col(j);
    chains.push_back(c);
  }
  return chains;
}

TEST(Summarize, FillsEveryFieldFromTheScalarFunctions) {
  const std::vector<MatD> chains = three_dimension_chains();
  ebm::McmcSummaryOptions options;
  options.names = {"iid", "sticky", "stuck"};
  options.accepted = {10, 20, 30, 40};
  options.proposed = {100, 100, 100, 100};
  const ebm::McmcSummary s = ebm::summarize(chains, options);
  EXPECT_EQ(s.chains, 4);
  EXPECT_EQ(s.draws_per_chain, 4000);
  ASSERT_TRUE(s.acceptance.has_value());
  EXPECT_EQ(s.acceptance->overall, 0.25);
  for (Index d = 0; d < 3; ++d) {
    const MatD x = ebm::dimension_draws(chains, d);
    const double n = static_cast<double>(x.size());
    EXPECT_EQ(s.mean(d), x.mean());
    EXPECT_NEAR(s.sd(d), std::sqrt((x.array() - x.mean()).square().sum() / (n - 1)), 1e-12);
    EXPECT_EQ(s.mcse_mean(d), ebm::mcse_mean(x));
    EXPECT_EQ(s.ess_bulk(d), ebm::ess_bulk(x));
    EXPECT_EQ(s.ess_tail(d), ebm::ess_tail(x));
    EXPECT_EQ(s.rhat(d), ebm::rhat(x));
  }
  EXPECT_EQ(s.flagged(), std::vector<Index>{2});
  const std::string text = s.summary();
  std::printf("%s", text.c_str());
  for (const char* part : {"4 chains x 4000 draws", "acceptance 0.25", "sticky", "ess_bulk", "rhat", "*"}) {
    EXPECT_NE(text.find(part), std::string::npos) << part;
  }
}

TEST(Summarize, SameResultForAnyThreadCount) {
  const std::vector<MatD> chains = three_dimension_chains();
  const int threads = ebm::num_threads();
  ebm::set_num_threads(1);
  const ebm::McmcSummary one = ebm::summarize(chains);
  ebm::set_num_threads(2);
  const ebm::McmcSummary two = ebm::summarize(chains);
  ebm::set_num_threads(threads);
  EXPECT_EQ(one.ess_bulk, two.ess_bulk);
  EXPECT_EQ(one.ess_tail, two.ess_tail);
  EXPECT_EQ(one.rhat, two.rhat);
  EXPECT_EQ(one.names, (std::vector<std::string>{"x0", "x1", "x2"}));
  EXPECT_FALSE(one.acceptance.has_value());
}

TEST(Summarize, UnstacksTheSamplersLayout) {
  const std::vector<MatD> chains = three_dimension_chains();
  MatD stacked(4 * 4000, 3);
  for (Index j = 0; j < 4; ++j) stacked.middleRows(j * 4000, 4000) = chains[static_cast<std::size_t>(j)];
  const std::vector<MatD> back = ebm::unstack_chains(stacked, 4000);
  ASSERT_EQ(back.size(), 4u);
  for (std::size_t j = 0; j < 4; ++j) EXPECT_EQ(back[j], chains[j]);
}

TEST(Errors, BadDrawsNameTheFunctionAndValue) {
  using ebm::InvalidArgument;
  using ebm::NumericalError;
  expect_error<InvalidArgument>([] { ebm::ess_bulk(MatD::Zero(3, 2)); },
                                {"ess_bulk", "3 draws per chain", "at least 4"});
  expect_error<InvalidArgument>([] { ebm::rhat(MatD::Zero(10, 0)); }, {"rhat", "no chains"});
  MatD nan = MatD::Zero(10, 2);
  nan(4, 1) = std::numeric_limits<double>::quiet_NaN();
  expect_error<NumericalError>([&] { ebm::ess_tail(nan); }, {"ess_tail", "draws", "nan", "row 4, column 1"});
  expect_error<NumericalError>([&] { ebm::mcse_mean(nan); }, {"mcse_mean"});
  expect_error<InvalidArgument>([] { ebm::autocorrelation(Vec<double>::Zero(10), 10); },
                                {"autocorrelation", "max_lag is 10"});
  expect_error<InvalidArgument>([] { ebm::autocorrelation(Vec<double>::Zero(2)); }, {"autocorrelation", "2 draws"});
}

TEST(Errors, BadChainsNameTheFunctionAndValue) {
  using ebm::InvalidArgument;
  expect_error<InvalidArgument>([] { ebm::summarize({}); }, {"summarize", "empty"});
  expect_error<InvalidArgument>(
      [] {
        ebm::summarize({MatD::Zero(10, 2), MatD::Zero(9, 2)});
      },
      {"summarize", "chains[1]", "9x2", "10x2"});
  expect_error<InvalidArgument>(
      [] {
        ebm::summarize({MatD::Zero(10, 2), MatD::Zero(10, 3)});
      },
      {"summarize", "chains[1]", "10x3"});
  expect_error<InvalidArgument>([] { ebm::summarize(as_chains(MatD::Zero(3, 2))); }, {"summarize", "3 draws"});
  std::vector<MatD> chains = as_chains(MatD::Zero(10, 2));
  chains[1](2, 0) = std::numeric_limits<double>::infinity();
  expect_error<ebm::NumericalError>([&] { ebm::summarize(chains); }, {"summarize", "chains[1]", "inf"});
  ebm::McmcSummaryOptions names;
  names.names = {"a", "b"};
  expect_error<InvalidArgument>([&] { ebm::summarize(as_chains(MatD::Zero(10, 2)), names); },
                                {"names has 2 entries", "expected 0 or 1"});
  ebm::McmcSummaryOptions counts;
  counts.accepted = {1};
  counts.proposed = {2};
  expect_error<InvalidArgument>([&] { ebm::summarize(as_chains(MatD::Zero(10, 2)), counts); },
                                {"accepted and proposed have 1 and 1", "2 (one per chain)"});
  expect_error<InvalidArgument>([] { ebm::dimension_draws({MatD::Zero(10, 2)}, 2); }, {"dimension_draws", "d is 2"});
  expect_error<InvalidArgument>([] { ebm::unstack_chains(MatD::Zero(10, 2), 3); }, {"unstack_chains", "10x2", "3"});
  expect_error<InvalidArgument>([] { ebm::unstack_chains(MatD::Zero(10, 2), 0); }, {"draws_per_chain is 0"});
}

TEST(Errors, BadCountsAndCentres) {
  using ebm::InvalidArgument;
  const std::vector<std::int64_t> one = {5}, two = {5, 5}, over = {11}, ten = {10}, zero = {0};
  expect_error<InvalidArgument>([&] { ebm::acceptance_summary(one, two); }, {"acceptance_summary", "1 chains", "2"});
  expect_error<InvalidArgument>([&] { ebm::acceptance_summary(over, ten); }, {"chain 0", "accepted 11 of proposed 10"});
  expect_error<InvalidArgument>([&] { ebm::acceptance_summary(zero, zero); }, {"proposed 0"});
  expect_error<InvalidArgument>([] { ebm::mode_occupancy(MatD::Zero(5, 2), MatD::Zero(3, 3)); },
                                {"mode_occupancy", "centres", "3x3"});
  expect_error<InvalidArgument>([] { ebm::mode_occupancy(MatD::Zero(5, 2), MatD::Zero(0, 2)); },
                                {"mode_occupancy", "centres", "0x2"});
}

}  // namespace
