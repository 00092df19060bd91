// The sampler kernels (HMC, NUTS, underdamped Langevin, parallel tempering) against exact
// answers: invariance of the target (chains started at exact draws stay exact after one
// update), leapfrog reversibility and volume preservation, moments within 4 MCSE after
// warm-up, the swap rule against detailed balance, parallel tempering recovering the mode
// weights that Langevin gets wrong, Stan's warm-up windows, and the same bits for any thread
// count and for a chain alone or in a batch.
#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/diag/mcmc.hpp>
#include <ebm/energy/analytic.hpp>
#include <ebm/energy/mlp.hpp>
#include <ebm/sample/registry.hpp>
#include <ebm/sample/samplers.hpp>

#include <gtest/gtest.h>

#include <Eigen/LU>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

namespace {

using ebm::Index;
using ebm::MatD;
using ebm::RowVec;
using ebm::Vec;

ebm::Gaussian<double> correlated_gaussian() {
  return ebm::Gaussian<double>(RowVec<double>{{0.5, -1.0}}, MatD{{2.0, 1.2}, {1.2, 1.0}});
}

template <class E>
ebm::BatchEvaluation<double> evaluation(const E& e) {
  return ebm::detail::batch_evaluation<double>(e);
}

// One update of `kernel` from n exact draws (no adaptation): the result must be exact too.
// Checks every mean and second moment with a z-test at 4 standard errors of independent draws.
template <class E>
void expect_invariant(const E& target, ebm::Kernel<double>& kernel, const MatD& exact, const std::string& what) {
  const Index n = exact.rows(), d = exact.cols();
  ebm::Target<double> t(d, evaluation(target));
  ebm::ChainState<double> s;
  s.x = exact;
  const ebm::ChainStreams streams{7, 0};
  kernel.init(s, t, streams, 0);
  ebm::StepInfo<double> info;
  for (Index k = 1; k <= 2; ++k) kernel.step(s, t, streams, k, info);
  const RowVec<double> mean = target.mean();
  const MatD cov = target.covariance();
  for (Index i = 0; i < d; ++i) {
    const Vec<double> xi = s.x.col(i);
    const double m = xi.mean(), se = std::sqrt(cov(i, i) / double(n));
    EXPECT_LE(std::abs(m - mean(i)), 4 * se) << what << ": mean[" << i << "] " << m << " vs " << mean(i);
    for (Index j = i; j < d; ++j) {
      const Vec<double> q = ((s.x.col(i).array() - mean(i)) * (s.x.col(j).array() - mean(j))).matrix();
      const double c = q.mean(), sd = std::sqrt((q.array() - c).square().mean() / double(n));
      EXPECT_LE(std::abs(c - cov(i, j)), 4 * sd) << what << ": cov[" << i << "," << j << "] " << c << " vs " << cov(i, j);
    }
  }
}

ebm::HamiltonianSettings<double> fixed_settings(double h) {
  ebm::HamiltonianSettings<double> s;
  s.step_size = h;
  s.adapt = false;
  s.path_length = 1.3;
  return s;
}

TEST(Invariance, HmcNutsAndPtLeaveAnExactSampleExact) {
  const auto g = correlated_gaussian();
  const MatD exact = g.sample(20000, 3);
  ebm::HmcKernel<double> hmc(fixed_settings(0.4));
  expect_invariant(g, hmc, exact, "hmc");
  auto jittered = fixed_settings(0.4);
  jittered.jitter_path = true;
  jittered.step_jitter = 0.3;
  ebm::HmcKernel<double> hmc_jitter(jittered);
  expect_invariant(g, hmc_jitter, exact, "hmc jittered");
  ebm::NutsKernel<double> nuts(fixed_settings(0.4));
  expect_invariant(g, nuts, exact, "nuts");
  auto dense = fixed_settings(0.6);
  dense.metric = ebm::MetricKind::Dense;
  ebm::NutsKernel<double> nuts_dense(dense);
  expect_invariant(g, nuts_dense, exact, "nuts dense");
}

TEST(Invariance, NutsOnTheRosenbrockBanana) {
  // Far from Gaussian: the draw must come from the whole tree, weighted correctly.
  const ebm::Rosenbrock<double> banana(1.0, 5.0);
  const MatD exact = banana.sample(20000, 5);
  ebm::NutsKernel<double> nuts(fixed_settings(0.2));
  expect_invariant(banana, nuts, exact, "nuts banana");
  ebm::HmcKernel<double> hmc(fixed_settings(0.1));
  expect_invariant(banana, hmc, exact, "hmc banana");
}

// Exposes the leapfrog integrator of the Hamiltonian kernels.
class Integrator : public ebm::HamiltonianKernel<double> {
 public:
  using HamiltonianKernel::HamiltonianKernel;
  std::string name() const override { return "leapfrog"; }
  void transition(ebm::ChainState<double>&, ebm::Target<double>&, const ebm::ChainStreams&, Index, const Vec<double>&,
                  ebm::StepInfo<double>&) override {}
  void run(Index steps, double h, MatD& x, MatD& p, ebm::Target<double>& t) {
    MatD score(x.rows(), x.cols());
    Vec<double> energy(x.rows());
    std::vector<Index> rows(static_cast<std::size_t>(x.rows()));
    for (Index r = 0; r < x.rows(); ++r) rows[static_cast<std::size_t>(r)] = r;
    t.evaluate(x, &energy, score);
    std::vector<double> step(rows.size(), h);
    for (Index i = 0; i < steps; ++i) leapfrog(rows, step, x, p, score, energy, t);
  }
};

TEST(Leapfrog, IsReversibleAndPreservesVolume) {
  const ebm::Rosenbrock<double> banana(1.0, 5.0);
  ebm::Target<double> t(2, evaluation(banana));
  Integrator lf(fixed_settings(0.05));
  ebm::ChainState<double> s;
  s.x = MatD{{0.3, 0.2}};
  lf.init(s, t, ebm::ChainStreams{}, 0);
  const MatD x0{{0.3, 0.2}}, p0{{0.7, -0.4}};
  MatD x = x0, p = p0;
  lf.run(20, 0.05, x, p, t);
  MatD xb = x, pb = p;
  lf.run(20, -0.05, xb, pb, t);  // integrating backwards retraces the path
  EXPECT_LT((xb - x0).cwiseAbs().maxCoeff(), 1e-10);
  EXPECT_LT((pb - p0).cwiseAbs().maxCoeff(), 1e-10);
  // Jacobian of (x, p) -> (x', p') by central differences: determinant 1 (symplectic).
  MatD jac(4, 4);
  const double eps = 1e-6;
  for (int j = 0; j < 4; ++j) {
    MatD xp = x0, pp = p0, xm = x0, pm = p0;
    (j < 2 ? xp(0, j) : pp(0, j - 2)) += eps;
    (j < 2 ? xm(0, j) : pm(0, j - 2)) -= eps;
    lf.run(20, 0.05, xp, pp, t);
    lf.run(20, 0.05, xm, pm, t);
    for (int i = 0; i < 2; ++i) {
      jac(i, j) = (xp(0, i) - xm(0, i)) / (2 * eps);
      jac(i + 2, j) = (pp(0, i) - pm(0, i)) / (2 * eps);
    }
  }
  EXPECT_NEAR(jac.determinant(), 1.0, 1e-6);
}

// Moments within 4 MCSE after Stan's warm-up, from ESS-based standard errors.
void expect_moments(const ebm::SampleResult<double>& r, const RowVec<double>& mean, const MatD& cov) {
  ASSERT_TRUE(r.failures.empty()) << r.summary();
  const Index s = r.draws_per_chain, chains = static_cast<Index>(r.chains_kept.size()), d = mean.cols();
  const auto draws = ebm::unstack_chains(r.samples, s);
  for (Index i = 0; i < d; ++i) {
    MatD v(s, chains), q(s, chains);
    for (Index c = 0; c < chains; ++c)
      for (Index k = 0; k < s; ++k) {
        const double x = draws[static_cast<std::size_t>(c)](k, i);
        v(k, c) = x;
        q(k, c) = (x - mean(i)) * (x - mean(i));
      }
    EXPECT_LE(std::abs(v.mean() - mean(i)), 4 * ebm::mcse_mean(v)) << r.sampler << " mean[" << i << "]; " << r.summary();
    EXPECT_LE(std::abs(q.mean() - cov(i, i)), 4 * ebm::mcse_mean(q)) << r.sampler << " var[" << i << "]; " << r.summary();
  }
}

ebm::ChainOptions<double> chain_options(Index chains, Index steps, Index burn_in, std::uint64_t seed) {
  ebm::ChainOptions<double> o;
  o.chains = chains;
  o.steps = steps;
  o.burn_in = burn_in;
  o.seed = seed;
  return o;
}

// Stan's recursive NUTS tree (base_nuts.hpp, 2.21), the shape only: how many leapfrog steps
// and doublings a transition takes for given directions. Unit metric. Written independently of
// the kernel's iterative builder, to check that its checkpoints and extra checks stop exactly
// where Stan's recursion does.
struct RecursiveNuts {
  RecursiveNuts(const ebm::Rosenbrock<double>& e, double step) : target(e), h(step) {}
  const ebm::Rosenbrock<double>& target;
  double h, max_energy_error = 1000;
  MatD x, p, s;  // 1 x D, the leaf being integrated
  double h0 = 0;
  int leaves = 0;
  bool divergent = false;

