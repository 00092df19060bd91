// The MLP energy against independent references, for every smooth activation, in float64:
// E against a forward pass written with Eigen; grad_x E, the Hessian diagonal (double backward)
// and the Laplacian against central differences of E; the parameter gradients of E, of
// ||grad_x E||^2 and of the Laplacian against central differences over the parameters
// (ad::gradcheck); the Laplacian by D double-backward passes against the per-sample Jacobian
// route (repeat_rows, one-hot seeds, segment_sum_rows); Mlp::score against -grad_x E.
#include <ebm/ad/gradcheck.hpp>
#include <ebm/ad/ops.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/energy/mlp.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <span>
#include <string>
#include <vector>

namespace {

namespace ad = ebm::ad;
using ebm::Activation;
using ebm::Index;
using ebm::MatD;
using Mlp = ebm::Mlp<double>;
using Tape = ad::Tape<double>;
using Var = ad::Var<double>;

// Error budget of the central differences, u = 2^-53 ~ 1.1e-16. For this network every function
// differenced here (E, ||grad_x E||^2, the Laplacian) is below 1 in size, E is computed with a
// rounding error below ~10 u and the derived quantities below ~100 u, and the derivatives up to
// fourth order, in x and in the parameters, are below ~100.
//  - First differences, step h = 1e-5: truncation h^2/6 * 100 ~ 2e-9 plus rounding 100 u / h
//    ~ 1e-9, so |error| <= 3e-9. Tolerance 1e-8 absolute + 1e-6 relative, 3x that (observed:
//    <= 3e-10). The gradients are ~1e-3..1e-1, so a 1% error in any entry above 1e-6 fails.
//  - Second differences of E: rounding 4 * 10 u / h^2 would be 4e-5 at h = 1e-5, a good part of
//    the entries (~1e-2), so these use the step that balances it against truncation
//    h^2/12 * 100, ~u^(1/4) ~ 1e-4: rounding 4.4e-7 + truncation 8e-8 ~ 5e-7. Tolerance 2e-6
//    absolute + 1e-5 relative per entry, 4x that (observed: <= 4e-8); the trace of D entries
//    gets D times the absolute part. A 0.1% error in silu'' already fails.
//  - E against the Eigen forward pass: the same arithmetic in another order, with other (exact)
//    formulas for the activations: a few ulp of values of size < 1, so 1e-14 absolute
//    (observed: <= 2.2e-16).
constexpr double kStep1 = 1e-5;
constexpr double kAtol1 = 1e-8, kRtol1 = 1e-6;
constexpr double kStep2 = 1e-4;
constexpr double kAtol2 = 2e-6, kRtol2 = 1e-5;
constexpr double kForwardAtol = 1e-14;
// ELU is C^1 but not C^2 at 0: no hidden pre-activation may come within this distance of 0, or a
// finite-difference stencil could straddle the kink. Perturbing x by kStep2 moves them by
// < 2e-4 (weights are at most 1/sqrt(fan_in)); perturbing a parameter by kStep1, by < 1e-4.
constexpr double kKinkMargin = 1e-3;

constexpr Activation kSmooth[] = {Activation::Softplus, Activation::Silu, Activation::Tanh, Activation::Gelu,
                                  Activation::Elu};

Mlp make_mlp(Activation activation) {
  ebm::MlpOptions options;
  options.widths = {3, 7, 5, 1};
  options.activation = activation;
  options.seed = 11;
  return Mlp(options);
}

// N x D standard normals scaled by 1.5, to reach into the curved parts of the activations.
MatD make_batch(Index rows, Index cols) {
  MatD x(rows, cols);
  ebm::CounterRng(7, 0).normal<double>(0, std::span<double>(x.data(), static_cast<std::size_t>(x.size())));
  return 1.5 * x;
}

ad::GradOptions<double> keep_graph() {
  ad::GradOptions<double> o;
  o.create_graph = true;
  return o;
}

// ---- References written without the ad engine ----

double reference_activation(Activation a, double z) {
  switch (a) {
    case Activation::Softplus: return std::log1p(std::exp(z));
    case Activation::Silu: return z / (1 + std::exp(-z));
    case Activation::Tanh: return std::tanh(z);
    case Activation::Gelu: return 0.5 * z * std::erfc(-z / std::numbers::sqrt2);
    case Activation::Elu: return z > 0 ? z : std::expm1(z);
    case Activation::Relu: return std::max(z, 0.0);
  }
  return std::numeric_limits<double>::quiet_NaN();
}

struct ReferenceForward {
  MatD energy;                // N x 1
  double nearest_kink = 0;    // smallest |hidden pre-activation|
};

ReferenceForward reference_forward(const Mlp& mlp, const MatD& x) {
  ReferenceForward r;
  r.nearest_kink = std::numeric_limits<double>::infinity();
  MatD h = x;
  for (Index l = 0; l < mlp.layers(); ++l) {
    MatD z = h * mlp.weight(l).transpose();
    z.rowwise() += mlp.bias(l).row(0);
    if (l + 1 == mlp.layers()) {
      r.energy = z;
      break;
    }
    r.nearest_kink = std::min(r.nearest_kink, z.cwiseAbs().minCoeff());
    h = z.unaryExpr([&](double v) { return reference_activation(mlp.activation(), v); });
  }
  return r;
}

// E (N x 1) at x + delta e_i in every row at once: each row's energy depends on that row only.
MatD energy_shifted(const Mlp& mlp, const MatD& x, Index i, double delta) {
  MatD shifted = x;
  shifted.col(i).array() += delta;
  Tape tape;
  return mlp.energy(tape, shifted);
}

std::vector<MatD> parameters(const Mlp& mlp) {
  std::vector<MatD> p;
  for (Index l = 0; l < mlp.layers(); ++l) {
    p.push_back(mlp.weight(l));
    p.push_back(mlp.bias(l));
  }
  return p;
}

// Entrywise |actual - expected| <= atol + rtol |expected|, naming the worst entry on failure.
::testing::AssertionResult all_near(const MatD& actual, const MatD& expected, double atol, double rtol) {
  if (actual.rows() != expected.rows() || actual.cols() != expected.cols())
    return ::testing::AssertionFailure() << "shapes " << actual.rows() << "x" << actual.cols() << " and "
                                         << expected.rows() << "x" << expected.cols() << " differ";
  double worst = 0;
  Index at = 0;
  for (Index k = 0; k < actual.size(); ++k) {
    const double a = actual.data()[k], e = expected.data()[k];
    const double ratio = std::abs(a - e) / (atol + rtol * std::abs(e));
    if (!(ratio <= worst)) {  // also catches NaN
      worst = ratio;
      at = k;
    }
  }
  if (worst <= 1) return ::testing::AssertionSuccess();
  const double a = actual.data()[at], e = expected.data()[at];
  return ::testing::AssertionFailure() << "entry (" << at / actual.cols() << ", " << at % actual.cols()
                                       << "): " << a << " vs expected " << e << ", |difference| "
                                       << std::abs(a - e) << " > " << atol << " + " << rtol << " * |expected|";
}

// ---- The quantities under test, recorded with the engine ----

struct Recorded {
  Var x;
  Var energy;        // N x 1
  Var grad_x;        // N x D
  Var hessian_diag;  // N x D, d2E/dx_i2 in column i
  Var laplacian;     // N x 1
};

// The naive route: one double-backward pass per input coordinate, all with create_graph so that
// everything can be differentiated again (with respect to the parameters).
Recorded record(Tape& tape, const Mlp& mlp, const MatD& x0, const std::vector<Var>& params) {
  Recorded r;
  r.x = tape.variable(x0);
  r.energy = mlp.energy(r.x, params);
  r.grad_x = tape.grad(ad::sum(r.energy), {r.x}, keep_graph())[0];
  for (Index i = 0; i < x0.cols(); ++i) {
    const Var row_i = tape.grad(ad::sum(ad::slice_cols(r.grad_x, i, 1)), {r.x}, keep_graph())[0];
    const Var column = ad::slice_cols(row_i, i, 1);
    r.hessian_diag = i == 0 ? column : ad::concat_cols(r.hessian_diag, column);
  }
  r.laplacian = ad::row_sums(r.hessian_diag);
  return r;
}

// The per-sample Jacobian route: x repeated D times (row n*D + i is x_n, the copy in charge of
// coordinate i), one backward for grad_x E of every copy, then a single double backward seeded
// with one-hot rows, so row n*D + i of its result is row i of sample n's Hessian.
Var hessian_diag_by_repeated_rows(Tape& tape, const Mlp& mlp, Var x, const std::vector<Var>& params) {
  const Index n = x.rows(), d = x.cols();
  MatD one_hot = MatD::Zero(n * d, d);
  for (Index k = 0; k < n * d; ++k) one_hot(k, k % d) = 1;
  const Var seed = tape.constant(one_hot);
  const Var copies = ad::repeat_rows(x, d);
  const Var grads = tape.grad(ad::sum(mlp.energy(copies, params)), {copies}, keep_graph())[0];
  const Var hessian_rows = tape.grad(ad::sum(grads * seed), {copies}, keep_graph())[0];
  return ad::segment_sum_rows(hessian_rows * seed, d);
}

using Quantity = Var (*)(const Recorded&);

ad::GradcheckReport check_parameter_gradient(const Mlp& mlp, const MatD& x, Quantity quantity) {
  const ad::CheckedFunction f = [&](Tape& tape, std::span<const Var> inputs) {
    return quantity(record(tape, mlp, x, std::vector<Var>(inputs.begin(), inputs.end())));
  };
  ad::GradcheckOptions options;
  options.eps = kStep1;
  options.atol = kAtol1;
  options.rtol = kRtol1;
  return ad::gradcheck(f, parameters(mlp), options);
}

class MlpEnergy : public ::testing::TestWithParam<Activation> {
 protected:
  void SetUp() override {
    ASSERT_GT(reference_forward(mlp_, x_).nearest_kink, kKinkMargin)
        << "a pre-activation lies too close to 0 for finite differences; choose another seed";
  }

