#pragma once
// MCMC diagnostics: autocorrelation, effective sample size (bulk and tail), split R-hat, Monte
// Carlo standard error of the mean, acceptance rates and mode occupancy, following Vehtari,
// Gelman, Simpson, Carpenter and Bürkner (2021), "Rank-normalization, folding, and
// localization: an improved R-hat for assessing convergence of MCMC", Bayesian Analysis 16(2),
// and the estimators of Stan and the R package posterior. docs/diagnostics.md has the formulas.
//
// Layouts. One scalar quantity: `draws` is S x C, draw x chain (column c is chain c). Several
// dimensions: `chains` is a vector of C matrices, each S x D (one draw per row, as every batch
// in ebm). Every chain has the same S >= 4 draws, all finite; otherwise InvalidArgument (shapes,
// counts) or NumericalError (NaN, inf) names the function, the argument and the value.
//
// Constant quantities. When every draw of a quantity is the same number, its ESS (bulk, tail,
// basic) is S C, its R-hat 1 and its MCSE 0: there is nothing left to estimate, and neither NaN
// nor an exception would help a summary of many dimensions. When each chain is constant but
// chains differ, the within-chain variance is 0: R-hat is +infinity (the chains never meet) and
// the ESS comes out near C (one draw per chain) from the same formulas.
#include <ebm/core/types.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ebm {

/// Fewest draws per chain any diagnostic accepts (two per half after splitting).
inline constexpr Index kMinDrawsPerChain = 4;

/// Sample autocorrelation rho_k = acov_k / acov_0 of one chain (S x 1), k = 0..max_lag, with the
/// biased autocovariance acov_k = (1/S) sum_{t<S-k} (x_t - mean)(x_{t+k} - mean), by FFT
/// (O(S log S)). max_lag = -1 means S - 1. Returns (max_lag + 1) x 1. A constant chain gives
/// rho_0 = 1 and rho_k = 0 for k > 0.
Vec<double> autocorrelation(const Eigen::Ref<const Vec<double>>& chain, Index max_lag = -1);

/// ESS of the mean of draws (S x C): split chains, Stan's multi-chain autocorrelation, Geyer's
/// initial monotone sequence. No rank normalisation (the MCSE of the mean uses this one).
double ess_basic(const Mat<double>& draws);
/// Bulk ESS of draws (S x C): ess_basic of the rank-normalised split chains.
double ess_bulk(const Mat<double>& draws);
/// Tail ESS of draws (S x C): min of the ESS of the indicators x <= q_0.05 and x <= q_0.95.
double ess_tail(const Mat<double>& draws);

/// Split R-hat of the rank-normalised draws (S x C), without folding.
double rhat_bulk(const Mat<double>& draws);
/// Split R-hat of the rank-normalised folded draws |x - median| (S x C): catches unequal scales.
double rhat_folded(const Mat<double>& draws);
/// max(rhat_bulk, rhat_folded) of draws (S x C): the R-hat to report (aim for < 1.01).
double rhat(const Mat<double>& draws);

/// Monte Carlo standard error of the mean of draws (S x C): sd / sqrt(ess_basic), with sd the
/// standard deviation of all S C draws.
double mcse_mean(const Mat<double>& draws);

/// Column d of every chain (each S x D), as S x C.
Mat<double> dimension_draws(const std::vector<Mat<double>>& chains, Index d);
/// The samplers' chain-major stack ((C S) x D, chain c in rows [c S, (c + 1) S)) as C chains of
/// S x D each.
std::vector<Mat<double>> unstack_chains(const Mat<double>& stacked, Index draws_per_chain);

struct AcceptanceSummary {
  double overall = 0;       // sum of accepted / sum of proposed, over all chains
  double min = 0, max = 0;  // over chains
  Vec<double> per_chain;    // C x 1
};

/// Acceptance rates from per-chain counts (C each, 0 <= accepted <= proposed, proposed > 0).
AcceptanceSummary acceptance_summary(std::span<const std::int64_t> accepted, std::span<const std::int64_t> proposed);

/// Fraction of draws (N x D) nearest, in Euclidean distance, to each mode centre (K x D);
/// ties go to the lower index. Returns K x 1, summing to 1.
Vec<double> mode_occupancy(const Mat<double>& draws, const Mat<double>& centres);

/// E-BFMI of one chain (Betancourt 2016) from the Hamiltonian at its S consecutive draws:
/// sum_t (H_t - H_{t-1})^2 / sum_t (H_t - mean H)^2. Below 0.3 the momentum refresh explores
/// the energy's distribution poorly (heavy tails, funnels). NaN for S < 3 or constant H.
double ebfmi(std::span<const double> hamiltonian);

/// What HMC and NUTS report per draw, over C chains of S draws (chain-major, C S each).
struct HamiltonianSummary {
  Index draws = 0, divergent = 0;
  Index saturated = 0;       // NUTS draws whose tree reached max_tree_depth
  int max_tree_depth = 0;    // 0: not NUTS
  double mean_tree_depth = 0;
  std::vector<double> ebfmi;  // per chain
  /// One line per problem, each with its advice; empty when there is none.
  std::vector<std::string> warnings() const;
};

struct McmcSummaryOptions {
  std::vector<std::string> names;                // one per dimension; empty: x0, x1, ...
  std::vector<std::int64_t> accepted, proposed;  // per chain (C each); empty: acceptance unknown
  // Hamiltonian samplers, per draw (C S each, chain-major); empty: not reported.
  std::vector<double> hamiltonian;
  std::vector<char> divergent;
  std::vector<int> tree_depth;
  int max_tree_depth = 0;
  void validate(Index chains, Index dim) const;
};

/// Per-dimension diagnostics of C chains of S x D draws; every row vector is 1 x D.
struct McmcSummary {
  Index chains = 0, draws_per_chain = 0;
  std::vector<std::string> names;
  RowVec<double> mean, sd, mcse_mean, ess_bulk, ess_tail, rhat;
  std::optional<AcceptanceSummary> acceptance;  // when counts were given
  std::optional<HamiltonianSummary> hamiltonian;  // when the per-draw statistics were given
  /// Dimensions failing the paper's thresholds: R-hat >= 1.01, or bulk or tail ESS < 100 C.
  std::vector<Index> flagged() const;
  /// A table, one line per dimension, flagged dimensions marked.
  std::string summary() const;
};

/// Fills a McmcSummary from chains (C matrices, each S x D). Dimensions run in parallel.
McmcSummary summarize(const std::vector<Mat<double>>& chains, const McmcSummaryOptions& options = {});

}  // namespace ebm
