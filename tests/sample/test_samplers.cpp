// Samplers against closed forms: ULA's stationary variance on a Gaussian, MALA's exactness and
// detailed balance, the SDE at a temperature, gradient flow into the nearest minimum, non-finite
// targets, step-size adaptation, and bit-identical output for any thread count or batch split.
#include <ebm/ad/ops.hpp>
#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/energy/mlp.hpp>
#include <ebm/sample/samplers.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace {

using ebm::Index;
using ebm::Mat;
using ebm::MatD;
using ebm::Vec;

// N(0, s^2) in every coordinate, in closed form: a user-defined energy as a small struct.
struct IsoGaussian {
  Index d;
  double s;
  Index dim() const { return d; }
  void energy(const MatD& x, Vec<double>& out) const { out = 0.5 * x.rowwise().squaredNorm() / (s * s); }
  void score(const MatD& x, MatD& out) const { out = -x / (s * s); }
};

// A banana, differentiable only: autodiff supplies its score.
struct Banana {
  Index dim() const { return 2; }
  ebm::ad::Var<double> energy(ebm::ad::Var<double> x) const {
    using namespace ebm::ad;
    const auto x0 = slice_cols(x, 0, 1), x1 = slice_cols(x, 1, 1);
    return 0.5 * square(x0) + 2.0 * square(x1 - 0.5 * square(x0));
  }
};

// 1-D double well with a region where the energy is not a number (x > 3).
struct CliffWell {
  Index dim() const { return 1; }
  void energy(const MatD& x, Vec<double>& out) const {
    out.resize(x.rows());
    for (Index i = 0; i < x.rows(); ++i) {
      const double v = x(i, 0);
      out(i) = v > 3 ? std::numeric_limits<double>::quiet_NaN() : (v * v - 1) * (v * v - 1);
    }
  }
  void score(const MatD& x, MatD& out) const {
    out.resize(x.rows(), 1);
    for (Index i = 0; i < x.rows(); ++i) {
      const double v = x(i, 0);
      out(i, 0) = v > 3 ? std::numeric_limits<double>::quiet_NaN() : -4 * v * (v * v - 1);
    }
  }
};

// Sample variance of the final states (one independent draw per chain) and its standard error
// for normal draws, sd(s^2) = s^2 sqrt(2 / (n - 1)).
struct VarianceEstimate {
  double value, standard_error;
};
VarianceEstimate final_state_variance(const MatD& final_state) {
  const double n = static_cast<double>(final_state.size());
  const double mean = final_state.mean();
  const double v = (final_state.array() - mean).square().sum() / (n - 1);
  return {v, v * std::sqrt(2 / (n - 1))};
}

TEST(Ula, StationaryVarianceShowsTheStepSizeBias) {
  // ULA on N(0, s^2) is the AR(1) chain x' = (1 - h/s^2) x + sqrt(2h) eps, stationary variance
  // s^2 / (1 - h / (2 s^2)). After 400 steps the start is forgotten (|1 - h/s^2|^400 < 1e-18),
  // so the chains' final states are independent draws from it.
  const double s = 1.5;
  for (double ratio : {0.1, 0.5, 1.0}) {
    const double h = ratio * s * s;
    ebm::UlaOptions<double> o;
    o.chains = 20000;
    o.steps = 400;
    o.step_size = h;
    o.seed = 3;
    const auto r = ebm::ula(IsoGaussian{1, s}, o);
    const auto est = final_state_variance(r.final_state);
    const double expected = s * s / (1 - h / (2 * s * s));
    EXPECT_NEAR(est.value, expected, 4 * est.standard_error) << "h/s^2 = " << ratio;
    // ...and the bias is real: at h/s^2 >= 0.5 the variance is clearly not s^2.
    if (ratio >= 0.5) {
      EXPECT_GT(std::abs(est.value - s * s), 4 * est.standard_error);
    }
  }
}

TEST(Mala, RecoversTheExactVarianceWhereUlaIsBiased) {
  const double s = 1.5;
  for (double ratio : {0.5, 1.0}) {
    ebm::MalaOptions<double> o;
    o.chains = 20000;
    o.steps = 400;
    o.step_size = ratio * s * s;
    o.adapt = false;
    o.seed = 4;
    const auto r = ebm::mala(IsoGaussian{1, s}, o);
    const auto est = final_state_variance(r.final_state);
    EXPECT_NEAR(est.value, s * s, 4 * est.standard_error) << "h/s^2 = " << ratio;
    EXPECT_GT(r.acceptance_rate(), 0.3);
  }
}

