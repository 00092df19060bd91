#include <ebm/core/check.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/diag/mcmc.hpp>

#include <unsupported/Eigen/FFT>

#include <algorithm>
#include <cmath>
#include <complex>
#include <iomanip>
#include <limits>
#include <numeric>
#include <sstream>

namespace ebm {
namespace {

// Internally one chain per column, column-major, so that a chain is contiguous.
using Chains = Eigen::MatrixXd;

double to_double(Index n) { return static_cast<double>(n); }

// ----- argument checks -----

void check_draws(const Mat<double>& draws, std::string_view where) {
  require(draws.cols() >= 1, where,
          [&] { return "draws (" + shape_str(draws) + ", draw x chain) has no chains, need at least 1"; });
  require(draws.rows() >= kMinDrawsPerChain, where, [&] {
    return "draws (" + shape_str(draws) + ", draw x chain) has " + std::to_string(draws.rows()) +
           " draws per chain, need at least " + std::to_string(kMinDrawsPerChain);
  });
  require_finite(draws, where, "draws");
}

void check_chain_shapes(const std::vector<Mat<double>>& chains, std::string_view where) {
  require(!chains.empty(), where, "chains is empty, need at least 1 chain");
  const Mat<double>& first = chains.front();
  require(first.cols() >= 1, where, [&] { return "chains[0] (" + shape_str(first) + ") has no dimensions"; });
  for (std::size_t c = 1; c < chains.size(); ++c) {
    require(chains[c].rows() == first.rows() && chains[c].cols() == first.cols(), where, [&] {
      return "chains[" + std::to_string(c) + "] has shape " + shape_str(chains[c]) + ", expected " + shape_str(first) +
             " like chains[0] (draws x dims)";
    });
  }
}

// ----- building blocks -----

bool all_equal(const Eigen::Ref<const Chains>& x) { return (x.array() == x(0, 0)).all(); }

// The mean, exact for a constant chain: rounding would otherwise leave a variance of 1e-34
// where the definition (and R-hat = infinity for chains stuck at different values) needs 0.
double chain_mean(const Eigen::Ref<const Eigen::VectorXd>& x) { return all_equal(x) ? x(0) : x.mean(); }

// Unbiased sample variance.
double sample_variance(const Eigen::Ref<const Eigen::VectorXd>& x) {
  const double m = chain_mean(x);
  return (x.array() - m).square().sum() / (to_double(x.size()) - 1);
}

// Biased autocovariance (1/n) sum_t (x_t - m)(x_{t+k} - m), k = 0..n-1: the FFT of the
// zero-padded series (length >= 2n, so no circular wrap-around), squared modulus, inverse FFT.
Eigen::VectorXd autocovariance(const Eigen::Ref<const Eigen::VectorXd>& x) {
  const Index n = x.size();
  Index len = 1;
  while (len < 2 * n) len *= 2;
  std::vector<double> padded(static_cast<std::size_t>(len), 0.0);
  const double m = chain_mean(x);
  for (Index t = 0; t < n; ++t) padded[static_cast<std::size_t>(t)] = x(t) - m;
  Eigen::FFT<double> fft;
  std::vector<std::complex<double>> freq;
  fft.fwd(freq, padded);
  for (auto& f : freq) f = std::norm(f);
  std::vector<double> back;
  fft.inv(back, freq);  // scaled by 1 / len
  Eigen::VectorXd acov(n);
  for (Index t = 0; t < n; ++t) acov(t) = back[static_cast<std::size_t>(t)] / to_double(n);
  return acov;
}

// Type-7 quantile (R's default: linear interpolation between order statistics) of all draws.
double quantile(const Mat<double>& draws, double p) {
  std::vector<double> v(draws.data(), draws.data() + draws.size());
  std::sort(v.begin(), v.end());
  const double h = (to_double(draws.size()) - 1) * p;
  const auto lo = static_cast<std::size_t>(std::floor(h));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (h - std::floor(h)) * (v[hi] - v[lo]);
}

// Standard normal quantile: Acklam's rational approximation (relative error 1.2e-9), then one
// Halley step on the exact CDF, which brings it to double precision. Symmetric by construction,
// so ranks r and n + 1 - r map to opposite z.
double normal_quantile(double p) {
  if (p > 0.5) return -normal_quantile(1 - p);
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                                 1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                 6.680131188771972e+01, -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                 -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                 3.754408661907416e+00};
  double z;
  if (p < 0.02425) {
    const double q = std::sqrt(-2 * std::log(p));
    z = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else {
    const double q = p - 0.5, r = q * q;
    z = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  const double e = 0.5 * std::erfc(-z / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2 * M_PI) * std::exp(0.5 * z * z);
  return z - u / (1 + 0.5 * z * u);
}

// Rank normalisation over all entries pooled: z = Phi^-1((r - 3/8) / (n + 1/4)), average ranks
// for ties (Blom's offsets, as in the paper).
Chains z_scale(const Chains& x) {
  const Index n = x.size();
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index(0));
  const double* v = x.data();
  std::sort(order.begin(), order.end(), [v](Index i, Index j) { return v[i] < v[j]; });
  Chains z(x.rows(), x.cols());
  for (Index i = 0; i < n;) {
    Index j = i + 1;
    while (j < n && v[order[static_cast<std::size_t>(j)]] == v[order[static_cast<std::size_t>(i)]]) ++j;
    const double rank = 0.5 * to_double(i + 1 + j);  // average of ranks i+1..j
    const double zr = normal_quantile((rank - 0.375) / (to_double(n) + 0.25));
    for (Index k = i; k < j; ++k) z.data()[order[static_cast<std::size_t>(k)]] = zr;
    i = j;
  }
  return z;
}

// Each chain's first and last floor(S/2) draws as separate chains (S odd: the middle one is
// dropped), so that a drift within a chain shows up as disagreement between chains.
Chains split_chains(const Mat<double>& draws) {
  const Index half = draws.rows() / 2, c = draws.cols();
  Chains out(half, 2 * c);
  for (Index j = 0; j < c; ++j) {
    out.col(j) = draws.col(j).head(half);
    out.col(c + j) = draws.col(j).tail(half);
  }
  return out;
}

// |x - median| over all draws, before splitting (as posterior's fold_draws).
Mat<double> folded(const Mat<double>& draws) { return (draws.array() - quantile(draws, 0.5)).abs(); }

// ESS of already split chains (n x m): Stan's combined autocorrelation
// rho_t = 1 - (W - mean_j acov_j(t)) / var_plus, Geyer's initial positive sequence over pairs
// (rho_2k + rho_2k+1), made monotone, and tau = -1 + 2 sum_{t<T} rho_t + rho_T.
double ess_split(const Chains& x) {
  const Index n = x.rows(), m = x.cols();
  const double total = to_double(n * m);
  if (all_equal(x)) return total;
  Chains acov(n, m);
  Eigen::VectorXd means(m);
  for (Index j = 0; j < m; ++j) {
    acov.col(j) = autocovariance(x.col(j));
    means(j) = chain_mean(x.col(j));
  }
  const double nd = to_double(n);
  const double mean_var = acov.row(0).mean() * nd / (nd - 1);  // W
  double var_plus = mean_var * (nd - 1) / nd;
  if (m > 1) var_plus += sample_variance(means);  // + B / n
  const auto rho_at = [&](Index t) { return 1 - (mean_var - acov.row(t).mean()) / var_plus; };

  Eigen::VectorXd rho = Eigen::VectorXd::Zero(n);
  double even = 1, odd = rho_at(1);
  rho(0) = even;
  rho(1) = odd;
  Index t = 0;
  while (t < n - 5 && even + odd > 0) {
    t += 2;
    even = rho_at(t);
    odd = rho_at(t + 1);
    if (even + odd >= 0) {
      rho(t) = even;
      rho(t + 1) = odd;
    }
  }
  const Index max_t = t;
  if (even > 0) rho(max_t) = even;  // the half pair lowers the variance for antithetic chains
  for (Index u = 2; u + 2 <= max_t; u += 2) {
    if (rho(u) + rho(u + 1) > rho(u - 2) + rho(u - 1)) rho(u) = rho(u + 1) = 0.5 * (rho(u - 2) + rho(u - 1));
  }
  // Fewer than 6 draws per split chain leave no pair beyond the first (max_t = 0): R's
  // rho[1:0] then sums rho_0, and Stan's indexing gives the same tau = 2, i.e. ESS = n m / 2.
  const double head_sum = max_t == 0 ? rho(0) : rho.head(max_t).sum();
  const double tau = -1 + 2 * head_sum + rho(max_t);
  // Stan's cap: an antithetic estimate beyond total log10(total) is noise, and tau <= 0 is meaningless.
  return total / std::max(tau, 1 / std::log10(total));
}

// Split R-hat of already split chains (n x m): sqrt(((n - 1)/n W + B/n) / W).
double rhat_split(const Chains& x) {
  if (all_equal(x)) return 1;
  const Index n = x.rows(), m = x.cols();
  Eigen::VectorXd means(m), vars(m);
  for (Index j = 0; j < m; ++j) {
    means(j) = chain_mean(x.col(j));
    vars(j) = sample_variance(x.col(j));
  }
  const double nd = to_double(n);
  const double between = nd * sample_variance(means), within = vars.mean();
  if (within == 0) return std::numeric_limits<double>::infinity();
  return std::sqrt((between / within + nd - 1) / nd);
}

double ess_tail_impl(const Mat<double>& draws) {
  double ess = std::numeric_limits<double>::infinity();
  for (double p : {0.05, 0.95}) {
    const double q = quantile(draws, p);
    const Mat<double> below = (draws.array() <= q).cast<double>();
    ess = std::min(ess, ess_split(split_chains(below)));
  }
  return ess;
}

// Standard deviation of all draws pooled.
double sd_all(const Mat<double>& draws) {
  const Eigen::VectorXd all = Chains(draws).reshaped();
  return std::sqrt(sample_variance(all));
}

double mcse_mean_impl(const Mat<double>& draws, const Chains& split) {
  return sd_all(draws) / std::sqrt(ess_split(split));
}

double rhat_folded_impl(const Mat<double>& draws) { return rhat_split(z_scale(split_chains(folded(draws)))); }

// max(bulk, folded), given the rank-normalised split chains z.
double rhat_max(const Mat<double>& draws, const Chains& z) { return std::max(rhat_split(z), rhat_folded_impl(draws)); }

struct Diagnostics {
  double mean, sd, mcse_mean, ess_bulk, ess_tail, rhat;
};

// Everything summarize reports for one quantity, sharing the split and rank-normalised chains.
Diagnostics diagnose(const Mat<double>& draws) {
  const Chains split = split_chains(draws);
  const Chains z = z_scale(split);
  Diagnostics out;
  out.mean = draws.mean();
  out.sd = sd_all(draws);
  out.mcse_mean = mcse_mean_impl(draws, split);
  out.ess_bulk = ess_split(z);
  out.ess_tail = ess_tail_impl(draws);
  out.rhat = rhat_max(draws, z);
  return out;
}

template <class Impl>
double checked(const Mat<double>& draws, std::string_view where, Impl impl) {
  check_draws(draws, where);
  return impl(draws);
}

}  // namespace

Vec<double> autocorrelation(const Eigen::Ref<const Vec<double>>& chain, Index max_lag) {
  constexpr std::string_view where = "autocorrelation";
  const Index s = chain.size();
  require(s >= kMinDrawsPerChain, where, [&] {
    return "chain has " + std::to_string(s) + " draws, need at least " + std::to_string(kMinDrawsPerChain);
  });
  require(max_lag >= -1 && max_lag < s, where,
          [&] { return "max_lag is " + std::to_string(max_lag) + ", expected -1 or 0.." + std::to_string(s - 1); });
  require_finite(chain.data(), s, 1, where, "chain");
  const Index lags = max_lag < 0 ? s : max_lag + 1;
  if (all_equal(chain)) {
    Vec<double> rho = Vec<double>::Zero(lags);
    rho(0) = 1;
    return rho;
  }
  const Eigen::VectorXd acov = autocovariance(chain);
  return acov.head(lags) / acov(0);
}

double ess_basic(const Mat<double>& draws) {
  return checked(draws, "ess_basic", [](const Mat<double>& d) { return ess_split(split_chains(d)); });
}

double ess_bulk(const Mat<double>& draws) {
  return checked(draws, "ess_bulk", [](const Mat<double>& d) { return ess_split(z_scale(split_chains(d))); });
}

double ess_tail(const Mat<double>& draws) { return checked(draws, "ess_tail", ess_tail_impl); }

double rhat_bulk(const Mat<double>& draws) {
  return checked(draws, "rhat_bulk", [](const Mat<double>& d) { return rhat_split(z_scale(split_chains(d))); });
}

double rhat_folded(const Mat<double>& draws) { return checked(draws, "rhat_folded", rhat_folded_impl); }

double rhat(const Mat<double>& draws) {
  return checked(draws, "rhat", [](const Mat<double>& d) { return rhat_max(d, z_scale(split_chains(d))); });
}

double mcse_mean(const Mat<double>& draws) {
  return checked(draws, "mcse_mean", [](const Mat<double>& d) { return mcse_mean_impl(d, split_chains(d)); });
}

Mat<double> dimension_draws(const std::vector<Mat<double>>& chains, Index d) {
  constexpr std::string_view where = "dimension_draws";
  check_chain_shapes(chains, where);
  const Index dims = chains.front().cols();
  require(d >= 0 && d < dims, where,
          [&] { return "d is " + std::to_string(d) + ", expected 0.." + std::to_string(dims - 1); });
  Mat<double> out(chains.front().rows(), static_cast<Index>(chains.size()));
  for (std::size_t c = 0; c < chains.size(); ++c) out.col(static_cast<Index>(c)) = chains[c].col(d);
  return out;
}

std::vector<Mat<double>> unstack_chains(const Mat<double>& stacked, Index draws_per_chain) {
  constexpr std::string_view where = "unstack_chains";
  require(draws_per_chain >= 1, where,
          [&] { return "draws_per_chain is " + std::to_string(draws_per_chain) + ", expected >= 1"; });
  require(stacked.rows() >= 1 && stacked.rows() % draws_per_chain == 0, where, [&] {
    return "stacked has shape " + shape_str(stacked) +
           ", whose row count is not a positive multiple of draws_per_chain " + std::to_string(draws_per_chain);
  });
  std::vector<Mat<double>> chains;
  for (Index start = 0; start < stacked.rows(); start += draws_per_chain) {
    chains.emplace_back(stacked.middleRows(start, draws_per_chain));
  }
  return chains;
}

AcceptanceSummary acceptance_summary(std::span<const std::int64_t> accepted, std::span<const std::int64_t> proposed) {
  constexpr std::string_view where = "acceptance_summary";
  require(!proposed.empty() && accepted.size() == proposed.size(), where, [&] {
    return "accepted has " + std::to_string(accepted.size()) + " chains and proposed " +
           std::to_string(proposed.size()) + ", expected the same number >= 1";
  });
  AcceptanceSummary out;
  out.per_chain.resize(static_cast<Index>(proposed.size()));
  std::int64_t sum_a = 0, sum_p = 0;
  for (std::size_t c = 0; c < proposed.size(); ++c) {
    require(proposed[c] > 0 && accepted[c] >= 0 && accepted[c] <= proposed[c], where, [&] {
      return "chain " + std::to_string(c) + " has accepted " + std::to_string(accepted[c]) + " of proposed " +
             std::to_string(proposed[c]) + ", expected 0 <= accepted <= proposed and proposed > 0";
    });
    out.per_chain(static_cast<Index>(c)) = static_cast<double>(accepted[c]) / static_cast<double>(proposed[c]);
    sum_a += accepted[c];
    sum_p += proposed[c];
  }
  out.overall = static_cast<double>(sum_a) / static_cast<double>(sum_p);
  out.min = out.per_chain.minCoeff();
  out.max = out.per_chain.maxCoeff();
  return out;
}

Vec<double> mode_occupancy(const Mat<double>& draws, const Mat<double>& centres) {
  constexpr std::string_view where = "mode_occupancy";
  require(draws.rows() >= 1 && draws.cols() >= 1, where,
          [&] { return "draws has shape " + shape_str(draws) + ", expected N x D with N, D >= 1"; });
  require(centres.rows() >= 1, where, [&] { return "centres has shape " + shape_str(centres) + ", need >= 1 row"; });
  require_shape(centres, -1, draws.cols(), where, "centres");
  require_finite(draws, where, "draws");
  require_finite(centres, where, "centres");
  Vec<double> counts = Vec<double>::Zero(centres.rows());
  for (Index i = 0; i < draws.rows(); ++i) {
    Index best = 0;
    double best_d2 = std::numeric_limits<double>::infinity();
    for (Index k = 0; k < centres.rows(); ++k) {
      const double d2 = (centres.row(k) - draws.row(i)).squaredNorm();
      if (d2 < best_d2) {  // strict: ties keep the lower index
        best_d2 = d2;
        best = k;
      }
    }
    counts(best) += 1;
  }
  return counts / to_double(draws.rows());
}

void McmcSummaryOptions::validate(Index chains, Index dim) const {
  constexpr std::string_view where = "McmcSummaryOptions";
  require(names.empty() || static_cast<Index>(names.size()) == dim, where, [&] {
    return "names has " + std::to_string(names.size()) + " entries, expected 0 or " + std::to_string(dim) +
           " (one per dimension)";
  });
  require(accepted.size() == proposed.size() && (accepted.empty() || static_cast<Index>(accepted.size()) == chains),
          where, [&] {
            return "accepted and proposed have " + std::to_string(accepted.size()) + " and " +
                   std::to_string(proposed.size()) + " entries, expected both 0 or both " + std::to_string(chains) +
                   " (one per chain)";
          });
}

namespace {
// The Hamiltonian samplers' per-draw statistics (C S each), summarised.
HamiltonianSummary hamiltonian_summary(const McmcSummaryOptions& o, Index chains, Index s) {
  const auto n = static_cast<std::size_t>(chains * s);
  const char* where = "McmcSummaryOptions";
  for (const auto& field : {std::pair{o.hamiltonian.size(), "hamiltonian"}, std::pair{o.divergent.size(), "divergent"},
                             std::pair{o.tree_depth.size(), "tree_depth"}})
    require(field.first == 0 || field.first == n, where, [&] {
      return std::string(field.second) + " has " + std::to_string(field.first) + " entries, expected 0 or " +
             std::to_string(n) + " (one per draw)";
    });
  HamiltonianSummary h;
  h.draws = static_cast<Index>(n);
  for (char d : o.divergent) h.divergent += d != 0;
  h.max_tree_depth = o.tree_depth.empty() ? 0 : o.max_tree_depth;
  for (int d : o.tree_depth) {
    h.mean_tree_depth += d;
    h.saturated += o.max_tree_depth > 0 && d >= o.max_tree_depth;
  }
  if (!o.tree_depth.empty()) h.mean_tree_depth /= double(n);
  if (!o.hamiltonian.empty())
    for (Index c = 0; c < chains; ++c)
      h.ebfmi.push_back(ebfmi(std::span<const double>(o.hamiltonian.data() + c * s, static_cast<std::size_t>(s))));
  return h;
}
}  // namespace

McmcSummary summarize(const std::vector<Mat<double>>& chains, const McmcSummaryOptions& options) {
  constexpr std::string_view where = "summarize";
  check_chain_shapes(chains, where);
  const Index s = chains.front().rows(), dims = chains.front().cols(), c = static_cast<Index>(chains.size());
  require(s >= kMinDrawsPerChain, where, [&] {
    return "chains have " + std::to_string(s) + " draws each, need at least " + std::to_string(kMinDrawsPerChain);
  });
  for (std::size_t j = 0; j < chains.size(); ++j) require_finite(chains[j], where, "chains[" + std::to_string(j) + "]");
  options.validate(c, dims);

  McmcSummary out;
  out.chains = c;
  out.draws_per_chain = s;
  out.names = options.names;
  if (out.names.empty()) {
    for (Index d = 0; d < dims; ++d) out.names.push_back("x" + std::to_string(d));
  }
  if (!options.proposed.empty()) out.acceptance = acceptance_summary(options.accepted, options.proposed);
  if (!options.hamiltonian.empty() || !options.divergent.empty() || !options.tree_depth.empty())
    out.hamiltonian = hamiltonian_summary(options, c, s);
  for (RowVec<double>* v : {&out.mean, &out.sd, &out.mcse_mean, &out.ess_bulk, &out.ess_tail, &out.rhat})
    v->resize(dims);
  // Dimensions are independent, so the result does not depend on the thread count.
  parallel_for_chunks(dims, 1, [&](Index begin, Index end) {
    for (Index d = begin; d < end; ++d) {
      Mat<double> draws(s, c);
      for (Index j = 0; j < c; ++j) draws.col(j) = chains[static_cast<std::size_t>(j)].col(d);
      const Diagnostics g = diagnose(draws);
      out.mean(d) = g.mean;
      out.sd(d) = g.sd;
      out.mcse_mean(d) = g.mcse_mean;
      out.ess_bulk(d) = g.ess_bulk;
      out.ess_tail(d) = g.ess_tail;
      out.rhat(d) = g.rhat;
    }
  });
  return out;
}

double ebfmi(std::span<const double> h) {
  const std::size_t n = h.size();
  if (n < 3) return std::numeric_limits<double>::quiet_NaN();
  double mean = 0;
  for (double v : h) mean += v;
  mean /= double(n);
  double num = 0, den = 0;
  for (std::size_t t = 0; t < n; ++t) {
    den += (h[t] - mean) * (h[t] - mean);
    if (t > 0) num += (h[t] - h[t - 1]) * (h[t] - h[t - 1]);
  }
  return den > 0 ? num / den : std::numeric_limits<double>::quiet_NaN();
}

std::vector<std::string> HamiltonianSummary::warnings() const {
  std::vector<std::string> out;
  std::ostringstream s;
  if (divergent > 0) {
    s << divergent << " of " << draws << " draws divergent: the step size is too large for the curvature somewhere; raise "
      << "--target-accept (0.9, 0.99) or reparametrise (a funnel's scale, say)";
    out.push_back(s.str());
  }
  if (max_tree_depth > 0 && saturated > 0) {
    s.str("");
    s << saturated << " of " << draws << " draws hit the maximum tree depth " << max_tree_depth
      << ": trajectories are cut short; use a dense metric or a larger --max-depth";
    out.push_back(s.str());
  }
  Index low = 0;
  for (double v : ebfmi) low += v < 0.3;
  if (low > 0) {
    s.str("");
    s << low << " of " << ebfmi.size() << " chains have E-BFMI < 0.3: the energy is explored poorly (heavy tails?)";
    out.push_back(s.str());
  }
  return out;
}

std::vector<Index> McmcSummary::flagged() const {
  std::vector<Index> out;
  const double min_ess = 100 * to_double(chains);
  for (Index d = 0; d < rhat.size(); ++d) {
    if (!(rhat(d) < 1.01) || ess_bulk(d) < min_ess || ess_tail(d) < min_ess) out.push_back(d);
  }
  return out;
}

std::string McmcSummary::summary() const {
  std::ostringstream s;
  s << chains << " chains x " << draws_per_chain << " draws";
  if (acceptance) {
    s << "; acceptance " << std::setprecision(3) << acceptance->overall << " (chains " << acceptance->min << ".."
      << acceptance->max << ")";
  }
  s << "\n";
  std::size_t width = 4;
  for (const auto& n : names) width = std::max(width, n.size());
  const auto w = static_cast<int>(width);
  s << std::left << std::setw(w) << "name" << std::right << std::setw(11) << "mean" << std::setw(11) << "sd"
    << std::setw(11) << "mcse_mean" << std::setw(10) << "ess_bulk" << std::setw(10) << "ess_tail" << std::setw(8)
    << "rhat"
    << "\n";
  const std::vector<Index> bad = flagged();
  for (Index d = 0; d < mean.size(); ++d) {
    s << std::left << std::setw(w) << names[static_cast<std::size_t>(d)] << std::right << std::defaultfloat
      << std::setprecision(4) << std::setw(11) << mean(d) << std::setw(11) << sd(d) << std::setw(11) << mcse_mean(d)
      << std::fixed << std::setprecision(0) << std::setw(10) << ess_bulk(d) << std::setw(10) << ess_tail(d)
      << std::setprecision(3) << std::setw(8) << rhat(d);
    if (std::find(bad.begin(), bad.end(), d) != bad.end()) s << "  *";
    s << "\n";
  }
  if (hamiltonian) {
    s << "hamiltonian: " << hamiltonian->divergent << " divergent of " << hamiltonian->draws;
    if (hamiltonian->max_tree_depth > 0)
      s << "; mean tree depth " << std::defaultfloat << std::setprecision(3) << hamiltonian->mean_tree_depth << ", "
        << hamiltonian->saturated << " at the maximum " << hamiltonian->max_tree_depth;
    if (!hamiltonian->ebfmi.empty()) {
      const auto [lo, hi] = std::minmax_element(hamiltonian->ebfmi.begin(), hamiltonian->ebfmi.end());
      s << "; E-BFMI " << std::defaultfloat << std::setprecision(3) << *lo << ".." << *hi;
    }
    s << "\n";
    for (const std::string& warning : hamiltonian->warnings()) s << "* " << warning << "\n";
  }
  if (!bad.empty()) {
    s << "* " << bad.size() << " of " << mean.size() << " dimensions have R-hat >= 1.01 or bulk/tail ESS < "
      << 100 * chains << " (100 per chain): run longer or check mixing\n";
  }
  return s.str();
}

}  // namespace ebm
