#include <ebm/core/bytes.hpp>
#include <ebm/core/check.hpp>
#include <ebm/core/communicator.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/density/log_z.hpp>
#include <ebm/sample/langevin.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numbers>
#include <sstream>
#include <span>

namespace ebm {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kShell = 0.05;             // boundary shell: outer 5% of each side
constexpr double kBoundaryWarning = 1e-6;   // boundary_fraction above which summary() warns
constexpr std::uint64_t kInitCounter = std::uint64_t(1) << 63;

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// log sum_i exp(v_i), one value at a time, rescaling when the maximum grows.
class LogSumExp {
 public:
  void add(double v) {
    if (v == -kInf) return;
    if (v > max_) {
      sum_ = sum_ * std::exp(max_ - v) + 1;
      max_ = v;
    } else {
      sum_ += std::exp(v - max_);
    }
  }
  double value() const { return sum_ > 0 ? max_ + std::log(sum_) : -kInf; }

 private:
  double max_ = -kInf, sum_ = 0;
};

template <class T>
void require_energies(const Vec<T>& e, Index rows, const char* where) {
  require(e.size() == rows, where, [&] {
    return "the energy returned " + std::to_string(e.size()) + " values for " + std::to_string(rows) + " points";
  });
}

}  // namespace

// ----- options and results -----

void GridOptions::validate(Index dim) const {
  const char* where = "ebm::GridOptions";
  require(dim >= 1 && dim <= 3, where,
          [&] { return "the grid rule needs dim 1, 2 or 3, got dim " + std::to_string(dim) + " (use AIS)"; });
  require_box(lower, upper, dim, where);
  require(points_per_dim == 0 || (points_per_dim >= 5 && points_per_dim <= 1000000), where, [&] {
    return "points_per_dim must be 0 (automatic) or in 5..1000000, got " + std::to_string(points_per_dim);
  });
  const double total = std::pow(double(resolved_points(dim)), double(dim));
  require(total <= 1e9, where, [&] { return "the grid would have " + num(total) + " points, more than 1e9"; });
  require(batch_rows >= 1, where, [&] { return "batch_rows must be >= 1, got " + std::to_string(batch_rows); });
}

int GridOptions::resolved_points(Index dim) const {
  if (points_per_dim == 0) return dim == 1 ? 4001 : dim == 2 ? 401 : 81;
  return points_per_dim % 2 == 0 ? points_per_dim + 1 : points_per_dim;
}

void AisOptions::validate(Index dim) const {
  const char* where = "ebm::AisOptions";
  require(dim >= 1, where, [&] { return "the energy's dim must be >= 1, got " + std::to_string(dim); });
  require(chains >= 2, where, [&] { return "chains must be >= 2, got " + std::to_string(chains); });
  require(temperatures >= 1, where, [&] { return "temperatures must be >= 1, got " + std::to_string(temperatures); });
  require(mala_steps >= 1, where, [&] { return "mala_steps must be >= 1, got " + std::to_string(mala_steps); });
  require(std::isfinite(step_size) && step_size > 0, where, [&] { return "step_size must be positive, got " + num(step_size); });
  require(target_acceptance > 0 && target_acceptance < 1, where,
          [&] { return "target_acceptance must be in (0, 1), got " + num(target_acceptance); });
  require(std::isfinite(base_scale) && base_scale > 0, where,
          [&] { return "base_scale must be positive, got " + num(base_scale); });
  require(base_mean.empty() || static_cast<Index>(base_mean.size()) == dim, where, [&] {
    return "base_mean must be empty or have dim = " + std::to_string(dim) + " values, got " +
           std::to_string(base_mean.size());
  });
  for (std::size_t j = 0; j < base_mean.size(); ++j)
    require(std::isfinite(base_mean[j]), where, [&] { return "base_mean[" + std::to_string(j) + "] is not finite"; });
}

