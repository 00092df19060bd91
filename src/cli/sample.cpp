// `ebm sample`: Langevin chains on a model or an analytic energy, written as rows (chain, step,
// x0..x{D-1}), with the MCMC diagnostics on stderr and optionally as JSON (--report).
#include "commands.hpp"

#include <ebm/data/matrix_file.hpp>
#include <ebm/diag/mcmc.hpp>
#include <ebm/facade/sample.hpp>
#include <ebm/sample/registry.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>

namespace ebm::cli {
namespace {

struct SampleArgs {
  std::string model, energy, output, report;
  facade::SampleRequest request;
  bool float64 = false;
};

template <class T>
void sample(const SampleArgs& a, const Globals& g) {
  check_output_path("-o", a.output, true);
  if (!a.report.empty()) check_output_path("--report", a.report, false);
  facade::SampleRequest request = a.request;
  request.seed = g.seed;
  try {
    request.validate();
  } catch (const InvalidArgument& e) {
    throw flag_error(e);
  }
  const LoadedEnergy<T> e = load_energy<T>(a.model, a.energy);
  const Index d = e.dim();
  request.communicator = g.processes;
  if (!g.writes()) request.diagnostics = false;  // the one that writes summarises
  std::optional<ProgressBar> bar;
  request.progress = [&bar, &g](std::int64_t done, std::int64_t total) {
    if (!bar) bar.emplace(progress_enabled(g), 0, total);
    bar->update(done, "steps");
  };
  facade::Sampled<T> sampled;
  try {
    sampled = facade::sample<T>(e, request);
  } catch (const InvalidArgument& err) {
    if (bar) bar->finish();
    throw flag_error(err);
  } catch (...) {
    if (bar) bar->finish();
    throw;
  }
  if (bar) bar->finish();
  const SampleResult<T>& r = sampled.result;
  const Index kept = static_cast<Index>(r.chains_kept.size());
  const Index s = r.draws_per_chain;

  // Rows chain, step, x... A .npy file has no column names, so it holds the draws alone (chains
  // one after another, as the rows of a CSV): every reader takes a .npy file as points.
  const bool points_only = a.output != "-" && matrix_format(a.output, true) == MatrixFormat::Npy;
  const bool wide = std::is_same_v<T, float> && double(request.chains) + double(sampled.step_of(s - 1)) >= 16777216.0;
  auto write = [&]<class U>(U) {
    Mat<U> out(kept * s, d + 2);
    for (Index c = 0; c < kept; ++c)
      for (Index i = 0; i < s; ++i) {
        const Index row = c * s + i;
        out(row, 0) = static_cast<U>(r.chains_kept[static_cast<std::size_t>(c)]);
        out(row, 1) = static_cast<U>(sampled.step_of(i));
        out.row(row).tail(d) = r.samples.row(row).template cast<U>();
      }
    std::vector<std::string> columns = {"chain", "step"};
    for (const std::string& n : coordinate_names(d)) columns.push_back(n);
    write_points<U>(a.output, out, columns);
  };

  nlohmann::json report = {{"sampler", r.sampler.empty() ? request.sampler : r.sampler},
                           {"source", e.source},
                           {"dim", d},
                           {"chains", request.chains},
                           {"chains_kept", kept},
                           {"draws_per_chain", s},
                           {"steps", request.steps},
                           {"burn_in", sampled.keep_from},
                           {"thin", request.thin},
                           {"seed", g.seed},
                           {"seconds", r.seconds}};
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& [chain, step] : r.failures) failures.push_back({{"chain", chain}, {"step", step}});
  report["failures"] = failures;
  report["gradient_evaluations"] = r.gradient_evaluations;
  report["warmup_gradient_evaluations"] = r.warmup_gradient_evaluations;
  report["notes"] = r.notes;
  if (r.step_size.size() > 0) {
    const Vec<double> hs = r.step_size.template cast<double>();
    report["step_size"] = {{"mean", hs.mean()}, {"min", hs.minCoeff()}, {"max", hs.maxCoeff()}};
  }
  report["diagnostics"] = sampled.diagnostics ? summary_json(*sampled.diagnostics) : nlohmann::json(nullptr);
  const std::string table = sampled.diagnostics ? sampled.diagnostics->summary()
                                                : "(diagnostics need >= " + std::to_string(kMinDrawsPerChain) +
                                                      " draws per chain, got " + std::to_string(s) + ")\n";

