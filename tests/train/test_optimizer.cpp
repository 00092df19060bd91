// Optimisers, schedules, clipping, EMA and early stopping.
//
// Adam, AdamW and SGD are checked against torch.optim in float64: fixed random parameters and
// 20 steps of fixed random gradients, with a different lr at every step (a warm-up + cosine
// schedule, so the per-step lr path is exercised), are written to a temporary directory as
// text (%.17g: doubles round-trip exactly); optimizer_oracle.py runs torch on them and writes
// back the final parameters and optimizer state. They must agree to 1e-13 relative
// (max |ebm - torch| / max |torch| per matrix): the same operations in the same order, except
// that torch's vectorised add may fuse a multiply-add, ~1 ulp per operation over 20 steps.
// Missing /usr/bin/python3 or torch is a failure, not a skip.
#include <ebm/core/error.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/train/optimizer.hpp>

#include <gtest/gtest.h>

#include "support/test_support.hpp"

#include <stdlib.h>  // mkdtemp
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iterator>
#include <limits>
#include <numbers>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using ebm::Index;
using ebm::Mat;
using ebm::MatD;
using ebm::MatF;

constexpr double kRelTol = 1e-13;

// ---- helpers -------------------------------------------------------------------------------

using ebm_test::TempDir;

std::string run_oracle(const fs::path& dir) {
  return ebm_test::run_python("train/optimizer_oracle.py", {dir.string()}, dir / "stderr.txt");
}

::testing::AssertionResult agrees(const std::string& what, const MatD& ours, const MatD& ref, double tol = kRelTol) {
  if (ours.rows() != ref.rows() || ours.cols() != ref.cols())
    return ::testing::AssertionFailure() << what << ": ebm is " << ours.rows() << "x" << ours.cols() << ", reference "
                                         << ref.rows() << "x" << ref.cols();
  const double scale = std::max(ref.cwiseAbs().maxCoeff(), std::numeric_limits<double>::min());
  const double rel = (ours - ref).cwiseAbs().maxCoeff() / scale;
  std::printf("    %-22s max|ebm - ref| / max|ref| = %.3g\n", what.c_str(), rel);
  if (rel <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": relative difference " << rel << " > " << tol;
}

template <class T>
Mat<T> random_matrix(Index rows, Index cols, std::uint64_t stream, std::uint64_t counter, double scale = 1) {
  Mat<double> m(rows, cols);
  ebm::CounterRng(11, stream).normal<double>(counter, std::span<double>(m.data(), static_cast<std::size_t>(m.size())));
  return (m * scale).cast<T>();
}

// Shapes of a small MLP's parameters (weight_0, bias_0, weight_1, bias_1).
const std::vector<std::pair<Index, Index>> kShapes = {{5, 4}, {1, 5}, {1, 5}, {1, 1}};

template <class T>
std::vector<Mat<T>> initial_params() {
  std::vector<Mat<T>> p;
  for (std::size_t i = 0; i < kShapes.size(); ++i) p.push_back(random_matrix<T>(kShapes[i].first, kShapes[i].second, i, 0));
  return p;
}

// Gradients at step t; parameter 2's are small, so that eps matters in Adam's denominator.
template <class T>
std::vector<Mat<T>> gradients(std::int64_t t) {
  std::vector<Mat<T>> g;
  for (std::size_t i = 0; i < kShapes.size(); ++i)
    g.push_back(random_matrix<T>(kShapes[i].first, kShapes[i].second, 100 + i, static_cast<std::uint64_t>(t) + 1,
                                 i == 2 ? 1e-7 : 1.0));
  return g;
}

template <class T>
std::vector<Mat<T>*> pointers(std::vector<Mat<T>>& v) {
  std::vector<Mat<T>*> p;
  for (Mat<T>& m : v) p.push_back(&m);
  return p;
}

constexpr int kSteps = 20;

ebm::LrSchedule test_schedule() {
  ebm::LrSchedule s;
  s.kind = ebm::LrSchedule::Kind::Cosine;
  s.warmup_steps = 3;
  s.total_steps = kSteps;
  s.min_lr_fraction = 0.1;
  return s;
}

// ---- torch oracle: optimisers --------------------------------------------------------------

struct OptCase {
  std::string name;
  std::string kind;  // adam, adamw, sgd
  ebm::AdamOptions adam;
  ebm::SgdOptions sgd;
};

std::vector<OptCase> opt_cases() {
  std::vector<OptCase> cases;
  OptCase c;
  c.name = "adam";
  c.kind = "adam";
  c.adam.lr = 0.05;
  cases.push_back(c);
  c.name = "adam_l2";
  c.adam.weight_decay = 0.1;
  cases.push_back(c);
  c.name = "adamw";
  c.kind = "adamw";
  c.adam.decoupled_weight_decay = true;
  c.adam.weight_decay = 0.2;
  cases.push_back(c);
  c.name = "adam_betas_eps";
  c.kind = "adam";
  c.adam = {};
  c.adam.lr = 0.02;
  c.adam.beta1 = 0.8;
  c.adam.beta2 = 0.95;
  c.adam.eps = 1e-6;
  cases.push_back(c);
  c = {};
  c.name = "sgd_momentum";
  c.kind = "sgd";
  c.sgd.lr = 0.05;
  c.sgd.momentum = 0.9;
  cases.push_back(c);
  c.name = "sgd_nesterov_wd";
  c.sgd.nesterov = true;
  c.sgd.weight_decay = 0.01;
  cases.push_back(c);
  c.name = "sgd_plain_wd";
  c.sgd.nesterov = false;
  c.sgd.momentum = 0;
  c.sgd.weight_decay = 0.05;
  cases.push_back(c);
  return cases;
}

ebm::Optimizer<double> make_optimizer(const OptCase& c) {
  return c.kind == "sgd" ? ebm::Optimizer<double>(c.sgd) : ebm::Optimizer<double>(c.adam);
}

struct ClipCase {
  std::string name;
  double max_norm;
};
const std::vector<ClipCase> kClipCases = {{"clip_active", 1.5}, {"clip_inactive", 1e3}};

std::vector<MatD> clip_grads() {
  std::vector<MatD> g;
  for (std::size_t i = 0; i < kShapes.size(); ++i) g.push_back(random_matrix<double>(kShapes[i].first, kShapes[i].second, 200 + i, 0));
  return g;
}

class TorchOracle : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const std::vector<MatD> p0 = initial_params<double>();
    const ebm::LrSchedule schedule = test_schedule();
    for (const OptCase& c : opt_cases()) {
      const fs::path d = dir_->path() / c.name;
      fs::create_directories(d);
      std::ofstream cfg(d / "config.txt");
      cfg << std::setprecision(17) << "kind " << c.kind << "\nparams " << p0.size() << "\nsteps " << kSteps << "\n";
      if (c.kind == "sgd")
        cfg << "lr " << c.sgd.lr << "\nmomentum " << c.sgd.momentum << "\nweight_decay " << c.sgd.weight_decay
            << "\nnesterov " << (c.sgd.nesterov ? 1 : 0) << "\n";
      else
        cfg << "lr " << c.adam.lr << "\nbeta1 " << c.adam.beta1 << "\nbeta2 " << c.adam.beta2 << "\neps " << c.adam.eps
            << "\nweight_decay " << c.adam.weight_decay << "\n";
      const double base = c.kind == "sgd" ? c.sgd.lr : c.adam.lr;
      std::ofstream lrs(d / "lr.txt");
      lrs << std::setprecision(17);
      for (int t = 0; t < kSteps; ++t) lrs << base * schedule.factor(t) << "\n";
      for (std::size_t i = 0; i < p0.size(); ++i) ebm_test::write_text_matrix(d / ("param." + std::to_string(i) + ".txt"), p0[i]);
      for (int t = 0; t < kSteps; ++t) {
        const std::vector<MatD> g = gradients<double>(t);
        for (std::size_t i = 0; i < g.size(); ++i)
          ebm_test::write_text_matrix(d / ("grad." + std::to_string(t) + "." + std::to_string(i) + ".txt"), g[i]);
      }
    }
    for (const ClipCase& c : kClipCases) {
      const fs::path d = dir_->path() / c.name;
      fs::create_directories(d);
      std::ofstream(d / "config.txt") << std::setprecision(17) << "kind clip\nparams " << kShapes.size()
                                      << "\nmax_norm " << c.max_norm << "\n";
      const std::vector<MatD> g = clip_grads();
      for (std::size_t i = 0; i < g.size(); ++i) ebm_test::write_text_matrix(d / ("grad." + std::to_string(i) + ".txt"), g[i]);
    }
    error_ = run_oracle(dir_->path());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static void check_optimizers();
  static void check_clipping();
  static TempDir* dir_;
  static std::string error_;
};
TempDir* TorchOracle::dir_ = nullptr;
std::string TorchOracle::error_;

