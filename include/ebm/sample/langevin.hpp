#pragma once
// The Langevin kernels: the unadjusted family x <- x + a_k s(x) + sqrt(2 b_k) eps (ULA, the SDE
// by Euler-Maruyama, gradient flow, both annealing ladders) and Metropolis-adjusted Langevin
// (MALA) with per-chain dual averaging. Entry points that run them: sample/samplers.hpp.
//
// Random numbers (chain c of the batch, stream first_chain + c): the noise of update k at
// counter k - 1, MALA's accept test at counter (k - 1) | 2^62.
#include <ebm/sample/adaptation.hpp>
#include <ebm/sample/kernel.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ebm {

/// x <- x + a_k s(x) + sqrt(2 b_k) eps, with (a_k, b_k) = schedule(k) for update k (1-based);
/// b_k = 0 is gradient flow. A chain whose score or new state is not finite is stopped.
template <class T>
class UnadjustedKernel final : public Kernel<T> {
 public:
  using Schedule = std::function<std::pair<T, T>(Index k)>;
  UnadjustedKernel(std::string name, Schedule schedule, Index steps);
  std::string name() const override { return name_; }
  void init(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index warmup) override;
  void step(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index k, StepInfo<T>& info) override;
  Vec<T> step_size() const override { return Vec<T>::Constant(chains_, schedule_(steps_).first); }

 private:
  std::string name_;
  Schedule schedule_;
  Index steps_, chains_ = 0;
  std::vector<T> ahead_;  // normals drawn ahead for runs with few draws per update
  Index ahead_from_ = 0;
};

/// Metropolis-adjusted Langevin: proposal y = x + h s(x) + sqrt(2h) eps, accepted with the
/// probability mala_log_acceptance gives; non-finite proposals are rejected. Step size per
/// chain, adapted by dual averaging during warm-up when `adapt`.
template <class T>
class MalaKernel final : public Kernel<T> {
 public:
  struct Settings {
    T step_size = T(0.1);
    bool adapt = true;
    Index adapt_steps = -1;  // -1: the run's warm-up
    T target_acceptance = T(0.574);
    T gamma = T(0.05), t0 = T(10), kappa = T(0.75);
  };
  explicit MalaKernel(Settings settings) : settings_(settings) {}
  std::string name() const override { return "mala"; }
  void init(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index warmup) override;
  void step(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index k, StepInfo<T>& info) override;
  Vec<T> step_size() const override { return h_; }
  void report(SampleResult<T>& r) const override;
  /// Sets every chain's step size (for callers that adapt it themselves, as AIS does).
  void set_step_size(T h) { h_.setConstant(h); }
  const std::vector<std::int64_t>& accepted() const { return accepted_; }
  const std::vector<std::int64_t>& proposed() const { return proposed_; }

 private:
  Settings settings_;
  Index adapt_steps_ = 0;
  Vec<T> h_;
  std::vector<DualAveraging<T>> averaging_;
  std::vector<std::int64_t> accepted_, proposed_;
  Mat<T> y_, score_y_;
  Vec<T> energy_y_;
};

/// log of MALA's acceptance ratio for the move x -> y with step h, from the energies and scores
/// at both points (1 x D rows): E(x) - E(y) + log q(x | y) - log q(y | x), with
/// q(b | a) = N(b; a + h s(a), 2 h I).
template <class T>
T mala_log_acceptance(T energy_x, const Eigen::Ref<const RowVec<T>>& score_x, T energy_y,
                      const Eigen::Ref<const RowVec<T>>& score_y, const Eigen::Ref<const RowVec<T>>& x,
                      const Eigen::Ref<const RowVec<T>>& y, T h);

/// One unadjusted Langevin update, x <- x + h s(x) + sqrt(2h) eps, of the rows of x (N x D) in
/// place from score (N x D, the score at x); h > 0. Row i's noise comes from stream
/// first_chain + i at counter `step`, as the UnadjustedKernel draws it.
template <class T>
void langevin_update(Mat<T>& x, const Mat<T>& score, T h, std::uint64_t seed, std::uint64_t step,
                     std::uint64_t first_chain = 0);

}  // namespace ebm
