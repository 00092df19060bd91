#pragma once
// Sample-quality metrics against a reference: maximum mean discrepancy, histogram KL and total
// variation on a grid (D <= 2), and the Fisher divergence between two score fields.
// Every computation runs in double whatever the input type, in fixed blocks combined in block
// order, so results are the same bits for any thread count.
#include <ebm/core/types.hpp>
#include <ebm/density/functions.hpp>

#include <functional>
#include <string>
#include <type_traits>
#include <vector>

namespace ebm {

// ----- maximum mean discrepancy -----

struct MmdOptions {
  // Kernel bandwidth h of k(a, b) = exp(-|a - b|^2 / (2 h^2)). 0: the median heuristic, h =
  // the median of the pairwise distances among the pooled points (x then y), taken over at most
  // max_median_points of them: when there are more, the points at rows floor(k P / max) of the
  // pool, k = 0..max-1. The median of an even count is the mean of the two middle values. If
  // that median is 0 (mostly repeated points), h = 1.
  double bandwidth = 0;
  bool unbiased = true;  // the U-statistic (diagonal terms left out) or the biased V-statistic
  Index max_median_points = 1000;  // 2..10000
  void validate() const;
};

struct MmdResult {
  double mmd2 = 0;       // squared MMD; the unbiased estimate can be slightly negative
  double bandwidth = 0;  // h used
  std::string summary() const;
};

/// MMD^2 between samples x (N x D) and y (M x D), N, M >= 2, finite. Blocked over pairs: memory
/// is O(N + M), time O((N + M)^2 D).
template <class T>
MmdResult mmd(const Mat<T>& x, const Mat<T>& y, const MmdOptions& options = {});

/// The median heuristic alone (see MmdOptions::bandwidth).
template <class T>
double median_pairwise_distance(const Mat<T>& x, const Mat<T>& y, Index max_points = 1000);

// ----- histogram divergences on a grid -----

struct GridHistogramOptions {
  std::vector<double> lower, upper;  // the box, D values each, D = 1 or 2
  std::vector<int> bins;             // per dimension, or one value for every dimension; >= 1
  // Added to every cell's probability (then renormalised) before KL, so that an empty cell
  // gives a large finite KL instead of infinity. >= 0.
  double smoothing = 1e-10;
  void validate(Index dim) const;
  /// Bins of dimension d after broadcasting a single value.
  int bins_of(Index d) const;
  Index cells(Index dim) const;
};

struct HistogramDivergences {
  double kl = 0;          // KL(reference || samples) = sum_c q_c log(q_c / p_c): large when the
                          // samples miss mass the reference has (mode dropping)
  double kl_reverse = 0;  // KL(samples || reference)
  double tv = 0;          // 1/2 sum_c |p_c - q_c|, in [0, 1], unsmoothed
  double samples_outside = 0;    // fraction of the samples outside the box (not counted)
  double reference_outside = 0;  // the same for reference samples (0 for given masses)
  std::string summary() const;
};

/// Cell masses of the points (N x D) in the box: counts / (points inside), cells in row-major
/// order (dimension 0 slowest: cell = i0 * bins1 + i1). A point on the upper face goes to the
/// last cell. Returns cells x 1; outside (if not null) gets the fraction outside the box.
template <class T>
Vec<double> grid_histogram(const Mat<T>& points, const GridHistogramOptions& options, double* outside = nullptr);

/// Cell masses of an unnormalised density exp(log_density) over the box (D = lower.size()),
/// normalised to sum 1: the midpoint rule with `subdivisions`^D points per cell (>= 1).
/// log_density maps M x D points to M values; -inf is zero density, NaN or +inf NumericalError.
Vec<double> grid_cell_masses(const std::function<void(const Mat<double>& points, Vec<double>& log_density)>& log_density,
                             const GridHistogramOptions& options, int subdivisions = 4);

/// Samples (N x D) against reference samples (M x D), both histogrammed on the grid.
template <class T>
HistogramDivergences histogram_divergences(const Mat<T>& samples, const Mat<T>& reference,
                                           const GridHistogramOptions& options);
/// Samples (N x D) against reference cell masses (cells x 1, nonnegative, normalised here),
/// e.g. from grid_cell_masses.
template <class T>
HistogramDivergences histogram_divergences(const Mat<T>& samples, const Vec<double>& reference_masses,
                                           const GridHistogramOptions& options);

// ----- Fisher divergence -----

struct FisherResult {
  double value = 0;           // 1/2 mean_i |s_model(x_i) - s_true(x_i)|^2
  double standard_error = 0;  // sd of the per-point terms / sqrt(N)
  std::string summary() const;
};

/// From scores already evaluated at the same N points (N x D each, N >= 1).
template <class T>
FisherResult fisher_divergence(const Mat<T>& model_scores, const Mat<T>& true_scores);
/// From two score fields evaluated at points (N x D), in batches.
template <class T>
FisherResult fisher_divergence(const std::type_identity_t<ScoreFunction<T>>& model,
                               const std::type_identity_t<ScoreFunction<T>>& truth, const Mat<T>& points);

#define EBM_METRICS_EXTERN(T)                                                                                   \
  extern template MmdResult mmd<T>(const Mat<T>&, const Mat<T>&, const MmdOptions&);                           \
  extern template double median_pairwise_distance<T>(const Mat<T>&, const Mat<T>&, Index);                     \
  extern template Vec<double> grid_histogram<T>(const Mat<T>&, const GridHistogramOptions&, double*);          \
  extern template HistogramDivergences histogram_divergences<T>(const Mat<T>&, const Mat<T>&,                  \
                                                                const GridHistogramOptions&);                  \
  extern template HistogramDivergences histogram_divergences<T>(const Mat<T>&, const Vec<double>&,             \
                                                                const GridHistogramOptions&);                  \
  extern template FisherResult fisher_divergence<T>(const Mat<T>&, const Mat<T>&);                             \
  extern template FisherResult fisher_divergence<T>(const ScoreFunction<T>&, const ScoreFunction<T>&, const Mat<T>&);
EBM_METRICS_EXTERN(float)
EBM_METRICS_EXTERN(double)
#undef EBM_METRICS_EXTERN

}  // namespace ebm