// One test, so that ctest (one process per test) starts Python and imports torch once.
TEST_F(TorchOracle, OptimizersAndClippingAgreeWithTorch) {
  ASSERT_TRUE(error_.empty()) << error_;
  check_optimizers();
  check_clipping();
}

void TorchOracle::check_optimizers() {
  const ebm::LrSchedule schedule = test_schedule();
  for (const OptCase& c : opt_cases()) {
    SCOPED_TRACE(c.name);
    std::printf("  %s\n", c.name.c_str());
    ebm::Optimizer<double> opt = make_optimizer(c);
    std::vector<MatD> params = initial_params<double>();
    for (int t = 0; t < kSteps; ++t) opt.step(pointers(params), gradients<double>(t), opt.base_lr() * schedule.factor(t));
    EXPECT_EQ(opt.steps_taken(), kSteps);
    const fs::path d = dir_->path() / c.name;
    for (std::size_t i = 0; i < params.size(); ++i) {
      EXPECT_TRUE(agrees("param " + std::to_string(i), params[i], ebm_test::read_text_matrix(d / ("out.param." + std::to_string(i) + ".txt"))));
      // The parameters moved: the comparison is not of two copies of the initial values. (Parameter
      // 2's gradients are ~1e-7: under SGD it moves little, its momentum buffer is compared below.)
      const double moved = (params[i] - initial_params<double>()[i]).cwiseAbs().maxCoeff();
      if (i == 2) EXPECT_GT(moved, 0.0);
      else EXPECT_GT(moved, 1e-3);
    }
    const ebm::OptimizerState<double> state = opt.state();
    const std::vector<std::string> names = opt.state_names();
    ASSERT_EQ(names.size(), state.buffers.size());
    const std::size_t expected = c.kind == "sgd" ? (c.sgd.momentum > 0 ? 4 : 0) : 8;
    EXPECT_EQ(state.buffers.size(), expected);
    for (std::size_t k = 0; k < names.size(); ++k)
      EXPECT_TRUE(agrees(names[k], state.buffers[k], ebm_test::read_text_matrix(d / ("out." + names[k] + ".txt"))));
  }
}

