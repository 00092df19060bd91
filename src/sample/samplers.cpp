#include <ebm/core/check.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/sample/samplers.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>

namespace ebm {
namespace {

constexpr std::uint64_t kAcceptCounterBit = std::uint64_t(1) << 62;
constexpr std::uint64_t kInitCounter = std::uint64_t(1) << 63;
constexpr Index kChainsPerChunk = 512;

template <class T>
bool row_finite(const Mat<T>& m, Index r) {
  return all_finite(m.data() + r * m.cols(), m.cols());
}

// The normal draws of a chunk of chains, reused across steps so that a step allocates nothing.
template <class T>
std::vector<T>& chunk_noise() {
  thread_local std::vector<T> buffer;
  return buffer;
}

// Per-chain work in fixed chunks; chains are independent, so any split gives the same bits.
template <class Body>
void for_chains(Index chains, Body&& body) {
  if (chains <= kChainsPerChunk) {
    body(Index(0), chains);
    return;
  }
  parallel_for_chunks(chains, kChainsPerChunk, body);
}

// The state of a run shared by all samplers: chains, kept draws, trace, failures.
template <class T>
class Run {
 public:
  Run(Index dim, const ChainOptions<T>& o, Index steps, Index keep_from)
      : dim_(dim), o_(o), keep_from_(keep_from), start_(std::chrono::steady_clock::now()) {
    const Index n = o.chains;
    draws_ = steps > keep_from ? (steps - keep_from) / o.thin : 0;
    trace_len_ = o.record_trace ? steps / o.thin + 1 : 0;
    samples_.resize(n * draws_, dim);
    if (o.record_trace) trace_.resize(n * trace_len_, dim);
    failed_at_.assign(static_cast<std::size_t>(n), -1);
    x.resize(n, dim);
    initialize();
    record(0);
  }

  Mat<T> x;  // chains x D

  std::uint64_t stream(Index c) const { return o_.first_chain + static_cast<std::uint64_t>(c); }
  bool alive(Index c) const { return failed_at_[static_cast<std::size_t>(c)] < 0; }
  void fail(Index c, Index step) {
    if (alive(c)) failed_at_[static_cast<std::size_t>(c)] = step;
  }
  // The D normals of update k (1-based) of chains [c0, c1): row c - c0 of the result
  // ((c1 - c0) x D). Chains are consecutive streams, so one call draws them all. A run with
  // few draws per update (one chain of dimension 2, say) draws kLookahead updates ahead
  // instead: the vectorised transform costs about as much for one pair as for sixteen, so a
  // call per update would pay it every step. The draws are the same either way.
  std::vector<T>& noise(Index c0, Index c1, Index k) {
    std::vector<T>& out = chunk_noise<T>();
    const std::size_t d = static_cast<std::size_t>(dim_);
    out.resize(static_cast<std::size_t>(c1 - c0) * d);
    if (o_.chains * dim_ > kLookaheadMaxDraws) {  // then also more than one chunk of chains
      CounterRng(o_.seed, stream(c0)).normal_rows<T>(static_cast<std::uint64_t>(k - 1), d, out);
      return out;
    }
    const std::size_t per_chain = kLookahead * d;
    if (ahead_.empty() || k < ahead_from_ || k >= ahead_from_ + kLookahead) {
      ahead_.resize(static_cast<std::size_t>(o_.chains) * per_chain);
      for (Index c = 0; c < o_.chains; ++c)
        CounterRng(o_.seed, stream(c))
            .normal_steps<T>(static_cast<std::uint64_t>(k - 1), d, std::span<T>(ahead_.data() + c * per_chain, per_chain));
      ahead_from_ = k;
    }
    for (Index c = c0; c < c1; ++c) {
      const T* from = ahead_.data() + c * per_chain + (k - ahead_from_) * dim_;
      std::copy(from, from + dim_, out.data() + (c - c0) * dim_);
    }
    return out;
  }
  T accept_uniform(Index c, Index k) const {
    T u;
    CounterRng(o_.seed, stream(c)).uniform<T>(static_cast<std::uint64_t>(k - 1) | kAcceptCounterBit, std::span<T>(&u, 1));
    return u;
  }

