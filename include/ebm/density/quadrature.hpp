#pragma once
// Gauss-Legendre quadrature on [0, 1].
#include <vector>

namespace ebm {

struct QuadratureRule {
  std::vector<double> nodes;    // n, ascending, in (0, 1)
  std::vector<double> weights;  // n, positive, summing to 1
};

/// The n-point Gauss-Legendre rule on [0, 1]: integrates polynomials of degree <= 2n - 1
/// exactly. Nodes by Newton's method on the Legendre recurrence in long double, so nodes and
/// weights are correct to about 1e-16 for n up to several hundred. 1 <= n <= 4096, otherwise
/// InvalidArgument.
QuadratureRule gauss_legendre(int n);

}  // namespace ebm
