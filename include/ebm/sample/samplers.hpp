#pragma once
// Langevin samplers over a batch of chains: unadjusted Langevin (ULA), the Langevin SDE by
// Euler-Maruyama, gradient flow (no noise), Metropolis-adjusted Langevin (MALA) with per-chain
// step-size adaptation, and annealed Langevin over a temperature or noise ladder.
//
// Every chain draws from its own counter-based stream (seed, stream = first_chain + chain):
// noise at counter = step, MALA's accept test at counter = step | 2^62, the initial point at
// counter 2^63. Nothing depends on other chains, so the output is the same bits for any thread
// count and for any split of the chains into batches (run chains [a, b) with first_chain = a).
//
// Shapes: a batch is chains x D. Kept draws are chain-major: chain c's draws are the rows
// [c S, (c + 1) S) of `samples`, S = draws_per_chain.
#include <ebm/energy/energy.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ebm {

template <class T>
struct Initialization {
  enum class Kind { Gaussian, Uniform, Points };
  Kind kind = Kind::Gaussian;
  T scale = T(1);  // Gaussian: standard deviation; Uniform: half-width of [-scale, scale]^D
  Mat<T> points;   // Points: chains x D, or 1 x D for every chain
  void validate(Index chains, Index dim) const;
};

/// Options every sampler shares.
template <class T>
struct ChainOptions {
  Index chains = 64;
  Index steps = 1000;  // updates per chain, burn-in included
  Index burn_in = 0;   // first updates whose states are not kept
  Index thin = 1;      // keep every thin-th state after burn-in
  bool record_trace = false;  // also keep every thin-th state from the start (x_0 included)
  std::uint64_t seed = 0;
  std::uint64_t first_chain = 0;  // global index of chain 0 (for splitting chains over calls)
  Initialization<T> init;
  void validate(Index dim) const;
};

enum class StepSchedule {
  Constant,    // h
  Polynomial,  // h (1 + k / decay_steps)^(-decay_power)
  Geometric,   // from h to final_step_size over the steps
};

template <class T>
struct UlaOptions : ChainOptions<T> {
  T step_size = T(0.01);
  StepSchedule schedule = StepSchedule::Constant;
  T decay_steps = T(100), decay_power = T(0.55);
  T final_step_size = T(0.001);
  void validate(Index dim) const;
};

template <class T>
struct SdeOptions : ChainOptions<T> {
  // dx = s(x) dt + sqrt(2 temperature) dW on [0, horizon], Euler-Maruyama with step dt;
  // `steps` is ignored: it is horizon / dt rounded up.
  T horizon = T(10);
  T dt = T(0.01);
  T temperature = T(1);
  void validate(Index dim) const;
};

template <class T>
struct GradientFlowOptions : ChainOptions<T> {
  T step_size = T(0.01);  // x <- x - h grad E(x): no noise, slides into the nearest minimum
  void validate(Index dim) const;
};

template <class T>
struct MalaOptions : ChainOptions<T> {
  T step_size = T(0.1);              // initial h of every chain
  bool adapt = true;                 // dual averaging (Hoffman & Gelman 2014) during warm-up
  Index adapt_steps = -1;            // warm-up length; -1: burn_in
  T target_acceptance = T(0.574);
  T gamma = T(0.05), t0 = T(10), kappa = T(0.75);  // dual-averaging constants
  void validate(Index dim) const;
};

template <class T>
struct AnnealedOptions : ChainOptions<T> {
  // Levels l = 0..L-1 from the hottest: temperatures geometric from max_temperature to 1, or
  // noise levels geometric from sigma_max to sigma_min (with a noise-conditional score).
  // `steps` is ignored: steps_per_level at every level. Step at level l: step_size * r_l,
  // r_l = T_l (temperatures) or sigma_l^2 / sigma_min^2 (noise levels, as in NCSN).
  Index levels = 10;
  Index steps_per_level = 100;
  T step_size = T(0.01);
  T max_temperature = T(10);
  T sigma_max = T(1), sigma_min = T(0.01);
  void validate(Index dim) const;
};

template <class T>
struct SampleResult {
  Mat<T> samples;              // (chains_kept * S) x D, chain-major
  Index draws_per_chain = 0;   // S
  std::vector<Index> chains_kept;  // global chain index of each block of samples
  Mat<T> trace;                // when recorded: (chains_kept * L) x D, chain-major, L states
  Index trace_length = 0;      // L
  Mat<T> final_state;          // chains x D (a stopped chain: its last finite state)
  Vec<T> step_size;            // per chain: the final (adapted) step size
  std::vector<std::int64_t> accepted, proposed;  // per chain (MALA)
  // Chains stopped because their state or score became non-finite: global index and the
  // step at which it happened. Their draws are not in `samples`.
  std::vector<std::pair<Index, Index>> failures;
  double seconds = 0;
  double acceptance_rate() const;  // over all chains (MALA), NaN otherwise
  std::string summary() const;
};

