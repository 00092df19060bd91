// `ebm energy` and `ebm score`: E(x) (column "energy") or the score -grad_x E(x) (columns s0..)
// of a model or an analytic energy at the points of a file, computed in double precision.
#include "commands.hpp"

#include <iostream>
#include <memory>

namespace ebm::cli {
namespace {

struct EvaluateArgs {
  std::string model, energy, at, output;
};

void evaluate(const EvaluateArgs& a, bool score) {
  require_given("--at", a.at);
  check_output_path("-o", a.output, true);
  const LoadedEnergy<double> e = load_energy<double>(a.model, a.energy);
  const MatD x = read_points<double>(a.at, e.dim(), e.is_model ? "the model" : "the energy");
  EnergyEvaluator<double> ev;
  Vec<double> energies;
  if (score) {
    MatD s;
    e.energy->evaluate(ev, x, &energies, &s);
    write_points<double>(a.output, s, coordinate_names(e.dim(), "s"));
  } else {
    e.energy->evaluate(ev, x, &energies, nullptr);
    write_points<double>(a.output, MatD(energies), {"energy"});
  }
}

void add(CLI::App& app, Context& ctx, bool score) {
  auto a = std::make_shared<EvaluateArgs>();
  CLI::App* sub = app.add_subcommand(score ? "score" : "energy",
                                     score ? "The score -grad E(x) at points (columns s0..)" : "The energy E(x) at points");
  add_energy_options(sub, a->model, a->energy);
  sub->add_option("--at", a->at, "Points (.csv, .tsv, .npy; a samples file's chain and step columns are skipped)");
  sub->add_option("-o,--output", a->output, "Output file (.csv, .tsv or .npy)");
  ctx.runners[sub] = [a, score] { evaluate(*a, score); };
}

}  // namespace

void add_evaluate(CLI::App& app, Context& ctx) {
  add(app, ctx, false);
  add(app, ctx, true);
}

}  // namespace ebm::cli