  // Recorded with the parameters as constants (for derivatives in x only).
  Recorded record_in_x() { return record(tape_, mlp_, x_, mlp_.bind(tape_, false)); }

  Mlp mlp_ = make_mlp(GetParam());
  MatD x_ = make_batch(6, 3);
  Tape tape_;
};

TEST_P(MlpEnergy, EnergyMatchesEigenForwardPass) {
  const MatD expected = reference_forward(mlp_, x_).energy;
  EXPECT_TRUE(all_near(record_in_x().energy.value(), expected, kForwardAtol, 0));
  Tape other;
  EXPECT_TRUE(all_near(mlp_.energy(other, x_), expected, kForwardAtol, 0));
}

TEST_P(MlpEnergy, InputGradientMatchesCentralDifferences) {
  MatD numeric(x_.rows(), x_.cols());
  for (Index i = 0; i < x_.cols(); ++i)
    numeric.col(i) = (energy_shifted(mlp_, x_, i, kStep1) - energy_shifted(mlp_, x_, i, -kStep1)) / (2 * kStep1);
  EXPECT_TRUE(all_near(record_in_x().grad_x.value(), numeric, kAtol1, kRtol1));
}

TEST_P(MlpEnergy, HessianDiagonalAndLaplacianMatchSecondDifferences) {
  const MatD e0 = energy_shifted(mlp_, x_, 0, 0);
  MatD numeric(x_.rows(), x_.cols());
  for (Index i = 0; i < x_.cols(); ++i)
    numeric.col(i) = (energy_shifted(mlp_, x_, i, kStep2) - 2 * e0 + energy_shifted(mlp_, x_, i, -kStep2)) /
                     (kStep2 * kStep2);
  const Recorded r = record_in_x();
  EXPECT_TRUE(all_near(r.hessian_diag.value(), numeric, kAtol2, kRtol2));
  const MatD numeric_trace = numeric.rowwise().sum();
  EXPECT_TRUE(all_near(r.laplacian.value(), numeric_trace, kAtol2 * static_cast<double>(x_.cols()), kRtol2));
  // The Laplacian is exactly the sum of the diagonal it was built from.
  const MatD diag_sum = r.hessian_diag.value().rowwise().sum();
  EXPECT_TRUE(all_near(r.laplacian.value(), diag_sum, 1e-15, 1e-15));
}

TEST_P(MlpEnergy, LaplacianByDoubleBackwardPassesMatchesPerSampleJacobianRoute) {
  // Both routes, and the gradients of the summed Laplacian with respect to every parameter.
  const auto params = mlp_.bind(tape_, true);
  const Recorded r = record(tape_, mlp_, x_, params);
  const Var jacobian_diag = hessian_diag_by_repeated_rows(tape_, mlp_, r.x, params);
  // The same second derivatives accumulated in another order: equal to rounding (observed
  // <= 2e-16), so 1e-14 absolute + 1e-12 relative.
  EXPECT_TRUE(all_near(jacobian_diag.value(), r.hessian_diag.value(), 1e-14, 1e-12));
  const auto naive = tape_.grad(ad::sum(r.laplacian), params);
  const auto jacobian = tape_.grad(ad::sum(ad::row_sums(jacobian_diag)), params);
  for (std::size_t k = 0; k < params.size(); ++k)
    EXPECT_TRUE(all_near(jacobian[k].value(), naive[k].value(), 1e-14, 1e-12)) << "parameter " << k;
}

TEST_P(MlpEnergy, ParameterGradientOfEnergyMatchesCentralDifferences) {
  const auto report = check_parameter_gradient(mlp_, x_, [](const Recorded& r) { return r.energy; });
  EXPECT_TRUE(report.ok) << report.summary();
  EXPECT_EQ(report.checked, mlp_.parameter_count() * static_cast<std::size_t>(x_.rows()));
}

TEST_P(MlpEnergy, ParameterGradientOfSquaredInputGradientMatchesCentralDifferences) {
  // Per sample ||grad_x E||^2 (N x 1): its full Jacobian covers the gradient of the sum.
  const auto report = check_parameter_gradient(mlp_, x_, [](const Recorded& r) {
    return ad::row_sums(ad::square(r.grad_x));
  });
  EXPECT_TRUE(report.ok) << report.summary();
}

TEST_P(MlpEnergy, ParameterGradientOfLaplacianMatchesCentralDifferences) {
  const auto report = check_parameter_gradient(mlp_, x_, [](const Recorded& r) { return r.laplacian; });
  EXPECT_TRUE(report.ok) << report.summary();
}

TEST_P(MlpEnergy, ScoreIsMinusInputGradient) {
  const MatD minus_grad = -record_in_x().grad_x.value();
  MatD score;
  mlp_.score(tape_, x_, score);  // resets the tape: the recording above is gone
  EXPECT_TRUE(all_near(score, minus_grad, 1e-15, 1e-15));
  MatD again;
  mlp_.score(tape_, x_, again);  // reusing the tape gives the same bits
  EXPECT_EQ(again, score);
}

INSTANTIATE_TEST_SUITE_P(SmoothActivations, MlpEnergy, ::testing::ValuesIn(kSmooth),
                         [](const ::testing::TestParamInfo<Activation>& param_info) {
                           return std::string(ebm::activation_name(param_info.param));
                         });

TEST(MlpActivation, OnlyReluIsNonSmooth) {
  EXPECT_FALSE(ebm::activation_is_smooth(Activation::Relu));
  for (Activation a : kSmooth) EXPECT_TRUE(ebm::activation_is_smooth(a)) << ebm::activation_name(a);
}

}  // namespace