  // Keeps x after update k (k = 0: the initial state) where the options say so.
  void record(Index k) {
    const Index n = o_.chains;
    if (trace_len_ > 0 && k % o_.thin == 0) {
      const Index i = k / o_.thin;
      for (Index c = 0; c < n; ++c) trace_.row(c * trace_len_ + i) = x.row(c);
    }
    if (k > keep_from_ && (k - keep_from_) % o_.thin == 0) {
      const Index i = (k - keep_from_) / o_.thin - 1;
      for (Index c = 0; c < n; ++c) samples_.row(c * draws_ + i) = x.row(c);
    }
  }

  SampleResult<T> finish(Vec<T> step_size, std::vector<std::int64_t> accepted = {},
                         std::vector<std::int64_t> proposed = {}) {
    SampleResult<T> r;
    const Index n = o_.chains;
    Index kept = 0;
    for (Index c = 0; c < n; ++c) kept += alive(c);
    r.samples.resize(kept * draws_, dim_);
    if (trace_len_ > 0) r.trace.resize(kept * trace_len_, dim_);
    Index slot = 0;
    for (Index c = 0; c < n; ++c) {
      if (!alive(c)) {
        r.failures.emplace_back(static_cast<Index>(stream(c)), failed_at_[static_cast<std::size_t>(c)]);
        continue;
      }
      r.chains_kept.push_back(static_cast<Index>(stream(c)));
      r.samples.middleRows(slot * draws_, draws_) = samples_.middleRows(c * draws_, draws_);
      if (trace_len_ > 0) r.trace.middleRows(slot * trace_len_, trace_len_) = trace_.middleRows(c * trace_len_, trace_len_);
      ++slot;
    }
    r.draws_per_chain = draws_;
    r.trace_length = trace_len_;
    r.final_state = x;
    r.step_size = std::move(step_size);
    r.accepted = std::move(accepted);
    r.proposed = std::move(proposed);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    return r;
  }

 private:
  void initialize() {
    const auto& init = o_.init;
    using Kind = typename Initialization<T>::Kind;
    for (Index c = 0; c < o_.chains; ++c) {
      if (init.kind == Kind::Points) {
        x.row(c) = init.points.row(init.points.rows() == 1 ? 0 : c);
        continue;
      }
      const CounterRng rng(o_.seed, stream(c));
      std::span<T> row(x.row(c).data(), static_cast<std::size_t>(dim_));
      if (init.kind == Kind::Gaussian) {
        rng.normal<T>(kInitCounter, row);
        x.row(c) *= init.scale;
      } else {
        rng.uniform<T>(kInitCounter, row);
        x.row(c) = (x.row(c).array() * 2 - 1).matrix() * init.scale;
      }
    }
  }

