#include <ebm/core/check.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/sample/langevin.hpp>
#include <ebm/sample/run.hpp>

#include "chains.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace ebm {
namespace {

using sample_detail::finite_row;
using sample_detail::for_chains;

// The normal draws of a chunk of chains, reused across steps so that a step allocates nothing.
template <class T>
std::vector<T>& chunk_noise() {
  thread_local std::vector<T> buffer;
  return buffer;
}

// The unadjusted step of one chain: y holds D standard normals and becomes
// x + drift s + noise_scale y (the ULA step when noise_scale = sqrt(2 drift)).
template <class T>
void unadjusted_row(const T* x, const T* s, T drift, T noise_scale, Index d, T* y) {
  if (noise_scale > T(0)) {
    for (Index j = 0; j < d; ++j) y[j] = x[j] + drift * s[j] + noise_scale * y[j];
  } else {
    for (Index j = 0; j < d; ++j) y[j] = x[j] + drift * s[j];
  }
}

// A run with few draws per update (one chain of dimension 2, say) draws this many updates
// ahead: the vectorised transform costs about as much for one pair as for sixteen.
constexpr Index kLookahead = 64, kLookaheadMaxDraws = 64;

}  // namespace

// ----- unadjusted -----

template <class T>
UnadjustedKernel<T>::UnadjustedKernel(std::string name, Schedule schedule, Index steps)
    : name_(std::move(name)), schedule_(std::move(schedule)), steps_(steps) {}

template <class T>
void UnadjustedKernel<T>::init(ChainState<T>& s, Target<T>& target, const ChainStreams&, Index) {
  chains_ = s.chains();
  ahead_.clear();
  // The score of update 1 is evaluated in step (an annealed target's score depends on k).
  s.alive.assign(static_cast<std::size_t>(chains_), 1);
  s.score.resize(chains_, target.dim());
}

template <class T>
void UnadjustedKernel<T>::step(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index k,
                               StepInfo<T>&) {
  const Index n = s.chains(), dim = s.dim();
  target.evaluate(s.x, nullptr, s.score);
  // Named values, not a structured binding: clang 14 cannot capture bindings in lambdas.
  const std::pair<T, T> rule = schedule_(k);
  const T drift = rule.first, noise_var = rule.second;
  const T noise_scale = std::sqrt(T(2) * noise_var);
  const std::uint64_t counter = ChainStreams::counter(k, DrawPurpose::Noise);
  const bool lookahead = n * dim <= kLookaheadMaxDraws;
  if (noise_scale > T(0) && lookahead && (ahead_.empty() || k < ahead_from_ || k >= ahead_from_ + kLookahead)) {
    const std::size_t per_chain = static_cast<std::size_t>(kLookahead * dim);
    ahead_.resize(static_cast<std::size_t>(n) * per_chain);
    for (Index c = 0; c < n; ++c)
      streams.rng(c).normal_steps<T>(counter, static_cast<std::size_t>(dim), std::span<T>(ahead_.data() + c * per_chain, per_chain));
    ahead_from_ = k;
  }
  for_chains(n, [&](Index c0, Index c1) {
    std::vector<T>& next = chunk_noise<T>();  // the noise, overwritten by the new states
    next.resize(static_cast<std::size_t>((c1 - c0) * dim));
    if (noise_scale > T(0) && !lookahead)
      streams.rng(c0).normal_rows<T>(counter, static_cast<std::size_t>(dim), next);
    for (Index c = c0; c < c1; ++c) {
      if (!s.alive[static_cast<std::size_t>(c)]) continue;
      if (!finite_row(s.score, c)) {
        s.alive[static_cast<std::size_t>(c)] = 0;
        continue;
      }
      T* x = s.x.data() + c * dim;
      const T* score = s.score.data() + c * dim;
      T* y = next.data() + (c - c0) * dim;
      if (noise_scale > T(0) && lookahead) {
        const T* from = ahead_.data() + (c * kLookahead + (k - ahead_from_)) * dim;
        std::copy(from, from + dim, y);
      }
      unadjusted_row(x, score, drift, noise_scale, dim, y);
      if (!all_finite(y, dim)) {
        s.alive[static_cast<std::size_t>(c)] = 0;
        continue;
      }
      std::copy(y, y + dim, x);
    }
  });
}

template <class T>
void langevin_update(Mat<T>& x, const Mat<T>& score, T h, std::uint64_t seed, std::uint64_t step,
                     std::uint64_t first_chain) {
  require_shape(score, x.rows(), x.cols(), "ebm::langevin_update", "score");
  require(h > T(0) && std::isfinite(h), "ebm::langevin_update", [&] { return "step size h must be positive, got " + std::to_string(h); });
  const T noise_scale = std::sqrt(T(2) * h);
  const Index d = x.cols();
  constexpr Index kRowsPerChunk = 1024;
  auto body = [&](Index r0, Index r1) {
    std::vector<T>& noise = chunk_noise<T>();
    noise.resize(static_cast<std::size_t>((r1 - r0) * d));
    CounterRng(seed, first_chain + static_cast<std::uint64_t>(r0)).normal_rows<T>(step, static_cast<std::size_t>(d), noise);
    for (Index i = r0; i < r1; ++i) {
      T* y = noise.data() + (i - r0) * d;
      unadjusted_row(x.row(i).data(), score.row(i).data(), h, noise_scale, d, y);
      std::copy(y, y + d, x.row(i).data());
    }
  };
  if (x.rows() <= kRowsPerChunk) body(0, x.rows());
  else parallel_for_chunks(x.rows(), kRowsPerChunk, body);
}

