// Train an MLP energy on two moons by exact score matching, save it, load it back.
//
//   example_train_two_moons [model.safetensors] [steps]
//
// The saved file is a safetensors state_dict that PyTorch's nn.Sequential loads as it is, and
// that the ebm command line reads as a model. docs/training.md walks through this example.
#include <ebm/data/toy.hpp>
#include <ebm/energy/mlp.hpp>
#include <ebm/io/model_file.hpp>
#include <ebm/train/trainer.hpp>

#include <cstdint>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "two_moons.safetensors";
  const std::int64_t steps = argc > 2 ? std::stoll(argv[2]) : 3000;

  // Different seeds: the held-out points are fresh draws, not a slice of the training set.
  const ebm::MatF train = ebm::make_toy<float>(ebm::ToyDataset::TwoMoons, 10000, /*seed=*/1);
  const ebm::MatF held_out = ebm::make_toy<float>(ebm::ToyDataset::TwoMoons, 2000, /*seed=*/2);

  // Softplus, not ReLU: score matching needs the Laplacian of E, which a ReLU network lacks.
  ebm::Mlp<float> mlp({.widths = {2, 128, 128, 1}, .activation = ebm::Activation::Softplus, .seed = 0});
  ebm::ModelOf<float, ebm::Mlp<float>> model(mlp);

  // Default ObjectiveOptions: exact score matching, the Laplacian propagated forward through
  // the MLP (one pass, not D backward passes).
  ebm::ObjectiveOptions objective;
  ebm::TrainerOptions options;
  options.steps = steps;
  options.batch_size = 256;
  options.adam.lr = 1e-3;
  options.schedule.kind = ebm::LrSchedule::Kind::Cosine;  // decays to 0 over `steps`
  options.eval_every = 500;
  options.report_every = 500;

  ebm::Trainer<float> trainer(model, objective, options);
  const ebm::TrainResult result = trainer.run(train, &held_out, [](const ebm::TrainProgress& p) {
    std::printf("step %5lld/%lld  loss %9.4f  lr %.2e  %5.1f s", static_cast<long long>(p.step),
                static_cast<long long>(p.total), p.loss, p.lr, p.seconds);
    if (p.has_held_out) std::printf("  held-out %9.4f", p.held_out);
    std::printf("\n");
  });
  // The score-matching loss is the Fisher divergence up to a data constant: lower is better,
  // and it may go negative.
  std::printf("%s\n", result.summary().c_str());

  ebm::io::ModelInfo info;
  info.objective = "sm";
  info.step = trainer.step();
  info.extra["data"] = "moons";
  ebm::io::save_model(path, mlp, info);

  // The file round-trips exactly: float weights are stored as F32.
  const auto loaded = ebm::io::load_model<float>(path);
  ebm::ad::Tape<float> tape;
  const ebm::Vec<float> before = mlp.energy(tape, held_out);
  const ebm::Vec<float> after = ebm::to_mlp(loaded.network).energy(tape, held_out);
  const float max_diff = (before - after).cwiseAbs().maxCoeff();
  std::printf("saved %s (step %lld); reloaded energies differ by at most %g on %lld points\n", path.c_str(),
              static_cast<long long>(loaded.info.step), static_cast<double>(max_diff),
              static_cast<long long>(held_out.rows()));
  return max_diff == 0.0f ? 0 : 1;
}