  double hamiltonian() {
    Vec<double> e;
    target.energy(x, e);
    return e(0) + 0.5 * p.squaredNorm();
  }
  void leapfrog(double signed_h) {
    p += 0.5 * signed_h * s;
    x += signed_h * p;
    target.score(x, s);
    p += 0.5 * signed_h * s;
  }
  static bool keep_going(const RowVec<double>& a, const RowVec<double>& b, const RowVec<double>& rho) {
    return a.dot(rho) > 0 && b.dot(rho) > 0;
  }
  // Returns validity; rho += the subtree's momenta; p_beg, p_end: its first and last leaf.
  bool build(int depth, double sign, RowVec<double>& rho, RowVec<double>& p_beg, RowVec<double>& p_end) {
    if (depth == 0) {
      leapfrog(sign * h);
      ++leaves;
      double e = hamiltonian();
      if (std::isnan(e)) e = INFINITY;
      if (e - h0 > max_energy_error) divergent = true;
      rho += p;
      p_beg = p_end = p;
      return !divergent;
    }
    RowVec<double> rho_init = RowVec<double>::Zero(rho.size()), rho_final = rho_init, p_init_end, p_final_beg;
    if (!build(depth - 1, sign, rho_init, p_beg, p_init_end)) return false;
    if (!build(depth - 1, sign, rho_final, p_final_beg, p_end)) return false;
    const RowVec<double> rho_sub = rho_init + rho_final;
    rho += rho_sub;
    return keep_going(p_beg, p_end, rho_sub) && keep_going(p_beg, p_final_beg, rho_init + p_final_beg) &&
           keep_going(p_init_end, p_end, rho_final + p_init_end);
  }
  // One transition's (depth, leaves) from x0, p0 with the directions `forward(j)`.
  template <class Direction>
  std::pair<int, int> shape(const MatD& x0, const MatD& p0, int max_depth, Direction&& forward) {
    MatD x_fwd = x0, p_fwd = p0, x_bck = x0, p_bck = p0, s0;
    target.score(x0, s0);
    MatD s_fwd = s0, s_bck = s0;
    x = x0, p = p0, s = s0;
    h0 = hamiltonian();
    RowVec<double> rho = p0, p_fwd_bck = p0, p_fwd_fwd = p0, p_bck_fwd = p0, p_bck_bck = p0;
    int depth = 0;
    while (depth < max_depth) {
      RowVec<double> rho_fwd = RowVec<double>::Zero(rho.size()), rho_bck = rho_fwd;
      bool valid;
      if (forward(depth)) {
        x = x_fwd, p = p_fwd, s = s_fwd;
        rho_bck = rho;
        p_bck_fwd = p_fwd_fwd;
        valid = build(depth, 1, rho_fwd, p_fwd_bck, p_fwd_fwd);
        x_fwd = x, p_fwd = p, s_fwd = s;
      } else {
        x = x_bck, p = p_bck, s = s_bck;
        rho_fwd = rho;
        p_fwd_bck = p_bck_bck;
        valid = build(depth, -1, rho_bck, p_bck_fwd, p_bck_bck);
        x_bck = x, p_bck = p, s_bck = s;
      }
      if (!valid) break;
      ++depth;
      rho = rho_bck + rho_fwd;
      if (!(keep_going(p_bck_bck, p_fwd_fwd, rho) && keep_going(p_bck_bck, p_fwd_bck, rho_bck + p_fwd_bck) &&
            keep_going(p_bck_fwd, p_fwd_fwd, rho_fwd + p_bck_fwd)))
        break;
    }
    return {depth, leaves};
  }
};

TEST(NutsTree, StopsWhereStansRecursionStops) {
  // For many states and momenta, the kernel's tree has the depth and the number of leapfrog
  // steps of Stan's recursive build with the same directions.
  const ebm::Rosenbrock<double> banana(1.0, 5.0);
  auto settings = fixed_settings(0.05);
  settings.metric = ebm::MetricKind::Unit;
  settings.max_depth = 8;
  ebm::NutsKernel<double> nuts(settings);
  ebm::Target<double> t(2, evaluation(banana));
  const Index n = 400;
  ebm::ChainState<double> s;
  s.x = banana.sample(n, 2);
  const ebm::ChainStreams streams{5, 0};
  nuts.init(s, t, streams, 0);
  const MatD start = s.x;
  ebm::StepInfo<double> info;
  nuts.step(s, t, streams, 1, info);
  int compared = 0, deep = 0;
  for (Index c = 0; c < n; ++c) {
    MatD p0(1, 2);
    streams.normal<double>(c, 1, ebm::DrawPurpose::Momentum, std::span<double>(p0.data(), 2));
    RecursiveNuts ref(banana, 0.05);
    const auto [depth, leaves] = ref.shape(start.row(c), p0, settings.max_depth, [&](int j) {
      return streams.uniform(c, 1, ebm::DrawPurpose::Tree, static_cast<std::uint64_t>(j)) > 0.5;
    });
    EXPECT_EQ(info.tree_depth[static_cast<std::size_t>(c)], depth) << "chain " << c;
    EXPECT_EQ(info.gradients[static_cast<std::size_t>(c)], leaves) << "chain " << c;
    ++compared;
    deep += depth >= 4;
  }
  EXPECT_EQ(compared, n);
  EXPECT_GT(deep, n / 10);  // trees deep enough for the inner checks to matter
}

TEST(Moments, EverySamplerOnACorrelatedGaussian) {
  const auto g = correlated_gaussian();
  for (const std::string name : {"hmc", "nuts", "underdamped", "pt"}) {
    ebm::SamplerSettings<double> s;
    if (name == "underdamped") s.step_size = 0.05;  // BAOAB's O(h^2) bias stays well inside the MCSE
    s.tempering.replicas = 3;
    s.tempering.max_temperature = 4;
    const auto r = ebm::run_sampler<double>(name, 2, evaluation(g), s, chain_options(4, 3000, 1000, 11));
    expect_moments(r, g.mean(), g.covariance());
  }
}

TEST(Moments, EverySamplerOnTheRosenbrockBanana) {
  const ebm::Rosenbrock<double> banana(1.0, 5.0);
  for (const std::string name : {"hmc", "nuts", "underdamped", "pt"}) {
    ebm::SamplerSettings<double> s;
    // At the default target of 0.8, HMC and NUTS diverge a few times per run here (as Stan's
    // NUTS does: docs/sampling.md), and the variance of y came out 4-5 MCSE low in 2 (hmc) and
    // 4 (nuts) of 30 seeds; at 0.95 no run diverged and all 60 were within 4 MCSE (measured).
    s.target_acceptance = 0.95;
    if (name == "underdamped") s.step_size = 0.02;
    s.within = "nuts";
    s.tempering.replicas = 3;
    s.tempering.max_temperature = 4;
    const auto r = ebm::run_sampler<double>(name, 2, evaluation(banana), s, chain_options(4, 6000, 1000, 12));
    expect_moments(r, banana.mean(), banana.covariance());
  }
}

TEST(Moments, TemperingOnTheMixtureWithEveryWithinKernel) {
  // Both modes, with their weights: the mixture's mean and variances (dominated by the modes'
  // separation) within 4 MCSE.
  const ebm::GaussianMixture<double> mix(Vec<double>{{0.8, 0.2}}, MatD{{3, 3}, {-3, -3}},
                                         {MatD::Identity(2, 2), MatD::Identity(2, 2)});
  for (const std::string within : {"mala", "hmc", "nuts", "underdamped"}) {
    ebm::SamplerSettings<double> s;
    s.within = within;
    if (within == "underdamped") s.step_size = 0.05;
    s.tempering.replicas = 5;
    s.tempering.max_temperature = 20;
    auto o = chain_options(8, 6000, 1000, 14);
    o.init.kind = ebm::Initialization<double>::Kind::Uniform;
    o.init.scale = 6;
    const auto r = ebm::run_sampler<double>("pt", 2, evaluation(mix), s, o);
    expect_moments(r, mix.mean(), mix.covariance());
  }
}

TEST(Moments, NutsAndTemperingOnAMildFunnel) {
  // A 3-D funnel with sigma 1.5: curved, but mild enough for NUTS to be exact at these lengths
  // (the 10-D funnel with sigma 3 defeats it: docs/sampling.md). Static HMC with a fixed path
  // length is not: its variance of the neck coordinates comes out low (measured).
  const ebm::Funnel<double> f(3, 1.5);
  for (const std::string name : {"nuts", "pt"}) {
    ebm::SamplerSettings<double> s;
    s.target_acceptance = 0.95;
    s.hamiltonian.metric = ebm::MetricKind::Dense;
    s.within = "nuts";
    s.tempering.replicas = 3;
    s.tempering.max_temperature = 3;
    const auto r = ebm::run_sampler<double>(name, 3, evaluation(f), s, chain_options(4, 4000, 1000, 5));
    expect_moments(r, f.mean(), f.covariance());
  }
}

TEST(Warmup, StanWindowsAndAdaptedStepSize) {
  const ebm::WarmupWindows w(1000);
  std::vector<Index> ends;
  for (Index k = 1; k <= 1000; ++k)
    if (w.window_end(k)) ends.push_back(k);
  EXPECT_EQ(ends, (std::vector<Index>{100, 150, 250, 450, 950}));
  EXPECT_FALSE(w.collecting(75));
  EXPECT_TRUE(w.collecting(76));
  EXPECT_TRUE(w.collecting(950));
  EXPECT_FALSE(w.collecting(951));

  // After warm-up NUTS's mean acceptance statistic is near its target, and the diagonal metric
  // near the target's variances (scales 1 .. 10).
  const Index d = 20;
  MatD cov = MatD::Zero(d, d);
  for (Index i = 0; i < d; ++i) cov(i, i) = std::pow(10.0, 2.0 * double(i) / double(d - 1));
  const ebm::Gaussian<double> g(RowVec<double>::Zero(d), cov);
  ebm::NutsKernel<double> nuts(ebm::HamiltonianSettings<double>{});
  ebm::Target<double> t(d, evaluation(g));
  auto o = chain_options(2, 1500, 1000, 3);
  const auto r = ebm::run_kernel(nuts, t, o);
  double mean_accept = 0;
  for (double a : r.stats.acceptance) mean_accept += a;
  mean_accept /= double(r.stats.acceptance.size());
  // Above the target, as in Stan: the step size kept after warm-up is the dual-averaging mean,
  // smaller than the iterates that aimed at 0.8. Seeds 100-129 gave 0.847 to 0.900 (measured).
  EXPECT_GT(mean_accept, 0.75) << r.summary();
  EXPECT_LT(mean_accept, 0.95) << r.summary();
  for (Index i = 0; i < d; ++i) EXPECT_NEAR(nuts.inverse_metric(0)(0, i) / cov(i, i), 1.0, 0.35) << i;
  EXPECT_EQ(r.stats.tree_depth.size(), std::size_t(2 * 500));
}

TEST(Tempering, SwapRuleSatisfiesDetailedBalance) {
  // pi(a at bi) pi(b at bj) P(swap) == pi(b at bi) pi(a at bj) P(swap back), for all orders.
  for (double ei : {-1.0, 0.5, 3.0})
    for (double ej : {-2.0, 0.0, 4.0}) {
      const double bi = 1.0, bj = 0.3;
      const double forward = -bi * ei - bj * ej + std::min(0.0, ebm::swap_log_acceptance(bi, bj, ei, ej));
      const double backward = -bi * ej - bj * ei + std::min(0.0, ebm::swap_log_acceptance(bi, bj, ej, ei));
      EXPECT_NEAR(forward, backward, 1e-12) << ei << " " << ej;
    }
}

// A within kernel that does not move: replica k starts at an exact draw of N(0, T_k I) (the
// tempered standard normal), so only the swaps act.
class ExactTemperedStart : public ebm::Kernel<double> {
 public:
  explicit ExactTemperedStart(std::vector<double> temperatures) : t_(std::move(temperatures)) {}
  std::string name() const override { return "stay"; }
  void init(ebm::ChainState<double>& s, ebm::Target<double>& target, const ebm::ChainStreams&, Index) override {
    const Index k = static_cast<Index>(t_.size());
    const ebm::Gaussian<double> g(RowVec<double>::Zero(s.dim()), MatD::Identity(s.dim(), s.dim()));
    s.x = g.sample(s.chains(), 17);
    for (Index r = 0; r < s.chains(); ++r) s.x.row(r) *= std::sqrt(t_[static_cast<std::size_t>(r % k)]);
    ebm::evaluate_state(s, target, true);
  }
  void step(ebm::ChainState<double>&, ebm::Target<double>&, const ebm::ChainStreams&, Index, ebm::StepInfo<double>&) override {}
  Vec<double> step_size() const override { return Vec<double>::Zero(1); }

