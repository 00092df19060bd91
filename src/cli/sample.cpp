// `ebm sample`: Langevin chains on a model or an analytic energy, written as rows (chain, step,
// x0..x{D-1}), with the MCMC diagnostics on stderr and optionally as JSON (--report).
#include "commands.hpp"

#include <ebm/core/rng.hpp>
#include <ebm/diag/mcmc.hpp>
#include <ebm/energy/standardized.hpp>
#include <ebm/sample/registry.hpp>
#include <ebm/sample/samplers.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>

namespace ebm::cli {
namespace {

struct SampleArgs {
  std::string model, energy, sampler = "mala", output, report, metric = "diag", within = "mala";
  std::int64_t chains = 64, steps = 1000, thin = 1, levels = 10, replicas = 8, max_depth = 10;
  std::optional<std::int64_t> burn_in;  // unset: each sampler's own default
  double init_scale = 1, max_temperature = 10, friction = 1, path_length = 1;
  std::optional<double> step_size, target_accept;
  bool float64 = false, denoise = false, adapt_ladder = false;
};

// The samplers the library runs by name, and the two ladders the CLI runs itself.
bool is_ladder(const std::string& s) { return s == "annealed" || s == "ncsn"; }
std::string sampler_names() {
  std::string names;
  for (const SamplerSpec& s : sampler_specs()) names += s.name + ", ";
  return names + "annealed or ncsn";
}

constexpr std::uint64_t kInitCounter = std::uint64_t{1} << 63;  // as the samplers' own initial draws

void validate(const SampleArgs& a) {
  check_output_path("-o", a.output, true);
  if (!a.report.empty()) check_output_path("--report", a.report, false);
  auto known = [](const std::string& name) {
    const auto& specs = sampler_specs();
    return std::any_of(specs.begin(), specs.end(), [&](const SamplerSpec& s) { return s.name == name; });
  };
  if (!known(a.sampler) && !is_ladder(a.sampler))
    throw UsageError("--sampler: expected " + sampler_names() + ", got '" + a.sampler + "'");
  if (!known(a.within) || a.within == "pt")
    throw UsageError("--within: expected a sampler other than pt (mala, hmc, nuts, underdamped), got '" + a.within + "'");
  try {
    parse_metric(a.metric);
  } catch (const InvalidArgument&) {
    throw UsageError("--metric: expected unit, diag or dense, got '" + a.metric + "'");
  }
  if (a.target_accept && !(*a.target_accept > 0 && *a.target_accept < 1))
    throw UsageError("--target-accept: must be in (0, 1), got " + fmt(*a.target_accept));
  require_at_least("--replicas", a.replicas, 2);
  require_at_least("--max-depth", a.max_depth, 1);
  if (a.max_depth > 30) throw UsageError("--max-depth: must be <= 30, got " + std::to_string(a.max_depth));
  require_positive("--friction", a.friction);
  require_positive("--path-length", a.path_length);
  if (a.adapt_ladder && a.sampler != "pt") throw UsageError("--adapt-ladder: only with --sampler pt");
  if (a.sampler == "pt" && !(a.max_temperature > 1))
    throw UsageError("--max-temperature: parallel tempering needs > 1, got " + fmt(a.max_temperature));
  if (a.denoise && a.sampler != "ncsn") throw UsageError("--denoise: only with --sampler ncsn");
  require_at_least("--chains", a.chains, 1);
  require_at_least("--steps", a.steps, 1);
  if (a.burn_in) require_at_least("--burn-in", *a.burn_in, 0);
  require_at_least("--thin", a.thin, 1);
  if (a.step_size) require_positive("--step-size", *a.step_size);
  require_positive("--init-scale", a.init_scale);
  require_at_least("--levels", a.levels, 1);
  require_positive("--max-temperature", a.max_temperature);
  if (a.sampler == "annealed" && a.steps < a.levels)
    throw UsageError("--steps: annealed sampling needs at least one step per level (--levels " + std::to_string(a.levels) +
                     "), got " + std::to_string(a.steps));
}

// Initial points N(centre, (init_scale * spread)^2) per coordinate: centre and spread are the
// model's standardisation (0 and 1 for an analytic energy), so chains start where the data were.
template <class T>
Initialization<T> initial_points(const LoadedEnergy<T>& e, Index chains, double init_scale, std::uint64_t seed) {
  Initialization<T> init;
  const Index d = e.dim();
  if (!e.standardized()) {
    init.kind = Initialization<T>::Kind::Gaussian;
    init.scale = static_cast<T>(init_scale);
    return init;
  }
  init.kind = Initialization<T>::Kind::Points;
  init.points.resize(chains, d);
  const RowVec<T> mean = e.mean(), scale = e.scale();
  for (Index c = 0; c < chains; ++c) {
    CounterRng(seed, static_cast<std::uint64_t>(c)).normal<T>(kInitCounter, std::span<T>(init.points.row(c).data(), static_cast<std::size_t>(d)));
    init.points.row(c) = (init.points.row(c).array() * scale.array() * static_cast<T>(init_scale) + mean.array()).matrix();
  }
  return init;
}

template <class T>
void fill_chain_options(ChainOptions<T>& c, const SampleArgs& a, Index burn_in, std::uint64_t seed, Initialization<T> init) {
  c.chains = a.chains;
  c.steps = a.steps;
  c.burn_in = burn_in;
  c.thin = a.thin;
  c.seed = seed;
  c.init = std::move(init);
}

// s(x, sigma) on raw coordinates: the network at noise level sigma, standardised as trained.
template <class T>
NoiseConditionalScore<T> noise_conditional_score(const LoadedEnergy<T>& e) {
  auto evaluator = std::make_shared<EnergyEvaluator<T>>();
  return [&e, evaluator](const Mat<T>& x, T sigma, Mat<T>& scores) {
    const nn::AtNoiseLevel<T> level{e.network, sigma};
    if (e.standardized()) evaluator->evaluate(Standardized<nn::AtNoiseLevel<T>, T>(level, e.mean(), e.scale()), x, nullptr, &scores);
    else evaluator->evaluate(level, x, nullptr, &scores);
  };
}

// Tweedie's formula E[x | x~] = x~ + sigma^2 s(x~, sigma), in the coordinates the model was trained
// in (raw: the noise had variance (sigma scale_j)^2 in coordinate j).
template <class T>
void denoise_rows(const LoadedEnergy<T>& e, const NoiseConditionalScore<T>& score, T sigma, Mat<T>& x) {
  if (x.rows() == 0) return;
  Mat<T> s;
  score(x, sigma, s);
  RowVec<T> variance = RowVec<T>::Constant(x.cols(), sigma * sigma);
  if (e.standardized()) variance = (variance.array() * e.scale().array().square()).matrix();
  x += (s.array().rowwise() * variance.array()).matrix();
}

template <class T>
void sample(const SampleArgs& a, const Globals& g, bool option_given_levels) {
  validate(a);
  const LoadedEnergy<T> e = load_energy<T>(a.model, a.energy);
  const AnyEnergy<T>& energy = *e.energy;
  const Index d = e.dim();
  Initialization<T> init = initial_points(e, a.chains, a.init_scale, g.seed);
  const bool has_h = a.step_size.has_value();
  const T h = static_cast<T>(a.step_size.value_or(0));
  SampleResult<T> r;
  Index keep_from = 0;  // updates before the first kept draw
  std::unique_ptr<ProgressBar> bar;
  auto show_progress = [&](ChainOptions<T>& o, Index total) {
    bar = std::make_unique<ProgressBar>(progress_enabled(g), 0, total);
    o.progress = [&bar](Index done, Index) { bar->update(done, "steps"); };
  };
  if (a.sampler == "ncsn") {
    // Annealed Langevin over the model's own noise levels (NCSN), steps scaled by sigma^2.
    if (!e.conditional())
      throw UsageError("--sampler ncsn: " + e.source + " is not a noise-conditional model (train one with an architecture "
                       "file that has a \"condition\", e.g. examples/models/ncsn_28x28.json)");
    const std::vector<double>& ladder = e.info.noise_levels;
    const Index levels = option_given_levels ? a.levels : static_cast<Index>(ladder.size());
    if (levels != static_cast<Index>(ladder.size()) && ladder.size() < 2)
      throw UsageError("--levels: the model was trained at one noise level");
    AnnealedOptions<T> o;
    const Index per_level = (a.steps + levels - 1) / levels;
    const Index burn_in = a.burn_in.value_or(per_level - 1);
    if (burn_in >= per_level)
      throw UsageError("--burn-in: counts within the last level for ncsn sampling, must be < " + std::to_string(per_level) +
                       ", got " + std::to_string(burn_in));
    fill_chain_options(o, a, burn_in, g.seed, std::move(init));
    o.levels = levels;
    o.steps_per_level = per_level;
    o.sigma_max = static_cast<T>(ladder.front());
    o.sigma_min = static_cast<T>(ladder.back());
    // NCSN's epsilon 2e-5 at sigma_min 0.01: 0.2 sigma_min^2 at the smallest level.
    o.step_size = has_h ? h : static_cast<T>(0.2 * ladder.back() * ladder.back());
    keep_from = levels * per_level - per_level + burn_in;
    const NoiseConditionalScore<T> score = noise_conditional_score(e);
    show_progress(o, levels * per_level);
    r = annealed_langevin<T>(d, score, o);
    if (a.denoise) {
      denoise_rows(e, score, o.sigma_min, r.samples);
      denoise_rows(e, score, o.sigma_min, r.final_state);
    }
  } else if (a.sampler == "annealed") {
    AnnealedOptions<T> o;
    const Index per_level = (a.steps + a.levels - 1) / a.levels;
    const Index burn_in = a.burn_in.value_or(per_level / 2);
    if (burn_in > per_level)
      throw UsageError("--burn-in: counts within the last level for annealed sampling, must be <= " +
                       std::to_string(per_level) + ", got " + std::to_string(burn_in));
    fill_chain_options(o, a, burn_in, g.seed, std::move(init));
    o.levels = a.levels;
    o.steps_per_level = per_level;
    o.max_temperature = static_cast<T>(a.max_temperature);
    if (has_h) o.step_size = h;
    keep_from = a.levels * per_level - per_level + burn_in;
    show_progress(o, a.levels * per_level);
    r = annealed_langevin<T>(energy, o);
  } else {
    const Index burn_in = a.burn_in.value_or(a.steps / 2);
    if (burn_in > a.steps)
      throw UsageError("--burn-in: must be <= --steps (" + std::to_string(a.steps) + "), got " + std::to_string(burn_in));
    keep_from = burn_in;
    ChainOptions<T> o;
    fill_chain_options(o, a, burn_in, g.seed, std::move(init));
    SamplerSettings<T> settings;
    if (has_h) settings.step_size = h;
    if (a.target_accept) settings.target_acceptance = static_cast<T>(*a.target_accept);
    settings.hamiltonian.metric = parse_metric(a.metric);
    settings.hamiltonian.max_depth = static_cast<int>(a.max_depth);
    settings.hamiltonian.path_length = static_cast<T>(a.path_length);
    settings.friction = static_cast<T>(a.friction);
    settings.tempering.replicas = a.replicas;
    settings.tempering.max_temperature = static_cast<T>(a.max_temperature);
    settings.tempering.adapt_ladder = a.adapt_ladder;
    settings.within = a.within;
    show_progress(o, a.steps);
    r = run_sampler<T>(a.sampler, energy, settings, o);
  }

  if (bar) bar->finish();
  const Index kept = static_cast<Index>(r.chains_kept.size());
  const Index s = r.draws_per_chain;
  if (s == 0) throw UsageError("--burn-in / --thin: no draw is kept (" + std::to_string(a.steps) + " steps)");
  if (kept == 0)
    throw NumericalError("every chain stopped at a non-finite state or score (first: chain " +
                         std::to_string(r.failures.front().first) + " at step " + std::to_string(r.failures.front().second) +
                         "); try a smaller --step-size");

  // Rows chain, step, x...; kept draw i of a chain is the state after update keep_from + (i + 1) thin.
  const bool wide = std::is_same_v<T, float> && double(a.chains) + double(keep_from + s * a.thin) >= 16777216.0;
  auto write = [&]<class U>(U) {
    Mat<U> out(kept * s, d + 2);
    for (Index c = 0; c < kept; ++c)
      for (Index i = 0; i < s; ++i) {
        const Index row = c * s + i;
        out(row, 0) = static_cast<U>(r.chains_kept[static_cast<std::size_t>(c)]);
        out(row, 1) = static_cast<U>(keep_from + (i + 1) * a.thin);
        out.row(row).tail(d) = r.samples.row(row).template cast<U>();
      }
    std::vector<std::string> columns = {"chain", "step"};
    for (const std::string& n : coordinate_names(d)) columns.push_back(n);
    write_points<U>(a.output, out, columns);
  };

  nlohmann::json report = {{"sampler", r.sampler.empty() ? a.sampler : r.sampler},       {"source", e.source},  {"dim", d},
                           {"chains", a.chains},         {"chains_kept", kept}, {"draws_per_chain", s},
                           {"steps", a.steps},           {"burn_in", keep_from}, {"thin", a.thin},
                           {"seed", g.seed},             {"seconds", r.seconds}};
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
  std::string table;
  if (s >= kMinDrawsPerChain) {
    McmcSummaryOptions so;
    if (!r.accepted.empty()) {
      // Counts of the kept chains only (failed chains have no draws).
      for (Index c = 0; c < kept; ++c) {
        const auto global = static_cast<std::size_t>(r.chains_kept[static_cast<std::size_t>(c)]);
        so.accepted.push_back(r.accepted[global]);
        so.proposed.push_back(r.proposed[global]);
      }
    }
    so.divergent = r.stats.divergent;
    so.tree_depth = r.stats.tree_depth;
    so.max_tree_depth = static_cast<int>(a.max_depth);
    so.hamiltonian.assign(r.stats.hamiltonian.begin(), r.stats.hamiltonian.end());
    const McmcSummary summary = summarize(unstack_chains(r.samples.template cast<double>(), s), so);
    report["diagnostics"] = summary_json(summary);
    table = summary.summary();
  } else {
    report["diagnostics"] = nullptr;
    table = "(diagnostics need >= " + std::to_string(kMinDrawsPerChain) + " draws per chain, got " + std::to_string(s) + ")\n";
  }

  if (wide) write(double{});
  else write(T{});
  if (!a.report.empty()) write_text_file(a.report, report.dump(2) + "\n");
  if (!g.quiet) {
    std::cerr << "ebm sample: " << a.sampler << ", " << kept << " chains x " << s << " draws, D = " << d << ", "
              << fmt(r.seconds) << " s -> " << a.output << "\n";
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
  sub->add_option("--sampler", a->sampler, sampler_help)->transform(lowercase());
  sub->add_option("--chains", a->chains, "Number of chains (default 64)");
  sub->add_option("--steps", a->steps, "Updates per chain, burn-in included (annealed: over all levels; default 1000)");
  sub->add_option("--step-size", a->step_size,
                  "Step size h (sde: dt; mala: the initial h, adapted during burn-in; ncsn: h at the smallest level, "
                  "default 0.2 sigma_min^2, scaled by sigma^2 / sigma_min^2 above it)");
  sub->add_option("--burn-in", a->burn_in, "Updates not kept (default: half of --steps; annealed: half a level)");
  sub->add_option("--thin", a->thin, "Keep every K-th state after burn-in (default 1)");
  sub->add_option("--init-scale", a->init_scale, "Initial points N(0, S^2) (a standardised model: N(mean, (S scale)^2))");
  sub->add_option("--levels", a->levels, "annealed: number of temperatures (default 10); ncsn: noise levels (default: the model's)");
  sub->add_flag("--denoise", a->denoise, "ncsn: a final denoising step by Tweedie's formula, x + sigma_min^2 s(x)");
  sub->add_option("--max-temperature", a->max_temperature, "annealed, pt: the hottest temperature (default 10)");
  sub->add_option("--metric", a->metric, "hmc, nuts: unit, diag (default) or dense, estimated in Stan's warm-up windows")->transform(lowercase());
  sub->add_option("--target-accept", a->target_accept, "Adaptation target (default 0.574 mala, 0.8 hmc/nuts)");
  sub->add_option("--max-depth", a->max_depth, "nuts: at most 2^depth leapfrog steps per draw (default 10)");
  sub->add_option("--path-length", a->path_length, "hmc: integration time per draw (default 1)");
  sub->add_option("--friction", a->friction, "underdamped: the friction gamma (default 1)");
  sub->add_option("--replicas", a->replicas, "pt: replicas on the geometric temperature ladder (default 8)");
  sub->add_flag("--adapt-ladder", a->adapt_ladder, "pt: re-space the temperatures during burn-in towards equal swap rates");
  sub->add_option("--within", a->within, "pt: the kernel within each replica (default mala; hmc, nuts, underdamped)")->transform(lowercase());
  sub->add_option("-o,--output", a->output, "Samples file (.csv, .tsv or .npy): columns chain, step, x0..");
  sub->add_option("--report", a->report, "Write the diagnostics as JSON to this file");
  sub->add_flag("--float64", a->float64, "Sample in double precision (default float32)");
  const Globals& g = ctx.globals;
  ctx.runners[sub] = [a, &g, sub] {
    require_applicable(sub, "sampler", a->sampler,
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
    const bool levels_given = option_given(sub, "levels");
    if (a->float64) sample<double>(*a, g, levels_given);
    else sample<float>(*a, g, levels_given);
  };
}

}  // namespace ebm::cli
