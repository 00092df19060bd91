#include <ebm/core/check.hpp>
#include <ebm/density/quadrature.hpp>

#include <cmath>
#include <numbers>
#include <string>

namespace ebm {
namespace {

using L = long double;

// P_n(z) and P_n'(z) by the three-term recurrence (z strictly inside (-1, 1)).
void legendre(int n, L z, L& p, L& dp) {
  L p0 = 1, p1 = z;
  for (int k = 2; k <= n; ++k) {
    const L p2 = ((2 * L(k) - 1) * z * p1 - (L(k) - 1) * p0) / L(k);
    p0 = p1;
    p1 = p2;
  }
  p = p1;
  dp = L(n) * (z * p1 - p0) / (z * z - 1);
}

}  // namespace

QuadratureRule gauss_legendre(int n) {
  require(n >= 1 && n <= 4096, "ebm::gauss_legendre", [&] { return "n must be in 1..4096, got " + std::to_string(n); });
  QuadratureRule r;
  r.nodes.resize(static_cast<std::size_t>(n));
  r.weights.resize(static_cast<std::size_t>(n));
  const L pi = std::numbers::pi_v<L>;
  // Roots of P_n on [-1, 1] come in pairs +-z: find the non-negative ones, largest first.
  for (int i = 0; i < (n + 1) / 2; ++i) {
    L z = std::cos(pi * (L(i) + L(0.75)) / (L(n) + L(0.5)));  // Tricomi's guess, within the root's basin
    L p = 0, dp = 1;
    for (int iter = 0; iter < 100; ++iter) {
      legendre(n, z, p, dp);
      const L step = p / dp;
      z -= step;
      if (std::fabs(step) <= L(8e-19)) break;  // a few ulp of long double
    }
    if (2 * i + 1 == n) z = 0;  // the middle root of odd n is 0 exactly
    legendre(n, z, p, dp);
    // Weight on [-1, 1]: 2 / ((1 - z^2) P_n'(z)^2); on [0, 1] half of it, at t = (1 -+ z) / 2.
    const L w = L(1) / ((1 - z * z) * dp * dp);
    const auto lo = static_cast<std::size_t>(i), hi = static_cast<std::size_t>(n - 1 - i);
    r.nodes[lo] = static_cast<double>((1 - z) / 2);
    r.nodes[hi] = static_cast<double>((1 + z) / 2);
    r.weights[lo] = r.weights[hi] = static_cast<double>(w);
  }
  return r;
}

}  // namespace ebm