void TorchOracle::check_clipping() {
  for (const ClipCase& c : kClipCases) {
    SCOPED_TRACE(c.name);
    std::vector<MatD> g = clip_grads();
    // The formula: the L2 norm of all entries as one vector.
    double sq = 0;
    for (const MatD& m : g) sq += m.squaredNorm();
    const double expected_norm = std::sqrt(sq);
    const double norm = ebm::clip_grad_norm(g, c.max_norm);
    const fs::path d = dir_->path() / c.name;
    EXPECT_TRUE(agrees("norm", MatD::Constant(1, 1, norm), ebm_test::read_text_matrix(d / "out.norm.txt")));
    EXPECT_NEAR(norm, expected_norm, 1e-14 * expected_norm);
    double after = 0;
    for (std::size_t i = 0; i < g.size(); ++i) {
      EXPECT_TRUE(agrees("grad " + std::to_string(i), g[i], ebm_test::read_text_matrix(d / ("out.grad." + std::to_string(i) + ".txt"))));
      after += g[i].squaredNorm();
    }
    const double expected_after = expected_norm > c.max_norm ? c.max_norm * expected_norm / (expected_norm + 1e-6) : expected_norm;
    EXPECT_NEAR(std::sqrt(after), expected_after, 1e-14 * expected_after);
  }
}

// ---- closed forms and properties -----------------------------------------------------------

TEST(Adam, FirstStepIsLrTimesGradientOverItsMagnitude) {
  // After one step m = (1 - b1) g, v = (1 - b2) g^2, and the bias corrections cancel them:
  // p1 = p0 - lr g / (|g| + eps).
  ebm::AdamOptions o;
  o.lr = 0.01;
  o.eps = 1e-3;  // large, so the eps term is visible
  ebm::Optimizer<double> opt(o);
  std::vector<MatD> p = initial_params<double>();
  const std::vector<MatD> p0 = p, g = gradients<double>(0);
  opt.step(pointers(p), g);
  for (std::size_t i = 0; i < p.size(); ++i) {
    const MatD expected = p0[i].array() - o.lr * g[i].array() / (g[i].array().abs() + o.eps);
    EXPECT_TRUE(agrees("param " + std::to_string(i), p[i], expected, 1e-15));
  }
}

TEST(Sgd, ConstantGradientGivesGeometricMomentum) {
  // With a constant gradient g the buffer after t steps is g (1 - mu^t) / (1 - mu), and the
  // parameter moves by lr times the sum of the buffers.
  ebm::SgdOptions o;
  o.lr = 0.1;
  o.momentum = 0.5;
  ebm::Optimizer<double> opt(o);
  MatD p = MatD::Zero(1, 2);
  const std::vector<MatD> g = {(MatD(1, 2) << 1.0, -2.0).finished()};
  std::vector<MatD*> params = {&p};
  double moved = 0;
  for (int t = 1; t <= 5; ++t) {
    opt.step(params, g);
    moved += (1 - std::pow(o.momentum, t)) / (1 - o.momentum);
  }
  EXPECT_NEAR(p(0, 0), -o.lr * moved * 1.0, 1e-15);
  EXPECT_NEAR(p(0, 1), -o.lr * moved * -2.0, 1e-15);
}

// Runs `total` float steps; with split >= 0, exports the state after `split` steps into a fresh
// optimizer built from the same options and continues with that one.
template <class Options>
std::vector<MatF> run_float(const Options& o, int total, int split) {
  std::vector<MatF> params = initial_params<float>();
  const ebm::LrSchedule schedule = test_schedule();
  ebm::Optimizer<float> opt(o);
  for (int t = 0; t < total; ++t) {
    if (t == split) {
      const ebm::OptimizerState<float> exported = opt.state();
      ebm::Optimizer<float> fresh(o);
      fresh.load_state(exported);
      opt = fresh;
    }
    opt.step(pointers(params), gradients<float>(t), opt.base_lr() * schedule.factor(t));
  }
  return params;
}

template <class Options>
void expect_resume_bit_identical(const Options& o) {
  const std::vector<MatF> straight = run_float(o, kSteps, -1);
  for (int split : {0, 1, 7}) {
    const std::vector<MatF> resumed = run_float(o, kSteps, split);
    for (std::size_t i = 0; i < straight.size(); ++i)
      EXPECT_TRUE(straight[i] == resumed[i]) << "split at " << split << ", parameter " << i;
  }
}

TEST(OptimizerState, ResumingFromExportedStateIsBitIdentical) {
  ebm::AdamOptions adam;
  adam.lr = 0.05;
  adam.weight_decay = 0.1;
  expect_resume_bit_identical(adam);
  adam.decoupled_weight_decay = true;
  expect_resume_bit_identical(adam);
  ebm::SgdOptions sgd;
  sgd.nesterov = true;
  sgd.weight_decay = 0.01;
  expect_resume_bit_identical(sgd);
  // The check can fail: losing the state (a fresh optimizer without load_state) changes the result.
  std::vector<MatF> params = initial_params<float>();
  ebm::Optimizer<float> a(adam), b(adam);
  std::vector<MatF> other = params;
  a.step(pointers(params), gradients<float>(0));
  b.step(pointers(other), gradients<float>(0));
  ebm::Optimizer<float> fresh(adam);
  a.step(pointers(params), gradients<float>(1));
  fresh.step(pointers(other), gradients<float>(1));
  EXPECT_FALSE(params[0] == other[0]);
}

