// The facade as a C++ user meets it: requests checked field by field, sampling and log Z of an
// analytic energy against closed forms, training stopped and resumed bit for bit, and a model
// trained in memory the same as the file it saves.
#include <ebm/data/toy.hpp>
#include <ebm/facade/density.hpp>
#include <ebm/facade/energy.hpp>
#include <ebm/facade/sample.hpp>
#include <ebm/facade/train.hpp>
#include <ebm/io/checkpoint.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <functional>
#include <string>

#include "support/test_support.hpp"

namespace ebm::facade {
namespace {

const char* kGaussian = R"({"type": "gaussian", "mean": [1, -2], "cov": [[1, 0], [0, 4]]})";

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "(no InvalidArgument)";
}

TEST(FacadeRequests, NameTheFieldAndTheValue) {
  struct Case {
    std::function<void(SampleRequest&)> edit;
    std::string expected;
  };
  const Case cases[] = {
      {[](SampleRequest& r) { r.chains = 0; }, "chains: must be >= 1, got 0"},
      {[](SampleRequest& r) { r.burn_in = -1; }, "burn_in: must be >= 0, got -1"},
      {[](SampleRequest& r) { r.step_size = -1; }, "step_size: must be > 0, got -1"},
      {[](SampleRequest& r) { r.sampler = "gibbs"; }, "sampler: expected ula, sde, flow, mala"},
      {[](SampleRequest& r) { r.metric = "full"; }, "metric: expected unit, diag or dense, got 'full'"},
      {[](SampleRequest& r) { r.target_accept = 1; }, "target_accept: must be in (0, 1), got 1"},
      {[](SampleRequest& r) { r.denoise = true; }, "denoise: only with sampler ncsn"},
  };
  for (const Case& c : cases) {
    SampleRequest r;
    c.edit(r);
    EXPECT_EQ(message_of([&] { r.validate(); }).rfind(c.expected, 0), 0u) << message_of([&] { r.validate(); });
  }
  TrainRequest t;
  t.lr = -1;
  EXPECT_EQ(message_of([&] { t.validate(); }), "lr: must be > 0, got -1");
  t = TrainRequest();
  t.checkpoint_every = 5;
  EXPECT_EQ(message_of([&] { t.validate(); }), "checkpoint_every: needs a checkpoint file");
  t = TrainRequest();
  t.objective = "mle";
  EXPECT_EQ(message_of([&] { t.validate(); }).rfind("objective: expected sm, ssm, dsm, cd or pcd", 0), 0u);
  LogZRequest z;
  z.method = "simpson";
  EXPECT_EQ(message_of([&] { z.validate(); }), "normalize: expected grid or ais, got 'simpson'");
}

// Unset fields take the objective's defaults; what a run records (and a resume restores) is the
// value it used, and a value given, 0 included, is kept.
TEST(FacadeRequests, ContrastiveDivergenceHasItsOwnDefaults) {
  TrainRequest t;
  EXPECT_EQ(t.steps_or_default(), 1000);
  EXPECT_EQ(t.energy_penalty_or_default(), 0);
  t.objective = "cd";
  EXPECT_EQ(t.steps_or_default(), 5000);
  EXPECT_EQ(t.langevin_step_size_or_default(), 0.05);
  EXPECT_EQ(t.energy_penalty_or_default(), 0.1);
  EXPECT_EQ(t.objective_options().energy_penalty, 0.1);
  EXPECT_EQ(t.trainer_options().steps, 5000);
  const nlohmann::json saved = nlohmann::json::parse(t.run_config());
  EXPECT_EQ(saved["steps"], 5000);
  EXPECT_EQ(saved["langevin-step-size"], 0.05);
  EXPECT_EQ(saved["energy-penalty"], 0.1);
  t.objective = "pcd";
  EXPECT_EQ(t.langevin_step_size_or_default(), 0.01);
  EXPECT_EQ(t.energy_penalty_or_default(), 0.1);
  t.energy_penalty = 0;
  t.steps = 7;
  EXPECT_EQ(t.objective_options().energy_penalty, 0);
  EXPECT_EQ(t.trainer_options().steps, 7);
  t.langevin_step_size = -1;
  EXPECT_EQ(message_of([&] { t.validate(); }), "langevin_step_size: must be > 0, got -1");
}

// The rate decays by a cosine over the run, except for pcd; a schedule given is kept, and the
// saved options hold the one used.
TEST(FacadeRequests, TheScheduleDefaultsToACosineExceptForPcd) {
  TrainRequest t;
  for (const char* objective : {"sm", "ssm", "dsm", "cd"}) {
    t.objective = objective;
    EXPECT_EQ(t.trainer_options().schedule.kind, ebm::LrSchedule::Kind::Cosine) << objective;
    EXPECT_EQ(nlohmann::json::parse(t.run_config())["schedule"], "cosine") << objective;
  }
  t.objective = "pcd";
  EXPECT_EQ(t.trainer_options().schedule.kind, ebm::LrSchedule::Kind::Constant);
  EXPECT_EQ(nlohmann::json::parse(t.run_config())["schedule"], "constant");
  t.objective = "sm";
  t.schedule = "constant";
  EXPECT_EQ(t.trainer_options().schedule.kind, ebm::LrSchedule::Kind::Constant);
  t.schedule = "sine";
  EXPECT_EQ(message_of([&] { t.validate(); }).rfind("schedule: ", 0), 0u);
}

TEST(FacadeSample, NutsOnAGaussianHasItsMoments) {
  const LoadedEnergy<double> e = energy_from_json_text<double>(kGaussian);
  SampleRequest r;
  r.sampler = "nuts";
  r.chains = 4;
  r.steps = 2000;
  r.seed = 3;
  const Sampled<double> s = sample(e, r);
  ASSERT_TRUE(s.diagnostics.has_value());
  const McmcSummary& d = *s.diagnostics;
  const double mean[] = {1, -2}, sd[] = {1, 2};
  for (Index j = 0; j < 2; ++j) {
    EXPECT_LT(std::abs(d.mean(j) - mean[j]), 5 * d.mcse_mean(j)) << j;
    EXPECT_NEAR(d.sd(j), sd[j], 0.1 * sd[j]) << j;
  }
  EXPECT_EQ(s.step_of(0), 1000 + 1);  // burn-in steps / 2, thin 1
  EXPECT_EQ(s.result.draws_per_chain, 1000);
}

TEST(FacadeSample, NcsnNeedsAConditionalModelAndMemoryIsChecked) {
  const LoadedEnergy<double> e = energy_from_json_text<double>(kGaussian);
  SampleRequest r;
  r.sampler = "ncsn";
  EXPECT_NE(message_of([&] { (void)sample(e, r); }).find("sampler: ncsn needs a noise-conditional model"), std::string::npos);
  r = SampleRequest();
  r.chains = 1000000;
  r.steps = 100000000;
  EXPECT_NE(message_of([&] { (void)sample(e, r); }).find("more than half this machine's memory"), std::string::npos);
}

TEST(FacadeDensity, GridLogZAndLogPOfAGaussian) {
  const LoadedEnergy<double> e = energy_from_json_text<double>(kGaussian);
  MatD x(3, 2);
  x << 0, 0, 1, -2, 2.5, 1;
  LogZRequest z;
  z.box = {{-14.0, 16.0}};
  const LogZResult r = log_z(e, x, z);
  EXPECT_NEAR(r.log_z, std::log(2 * M_PI * 2), 1e-6);
  const LogP p = log_p(e, x, MatD::Zero(1, 2), 32, z);
  for (Index i = 0; i < 3; ++i) {
    const double u = x(i, 0) - 1, v = (x(i, 1) + 2) / 2;
    EXPECT_NEAR(p.log_p(i), -0.5 * (u * u + v * v) - std::log(2 * M_PI * 2), 1e-6) << i;
  }
}

TEST(FacadeTrain, StoppedAndResumedIsTheUninterruptedRun) {
  const auto& dir = ebm_test::process_temp_dir();
  const MatF data = make_toy<float>(ToyDataset::TwoMoons, 300, 1);
  TrainRequest r;
  r.model = "mlp:16x16:softplus";
  r.steps = 30;
  r.batch = 64;
  r.seed = 2;
  const Trained<float> whole = train(data, r);
  EXPECT_FALSE(whole.interrupted_at.has_value());
  EXPECT_EQ(whole.info.step, 30);

  TrainRequest stopped = r;
  stopped.interrupt_checkpoint = dir.file("facade_stop.safetensors");
  std::int64_t seen = 0;
  stopped.on_step = [&](const TrainProgress& p) { seen = p.step; };
  stopped.should_stop = [&] { return seen == 11; };
  const Trained<float> first = train(data, stopped);
  ASSERT_TRUE(first.interrupted_at.has_value());
  EXPECT_EQ(*first.interrupted_at, 11);
  EXPECT_EQ(first.interrupt_checkpoint, stopped.interrupt_checkpoint);

  TrainRequest resumed = r;
  resumed.resume = stopped.interrupt_checkpoint;
  const Trained<float> rest = train(data, resumed);
  EXPECT_EQ(rest.result.first_step, 11);
  const std::vector<MatF>& a = whole.network.parameter_values();
  const std::vector<MatF>& b = rest.network.parameter_values();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i] == b[i]) << "parameter " << i;

  // In memory as from its file: the same energies on raw data.
  io::save_model<float>(dir.file("facade_whole.safetensors"), whole.network, whole.info);
  const LoadedEnergy<float> from_file = load_model<float>(dir.file("facade_whole.safetensors"));
  const LoadedEnergy<float> in_memory = model_energy<float>(whole.network, whole.info, "(memory)");
  Vec<float> e1, e2;
  from_file.evaluate(data, e1, nullptr);
  in_memory.evaluate_rows(data.data(), data.rows(), data.cols(), e2, nullptr);
  EXPECT_TRUE(e1 == e2);
}

TEST(FacadeTrain, RefusesWhatDoesNotFit) {
  const MatF data = make_toy<float>(ToyDataset::TwoMoons, 50, 1);
  TrainRequest r;
  r.model = "mlp:8:relu";
  EXPECT_NE(message_of([&] { (void)train(data, r); }).find("model: the network uses"), std::string::npos);
  r = TrainRequest();
  r.held_out = 0.999;
  EXPECT_NE(message_of([&] { (void)train(data, r); }).find("held_out:"), std::string::npos);
  r = TrainRequest();
  r.model = "mlp:0";
  EXPECT_NE(message_of([&] { (void)train(data, r); }).find("bad width '0'"), std::string::npos);
}

}  // namespace
}  // namespace ebm::facade
