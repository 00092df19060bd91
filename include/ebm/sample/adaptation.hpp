#pragma once
// Warm-up machinery shared by the adaptive kernels (MALA, HMC, NUTS, underdamped): dual
// averaging of the step size, running moments for the metric, and Stan's windowed schedule.
#include <ebm/core/types.hpp>

#include <cmath>

namespace ebm {

/// Dual averaging of log step size towards a target acceptance statistic (Nesterov 2009;
/// Hoffman & Gelman 2014, algorithm 5), for one chain:
///   H_m = (1 - w) H_{m-1} + w (delta - alpha_m),  w = 1 / (m + t0)
///   log h_m = mu - sqrt(m) / gamma H_m,  log hbar_m = m^-kappa log h_m + (1 - m^-kappa) log hbar_{m-1}
/// with mu = log(10 h_0). The step to use during warm-up is h_m, the one to keep after it hbar_m.
template <class T>
class DualAveraging {
 public:
  T target = T(0.8), gamma = T(0.05), t0 = T(10), kappa = T(0.75);

  DualAveraging() = default;
  DualAveraging(T target_acceptance, T gamma_, T t0_, T kappa_)
      : target(target_acceptance), gamma(gamma_), t0(t0_), kappa(kappa_) {}

  /// Starts over from step size h (Stan restarts at every metric update).
  void restart(T h) {
    mu_ = std::log(T(10) * h);
    m_ = 0;
    h_bar_ = T(0);
    log_step_ = std::log(h);
    log_step_bar_ = T(0);
  }
  /// Takes one acceptance statistic in [0, 1] (NaN counts as 0); returns the next step size.
  T update(T acceptance) {
    if (!(acceptance >= T(0))) acceptance = T(0);
    ++m_;
    const T m = T(m_), w = T(1) / (m + t0);
    h_bar_ = (T(1) - w) * h_bar_ + w * (target - std::min(acceptance, T(1)));
    log_step_ = mu_ - std::sqrt(m) / gamma * h_bar_;
    const T eta = std::pow(m, -kappa);
    log_step_bar_ = eta * log_step_ + (T(1) - eta) * log_step_bar_;
    return std::exp(log_step_);
  }
  T step() const { return std::exp(log_step_); }
  /// The averaged step size, the one to sample with after warm-up.
  T final_step() const { return m_ > 0 ? std::exp(log_step_bar_) : std::exp(log_step_); }

 private:
  T mu_ = T(0), h_bar_ = T(0), log_step_ = T(0), log_step_bar_ = T(0);
  Index m_ = 0;
};

/// Stan's windowed warm-up schedule (the Stan reference manual, "HMC algorithm parameters"):
/// an initial fast interval (step size only), slow windows of doubling length in which the
/// metric is estimated (step size restarted after each), and a terminal fast interval. With
/// fewer than 150 warm-up updates the three are 15% / 75% / 10% of it, as in Stan.
class WarmupWindows {
 public:
  WarmupWindows() = default;
  WarmupWindows(Index warmup, Index init_buffer = 75, Index term_buffer = 50, Index base_window = 25);
  /// True when update k (1-based) falls in a slow window: its state feeds the metric estimate.
  bool collecting(Index k) const { return adapt_metric_ && k > init_buffer_ && k <= warmup_ - term_buffer_; }
  /// True when update k closes a slow window: time to set the metric from the collected states.
  bool window_end(Index k) const;
  Index warmup() const { return warmup_; }

 private:
  Index warmup_ = 0, init_buffer_ = 0, term_buffer_ = 0, base_window_ = 0;
  bool adapt_metric_ = false;
};

/// Running mean and (co)variance (Welford) of one chain's states, for the metric.
template <class T>
class RunningMoments {
 public:
  void reset(Index dim, bool dense);
  void add(const T* x);
  Index count() const { return n_; }
  /// Stan's regularised estimate: (n / (n + 5)) S + 1e-3 (5 / (n + 5)) I, S the sample
  /// variance (diagonal: D values in the first row; dense: D x D).
  Mat<T> regularized() const;

 private:
  bool dense_ = false;
  Index n_ = 0;
  Vec<double> mean_;
  Mat<double> m2_;  // 1 x D (diagonal) or D x D
};

}  // namespace ebm