TEST(OptimizerState, NamesStepsAndReset) {
  ebm::Optimizer<double> adam{ebm::AdamOptions{}};
  EXPECT_EQ(adam.name(), "adam");
  EXPECT_TRUE(adam.state().buffers.empty());
  std::vector<MatD> p = initial_params<double>();
  adam.step(pointers(p), gradients<double>(0));
  const std::vector<std::string> expected = {"0.exp_avg", "0.exp_avg_sq", "1.exp_avg", "1.exp_avg_sq",
                                             "2.exp_avg", "2.exp_avg_sq", "3.exp_avg", "3.exp_avg_sq"};
  EXPECT_EQ(adam.state_names(), expected);
  EXPECT_EQ(adam.state().steps, 1);
  adam.reset();
  EXPECT_EQ(adam.steps_taken(), 0);
  EXPECT_TRUE(adam.state().buffers.empty());
  ebm::AdamOptions w;
  w.decoupled_weight_decay = true;
  EXPECT_EQ(ebm::Optimizer<float>(w).name(), "adamw");
  ebm::SgdOptions s;
  ebm::Optimizer<double> sgd(s);
  EXPECT_EQ(sgd.name(), "sgd");
  sgd.step(pointers(p), gradients<double>(0));
  EXPECT_EQ(sgd.state_names(), (std::vector<std::string>{"0.momentum_buffer", "1.momentum_buffer", "2.momentum_buffer",
                                                         "3.momentum_buffer"}));
  s.momentum = 0;
  ebm::Optimizer<double> plain(s);
  plain.step(pointers(p), gradients<double>(0));
  EXPECT_TRUE(plain.state().buffers.empty());
  EXPECT_EQ(plain.steps_taken(), 1);
}

// ---- errors --------------------------------------------------------------------------------

