#include <ebm/core/check.hpp>
#include <ebm/core/error.hpp>
#include <ebm/sample/hmc.hpp>
#include <ebm/sample/run.hpp>

#include "chains.hpp"

#include <Eigen/Cholesky>

#include <algorithm>
#include <cmath>
#include <limits>

namespace ebm {
namespace {

using sample_detail::finite_row;
using sample_detail::value_text;

// The step-size search's rounds (Stan's init_stepsize): at most this many halvings or doublings.
constexpr int kSearchRounds = 60;

}  // namespace

MetricKind parse_metric(const std::string& name, const std::string& what) {
  if (name == "unit") return MetricKind::Unit;
  if (name == "diag" || name == "diagonal") return MetricKind::Diagonal;
  if (name == "dense") return MetricKind::Dense;
  throw InvalidArgument(what + ": unknown metric '" + name + "' (expected unit, diag or dense)");
}

std::string metric_name(MetricKind kind) {
  switch (kind) {
    case MetricKind::Unit: return "unit";
    case MetricKind::Diagonal: return "diag";
    case MetricKind::Dense: return "dense";
  }
  return "?";
}

template <class T>
void HamiltonianSettings<T>::validate() const {
  const char* where = "ebm::HamiltonianSettings";
  require(std::isfinite(step_size) && step_size > T(0), where, [&] { return "step_size must be positive, got " + value_text(step_size); });
  require(target_acceptance > T(0) && target_acceptance < T(1), where,
          [&] { return "target_acceptance must be in (0, 1), got " + value_text(target_acceptance); });
  require(gamma > T(0) && t0 >= T(0) && kappa > T(0.5) && kappa <= T(1), where,
          "dual averaging needs gamma > 0, t0 >= 0 and kappa in (0.5, 1]");
  require(step_jitter >= T(0) && step_jitter < T(1), where, [&] { return "step_jitter must be in [0, 1), got " + value_text(step_jitter); });
  require(max_energy_error > T(0), where, [&] { return "max_energy_error must be positive, got " + value_text(max_energy_error); });
  require(std::isfinite(path_length) && path_length > T(0), where,
          [&] { return "path_length must be positive, got " + value_text(path_length); });
  require(max_depth >= 1 && max_depth <= 30, where, [&] { return "max_depth must be in 1..30, got " + std::to_string(max_depth); });
  require(init_buffer >= 0 && term_buffer >= 0 && base_window >= 1, where,
          "warm-up buffers must be >= 0 and base_window >= 1");
}

template <class T>
HamiltonianKernel<T>::HamiltonianKernel(HamiltonianSettings<T> settings) : settings_(settings) {
  settings_.validate();
}

template <class T>
void HamiltonianKernel<T>::init(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index warmup) {
  const Index n = s.chains(), d = s.dim();
  warmup_ = settings_.adapt ? warmup : 0;
  windows_ = WarmupWindows(warmup_, settings_.init_buffer, settings_.term_buffer, settings_.base_window);
  h_ = Vec<T>::Constant(n, settings_.step_size);
  const bool dense = settings_.metric == MetricKind::Dense;
  inv_metric_.assign(static_cast<std::size_t>(n), dense ? Mat<T>(Mat<T>::Identity(d, d)) : Mat<T>(Mat<T>::Ones(1, d)));
  factor_.assign(static_cast<std::size_t>(n), dense ? Mat<T>(Mat<T>::Identity(d, d)) : Mat<T>());
  moments_.assign(static_cast<std::size_t>(n), RunningMoments<T>());
  for (auto& m : moments_) m.reset(d, dense);
  const DualAveraging<T> da(settings_.target_acceptance, settings_.gamma, settings_.t0, settings_.kappa);
  averaging_.assign(static_cast<std::size_t>(n), da);
  accepted_.assign(static_cast<std::size_t>(n), 0);
  proposed_.assign(static_cast<std::size_t>(n), 0);
  search_calls_ = 0;
  evaluate_state(s, target, true);
  if (warmup_ > 0) find_step_sizes(s, target, streams, search_calls_++);
  for (Index c = 0; c < n; ++c) averaging_[static_cast<std::size_t>(c)].restart(h_(c));
}

template <class T>
void HamiltonianKernel<T>::set_metric(const Mat<T>& inverse_metric) {
  const bool dense = settings_.metric == MetricKind::Dense;
  for (std::size_t c = 0; c < inv_metric_.size(); ++c) {
    require(inverse_metric.rows() == inv_metric_[c].rows() && inverse_metric.cols() == inv_metric_[c].cols(),
            "ebm::HamiltonianKernel::set_metric", [&] {
              return "the inverse metric has shape " + shape_str(inverse_metric.rows(), inverse_metric.cols()) + ", expected " +
                     shape_str(inv_metric_[c].rows(), inv_metric_[c].cols());
            });
    inv_metric_[c] = inverse_metric;
    if (dense) refresh_factor(static_cast<Index>(c));
  }
}

template <class T>
void HamiltonianKernel<T>::refresh_factor(Index c) {
  Eigen::LLT<Mat<T>> llt(inv_metric_[static_cast<std::size_t>(c)]);
  if (llt.info() != Eigen::Success) {  // not positive definite (collinear warm-up draws): keep the diagonal
    Mat<T> diag = inv_metric_[static_cast<std::size_t>(c)].diagonal().asDiagonal();
    inv_metric_[static_cast<std::size_t>(c)] = diag;
    llt.compute(diag);
  }
  factor_[static_cast<std::size_t>(c)] = llt.matrixL();
}

template <class T>
void HamiltonianKernel<T>::momentum_from_normals(Index c, const T* z, T* p) const {
  const Mat<T>& m = inv_metric_[static_cast<std::size_t>(c)];
  const Index d = m.cols();
  switch (settings_.metric) {
    case MetricKind::Unit: std::copy(z, z + d, p); return;
    case MetricKind::Diagonal:
      for (Index j = 0; j < d; ++j) p[j] = z[j] / std::sqrt(m(0, j));
      return;
    case MetricKind::Dense: {
      // M^-1 = L L^T, so p = L^-T z has covariance (L L^T)^-1 = M.
      Eigen::Map<Vec<T>> out(p, d);
      out = Eigen::Map<const Vec<T>>(z, d);
      factor_[static_cast<std::size_t>(c)].template triangularView<Eigen::Lower>().transpose().solveInPlace(out);
      return;
    }
  }
}

template <class T>
void HamiltonianKernel<T>::velocity(Index c, const T* p, T* v) const {
  const Mat<T>& m = inv_metric_[static_cast<std::size_t>(c)];
  const Index d = m.cols();
  if (settings_.metric == MetricKind::Dense) {
    Eigen::Map<Vec<T>>(v, d).noalias() = m * Eigen::Map<const Vec<T>>(p, d);
    return;
  }
  for (Index j = 0; j < d; ++j) v[j] = m(0, j) * p[j];
}

template <class T>
T HamiltonianKernel<T>::kinetic(Index c, const T* p) const {
  const Index d = inv_metric_[static_cast<std::size_t>(c)].cols();
  thread_local std::vector<T> v;
  v.resize(static_cast<std::size_t>(d));
  velocity(c, p, v.data());
  T k = 0;
  for (Index j = 0; j < d; ++j) k += p[j] * v[static_cast<std::size_t>(j)];
  return T(0.5) * k;
}

template <class T>
void HamiltonianKernel<T>::leapfrog(std::span<const Index> rows, const std::vector<T>& signed_step, Mat<T>& x, Mat<T>& p,
                                    Mat<T>& score, Vec<T>& energy, Target<T>& target) {
  const Index d = x.cols();
  work_.resize(static_cast<std::size_t>(d));
  for (Index r : rows) {
    const T h = signed_step[static_cast<std::size_t>(r)];
    for (Index j = 0; j < d; ++j) p(r, j) += T(0.5) * h * score(r, j);
    velocity(r, p.row(r).data(), work_.data());
    for (Index j = 0; j < d; ++j) x(r, j) += h * work_[static_cast<std::size_t>(j)];
  }
  target.evaluate_rows(x, rows, &energy, score);
  for (Index r : rows) {
    const T h = signed_step[static_cast<std::size_t>(r)];
    for (Index j = 0; j < d; ++j) p(r, j) += T(0.5) * h * score(r, j);
  }
}

// Stan's init_stepsize, all chains in lockstep: from h, one leapfrog step with a fresh
// momentum; double h while the energy error stays above log 0.8 (halve while below) until it
// crosses.
template <class T>
void HamiltonianKernel<T>::find_step_sizes(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index call) {
  const Index n = s.chains(), d = s.dim();
  Mat<T> x = s.x, p(n, d), score = s.score;
  Vec<T> energy = s.energy;
  std::vector<int> direction(static_cast<std::size_t>(n), 0);
  std::vector<T> step(static_cast<std::size_t>(n));
  std::vector<T> h0(static_cast<std::size_t>(n));
  std::vector<T> z(static_cast<std::size_t>(d));
  const T log_threshold = std::log(T(0.8));
  std::vector<Index> searching;
  for (Index c = 0; c < n; ++c)
    if (s.alive[static_cast<std::size_t>(c)]) searching.push_back(c);
  for (int round = 0; round < kSearchRounds && !searching.empty(); ++round) {
    const Index update = call * (kSearchRounds + 1) + round + 1;
    for (Index c : searching) {
      x.row(c) = s.x.row(c);
      score.row(c) = s.score.row(c);
      streams.normal<T>(c, update, DrawPurpose::Search, std::span<T>(z));
      momentum_from_normals(c, z.data(), p.row(c).data());
      h0[static_cast<std::size_t>(c)] = s.energy(c) + kinetic(c, p.row(c).data());
      step[static_cast<std::size_t>(c)] = h_(c);
    }
    leapfrog(searching, step, x, p, score, energy, target);
    std::vector<Index> next;
    for (Index c : searching) {
      T h1 = energy(c) + kinetic(c, p.row(c).data());
      if (std::isnan(h1) || !finite_row(score, c)) h1 = std::numeric_limits<T>::infinity();
      const T delta = h0[static_cast<std::size_t>(c)] - h1;
      int& dir = direction[static_cast<std::size_t>(c)];
      if (dir == 0) dir = delta > log_threshold ? 1 : -1;
      const bool crossed = dir == 1 ? !(delta > log_threshold) : !(delta < log_threshold);
      if (crossed) continue;
      const T h = dir == 1 ? T(2) * h_(c) : T(0.5) * h_(c);
      if (!(h > T(1e-12) && h < T(1e7))) continue;  // improper or discontinuous: keep the last h
      h_(c) = h;
      next.push_back(c);
    }
    searching = std::move(next);
  }
}

template <class T>
void HamiltonianKernel<T>::step(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index k,
                                StepInfo<T>& info) {
  const Index n = s.chains();
  Vec<T> h = h_;
  if (settings_.step_jitter > T(0))
    for (Index c = 0; c < n; ++c)
      h(c) *= T(1) + settings_.step_jitter * T(2 * streams.uniform(c, k, DrawPurpose::Jitter) - 1);
  transition(s, target, streams, k, h, info);
  if (k > warmup_) return;
  bool window_end = windows_.window_end(k);
  for (Index c = 0; c < n; ++c) {
    if (!s.alive[static_cast<std::size_t>(c)]) continue;
    DualAveraging<T>& da = averaging_[static_cast<std::size_t>(c)];
    h_(c) = da.update(info.acceptance(c));
    if (windows_.collecting(k)) moments_[static_cast<std::size_t>(c)].add(s.x.row(c).data());
    if (window_end && settings_.metric != MetricKind::Unit) {
      RunningMoments<T>& m = moments_[static_cast<std::size_t>(c)];
      inv_metric_[static_cast<std::size_t>(c)] = m.regularized();
      if (settings_.metric == MetricKind::Dense) refresh_factor(c);
      m.reset(s.dim(), settings_.metric == MetricKind::Dense);
    }
    if (k == warmup_) h_(c) = da.final_step();
  }
  if (window_end && settings_.metric != MetricKind::Unit) {
    find_step_sizes(s, target, streams, search_calls_++);
    for (Index c = 0; c < n; ++c) averaging_[static_cast<std::size_t>(c)].restart(h_(c));
  }
}

template <class T>
void HamiltonianKernel<T>::report(SampleResult<T>& r) const {
  if (proposed_.empty() || *std::max_element(proposed_.begin(), proposed_.end()) == 0) return;  // NUTS counts no proposals
  r.accepted = accepted_;
  r.proposed = proposed_;
}

template struct HamiltonianSettings<float>;
template struct HamiltonianSettings<double>;
template class HamiltonianKernel<float>;
template class HamiltonianKernel<double>;

}  // namespace ebm
