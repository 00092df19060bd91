#include <ebm/core/check.hpp>
#include <ebm/sample/run.hpp>

#include "chains.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>

namespace ebm {
namespace {

using sample_detail::finite_row;
using sample_detail::name_value;

// Per kept draw, a copy of one StepInfo field (chain-major, draws_per_chain slots per chain).
template <class V>
void keep_field(const V& from, Index chain, Index slot, Index draws, Index chains,
                std::vector<typename V::value_type>& to) {
  if (from.size() == 0) return;
  if (to.empty()) to.assign(static_cast<std::size_t>(chains * draws), typename V::value_type{});
  to[static_cast<std::size_t>(chain * draws + slot)] = from[static_cast<std::size_t>(chain)];
}
template <class T>
void keep_field(const Vec<T>& from, Index chain, Index slot, Index draws, Index chains, std::vector<T>& to) {
  if (from.size() == 0) return;
  if (to.empty()) to.assign(static_cast<std::size_t>(chains * draws), std::numeric_limits<T>::quiet_NaN());
  to[static_cast<std::size_t>(chain * draws + slot)] = from(chain);
}
// The blocks of kept chains only.
template <class V>
V kept_blocks(const V& all, const std::vector<Index>& kept, Index draws) {
  if (all.empty()) return all;
  V out;
  out.reserve(kept.size() * static_cast<std::size_t>(draws));
  for (Index c : kept) out.insert(out.end(), all.begin() + c * draws, all.begin() + (c + 1) * draws);
  return out;
}

}  // namespace

double ChainStreams::uniform(Index c, Index update, DrawPurpose purpose, std::uint64_t i) const {
  std::uint64_t words[4];
  rng(c).raw_block(counter(update, purpose), i / 4, words);
  // 53 random bits, centred in their interval: never 0, never 1.
  return (double(words[i % 4] >> 11) + 0.5) * 0x1.0p-53;
}

template <class T>
void StepInfo<T>::reset() {
  acceptance.resize(0);
  accepted.clear();
  divergent.clear();
  tree_depth.clear();
  gradients.clear();
  hamiltonian.resize(0);
}

namespace {
template <class T>
void scale_row(T scale, Index r, Vec<T>* energies, Mat<T>& scores) {
  scores.row(r) *= scale;
  if (energies) (*energies)(r) *= scale;
}
}  // namespace

template <class T>
Target<T>::Target(Index dim, BatchEvaluation<T> evaluation)
    : dim_(dim), evaluation_([e = std::move(evaluation)](Index, const Mat<T>& x, Vec<T>* en, Mat<T>& s) { e(x, en, s); }) {}

template <class T>
void Target<T>::evaluate(const Mat<T>& x, Vec<T>* energies, Mat<T>& scores) {
  evaluate_raw(x, energies, scores);
  if (!row_scale_.empty())
    for (Index r = 0; r < x.rows(); ++r) scale_row(row_scale_[static_cast<std::size_t>(r)], r, energies, scores);
}

template <class T>
void Target<T>::evaluate_raw(const Mat<T>& x, Vec<T>* energies, Mat<T>& scores) {
  evaluation_(update_, x, energies, scores);
  const char* where = "ebm::Target";
  require(scores.rows() == x.rows() && scores.cols() == x.cols(), where, [&] {
    return "the target returned scores of shape " + shape_str(scores.rows(), scores.cols()) + " for points of shape " +
           shape_str(x.rows(), x.cols());
  });
  require(!energies || energies->size() == x.rows(), where, [&] {
    return "the target returned " + std::to_string(energies->size()) + " energies for " + std::to_string(x.rows()) + " points";
  });
  evaluations_ += x.rows();
}


template <class T>
void Target<T>::evaluate_rows(const Mat<T>& x, std::span<const Index> rows, Vec<T>* energies, Mat<T>& scores) {
  const Index n = static_cast<Index>(rows.size());
  if (n == 0) return;
  if (n == x.rows()) {  // every row, in order: no gather
    bool identity = true;
    for (Index i = 0; i < n && identity; ++i) identity = rows[static_cast<std::size_t>(i)] == i;
    if (identity) {
      evaluate(x, energies, scores);
      return;
    }
  }
  gathered_x_.resize(n, x.cols());
  for (Index i = 0; i < n; ++i) gathered_x_.row(i) = x.row(rows[static_cast<std::size_t>(i)]);
  evaluate_raw(gathered_x_, energies ? &gathered_energies_ : nullptr, gathered_scores_);
  for (Index i = 0; i < n; ++i) {
    const Index r = rows[static_cast<std::size_t>(i)];
    scores.row(r) = gathered_scores_.row(i);
    if (energies) (*energies)(r) = gathered_energies_(i);
    if (!row_scale_.empty()) scale_row(row_scale_[static_cast<std::size_t>(r)], r, energies, scores);
  }
}

template <class T>
void evaluate_state(ChainState<T>& s, Target<T>& target, bool with_energy) {
  const Index n = s.chains();
  s.alive.assign(static_cast<std::size_t>(n), 1);
  s.score.resize(n, s.dim());
  if (with_energy) s.energy.resize(n);
  std::vector<Index> rows(static_cast<std::size_t>(n));
  for (Index c = 0; c < n; ++c) rows[static_cast<std::size_t>(c)] = c;
  target.evaluate_rows(s.x, rows, with_energy ? &s.energy : nullptr, s.score);
  for (Index c = 0; c < n; ++c)
    if ((with_energy && !std::isfinite(s.energy(c))) || !finite_row(s.score, c)) s.alive[static_cast<std::size_t>(c)] = 0;
}

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
Mat<T> initial_points(const Initialization<T>& init, Index chains, Index dim, const ChainStreams& streams) {
  using Kind = typename Initialization<T>::Kind;
  Mat<T> x(chains, dim);
  for (Index c = 0; c < chains; ++c) {
    if (init.kind == Kind::Points) {
      x.row(c) = init.points.row(init.points.rows() == 1 ? 0 : c);
      continue;
    }
    std::span<T> row(x.row(c).data(), static_cast<std::size_t>(dim));
    const std::uint64_t counter = static_cast<std::uint64_t>(DrawPurpose::Init);
    if (init.kind == Kind::Gaussian) {
      streams.rng(c).normal<T>(counter, row);
      x.row(c) *= init.scale;
    } else {
      streams.rng(c).uniform<T>(counter, row);
      x.row(c) = (x.row(c).array() * 2 - 1).matrix() * init.scale;
    }
  }
  return x;
}

// ----- the run loop -----

template <class T>
SampleResult<T> run_kernel(Kernel<T>& kernel, Target<T>& target, const ChainOptions<T>& o, Index steps,
                           Index keep_from, Index warmup) {
  const auto start = std::chrono::steady_clock::now();
  const Index n = o.chains, dim = target.dim();
  const ChainStreams streams{o.seed, o.first_chain};
  const Index draws = steps > keep_from ? (steps - keep_from) / o.thin : 0;
  const Index trace_len = o.record_trace ? steps / o.thin + 1 : 0;
  Mat<T> samples(n * draws, dim), trace(n * trace_len, dim);
  DrawStats<T> stats;
  std::vector<Index> failed_at(static_cast<std::size_t>(n), -1);

  ChainState<T> s;
  s.x = initial_points(o.init, n, dim, streams);
  target.set_update(0);
  kernel.init(s, target, streams, warmup);
  for (Index c = 0; c < n; ++c)
    if (!s.alive[static_cast<std::size_t>(c)]) failed_at[static_cast<std::size_t>(c)] = 0;
  std::int64_t warmup_evaluations = target.evaluations();
  double warmup_seconds = 0;
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  auto record = [&](Index k, const StepInfo<T>& info) {
    if (trace_len > 0 && k % o.thin == 0)
      for (Index c = 0; c < n; ++c) trace.row(c * trace_len + k / o.thin) = s.x.row(c);
    if (k <= keep_from || (k - keep_from) % o.thin != 0) return;
    const Index slot = (k - keep_from) / o.thin - 1;
    for (Index c = 0; c < n; ++c) {
      samples.row(c * draws + slot) = s.x.row(c);
      keep_field(info.acceptance, c, slot, draws, n, stats.acceptance);
      keep_field(info.divergent, c, slot, draws, n, stats.divergent);
      keep_field(info.tree_depth, c, slot, draws, n, stats.tree_depth);
      keep_field(info.gradients, c, slot, draws, n, stats.gradients);
      keep_field(info.hamiltonian, c, slot, draws, n, stats.hamiltonian);
    }
  };
  StepInfo<T> info;
  record(0, info);
  for (Index k = 1; k <= steps; ++k) {
    target.set_update(k);
    info.reset();
    kernel.step(s, target, streams, k, info);
    for (Index c = 0; c < n; ++c)
      if (!s.alive[static_cast<std::size_t>(c)] && failed_at[static_cast<std::size_t>(c)] < 0)
        failed_at[static_cast<std::size_t>(c)] = k;
    record(k, info);
    if (o.progress) o.progress(k, steps);
    if (k == keep_from) {
      warmup_evaluations = target.evaluations();
      warmup_seconds = elapsed();
    }
  }

  SampleResult<T> r;
  r.sampler = kernel.name();
  std::vector<Index> kept;
  for (Index c = 0; c < n; ++c) {
    if (failed_at[static_cast<std::size_t>(c)] >= 0) {
      r.failures.emplace_back(static_cast<Index>(streams.stream(c)), failed_at[static_cast<std::size_t>(c)]);
      continue;
    }
    kept.push_back(c);
    r.chains_kept.push_back(static_cast<Index>(streams.stream(c)));
  }
  const Index m = static_cast<Index>(kept.size());
  r.samples.resize(m * draws, dim);
  if (trace_len > 0) r.trace.resize(m * trace_len, dim);
  for (Index i = 0; i < m; ++i) {
    r.samples.middleRows(i * draws, draws) = samples.middleRows(kept[static_cast<std::size_t>(i)] * draws, draws);
    if (trace_len > 0)
      r.trace.middleRows(i * trace_len, trace_len) = trace.middleRows(kept[static_cast<std::size_t>(i)] * trace_len, trace_len);
  }
  r.stats.acceptance = kept_blocks(stats.acceptance, kept, draws);
  r.stats.divergent = kept_blocks(stats.divergent, kept, draws);
  r.stats.tree_depth = kept_blocks(stats.tree_depth, kept, draws);
  r.stats.gradients = kept_blocks(stats.gradients, kept, draws);
  r.stats.hamiltonian = kept_blocks(stats.hamiltonian, kept, draws);
  r.draws_per_chain = draws;
  r.trace_length = trace_len;
  r.final_state = std::move(s.x);
  r.step_size = kernel.step_size();
  r.gradient_evaluations = target.evaluations();
  r.warmup_gradient_evaluations = keep_from >= steps ? target.evaluations() : warmup_evaluations;
  kernel.report(r);
  r.seconds = elapsed();
  r.warmup_seconds = keep_from >= steps ? r.seconds : warmup_seconds;
  return r;
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
  if (!sampler.empty()) s << sampler << ": ";
  s << chains_kept.size() << " chains kept, " << draws_per_chain << " draws each (" << samples.rows() << " x "
    << samples.cols() << ")";
  if (!proposed.empty()) s << "; acceptance " << acceptance_rate();
  if (!stats.acceptance.empty() && proposed.empty()) {
    double sum = 0;
    for (T a : stats.acceptance) sum += double(a);
    s << "; mean acceptance statistic " << sum / double(stats.acceptance.size());
  }
  if (step_size.size() > 0) s << "; step size " << step_size.minCoeff() << ".." << step_size.maxCoeff();
  if (!stats.divergent.empty()) {
    Index d = 0;
    for (char v : stats.divergent) d += v;
    s << "; " << d << " divergent";
  }
  if (!stats.tree_depth.empty()) {
    double sum = 0;
    for (int v : stats.tree_depth) sum += v;
    s << "; mean tree depth " << sum / double(stats.tree_depth.size());
  }
  if (gradient_evaluations > 0)
    s << "; " << gradient_evaluations << " gradient evaluations (" << warmup_gradient_evaluations << " in warm-up)";
  for (const std::string& note : notes) s << "; " << note;
  s << "; " << failures.size() << " chains stopped on non-finite values";
  if (!failures.empty()) {
    Index first = failures.front().second;
    for (const auto& f : failures) first = std::min(first, f.second);
    s << " (first at step " << first << ")";
  }
  s << "; " << seconds << " s";
  return s.str();
}

#define EBM_INSTANTIATE(T)                                                                                     \
  template struct StepInfo<T>;                                                                                \
  template class Target<T>;                                                                                   \
  template void evaluate_state<T>(ChainState<T>&, Target<T>&, bool);                                          \
  template struct Initialization<T>;                                                                          \
  template struct ChainOptions<T>;                                                                            \
  template struct SampleResult<T>;                                                                            \
  template Mat<T> initial_points<T>(const Initialization<T>&, Index, Index, const ChainStreams&);             \
  template SampleResult<T> run_kernel<T>(Kernel<T>&, Target<T>&, const ChainOptions<T>&, Index, Index, Index);
EBM_INSTANTIATE(float)
EBM_INSTANTIATE(double)
#undef EBM_INSTANTIATE

}  // namespace ebm