  if (!g.writes()) return;
  if (points_only) write_points<T>(a.output, r.samples, {});
  else if (wide) write(double{});
  else write(T{});
  if (!a.report.empty()) write_text_file(a.report, report.dump(2) + "\n");
  if (!g.quiet) {
    std::cerr << "ebm sample: " << request.sampler << ", " << kept << " chains x " << s << " draws, D = " << d << ", "
              << fmt(r.seconds) << " s -> " << a.output << "\n";
    if (points_only)
      std::cerr << "ebm sample: " << a.output << " holds the draws only, chain after chain (" << kept << " x " << s
                << " rows); a .csv keeps the chain and step columns that diag and plot trace need\n";
    if (!r.failures.empty()) {
      std::cerr << "ebm sample: " << r.failures.size() << " chain(s) stopped at a non-finite state (not written):";
      for (std::size_t i = 0; i < std::min<std::size_t>(r.failures.size(), 10); ++i)
        std::cerr << " chain " << r.failures[i].first << " at step " << r.failures[i].second << ";";
      std::cerr << (r.failures.size() > 10 ? " ..." : "") << "\n";
    }
    std::cerr << table;
    if (!table.empty() && table.back() != '\n') std::cerr << "\n";
  }
}

}  // namespace

void add_sample(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<SampleArgs>();
  CLI::App* sub = app.add_subcommand("sample", "Draw samples from a model or an energy (Langevin, HMC, NUTS, parallel tempering)");
  add_energy_options(sub, a->model, a->energy);
  std::string sampler_help = "The sampler (default mala):";
  for (const SamplerSpec& s : sampler_specs()) sampler_help += "\n  " + s.name + ": " + s.summary;
  sampler_help += "\n  annealed: Langevin over a temperature ladder\n  ncsn: annealed over a noise-conditional model's noise levels";
  sub->add_option("--sampler", a->request.sampler, sampler_help)->transform(lowercase());
  sub->add_option("--chains", a->request.chains, "Number of chains (default 64)");
  sub->add_option("--steps", a->request.steps, "Updates per chain, burn-in included (annealed: over all levels; default 1000)");
  sub->add_option("--step-size", a->request.step_size,
                  "Step size h (sde: dt; mala: the initial h, adapted during burn-in; ncsn: h at the smallest level, "
                  "default 0.2 sigma_min^2, scaled by sigma^2 / sigma_min^2 above it)");
  sub->add_option("--burn-in", a->request.burn_in, "Updates not kept (default: half of --steps; annealed: half a level)");
  sub->add_option("--thin", a->request.thin, "Keep every K-th state after burn-in (default 1)");
  sub->add_option("--init-scale", a->request.init_scale, "Initial points N(0, S^2) (a standardised model: N(mean, (S scale)^2))");
  sub->add_option("--levels", a->request.levels, "annealed: number of temperatures (default 10); ncsn: noise levels (default: the model's)");
  sub->add_flag("--denoise", a->request.denoise, "ncsn: a final denoising step by Tweedie's formula, x + sigma_min^2 s(x)");
  sub->add_option("--max-temperature", a->request.max_temperature, "annealed, pt: the hottest temperature (default 10)");
  sub->add_option("--metric", a->request.metric, "hmc, nuts: unit, diag (default) or dense, estimated in Stan's warm-up windows")->transform(lowercase());
  sub->add_option("--target-accept", a->request.target_accept, "Adaptation target (default 0.574 mala, 0.8 hmc/nuts)");
  sub->add_option("--max-depth", a->request.max_depth, "nuts: at most 2^depth leapfrog steps per draw (default 10)");
  sub->add_option("--path-length", a->request.path_length, "hmc: integration time per draw (default 1)");
  sub->add_option("--friction", a->request.friction, "underdamped: the friction gamma (default 1)");
  sub->add_option("--replicas", a->request.replicas, "pt: replicas on the geometric temperature ladder (default 8)");
  sub->add_flag("--adapt-ladder", a->request.adapt_ladder, "pt: re-space the temperatures during burn-in towards equal swap rates");
  sub->add_option("--within", a->request.within, "pt: the kernel within each replica (default mala; hmc, nuts, underdamped)")->transform(lowercase());
  sub->add_option("-o,--output", a->output, "Samples file: .csv or .tsv with columns chain, step, x0..; .npy holds the draws alone");
  sub->add_option("--report", a->report, "Write the diagnostics as JSON to this file");
  sub->add_flag("--float64", a->float64, "Sample in double precision (default float32)");
  const Globals& g = ctx.globals;
  ctx.distributed.insert(sub);
  ctx.runners[sub] = [a, &g, sub] {
    require_applicable(sub, "sampler", a->request.sampler,
                       {{"levels", {"annealed", "ncsn"}},
                        {"max-temperature", {"annealed", "pt"}},
                        {"metric", {"hmc", "nuts", "pt"}},
                        {"max-depth", {"nuts", "pt"}},
                        {"path-length", {"hmc", "pt"}},
                        {"friction", {"underdamped", "pt"}},
                        {"target-accept", {"mala", "hmc", "nuts", "pt"}},
                        {"replicas", {"pt"}},
                        {"within", {"pt"}},
                        {"adapt-ladder", {"pt"}},
                        {"denoise", {"ncsn"}}});
    if (a->float64) sample<double>(*a, g);
    else sample<float>(*a, g);
  };
}

}  // namespace ebm::cli