/// The batch evaluation the samplers run on: scores (N x D) at x (N x D), and energies (N) when
/// `energies` is not null (MALA needs them, the unadjusted samplers do not).
template <class T>
using BatchEvaluation = std::function<void(const Mat<T>& x, Vec<T>* energies, Mat<T>& scores)>;
/// A noise-conditional score s(x, sigma) (N x D), for annealing over noise levels.
template <class T>
using NoiseConditionalScore = std::function<void(const Mat<T>& x, T sigma, Mat<T>& scores)>;

/// log of MALA's acceptance ratio for the move x -> y with step h, from the energies and scores
/// at both points (1 x D rows): E(x) - E(y) + log q(x | y) - log q(y | x), with
/// q(b | a) = N(b; a + h s(a), 2 h I).
template <class T>
T mala_log_acceptance(T energy_x, const Eigen::Ref<const RowVec<T>>& score_x, T energy_y,
                      const Eigen::Ref<const RowVec<T>>& score_y, const Eigen::Ref<const RowVec<T>>& x,
                      const Eigen::Ref<const RowVec<T>>& y, T h);

namespace detail {
template <class T>
SampleResult<T> run_ula(Index dim, const BatchEvaluation<T>& eval, const UlaOptions<T>& o);
template <class T>
SampleResult<T> run_sde(Index dim, const BatchEvaluation<T>& eval, const SdeOptions<T>& o);
template <class T>
SampleResult<T> run_gradient_flow(Index dim, const BatchEvaluation<T>& eval, const GradientFlowOptions<T>& o);
template <class T>
SampleResult<T> run_mala(Index dim, const BatchEvaluation<T>& eval, const MalaOptions<T>& o);
template <class T>
SampleResult<T> run_annealed_temperature(Index dim, const BatchEvaluation<T>& eval, const AnnealedOptions<T>& o);

template <class T, Energy<T> E>
BatchEvaluation<T> batch_evaluation(const E& energy) {
  auto evaluator = std::make_shared<EnergyEvaluator<T>>();
  return [&energy, evaluator](const Mat<T>& x, Vec<T>* e, Mat<T>& s) { evaluator->evaluate(energy, x, e, &s); };
}
template <class T>
BatchEvaluation<T> batch_evaluation(const AnyEnergy<T>& energy) {
  auto evaluator = std::make_shared<EnergyEvaluator<T>>();
  return [&energy, evaluator](const Mat<T>& x, Vec<T>* e, Mat<T>& s) { energy.evaluate(*evaluator, x, e, &s); };
}
}  // namespace detail

/// Unadjusted Langevin: x <- x + h_k s(x) + sqrt(2 h_k) eps. Biased for finite h.
template <class T, class E>
SampleResult<T> ula(const E& energy, const UlaOptions<T>& options) {
  return detail::run_ula<T>(energy.dim(), detail::batch_evaluation<T>(energy), options);
}
/// The Langevin SDE at a temperature, Euler-Maruyama over [0, horizon].
template <class T, class E>
SampleResult<T> sde(const E& energy, const SdeOptions<T>& options) {
  return detail::run_sde<T>(energy.dim(), detail::batch_evaluation<T>(energy), options);
}
/// Gradient flow x <- x + h s(x): the noise-free contrast.
template <class T, class E>
SampleResult<T> gradient_flow(const E& energy, const GradientFlowOptions<T>& options) {
  return detail::run_gradient_flow<T>(energy.dim(), detail::batch_evaluation<T>(energy), options);
}
/// Metropolis-adjusted Langevin: unbiased; non-finite proposals are rejected.
template <class T, class E>
SampleResult<T> mala(const E& energy, const MalaOptions<T>& options) {
  return detail::run_mala<T>(energy.dim(), detail::batch_evaluation<T>(energy), options);
}
/// Annealed Langevin over temperatures max_temperature ... 1 (ULA at each level).
template <class T, class E>
SampleResult<T> annealed_langevin(const E& energy, const AnnealedOptions<T>& options) {
  return detail::run_annealed_temperature<T>(energy.dim(), detail::batch_evaluation<T>(energy), options);
}
/// Annealed Langevin over noise levels sigma_max ... sigma_min with a noise-conditional score.
template <class T>
SampleResult<T> annealed_langevin(Index dim, const NoiseConditionalScore<T>& score, const AnnealedOptions<T>& options);

}  // namespace ebm
