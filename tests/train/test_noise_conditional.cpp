// A noise-conditional network E(x | sigma) trained by denoising score matching over a noise
// ladder, on NCSN's toy target: 0.8 N((5, 5), I) + 0.2 N((-5, -5), I). Its modes are ten standard
// deviations apart, so Langevin dynamics at the data level cannot move mass between them: chains
// keep the split of their starting points (about half and half from a symmetric start) and get
// the weights wrong. Annealing over the model's own noise levels, from the widest (where the modes
// overlap) down to the narrowest, must recover the 0.8 / 0.2 weights (Song & Ermon 2019, Fig. 3).
#include <ebm/core/rng.hpp>
#include <ebm/energy/energy.hpp>
#include <ebm/nn/network.hpp>
#include <ebm/sample/samplers.hpp>
#include <ebm/train/model.hpp>
#include <ebm/train/objectives.hpp>
#include <ebm/train/trainer.hpp>

#include <gtest/gtest.h>

#include "support/test_support.hpp"

#include <cmath>
#include <memory>
#include <vector>

namespace {

using ebm::Index;
using ebm::MatF;

constexpr double kWeight = 0.8;

MatF mixture(Index n, std::uint64_t seed) {
  MatF x(n, 2);
  ebm::CounterRng(seed, 0).normal<float>(0, std::span<float>(x.data(), static_cast<std::size_t>(x.size())));
  std::vector<double> u(static_cast<std::size_t>(n));
  ebm::CounterRng(seed, 1).uniform<double>(0, std::span<double>(u.data(), u.size()));
  for (Index i = 0; i < n; ++i) x.row(i).array() += u[static_cast<std::size_t>(i)] < kWeight ? 5.0f : -5.0f;
  return x;
}

// Fraction of rows nearer (5, 5) than (-5, -5).
double upper_fraction(const MatF& x) {
  Index upper = 0;
  for (Index i = 0; i < x.rows(); ++i) upper += x(i, 0) + x(i, 1) > 0 ? 1 : 0;
  return double(upper) / double(x.rows());
}

constexpr const char* kArchitecture = R"({
  "input": 2,
  "condition": {"fourier_features": 8, "max_frequency": 4, "width": 32},
  "sigma_power": 1,
  "layers": [{"type": "linear", "out": 64}, {"type": "film"}, {"type": "softplus"},
             {"type": "linear", "out": 64}, {"type": "film"}, {"type": "softplus"},
             {"type": "linear", "out": 1}]
})";

TEST(NoiseConditional, AnnealingOverTheModelsLevelsRecoversMixtureWeightsThatLangevinGetsWrong) {
  auto net = std::make_shared<ebm::nn::Network<float>>(ebm::nn::Network<float>::from_json(kArchitecture, 3));
  ASSERT_TRUE(net->conditional());
  ebm::ObjectiveOptions objective;
  objective.kind = ebm::ObjectiveKind::DenoisingSm;
  objective.noise_levels = 10;
  objective.sigma = 0.1;
  objective.sigma_max = 10;
  ebm::TrainerOptions t;
  t.steps = 3000;
  t.batch_size = 256;
  t.seed = 5;
  t.adam.lr = 3e-3;
  t.schedule = ebm::parse_lr_schedule("cosine");
  ebm::ModelOf<float, ebm::nn::Network<float>> model(*net);
  ebm::Trainer<float> trainer(model, objective, t);
  trainer.run(mixture(8000, 1), nullptr);

  const std::vector<double> ladder = objective.noise_ladder();
  ebm::AnnealedOptions<float> o;
  o.chains = 2000;
  o.levels = static_cast<Index>(ladder.size());
  o.steps_per_level = 100;
  o.burn_in = o.steps_per_level - 1;  // the last state of each chain
  o.sigma_max = float(ladder.front());
  o.sigma_min = float(ladder.back());
  o.step_size = 0.2f * o.sigma_min * o.sigma_min;
  o.init.kind = ebm::Initialization<float>::Kind::Uniform;  // a symmetric start over both modes
  o.init.scale = 8;
  o.seed = 9;
  ebm::EnergyEvaluator<float> evaluator;
  const ebm::NoiseConditionalScore<float> score = [&](const MatF& x, float sigma, MatF& s) {
    evaluator.evaluate(ebm::nn::AtNoiseLevel<float>{net, sigma}, x, nullptr, &s);
  };
  const double annealed = upper_fraction(ebm::annealed_langevin<float>(2, score, o).final_state);

  // Plain Langevin at the smallest level, from the same start, as long as the whole annealing.
  ebm::UlaOptions<float> u;
  u.chains = o.chains;
  u.steps = o.levels * o.steps_per_level;
  u.burn_in = u.steps - 1;
  u.step_size = o.step_size * 100;  // a larger step than annealing's last level: still no crossing
  u.init = o.init;
  u.seed = o.seed;
  const double plain = upper_fraction(ebm::ula<float>(ebm::nn::AtNoiseLevel<float>{net, o.sigma_min}, u).final_state);

  // Binomial standard error of a fraction of 2000 chains: sqrt(0.8 * 0.2 / 2000) = 0.009.
  const double se = std::sqrt(kWeight * (1 - kWeight) / double(o.chains));
  ebm_test::measured("annealed fraction at (5, 5)", annealed);
  ebm_test::measured("plain Langevin fraction at (5, 5)", plain);
  EXPECT_NEAR(annealed, kWeight, 5 * se);  // a model's own error of a few percent is allowed for
  EXPECT_GT(std::abs(plain - kWeight), 0.15);
}

}  // namespace
