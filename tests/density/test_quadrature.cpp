// Gauss-Legendre rules on [0, 1]: exactness to degree 2n - 1, the closed-form n = 5 rule, the
// known error at degree 2n, and argument checks. Measured errors are printed as [ measured ].
#include <ebm/core/error.hpp>
#include <ebm/density/quadrature.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <numbers>
#include <string>

#include "support/test_support.hpp"

namespace {

using ebm_test::measured;

double integrate(const ebm::QuadratureRule& r, double (*f)(double)) {
  double s = 0;
  for (std::size_t i = 0; i < r.nodes.size(); ++i) s += r.weights[i] * f(r.nodes[i]);
  return s;
}

// Monomials t^k, k <= 2n - 1, integrate to 1 / (k + 1). Each term w_i t_i^k carries a few ulp
// of rounding (nodes, weights and the power), and the weights sum to 1, so the error is a few
// 1e-16 whatever n: tolerance 1e-14 as asked.
TEST(GaussLegendre, ExactForPolynomialsUpToDegree2nMinus1) {
  double worst = 0;
  for (int n : {1, 2, 3, 4, 5, 8, 13, 16, 32, 64, 100, 150, 200}) {
    const ebm::QuadratureRule r = ebm::gauss_legendre(n);
    ASSERT_EQ(r.nodes.size(), static_cast<std::size_t>(n));
    for (int k = 0; k <= 2 * n - 1; ++k) {
      double s = 0;
      for (int i = 0; i < n; ++i) s += r.weights[i] * std::pow(r.nodes[i], k);
      const double err = std::fabs(s - 1.0 / (k + 1));
      worst = std::max(worst, err);
      ASSERT_LT(err, 1e-14) << "n = " << n << ", degree " << k;
    }
    for (int i = 0; i < n; ++i) {
      EXPECT_GT(r.nodes[i], 0.0);
      EXPECT_LT(r.nodes[i], 1.0);
      EXPECT_GT(r.weights[i], 0.0);
      if (i > 0) {
        EXPECT_LT(r.nodes[i - 1], r.nodes[i]);
      }
      // Symmetric about 1/2.
      EXPECT_NEAR(r.nodes[i] + r.nodes[n - 1 - i], 1.0, 1e-15);
      EXPECT_NEAR(r.weights[i], r.weights[n - 1 - i], 1e-15);
    }
  }
  measured("max error over monomials of degree <= 2n-1, n <= 200", worst);
}

// The n = 5 rule in closed form on [-1, 1]: nodes 0, +-sqrt(5 -+ 2 sqrt(10/7)) / 3, weights
// 128/225, (322 +- 13 sqrt 70) / 900; on [0, 1] t = (1 + x)/2 and w/2. Tolerance 2 ulp-ish.
TEST(GaussLegendre, FivePointRuleMatchesClosedForm) {
  const double a = std::sqrt(5 - 2 * std::sqrt(10.0 / 7)) / 3, b = std::sqrt(5 + 2 * std::sqrt(10.0 / 7)) / 3;
  const double wa = (322 + 13 * std::sqrt(70.0)) / 900, wb = (322 - 13 * std::sqrt(70.0)) / 900;
  const double x[5] = {-b, -a, 0, a, b}, w[5] = {wb, wa, 128.0 / 225, wa, wb};
  const ebm::QuadratureRule r = ebm::gauss_legendre(5);
  double worst = 0;
  for (int i = 0; i < 5; ++i) {
    worst = std::max(worst, std::fabs(r.nodes[i] - (1 + x[i]) / 2));
    worst = std::max(worst, std::fabs(r.weights[i] - w[i] / 2));
    EXPECT_NEAR(r.nodes[i], (1 + x[i]) / 2, 4e-16);
    EXPECT_NEAR(r.weights[i], w[i] / 2, 4e-16);
  }
  // The textbook decimals, as a check on the closed forms above.
  EXPECT_NEAR(a, 0.5384693101056831, 1e-16);
  EXPECT_NEAR(b, 0.9061798459386640, 1e-16);
  EXPECT_NEAR(wa, 0.4786286704993665, 1e-16);
  EXPECT_NEAR(wb, 0.2369268850561891, 1e-16);
  measured("n = 5 rule, max deviation from closed form", worst);
}

// Degree 2n is not exact: the error of t^(2n) on [0, 1] is (n!)^4 / ((2n + 1) ((2n)!)^2)
// (the Gauss remainder (b-a)^(2n+1) (n!)^4 / ((2n+1) ((2n)!)^3) f^(2n), f^(2n) = (2n)!).
TEST(GaussLegendre, ErrorAtDegree2nMatchesRemainderFormula) {
  for (int n : {2, 3, 5, 8}) {
    const ebm::QuadratureRule r = ebm::gauss_legendre(n);
    double s = 0;
    for (int i = 0; i < n; ++i) s += r.weights[i] * std::pow(r.nodes[i], 2 * n);
    const double exact = 1.0 / (2 * n + 1);
    const double remainder = std::pow(std::tgamma(n + 1.0), 4) / ((2 * n + 1) * std::pow(std::tgamma(2 * n + 1.0), 2));
    EXPECT_NEAR(exact - s, remainder, 1e-9 * remainder + 1e-16) << "n = " << n;
  }
}

// Smooth functions at n = 200 (large n where the recurrence and Newton iteration must stay
// accurate): exp and cos(20 pi t) + 1 to 1e-14.
TEST(GaussLegendre, LargeNIntegratesSmoothFunctions) {
  const ebm::QuadratureRule r = ebm::gauss_legendre(200);
  EXPECT_NEAR(integrate(r, [](double t) { return std::exp(t); }), std::numbers::e - 1, 1e-14);
  EXPECT_NEAR(integrate(r, [](double t) { return std::cos(20 * std::numbers::pi * t) + 1; }), 1.0, 1e-14);
  double sum = 0;
  for (double w : r.weights) sum += w;
  EXPECT_NEAR(sum, 1.0, 1e-14);
}

TEST(GaussLegendre, RejectsBadN) {
  for (int n : {0, -3, 5000}) {
    try {
      ebm::gauss_legendre(n);
      FAIL() << "no exception for n = " << n;
    } catch (const ebm::InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("gauss_legendre: n must be in 1..4096, got " + std::to_string(n)),
                std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
