// Tape mechanics: gradients of gradients to third order against closed forms, accumulation over
// repeated use, pruning, seeds, NoGrad, and the arena: a step recorded again after reset()
// reuses its buffers instead of allocating.
#include <ebm/ad/ops.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/energy/mlp.hpp>
#include <ebm/sample/langevin.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>

namespace {
std::atomic<long> g_allocations{0};
}

// Count every allocation: operator new here, and malloc from statically linked code (ebm and the
// Eigen code inlined into it) through the linker's --wrap=malloc.
extern "C" void* __real_malloc(std::size_t n);
extern "C" void* __wrap_malloc(std::size_t n) {
  ++g_allocations;
  return __real_malloc(n);
}
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = __real_malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using ebm::Index;
using ebm::Mat;
using ebm::MatD;
using Tape = ebm::ad::Tape<double>;
using Var = ebm::ad::Var<double>;

MatD matrix(std::initializer_list<std::initializer_list<double>> rows) {
  MatD m(static_cast<Index>(rows.size()), static_cast<Index>(rows.begin()->size()));
  Index i = 0;
  for (const auto& r : rows) {
    Index j = 0;
    for (double v : r) m(i, j++) = v;
    ++i;
  }
  return m;
}

ebm::ad::GradOptions<double> keep_graph() {
  ebm::ad::GradOptions<double> o;
  o.create_graph = true;
  return o;
}

TEST(Tape, ThirdDerivativeOfPolynomialAndExp) {
  // f(x) = sum(x^4 + exp(2x)): f' = 4x^3 + 2e^{2x}, f'' = 12x^2 + 4e^{2x}, f''' = 24x + 8e^{2x}.
  Tape t;
  const MatD x0 = matrix({{0.3, -1.2}, {2.0, 0.7}});
  const Var x = t.variable(x0);
  const Var f = ebm::ad::sum(ebm::ad::pow(x, 4.0) + ebm::ad::exp(x * 2.0));
  const Var g1 = t.grad(f, {x}, keep_graph())[0];
  const Var g2 = t.grad(ebm::ad::sum(g1), {x}, keep_graph())[0];
  const Var g3 = t.grad(ebm::ad::sum(g2), {x})[0];
  for (Index k = 0; k < x0.size(); ++k) {
    const double v = x0.data()[k];
    EXPECT_NEAR(g1.value().data()[k], 4 * v * v * v + 2 * std::exp(2 * v), 1e-12);
    EXPECT_NEAR(g2.value().data()[k], 12 * v * v + 4 * std::exp(2 * v), 1e-11);
    EXPECT_NEAR(g3.value().data()[k], 24 * v + 8 * std::exp(2 * v), 1e-10);
  }
  EXPECT_TRUE(g2.requires_grad());
  EXPECT_FALSE(g3.requires_grad());  // create_graph = false gives constants
}

TEST(Tape, GradientsAccumulateOverRepeatedUse) {
  // y = sum(x * x * w + x): dy/dx = 2 x w + 1, dy/dw = x^2 (w broadcast as 1x1).
  Tape t;
  const MatD x0 = matrix({{1.5, -2.0, 0.5}});
  const Var x = t.variable(x0), w = t.variable(matrix({{3.0}}));
  const Var y = ebm::ad::sum(x * x * w + x);
  const auto g = t.grad(y, {x, w});
  for (Index j = 0; j < 3; ++j) EXPECT_DOUBLE_EQ(g[0].value()(0, j), 2 * x0(0, j) * 3.0 + 1);
  EXPECT_DOUBLE_EQ(g[1].item(), x0.squaredNorm());
}

TEST(Tape, UnusedVariableGetsZeroAndSeedScalesGradient) {
  Tape t;
  const Var x = t.variable(matrix({{1.0, 2.0}})), unused = t.variable(matrix({{5.0}, {6.0}}));
  const Var y = x * 3.0;  // 1x2
  ebm::ad::GradOptions<double> o;
  o.seed = t.constant(matrix({{10.0, -1.0}}));
  const auto g = t.grad(y, {x, unused}, o);
  EXPECT_DOUBLE_EQ(g[0].value()(0, 0), 30.0);
  EXPECT_DOUBLE_EQ(g[0].value()(0, 1), -3.0);
  EXPECT_EQ(g[1].rows(), 2);
  EXPECT_EQ(g[1].value().cwiseAbs().sum(), 0.0);
}

TEST(Tape, PrunesBranchesThatDoNotReachTheTargets) {
  // Asking only for d/dx must not compute the weight gradient's product.
  Tape t;
  const Var x = t.variable(MatD::Ones(4, 3)), w = t.variable(MatD::Ones(5, 3));
  const Var y = ebm::ad::sum(ebm::ad::linear(x, w, Var()));
  const std::size_t before = t.size();
  t.grad(y, {x});
  std::size_t matmuls = 0;
  for (std::size_t i = before; i < t.size(); ++i)
    matmuls += t.node(static_cast<std::int32_t>(i)).op == ebm::ad::Op::MatMul;
  EXPECT_EQ(matmuls, 1u);
}

TEST(Tape, NoGradRecordsNothingAndRestores) {
  Tape t;
  const Var x = t.variable(matrix({{1.0}}));
  {
    ebm::ad::NoGrad<double> guard(t);
    EXPECT_FALSE((x * 2.0).requires_grad());
  }
  EXPECT_TRUE(t.recording());
  EXPECT_TRUE((x * 2.0).requires_grad());
}

TEST(Tape, ResetReusesBuffersSoASteadyLoopDoesNotAllocatePerOp) {
  // A Langevin loop on the MLP. After the first steps, a step allocates only the two small
  // vectors of Var handles that bind() and grad() return, plus, for products too large for
  // Eigen's stack limit, Eigen's GEMM packing workspace: never the matrices of the ops.
  const ebm::Mlp<float> mlp(ebm::MlpOptions{.widths = {2, 32, 32, 1}});
  for (Index batch : {Index(1), Index(64), Index(4096)}) {
    ebm::ad::Tape<float> tape;
    Mat<float> x = Mat<float>::Zero(batch, 2), score;
    auto step = [&](std::uint64_t k) {
      mlp.score(tape, x, score);
      ebm::langevin_update<float>(x, score, 0.01f, 1, k);
    };
    step(0);
    step(1);
    const long before = g_allocations.load();
    for (std::uint64_t k = 2; k < 12; ++k) step(k);
    const long per_step = (g_allocations.load() - before) / 10;
    long large_products = 0;
    for (std::size_t i = 0; i < tape.size(); ++i) {
      const auto& n = tape.node(static_cast<std::int32_t>(i));
      large_products += n.op == ebm::ad::Op::MatMul && n.rows * n.cols >= 4096 * 32;
    }
    EXPECT_LE(per_step, 2 + large_products) << "batch " << batch << ": " << per_step
                                            << " allocations per step, over " << tape.size() << " recorded ops";
  }
}

}  // namespace
