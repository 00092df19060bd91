// `ebm logp`: log p(x) from the score by line integrals from a reference point (relative), or
// absolute with log Z from a grid (D <= 3) or annealed importance sampling. Double precision.
#include "commands.hpp"
#include "log_z.hpp"

#include <ebm/facade/density.hpp>
#include <ebm/facade/report.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>

namespace ebm::cli {
namespace {

struct LogpArgs {
  std::string model, energy, at, ref, normalize, box, output, report;
  int nodes = 32, grid_points = 0, ais_temperatures = 200;
  std::int64_t ais_chains = 256;
};

}  // namespace

std::vector<std::pair<double, double>> parse_box(const std::string& text, Index dim) {
  const std::vector<double> v = parse_numbers("--box", text);
  std::vector<std::pair<double, double>> box;
  if (v.size() == 2) {
    box.assign(static_cast<std::size_t>(dim), {v[0], v[1]});
  } else if (v.size() == 2 * static_cast<std::size_t>(dim)) {
    for (Index j = 0; j < dim; ++j) box.emplace_back(v[2 * static_cast<std::size_t>(j)], v[2 * static_cast<std::size_t>(j) + 1]);
  } else {
    throw UsageError("--box: expected \"lo,hi\" or " + std::to_string(dim) + " pairs \"lo0,hi0,lo1,hi1,...\", got '" + text + "'");
  }
  for (const auto& [lo, hi] : box)
    if (!(lo < hi)) throw UsageError("--box: each lower bound must be below its upper bound, got '" + text + "'");
  return box;
}

LogZResult log_z_for(const LoadedEnergy<double>& e, const std::string& method, const MatD& points,
                     const std::string& box_text, int grid_points, std::int64_t ais_chains, int ais_temperatures,
                     std::uint64_t seed, bool show_progress, const Communicator& processes) {
  facade::LogZRequest r;
  r.method = method;
  if (!box_text.empty()) r.box = parse_box(box_text, e.dim());
  r.grid_points = grid_points;
  r.ais_chains = ais_chains;
  r.ais_temperatures = ais_temperatures;
  r.seed = seed;
  r.communicator = &processes;
  std::optional<ProgressBar> bar;
  if (method == "ais") {
    bar.emplace(show_progress, 0, ais_temperatures);
    r.progress = [&bar](int done, int) { bar->update(done, "AIS temperatures"); };
  }
  try {
    const LogZResult z = facade::log_z(e, points, r);
    if (bar) bar->finish();
    return z;
  } catch (const InvalidArgument& err) {
    if (bar) bar->finish();
    throw flag_error(err);
  }
}

std::string log_z_note(const LogZResult& z) {
  std::string s = "log Z = " + fmt(z.log_z) + " +- " + fmt(z.error_estimate) + " (" + z.method;
  if (z.method == "grid") s += ", mass in the box's outer 5%: " + fmt(z.boundary_fraction);
  else s += ", ESS " + fmt(z.ess) + ", acceptance " + fmt(z.acceptance_rate);
  s += ")";
  if (z.method == "grid" && z.boundary_fraction > 1e-6) s += "; warning: the box cuts off mass, widen --box";
  return s;
}

nlohmann::json log_z_json(const LogZResult& z) { return nlohmann::json::parse(facade::log_z_json(z)); }

namespace {

void validate(const LogpArgs& a) {
  require_given("--at", a.at);
  check_output_path("-o", a.output, true);
  if (!a.report.empty()) check_output_path("--report", a.report, false);
  require_at_least("--nodes", a.nodes, 2);
  if (!a.normalize.empty() && a.normalize != "grid" && a.normalize != "ais")
    throw UsageError("--normalize: expected grid or ais, got '" + a.normalize + "'");
  if (!a.box.empty() && a.normalize != "grid") throw UsageError("--box: only used with --normalize grid");
  if (a.grid_points != 0) require_at_least("--grid-points", a.grid_points, 5);
  require_at_least("--ais-chains", a.ais_chains, 2);
  require_at_least("--ais-temperatures", a.ais_temperatures, 1);
}

MatD reference_point(const std::string& ref, Index dim) {
  if (ref.empty()) return MatD::Zero(1, dim);
  std::error_code ec;
  MatD x0;
  if (std::filesystem::exists(ref, ec)) {
    x0 = read_points<double>(ref, dim, "the energy");
    if (x0.rows() != 1) throw UsageError("--ref: " + ref + " has " + std::to_string(x0.rows()) + " rows, expected one point");
  } else {
    std::vector<double> v;
    try {
      v = parse_numbers("--ref", ref);
    } catch (const UsageError&) {
      throw UsageError("--ref: '" + ref + "' is neither comma-separated numbers nor an existing file");
    }
    if (static_cast<Index>(v.size()) != dim)
      throw UsageError("--ref: has " + std::to_string(v.size()) + " coordinates but the energy has D = " + std::to_string(dim));
    x0 = Eigen::Map<const MatD>(v.data(), 1, dim);
  }
  return x0;
}

void logp(const LogpArgs& a, const Globals& g) {
  validate(a);
  const LoadedEnergy<double> e = load_energy<double>(a.model, a.energy);
  const Index d = e.dim();
  const MatD x = read_points<double>(a.at, d, e.is_model ? "the model" : "the energy");
  const MatD x0 = reference_point(a.ref, d);
  std::optional<LogZResult> z;
  if (!a.normalize.empty())
    z = log_z_for(e, a.normalize, x, a.box, a.grid_points, a.ais_chains, a.ais_temperatures, g.seed, progress_enabled(g), *g.processes);
  const facade::LogP r = facade::log_p(e, x, x0, a.nodes, std::nullopt, g.processes);
  MatD out(x.rows(), 3);
  out.col(0) = r.log_p;
  out.col(1) = r.quadrature_error;
  out.col(2) = r.path_difference;
  nlohmann::json report = {{"source", e.source},
                           {"points", x.rows()},
                           {"dim", d},
                           {"ref", std::vector<double>(x0.data(), x0.data() + d)},
                           {"nodes", a.nodes},
                           {"normalized", !a.normalize.empty()},
                           {"max_quadrature_error", number_or_null(r.quadrature_error.maxCoeff())},
                           {"max_path_difference", number_or_null(r.path_difference.maxCoeff())},
                           {"evaluations", r.evaluations},
                           {"seconds", r.seconds}};
  std::string note;
  if (z) {
    Vec<double> e0;
    e.evaluate(x0, e0, nullptr);
    out.col(0).array() += -e0(0) - z->log_z;  // log p(x0) = -E(x0) - log Z
    report["log_z"] = log_z_json(*z);
    note = log_z_note(*z);
  }
  if (!g.writes()) return;
  write_points<double>(a.output, out, {"log_p", "quadrature_error", "path_difference"});
  if (!a.report.empty()) write_text_file(a.report, report.dump(2) + "\n");
  if (!g.quiet && !note.empty()) std::cerr << "ebm logp: " << note << "\n";
}

}  // namespace

void add_logp(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<LogpArgs>();
  CLI::App* sub = app.add_subcommand("logp", "log p(x) from the score by line integrals (relative, or normalised)");
  add_energy_options(sub, a->model, a->energy);
  sub->add_option("--at", a->at, "Points (.csv, .tsv, .npy)");
  sub->add_option("--ref", a->ref, "Reference point x0: \"x0,x1,...\" or a file with one row (default: the origin)");
  sub->add_option("--normalize", a->normalize, "Absolute log p with log Z by grid (D <= 3) or ais")->transform(lowercase());
  sub->add_option("--box", a->box, "grid: \"lo,hi\" for every axis or \"lo0,hi0,lo1,hi1,...\" (default: from the points / the model's data)");
  sub->add_option("--grid-points", a->grid_points, "grid: points per axis (default 4001, 401, 81 for D = 1, 2, 3)");
  sub->add_option("--ais-chains", a->ais_chains, "ais: chains (default 256)");
  sub->add_option("--ais-temperatures", a->ais_temperatures, "ais: intermediate temperatures (default 200)");
  sub->add_option("--nodes", a->nodes, "Gauss-Legendre nodes per path (default 32)");
  sub->add_option("-o,--output", a->output, "Output file: columns log_p, quadrature_error, path_difference");
  sub->add_option("--report", a->report, "Write a JSON summary (log Z and its error) to this file");
  const Globals& g = ctx.globals;
  ctx.distributed.insert(sub);  // the points' line integrals and AIS's chains
  ctx.runners[sub] = [a, &g] { logp(*a, g); };
}

}  // namespace ebm::cli
