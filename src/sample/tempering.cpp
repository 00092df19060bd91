#include <ebm/core/check.hpp>
#include <ebm/core/error.hpp>
#include <ebm/sample/run.hpp>
#include <ebm/sample/tempering.hpp>

#include "chains.hpp"

#include <cmath>
#include <sstream>

namespace ebm {

template <class T>
void TemperingSettings<T>::validate() const {
  const char* where = "ebm::TemperingSettings";
  if (!temperatures.empty()) {
    require(static_cast<Index>(temperatures.size()) >= 2, where, "temperatures needs at least 2 values");
    require(temperatures.front() == T(1), where,
            [&] { return "temperatures must start at 1, got " + sample_detail::value_text(temperatures.front()); });
    for (std::size_t i = 1; i < temperatures.size(); ++i)
      require(std::isfinite(temperatures[i]) && temperatures[i] > temperatures[i - 1], where,
              [&] { return "temperatures must increase, entry " + std::to_string(i) + " does not"; });
  } else {
    require(replicas >= 2, where, [&] { return "replicas must be >= 2, got " + std::to_string(replicas); });
    require(std::isfinite(max_temperature) && max_temperature > T(1), where,
            [&] { return "max_temperature must be > 1, got " + sample_detail::value_text(max_temperature); });
  }
  require(swap_every >= 1, where, [&] { return "swap_every must be >= 1, got " + std::to_string(swap_every); });
}

template <class T>
std::vector<T> TemperingSettings<T>::inverse_temperatures() const {
  std::vector<T> beta;
  if (!temperatures.empty()) {
    for (T t : temperatures) beta.push_back(T(1) / t);
    return beta;
  }
  for (Index k = 0; k < replicas; ++k)
    beta.push_back(std::pow(max_temperature, -T(k) / T(replicas - 1)));
  beta.back() = T(1) / max_temperature;
  return beta;
}

template <class T>
TemperingKernel<T>::TemperingKernel(TemperingSettings<T> settings, std::unique_ptr<Kernel<T>> within)
    : settings_(std::move(settings)), within_(std::move(within)) {
  settings_.validate();
  require(within_ != nullptr, "ebm::TemperingKernel", "the within-replica kernel is null");
  K_ = static_cast<Index>(settings_.inverse_temperatures().size());
}

template <class T>
void TemperingKernel<T>::init(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index warmup) {
  const Index n = s.chains(), d = s.dim(), K = K_;
  const std::vector<T> ladder = settings_.inverse_temperatures();
  replicas_.x.resize(n * K, d);
  beta_.resize(static_cast<std::size_t>(n * K));
  for (Index c = 0; c < n; ++c)
    for (Index k = 0; k < K; ++k) {
      replicas_.x.row(c * K + k) = s.x.row(c);
      beta_[static_cast<std::size_t>(c * K + k)] = ladder[static_cast<std::size_t>(k)];
    }
  target.set_row_scale(beta_);
  warmup_ = settings_.adapt_ladder ? warmup : 0;
  next_respace_ = 50;
  window_accepted_.assign(static_cast<std::size_t>(n * (K - 1)), 0);
  window_proposed_.assign(static_cast<std::size_t>(n * (K - 1)), 0);
  inner_streams_ = ChainStreams{streams.seed, streams.first_chain * static_cast<std::uint64_t>(K)};
  within_->init(replicas_, target, inner_streams_, warmup);
  if (replicas_.energy.size() != n * K)
    throw InvalidArgument("parallel tempering: the within-replica kernel " + within_->name() +
                          " keeps no energies (use mala, hmc, nuts or underdamped)");
  swaps_accepted_.assign(static_cast<std::size_t>(K - 1), 0);
  swaps_proposed_.assign(static_cast<std::size_t>(K - 1), 0);
  walker_.resize(static_cast<std::size_t>(n * K));
  end_.assign(static_cast<std::size_t>(n * K), 0);
  for (Index c = 0; c < n; ++c) {
    for (Index k = 0; k < K; ++k) walker_[static_cast<std::size_t>(c * K + k)] = k;
    end_[static_cast<std::size_t>(c * K)] = 1;
  }
  round_trips_ = 0;
  swap_rounds_ = 0;
  s.alive.assign(static_cast<std::size_t>(n), 1);
  for (Index c = 0; c < n; ++c)
    for (Index k = 0; k < K; ++k)
      if (!replicas_.alive[static_cast<std::size_t>(c * K + k)]) s.alive[static_cast<std::size_t>(c)] = 0;
}

template <class T>
void TemperingKernel<T>::step(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index k, StepInfo<T>& info) {
  const Index n = s.chains(), K = K_;
  StepInfo<T> inner;
  within_->step(replicas_, target, inner_streams_, k, inner);
  if (k % settings_.swap_every == 0) {
    const Index parity = swap_rounds_++ % 2;
    for (Index c = 0; c < n; ++c) {
      for (Index i = parity; i + 1 < K; i += 2) {
        const Index a = c * K + i, b = a + 1;
        if (!replicas_.alive[static_cast<std::size_t>(a)] || !replicas_.alive[static_cast<std::size_t>(b)]) continue;
        const T ba = beta_[static_cast<std::size_t>(a)], bb = beta_[static_cast<std::size_t>(b)];
        const T ea = replicas_.energy(a) / ba, eb = replicas_.energy(b) / bb;  // untempered
        ++swaps_proposed_[static_cast<std::size_t>(i)];
        ++window_proposed_[static_cast<std::size_t>(c * (K - 1) + i)];
        const T log_r = swap_log_acceptance(ba, bb, ea, eb);
        if (!(std::log(streams.uniform(c, k, DrawPurpose::Swap, static_cast<std::uint64_t>(i))) < double(log_r))) continue;
        ++swaps_accepted_[static_cast<std::size_t>(i)];
        ++window_accepted_[static_cast<std::size_t>(c * (K - 1) + i)];
        replicas_.x.row(a).swap(replicas_.x.row(b));
        replicas_.score.row(a).swap(replicas_.score.row(b));
        replicas_.score.row(a) *= ba / bb;
        replicas_.score.row(b) *= bb / ba;
        replicas_.energy(a) = ba * eb;
        replicas_.energy(b) = bb * ea;
        std::swap(walker_[static_cast<std::size_t>(a)], walker_[static_cast<std::size_t>(b)]);
      }
      // Round trips: a walker back at the beta = 1 end after reaching the hottest one.
      signed char& cold = end_[static_cast<std::size_t>(c * K + walker_[static_cast<std::size_t>(c * K)])];
      if (cold == -1) ++round_trips_;
      cold = 1;
      signed char& hot = end_[static_cast<std::size_t>(c * K + walker_[static_cast<std::size_t>(c * K + K - 1)])];
      if (hot == 1) hot = -1;
    }
  }
  if (k == next_respace_ && k <= warmup_) {
    respace_ladders(target);
    next_respace_ *= 2;
  }
  info.gradients.assign(static_cast<std::size_t>(n), 0);
  for (Index c = 0; c < n; ++c) {
    bool alive = true;
    for (Index r = 0; r < K; ++r) {
      alive = alive && replicas_.alive[static_cast<std::size_t>(c * K + r)];
      if (!inner.gradients.empty()) info.gradients[static_cast<std::size_t>(c)] += inner.gradients[static_cast<std::size_t>(c * K + r)];
    }
    if (!alive) s.alive[static_cast<std::size_t>(c)] = 0;
    s.x.row(c) = replicas_.x.row(c * K);
  }
}

// Per chain: cumulative rejection Lambda_k = sum_{i < k} r_i at the current log beta_k; the new
// log betas are where Lambda reaches k Lambda_{K-1} / (K - 1), by linear interpolation.
template <class T>
void TemperingKernel<T>::respace_ladders(Target<T>& target) {
  const Index n = replicas_.chains() / K_, K = K_;
  std::vector<double> lambda(static_cast<std::size_t>(K)), log_beta(static_cast<std::size_t>(K));
  for (Index c = 0; c < n; ++c) {
    bool enough = true;
    lambda[0] = 0;
    for (Index i = 0; i + 1 < K; ++i) {
      const auto w = static_cast<std::size_t>(c * (K - 1) + i);
      enough = enough && window_proposed_[w] >= 10;
      // A floor keeps Lambda strictly increasing (a pair that always swaps still costs a little).
      const double r = window_proposed_[w] > 0 ? 1.0 - double(window_accepted_[w]) / double(window_proposed_[w]) : 0.0;
      lambda[static_cast<std::size_t>(i + 1)] = lambda[static_cast<std::size_t>(i)] + std::max(r, 1e-3);
    }
    for (Index k = 0; k < K; ++k) log_beta[static_cast<std::size_t>(k)] = std::log(double(beta_[static_cast<std::size_t>(c * K + k)]));
    if (!enough) continue;
    const double total = lambda.back();
    std::vector<T> fresh(static_cast<std::size_t>(K));
    fresh.front() = T(1);
    fresh.back() = beta_[static_cast<std::size_t>(c * K + K - 1)];
    std::size_t seg = 0;
    for (Index k = 1; k + 1 < K; ++k) {
      const double goal = total * double(k) / double(K - 1);
      while (seg + 2 < lambda.size() && lambda[seg + 1] < goal) ++seg;
      const double f = (goal - lambda[seg]) / (lambda[seg + 1] - lambda[seg]);
      fresh[static_cast<std::size_t>(k)] = static_cast<T>(std::exp(log_beta[seg] + f * (log_beta[seg + 1] - log_beta[seg])));
    }
    for (Index k = 0; k < K; ++k) {
      const Index r = c * K + k;
      const T ratio = fresh[static_cast<std::size_t>(k)] / beta_[static_cast<std::size_t>(r)];
      replicas_.energy(r) *= ratio;  // the tempered energy and score at the new temperature
      replicas_.score.row(r) *= ratio;
      beta_[static_cast<std::size_t>(r)] = fresh[static_cast<std::size_t>(k)];
    }
  }
  std::fill(window_accepted_.begin(), window_accepted_.end(), 0);
  std::fill(window_proposed_.begin(), window_proposed_.end(), 0);
  target.set_row_scale(beta_);
}

template <class T>
std::vector<T> TemperingKernel<T>::inverse_temperatures(Index c) const {
  return std::vector<T>(beta_.begin() + c * K_, beta_.begin() + (c + 1) * K_);
}

template <class T>
Vec<T> TemperingKernel<T>::step_size() const {
  const Vec<T> all = within_->step_size();
  const Index K = K_, n = all.size() / K;
  Vec<T> cold(n);
  for (Index c = 0; c < n; ++c) cold(c) = all(c * K);
  return cold;
}

template <class T>
std::vector<double> TemperingKernel<T>::swap_rates() const {
  std::vector<double> r;
  for (std::size_t i = 0; i < swaps_proposed_.size(); ++i)
    r.push_back(swaps_proposed_[i] > 0 ? double(swaps_accepted_[i]) / double(swaps_proposed_[i]) : 0.0);
  return r;
}

template <class T>
void TemperingKernel<T>::report(SampleResult<T>& r) const {
  std::ostringstream s;
  s << "temperatures" << (settings_.adapt_ladder ? " (chain 0, adapted)" : "");
  for (Index k = 0; k < K_ && !beta_.empty(); ++k) s << " " << T(1) / beta_[static_cast<std::size_t>(k)];
  s << "; swap acceptance per pair";
  for (double v : swap_rates()) s << " " << v;
  s << "; " << round_trips_ << " round trips";
  r.notes.push_back(s.str());
}

template struct TemperingSettings<float>;
template struct TemperingSettings<double>;
template class TemperingKernel<float>;
template class TemperingKernel<double>;

}  // namespace ebm
