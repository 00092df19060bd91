#pragma once
// Hamiltonian Monte Carlo over a batch of chains: static HMC (leapfrog over a fixed or
// jittered path length, then a Metropolis test) and NUTS (the tree doubled forwards or
// backwards until the trajectory turns; the draw chosen by multinomial sampling; the
// generalised no-U-turn criterion with Stan's extra checks across merged subtrees), with
// Stan's windowed warm-up: dual averaging of the step size, and a diagonal or dense metric
// estimated in doubling windows (sample/adaptation.hpp).
//
// H(x, p) = E(x) + 1/2 p^T M^-1 p, p ~ N(0, M); the metric is stored as its inverse M^-1
// (the posterior covariance estimate). Leapfrog with step h: p += h/2 s(x); x += h M^-1 p;
// p += h/2 s(x), s = -grad E.
//
// Chains move in lockstep: every round of leapfrog steps evaluates the target once, on the
// rows of the chains still integrating (a NUTS tree of depth 3 in one chain and 7 in another
// costs their own leaves, not the maximum), so a neural energy is evaluated in batches.
// Random numbers of chain c, update k: momenta at (k, Momentum), step-size jitter at
// (k, Jitter), NUTS's directions and multinomial choices at (k, Tree), the Metropolis test at
// (k, Accept); the step-size search at its own counters (Search). Same bits for any thread
// count, and alone or in a batch.
#include <ebm/sample/adaptation.hpp>
#include <ebm/sample/kernel.hpp>

#include <string>
#include <vector>

namespace ebm {

enum class MetricKind { Unit, Diagonal, Dense };

/// Parses "unit", "diag" (or "diagonal") and "dense"; throws InvalidArgument naming `what`.
MetricKind parse_metric(const std::string& name, const std::string& what = "metric");
std::string metric_name(MetricKind kind);

template <class T>
struct HamiltonianSettings {
  T step_size = T(1);             // initial step size (the warm-up searches from it, as Stan)
  MetricKind metric = MetricKind::Diagonal;
  bool adapt = true;              // step size and metric during the run's warm-up (burn_in)
  T target_acceptance = T(0.8);   // dual averaging's target for the acceptance statistic
  T gamma = T(0.05), t0 = T(10), kappa = T(0.75);
  T step_jitter = T(0);           // h (1 + jitter (2u - 1)) per update, u uniform; in [0, 1)
  T max_energy_error = T(1000);   // H - H0 above this: divergent, the trajectory is stopped
  Index init_buffer = 75, term_buffer = 50, base_window = 25;  // Stan's warm-up windows
  // HMC: number of leapfrog steps = max(1, floor(path_length / h)); with jitter_path, uniform
  // on {1, ..., 2 L - 1} (mean L) per update.
  T path_length = T(1);
  bool jitter_path = false;
  // NUTS: at most 2^max_depth leapfrog steps per update.
  int max_depth = 10;
  void validate() const;
};

/// What HMC and NUTS share: the metric and step size of each chain and their warm-up.
template <class T>
class HamiltonianKernel : public Kernel<T> {
 public:
  explicit HamiltonianKernel(HamiltonianSettings<T> settings);
  void init(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index warmup) override;
  void step(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index k, StepInfo<T>& info) override;
  Vec<T> step_size() const override { return h_; }
  void report(SampleResult<T>& r) const override;
  /// Chain c's inverse metric: 1 x D (unit, diagonal) or D x D (dense).
  const Mat<T>& inverse_metric(Index c) const { return inv_metric_[static_cast<std::size_t>(c)]; }
  /// Sets every chain's inverse metric (1 x D or D x D, matching the kind) and step size, for
  /// sampling without warm-up.
  void set_metric(const Mat<T>& inverse_metric);
  const std::vector<std::int64_t>& accepted() const { return accepted_; }
  const std::vector<std::int64_t>& proposed() const { return proposed_; }

  /// p = a draw of N(0, M) from standard normals z (D values) for chain c.
  void momentum_from_normals(Index c, const T* z, T* p) const;
  /// v = M^-1 p for chain c.
  void velocity(Index c, const T* p, T* v) const;
  /// 1/2 p^T M^-1 p for chain c.
  T kinetic(Index c, const T* p) const;

 protected:
  /// One transition of the live chains with step sizes h (N, jitter applied); fills info's
  /// acceptance, gradients and hamiltonian (and what else the sampler reports).
  virtual void transition(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index k,
                          const Vec<T>& h, StepInfo<T>& info) = 0;
  /// A batch of leapfrog steps: the chains in `rows` move (x, p, score, energy rows) by h_c
  /// times direction_c; the target is evaluated once on those rows.
  void leapfrog(std::span<const Index> rows, const std::vector<T>& signed_step, Mat<T>& x, Mat<T>& p, Mat<T>& score,
                Vec<T>& energy, Target<T>& target);

  HamiltonianSettings<T> settings_;
  std::vector<std::int64_t> accepted_, proposed_;

 private:
  void find_step_sizes(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index call);
  void refresh_factor(Index c);

  Index warmup_ = 0;
  WarmupWindows windows_;
  Vec<T> h_;
  std::vector<DualAveraging<T>> averaging_;
  std::vector<RunningMoments<T>> moments_;
  std::vector<Mat<T>> inv_metric_, factor_;  // factor: Cholesky L of the dense M^-1 = L L^T
  Index search_calls_ = 0;
  std::vector<T> work_;
};

/// Static HMC: one trajectory per update of `path_length / h` leapfrog steps, then a
/// Metropolis test on H; a divergent trajectory is rejected.
template <class T>
class HmcKernel final : public HamiltonianKernel<T> {
 public:
  using HamiltonianKernel<T>::HamiltonianKernel;
  std::string name() const override { return "hmc"; }

 protected:
  void transition(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index k, const Vec<T>& h,
                  StepInfo<T>& info) override;

 private:
  Mat<T> q_, p_, score_;
  Vec<T> energy_;
};

/// The No-U-Turn sampler with multinomial sampling, as Stan implements it (Betancourt 2017,
/// appendix A): trees built leaf by leaf (the subtree checks from checkpoints, as NumPyro's
/// iterative NUTS), reports tree depth, divergences and the acceptance statistic (the mean
/// Metropolis probability over the tree's leaves).
template <class T>
class NutsKernel final : public HamiltonianKernel<T> {
 public:
  using HamiltonianKernel<T>::HamiltonianKernel;
  std::string name() const override { return "nuts"; }

 protected:
  void transition(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index k, const Vec<T>& h,
                  StepInfo<T>& info) override;
};

}  // namespace ebm
