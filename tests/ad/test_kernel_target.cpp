// The matrix products on each instruction set: forcing the AVX2 and the AVX-512 kernels on one
// machine gives the same bits for every route of the product (narrow outputs, whole and partial
// packets, row blocks and their remainders, bias or none) and for a network's energy, score and
// parameter gradient. On a CPU without AVX-512 the comparison cannot run; forcing the missing
// target must then be refused.
#include <ebm/ad/kernel_target.hpp>
#include <ebm/ad/ops.hpp>
#include <ebm/core/error.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/nn/network.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace {

namespace ad = ebm::ad;
using ebm::Index;

template <class T>
ebm::Mat<T> normal(Index rows, Index cols, std::uint64_t seed) {
  ebm::Mat<T> m(rows, cols);
  ebm::CounterRng(seed, 0).normal<T>(0, std::span<T>(m.data(), static_cast<std::size_t>(m.size())));
  return m;
}

template <class T>
bool same_bits(const ebm::Mat<T>& a, const ebm::Mat<T>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(T) * static_cast<std::size_t>(a.size())) == 0;
}

// Restores the automatic choice's target after a test forces one.
class KernelTargets : public ::testing::Test {
 public:
  void SetUp() override { initial_ = ad::kernel_target(); }
  void TearDown() override { ad::set_kernel_target(initial_); }
  // Runs f once per target; false (and the test skipped) when the CPU has only AVX2.
  template <class F>
  bool on_both(F&& f) {
    if (!ad::cpu_supports(ad::KernelTarget::Avx512)) return false;
    ad::set_kernel_target(ad::KernelTarget::Avx2);
    f(0);
    ad::set_kernel_target(ad::KernelTarget::Avx512);
    f(1);
    return true;
  }

 private:
  ad::KernelTarget initial_ = ad::KernelTarget::Avx2;
};

// x W + b (and x W^T, and the weight gradient x^T g) over shapes that reach every block of
// both kernels: 1..13 rows, outputs of 1..100 columns, depths 1..300.
template <class T>
void products_agree(KernelTargets& fixture, bool& compared) {
  const Index rows[] = {1, 2, 3, 5, 6, 7, 8, 13};
  const Index cols[] = {1, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 65, 100, 130};
  const Index depths[] = {1, 3, 17, 300};
  std::uint64_t seed = 1;
  for (Index n : rows)
    for (Index m : cols)
      for (Index k : depths) {
        const ebm::Mat<T> x = normal<T>(n, k, seed++), w = normal<T>(k, m, seed++), b = normal<T>(1, m, seed++);
        ebm::Mat<T> out[2][3];
        compared = fixture.on_both([&](int target) {
          ad::Tape<T> tape;
          const auto xv = tape.constant(x), wv = tape.constant(w), bv = tape.constant(b);
          out[target][0] = ad::add(ad::matmul(xv, wv), bv).value();
          out[target][1] = ad::matmul(xv, tape.constant(ebm::Mat<T>(w.transpose())), ad::Trans::No, ad::Trans::Yes).value();
          out[target][2] = ad::matmul(xv, tape.constant(normal<T>(n, m, 99)), ad::Trans::Yes, ad::Trans::No).value();
        });
        if (!compared) return;
        for (int route = 0; route < 3; ++route)
          ASSERT_TRUE(same_bits(out[0][route], out[1][route])) << "n " << n << " m " << m << " k " << k << " route " << route;
      }
}

TEST_F(KernelTargets, ProductsGiveTheSameBitsOnBothTargets) {
  bool compared = false;
  products_agree<float>(*this, compared);
  if (!compared) GTEST_SKIP() << "this CPU has no AVX-512: only the AVX2 kernels can run";
  products_agree<double>(*this, compared);
}

TEST_F(KernelTargets, NetworksGiveTheSameBitsOnBothTargets) {
  const char* architectures[] = {
      R"({"type": "mlp", "widths": [2, 64, 64, 1], "activation": "softplus"})",
      R"({"input": [8, 8, 1], "layers": [{"type": "conv2d", "out": 16, "kernel": 3, "padding": 1}, {"type": "silu"},
          {"type": "conv2d", "out": 8, "kernel": 3, "stride": 2}, {"type": "silu"}, {"type": "flatten"},
          {"type": "linear", "out": 1}]})"};
  for (const char* json : architectures) {
    const ebm::nn::Network<float> network = ebm::nn::Network<float>::from_json(json, 3, "architecture");
    const ebm::MatF x = normal<float>(37, network.dim(), 5);
    ebm::MatF energy[2], score[2], weight_grad[2];
    const bool compared = on_both([&](int target) {
      ad::Tape<float> tape;
      auto params = network.bind(tape, true);
      const auto xv = tape.variable(x);
      const auto e = network.energy(xv, params);
      const auto total = ad::sum(e);
      const auto g = tape.grad(total, {xv, params.front()}, {.create_graph = false});
      energy[target] = e.value();
      score[target] = g[0].value();
      weight_grad[target] = g[1].value();
    });
    if (!compared) GTEST_SKIP() << "this CPU has no AVX-512: only the AVX2 kernels can run";
    EXPECT_TRUE(same_bits(energy[0], energy[1])) << json;
    EXPECT_TRUE(same_bits(score[0], score[1])) << json;
    EXPECT_TRUE(same_bits(weight_grad[0], weight_grad[1])) << json;
  }
}

TEST_F(KernelTargets, AMissingTargetIsRefused) {
  EXPECT_TRUE(ad::cpu_supports(ad::KernelTarget::Avx2));  // the build's baseline
  EXPECT_EQ(ad::kernel_target_name(ad::KernelTarget::Avx512), "avx512");
  if (ad::cpu_supports(ad::KernelTarget::Avx512)) {
    ad::set_kernel_target(ad::KernelTarget::Avx512);
    EXPECT_EQ(ad::kernel_target(), ad::KernelTarget::Avx512);
  } else {
    try {
      ad::set_kernel_target(ad::KernelTarget::Avx512);
      ADD_FAILURE() << "forcing AVX-512 on a CPU without it was accepted";
    } catch (const ebm::InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("this CPU has no avx512"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
