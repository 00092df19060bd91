// `ebm demo`: the whole job on two moons, start to finish: data, an MLP energy trained by exact
// score matching, MALA and ULA samples with their diagnostics, log p recovered from the score
// (line integrals, log Z by grid quadrature), evaluation against held-out data, figures, and a
// Markdown report with the metrics and the timings. Everything is keyed to --seed: the same seed
// gives the same numbers whatever the thread count.
#include "commands.hpp"
#include "figures.hpp"

#include <ebm/facade/energy.hpp>
#include <ebm/data/dataset.hpp>
#include <ebm/data/toy.hpp>
#include <ebm/density/line_integral.hpp>
#include <ebm/density/log_z.hpp>
#include <ebm/diag/mcmc.hpp>
#include <ebm/diag/metrics.hpp>
#include <ebm/energy/standardized.hpp>
#include <ebm/io/model_file.hpp>
#include <ebm/sample/samplers.hpp>
#include <ebm/train/trainer.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>

namespace ebm::cli {
namespace {

namespace fs = std::filesystem;

struct DemoArgs {
  std::string output = "ebm-demo";
  std::int64_t steps = 3000, chains = 1000, sample_steps = 4000;
};

constexpr Index kTrain = 20000, kHeldOut = 5000;
constexpr Index kDrawsPerChain = 64;
constexpr Index kMmdPoints = 5000;
constexpr Index kTraceChains = 4;

class Stopwatch {
 public:
  double lap() {
    const auto now = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    return s;
  }
  double total() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_ = start_;
};

std::string num(double v, int digits = 4) {
  if (!std::isfinite(v)) return "n/a";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

// What one sampler produced and how it scored.
struct SamplerReport {
  std::string name;
  SampleResult<float> run;
  MatD samples;  // the kept draws in double
  McmcSummary summary;
  double step_size = 0;  // median over chains
  MmdResult mmd;
  HistogramDivergences hist;
};

double median(Vec<double> v) {
  std::sort(v.data(), v.data() + v.size());
  const Index n = v.size();
  return n % 2 ? v(n / 2) : 0.5 * (v(n / 2 - 1) + v(n / 2));
}

nlohmann::json sampler_json(const SamplerReport& r) {
  nlohmann::json j = {{"chains", r.summary.chains},
                      {"draws_per_chain", r.summary.draws_per_chain},
                      {"failed_chains", r.run.failures.size()},
                      {"step_size_median", r.step_size},
                      {"rhat_max", number_or_null(r.summary.rhat.maxCoeff())},
                      {"ess_bulk_min", number_or_null(r.summary.ess_bulk.minCoeff())},
                      {"ess_tail_min", number_or_null(r.summary.ess_tail.minCoeff())},
                      {"mmd2", number_or_null(r.mmd.mmd2)},
                      {"mmd_bandwidth", number_or_null(r.mmd.bandwidth)},
                      {"kl_held_out_samples", number_or_null(r.hist.kl)},
                      {"tv", number_or_null(r.hist.tv)},
                      {"outside_box", number_or_null(r.hist.samples_outside)},
                      {"seconds", r.run.seconds}};
  if (r.summary.acceptance) j["acceptance"] = number_or_null(r.summary.acceptance->overall);
  return j;
}

void write_samples(const std::string& path, const SamplerReport& r, Index keep_from, Index thin) {
  const Index s = r.run.draws_per_chain, kept = static_cast<Index>(r.run.chains_kept.size());
  MatF out(kept * s, 4);
  for (Index c = 0; c < kept; ++c)
    for (Index i = 0; i < s; ++i) {
      out(c * s + i, 0) = static_cast<float>(r.run.chains_kept[static_cast<std::size_t>(c)]);
      out(c * s + i, 1) = static_cast<float>(keep_from + (i + 1) * thin);
      out.row(c * s + i).tail(2) = r.run.samples.row(c * s + i);
    }
  write_points<float>(path, out, {"chain", "step", "x0", "x1"});
}

McmcSummary summarize_run(const SampleResult<float>& r) {
  McmcSummaryOptions o;
  if (!r.accepted.empty())
    for (Index c : r.chains_kept) {
      o.accepted.push_back(r.accepted[static_cast<std::size_t>(c)]);
      o.proposed.push_back(r.proposed[static_cast<std::size_t>(c)]);
    }
  return summarize(unstack_chains(r.samples.cast<double>(), r.draws_per_chain), o);
}

void run_demo(const DemoArgs& a, const Globals& g) {
  require_at_least("--steps", a.steps, 1);
  require_at_least("--chains", a.chains, 4);
  require_at_least("--sample-steps", a.sample_steps, 200);
  require_given("-o", a.output);
  std::error_code ec;
  if (fs::exists(a.output, ec) && !fs::is_directory(a.output, ec)) throw IoError(a.output + ": exists and is not a directory");
  fs::create_directories(a.output, ec);
  if (ec) throw IoError(a.output + ": cannot create the directory (" + ec.message() + ")");
  const fs::path dir(a.output);
  auto out = [&](const std::string& name) { return (dir / name).string(); };
  const std::uint64_t seed = g.seed;
  auto note = [&](const std::string& s) {
    if (!g.quiet) std::cerr << "ebm demo: " << s << "\n";
  };
  Stopwatch clock;
  std::vector<std::pair<std::string, double>> timings;

  // ---- 1. data: one draw, split by rows (every point is its own random stream) ----
  const Index floor_points = a.chains * kDrawsPerChain;
  const MatD everything = make_toy<double>(ToyDataset::TwoMoons, kTrain + kHeldOut + floor_points, seed);
  const MatD train = everything.topRows(kTrain);
  const MatD held = everything.middleRows(kTrain, kHeldOut);
  const MatD fresh = everything.bottomRows(floor_points);  // what perfect samples would score
  write_points<double>(out("train.csv"), train, {"x0", "x1"});
  write_points<double>(out("held_out.csv"), held, {"x0", "x1"});
  timings.emplace_back("data", clock.lap());
  note("two moons: " + std::to_string(kTrain) + " training and " + std::to_string(kHeldOut) + " held-out points");

  // ---- 2. training, on standardised data as `ebm train` does ----
  const MatF train_f = train.cast<float>(), held_f = held.cast<float>();
  const Standardization<float> st = Standardization<float>::fit(train_f);
  const MatF train_std = st.apply(train_f), held_std = st.apply(held_f);
  MlpOptions arch;
  arch.widths = {2, 128, 128, 1};
  arch.activation = Activation::Softplus;
  arch.seed = seed;
  Mlp<float> mlp(arch);
  ModelOf<float, Mlp<float>> model(mlp);
  TrainerOptions t;
  t.steps = a.steps;
  t.batch_size = 256;
  t.adam.lr = 2e-3;
  t.schedule.kind = LrSchedule::Kind::Cosine;
  t.seed = seed;
  t.eval_every = std::max<std::int64_t>(50, a.steps / 20);  // a held-out pass costs about 20 batches
  t.report_every = 1;
  Trainer<float> trainer(model, ObjectiveOptions{}, t);
  LossCurve curve;
  std::string log_text;
  ProgressBar bar(progress_enabled(g), 0, a.steps);
  note("training an MLP 2-128-128-1 (softplus) by exact score matching, " + std::to_string(a.steps) + " steps");
  TrainResult tr;
  try {
    tr = trainer.run(train_std, &held_std, [&](const TrainProgress& p) {
      const bool evaluated = p.step % t.eval_every == 0;
      nlohmann::json line = {{"step", p.step}, {"loss", number_or_null(p.loss)}, {"lr", p.lr},
                             {"grad_norm", number_or_null(p.grad_norm)}};
      if (evaluated) line["held_out"] = number_or_null(p.held_out);
      line["seconds"] = p.seconds;
      log_text += line.dump() + "\n";
      bar.update(p.step, "loss " + fmt(p.loss) + (p.has_held_out ? "  held-out " + fmt(p.held_out) : ""));
    });
  } catch (...) {
    bar.finish();
    throw;
  }
  bar.finish();
  if (!tr.held_out_steps.empty() && tr.held_out_steps.back() % t.eval_every != 0)
    log_text += nlohmann::json{{"step", tr.held_out_steps.back()}, {"held_out", number_or_null(tr.held_out.back())}}.dump() + "\n";
  for (std::size_t i = 0; i < tr.losses.size(); ++i) {
    curve.steps.push_back(double(tr.loss_steps[i]));
    curve.loss.push_back(tr.losses[i]);
  }
  for (std::size_t i = 0; i < tr.held_out.size(); ++i) {
    curve.held_out_steps.push_back(double(tr.held_out_steps[i]));
    curve.held_out.push_back(tr.held_out[i]);
  }
  write_text_file(out("train_log.jsonl"), log_text);
  io::ModelInfo info;
  info.architecture = nn::mlp_architecture(arch.widths, activation_name(arch.activation));
  for (Index j = 0; j < 2; ++j) {
    info.data_mean.push_back(double(st.mean(j)));
    info.data_scale.push_back(double(st.scale(j)));
  }
  info.objective = "sm";
  info.step = trainer.step();
  io::save_model<float>(out("model.safetensors"), mlp, info);
  const double held_sm_std = tr.held_out.empty() ? NAN : tr.held_out.back();
  timings.emplace_back("train", clock.lap());
  note("trained in " + num(timings.back().second, 3) + " s, held-out loss " + num(held_sm_std));

  // ---- 3. sampling: MALA, then ULA at MALA's adapted step (the same chains without the correction) ----
  Mlp<float> raw = fold_standardization(mlp, st.mean, st.scale);  // the network on raw coordinates
  const Index burn_in = a.sample_steps * 2 / 5;
  const Index thin = std::max<Index>(1, (a.sample_steps - burn_in) / kDrawsPerChain);
  const Index keep_from = a.sample_steps - thin * kDrawsPerChain;
  // Chains start where the data were, as `ebm sample` starts them on this model file.
  const Initialization<float> init =
      facade::data_initialization(facade::load_model<float>(out("model.safetensors")), a.chains, 1.0, seed);
  auto chain_options = [&](ChainOptions<float>& o) {
    o.chains = a.chains;
    o.steps = a.sample_steps;
    o.burn_in = keep_from;
    o.thin = thin;
    o.seed = seed;
    o.init = init;
  };
  MalaOptions<float> mo;
  chain_options(mo);
  mo.step_size = 0.05f;
  mo.adapt_steps = burn_in;
  SamplerReport mala_r{"MALA", mala<float>(raw, mo), {}, {}, 0, {}, {}};
  if (mala_r.run.chains_kept.empty()) throw NumericalError("every MALA chain stopped at a non-finite state");
  mala_r.step_size = median(mala_r.run.step_size.cast<double>());
  const double mala_seconds = clock.lap();
  UlaOptions<float> uo;
  chain_options(uo);
  uo.step_size = static_cast<float>(mala_r.step_size);
  SamplerReport ula_r{"ULA", ula<float>(raw, uo), {}, {}, mala_r.step_size, {}, {}};
  if (ula_r.run.chains_kept.empty()) throw NumericalError("every ULA chain stopped at a non-finite state");
  const double ula_seconds = clock.lap();
  // The first chains again, every state recorded: the same draws as above (each chain has its
  // own random stream), for the trace plots.
  MalaOptions<float> to = mo;
  to.chains = std::min<Index>(kTraceChains, a.chains);
  to.init.points = init.points.topRows(to.chains);
  to.thin = 1;
  to.burn_in = a.sample_steps;
  to.record_trace = true;
  const SampleResult<float> traced = mala<float>(raw, to);
  for (SamplerReport* r : {&mala_r, &ula_r}) {
    r->samples = r->run.samples.cast<double>();
    r->summary = summarize_run(r->run);
  }
  write_samples(out("samples_mala.csv"), mala_r, keep_from, thin);
  write_samples(out("samples_ula.csv"), ula_r, keep_from, thin);
  timings.emplace_back("sample (MALA)", mala_seconds);
  timings.emplace_back("sample (ULA)", ula_seconds);
  timings.emplace_back("diagnostics", clock.lap());
  note("MALA: acceptance " + num(mala_r.summary.acceptance->overall, 3) + ", step " + num(mala_r.step_size, 3) +
       ", R-hat max " + num(mala_r.summary.rhat.maxCoeff()) + "; ULA at the same step");

  // ---- 4. log p from the score: line integrals from the data mean, log Z on a grid ----
  const LoadedEnergy<double> loaded = load_energy<double>(out("model.safetensors"), "");
  const AnyEnergy<double>& energy = *loaded.energy;
  const EnergyFunction<double> f = energy_function<double>(energy);
  const Box plot_box = box_around(train, 0.1);
  const Box z_box = box_around(train, 0.3);
  GridOptions go;
  go.lower = {z_box.x0, z_box.y0};
  go.upper = {z_box.x1, z_box.y1};
  const LogZResult z = log_normalizer_grid<double>(energy, go);
  const MatD x0 = train.colwise().mean();
  Vec<double> e0;
  f(x0, e0, nullptr);
  const double log_p0 = -e0(0) - z.log_z;
  const MatD line_grid = grid_points(plot_box, 50);
  const LineIntegralResult<double> li_held = log_density_relative<double>(energy, held, x0);
  const LineIntegralResult<double> li_grid = log_density_relative<double>(energy, line_grid, x0);
  const Vec<double> logp_held = (li_held.log_p_relative.array() + log_p0).matrix();
  const double max_path = std::max(li_held.path_difference.maxCoeff(), li_grid.path_difference.maxCoeff());
  const double quad_held = li_held.quadrature_error.maxCoeff(), quad_grid = li_grid.quadrature_error.maxCoeff();
  double max_vs_energy = 0;
  {
    Vec<double> e;
    f(held, e, nullptr);
    max_vs_energy = (logp_held.array() + e.array() + z.log_z).abs().maxCoeff();
    f(line_grid, e, nullptr);
    const Vec<double> logp_grid = (li_grid.log_p_relative.array() + log_p0).matrix();
    max_vs_energy = std::max(max_vs_energy, (logp_grid.array() + e.array() + z.log_z).abs().maxCoeff());
  }
  const double nll_line = -logp_held.mean();
  const NllResult nll = negative_log_likelihood<double>(energy, held, z);
  timings.emplace_back("log p and log Z", clock.lap());
  note("log Z " + num(z.log_z, 6) + " (quadrature error " + num(z.error_estimate, 2) + "), held-out NLL " + num(nll.nll, 5) +
       " nats, path check " + num(max_path, 2));

  // ---- 5. evaluation against the held-out data ----
  Mlp<float> raw_eval = raw;
  const double held_sm_raw =
      double(exact_score_matching<float>(ModelOf<float, Mlp<float>>(raw_eval), held_f, LaplacianRoute::Auto, false).loss);
  GridHistogramOptions hg;
  hg.lower = {train.col(0).minCoeff() - 0.3, train.col(1).minCoeff() - 0.3};
  hg.upper = {train.col(0).maxCoeff() + 0.3, train.col(1).maxCoeff() + 0.3};
  hg.bins = {40};
  const Vec<double> masses = grid_cell_masses(
      [&](const MatD& x, Vec<double>& logd) {
        Vec<double> e;
        f(x, e, nullptr);
        logd = -e;
      },
      hg, 3);
  const HistogramDivergences density_div = histogram_divergences<double>(held, masses, hg);
  for (SamplerReport* r : {&mala_r, &ula_r}) {
    r->mmd = mmd<double>(thin_rows(r->samples, kMmdPoints), held);
    r->hist = histogram_divergences<double>(r->samples, held, hg);
  }
  const MmdResult floor_mmd = mmd<double>(thin_rows(fresh, kMmdPoints), held);
  const HistogramDivergences floor_hist = histogram_divergences<double>(fresh, held, hg);
  timings.emplace_back("evaluation", clock.lap());

  // ---- 6. figures ----
  const GridValues gv = evaluate_grid(f, plot_box, 200);
  density_figure(gv, &train, false, 3000, "learned density p(x) = exp(-E(x)) / Z, with training data").save(out("density.png"));
  {
    Vec<double> e;
    MatD fine_scores, arrow_scores;
    f(grid_points(plot_box, 200), e, &fine_scores);
    const MatD arrows = grid_points(plot_box, 22);
    f(arrows, e, &arrow_scores);
    score_figure(gv, fine_scores, arrows, arrow_scores, "learned score s(x) = -grad E(x): points towards the data")
        .save(out("score.png"));
  }
  samples_figure({{"MALA (step " + num(mala_r.step_size, 3) + ", acceptance " + num(mala_r.summary.acceptance->overall, 2) + ")",
                   mala_r.samples},
                  {"ULA at the same step, no Metropolis correction", ula_r.samples}},
                 &held, 5000, plot_box, "samples of the learned model over held-out data")
      .save(out("samples.png"));
  {
    const MatD starts = spread_starts(plot_box, 5, seed);
    trajectories_figure(gv, langevin_vs_flow(f, starts, 500, 0.01, seed),
                        "the same starts: noise lets chains cross barriers, gradient flow slides into the nearest minimum")
        .save(out("trajectories.png"));
  }
  loss_figure(curve, "exact score-matching loss (standardised coordinates)").save(out("loss.png"));
  {
    std::vector<TraceChain> chains;
    for (std::size_t c = 0; c < traced.chains_kept.size(); ++c) {
      TraceChain tc;
      tc.chain = traced.chains_kept[c];
      tc.values = traced.trace.middleRows(static_cast<Index>(c) * traced.trace_length, traced.trace_length).cast<double>();
      for (Index i = 0; i < traced.trace_length; ++i) tc.steps.push_back(double(i));
      chains.push_back(std::move(tc));
    }
    trace_figure(chains, {"x0", "x1"}, "MALA trace plots (the first chains; step size adapted during burn-in)",
                 double(burn_in))
        .save(out("trace.png"));
  }
  timings.emplace_back("figures", clock.lap());

  // ---- 7. report ----
  std::string command = "ebm demo -o " + a.output + " --steps " + std::to_string(a.steps) + " --seed " + std::to_string(seed);
  if (a.chains != 1000) command += " --chains " + std::to_string(a.chains);
  if (a.sample_steps != 4000) command += " --sample-steps " + std::to_string(a.sample_steps);
  const double wall = clock.total();

  nlohmann::json m;
  m["command"] = command;
  m["seed"] = seed;
  m["data"] = {{"name", "moons"}, {"train", kTrain}, {"held_out", kHeldOut}};
  m["train"] = {{"steps", trainer.step()},
                {"batch", 256},
                {"lr", 2e-3},
                {"schedule", "cosine"},
                {"final_batch_loss", number_or_null(tr.losses.empty() ? NAN : tr.losses.back())},
                {"held_out_sm_loss_standardized", number_or_null(held_sm_std)},
                {"held_out_sm_loss", number_or_null(held_sm_raw)},
                {"seconds", tr.seconds}};
  m["log_z"] = {{"value", z.log_z}, {"error_estimate", z.error_estimate}, {"boundary_fraction", z.boundary_fraction},
                {"box", {z_box.x0, z_box.x1, z_box.y0, z_box.y1}}, {"points_per_dim", go.resolved_points(2)}};
  m["log_p"] = {{"reference_point", {x0(0, 0), x0(0, 1)}},
                {"log_p_reference", log_p0},
                {"max_path_difference", max_path},
                {"max_quadrature_error_held_out", quad_held},
                {"max_quadrature_error_grid", quad_grid},
                {"max_abs_vs_energy", max_vs_energy},
                {"points", li_held.log_p_relative.size() + li_grid.log_p_relative.size()}};
  m["nll"] = {{"held_out", nll.nll}, {"standard_error", nll.standard_error}, {"line_integral", nll_line}};
  m["density"] = {{"kl_held_out_model", density_div.kl_reverse}, {"tv", density_div.tv}, {"bins", 40}};
  m["mala"] = sampler_json(mala_r);
  m["ula"] = sampler_json(ula_r);
  m["fresh_data"] = {{"points", fresh.rows()},
                     {"mmd2", floor_mmd.mmd2},
                     {"mmd_bandwidth", floor_mmd.bandwidth},
                     {"kl_held_out_samples", floor_hist.kl},
                     {"tv", floor_hist.tv}};
  nlohmann::json tj = nlohmann::json::object();
  for (const auto& [name, s] : timings) tj[name] = s;
  tj["total"] = wall;
  m["timings"] = tj;
  m["threads"] = num_threads();
  write_text_file(out("metrics.json"), m.dump(2) + "\n");

  std::ostringstream r;
  r << "# ebm demo: an energy-based model of two moons\n\n"
    << "Reproduce with `" << command << "` (the numbers do not depend on `--threads`; the timings do).\n\n"
    << "1. **Data.** " << kTrain << " training and " << kHeldOut << " held-out points of two moons "
    << "(`make_toy`, seed " << seed << "): [train.csv](train.csv), [held_out.csv](held_out.csv).\n"
    << "2. **Model.** An MLP energy 2-128-128-1 with softplus activations, trained on standardised data by exact score "
       "matching (Hyvarinen's loss, the Laplacian propagated forward through the network): Adam, learning rate 2e-3 "
       "with cosine decay, batches of 256, "
    << trainer.step() << " steps: [model.safetensors](model.safetensors) (loads into `torch.nn.Sequential`), loss log "
    << "[train_log.jsonl](train_log.jsonl).\n"
    << "3. **Sampling.** " << a.chains << " chains of MALA (step size adapted per chain towards acceptance 0.574 during "
    << "the first " << burn_in << " of " << a.sample_steps << " steps) and of ULA with MALA's median adapted step "
    << num(mala_r.step_size, 3) << " but no Metropolis correction; " << kDrawsPerChain << " draws per chain after step "
    << keep_from << " (every " << thin << "th): [samples_mala.csv](samples_mala.csv), [samples_ula.csv](samples_ula.csv).\n"
    << "4. **log p from the score.** log p(x) - log p(x0) by Gauss-Legendre quadrature of s along the segment from "
    << "x0 = the data mean (" << num(x0(0, 0)) << ", " << num(x0(0, 1)) << ") to each of the " << kHeldOut
    << " held-out points and a 50 x 50 grid; log Z by the trapezoid rule on a " << go.resolved_points(2) << "^2 grid over ["
    << num(z_box.x0, 3) << ", " << num(z_box.x1, 3) << "] x [" << num(z_box.y0, 3) << ", " << num(z_box.y1, 3)
    << "], which makes log p absolute.\n"
    << "5. **Evaluation** against the held-out points: the model's cell masses and the samples' histograms on a 40 x 40 "
       "grid (KL, total variation), the MMD with a Gaussian kernel of median-heuristic bandwidth ("
    << kMmdPoints << " samples against the " << kHeldOut << " held-out points). The last row of the sampler table is "
    << fresh.rows() << " fresh points from the generator: what perfect samples score against this held-out set.\n\n";

  r << "## Model\n\n| metric | value |\n| --- | --- |\n"
    << "| held-out NLL (nats per point) | " << num(nll.nll, 5) << " ± " << num(nll.standard_error, 2) << " |\n"
    << "| held-out NLL from the line integrals | " << num(nll_line, 5) << " |\n"
    << "| log Z (grid quadrature) | " << num(z.log_z, 6) << " (error estimate " << num(z.error_estimate, 2)
    << ", mass near the box's edge " << num(z.boundary_fraction, 2) << ") |\n"
    << "| path independence: max \\|straight - detour\\| | " << num(max_path, 3) << " |\n"
    << "| quadrature error estimate, max \\|32 - 16 nodes\\|: held-out points, grid | " << num(quad_held, 3) << ", "
    << num(quad_grid, 3) << " |\n"
    << "| max \\|line-integral log p - (-E - log Z)\\| (held-out and grid) | " << num(max_vs_energy, 3) << " |\n"
    << "| KL(held-out ‖ model) on the 40 x 40 grid | " << num(density_div.kl_reverse) << " |\n"
    << "| TV(held-out, model) on the grid | " << num(density_div.tv) << " |\n"
    << "| exact score-matching loss, held-out (raw coordinates) | " << num(held_sm_raw, 5) << " |\n"
    << "| the same in the standardised coordinates of training | " << num(held_sm_std, 5) << " |\n"
    << "| final batch loss (standardised) | " << num(tr.losses.empty() ? NAN : tr.losses.back(), 5) << " |\n\n";

  auto sampler_row = [&](const SamplerReport& s) {
    r << "| " << s.name << " | " << num(s.step_size, 3) << " | "
      << (s.summary.acceptance ? num(s.summary.acceptance->overall, 3) : std::string("—")) << " | "
      << num(s.summary.rhat.maxCoeff()) << " | " << num(s.summary.ess_bulk.minCoeff(), 5) << " | "
      << num(s.summary.ess_tail.minCoeff(), 5) << " | " << num(s.mmd.mmd2, 3) << " | " << num(s.hist.kl) << " | "
      << num(s.hist.tv) << " | " << num(s.run.seconds, 3) << " |\n";
  };
  r << "## Samplers\n\n"
    << "| sampler | step | acceptance | R-hat max | ESS bulk min | ESS tail min | MMD² | KL(held-out ‖ samples) | TV | "
       "seconds |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  sampler_row(mala_r);
  sampler_row(ula_r);
  r << "| fresh data | | | | | | " << num(floor_mmd.mmd2, 3) << " | " << num(floor_hist.kl) << " | " << num(floor_hist.tv)
    << " | |\n\n"
    << "R-hat (rank-normalised split R-hat, the larger of x0's and x1's) compares the " << a.chains
    << " chains with one another; ESS is the effective number of independent draws among the "
    << mala_r.samples.rows() << " kept. ";
  if (mala_r.summary.rhat.maxCoeff() >= 1.01)
    r << "MALA's R-hat of " << num(mala_r.summary.rhat.maxCoeff(), 3)
      << " is above 1.01: the chains have not mixed. A chain crosses the low-density gap between the moons only "
         "every few hundred steps (see the trace plots), so over the "
      << a.sample_steps - keep_from
      << " steps it is kept the chains still disagree about the time spent in each part; the ensemble matches "
         "the data all the same (compare its TV with the fresh-data row) because the chains start spread over "
         "the data. Per-chain estimates would need longer chains. ";
  else
    r << "MALA's R-hat of " << num(mala_r.summary.rhat.maxCoeff(), 3) << " is below 1.01: the chains agree. ";
  r << "ULA's lower R-hat says nothing about its accuracy: its chains agree on a biased density. At MALA's step, "
       "the Metropolis correction rejects the moves that ULA keeps; the gap between the two rows is ULA's "
       "discretisation bias, which shrinks with the step size.\n\n";

  r << "## Figures\n\n"
    << "The learned density, normalised on the plot's grid, with the training data:\n\n![density](density.png)\n\n"
    << "The score field: colour is log(1 + |s|), dark along the ridges where the data are; arrows show its direction:\n\n"
    << "![score](score.png)\n\n"
    << "MALA and ULA samples over the held-out data:\n\n![samples](samples.png)\n\n"
    << "Langevin dynamics against gradient flow from the same five starting points (500 steps of 0.01):\n\n"
    << "![trajectories](trajectories.png)\n\n"
    << "Training loss (batch and held-out):\n\n![loss](loss.png)\n\n"
    << "Trace plots of the first MALA chains:\n\n![trace](trace.png)\n\n";

  r << "## Timings\n\n| phase | seconds |\n| --- | --- |\n";
  for (const auto& [name, s] : timings) r << "| " << name << " | " << num(s, 3) << " |\n";
  r << "| **total** | **" << num(wall, 3) << "** |\n\n"
    << "On " << num_threads() << " thread" << (num_threads() == 1 ? "" : "s") << ". All metrics are also in "
    << "[metrics.json](metrics.json).\n";
  write_text_file(out("report.md"), r.str());

  std::printf("ebm demo: report in %s\n", out("report.md").c_str());
  std::printf("  held-out NLL %s nats (log Z %s), KL(held-out||model) %s, TV %s\n", num(nll.nll, 5).c_str(),
              num(z.log_z, 6).c_str(), num(density_div.kl_reverse).c_str(), num(density_div.tv).c_str());
  std::printf("  MALA: acceptance %s, R-hat max %s, MMD^2 %s, TV %s | ULA (same step): MMD^2 %s, TV %s | fresh data: TV %s\n",
              num(mala_r.summary.acceptance->overall, 3).c_str(), num(mala_r.summary.rhat.maxCoeff()).c_str(),
              num(mala_r.mmd.mmd2, 3).c_str(), num(mala_r.hist.tv).c_str(), num(ula_r.mmd.mmd2, 3).c_str(),
              num(ula_r.hist.tv).c_str(), num(floor_hist.tv).c_str());
  std::printf("  total %.1f s (train %.1f s)\n", wall, tr.seconds);
}

}  // namespace

void add_demo(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<DemoArgs>();
  CLI::App* sub = app.add_subcommand("demo", "The whole job on two moons: train, sample, recover log p, evaluate, plot, report");
  sub->add_option("-o,--output", a->output, "Directory for the report, figures, model and samples (default ebm-demo)");
  sub->add_option("--steps", a->steps, "Training steps (default 3000)");
  sub->add_option("--chains", a->chains, "Sampler chains (default 1000)");
  sub->add_option("--sample-steps", a->sample_steps, "Sampler steps per chain, burn-in included (default 4000)");
  const Globals& g = ctx.globals;
  ctx.runners[sub] = [a, &g] { run_demo(*a, g); };
}

}  // namespace ebm::cli