std::string LogZResult::summary() const {
  std::ostringstream s;
  s << "log Z = " << log_z << " +- " << error_estimate << " (" << method;
  if (method == "grid") {
    s << ", error = |full - half grid|; boundary mass fraction " << boundary_fraction;
  } else {
    s << ", standard error; ESS " << ess << ", final step " << step_size << ", acceptance " << acceptance_rate;
  }
  s << "; " << evaluations << " energy evaluations, " << seconds << " s)";
  if (method == "grid" && boundary_fraction > kBoundaryWarning)
    s << "; warning: " << boundary_fraction << " of the mass lies near the box's faces, widen the box";
  return s.str();
}

std::string NllResult::summary() const {
  std::ostringstream s;
  s << "NLL = " << nll << " +- " << standard_error << " (data) +- " << log_z_error << " (log Z) nats over " << points
    << " points";
  return s.str();
}

// ----- grid -----

template <class T>
LogZResult log_normalizer_grid(Index dim, const EnergyFunction<T>& energy, const GridOptions& o) {
  const char* where = "ebm::log_normalizer_grid";
  const auto start = std::chrono::steady_clock::now();
  o.validate(dim);
  require(static_cast<bool>(energy), where, "energy is an empty function");
  const Index p = o.resolved_points(dim);
  Index total = 1;
  for (Index j = 0; j < dim; ++j) total *= p;
  std::vector<double> h(static_cast<std::size_t>(dim));
  for (Index j = 0; j < dim; ++j) h[j] = (o.upper[j] - o.lower[j]) / double(p - 1);
  const double shell_lo = kShell * double(p - 1), shell_hi = (1 - kShell) * double(p - 1);

  LogSumExp full, half, shell;
  Mat<T> pts;
  Vec<T> e;
  Index idx[3];
  for (Index b = 0; b < total; b += o.batch_rows) {
    const Index rows = std::min(o.batch_rows, total - b);
    pts.resize(rows, dim);
    for (Index r = 0; r < rows; ++r) {
      Index lin = b + r;
      for (Index j = dim - 1; j >= 0; --j) {  // dimension 0 varies slowest
        idx[j] = lin % p;
        lin /= p;
        pts(r, j) = static_cast<T>(o.lower[j] + double(idx[j]) * h[j]);
      }
    }
    energy(pts, e, nullptr);
    require_energies(e, rows, where);
    for (Index r = 0; r < rows; ++r) {
      const double v = -double(e(r));
      if (std::isnan(v) || v == kInf) {
        std::ostringstream msg;
        msg << where << ": the energy is " << e(r) << " at grid point (" << pts.row(r) << ")";
        throw NumericalError(msg.str());
      }
      Index lin = b + r;
      double log_w = 0, log_w_half = 0;
      bool on_half = true, in_shell = false;
      for (Index j = dim - 1; j >= 0; --j) {
        const Index i = lin % p;
        lin /= p;
        const bool end = i == 0 || i == p - 1;
        log_w += std::log(end ? 0.5 * h[j] : h[j]);
        log_w_half += std::log(end ? h[j] : 2 * h[j]);
        on_half = on_half && i % 2 == 0;
        in_shell = in_shell || double(i) < shell_lo || double(i) > shell_hi;
      }
      full.add(v + log_w);
      if (on_half) half.add(v + log_w_half);
      if (in_shell) shell.add(v + log_w);
    }
  }
  LogZResult r;
  r.method = "grid";
  r.log_z = full.value();
  if (!std::isfinite(r.log_z))
    throw NumericalError(std::string(where) + ": exp(-E) is 0 at every grid point (all energies +inf or overflow)");
  r.error_estimate = std::fabs(r.log_z - half.value());
  r.boundary_fraction = std::exp(shell.value() - r.log_z);
  r.ess = r.step_size = r.acceptance_rate = kNaN;
  r.evaluations = total;
  r.seconds = seconds_since(start);
  return r;
}

// ----- AIS -----

