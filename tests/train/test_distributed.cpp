// Data-parallel training over K processes (here K threads, tests/support/thread_world.hpp):
// every objective gives the same parameters, losses and PCD replay buffer, bit for bit, for
// K = 1, 2, 3 and 5 (more processes than some runs have blocks), and a run resumed with another
// K continues as if uninterrupted. A failure on one process stops them all with its message.
#include "support/thread_world.hpp"

#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/energy/mlp.hpp>
#include <ebm/nn/network.hpp>
#include <ebm/train/trainer.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace {

using ebm::Index;
using ebm::MatF;

MatF data(Index rows, Index cols) {
  MatF m(rows, cols);
  ebm::CounterRng(11, 0).normal<float>(0, std::span<float>(m.data(), static_cast<std::size_t>(m.size())));
  return m;
}

struct Outcome {
  std::vector<MatF> parameters;
  std::vector<double> losses, held_out;
  MatF replay;
  ebm::TrainerState<float> state;
};

struct Case {
  const char* name;
  ebm::ObjectiveKind kind;
  int levels = 1;  // dsm: a noise ladder with a noise-conditional network when > 1
};

ebm::ObjectiveOptions objective_of(const Case& c) {
  ebm::ObjectiveOptions o;
  o.kind = c.kind;
  o.buffer_size = 150;  // pcd: smaller than the batch, so some rows have no chain
  o.langevin_steps = 3;
  o.energy_penalty = 0.1;
  if (c.levels > 1) {
    o.noise_levels = c.levels;
    o.sigma = 0.1;
    o.sigma_max = 2;
  }
  return o;
}

constexpr const char* kConditional = R"({"input": 3, "condition": {"fourier_features": 4, "max_frequency": 4, "width": 8},
  "sigma_power": 1, "layers": [{"type": "linear", "out": 16}, {"type": "film"}, {"type": "softplus"}, {"type": "linear", "out": 1}]})";

// Trains the run up to step `to` (-1: to its end) on this process, continuing from `from` (its
// parameters and trainer state) when given.
Outcome train(const Case& c, const ebm::Communicator& comm, std::int64_t to, const Outcome* from = nullptr) {
  const MatF x = data(400, 3), held = data(70, 3);
  ebm::TrainerOptions t;
  t.steps = 6;
  t.batch_size = 200;  // blocks of 16: 13 blocks, the last of 8 rows
  t.block_rows = 16;
  t.seed = 5;
  t.clip_norm = 5;
  t.ema_decay = 0.9;
  auto run = [&](ebm::Model<float>& model) {
    if (from)
      model.edit_parameters([&](const std::vector<MatF*>& p) {
        for (std::size_t i = 0; i < p.size(); ++i) *p[i] = from->parameters[i];
      });
    ebm::Trainer<float> trainer(model, objective_of(c), t, comm);
    if (from) trainer.load_state(from->state);
    const ebm::TrainResult r = trainer.run(x, &held, {}, to);
    const ebm::TrainerState<float> state = trainer.state();
    return Outcome{model.parameter_values(), r.losses, r.held_out, state.replay_buffer, state};
  };
  if (c.levels > 1) {
    auto net = ebm::nn::Network<float>::from_json(kConditional, 3);
    ebm::ModelOf<float, ebm::nn::Network<float>> model(net);
    return run(model);
  }
  ebm::MlpOptions arch;
  arch.widths = {3, 16, 16, 1};
  ebm::Mlp<float> mlp(arch);
  ebm::ModelOf<float, ebm::Mlp<float>> model(mlp);
  return run(model);
}

// The outcome of every process of a K-process run (they must agree too).
std::vector<Outcome> train_on(int k, const std::function<Outcome(const ebm::Communicator&)>& body) {
  std::vector<Outcome> outcomes(static_cast<std::size_t>(k));
  ebm_test::ThreadWorld::run(k, [&](const ebm::Communicator& comm) { outcomes[static_cast<std::size_t>(comm.rank())] = body(comm); });
  return outcomes;
}

bool same(const MatF& a, const MatF& b) { return a.rows() == b.rows() && a.cols() == b.cols() && a == b; }

