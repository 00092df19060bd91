// `ebm eval`: how well a model (or an analytic energy) fits a data file: the exact
// score-matching loss, the negative log-likelihood where log Z can be had (grid for D <= 3, else
// AIS), and the MMD between MALA samples of the model and the data. All in raw coordinates.
#include "commands.hpp"

#include <ebm/sample/distributed.hpp>
#include "log_z.hpp"

#include <ebm/core/rng.hpp>
#include <ebm/data/dataset.hpp>
#include <ebm/density/log_z.hpp>
#include <ebm/diag/metrics.hpp>
#include <ebm/energy/standardized.hpp>
#include <ebm/sample/samplers.hpp>
#include <ebm/train/objectives.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

namespace ebm::cli {
namespace {

struct EvalArgs {
  std::string model, energy, data, normalize = "auto", box;
  bool json = false;
  std::int64_t mmd_samples = 1000, mmd_steps = 500, batch = 512, ais_chains = 256;
  int grid_points = 0, ais_temperatures = 200;
};

// A parameterless Model over an analytic energy, for exact score matching by the naive route.
class EnergyModel final : public Model<double> {
 public:
  explicit EnergyModel(const AnyEnergy<double>& e) : e_(e) {}
  Index dim() const override { return e_.dim(); }
  std::vector<ParameterSpec> parameter_specs() const override { return {}; }
  std::vector<ad::Var<double>> bind(ad::Tape<double>&, bool) const override { return {}; }
  ad::Var<double> energy(ad::Var<double> x, const std::vector<ad::Var<double>>&, ad::Var<double>) const override {
    return e_.energy(x);
  }
  using Model<double>::energy;
  void edit_parameters(const std::function<void(const std::vector<MatD*>&)>&) override {}
  std::vector<MatD> parameter_values() const override { return {}; }