namespace {

std::vector<double> ais_betas(const AisOptions& o) {
  const int k_max = o.temperatures;
  std::vector<double> b(static_cast<std::size_t>(k_max) + 1, 0.0);
  const auto sig = [](double z) { return 1 / (1 + std::exp(-z)); };
  const double delta = 4;
  for (int k = 1; k <= k_max; ++k) {
    double v = 1;
    switch (o.schedule) {
      case AisSchedule::Linear: v = double(k) / k_max; break;
      case AisSchedule::Geometric: v = k_max == 1 ? 1.0 : std::pow(10.0, -4.0 * double(k_max - k) / (k_max - 1)); break;
      case AisSchedule::Sigmoid:
        v = (sig(delta * (2.0 * k / k_max - 1)) - sig(-delta)) / (sig(delta) - sig(-delta));
        break;
    }
    b[static_cast<std::size_t>(k)] = v;
  }
  b.back() = 1;  // exactly, whatever the rounding of the formulas
  return b;
}

}  // namespace

template <class T>
LogZResult log_normalizer_ais(Index dim, const EnergyFunction<T>& energy, const AisOptions& o) {
  const char* where = "ebm::log_normalizer_ais";
  const auto start = std::chrono::steady_clock::now();
  o.validate(dim);
  require(static_cast<bool>(energy), where, "energy is an empty function");
  const Communicator& comm = o.communicator ? *o.communicator : single_process();
  require(o.chains >= comm.size(), where, [&] {
    return "chains (" + std::to_string(o.chains) + ") must be >= the number of processes (" + std::to_string(comm.size()) + ")";
  });
  // This process's chains [first, first + n) of o.chains; the processes meet once per
  // temperature to pool the acceptance counts that tune the step, and at the end for the weights.
  const Share mine = share_of(o.chains, comm.rank(), comm.size());
  const Index n = mine.last - mine.first, d = dim;
  const std::vector<double> betas = ais_betas(o);
  std::vector<double> mu(static_cast<std::size_t>(d), 0.0);
  if (!o.base_mean.empty()) mu = o.base_mean;
  const double var0 = o.base_scale * o.base_scale;
  const double log_z0 = 0.5 * double(d) * std::log(2 * std::numbers::pi * var0);

  auto evaluate = [&](const Mat<T>& pts, Vec<T>& e, Mat<T>& s) {
    energy(pts, e, &s);
    require_energies(e, pts.rows(), where);
    require(s.rows() == pts.rows() && s.cols() == d, where, [&] {
      return "the energy returned scores of shape " + shape_str(s) + " for points of shape " + shape_str(pts);
    });
  };
  // E0 at a row (double).
  auto base_energy = [&](const T* x) {
    double q = 0;
    for (Index j = 0; j < d; ++j) q += (double(x[j]) - mu[j]) * (double(x[j]) - mu[j]);
    return 0.5 * q / var0;
  };
  // E_b and s_b at a row from E and s there, computed in double.
  auto temper = [&](double beta, const T* x, T e, const T* s, T& e_b, T* s_b) {
    e_b = static_cast<T>((1 - beta) * base_energy(x) + beta * double(e));
    for (Index j = 0; j < d; ++j) s_b[j] = static_cast<T>((1 - beta) * (mu[j] - double(x[j])) / var0 + beta * double(s[j]));
  };

  // MALA (sample/langevin.hpp) on the tempered target E_b = (1 - b) E0 + b E, b = betas[k]. The
  // weights need E itself: the target keeps the untempered values of the last batch it
  // evaluated (MALA evaluates every chain at once), and `raw_*` follow the chains' states.
  double b = betas[1];
  Mat<T> last_scores;
  Vec<T> last_energies;
  ebm::Target<T> target(d, [&](Index, const Mat<T>& pts, Vec<T>* e, Mat<T>& s) {
    evaluate(pts, last_energies, last_scores);
    e->resize(pts.rows());
    s.resize(pts.rows(), d);
    for (Index c = 0; c < pts.rows(); ++c) temper(b, pts.row(c).data(), last_energies(c), last_scores.row(c).data(), (*e)(c), s.row(c).data());
  });
  typename MalaKernel<T>::Settings settings;
  settings.step_size = static_cast<T>(o.step_size);
  settings.adapt = false;
  MalaKernel<T> mala(settings);
  ChainState<T> state;
  state.x.resize(n, d);
  for (Index c = 0; c < n; ++c) {
    CounterRng(o.seed, static_cast<std::uint64_t>(mine.first + c)).normal<T>(kInitCounter, std::span<T>(state.x.row(c).data(), d));
    for (Index j = 0; j < d; ++j) state.x(c, j) = static_cast<T>(mu[j] + o.base_scale * double(state.x(c, j)));
  }
  const ChainStreams streams{o.seed, static_cast<std::uint64_t>(mine.first)};
  // A failure on one process reaches the others at the next meeting.
  std::exception_ptr failure;
  try {
    mala.init(state, target, streams, 0);
  } catch (...) {
    failure = std::current_exception();
  }
  agree(comm, failure);
  Vec<T> raw_energy = last_energies;
  Mat<T> raw_score = last_scores;
  Index evaluations = o.chains;
  std::vector<double> log_w(static_cast<std::size_t>(n), 0.0);
  std::vector<char> alive(static_cast<std::size_t>(n), 1);
  std::int64_t total_accepted = 0, total_proposed = 0;
  double h = o.step_size;

  // A chain whose energy is +inf has weight 0 from then on; NaN or -inf is an error.
  auto check_energy = [&](Index c, T value, const T* point) {
    if (std::isnan(value) || value == -std::numeric_limits<T>::infinity()) {
      std::ostringstream msg;
      msg << where << ": the energy is " << value << " at chain " << c << ", point (";
      for (Index j = 0; j < d; ++j) msg << (j ? ", " : "") << point[j];
      msg << ")";
      throw NumericalError(msg.str());
    }
  };

  StepInfo<T> info;
  for (int k = 1; k <= o.temperatures; ++k) {
    std::int64_t acc = 0, live = 0;
    bool last = false;
    try {
      const double db = betas[k] - betas[k - 1];
      for (Index c = 0; c < n; ++c) {
        if (!alive[c]) continue;
        check_energy(mine.first + c, raw_energy(c), state.x.row(c).data());
        // A non-finite score leaves MALA's chain where it is (it is stopped): it keeps its weight.
        if (raw_energy(c) == std::numeric_limits<T>::infinity()) {
          alive[c] = 0;
          log_w[c] = -kInf;
          continue;
        }
        log_w[c] -= db * (double(raw_energy(c)) - base_energy(state.x.row(c).data()));
      }
      if (o.progress) o.progress(k, o.temperatures);
      last = k == o.temperatures;  // transitions at b = 1 would not change the weights
      if (!last) {
        b = betas[k];
        for (Index c = 0; c < n; ++c)
          temper(b, state.x.row(c).data(), raw_energy(c), raw_score.row(c).data(), state.energy(c), state.score.row(c).data());
        mala.set_step_size(static_cast<T>(h));
        for (int step = 0; step < o.mala_steps; ++step) {
          // Update numbers as before the kernels existed: noise and accept counters k mala_steps + step.
          const Index update = Index(k) * o.mala_steps + step + 1;
          info.reset();
          mala.step(state, target, streams, update, info);
          for (Index c = 0; c < n; ++c) {
            if (!info.accepted[static_cast<std::size_t>(c)]) continue;
            raw_energy(c) = last_energies(c);
            raw_score.row(c) = last_scores.row(c);
            acc += alive[c];
          }
        }
        for (Index c = 0; c < n; ++c) live += alive[c];
      }
    } catch (...) {
      failure = std::current_exception();
    }
    if (comm.size() > 1) {
      // Integer counts, summed in rank order: the step is tuned alike on every process.
      ByteWriter counts;
      counts.value(acc);
      counts.value(live);
      acc = live = 0;
      const Gathered all = gather_agreed(comm, counts.take(), failure);
      for (int rank = 0; rank < all.size(); ++rank) {
        ByteReader in(all[rank]);
        acc += in.value<std::int64_t>();
        live += in.value<std::int64_t>();
      }
    } else if (failure) {
      std::rethrow_exception(failure);
    }
    if (last) break;
    evaluations += o.chains * o.mala_steps;
    // Integer counts: the adaptation sees the same numbers for any thread count.
    total_accepted += acc;
    total_proposed += live * o.mala_steps;
    if (o.adapt && live > 0) {
      const double rate = double(acc) / double(live * o.mala_steps);
      h *= std::exp(rate - o.target_acceptance);
    }
  }
  if (comm.size() > 1) {  // every chain's weight, in chain order
    ByteWriter mine_w;
    mine_w.values(log_w);
    log_w.clear();
    const Gathered all = gather_agreed(comm, mine_w.take(), nullptr);
    for (int rank = 0; rank < all.size(); ++rank) {
      ByteReader in(all[rank]);
      const std::vector<double> more = in.values<double>();
      log_w.insert(log_w.end(), more.begin(), more.end());
    }
  }

  double max_lw = -kInf;
  for (double v : log_w) max_lw = std::max(max_lw, v);
  if (!std::isfinite(max_lw))
    throw NumericalError(std::string(where) + ": every chain has weight 0 (energy +inf along its path)");
  double sum = 0, sum2 = 0;
  for (double v : log_w) {
    const double w = std::exp(v - max_lw);
    sum += w;
    sum2 += w * w;
  }
  const double mean = sum / double(o.chains);
  double var = 0;
  for (double v : log_w) {
    const double dw = std::exp(v - max_lw) - mean;
    var += dw * dw;
  }
  var /= double(o.chains - 1);
  LogZResult r;
  r.method = "ais";
  r.log_z = log_z0 + max_lw + std::log(mean);
  r.error_estimate = std::sqrt(var / double(o.chains)) / mean;
  r.ess = sum * sum / sum2;
  r.boundary_fraction = kNaN;
  r.step_size = h;
  r.acceptance_rate = total_proposed > 0 ? double(total_accepted) / double(total_proposed) : kNaN;
  r.evaluations = evaluations;
  r.seconds = seconds_since(start);
  return r;
}

