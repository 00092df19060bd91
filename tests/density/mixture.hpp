#pragma once
// The 2-D test mixture of the density tests: three correlated Gaussians, unequal weights.
#include <ebm/energy/analytic.hpp>

namespace ebm_test {

inline ebm::GaussianMixture<double> mixture2d() {
  ebm::Vec<double> w(3);
  w << 0.5, 0.3, 0.2;
  ebm::MatD means(3, 2);
  means << -2, 0, 2, 1, 0, -2;
  ebm::MatD c0(2, 2), c1(2, 2), c2(2, 2);
  c0 << 0.5, 0.1, 0.1, 0.4;
  c1 << 0.3, -0.1, -0.1, 0.6;
  c2 << 1.0, 0.0, 0.0, 0.2;
  return {w, means, {c0, c1, c2}};
}

}  // namespace ebm_test