TEST(Mala, DetailedBalanceHoldsForRandomPairs) {
  // pi(x) q(y|x) alpha(x,y) = pi(y) q(x|y) alpha(y,x), with the normalising constants of pi and
  // q (equal on both sides) left out. Energies and scores of the banana by autodiff.
  const Banana target;
  ebm::EnergyEvaluator<double> ev;
  MatD pts(400, 2);
  ebm::CounterRng(12, 0).normal<double>(0, std::span<double>(pts.data(), static_cast<std::size_t>(pts.size())));
  pts *= 1.5;
  Vec<double> e;
  MatD s;
  ev.evaluate(target, pts, e, &s);
  for (Index p = 0; p < 200; ++p) {
    const Index a = 2 * p, b = 2 * p + 1;
    for (double h : {0.01, 0.3, 1.2}) {
      const double log_fwd = ebm::mala_log_acceptance<double>(e(a), s.row(a), e(b), s.row(b), pts.row(a), pts.row(b), h);
      const double log_bwd = ebm::mala_log_acceptance<double>(e(b), s.row(b), e(a), s.row(a), pts.row(b), pts.row(a), h);
      auto log_q = [&](Index to, Index from) {
        return -(pts.row(to) - pts.row(from) - h * s.row(from)).squaredNorm() / (4 * h);
      };
      const double lhs = -e(a) + log_q(b, a) + std::min(0.0, log_fwd);
      const double rhs = -e(b) + log_q(a, b) + std::min(0.0, log_bwd);
      const double pl = std::exp(lhs), pr = std::exp(rhs);
      ASSERT_LE(std::abs(pl - pr), 1e-10 * std::max(pl, pr)) << "pair " << p << ", h = " << h;
    }
  }
}

TEST(Sde, StationaryVarianceAtATemperature) {
  // dx = -x/s^2 dt + sqrt(2 T) dW has stationary variance T s^2; Euler-Maruyama with step dt
  // inflates it by 1 / (1 - dt / (2 s^2)) exactly, as for ULA.
  const double s = 1.0, temperature = 2.5, dt = 0.05;
  ebm::SdeOptions<double> o;
  o.chains = 20000;
  o.horizon = 20;
  o.dt = dt;
  o.temperature = temperature;
  o.seed = 5;
  const auto r = ebm::sde(IsoGaussian{1, s}, o);
  const auto est = final_state_variance(r.final_state);
  EXPECT_NEAR(est.value, temperature * s * s / (1 - dt / (2 * s * s)), 4 * est.standard_error);
}

TEST(GradientFlow, SlidesIntoTheNearestMinimum) {
  ebm::GradientFlowOptions<double> o;
  o.chains = 4;
  o.steps = 2000;
  o.step_size = 0.01;
  o.init.kind = ebm::Initialization<double>::Kind::Points;
  o.init.points = MatD{{-2.0}, {-0.2}, {0.3}, {2.5}};
  const auto r = ebm::gradient_flow(CliffWell{}, o);
  const double expected[] = {-1, -1, 1, 1};
  for (Index c = 0; c < 4; ++c) EXPECT_NEAR(r.final_state(c, 0), expected[c], 1e-9) << "chain " << c;
}

TEST(NonFinite, UlaStopsAndReportsChainsThatLeaveTheDomain) {
  ebm::UlaOptions<double> o;
  o.chains = 200;
  o.steps = 300;
  o.step_size = 0.05;
  o.init.scale = 2.0;
  o.seed = 6;
  o.record_trace = true;
  const auto r = ebm::ula(CliffWell{}, o);
  EXPECT_GT(r.failures.size(), 0u);
  EXPECT_EQ(r.failures.size() + r.chains_kept.size(), 200u);
  EXPECT_TRUE(r.samples.allFinite());
  EXPECT_TRUE(r.trace.allFinite());
  EXPECT_TRUE(r.final_state.allFinite());
  EXPECT_EQ(r.samples.rows(), static_cast<Index>(r.chains_kept.size()) * r.draws_per_chain);
  for (const auto& [chain, step] : r.failures) {
    EXPECT_GE(step, 1);
    EXPECT_LE(step, 300);
    EXPECT_LT(chain, 200);
  }
  EXPECT_NE(r.summary().find("stopped on non-finite values"), std::string::npos);
}

