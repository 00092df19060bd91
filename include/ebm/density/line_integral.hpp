#pragma once
// log p(x) - log p(x0) from the score alone (DESIGN.md section 2):
//
//     log p(x) - log p(x0) = integral_0^1 s(x0 + t (x - x0))^T (x - x0) dt,
//
// by n-point Gauss-Legendre quadrature along the straight segment. For an energy this is
// E(x0) - E(x) up to quadrature error; for a learned score field that is not a gradient it
// depends on the path, which the path check measures.
//
// Estimates reported per point x_i (d = x_i - x0):
//  - quadrature_error: |I_n - I_{n/2}|, the straight-path integral with n and with n/2 nodes
//    (Gauss rules are exact to degree 2n - 1, so the n/2-point error bounds the n-point one
//    for smooth integrands).
//  - path_difference: |I_straight - I_detour|, the detour going x0 -> m -> x (two straight
//    segments, n nodes each) through m = (x0 + x) / 2 + (|d| / 2) u, u the unit vector
//    orthogonal to d obtained by Gram-Schmidt from the coordinate axis e_j along which |d_j| is
//    smallest (first such j). Deterministic, well conditioned (the projection removed is at
//    most 1/sqrt(D) of e_j), and 0 when x = x0. For a gradient field it is at the level of the
//    quadrature error; otherwise it is the circulation of s around the triangle x0, x, m. It
//    probes one plane per point: a rotation in a plane orthogonal to that one goes unseen. In
//    1-D there is no orthogonal direction: m is the midpoint and the check only compares two
//    quadratures of the same path.
//
// All quadrature points of all x_i are evaluated in large batched calls of the score (at most
// `batch_rows` rows each), so a differentiable energy runs in parallel blocks.
#include <ebm/core/types.hpp>
#include <ebm/density/functions.hpp>

#include <string>
#include <type_traits>

namespace ebm {

struct LineIntegralOptions {
  int nodes = 32;          // Gauss-Legendre nodes on the straight path, >= 2 (n/2 for the error)
  bool check_path = true;  // also integrate along the detour (2 n more evaluations per point)
  Index batch_rows = 1 << 16;  // rows per score call (bounds memory), >= 1
  void validate() const;
};

template <class T>
struct LineIntegralResult {
  Vec<T> log_p_relative;    // N: log p(x_i) - log p(x0)
  Vec<T> quadrature_error;  // N: |n-node - n/2-node estimate|
  Vec<T> path_difference;   // N: |straight - detour| (zeros when check_path is off)
  Index evaluations = 0;    // score rows evaluated
  double seconds = 0;
  std::string summary() const;
};

/// log p(x_i) - log p(x0) for each row of x (N x D) from a score field; x0 is 1 x D. The
/// score must return M x D finite values for M x D points, otherwise InvalidArgument (shape)
/// or NumericalError (naming the point of x whose path met a non-finite score).
template <class T>
LineIntegralResult<T> log_density_relative(const std::type_identity_t<ScoreFunction<T>>& score, const Mat<T>& x,
                                           const Mat<T>& x0, const LineIntegralOptions& options = {});

/// The same from an energy (any Energy<E, T> or AnyEnergy<T>); its dim() must be D.
template <class T, class E>
  requires EnergyLike<E, T>
LineIntegralResult<T> log_density_relative(const E& energy, const Mat<T>& x, const Mat<T>& x0,
                                           const LineIntegralOptions& options = {}) {
  detail::check_energy_dim(static_cast<Index>(energy.dim()), x.cols(), "ebm::log_density_relative");
  return log_density_relative<T>(score_function<T>(energy), x, x0, options);
}

extern template struct LineIntegralResult<float>;
extern template struct LineIntegralResult<double>;
extern template LineIntegralResult<float> log_density_relative<float>(const ScoreFunction<float>&, const Mat<float>&,
                                                                      const Mat<float>&, const LineIntegralOptions&);
extern template LineIntegralResult<double> log_density_relative<double>(const ScoreFunction<double>&,
                                                                        const Mat<double>&, const Mat<double>&,
                                                                        const LineIntegralOptions&);

}  // namespace ebm
