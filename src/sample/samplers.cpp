#include <ebm/core/check.hpp>
#include <ebm/sample/samplers.hpp>

#include "chains.hpp"

#include <algorithm>
#include <cmath>

namespace ebm {
namespace {

template <class T>
T schedule_step(const UlaOptions<T>& o, Index k) {  // k = 0 for the first update
  switch (o.schedule) {
    case StepSchedule::Constant: return o.step_size;
    case StepSchedule::Polynomial: return o.step_size * std::pow(T(1) + T(k) / o.decay_steps, -o.decay_power);
    case StepSchedule::Geometric:
      return o.steps <= 1 ? o.step_size
                          : o.step_size * std::pow(o.final_step_size / o.step_size, T(k) / T(o.steps - 1));
  }
  return o.step_size;
}

// The annealing ladder: level of update k (1-based) and the level's ratio r_l in (0, 1].
template <class T>
T geometric_level(T from, T to, Index level, Index levels) {
  return levels <= 1 ? to : from * std::pow(to / from, T(level) / T(levels - 1));
}

using sample_detail::name_value;

}  // namespace

// ----- options -----

template <class T>
void UlaOptions<T>::validate(Index dim) const {
  ChainOptions<T>::validate(dim);
  const char* where = "ebm::UlaOptions";
  require(std::isfinite(step_size) && step_size > T(0), where, [&] { return name_value("step_size must be positive, got step_size", step_size); });
  require(decay_steps > T(0) && decay_power >= T(0), where, "decay_steps must be positive and decay_power >= 0");
  require(schedule != StepSchedule::Geometric || (std::isfinite(final_step_size) && final_step_size > T(0)), where,
          [&] { return name_value("final_step_size must be positive, got final_step_size", final_step_size); });
}

template <class T>
void SdeOptions<T>::validate(Index dim) const {
  ChainOptions<T>::validate(dim);
  const char* where = "ebm::SdeOptions";
  require(std::isfinite(dt) && dt > T(0), where, [&] { return name_value("dt must be positive, got dt", dt); });
  require(std::isfinite(horizon) && horizon > T(0), where, [&] { return name_value("horizon must be positive, got horizon", horizon); });
  require(std::isfinite(temperature) && temperature > T(0), where,
          [&] { return name_value("temperature must be positive, got temperature", temperature); });
  require(horizon / dt < T(1e9), where, "horizon / dt exceeds 1e9 steps");
}

template <class T>
void GradientFlowOptions<T>::validate(Index dim) const {
  ChainOptions<T>::validate(dim);
  require(std::isfinite(step_size) && step_size > T(0), "ebm::GradientFlowOptions",
          [&] { return name_value("step_size must be positive, got step_size", step_size); });
}

template <class T>
void MalaOptions<T>::validate(Index dim) const {
  ChainOptions<T>::validate(dim);
  const char* where = "ebm::MalaOptions";
  require(std::isfinite(step_size) && step_size > T(0), where, [&] { return name_value("step_size must be positive, got step_size", step_size); });
  require(target_acceptance > T(0) && target_acceptance < T(1), where,
          [&] { return name_value("target_acceptance must be in (0, 1), got target_acceptance", target_acceptance); });
  require(adapt_steps >= -1 && adapt_steps <= this->steps, where,
          [&] { return "adapt_steps must be -1 or in 0..steps, got " + std::to_string(adapt_steps); });
  require(gamma > T(0) && t0 >= T(0) && kappa > T(0.5) && kappa <= T(1), where,
          "dual averaging needs gamma > 0, t0 >= 0 and kappa in (0.5, 1]");
}

template <class T>
void AnnealedOptions<T>::validate(Index dim) const {
  ChainOptions<T> base = *this;
  base.steps = levels * steps_per_level;
  base.validate(dim);
  const char* where = "ebm::AnnealedOptions";
  require(levels >= 1 && steps_per_level >= 1, where, "levels and steps_per_level must be >= 1");
  require(this->burn_in <= steps_per_level, where, [&] {
    return "burn_in counts within the last level and must be <= steps_per_level (" + std::to_string(steps_per_level) +
           "), got " + std::to_string(this->burn_in);
  });
  require(std::isfinite(step_size) && step_size > T(0), where, [&] { return name_value("step_size must be positive, got step_size", step_size); });
  require(max_temperature >= T(1) && std::isfinite(max_temperature), where,
          [&] { return name_value("max_temperature must be >= 1, got max_temperature", max_temperature); });
  require(sigma_max >= sigma_min && sigma_min > T(0) && std::isfinite(sigma_max), where,
          "noise levels need sigma_max >= sigma_min > 0");
}

// ----- samplers -----

namespace {

// Runs the unadjusted family with drift and noise from rule(k).
template <class T, class Rule>
SampleResult<T> run_unadjusted(Target<T>& target, const ChainOptions<T>& o, const char* name, Index steps,
                               Index keep_from, Rule&& rule) {
  UnadjustedKernel<T> kernel(name, std::forward<Rule>(rule), steps);
  return run_kernel(kernel, target, o, steps, keep_from, 0);
}

}  // namespace

namespace detail {

template <class T>
SampleResult<T> run_ula(Index dim, const BatchEvaluation<T>& eval, const UlaOptions<T>& o) {
  o.validate(dim);
  Target<T> target(dim, eval);
  return run_unadjusted<T>(target, o, "ula", o.steps, o.burn_in, [o](Index k) {
    const T h = schedule_step(o, k - 1);
    return std::pair<T, T>(h, h);
  });
}

template <class T>
SampleResult<T> run_sde(Index dim, const BatchEvaluation<T>& eval, const SdeOptions<T>& o) {
  o.validate(dim);
  const Index steps = static_cast<Index>(std::ceil(o.horizon / o.dt - T(1e-9)));
  Target<T> target(dim, eval);
  return run_unadjusted<T>(target, o, "sde", steps, std::min(o.burn_in, steps),
                           [o](Index) { return std::pair<T, T>(o.dt, o.dt * o.temperature); });
}

template <class T>
SampleResult<T> run_gradient_flow(Index dim, const BatchEvaluation<T>& eval, const GradientFlowOptions<T>& o) {
  o.validate(dim);
  Target<T> target(dim, eval);
  return run_unadjusted<T>(target, o, "gradient-flow", o.steps, o.burn_in,
                           [o](Index) { return std::pair<T, T>(o.step_size, T(0)); });
}

template <class T>
SampleResult<T> run_annealed_temperature(Index dim, const BatchEvaluation<T>& eval, const AnnealedOptions<T>& o) {
  o.validate(dim);
  const Index steps = o.levels * o.steps_per_level;
  Target<T> target(dim, eval);
  // At temperature T_l the target is exp(-E / T_l): drift h_l s / T_l = h s, noise 2 h_l.
  return run_unadjusted<T>(target, o, "annealed", steps, steps - o.steps_per_level + o.burn_in, [o](Index k) {
    const Index level = (k - 1) / o.steps_per_level;
    const T temperature = geometric_level(o.max_temperature, T(1), level, o.levels);
    return std::pair<T, T>(o.step_size, o.step_size * temperature);
  });
}

template <class T>
SampleResult<T> run_mala(Index dim, const BatchEvaluation<T>& eval, const MalaOptions<T>& o) {
  o.validate(dim);
  Target<T> target(dim, eval);
  MalaKernel<T> kernel(o.kernel_settings());
  return run_kernel(kernel, target, o);
}

}  // namespace detail

template <class T>
SampleResult<T> annealed_langevin(Index dim, const NoiseConditionalScore<T>& score, const AnnealedOptions<T>& o) {
  o.validate(dim);
  const Index steps = o.levels * o.steps_per_level;
  auto sigma_of = [o](Index k) { return geometric_level(o.sigma_max, o.sigma_min, (k - 1) / o.steps_per_level, o.levels); };
  Target<T> target(dim, [&score, sigma_of](Index k, const Mat<T>& x, Vec<T>*, Mat<T>& s) { score(x, sigma_of(k), s); });
  return run_unadjusted<T>(target, o, "annealed-noise", steps, steps - o.steps_per_level + o.burn_in, [o, sigma_of](Index k) {
    const T sigma = sigma_of(k), alpha = o.step_size * sigma * sigma / (o.sigma_min * o.sigma_min);
    return std::pair<T, T>(alpha, alpha);
  });
}

#define EBM_INSTANTIATE(T)                                                                                   \
  template struct UlaOptions<T>;                                                                            \
  template struct SdeOptions<T>;                                                                            \
  template struct GradientFlowOptions<T>;                                                                   \
  template struct MalaOptions<T>;                                                                           \
  template struct AnnealedOptions<T>;                                                                       \
  template SampleResult<T> detail::run_ula<T>(Index, const BatchEvaluation<T>&, const UlaOptions<T>&);       \
  template SampleResult<T> detail::run_sde<T>(Index, const BatchEvaluation<T>&, const SdeOptions<T>&);       \
  template SampleResult<T> detail::run_gradient_flow<T>(Index, const BatchEvaluation<T>&,                    \
                                                        const GradientFlowOptions<T>&);                      \
  template SampleResult<T> detail::run_mala<T>(Index, const BatchEvaluation<T>&, const MalaOptions<T>&);     \
  template SampleResult<T> detail::run_annealed_temperature<T>(Index, const BatchEvaluation<T>&,             \
                                                               const AnnealedOptions<T>&);                   \
  template SampleResult<T> annealed_langevin<T>(Index, const NoiseConditionalScore<T>&, const AnnealedOptions<T>&);
EBM_INSTANTIATE(float)
EBM_INSTANTIATE(double)
#undef EBM_INSTANTIATE

}  // namespace ebm