TEST(NonFinite, MalaRejectsNonFiniteProposalsAndReportsBadStarts) {
  ebm::MalaOptions<double> o;
  o.chains = 200;
  o.steps = 300;
  o.step_size = 0.5;  // large: many proposals land beyond the cliff
  o.adapt = false;
  o.init.kind = ebm::Initialization<double>::Kind::Points;
  MatD starts = MatD::Constant(200, 1, 2.0);
  starts(7, 0) = 5.0;  // starts where the energy is NaN
  o.init.points = starts;
  const auto r = ebm::mala(CliffWell{}, o);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].first, 7);
  EXPECT_EQ(r.failures[0].second, 0);
  EXPECT_TRUE(r.samples.allFinite());
  EXPECT_TRUE((r.samples.array() <= 3.0).all());
  EXPECT_LT(r.acceptance_rate(), 0.99);
}

TEST(Mala, AdaptationReachesTheTargetAcceptance) {
  ebm::MalaOptions<double> o;
  o.chains = 50;
  o.steps = 3000;
  o.burn_in = 1500;
  o.step_size = 5.0;  // far too large to start with
  o.seed = 8;
  const auto r = ebm::mala(IsoGaussian{10, 1.0}, o);
  // Acceptance over the whole run includes the warm-up; after it the step is frozen at the
  // dual-averaging mean. Measure the post-warm-up acceptance by rerunning from the final state.
  ebm::MalaOptions<double> fixed = o;
  fixed.adapt = false;
  fixed.burn_in = 0;
  fixed.steps = 2000;
  fixed.step_size = r.step_size.mean();
  fixed.init.kind = ebm::Initialization<double>::Kind::Points;
  fixed.init.points = r.final_state;
  const auto after = ebm::mala(IsoGaussian{10, 1.0}, fixed);
  // 50 chains x 2000 proposals: the acceptance rate's standard error is below 0.01 even with
  // autocorrelated accept indicators; 0.05 leaves room for the spread of adapted steps.
  EXPECT_NEAR(after.acceptance_rate(), 0.574, 0.05);
  EXPECT_LT(r.step_size.maxCoeff(), 5.0);
}

template <class F>
std::vector<unsigned char> bytes(const F& result) {
  std::vector<unsigned char> b(sizeof(double) * static_cast<std::size_t>(result.samples.size()));
  std::memcpy(b.data(), result.samples.data(), b.size());
  return b;
}

TEST(Reproducibility, SameBitsForAnyThreadCountAndBatchSplit) {
  // An MLP energy (autodiff through the row-independent kernels) and MALA.
  const ebm::Mlp<double> mlp(ebm::MlpOptions{.widths = {2, 32, 32, 1}, .activation = ebm::Activation::Silu, .seed = 9});
  ebm::MalaOptions<double> o;
  o.chains = 1500;
  o.steps = 40;
  o.burn_in = 20;
  o.step_size = 0.2;
  o.seed = 10;
  ebm::set_num_threads(1);
  const auto one = ebm::mala(mlp, o);
  ebm::set_num_threads(2);
  const auto two = ebm::mala(mlp, o);
  EXPECT_EQ(bytes(one), bytes(two));
  // The same chains in two calls: [0, 600) and [600, 1500).
  ebm::MalaOptions<double> head = o, tail = o;
  head.chains = 600;
  tail.chains = 900;
  tail.first_chain = 600;
  const auto a = ebm::mala(mlp, head), b = ebm::mala(mlp, tail);
  MatD joined(a.samples.rows() + b.samples.rows(), 2);
  joined << a.samples, b.samples;
  ASSERT_EQ(joined.rows(), one.samples.rows());
  EXPECT_EQ(0, std::memcmp(joined.data(), one.samples.data(), sizeof(double) * static_cast<std::size_t>(joined.size())));
  EXPECT_EQ(b.chains_kept.front(), 600);
  // Chain 700 alone, and in a run of 3: such small runs draw their noise many updates ahead
  // (normal_steps), the batch draws it per update across chains (normal_rows).
  const Index draws = o.steps - o.burn_in;
  for (Index chains : {1, 3}) {
    ebm::MalaOptions<double> few = o;
    few.chains = chains;
    few.first_chain = 700;
    const auto f = ebm::mala(mlp, few);
    ASSERT_EQ(f.samples.rows(), chains * draws);
    EXPECT_EQ(0, std::memcmp(f.samples.data(), one.samples.row(700 * draws).data(),
                             sizeof(double) * static_cast<std::size_t>(f.samples.size())))
        << chains << " chains";
  }
}

