// The thread setting, and bit-identical results for 1 and 2 threads through the engine's
// parallel kernels (products that sum over the batch, reductions, elementwise ops, Langevin).
#include <ebm/ad/ops.hpp>
#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/energy/mlp.hpp>
#include <ebm/sample/langevin.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace {

using ebm::Index;
using ebm::Mat;

template <class T>
Mat<T> random_matrix(Index rows, Index cols, std::uint64_t seed) {
  Mat<T> m(rows, cols);
  ebm::CounterRng(seed, 0).normal<T>(0, std::span<T>(m.data(), static_cast<std::size_t>(m.size())));
  return m;
}

// Runs f with 1 and then 2 threads and expects identical bits.
template <class F>
void expect_same_for_1_and_2_threads(F f) {
  ebm::set_num_threads(1);
  const auto one = f();
  ebm::set_num_threads(2);
  const auto two = f();
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(0, std::memcmp(one.data(), two.data(), sizeof(one[0]) * one.size()));
}

template <class T>
std::vector<T> flat(const Eigen::Ref<const Mat<T>>& m) {
  return std::vector<T>(m.data(), m.data() + m.size());
}

TEST(Threads, SettingIsValidatedAndHonoured) {
  EXPECT_THROW(ebm::set_num_threads(0), ebm::InvalidArgument);
  ebm::set_num_threads(2);
  EXPECT_EQ(ebm::num_threads(), 2);
  ebm::set_num_threads(1);
  EXPECT_EQ(ebm::num_threads(), 1);
}

TEST(Threads, ChunksCoverEveryIndexOnce) {
  ebm::set_num_threads(2);
  std::vector<int> hits(1003, 0);
  ebm::parallel_for_chunks(1003, 10, [&](Index b, Index e) {
    for (Index i = b; i < e; ++i) ++hits[static_cast<std::size_t>(i)];
  });
  for (int h : hits) ASSERT_EQ(h, 1);
  EXPECT_THROW(ebm::parallel_for_chunks(5, 0, [](Index, Index) {}), ebm::InvalidArgument);
}

TEST(Threads, MlpGradientsAreBitIdentical) {
  // Batch 5000: products over the batch split into several chunks, elementwise ops in parallel.
  const ebm::Mlp<float> mlp(ebm::MlpOptions{.widths = {3, 64, 64, 1}, .activation = ebm::Activation::Silu, .seed = 3});
  const Mat<float> x = random_matrix<float>(5000, 3, 4);
  expect_same_for_1_and_2_threads([&] {
    ebm::ad::Tape<float> tape;
    const auto params = mlp.bind(tape, true);
    const auto xv = tape.variable_ref(x);
    ebm::ad::GradOptions<float> keep;
    keep.create_graph = true;
    const auto gx = tape.grad(ebm::ad::sum(mlp.energy(xv, params)), {xv}, keep)[0];
    const auto gp = tape.grad(ebm::ad::mean(ebm::ad::square(gx)), std::span<const ebm::ad::Var<float>>(params));
    std::vector<float> all = flat<float>(gx.value());
    for (const auto& g : gp) {
      const auto v = flat<float>(g.value());
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  });
}

TEST(Threads, ReductionsAreBitIdentical) {
  const Mat<double> a = random_matrix<double>(70000, 5, 8);
  expect_same_for_1_and_2_threads([&] {
    ebm::ad::Tape<double> tape;
    const auto v = tape.constant_ref(a);
    std::vector<double> out = flat<double>(ebm::ad::col_sums(v).value());
    out.push_back(ebm::ad::sum(v).item());
    return out;
  });
}

TEST(Threads, LangevinIsBitIdenticalAcrossThreadsAndBatchSplits) {
  const Mat<float> x0 = random_matrix<float>(3000, 2, 1), score = random_matrix<float>(3000, 2, 2);
  auto whole = [&] {
    Mat<float> x = x0;
    ebm::langevin_update<float>(x, score, 0.01f, 99, 5);
    return flat<float>(x);
  };
  expect_same_for_1_and_2_threads(whole);
  // The same chains updated in two batches, the second starting at chain 1000.
  Mat<float> head = x0.topRows(1000), tail = x0.bottomRows(2000);
  ebm::langevin_update<float>(head, Mat<float>(score.topRows(1000)), 0.01f, 99, 5, 0);
  ebm::langevin_update<float>(tail, Mat<float>(score.bottomRows(2000)), 0.01f, 99, 5, 1000);
  Mat<float> joined(3000, 2);
  joined << head, tail;
  EXPECT_EQ(flat<float>(joined), whole());
}

// A chain's score must not depend on which other chains share its batch: every row of a
// product whose rows follow the batch is computed the same way whatever the other rows are.
template <class T>
void expect_score_independent_of_batch_split(ebm::Activation act, std::vector<Index> widths) {
  const ebm::Mlp<T> mlp(ebm::MlpOptions{.widths = widths, .activation = act, .seed = 5});
  const Index n = 1000, d = widths.front();
  const Mat<T> x = random_matrix<T>(n, d, 6);
  ebm::ad::Tape<T> tape;
  Mat<T> full, part;
  mlp.score(tape, x, full);
  const ebm::Vec<T> energy_full = mlp.energy(tape, x);
  for (Index start : {Index(0), Index(1), Index(5), Index(17), Index(333), Index(999)}) {
    for (Index len : {Index(1), Index(2), Index(7), Index(13), Index(100)}) {
      if (start + len > n) continue;
      const Mat<T> rows = x.middleRows(start, len);
      mlp.score(tape, rows, part);
      ASSERT_EQ(0, std::memcmp(part.data(), full.data() + start * d, sizeof(T) * static_cast<std::size_t>(len * d)))
          << "score rows " << start << ".." << start + len;
      const ebm::Vec<T> energy_part = mlp.energy(tape, rows);
      ASSERT_EQ(0, std::memcmp(energy_part.data(), energy_full.data() + start, sizeof(T) * static_cast<std::size_t>(len)))
          << "energy rows " << start << ".." << start + len;
    }
  }
}

TEST(BatchSplit, MlpScoreAndEnergyAreBitIdenticalForAnySubBatch) {
  ebm::set_num_threads(2);
  expect_score_independent_of_batch_split<float>(ebm::Activation::Softplus, {2, 128, 128, 1});
  expect_score_independent_of_batch_split<float>(ebm::Activation::Tanh, {5, 40, 24, 1});  // widths not multiples of the SIMD width
  expect_score_independent_of_batch_split<double>(ebm::Activation::Silu, {3, 64, 33, 1});
}

}  // namespace