 private:
  std::vector<double> t_;
};

TEST(Tempering, SwapsKeepEveryReplicaExact) {
  // Swaps alone, from exact tempered draws: the cold replica must stay N(0, 1). A transposed
  // rule moves hot states down (variance above 1).
  const Index d = 2, chains = 20000;
  const std::vector<double> temps = {1.0, 3.0, 9.0};
  ebm::TemperingSettings<double> ts;
  ts.temperatures = temps;
  ebm::TemperingKernel<double> pt(ts, std::make_unique<ExactTemperedStart>(temps));
  const ebm::Gaussian<double> g(RowVec<double>::Zero(d), MatD::Identity(d, d));
  ebm::Target<double> t(d, evaluation(g));
  ebm::ChainState<double> s;
  s.x = MatD::Zero(chains, d);
  const ebm::ChainStreams streams{9, 0};
  pt.init(s, t, streams, 0);
  ebm::StepInfo<double> info;
  for (Index k = 1; k <= 4; ++k) pt.step(s, t, streams, k, info);
  const double var = s.x.array().square().mean();
  EXPECT_NEAR(var, 1.0, 4 * std::sqrt(2.0 / double(chains * d))) << "cold replica variance";
  for (double r : pt.swap_rates()) EXPECT_GT(r, 0.1);
}

TEST(Tempering, RecoversModeWeightsThatLangevinGetsWrong) {
  // 0.8 N((5,5), I) + 0.2 N((-5,-5), I) from uniform starts on [-8, 8]^2 (the NCSN toy).
  const ebm::GaussianMixture<double> mix(Vec<double>{{0.8, 0.2}}, MatD{{5, 5}, {-5, -5}},
                                         {MatD::Identity(2, 2), MatD::Identity(2, 2)});
  auto o = chain_options(32, 3000, 500, 13);
  o.init.kind = ebm::Initialization<double>::Kind::Uniform;
  o.init.scale = 8;
  auto basin = [](const ebm::SampleResult<double>& r) {
    // Per chain, the fraction of draws in the (5, 5) basin; chains are independent.
    const Index s = r.draws_per_chain, n = static_cast<Index>(r.chains_kept.size());
    Vec<double> f(n);
    for (Index c = 0; c < n; ++c) f(c) = (r.samples.middleRows(c * s, s).rowwise().sum().array() > 0).cast<double>().mean();
    const double m = f.mean(), se = std::sqrt((f.array() - m).square().sum() / double(n - 1) / double(n));
    return std::pair<double, double>(m, se);
  };
  ebm::SamplerSettings<double> s;
  const auto langevin = ebm::run_sampler<double>("mala", 2, evaluation(mix), s, o);
  s.tempering.replicas = 6;
  s.tempering.max_temperature = 60;
  const auto pt = ebm::run_sampler<double>("pt", 2, evaluation(mix), s, o);
  const auto [fl, sel] = basin(langevin);
  const auto [fp, sep] = basin(pt);
  // Langevin keeps each chain in the basin it started in: the fraction is the basins' share of
  // the starting box, about 1/2, not 0.8.
  EXPECT_GT(std::abs(fl - 0.8), 0.15) << "mala basin fraction " << fl;
  EXPECT_LE(std::abs(fp - 0.8), 3 * sep) << "pt basin fraction " << fp << " +- " << sep << "; " << pt.summary();
  EXPECT_LT(sep, 0.05);
}

TEST(Tempering, AdaptedLadderEqualisesTheSwapRates) {
  // A double well with a barrier of 16 and a ladder up to 1000: the geometric ladder's swap
  // rates are uneven (the energy's spread changes fast around the barrier's temperature);
  // after re-spacing during warm-up they are close to each other, and the draws still exact.
  const ebm::DoubleWell<double> well(2, 1.0, 2.0);
  auto o = chain_options(8, 6000, 2000, 15);
  o.init.kind = ebm::Initialization<double>::Kind::Uniform;
  o.init.scale = 6;
  auto spread = [&](bool adapt, ebm::SampleResult<double>* out) {
    ebm::TemperingSettings<double> ts;
    ts.replicas = 5;
    ts.max_temperature = 1000;
    ts.adapt_ladder = adapt;
    ebm::TemperingKernel<double> pt(ts, ebm::make_kernel<double>("mala", {}, o.steps));
    ebm::Target<double> t(2, evaluation(well));
    *out = ebm::run_kernel(pt, t, o);
    const auto rates = pt.swap_rates();
    const auto beta = pt.inverse_temperatures(0);
    for (std::size_t k = 1; k < beta.size(); ++k) EXPECT_LT(beta[k], beta[k - 1]) << "the ladder stays ordered";
    EXPECT_DOUBLE_EQ(beta.back(), 1.0 / 1000);
    return *std::max_element(rates.begin(), rates.end()) - *std::min_element(rates.begin(), rates.end());
  };
  ebm::SampleResult<double> fixed, adapted;
  const double before = spread(false, &fixed), after = spread(true, &adapted);
  EXPECT_GT(before, 0.1) << fixed.summary();  // measured 0.145
  EXPECT_LT(after, 0.25 * before) << adapted.summary();  // measured 0.005
  // Still exact: both wells equally often (x0's mean 0) and x1 standard normal.
  const auto draws = ebm::unstack_chains(adapted.samples, adapted.draws_per_chain);
  const MatD x0 = ebm::dimension_draws(draws, 0), x1 = ebm::dimension_draws(draws, 1);
  const MatD x1sq = x1.array().square().matrix();
  EXPECT_LE(std::abs(x0.mean()), 4 * ebm::mcse_mean(x0));
  EXPECT_LE(std::abs(x1sq.mean() - 1.0), 4 * ebm::mcse_mean(x1sq));
}

TEST(Reproducibility, SameBitsForAnyThreadCountAndAloneOrInABatch) {
  const ebm::Funnel<double> f(4, 1.5);
  for (const std::string name : {"hmc", "nuts", "underdamped", "pt"}) {
    ebm::SamplerSettings<double> s;
    s.tempering.replicas = 3;
    auto o = chain_options(3, 300, 100, 21);
    ebm::set_num_threads(1);
    const auto one = ebm::run_sampler<double>(name, 4, evaluation(f), s, o);
    ebm::set_num_threads(2);
    const auto two = ebm::run_sampler<double>(name, 4, evaluation(f), s, o);
    EXPECT_TRUE(one.samples == two.samples) << name;
    auto alone = o;
    alone.chains = 1;
    alone.first_chain = 2;
    const auto last = ebm::run_sampler<double>(name, 4, evaluation(f), s, alone);
    const Index n = one.draws_per_chain;
    EXPECT_TRUE(last.samples == one.samples.bottomRows(n)) << name << ": chain 2 alone differs from chain 2 in a batch";
  }
}

TEST(Reproducibility, ANeuralEnergyOnManyChainsGivesTheSameBitsOnOneAndTwoThreads) {
  // Enough chains for the per-chain loops and the autodiff evaluation to split over threads.
  const ebm::Mlp<double> mlp(ebm::MlpOptions{.widths = {2, 16, 16, 1}});
  for (const std::string name : {"nuts", "underdamped", "pt"}) {
    ebm::SamplerSettings<double> s;
    s.tempering.replicas = 2;
    auto o = chain_options(name == "pt" ? 300 : 600, 30, 10, 23);
    ebm::set_num_threads(1);
    const auto one = ebm::run_sampler<double>(name, 2, evaluation(mlp), s, o);
    ebm::set_num_threads(2);
    const auto two = ebm::run_sampler<double>(name, 2, evaluation(mlp), s, o);
    EXPECT_TRUE(one.samples == two.samples) << name;
    EXPECT_EQ(one.stats.gradients, two.stats.gradients) << name;
  }
}

TEST(Langevin, TheUlaKernelStepIsLangevinUpdate) {
  // One ULA update of the kernel equals the public langevin_update at counter k - 1.
  const auto g = correlated_gaussian();
  ebm::UlaOptions<double> o;
  o.chains = 70;  // more than the look-ahead's 64 draws: both noise paths of the kernel
  o.steps = 1;
  o.step_size = 0.05;
  o.seed = 4;
  o.first_chain = 3;
  o.init.kind = ebm::Initialization<double>::Kind::Points;
  o.init.points = g.sample(o.chains, 8);
  MatD x = o.init.points, score;
  g.score(x, score);
  ebm::langevin_update<double>(x, score, 0.05, 4, 0, 3);
  EXPECT_TRUE(ebm::ula(g, o).final_state == x);
  o.chains = 5;  // the look-ahead path
  o.init.points = o.init.points.topRows(5).eval();
  EXPECT_TRUE(ebm::ula(g, o).final_state == x.topRows(5));
}

TEST(Registry, NamesAndErrors) {
  EXPECT_EQ(ebm::sampler_spec("nuts").name, "nuts");
  EXPECT_THROW(ebm::sampler_spec("nutz"), ebm::InvalidArgument);
  EXPECT_THROW(ebm::parse_metric("full"), ebm::InvalidArgument);
  ebm::SamplerSettings<double> s;
  s.within = "ula";  // keeps no energies: swaps cannot be tested
  const auto g = correlated_gaussian();
  EXPECT_THROW(ebm::run_sampler<double>("pt", 2, evaluation(g), s, chain_options(2, 10, 0, 1)), ebm::InvalidArgument);
}

}  // namespace