TEST(Reproducibility, UlaChainAloneEqualsTheSameChainInABatch) {
  const ebm::Mlp<float> mlp(ebm::MlpOptions{.widths = {2, 16, 1}, .activation = ebm::Activation::Softplus, .seed = 3});
  ebm::UlaOptions<float> o;
  o.chains = 300;
  o.steps = 150;  // more than one lookahead window of the lone chain
  o.burn_in = 0;
  o.step_size = 0.05f;
  o.seed = 4;
  const auto all = ebm::ula(mlp, o);
  ebm::UlaOptions<float> alone = o;
  alone.chains = 1;
  alone.first_chain = 123;
  const auto a = ebm::ula(mlp, alone);
  ASSERT_EQ(a.samples.rows(), o.steps);
  EXPECT_EQ(0, std::memcmp(a.samples.data(), all.samples.row(123 * o.steps).data(),
                           sizeof(float) * static_cast<std::size_t>(a.samples.size())));
}

// A symmetric double well a (x^2 - c^2)^2 with a barrier of a c^4 = 64 (in units of T = 1).
struct DeepWell {
  Index dim() const { return 1; }
  void energy(const MatD& x, Vec<double>& out) const { out = 4.0 * (x.array().square() - 4.0).square().matrix(); }
  void score(const MatD& x, MatD& out) const { out = (-16.0 * x.array() * (x.array().square() - 4.0)).matrix(); }
};

double fraction_negative(const MatD& states) { return (states.array() < 0).cast<double>().mean(); }

TEST(Annealed, CrossesABarrierThatPlainLangevinCannot) {
  // All chains start in the right-hand well. At T = 1 a crossing needs ~exp(64) steps: ULA
  // stays put. Annealing from T = 200 down to 1 lets the chains spread over both wells first;
  // by symmetry half of them must end on each side: 0.5 within 4 binomial standard errors.
  const Index chains = 2000;
  ebm::AnnealedOptions<double> a;
  a.chains = chains;
  a.levels = 12;
  a.steps_per_level = 300;
  a.step_size = 0.002;
  a.max_temperature = 200;
  a.seed = 13;
  a.init.kind = ebm::Initialization<double>::Kind::Points;
  a.init.points = MatD::Constant(1, 1, 2.0);
  const auto annealed = ebm::annealed_langevin(DeepWell{}, a);
  const double se = std::sqrt(0.25 / static_cast<double>(chains));
  EXPECT_NEAR(fraction_negative(annealed.final_state), 0.5, 4 * se);
  EXPECT_EQ(annealed.draws_per_chain, 300);  // kept draws come from the last level only

  ebm::UlaOptions<double> u;
  u.chains = chains;
  u.steps = a.levels * a.steps_per_level;
  u.step_size = a.step_size;
  u.seed = 13;
  u.init = a.init;
  EXPECT_EQ(fraction_negative(ebm::ula(DeepWell{}, u).final_state), 0.0);
}

TEST(Annealed, NoiseLevelsUseTheScoreOfEachLevel) {
  // With the exact noise-conditional score of N(0, 1) smoothed by N(0, sigma^2), that is
  // -x / (1 + sigma^2), the last level samples N(0, 1 + sigma_min^2) up to ULA's bias.
  const double sigma_min = 0.1, step = 0.01;
  ebm::AnnealedOptions<double> a;
  a.chains = 20000;
  a.levels = 5;
  a.steps_per_level = 400;
  a.step_size = step;
  a.sigma_max = 3;
  a.sigma_min = sigma_min;
  a.seed = 14;
  const ebm::NoiseConditionalScore<double> score = [](const MatD& x, double sigma, MatD& out) {
    out = -x / (1 + sigma * sigma);
  };
  const auto r = ebm::annealed_langevin<double>(1, score, a);
  const auto est = final_state_variance(r.final_state);
  const double v = 1 + sigma_min * sigma_min;  // step at the last level: a = step, ULA bias 1/(1 - a/(2v))
  EXPECT_NEAR(est.value, v / (1 - step / (2 * v)), 4 * est.standard_error);
}

TEST(Options, BadValuesNameTheField) {
  ebm::UlaOptions<double> o;
  o.step_size = -1;
  try {
    ebm::ula(IsoGaussian{1, 1.0}, o);
    FAIL() << "no error";
  } catch (const ebm::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("step_size"), std::string::npos) << e.what();
  }
  ebm::MalaOptions<double> m;
  m.burn_in = m.steps + 1;
  EXPECT_THROW(ebm::mala(IsoGaussian{1, 1.0}, m), ebm::InvalidArgument);
  m = {};
  m.init.kind = ebm::Initialization<double>::Kind::Points;
  m.init.points = MatD::Zero(3, 5);
  EXPECT_THROW(ebm::mala(IsoGaussian{2, 1.0}, m), ebm::InvalidArgument);
}

}  // namespace
