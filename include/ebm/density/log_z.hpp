#pragma once
// The normalising constant Z = integral exp(-E(x)) dx, and test-set negative log-likelihood.
//
//  - log_normalizer_grid (D <= 3): the trapezoid rule on a regular grid over a box that must
//    hold the mass, summed by log-sum-exp. The error estimate is |log Z - log Z_half|, Z_half the
//    same rule on every second grid point (spacing 2h): for a smooth density that vanishes at
//    the box's faces the trapezoid rule converges faster than any power of h, so the half-grid
//    difference bounds the full grid's error generously. boundary_fraction is the share of the
//    mass in the outer 5% of the box along each axis: when it is not tiny the box cuts off mass
//    and log Z is too small by an amount the error estimate does not see.
//  - log_normalizer_ais (any D): annealed importance sampling (Neal 2001) from the normalised
//    base p0 = N(base_mean, base_scale^2 I) through E_b = (1 - b) E0 + b E, b from 0 to 1, with
//    MALA transitions leaving each p_b invariant. log Z = log Z0 + log mean_i w_i; the standard
//    error is the delta-method one, sd(w) / (sqrt(N) mean(w)), and ess = (sum w)^2 / sum w^2.
//    With adaptation on, the MALA step is tuned between temperatures from the acceptance rate of
//    all chains together (an integer count, so independent of threads); the kernels stay
//    invariant for each p_b, so log Z stays consistent (bias O(1/N), as in adaptive SMC).
//
// Randomness of AIS: chain c uses CounterRng(seed, stream = c); its initial point is the normal
// draw at counter 2^63, MALA step s at temperature k draws its proposal noise at counter
// k * mala_steps + s and its accept uniform at that counter | 2^62. Nothing depends on the
// thread count: the result is the same bits for any ebm::set_num_threads, and for any number of
// processes sharing the chains (AisOptions::communicator).
#include <ebm/core/communicator.hpp>
#include <ebm/core/types.hpp>
#include <ebm/density/functions.hpp>

#include <functional>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace ebm {

struct LogZResult {
  double log_z = 0;
  double error_estimate = 0;  // grid: |full - half grid|; AIS: standard error
  std::string method;         // "grid" or "ais"
  // Grid: share of the mass in the box's outer 5% along each axis (a warning when > 1e-6);
  // NaN for AIS.
  double boundary_fraction = 0;
  // AIS: effective sample size of the final weights, and the final MALA step and acceptance
  // rate (over all transitions); NaN for the grid.
  double ess = 0;
  double step_size = 0;
  double acceptance_rate = 0;
  Index evaluations = 0;  // energy rows evaluated
  double seconds = 0;
  std::string summary() const;
};

struct GridOptions {
  std::vector<double> lower, upper;  // the box, D values each (lower < upper)
  // Grid points per dimension, >= 5; an even value is raised by one so that every second point
  // spans the same box. 0: automatic, 4001 (1-D), 401 (2-D), 81 (3-D).
  int points_per_dim = 0;
  Index batch_rows = 1 << 16;  // rows per energy call, >= 1
  void validate(Index dim) const;
  /// The number of points per dimension actually used.
  int resolved_points(Index dim) const;
};

enum class AisSchedule {
  Sigmoid,    // b_k = (sig(delta (2k/K - 1)) - sig(-delta)) / (sig(delta) - sig(-delta)), delta = 4
  Geometric,  // b_k = 10^(-4 (K - k) / (K - 1)) for k >= 1: from 1e-4 to 1
  Linear,     // b_k = k / K
};

struct AisOptions {
  Index chains = 256;
  int temperatures = 200;    // K: b_1 .. b_K = 1 (b_0 = 0 is the base)
  AisSchedule schedule = AisSchedule::Sigmoid;
  int mala_steps = 1;        // MALA transitions at each intermediate temperature, >= 1
  double step_size = 0.05;   // initial MALA step h (proposal N(x + h s, 2 h I))
  bool adapt = true;         // tune h between temperatures towards target_acceptance
  double target_acceptance = 0.574;
  std::vector<double> base_mean;  // D values; empty: zeros
  double base_scale = 1;          // standard deviation of the base, > 0
  std::uint64_t seed = 0;
  std::function<void(int done, int total)> progress;  // after every temperature, if set
  /// The processes sharing the chains (null: this one alone): each runs a contiguous share
  /// (chains >= processes), they pool the acceptance counts after every temperature and the
  /// weights at the end, so every process returns the one-process result, bit for bit. Collective.
  const Communicator* communicator = nullptr;
  void validate(Index dim) const;
};

/// log Z by the trapezoid rule on a grid, D = 1, 2 or 3.
template <class T>
LogZResult log_normalizer_grid(Index dim, const EnergyFunction<T>& energy, const GridOptions& options);
template <class T, class E>
  requires EnergyLike<E, T>
LogZResult log_normalizer_grid(const E& energy, const GridOptions& options) {
  return log_normalizer_grid<T>(static_cast<Index>(energy.dim()), energy_function<T>(energy), options);
}

/// log Z by annealed importance sampling.
template <class T>
LogZResult log_normalizer_ais(Index dim, const EnergyFunction<T>& energy, const AisOptions& options);
template <class T, class E>
  requires EnergyLike<E, T>
LogZResult log_normalizer_ais(const E& energy, const AisOptions& options) {
  return log_normalizer_ais<T>(static_cast<Index>(energy.dim()), energy_function<T>(energy), options);
}

struct NllResult {
  double nll = 0;             // mean_i E(x_i) + log Z, in nats per point
  double standard_error = 0;  // sd(E) / sqrt(N): the data's sampling error
  double log_z_error = 0;     // the error of log Z passed in (adds to the above in quadrature)
  Index points = 0;
  std::string summary() const;
};

/// Negative log-likelihood of data (N x D, N >= 2, finite) under exp(-E) / Z.
template <class T>
NllResult negative_log_likelihood(const std::type_identity_t<EnergyFunction<T>>& energy, const Mat<T>& data,
                                  double log_z, double log_z_error = 0);
template <class T, class E>
  requires EnergyLike<E, T>
NllResult negative_log_likelihood(const E& energy, const Mat<T>& data, double log_z, double log_z_error = 0) {
  detail::check_energy_dim(static_cast<Index>(energy.dim()), data.cols(), "ebm::negative_log_likelihood");
  return negative_log_likelihood<T>(energy_function<T>(energy), data, log_z, log_z_error);
}
template <class T, class E>
  requires EnergyLike<E, T>
NllResult negative_log_likelihood(const E& energy, const Mat<T>& data, const LogZResult& log_z) {
  return negative_log_likelihood<T>(energy, data, log_z.log_z, log_z.error_estimate);
}

#define EBM_DENSITY_EXTERN(T)                                                                                 \
  extern template LogZResult log_normalizer_grid<T>(Index, const EnergyFunction<T>&, const GridOptions&);   \
  extern template LogZResult log_normalizer_ais<T>(Index, const EnergyFunction<T>&, const AisOptions&);     \
  extern template NllResult negative_log_likelihood<T>(const EnergyFunction<T>&, const Mat<T>&, double, double);
EBM_DENSITY_EXTERN(float)
EBM_DENSITY_EXTERN(double)
#undef EBM_DENSITY_EXTERN

}  // namespace ebm