 private:
  const AnyEnergy<double>& e_;
};

// Mean over all rows of the exact score-matching loss, in batches (the loss is a mean per batch).
double score_matching_loss(const Model<double>& model, const MatD& x, Index batch) {
  double sum = 0;
  for (Index start = 0; start < x.rows(); start += batch) {
    const Index n = std::min(batch, x.rows() - start);
    const MatD b = x.middleRows(start, n);
    sum += double(exact_score_matching<double>(model, b, LaplacianRoute::Auto, false).loss) * double(n);
  }
  return sum / double(x.rows());
}

struct SmResult {
  std::optional<double> loss;
  std::string note;
};

// Beyond this dimension the naive route (D backward passes) is too slow for an evaluation.
constexpr Index kNaiveRouteMaxDim = 64;

SmResult sm_loss(const LoadedEnergy<double>& e, const MatD& x, Index batch) {
  try {
    if (e.is_model && e.network->dense_chain()) {
      // The standardisation (and temperature) folded into the network: still an MLP, so the
      // Laplacian is propagated forward, and the loss is that of the raw-coordinate energy.
      const RowVec<double> mean = e.standardized() ? e.mean() : RowVec<double>::Zero(e.dim());
      const RowVec<double> scale = e.standardized() ? e.scale() : RowVec<double>::Ones(e.dim());
      Mlp<double> folded = fold_standardization(to_mlp(*e.network), mean, scale, e.temperature);
      ModelOf<double, Mlp<double>> model(folded);
      return {score_matching_loss(model, x, batch), "exact, raw coordinates"};
    }
    if (!e.energy->differentiable()) return {std::nullopt, "the energy has no differentiable form"};
    if (e.dim() > kNaiveRouteMaxDim)
      return {std::nullopt, "skipped: without a forward Laplacian the loss takes D = " + std::to_string(e.dim()) +
                                " backward passes per batch"};
    const EnergyModel model(*e.energy);
    return {score_matching_loss(model, x, batch), "exact (D backward passes), raw coordinates"};
  } catch (const InvalidArgument& err) {
    return {std::nullopt, err.what()};
  }
}

struct MmdOutcome {
  std::optional<MmdResult> mmd;
  Index samples = 0, failures = 0;
  double acceptance = NAN;
};

// MALA chains from N(data mean, data sd^2) per coordinate, one draw per chain at the end, against
// a seeded subsample of the data of the same size.
MmdOutcome mmd_to_model(const AnyEnergy<float>& energy, const MatD& data, Index samples, Index steps, std::uint64_t seed,
                        bool show_progress, const Communicator& processes) {
  const Index m = std::min(samples, data.rows());
  const Index d = data.cols();
  const RowVec<double> mean = data.colwise().mean();
  const RowVec<double> sd = ((data.rowwise() - mean).array().square().colwise().mean()).sqrt().matrix();
  MalaOptions<float> o;
  o.chains = m;
  o.steps = steps;
  o.burn_in = steps - 1;
  o.seed = seed;
  o.init.kind = Initialization<float>::Kind::Points;
  o.init.points.resize(m, d);
  std::vector<double> z(static_cast<std::size_t>(d));
  for (Index c = 0; c < m; ++c) {
    CounterRng(seed, static_cast<std::uint64_t>(c)).normal<double>(std::uint64_t{1} << 63, std::span<double>(z));
    for (Index j = 0; j < d; ++j)
      o.init.points(c, j) = static_cast<float>(mean(j) + std::max(sd(j), 1e-3) * z[static_cast<std::size_t>(j)]);
  }
  ProgressBar bar(show_progress, 0, steps);
  o.progress = [&bar](Index done, Index) { bar.update(done, "MALA steps"); };
  // The chains shared among the processes (sample/distributed.hpp).
  if (m < processes.size())
    throw UsageError("--mmd-samples: " + std::to_string(m) + " chains cannot be shared among " + std::to_string(processes.size()) + " processes");
  const Share mine = share_of(m, processes.rank(), processes.size());
  o.chains = mine.last - mine.first;
  o.first_chain = static_cast<std::uint64_t>(mine.first);
  o.init.points = Mat<float>(o.init.points.middleRows(mine.first, o.chains));
  SampleResult<float> r;
  std::exception_ptr failure;
  try {
    r = mala<float>(energy, o);
  } catch (...) {
    failure = std::current_exception();
  }
  r = gather_chains(processes, std::move(r), failure);
  bar.finish();
  MmdOutcome out;
  out.samples = r.samples.rows();
  out.failures = static_cast<Index>(r.failures.size());
  out.acceptance = r.acceptance_rate();
  if (r.samples.rows() < 2) return out;
  const std::vector<Index> perm = seeded_permutation(data.rows(), seed, 1);
  MatD sub(m, d);
  for (Index i = 0; i < m; ++i) sub.row(i) = data.row(perm[static_cast<std::size_t>(i)]);
  out.mmd = mmd<double>(r.samples.cast<double>().eval(), sub);
  return out;
}

void eval(const EvalArgs& a, const Globals& g) {
  require_given("--data", a.data);
  const std::vector<std::string> methods = {"auto", "grid", "ais", "none"};
  if (std::find(methods.begin(), methods.end(), a.normalize) == methods.end())
    throw UsageError("--normalize: expected auto, grid, ais or none, got '" + a.normalize + "'");
  require_at_least("--mmd-samples", a.mmd_samples, 0);
  if (a.mmd_samples > 0) require_at_least("--mmd-steps", a.mmd_steps, 1);
  require_at_least("--batch", a.batch, 1);
  if (a.grid_points != 0) require_at_least("--grid-points", a.grid_points, 5);
  require_at_least("--ais-chains", a.ais_chains, 2);
  require_at_least("--ais-temperatures", a.ais_temperatures, 1);

  const LoadedEnergy<double> e = load_energy<double>(a.model, a.energy);
  const Index d = e.dim();
  const MatD x = read_points<double>(a.data, d, e.is_model ? "the model" : "the energy");
  if (x.rows() < 2) throw FormatError(a.data + ": needs at least 2 points, has " + std::to_string(x.rows()));

  nlohmann::json out = {{"source", e.source}, {"data", a.data}, {"points", x.rows()}, {"dim", d}};
  const SmResult sm = sm_loss(e, x, a.batch);
  out["sm_loss"] = sm.loss ? number_or_null(*sm.loss) : nlohmann::json(nullptr);
  out["sm_loss_note"] = sm.note;

  std::optional<LogZResult> z;
  std::optional<NllResult> nll;
  const std::string method = a.normalize == "auto" ? (d <= 3 ? "grid" : "ais") : a.normalize;
  if (method != "none") {
    z = log_z_for(e, method, x, a.box, a.grid_points, a.ais_chains, a.ais_temperatures, g.seed, progress_enabled(g), *g.processes);
    nll = negative_log_likelihood<double>(*e.energy, x, *z);
    out["log_z"] = log_z_json(*z);
    out["nll"] = number_or_null(nll->nll);
    out["nll_standard_error"] = number_or_null(nll->standard_error);
  } else {
    out["log_z"] = nullptr;
    out["nll"] = nullptr;
  }

  MmdOutcome m;
  if (a.mmd_samples > 0) {
    const LoadedEnergy<float> ef = load_energy<float>(a.model, a.energy);
    m = mmd_to_model(*ef.energy, x, a.mmd_samples, a.mmd_steps, g.seed, progress_enabled(g), *g.processes);
  }
  out["mmd2"] = m.mmd ? number_or_null(m.mmd->mmd2) : nlohmann::json(nullptr);
  out["mmd_bandwidth"] = m.mmd ? number_or_null(m.mmd->bandwidth) : nlohmann::json(nullptr);
  out["mmd_samples"] = m.samples;
  out["mala_failures"] = m.failures;
  out["mala_acceptance"] = number_or_null(m.acceptance);

  if (!g.writes()) return;
  if (!g.quiet && z && z->method == "grid" && z->boundary_fraction > 1e-6) std::cerr << "ebm eval: " << log_z_note(*z) << "\n";
  if (!g.quiet && m.failures > 0) std::cerr << "ebm eval: " << m.failures << " MALA chain(s) stopped at a non-finite state\n";
  if (a.json) {
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::printf("%s on %s (%lld points, D = %lld)\n", e.source.c_str(), a.data.c_str(), static_cast<long long>(x.rows()),
              static_cast<long long>(d));
  std::printf("  score-matching loss  %s  (%s)\n", sm.loss ? fmt(*sm.loss).c_str() : "-", sm.note.c_str());
  if (z) {
    std::printf("  log Z                %s +- %s (%s)\n", fmt(z->log_z).c_str(), fmt(z->error_estimate).c_str(), z->method.c_str());
    std::printf("  NLL                  %s +- %s nats per point\n", fmt(nll->nll).c_str(), fmt(nll->standard_error).c_str());
  }
  if (m.mmd)
    std::printf("  MMD^2                %s  (bandwidth %s, %lld MALA samples, acceptance %s)\n", fmt(m.mmd->mmd2).c_str(),
                fmt(m.mmd->bandwidth).c_str(), static_cast<long long>(m.samples), fmt(m.acceptance).c_str());
}

}  // namespace

void add_eval(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* sub = app.add_subcommand("eval", "Score-matching loss, NLL and MMD of a model on a data file");
  add_energy_options(sub, a->model, a->energy);
  sub->add_option("--data", a->data, "Data (.csv, .tsv, .npy, .idx)");
  sub->add_flag("--json", a->json, "Print JSON");
  sub->add_option("--normalize", a->normalize, "log Z for the NLL: auto (grid for D <= 3, else ais), grid, ais or none")->transform(lowercase());
  sub->add_option("--box", a->box, "grid: \"lo,hi\" or \"lo0,hi0,lo1,hi1,...\" (default: from the data and the model)");
  sub->add_option("--grid-points", a->grid_points, "grid: points per axis (default 4001, 401, 81 for D = 1, 2, 3)");
  sub->add_option("--ais-chains", a->ais_chains, "ais: chains (default 256)");
  sub->add_option("--ais-temperatures", a->ais_temperatures, "ais: intermediate temperatures (default 200)");
  sub->add_option("--mmd-samples", a->mmd_samples, "MALA samples (and data points) for the MMD (default 1000; 0: skip)");
  sub->add_option("--mmd-steps", a->mmd_steps, "MALA steps per sample (default 500)");
  sub->add_option("--batch", a->batch, "Rows per score-matching batch (default 512)");
  const Globals& g = ctx.globals;
  ctx.distributed.insert(sub);  // AIS's and the MMD's chains; the rest is computed by every process
  ctx.runners[sub] = [a, &g] { eval(*a, g); };
}

}  // namespace ebm::cli