// ----- MALA -----

template <class T>
T mala_log_acceptance(T energy_x, const Eigen::Ref<const RowVec<T>>& score_x, T energy_y,
                      const Eigen::Ref<const RowVec<T>>& score_y, const Eigen::Ref<const RowVec<T>>& x,
                      const Eigen::Ref<const RowVec<T>>& y, T h) {
  const T forward = (y - x - h * score_x).squaredNorm();   // -4h log q(y | x) + const
  const T backward = (x - y - h * score_y).squaredNorm();  // -4h log q(x | y) + const
  return energy_x - energy_y + (forward - backward) / (T(4) * h);
}

template <class T>
void MalaKernel<T>::init(ChainState<T>& s, Target<T>& target, const ChainStreams&, Index warmup) {
  const Index n = s.chains();
  adapt_steps_ = settings_.adapt ? (settings_.adapt_steps < 0 ? warmup : settings_.adapt_steps) : 0;
  h_ = Vec<T>::Constant(n, settings_.step_size);
  DualAveraging<T> da(settings_.target_acceptance, settings_.gamma, settings_.t0, settings_.kappa);
  da.restart(settings_.step_size);
  averaging_.assign(static_cast<std::size_t>(n), da);
  accepted_.assign(static_cast<std::size_t>(n), 0);
  proposed_.assign(static_cast<std::size_t>(n), 0);
  y_.resize(n, s.dim());
  evaluate_state(s, target, true);
}

template <class T>
void MalaKernel<T>::step(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index k, StepInfo<T>& info) {
  const Index n = s.chains(), dim = s.dim();
  const std::uint64_t noise_counter = ChainStreams::counter(k, DrawPurpose::Noise);
  for_chains(n, [&](Index c0, Index c1) {
    std::vector<T>& noise = chunk_noise<T>();
    noise.resize(static_cast<std::size_t>((c1 - c0) * dim));
    streams.rng(c0).normal_rows<T>(noise_counter, static_cast<std::size_t>(dim), noise);
    for (Index c = c0; c < c1; ++c) {
      if (!s.alive[static_cast<std::size_t>(c)]) {
        y_.row(c) = s.x.row(c);
        continue;
      }
      const T* eps = noise.data() + (c - c0) * dim;
      const T hc = h_(c), scale = std::sqrt(T(2) * hc);
      for (Index j = 0; j < dim; ++j) y_(c, j) = s.x(c, j) + hc * s.score(c, j) + scale * eps[j];
    }
  });
  target.evaluate(y_, &energy_y_, score_y_);
  info.acceptance = Vec<T>::Constant(n, std::numeric_limits<T>::quiet_NaN());
  info.accepted.assign(static_cast<std::size_t>(n), 0);
  info.gradients.assign(static_cast<std::size_t>(n), 1);
  const std::uint64_t accept_counter = ChainStreams::counter(k, DrawPurpose::Accept);
  for_chains(n, [&](Index c0, Index c1) {
    for (Index c = c0; c < c1; ++c) {
      if (!s.alive[static_cast<std::size_t>(c)]) continue;
      const T hc = h_(c);
      T log_alpha = -std::numeric_limits<T>::infinity();
      if (std::isfinite(energy_y_(c)) && finite_row(score_y_, c) && finite_row(y_, c))
        log_alpha = mala_log_acceptance<T>(s.energy(c), s.score.row(c), energy_y_(c), score_y_.row(c), s.x.row(c), y_.row(c), hc);
      const T alpha = std::isnan(log_alpha) ? T(0) : std::min(T(1), std::exp(log_alpha));
      info.acceptance(c) = alpha;
      ++proposed_[static_cast<std::size_t>(c)];
      T u;
      streams.rng(c).uniform<T>(accept_counter, std::span<T>(&u, 1));
      if (std::log(u) < log_alpha) {
        ++accepted_[static_cast<std::size_t>(c)];
        info.accepted[static_cast<std::size_t>(c)] = 1;
        s.x.row(c) = y_.row(c);
        s.score.row(c) = score_y_.row(c);
        s.energy(c) = energy_y_(c);
      }
      if (k <= adapt_steps_) {
        DualAveraging<T>& da = averaging_[static_cast<std::size_t>(c)];
        const T next = da.update(alpha);
        h_(c) = k == adapt_steps_ ? da.final_step() : next;
      }
    }
  });
}

template <class T>
void MalaKernel<T>::report(SampleResult<T>& r) const {
  r.accepted = accepted_;
  r.proposed = proposed_;
}

#define EBM_INSTANTIATE(T)                                                                                  \
  template class UnadjustedKernel<T>;                                                                      \
  template class MalaKernel<T>;                                                                            \
  template void langevin_update<T>(Mat<T>&, const Mat<T>&, T, std::uint64_t, std::uint64_t, std::uint64_t); \
  template T mala_log_acceptance<T>(T, const Eigen::Ref<const RowVec<T>>&, T, const Eigen::Ref<const RowVec<T>>&, \
                                    const Eigen::Ref<const RowVec<T>>&, const Eigen::Ref<const RowVec<T>>&, T);
EBM_INSTANTIATE(float)
EBM_INSTANTIATE(double)
#undef EBM_INSTANTIATE

}  // namespace ebm