void expect_same(const Outcome& a, const Outcome& b, const std::string& what) {
  ASSERT_EQ(a.parameters.size(), b.parameters.size()) << what;
  for (std::size_t i = 0; i < a.parameters.size(); ++i) EXPECT_TRUE(same(a.parameters[i], b.parameters[i])) << what << ": parameter " << i;
  EXPECT_EQ(a.losses, b.losses) << what;
  EXPECT_EQ(a.held_out, b.held_out) << what;
  EXPECT_TRUE(same(a.replay, b.replay)) << what << ": replay buffer";
}

class Distributed : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override { ebm::set_num_threads(1); }
};

TEST_P(Distributed, EveryProcessCountGivesTheBitsOfOne) {
  const Case c = GetParam();
  const Outcome one = train(c, ebm::single_process(), -1);
  ASSERT_EQ(one.losses.size(), 6u);
  for (int k : {2, 3, 5, 13, 16}) {
    const std::vector<Outcome> all = train_on(k, [&](const ebm::Communicator& comm) { return train(c, comm, -1); });
    for (int r = 0; r < k; ++r) expect_same(all[static_cast<std::size_t>(r)], one, std::to_string(k) + " processes, rank " + std::to_string(r));
  }
}

TEST_P(Distributed, AResumeWithAnotherProcessCountContinuesTheRun) {
  const Case c = GetParam();
  const Outcome whole = train(c, ebm::single_process(), -1);
  // Steps 0..3 on 2 processes, then 3..6 on 3 from what process 1 of the first part holds.
  const Outcome first = train_on(2, [&](const ebm::Communicator& comm) { return train(c, comm, 3); })[1];
  ASSERT_EQ(first.state.step, 3);
  const std::vector<Outcome> second = train_on(3, [&](const ebm::Communicator& comm) { return train(c, comm, -1, &first); });
  for (int r = 0; r < 3; ++r) {
    const Outcome& o = second[static_cast<std::size_t>(r)];
    for (std::size_t i = 0; i < o.parameters.size(); ++i) EXPECT_TRUE(same(o.parameters[i], whole.parameters[i])) << "rank " << r << ", parameter " << i;
    EXPECT_TRUE(same(o.replay, whole.replay)) << "rank " << r;
    EXPECT_EQ(first.losses.size() + o.losses.size(), whole.losses.size());
    for (std::size_t s = 0; s < o.losses.size(); ++s) EXPECT_EQ(o.losses[s], whole.losses[first.losses.size() + s]) << "step " << s + 3;
  }
}

// Bad data on one process: every process throws, with that process's message, and none waits.
TEST(DistributedFailure, BadDataOnOneProcessStopsThemAll) {
  ebm::set_num_threads(1);
  std::vector<std::string> messages(3);
  ebm_test::ThreadWorld::run(3, [&](const ebm::Communicator& comm) {
    MatF x = data(100, 3);
    if (comm.rank() == 2) x(7, 1) = std::numeric_limits<float>::quiet_NaN();
    ebm::MlpOptions arch;
    arch.widths = {3, 8, 1};
    ebm::Mlp<float> mlp(arch);
    ebm::ModelOf<float, ebm::Mlp<float>> model(mlp);
    ebm::TrainerOptions t;
    t.steps = 3;
    t.block_rows = 16;
    ebm::Trainer<float> trainer(model, ebm::ObjectiveOptions{}, t, comm);
    try {
      trainer.run(x);
    } catch (const ebm::NumericalError& e) {
      messages[static_cast<std::size_t>(comm.rank())] = e.what();
    }
  });
  for (const std::string& m : messages) {
    EXPECT_NE(m.find("training data"), std::string::npos) << m;
    EXPECT_EQ(m, messages[2]);
  }
}

INSTANTIATE_TEST_SUITE_P(Objectives, Distributed,
                         ::testing::Values(Case{"sm", ebm::ObjectiveKind::ExactSm}, Case{"ssm", ebm::ObjectiveKind::SlicedSm},
                                           Case{"dsm", ebm::ObjectiveKind::DenoisingSm},
                                           Case{"dsm_ladder", ebm::ObjectiveKind::DenoisingSm, 4},
                                           Case{"cd", ebm::ObjectiveKind::Cd}, Case{"pcd", ebm::ObjectiveKind::Pcd}),
                         [](const ::testing::TestParamInfo<Case>& p) { return std::string(p.param.name); });

}  // namespace