template <class E, class F>
void expect_throw_with(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const E& e) {
    const std::string what = e.what();
    for (const std::string& part : parts) EXPECT_NE(what.find(part), std::string::npos) << "'" << part << "' not in: " << what;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

TEST(OptimizerErrors, ShapeAndCountMismatchesNameTheParameter) {
  ebm::Optimizer<double> opt{ebm::AdamOptions{}};
  std::vector<MatD> p = initial_params<double>();
  std::vector<MatD> g = gradients<double>(0);
  g[1] = MatD::Zero(5, 1);
  expect_throw_with<ebm::InvalidArgument>([&] { opt.step(pointers(p), g); },
                                          {"Optimizer::step", "parameter 1", "1x5", "5x1"});
  g.pop_back();
  expect_throw_with<ebm::InvalidArgument>([&] { opt.step(pointers(p), g); }, {"4 parameters", "3 gradients"});
  expect_throw_with<ebm::InvalidArgument>([&] { opt.step({}, {}); }, {"no parameters"});
  // After a step the state fixes the shapes.
  opt.step(pointers(p), gradients<double>(0));
  std::vector<MatD> q = p;
  q[3] = MatD::Zero(2, 2);
  std::vector<MatD> gq = gradients<double>(1);
  gq[3] = MatD::Zero(2, 2);
  expect_throw_with<ebm::InvalidArgument>([&] { opt.step(pointers(q), gq); },
                                          {"parameter 3", "2x2", "optimizer state", "1x1"});
  q.pop_back();
  gq.pop_back();
  expect_throw_with<ebm::InvalidArgument>([&] { opt.step(pointers(q), gq); }, {"state is for 4 parameters", "got 3"});
  expect_throw_with<ebm::InvalidArgument>([&] { opt.step(pointers(p), gradients<double>(1), -1.0); }, {"lr", "-1"});
  expect_throw_with<ebm::InvalidArgument>(
      [&] { opt.step(pointers(p), gradients<double>(1), std::numeric_limits<double>::quiet_NaN()); }, {"lr"});
  EXPECT_EQ(opt.steps_taken(), 1);
}

TEST(OptimizerErrors, NonFiniteGradientChangesNothing) {
  for (const OptCase& c : opt_cases()) {
    SCOPED_TRACE(c.name);
    ebm::Optimizer<double> opt = make_optimizer(c);
    std::vector<MatD> p = initial_params<double>();
    opt.step(pointers(p), gradients<double>(0));
    const std::vector<MatD> before = p;
    const ebm::OptimizerState<double> state_before = opt.state();
    std::vector<MatD> g = gradients<double>(1);
    g[3](0, 0) = std::numeric_limits<double>::infinity();  // the last parameter: the others come first
    expect_throw_with<ebm::NumericalError>([&] { opt.step(pointers(p), g); }, {"Optimizer::step", "parameter 3", "inf"});
    g[3](0, 0) = 0;
    g[0](2, 1) = std::numeric_limits<double>::quiet_NaN();
    expect_throw_with<ebm::NumericalError>([&] { opt.step(pointers(p), g); }, {"parameter 0", "row 2, column 1"});
    for (std::size_t i = 0; i < p.size(); ++i) EXPECT_TRUE(p[i] == before[i]);
    EXPECT_EQ(opt.steps_taken(), 1);
    const ebm::OptimizerState<double> state_after = opt.state();
    ASSERT_EQ(state_after.buffers.size(), state_before.buffers.size());
    for (std::size_t k = 0; k < state_after.buffers.size(); ++k) EXPECT_TRUE(state_after.buffers[k] == state_before.buffers[k]);
  }
}

TEST(OptimizerErrors, OptionsAreValidated) {
  auto adam = [](auto edit) {
    ebm::AdamOptions o;
    edit(o);
    return o;
  };
  auto sgd = [](auto edit) {
    ebm::SgdOptions o;
    edit(o);
    return o;
  };
  expect_throw_with<ebm::InvalidArgument>([&] { adam([](auto& o) { o.lr = -1; }).validate(); }, {"AdamOptions::lr", "-1"});
  expect_throw_with<ebm::InvalidArgument>([&] { adam([](auto& o) { o.beta1 = 1; }).validate(); }, {"AdamOptions::beta1"});
  expect_throw_with<ebm::InvalidArgument>([&] { adam([](auto& o) { o.beta2 = -0.1; }).validate(); }, {"AdamOptions::beta2"});
  expect_throw_with<ebm::InvalidArgument>([&] { adam([](auto& o) { o.eps = 0; }).validate(); }, {"AdamOptions::eps"});
  expect_throw_with<ebm::InvalidArgument>([&] { adam([](auto& o) { o.weight_decay = -1; }).validate(); },
                                          {"AdamOptions::weight_decay"});
  expect_throw_with<ebm::InvalidArgument>([&] { static_cast<void>(ebm::Optimizer<float>(adam([](auto& o) { o.lr = std::numeric_limits<double>::infinity(); }))); },
                                          {"AdamOptions::lr", "inf"});
  expect_throw_with<ebm::InvalidArgument>([&] { sgd([](auto& o) { o.momentum = 1; }).validate(); }, {"SgdOptions::momentum"});
  expect_throw_with<ebm::InvalidArgument>([&] { sgd([](auto& o) { o.lr = -0.5; }).validate(); }, {"SgdOptions::lr"});
  expect_throw_with<ebm::InvalidArgument>(
      [&] {
        static_cast<void>(ebm::Optimizer<double>(sgd([](auto& o) {
          o.momentum = 0;
          o.nesterov = true;
        })));
      },
      {"SgdOptions::nesterov", "momentum"});
  EXPECT_NO_THROW(ebm::AdamOptions{}.validate());
  EXPECT_NO_THROW(ebm::SgdOptions{}.validate());
}

TEST(OptimizerErrors, LoadStateChecksAndLeavesTheOptimizerUnchanged) {
  ebm::Optimizer<double> adam{ebm::AdamOptions{}};
  std::vector<MatD> p = initial_params<double>();
  adam.step(pointers(p), gradients<double>(0));
  ebm::OptimizerState<double> good = adam.state();

  ebm::OptimizerState<double> bad = good;
  bad.steps = -1;
  expect_throw_with<ebm::InvalidArgument>([&] { adam.load_state(bad); }, {"Optimizer::load_state", "steps", "-1"});
  bad = good;
  bad.buffers.pop_back();
  expect_throw_with<ebm::InvalidArgument>([&] { adam.load_state(bad); }, {"7 buffers", "2 per parameter"});
  bad = good;
  bad.steps = 0;
  expect_throw_with<ebm::InvalidArgument>([&] { adam.load_state(bad); }, {"steps = 0", "expected none"});
  bad = good;
  bad.buffers[3](0, 1) = -1;
  expect_throw_with<ebm::InvalidArgument>([&] { adam.load_state(bad); }, {"1.exp_avg_sq", "negative"});
  bad = good;
  bad.buffers[2](0, 0) = std::numeric_limits<double>::quiet_NaN();
  expect_throw_with<ebm::NumericalError>([&] { adam.load_state(bad); }, {"1.exp_avg", "nan"});
  bad = good;
  bad.buffers[5] = MatD::Zero(3, 3);
  expect_throw_with<ebm::InvalidArgument>([&] { adam.load_state(bad); }, {"2.exp_avg_sq", "3x3"});
  // None of that changed anything: the next step equals that of an untouched copy.
  ebm::Optimizer<double> twin{ebm::AdamOptions{}};
  twin.load_state(good);
  std::vector<MatD> q = p;
  adam.step(pointers(p), gradients<double>(1));
  twin.step(pointers(q), gradients<double>(1));
  for (std::size_t i = 0; i < p.size(); ++i) EXPECT_TRUE(p[i] == q[i]);

  // Shapes that do not fit the parameters are caught at the next step.
  ebm::OptimizerState<double> wrong = good;
  wrong.buffers[0] = MatD::Zero(4, 5);
  wrong.buffers[1] = MatD::Zero(4, 5);
  ebm::Optimizer<double> loaded{ebm::AdamOptions{}};
  loaded.load_state(wrong);
  expect_throw_with<ebm::InvalidArgument>([&] { loaded.step(pointers(p), gradients<double>(1)); },
                                          {"parameter 0", "5x4", "4x5"});

  ebm::SgdOptions plain;
  plain.momentum = 0;
  ebm::Optimizer<double> sgd(plain);
  expect_throw_with<ebm::InvalidArgument>([&] { sgd.load_state(good); }, {"without momentum"});
}

// ---- schedules -----------------------------------------------------------------------------

TEST(LrSchedule, FactorsMatchClosedForms) {
  using Kind = ebm::LrSchedule::Kind;
  const double pi = std::numbers::pi;
  ebm::LrSchedule s;
  EXPECT_EQ(s.factor(0), 1.0);
  EXPECT_EQ(s.factor(123456), 1.0);

  s.kind = Kind::Cosine;
  s.warmup_steps = 10;
  s.total_steps = 110;
  s.min_lr_fraction = 0.2;
  for (std::int64_t t : {0, 1, 5, 9}) EXPECT_DOUBLE_EQ(s.factor(t), static_cast<double>(t) / 10) << t;
  for (std::int64_t t : {10, 11, 35, 60, 85, 109}) {
    const double u = static_cast<double>(t - 10) / 100;
    EXPECT_NEAR(s.factor(t), 0.2 + 0.8 * (1 + std::cos(pi * u)) / 2, 1e-15) << t;
  }
  EXPECT_DOUBLE_EQ(s.factor(10), 1.0);
  EXPECT_NEAR(s.factor(60), 0.6, 1e-15);  // half way: (1 + min) / 2
  EXPECT_EQ(s.factor(110), 0.2);
  EXPECT_EQ(s.factor(1000), 0.2);

  s.kind = Kind::Linear;
  for (std::int64_t t : {10, 35, 60, 109}) {
    const double u = static_cast<double>(t - 10) / 100;
    EXPECT_NEAR(s.factor(t), 0.2 + 0.8 * (1 - u), 1e-15) << t;
  }
  EXPECT_EQ(s.factor(500), 0.2);

  s = {};
  s.kind = Kind::Step;
  s.step_every = 100;
  s.gamma = 0.5;
  EXPECT_EQ(s.factor(0), 1.0);
  EXPECT_EQ(s.factor(99), 1.0);
  EXPECT_EQ(s.factor(100), 0.5);
  EXPECT_EQ(s.factor(250), 0.25);
  s.min_lr_fraction = 0.3;
  EXPECT_EQ(s.factor(250), 0.3);
  s.warmup_steps = 4;
  EXPECT_EQ(s.factor(2), 0.5);
  EXPECT_EQ(s.factor(103), 1.0);
  EXPECT_EQ(s.factor(104), 0.5);

  s = {};
  s.kind = Kind::Exponential;
  s.gamma = 0.99;
  for (std::int64_t t : {0, 1, 7, 300}) EXPECT_NEAR(s.factor(t), std::pow(0.99, static_cast<double>(t)), 1e-15) << t;
}

TEST(LrSchedule, ParseAndFormatRoundTrip) {
  using Kind = ebm::LrSchedule::Kind;
  const ebm::LrSchedule c = ebm::parse_lr_schedule("cosine,warmup=500,min=0.1");
  EXPECT_EQ(c.kind, Kind::Cosine);
  EXPECT_EQ(c.warmup_steps, 500);
  EXPECT_EQ(c.total_steps, 0);  // for the trainer to fill in
  EXPECT_EQ(c.min_lr_fraction, 0.1);
  const ebm::LrSchedule st = ebm::parse_lr_schedule("step:1000:0.5");
  EXPECT_EQ(st.kind, Kind::Step);
  EXPECT_EQ(st.step_every, 1000);
  EXPECT_EQ(st.gamma, 0.5);
  EXPECT_EQ(ebm::parse_lr_schedule("step:10").gamma, 0.1);
  const ebm::LrSchedule e = ebm::parse_lr_schedule("exp:0.999");
  EXPECT_EQ(e.kind, Kind::Exponential);
  EXPECT_EQ(e.gamma, 0.999);
  EXPECT_EQ(ebm::parse_lr_schedule("exponential:0.5").kind, Kind::Exponential);
  EXPECT_EQ(ebm::parse_lr_schedule("constant").kind, Kind::Constant);
  EXPECT_EQ(ebm::parse_lr_schedule("linear,total=100").total_steps, 100);
  for (const char* text : {"constant", "cosine", "linear,warmup=10,total=1000,min=0.05", "step:1000:0.5",
                           "exp:0.999,warmup=100", "cosine,warmup=500,min=0.1", "step:7:0.25,warmup=3,min=0.01"}) {
    const ebm::LrSchedule s = ebm::parse_lr_schedule(text);
    EXPECT_EQ(ebm::format_lr_schedule(s), text);
    const ebm::LrSchedule again = ebm::parse_lr_schedule(ebm::format_lr_schedule(s));
    EXPECT_EQ(again.kind, s.kind);
    EXPECT_EQ(again.warmup_steps, s.warmup_steps);
    EXPECT_EQ(again.total_steps, s.total_steps);
    EXPECT_EQ(again.min_lr_fraction, s.min_lr_fraction);
    EXPECT_EQ(again.step_every, s.step_every);
    EXPECT_EQ(again.gamma, s.gamma);
  }
  ebm::LrSchedule odd;
  odd.kind = Kind::Exponential;
  odd.gamma = 0.1 + 0.2;  // not a short decimal: printed with enough digits to round-trip
  EXPECT_EQ(ebm::parse_lr_schedule(ebm::format_lr_schedule(odd)).gamma, odd.gamma);
}

TEST(LrSchedule, ErrorsNameTheProblem) {
  using ebm::InvalidArgument;
  expect_throw_with<InvalidArgument>([] { ebm::parse_lr_schedule("cosin"); }, {"parse_lr_schedule", "'cosin'", "unknown kind"});
  expect_throw_with<InvalidArgument>([] { ebm::parse_lr_schedule(""); }, {"unknown kind ''"});
  expect_throw_with<InvalidArgument>([] { ebm::parse_lr_schedule("step"); }, {"'step' takes 1 to 2 arguments, got 0"});
  expect_throw_with<InvalidArgument>([] { ebm::parse_lr_schedule("exp"); }, {"'exp' takes 1 argument"});
  expect_throw_with<InvalidArgument>([] { ebm::parse_lr_schedule("cosine:0.1"); }, {"no arguments"});
  expect_throw_with<InvalidArgument>([] { ebm::parse_lr_schedule("step:ten"); }, {"EVERY 'ten' is not an integer"});
  expect_throw_with<InvalidArgument>([] { ebm::parse_lr_schedule("exp:0.9x"); }, {"GAMMA '0.9x' is not a number"});
  expect_throw_with<InvalidArgument>([] { ebm::parse_lr_schedule("exp:1.5"); }, {"gamma", "1.5"});
  expect_throw_with<InvalidArgument>([] { ebm::parse_lr_schedule("step:0"); }, {"step_every", "0"});
  expect_throw_with<InvalidArgument>([] { ebm::parse_lr_schedule("cosine,warmup=-1"); }, {"warmup_steps", "-1"});
  expect_throw_with<InvalidArgument>([] { ebm::parse_lr_schedule("cosine,min=2"); }, {"min_lr_fraction", "2"});
  expect_throw_with<InvalidArgument>([] { ebm::parse_lr_schedule("cosine,warmup=10,total=5"); }, {"total_steps > warmup_steps"});
  expect_throw_with<InvalidArgument>([] { ebm::parse_lr_schedule("cosine,warm=10"); }, {"unknown option 'warm'"});
  expect_throw_with<InvalidArgument>([] { ebm::parse_lr_schedule("cosine,warmup"); }, {"not KEY=VALUE"});
  expect_throw_with<InvalidArgument>([] { ebm::parse_lr_schedule("cosine,min=0.1,min=0.2"); }, {"given twice"});
  expect_throw_with<InvalidArgument>([] { ebm::parse_lr_schedule("constant,"); }, {"not KEY=VALUE"});
  ebm::LrSchedule s;
  s.kind = ebm::LrSchedule::Kind::Cosine;  // total_steps left 0
  expect_throw_with<InvalidArgument>([&] { s.factor(0); }, {"LrSchedule::total_steps", "cosine"});
  expect_throw_with<InvalidArgument>([] { ebm::LrSchedule{}.factor(-1); }, {"LrSchedule::factor", "-1"});
}

// ---- clipping ------------------------------------------------------------------------------

TEST(ClipGradNorm, NoClippingAndFloat) {
  std::vector<MatF> g = gradients<float>(3);
  g[2] *= 1e6f;
  const std::vector<MatF> before = g;
  double sq = 0;
  for (const MatF& m : g) sq += m.cast<double>().squaredNorm();
  EXPECT_NEAR(ebm::clip_grad_norm(g, 0.0), std::sqrt(sq), 1e-14 * std::sqrt(sq));  // <= 0: norm only
  EXPECT_NEAR(ebm::clip_grad_norm(g, -1.0), std::sqrt(sq), 1e-14 * std::sqrt(sq));
  EXPECT_NEAR(ebm::clip_grad_norm(g, std::numeric_limits<double>::infinity()), std::sqrt(sq), 1e-14 * std::sqrt(sq));
  for (std::size_t i = 0; i < g.size(); ++i) EXPECT_TRUE(g[i] == before[i]);
  ebm::clip_grad_norm(g, 0.5);
  double after = 0;
  for (const MatF& m : g) after += m.cast<double>().squaredNorm();
  EXPECT_NEAR(std::sqrt(after), 0.5, 1e-6);  // float rounding of ~30 entries
  std::vector<MatF> none;
  EXPECT_EQ(ebm::clip_grad_norm(none, 1.0), 0.0);
}

TEST(ClipGradNorm, HugeFiniteGradientsDoNotOverflow) {
  std::vector<MatD> g = {MatD::Constant(2, 2, 1e300), MatD::Constant(1, 5, -1e300)};
  const double norm = ebm::clip_grad_norm(g, 3.0);
  EXPECT_NEAR(norm, 3e300, 1e-14 * 3e300);  // sqrt(9) * 1e300
  EXPECT_NEAR(g[0](0, 0), 1.0, 1e-14);
  EXPECT_NEAR(g[1](0, 4), -1.0, 1e-14);
}

TEST(ClipGradNorm, NonFiniteGradientThrowsBeforeChangingAnything) {
  std::vector<MatD> g = gradients<double>(0);
  g[2](0, 3) = std::numeric_limits<double>::quiet_NaN();
  const MatD first = g[0];
  expect_throw_with<ebm::NumericalError>([&] { ebm::clip_grad_norm(g, 1e-3); },
                                         {"clip_grad_norm", "parameter 2", "row 0, column 3"});
  EXPECT_TRUE(g[0] == first);
  std::vector<MatD> ok = gradients<double>(0);
  expect_throw_with<ebm::InvalidArgument>([&] { ebm::clip_grad_norm(ok, std::numeric_limits<double>::quiet_NaN()); },
                                          {"max_norm", "NaN"});
}

// ---- EMA -----------------------------------------------------------------------------------

TEST(Ema, FirstUpdateCopiesThenAveragesGeometrically) {
  // p0 first, then a constant c: shadow_k = c + decay^k (p0 - c).
  const double decay = 0.9;
  ebm::Ema<double> ema(decay);
  EXPECT_TRUE(ema.shadow().empty());
  std::vector<MatD> p = initial_params<double>();
  const std::vector<MatD> p0 = p;
  ema.update(pointers(p));
  for (std::size_t i = 0; i < p.size(); ++i) EXPECT_TRUE(ema.shadow()[i] == p0[i]);
  std::vector<MatD> c = gradients<double>(0);
  for (int k = 1; k <= 10; ++k) ema.update(pointers(c));
  EXPECT_EQ(ema.updates(), 11);
  for (std::size_t i = 0; i < p.size(); ++i) {
    const MatD expected = c[i] + std::pow(decay, 10) * (p0[i] - c[i]);
    EXPECT_TRUE(agrees("shadow " + std::to_string(i), ema.shadow()[i], expected, 1e-14));
  }
  // copy_to writes the average into the parameters.
  ema.copy_to(pointers(p));
  for (std::size_t i = 0; i < p.size(); ++i) EXPECT_TRUE(p[i] == ema.shadow()[i]);
}

TEST(Ema, StateResumesBitIdenticallyAndErrorsAreChecked) {
  ebm::Ema<float> a(0.99);
  for (int t = 0; t < 5; ++t) {
    std::vector<MatF> p = gradients<float>(t);
    a.update(pointers(p));
  }
  ebm::Ema<float> b(0.99);
  b.load_state(a.state());
  for (int t = 5; t < 10; ++t) {
    std::vector<MatF> p = gradients<float>(t);
    a.update(pointers(p));
    b.update(pointers(p));
  }
  EXPECT_EQ(b.updates(), 10);
  for (std::size_t i = 0; i < a.shadow().size(); ++i) EXPECT_TRUE(a.shadow()[i] == b.shadow()[i]);

  expect_throw_with<ebm::InvalidArgument>([] { ebm::Ema<float> bad(1.0); }, {"Ema", "decay", "1"});
  expect_throw_with<ebm::InvalidArgument>([] { ebm::Ema<float> bad(-0.1); }, {"decay"});
  std::vector<MatF> p = gradients<float>(0);
  p[1] = MatF::Zero(2, 2);
  const std::vector<MatF> shadow = a.shadow();
  expect_throw_with<ebm::InvalidArgument>([&] { a.update(pointers(p)); }, {"Ema::update", "parameter 1", "2x2", "1x5"});
  for (std::size_t i = 0; i < shadow.size(); ++i) EXPECT_TRUE(a.shadow()[i] == shadow[i]);
  p.pop_back();
  expect_throw_with<ebm::InvalidArgument>([&] { a.update(pointers(p)); }, {"3 parameters", "has 4"});
  expect_throw_with<ebm::InvalidArgument>([&] { ebm::Ema<float>(0.5).copy_to(pointers(p)); }, {"no update yet"});
  ebm::EmaState<float> bad = a.state();
  bad.updates = 0;
  expect_throw_with<ebm::InvalidArgument>([&] { b.load_state(bad); }, {"Ema::load_state", "updates = 0"});
  bad = a.state();
  bad.shadow[0](0, 0) = std::numeric_limits<float>::infinity();
  expect_throw_with<ebm::NumericalError>([&] { b.load_state(bad); }, {"average of parameter 0"});
}

// ---- early stopping ------------------------------------------------------------------------

TEST(EarlyStopping, StopsAfterPatienceEvaluationsWithoutImprovement) {
  ebm::EarlyStopping stop(2, 0.1);
  EXPECT_EQ(stop.best(), std::numeric_limits<double>::infinity());
  EXPECT_FALSE(stop.update(1.0, 100));
  EXPECT_TRUE(stop.improved());
  EXPECT_FALSE(stop.update(0.95, 200));  // better, but not by more than min_delta: bad 1
  EXPECT_FALSE(stop.improved());
  EXPECT_FALSE(stop.update(0.85, 300));  // improvement: resets
  EXPECT_TRUE(stop.improved());
  EXPECT_EQ(stop.best(), 0.85);
  EXPECT_EQ(stop.best_step(), 300);
  EXPECT_FALSE(stop.update(0.9, 400));  // bad 1
  const ebm::EarlyStoppingState saved = stop.state();
  EXPECT_TRUE(stop.update(0.8, 500));  // bad 2 = patience: stop (0.8 is not < 0.85 - 0.1)
  EXPECT_TRUE(stop.should_stop());
  EXPECT_TRUE(stop.update(0.1, 600));  // stays stopped
  EXPECT_EQ(stop.best(), 0.85);
  EXPECT_EQ(stop.state().evaluations, 6);

  // Resuming from the saved state takes the same decision.
  ebm::EarlyStopping resumed(2, 0.1);
  resumed.load_state(saved);
  EXPECT_EQ(resumed.best_step(), 300);
  EXPECT_TRUE(resumed.update(0.8, 500));
}

TEST(EarlyStopping, PatienceZeroNeverStopsAndNonFiniteLossStops) {
  ebm::EarlyStopping never(0);
  for (int k = 0; k < 50; ++k) EXPECT_FALSE(never.update(1.0 + k));
  EXPECT_EQ(never.best(), 1.0);
  EXPECT_EQ(never.best_step(), 0);  // evaluation index when no step is given
  EXPECT_TRUE(never.update(std::numeric_limits<double>::quiet_NaN()));
  ebm::EarlyStopping diverged(10);
  EXPECT_FALSE(diverged.update(2.0));
  EXPECT_TRUE(diverged.update(std::numeric_limits<double>::infinity()));
  EXPECT_EQ(diverged.best(), 2.0);

  expect_throw_with<ebm::InvalidArgument>([] { ebm::EarlyStopping bad(-1); }, {"patience", "-1"});
  expect_throw_with<ebm::InvalidArgument>([] { ebm::EarlyStopping bad(1, -0.5); }, {"min_delta", "-0.5"});
  ebm::EarlyStoppingState s;
  s.evaluations = 1;
  s.bad_evaluations = 2;
  expect_throw_with<ebm::InvalidArgument>([&] { diverged.load_state(s); }, {"EarlyStopping::load_state", "bad_evaluations = 2"});
  s = {};
  s.best = 1.0;  // a best without its step
  expect_throw_with<ebm::InvalidArgument>([&] { diverged.load_state(s); }, {"best_step = -1"});
}

}  // namespace
