// Cross-check of the MLP energy and of exact score matching (both Laplacian routes) against
// PyTorch, in float64. An Mlp<double> and a batch are
// written to a temporary directory as text (%.17g: every double round-trips exactly);
// torch_reference.py rebuilds the same network as torch.nn.Sequential, copies the weights in and
// writes back E, grad_x E, the Laplacian (D double-backward passes with create_graph=True) and
// the parameter gradients of the exact score-matching loss
//   loss = mean_n [ Tr(grad_x s)(x_n) + 0.5 ||s(x_n)||^2 ],   s = -grad_x E,
// which the ebm engine computes the same naive way. Every value must agree to 1e-10 relative
// (max |ebm - torch| / max |torch|): two float64 implementations of the same arithmetic differ by
// rounding only, ~1e-15 here. The last bias does not change grad_x E, so both sides give it a
// zero loss gradient. Missing /usr/bin/python3 or torch is a failure, not a skip.
#include <ebm/ad/ops.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/energy/mlp.hpp>
#include <ebm/train/objectives.hpp>  // the forward-Laplacian route is checked here too

#include <gtest/gtest.h>

#include "support/test_support.hpp"

#include <stdlib.h>  // mkdtemp
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iterator>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace ad = ebm::ad;
namespace fs = std::filesystem;
using ebm::Activation;
using ebm::Index;
using ebm::MatD;
using Mlp = ebm::Mlp<double>;
using Tape = ad::Tape<double>;
using Var = ad::Var<double>;

constexpr double kRelTol = 1e-10;
using ebm_test::read_text_matrix;
using ebm_test::TempDir;
using ebm_test::write_text_matrix;

// The name of the k-th parameter of Mlp::bind (weight_0, bias_0, weight_1, ...) in the
// torch.nn.Sequential, where Linear layer l is module 2l: 0.weight, 0.bias, 2.weight, ...
std::string torch_name(std::size_t k) { return std::to_string(k / 2 * 2) + (k % 2 == 0 ? ".weight" : ".bias"); }

std::string run_torch_reference(const fs::path& dir) {
  return ebm_test::run_python("energy/torch_reference.py", {dir.string()}, dir / "stderr.txt");
}

// What both sides compute.
struct Results {
  MatD energy;     // N x 1
  MatD grad_x;     // N x D
  MatD laplacian;  // N x 1
  MatD loss;       // 1 x 1
  std::vector<MatD> loss_grads;  // in Mlp::bind order
};

Results ebm_results(const Mlp& mlp, const MatD& x0) {
  ad::GradOptions<double> keep;
  keep.create_graph = true;
  Tape tape;
  const auto params = mlp.bind(tape, true);
  const Var x = tape.variable(x0);
  const Var energy = mlp.energy(x, params);
  const Var score = -tape.grad(ad::sum(energy), {x}, keep)[0];
  Var trace;  // Tr(grad_x s) per sample: column i of d/dx sum_n s[n, i], one pass per i
  for (Index i = 0; i < x.cols(); ++i) {
    const Var ds_i = tape.grad(ad::sum(ad::slice_cols(score, i, 1)), {x}, keep)[0];
    trace = i == 0 ? ad::slice_cols(ds_i, i, 1) : trace + ad::slice_cols(ds_i, i, 1);
  }
  const Var loss = ad::mean(trace + 0.5 * ad::row_sums(ad::square(score)));
  Results r{energy.value(), -score.value(), -trace.value(), loss.value(), {}};
  for (const Var& g : tape.grad(loss, params)) r.loss_grads.push_back(g.value());
  return r;
}

Results torch_results(const fs::path& dir, std::size_t parameters) {
  Results r{read_text_matrix(dir / "energy.txt"), read_text_matrix(dir / "grad_x.txt"), read_text_matrix(dir / "laplacian.txt"),
            read_text_matrix(dir / "loss.txt"), {}};
  for (std::size_t k = 0; k < parameters; ++k) r.loss_grads.push_back(read_text_matrix(dir / ("grad." + torch_name(k) + ".txt")));
  return r;
}