  Index dim_;
  const ChainOptions<T>& o_;
  Index keep_from_;
  Index draws_ = 0, trace_len_ = 0;
  static constexpr Index kLookahead = 64, kLookaheadMaxDraws = 64;
  std::vector<T> ahead_;  // chains x kLookahead x D draws, for updates ahead_from_, ...
  Index ahead_from_ = 0;
  Mat<T> samples_, trace_;
  std::vector<Index> failed_at_;
  std::chrono::steady_clock::time_point start_;
};

// The unadjusted family: x <- x + drift(k) s_k(x) + sqrt(2 noise_var(k)) eps. Used by ULA, the
// SDE, gradient flow and both annealing ladders.
template <class T, class Score, class Rule>
SampleResult<T> unadjusted(Index dim, const ChainOptions<T>& o, Index steps, Index keep_from, Score&& score_at,
                           Rule&& rule) {
  Run<T> run(dim, o, steps, keep_from);
  Mat<T> scores;
  for (Index k = 1; k <= steps; ++k) {
    score_at(k, run.x, scores);
    const auto [drift, noise_var] = rule(k);
    const T noise_scale = std::sqrt(T(2) * noise_var);
    for_chains(o.chains, [&](Index c0, Index c1) {
      std::vector<T>& noise = noise_scale > T(0) ? run.noise(c0, c1, k) : chunk_noise<T>();
      noise.resize(static_cast<std::size_t>((c1 - c0) * dim));
      for (Index c = c0; c < c1; ++c) {
        if (!run.alive(c)) continue;
        if (!row_finite(scores, c)) {
          run.fail(c, k);
          continue;
        }
        T* x = run.x.data() + c * dim;
        const T* s = scores.data() + c * dim;
        T* next = noise.data() + (c - c0) * dim;  // the noise, overwritten by the new state
        if (noise_scale > T(0)) {
          for (Index j = 0; j < dim; ++j) next[j] = x[j] + drift * s[j] + noise_scale * next[j];
        } else {
          for (Index j = 0; j < dim; ++j) next[j] = x[j] + drift * s[j];
        }
        if (!all_finite(next, dim)) {
          run.fail(c, k);
          continue;
        }
        std::copy(next, next + dim, x);
      }
    });
    run.record(k);
  }
  return run.finish(Vec<T>::Constant(o.chains, rule(steps).first));
}

template <class T>
auto plain_score(const BatchEvaluation<T>& eval) {
  return [&eval](Index, const Mat<T>& x, Mat<T>& s) { eval(x, nullptr, s); };
}

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

template <class T>
std::string name_value(const char* name, T v) {
  std::ostringstream s;
  s << name << " = " << v;
  return s.str();
}

}  // namespace

// ----- options -----

template <class T>
void Initialization<T>::validate(Index chains, Index dim) const {
  const char* where = "ebm::Initialization";
  require(std::isfinite(scale) && scale > T(0), where, [&] { return name_value("scale must be positive, got scale", scale); });
  if (kind == Kind::Points) {
    require((points.rows() == chains || points.rows() == 1) && points.cols() == dim, where, [&] {
      return "points has shape " + shape_str(points.rows(), points.cols()) + ", expected " + std::to_string(chains) +
             "x" + std::to_string(dim) + " or 1x" + std::to_string(dim);
    });
    require(points.allFinite(), where, "points has non-finite values");
  }
}

template <class T>
void ChainOptions<T>::validate(Index dim) const {
  const char* where = "ebm::ChainOptions";
  require(dim >= 1, where, [&] { return "the energy's dim must be >= 1, got " + std::to_string(dim); });
  require(chains >= 1, where, [&] { return "chains must be >= 1, got " + std::to_string(chains); });
  require(steps >= 0, where, [&] { return "steps must be >= 0, got " + std::to_string(steps); });
  require(burn_in >= 0 && burn_in <= steps, where,
          [&] { return "burn_in must be in 0..steps (" + std::to_string(steps) + "), got " + std::to_string(burn_in); });
  require(thin >= 1, where, [&] { return "thin must be >= 1, got " + std::to_string(thin); });
  init.validate(chains, dim);
}

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

// ----- results -----

template <class T>
double SampleResult<T>::acceptance_rate() const {
  std::int64_t a = 0, p = 0;
  for (std::size_t c = 0; c < proposed.size(); ++c) {
    a += accepted[c];
    p += proposed[c];
  }
  return p > 0 ? double(a) / double(p) : std::numeric_limits<double>::quiet_NaN();
}

template <class T>
std::string SampleResult<T>::summary() const {
  std::ostringstream s;
  s << chains_kept.size() << " chains kept, " << draws_per_chain << " draws each (" << samples.rows() << " x "
    << samples.cols() << ")";
  if (!proposed.empty()) s << "; acceptance " << acceptance_rate();
  if (step_size.size() > 0) s << "; step size " << step_size.minCoeff() << ".." << step_size.maxCoeff();
  s << "; " << failures.size() << " chains stopped on non-finite values";
  if (!failures.empty()) {
    Index first = failures.front().second;
    for (const auto& f : failures) first = std::min(first, f.second);
    s << " (first at step " << first << ")";
  }
  s << "; " << seconds << " s";
  return s.str();
}

// ----- samplers -----

template <class T>
T mala_log_acceptance(T energy_x, const Eigen::Ref<const RowVec<T>>& score_x, T energy_y,
                      const Eigen::Ref<const RowVec<T>>& score_y, const Eigen::Ref<const RowVec<T>>& x,
                      const Eigen::Ref<const RowVec<T>>& y, T h) {
  const T forward = (y - x - h * score_x).squaredNorm();   // -4h log q(y | x) + const
  const T backward = (x - y - h * score_y).squaredNorm();  // -4h log q(x | y) + const
  return energy_x - energy_y + (forward - backward) / (T(4) * h);
}

namespace detail {

template <class T>
SampleResult<T> run_ula(Index dim, const BatchEvaluation<T>& eval, const UlaOptions<T>& o) {
  o.validate(dim);
  return unadjusted<T>(dim, o, o.steps, o.burn_in, plain_score(eval), [&](Index k) {
    const T h = schedule_step(o, k - 1);
    return std::pair<T, T>(h, h);
  });
}

template <class T>
SampleResult<T> run_sde(Index dim, const BatchEvaluation<T>& eval, const SdeOptions<T>& o) {
  o.validate(dim);
  const Index steps = static_cast<Index>(std::ceil(o.horizon / o.dt - T(1e-9)));
  return unadjusted<T>(dim, o, steps, std::min(o.burn_in, steps), plain_score(eval),
                       [&](Index) { return std::pair<T, T>(o.dt, o.dt * o.temperature); });
}

template <class T>
SampleResult<T> run_gradient_flow(Index dim, const BatchEvaluation<T>& eval, const GradientFlowOptions<T>& o) {
  o.validate(dim);
  return unadjusted<T>(dim, o, o.steps, o.burn_in, plain_score(eval),
                       [&](Index) { return std::pair<T, T>(o.step_size, T(0)); });
}

template <class T>
SampleResult<T> run_annealed_temperature(Index dim, const BatchEvaluation<T>& eval, const AnnealedOptions<T>& o) {
  o.validate(dim);
  const Index steps = o.levels * o.steps_per_level;
  // At temperature T_l the target is exp(-E / T_l): drift h_l s / T_l = h s, noise 2 h_l.
  return unadjusted<T>(dim, o, steps, steps - o.steps_per_level + o.burn_in, plain_score(eval), [&](Index k) {
    const Index level = (k - 1) / o.steps_per_level;
    const T temperature = geometric_level(o.max_temperature, T(1), level, o.levels);
    return std::pair<T, T>(o.step_size, o.step_size * temperature);
  });
}

template <class T>
SampleResult<T> run_mala(Index dim, const BatchEvaluation<T>& eval, const MalaOptions<T>& o) {
  o.validate(dim);
  const Index n = o.chains;
  const Index adapt_steps = o.adapt ? (o.adapt_steps < 0 ? o.burn_in : o.adapt_steps) : 0;
  Run<T> run(dim, o, o.steps, o.burn_in);
  Vec<T> ex, ey;
  Mat<T> sx, sy, y(n, dim);
  eval(run.x, &ex, sx);
  for (Index c = 0; c < n; ++c)
    if (!std::isfinite(ex(c)) || !row_finite(sx, c)) run.fail(c, 0);

  // Per-chain dual averaging (Hoffman & Gelman 2014, algorithm 5): log h_m = mu - sqrt(m)/gamma Hbar_m.
  Vec<T> h = Vec<T>::Constant(n, o.step_size), hbar_log = Vec<T>::Zero(n), hbar_stat = Vec<T>::Zero(n);
  const T mu = std::log(T(10) * o.step_size);
  std::vector<std::int64_t> accepted(static_cast<std::size_t>(n), 0), proposed(static_cast<std::size_t>(n), 0);

  for (Index k = 1; k <= o.steps; ++k) {
    for_chains(n, [&](Index c0, Index c1) {
      const std::vector<T>& noise = run.noise(c0, c1, k);
      for (Index c = c0; c < c1; ++c) {
        if (!run.alive(c)) {
          y.row(c) = run.x.row(c);
          continue;
        }
        const T* eps = noise.data() + (c - c0) * dim;
        const T hc = h(c), scale = std::sqrt(T(2) * hc);
        for (Index j = 0; j < dim; ++j) y(c, j) = run.x(c, j) + hc * sx(c, j) + scale * eps[j];
      }
    });
    eval(y, &ey, sy);
    for_chains(n, [&](Index c0, Index c1) {
      for (Index c = c0; c < c1; ++c) {
        if (!run.alive(c)) continue;
        const T hc = h(c);
        T log_alpha = -std::numeric_limits<T>::infinity();
        if (std::isfinite(ey(c)) && row_finite(sy, c) && row_finite(y, c))
          log_alpha = mala_log_acceptance<T>(ex(c), sx.row(c), ey(c), sy.row(c), run.x.row(c), y.row(c), hc);
        const T alpha = std::isnan(log_alpha) ? T(0) : std::min(T(1), std::exp(log_alpha));
        ++proposed[static_cast<std::size_t>(c)];
        if (std::log(run.accept_uniform(c, k)) < log_alpha) {
          ++accepted[static_cast<std::size_t>(c)];
          run.x.row(c) = y.row(c);
          sx.row(c) = sy.row(c);
          ex(c) = ey(c);
        }
        if (k <= adapt_steps) {
          const T m = T(k), w = T(1) / (m + o.t0);
          hbar_stat(c) = (T(1) - w) * hbar_stat(c) + w * (o.target_acceptance - alpha);
          const T log_h = mu - std::sqrt(m) / o.gamma * hbar_stat(c);
          const T eta = std::pow(m, -o.kappa);
          hbar_log(c) = eta * log_h + (T(1) - eta) * hbar_log(c);
          h(c) = k == adapt_steps ? std::exp(hbar_log(c)) : std::exp(log_h);
        }
      }
    });
    run.record(k);
  }
  return run.finish(h, std::move(accepted), std::move(proposed));
}

}  // namespace detail

template <class T>
SampleResult<T> annealed_langevin(Index dim, const NoiseConditionalScore<T>& score, const AnnealedOptions<T>& o) {
  o.validate(dim);
  const Index steps = o.levels * o.steps_per_level;
  auto sigma_of = [&](Index k) { return geometric_level(o.sigma_max, o.sigma_min, (k - 1) / o.steps_per_level, o.levels); };
  return unadjusted<T>(
      dim, o, steps, steps - o.steps_per_level + o.burn_in,
      [&](Index k, const Mat<T>& x, Mat<T>& s) { score(x, sigma_of(k), s); },
      [&](Index k) {
        const T sigma = sigma_of(k), alpha = o.step_size * sigma * sigma / (o.sigma_min * o.sigma_min);
        return std::pair<T, T>(alpha, alpha);
      });
}

#define EBM_INSTANTIATE(T)                                                                                   \
  template struct Initialization<T>;                                                                        \
  template struct ChainOptions<T>;                                                                          \
  template struct UlaOptions<T>;                                                                            \
  template struct SdeOptions<T>;                                                                            \
  template struct GradientFlowOptions<T>;                                                                   \
  template struct MalaOptions<T>;                                                                           \
  template struct AnnealedOptions<T>;                                                                       \
  template struct SampleResult<T>;                                                                          \
  template SampleResult<T> detail::run_ula<T>(Index, const BatchEvaluation<T>&, const UlaOptions<T>&);       \
  template SampleResult<T> detail::run_sde<T>(Index, const BatchEvaluation<T>&, const SdeOptions<T>&);       \
  template SampleResult<T> detail::run_gradient_flow<T>(Index, const BatchEvaluation<T>&,                    \
                                                        const GradientFlowOptions<T>&);                      \
  template SampleResult<T> detail::run_mala<T>(Index, const BatchEvaluation<T>&, const MalaOptions<T>&);     \
  template SampleResult<T> detail::run_annealed_temperature<T>(Index, const BatchEvaluation<T>&,             \
                                                               const AnnealedOptions<T>&);                   \
  template SampleResult<T> annealed_langevin<T>(Index, const NoiseConditionalScore<T>&, const AnnealedOptions<T>&); \
  template T mala_log_acceptance<T>(T, const Eigen::Ref<const RowVec<T>>&, T, const Eigen::Ref<const RowVec<T>>&,    \
                                    const Eigen::Ref<const RowVec<T>>&, const Eigen::Ref<const RowVec<T>>&, T);
EBM_INSTANTIATE(float)
EBM_INSTANTIATE(double)
#undef EBM_INSTANTIATE

}  // namespace ebm
