#pragma once
// Langevin samplers over a batch of chains: unadjusted Langevin (ULA), the Langevin SDE by
// Euler-Maruyama, gradient flow (no noise), Metropolis-adjusted Langevin (MALA) with per-chain
// step-size adaptation, and annealed Langevin over a temperature or noise ladder. Each is a
// kernel (sample/langevin.hpp) run by the shared loop (sample/run.hpp); HMC, NUTS, underdamped
// Langevin and parallel tempering have their own headers, and sample/registry.hpp runs any of
// them by name.
//
// Every chain draws from its own counter-based stream (seed, stream = first_chain + chain):
// noise at counter = step, MALA's accept test at counter = step | 2^62, the initial point at
// counter 2^63. Nothing depends on other chains, so the output is the same bits for any thread
// count and for any split of the chains into batches (run chains [a, b) with first_chain = a).
//
// Shapes: a batch is chains x D. Kept draws are chain-major: chain c's draws are the rows
// [c S, (c + 1) S) of `samples`, S = draws_per_chain.
#include <ebm/energy/energy.hpp>
#include <ebm/sample/langevin.hpp>
#include <ebm/sample/run.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ebm {

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
  typename MalaKernel<T>::Settings kernel_settings() const {
    return {step_size, adapt, adapt_steps, target_acceptance, gamma, t0, kappa};
  }
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

/// A noise-conditional score s(x, sigma) (N x D), for annealing over noise levels.
template <class T>
using NoiseConditionalScore = std::function<void(const Mat<T>& x, T sigma, Mat<T>& scores)>;

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