// ----- NLL -----

template <class T>
NllResult negative_log_likelihood(const std::type_identity_t<EnergyFunction<T>>& energy, const Mat<T>& data,
                                  double log_z, double log_z_error) {
  const char* where = "ebm::negative_log_likelihood";
  require(static_cast<bool>(energy), where, "energy is an empty function");
  require(data.rows() >= 2 && data.cols() >= 1, where,
          [&] { return "data has shape " + shape_str(data) + ", needs at least 2 rows and 1 column"; });
  require_finite(data, where, "data");
  require(std::isfinite(log_z), where, [&] { return "log_z must be finite, got " + num(log_z); });
  require(std::isfinite(log_z_error) && log_z_error >= 0, where,
          [&] { return "log_z_error must be finite and >= 0, got " + num(log_z_error); });
  Vec<T> e;
  energy(data, e, nullptr);
  require_energies(e, data.rows(), where);
  const Index n = data.rows();
  double sum = 0;
  for (Index i = 0; i < n; ++i) {
    if (!std::isfinite(double(e(i)))) {
      std::ostringstream msg;
      msg << where << ": the energy is " << e(i) << " at data row " << i;
      throw NumericalError(msg.str());
    }
    sum += double(e(i));
  }
  const double mean = sum / double(n);
  double ss = 0;
  for (Index i = 0; i < n; ++i) ss += (double(e(i)) - mean) * (double(e(i)) - mean);
  NllResult r;
  r.nll = mean + log_z;
  r.standard_error = std::sqrt(ss / double(n - 1) / double(n));
  r.log_z_error = log_z_error;
  r.points = n;
  return r;
}

#define EBM_INSTANTIATE(T)                                                                                     \
  template LogZResult log_normalizer_grid<T>(Index, const EnergyFunction<T>&, const GridOptions&);             \
  template LogZResult log_normalizer_ais<T>(Index, const EnergyFunction<T>&, const AisOptions&);               \
  template NllResult negative_log_likelihood<T>(const EnergyFunction<T>&, const Mat<T>&, double, double);
EBM_INSTANTIATE(float)
EBM_INSTANTIATE(double)
#undef EBM_INSTANTIATE

}  // namespace ebm