// max |a - b| / max |b|, or a failure naming the mismatch.
::testing::AssertionResult agrees(const char* what, const MatD& ebm, const MatD& torch) {
  if (ebm.rows() != torch.rows() || ebm.cols() != torch.cols())
    return ::testing::AssertionFailure() << what << ": ebm is " << ebm.rows() << "x" << ebm.cols() << ", torch "
                                         << torch.rows() << "x" << torch.cols();
  const double scale = std::max(torch.cwiseAbs().maxCoeff(), std::numeric_limits<double>::min());
  const double rel = (ebm - torch).cwiseAbs().maxCoeff() / scale;
  std::printf("    %-12s max|ebm - torch| / max|torch| = %.3g\n", what, rel);
  if (rel <= kRelTol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": relative difference " << rel << " > " << kRelTol;
}

// The engine's naive route (above) and, when `forward_route`, ebm::exact_score_matching's
// forward-Laplacian route (the Jacobian route when D <= the first width, the Gram-factor route
// when D exceeds it), against torch on the same weights and batch.
void compare_with_torch(const std::vector<Index>& widths, Activation activation) {
  ebm::MlpOptions options;
  options.widths = widths;
  options.activation = activation;
  options.seed = 3;
  Mlp mlp(options);
  const Index d = widths.front();
  MatD x(9, d);
  ebm::CounterRng(5, 0).normal<double>(0, std::span<double>(x.data(), static_cast<std::size_t>(x.size())));

  const TempDir dir;
  std::ostringstream config;
  config << ebm::activation_name(activation) << "\n";
  for (Index w : widths) config << w << " ";
  std::ofstream(dir.path() / "config.txt") << config.str() << "\n";
  write_text_matrix(dir.path() / "x.txt", x);
  for (Index l = 0; l < mlp.layers(); ++l) {
    write_text_matrix(dir.path() / (torch_name(static_cast<std::size_t>(2 * l)) + ".txt"), mlp.weight(l));
    write_text_matrix(dir.path() / (torch_name(static_cast<std::size_t>(2 * l + 1)) + ".txt"), mlp.bias(l));
  }
  const std::string error = run_torch_reference(dir.path());
  ASSERT_TRUE(error.empty()) << error;

  const Results ours = ebm_results(mlp, x);
  const Results torch = torch_results(dir.path(), 2 * static_cast<std::size_t>(mlp.layers()));
  EXPECT_TRUE(agrees("E", ours.energy, torch.energy));
  EXPECT_TRUE(agrees("grad_x E", ours.grad_x, torch.grad_x));
  EXPECT_TRUE(agrees("Laplacian", ours.laplacian, torch.laplacian));
  EXPECT_TRUE(agrees("loss", ours.loss, torch.loss));
  for (std::size_t k = 0; k < ours.loss_grads.size(); ++k) {
    const std::string what = "d/d" + torch_name(k);
    EXPECT_TRUE(agrees(what.c_str(), ours.loss_grads[k], torch.loss_grads[k]));
  }

  const ebm::ModelOf<double, Mlp> model(mlp);
  const auto fast = ebm::exact_score_matching(model, x, ebm::LaplacianRoute::Forward, true);
  EXPECT_TRUE(agrees("forward-route loss", MatD::Constant(1, 1, fast.loss), torch.loss));
  for (std::size_t k = 0; k < fast.gradients.size(); ++k) {
    const std::string what = "forward d/d" + torch_name(k);
    EXPECT_TRUE(agrees(what.c_str(), fast.gradients[k], torch.loss_grads[k]));
  }
}

class TorchReference : public ::testing::TestWithParam<Activation> {};

TEST_P(TorchReference, EnergyGradientsLaplacianAndScoreMatchingLossAgree) { compare_with_torch({4, 16, 16, 1}, GetParam()); }

TEST_P(TorchReference, GramFactorRouteAgreesWhenTheInputIsWiderThanTheNetwork) {
  compare_with_torch({12, 8, 8, 1}, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Activations, TorchReference,
                         ::testing::Values(Activation::Softplus, Activation::Tanh, Activation::Silu,
                                           Activation::Gelu, Activation::Elu),
                         [](const ::testing::TestParamInfo<Activation>& param_info) {
                           return std::string(ebm::activation_name(param_info.param));
                         });

}  // namespace
