// `ebm plot KIND`: figures of a model, an energy, samples or a training log (PNG, SVG or PDF by
// the extension of -o). The recipes live in figures.cpp, shared with `ebm demo`.
#include "commands.hpp"
#include "figures.hpp"

#include <ebm/data/matrix_file.hpp>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

namespace ebm::cli {
namespace {

struct PlotArgs {
  std::string output, title;
  // energies
  std::string model, energy, box, data;
  std::optional<std::int64_t> grid;  // unset: the kind's default
  bool log = false;
  // samples
  std::string samples, dims = "0,1", shape;
  std::int64_t max_points = 5000, count = 64;
  std::optional<std::int64_t> chains;  // unset: the kind's default
  // trajectories
  std::int64_t steps = 500;
  double step_size = 0.01;
  // loss
  std::string log_file;
};

const char* kinds_text = "density, score, samples, trajectories, loss, trace, images";

std::string or_default(const std::string& title, const std::string& fallback) { return title.empty() ? fallback : title; }

// A file's name without its directories, for default titles.
std::string base(const std::string& path) { return std::filesystem::path(path).filename().string(); }

void save(const plot::Figure& fig, const PlotArgs& a, const Globals& g, const std::string& kind) {
  fig.save(a.output);
  if (!g.quiet) std::cerr << "ebm plot " << kind << ": -> " << a.output << "\n";
}

MatD optional_data(const std::string& path) {
  if (path.empty()) return MatD(0, 2);
  return read_points<double>(path, 2, "the plot");
}

// The energy of a plot over the plane, its box and the data (if any).
struct PlaneEnergy {
  LoadedEnergy<double> loaded;
  EnergyFunction<double> f;
  MatD data;
  Box box;
};

std::unique_ptr<PlaneEnergy> plane_energy(const PlotArgs& a, const std::string& kind) {
  auto p = std::make_unique<PlaneEnergy>();
  p->loaded = load_energy<double>(a.model, a.energy);
  require_plane(p->loaded.dim(), kind, p->loaded.source);
  p->f = energy_function<double>(*p->loaded.energy);
  p->data = optional_data(a.data);
  p->box = energy_box(a.box, p->data, &p->loaded);
  return p;
}

std::int64_t grid_of(const PlotArgs& a, std::int64_t fallback, std::int64_t minimum) {
  const std::int64_t n = a.grid.value_or(fallback);
  require_at_least("--grid", n, minimum);
  if (n > 2000) throw UsageError("--grid: must be <= 2000, got " + std::to_string(n));
  return n;
}

void run_density(const PlotArgs& a, const Globals& g) {
  check_figure_path("-o", a.output);
  if (!a.box.empty()) (void)parse_plot_box("--box", a.box);
  const std::int64_t n = grid_of(a, 200, 2);
  require_at_least("--max-points", a.max_points, 0);
  const auto p = plane_energy(a, "density");
  const GridValues grid = evaluate_grid(p->f, p->box, n);
  const std::string what = a.log ? "log density" : "density";
  const plot::Figure fig = density_figure(grid, p->data.rows() > 0 ? &p->data : nullptr, a.log, a.max_points,
                                          or_default(a.title, what + " of " + base(p->loaded.source) + " (normalised on the box)"));
  save(fig, a, g, "density");
}

void run_score(const PlotArgs& a, const Globals& g) {
  check_figure_path("-o", a.output);
  if (!a.box.empty()) (void)parse_plot_box("--box", a.box);
  const std::int64_t n = grid_of(a, 20, 2);
  const auto p = plane_energy(a, "score");
  const GridValues fine = evaluate_grid(p->f, p->box, 200);
  Vec<double> e;
  MatD fine_scores, scores;
  p->f(grid_points(p->box, 200), e, &fine_scores);
  const MatD points = grid_points(p->box, n);
  p->f(points, e, &scores);
  save(score_figure(fine, fine_scores, points, scores, or_default(a.title, "score s(x) = -grad E(x) of " + base(p->loaded.source))),
       a, g, "score");
}

void run_trajectories(const PlotArgs& a, const Globals& g) {
  check_figure_path("-o", a.output);
  if (!a.box.empty()) (void)parse_plot_box("--box", a.box);
  const std::int64_t chains = a.chains.value_or(5);
  require_at_least("--chains", chains, 1);
  if (chains > 100) throw UsageError("--chains: at most 100 trajectories are drawn, got " + std::to_string(chains));
  require_at_least("--steps", a.steps, 1);
  require_positive("--step-size", a.step_size);
  const auto p = plane_energy(a, "trajectories");
  const GridValues grid = evaluate_grid(p->f, p->box, 200);
  const MatD starts = spread_starts(p->box, chains, g.seed);
  const std::vector<PathPanel> panels = langevin_vs_flow(p->f, starts, a.steps, a.step_size, g.seed);
  save(trajectories_figure(grid, panels,
                           or_default(a.title, "noise lets chains cross barriers; gradient flow slides into the nearest minimum")),
       a, g, "trajectories");
}

// A samples file: the coordinate columns (after chain and step, if present), and the chain and
// step columns themselves (empty when absent).
struct SampleFile {
  MatD x;
  std::vector<std::string> names;
  Vec<double> chain, step;
};

SampleFile read_samples(const std::string& path, const std::string& flag = "--samples") {
  require_given(flag, path);
  Table<double> t = read_table<double>(path);
  SampleFile s;
  Index first = 0;
  if (t.values.cols() >= 3 && t.columns.size() >= 2 && t.columns[0] == "chain" && t.columns[1] == "step") {
    s.chain = t.values.col(0);
    s.step = t.values.col(1);
    first = 2;
  }
  s.x = t.values.rightCols(t.values.cols() - first);
  s.names.assign(t.columns.begin() + first, t.columns.end());
  if (s.x.rows() < 1) throw FormatError(path + " has no rows");
  return s;
}

void run_samples(const PlotArgs& a, const Globals& g) {
  check_figure_path("-o", a.output);
  require_at_least("--max-points", a.max_points, 1);
  std::optional<Box> box;
  if (!a.box.empty()) box = parse_plot_box("--box", a.box);
  const SampleFile s = read_samples(a.samples);
  if (s.x.cols() < 2)
    throw FormatError(a.samples + " has " + std::to_string(s.x.cols()) + " coordinate column; the samples plot needs 2");
  const MatD data = a.data.empty() ? MatD(0, 2) : read_samples(a.data, "--data").x;
  if (data.cols() < 2)
    throw FormatError(a.data + " has " + std::to_string(data.cols()) + " coordinate column; the samples plot needs 2");
  const std::vector<SamplePanel> panels = {{or_default(a.title, "samples of " + base(a.samples)), s.x.leftCols(2)}};
  save(samples_figure(panels, data.rows() > 0 ? &data : nullptr, a.max_points, box, ""), a, g, "samples");
}

void run_loss(const PlotArgs& a, const Globals& g) {
  check_figure_path("-o", a.output);
  require_given("--log", a.log_file);
  const LossCurve c = read_loss_log(a.log_file);
  save(loss_figure(c, or_default(a.title, "training loss (" + base(a.log_file) + ")")), a, g, "loss");
}

void run_trace(const PlotArgs& a, const Globals& g) {
  check_figure_path("-o", a.output);
  const std::int64_t max_chains = a.chains.value_or(4);
  require_at_least("--chains", max_chains, 1);
  const std::vector<double> dims_d = parse_numbers("--dims", a.dims);
  require_given("--samples", a.samples);
  require_chain_columns(a.samples, "plot trace");
  const SampleFile s = read_samples(a.samples);
  std::vector<Index> dims;
  for (double d : dims_d) {
    if (d != std::floor(d) || d < 0 || d >= double(s.x.cols()))
      throw UsageError("--dims: " + a.samples + " has coordinates 0.." + std::to_string(s.x.cols() - 1) + ", got '" + a.dims + "'");
    dims.push_back(static_cast<Index>(d));
  }
  if (dims.size() > 8) throw UsageError("--dims: at most 8 dimensions, got " + std::to_string(dims.size()));
  // Rows grouped by chain in file order; without chain/step columns the file is one chain.
  std::vector<TraceChain> chains;
  std::map<double, std::size_t> index;
  std::vector<std::vector<Index>> rows;
  for (Index i = 0; i < s.x.rows(); ++i) {
    const double c = s.chain.size() > 0 ? s.chain(i) : 0.0;
    auto it = index.find(c);
    if (it == index.end()) {
      if (static_cast<std::int64_t>(chains.size()) >= max_chains) continue;
      it = index.emplace(c, chains.size()).first;
      chains.push_back({static_cast<Index>(c), {}, {}});
      rows.emplace_back();
    }
    rows[it->second].push_back(i);
  }
  std::vector<std::string> names;
  for (Index d : dims) names.push_back(s.names[static_cast<std::size_t>(d)]);
  for (std::size_t c = 0; c < chains.size(); ++c) {
    const std::vector<Index>& r = rows[c];
    chains[c].values.resize(static_cast<Index>(r.size()), static_cast<Index>(dims.size()));
    for (std::size_t i = 0; i < r.size(); ++i) {
      chains[c].steps.push_back(s.step.size() > 0 ? s.step(r[i]) : double(i));
      for (std::size_t d = 0; d < dims.size(); ++d) chains[c].values(static_cast<Index>(i), static_cast<Index>(d)) = s.x(r[i], dims[d]);
    }
  }
  save(trace_figure(chains, names, or_default(a.title, "trace plots of " + base(a.samples))), a, g, "trace");
}

std::pair<Index, Index> parse_shape(const std::string& text) {
  const std::string usage = "--shape: expected HxW (e.g. 28x28), got '" + text + "'";
  const std::size_t x = text.find('x');
  if (x == std::string::npos) throw UsageError(usage);
  auto number = [&](std::string_view part) {
    long long v = 0;
    const auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size() || v < 1 || v > 4096) throw UsageError(usage);
    return static_cast<Index>(v);
  };
  const std::string_view t(text);
  return {number(t.substr(0, x)), number(t.substr(x + 1))};
}

void run_images(const PlotArgs& a, const Globals& g) {
  check_figure_path("-o", a.output);
  require_given("--shape", a.shape);
  const auto [h, w] = parse_shape(a.shape);
  require_at_least("--count", a.count, 1);
  if (a.count > 1024) throw UsageError("--count: at most 1024 images, got " + std::to_string(a.count));
  const SampleFile s = read_samples(a.samples);
  if (s.x.cols() != h * w)
    throw FormatError(a.samples + " has " + std::to_string(s.x.cols()) + " values per row but --shape " + a.shape +
                      " needs " + std::to_string(h * w));
  // A samples file (chain, step, x...) shows one image per chain: its last draw.
  MatD images = s.x;
  if (s.chain.size() > 0) {
    std::vector<Index> last;
    for (Index r = 0; r < s.x.rows(); ++r) {
      if (r + 1 < s.x.rows() && s.chain(r + 1) == s.chain(r)) continue;
      last.push_back(r);
    }
    images.resize(static_cast<Index>(last.size()), s.x.cols());
    for (std::size_t i = 0; i < last.size(); ++i) images.row(static_cast<Index>(i)) = s.x.row(last[i]);
  }
  const Index n = std::min<Index>(a.count, images.rows());
  const std::string what = s.chain.size() > 0 ? " chains of " : " images of ";
  save(images_figure(images.topRows(n), h, w, or_default(a.title, std::to_string(n) + what + base(a.samples))), a, g,
       "images");
}

}  // namespace

void add_plot(CLI::App& app, Context& ctx) {
  CLI::App* plot = app.add_subcommand("plot", std::string("Draw a figure (PNG, SVG or PDF): ") + kinds_text);
  plot->require_subcommand(0, 1);
  const Globals& g = ctx.globals;
  // `ebm plot` alone or with an unknown kind: the kinds are named in the error.
  ctx.runners[plot] = [plot] {
    const std::vector<std::string> extra = plot->remaining();
    if (extra.empty()) throw UsageError(std::string("a kind is required: ") + kinds_text);
    throw UsageError("unknown kind '" + extra.front() + "' (expected " + kinds_text + ")");
  };
  auto add_kind = [&](const std::string& name, const std::string& help, void (*run)(const PlotArgs&, const Globals&)) {
    auto a = std::make_shared<PlotArgs>();
    CLI::App* sub = plot->add_subcommand(name, help);
    sub->add_option("-o,--output", a->output, "Figure file (.png, .svg or .pdf)");
    sub->add_option("--title", a->title, "Title (default: describes the figure)");
    ctx.runners[sub] = [a, &g, run] { run(*a, g); };
    return std::make_pair(sub, a);
  };
  {
    auto [sub, a] = add_kind("density", "Heatmap and contours of the density (normalised on the box), optional data", run_density);
    add_energy_options(sub, a->model, a->energy);
    sub->add_option("--box", a->box, "x0,x1,y0,y1 (default: around --data, else the model's data, else -4,4,-4,4)");
    sub->add_option("--grid", a->grid, "Grid points per axis (default 200)");
    sub->add_option("--data", a->data, "Data to overlay (N x 2)");
    sub->add_option("--max-points", a->max_points, "Data points drawn at most (default 5000)");
    sub->add_flag("--log", a->log, "Log density instead of density");
  }
  {
    auto [sub, a] = add_kind("score", "The score field as arrows over energy contours", run_score);
    add_energy_options(sub, a->model, a->energy);
    sub->add_option("--box", a->box, "x0,x1,y0,y1 (default: around --data, else the model's data, else -4,4,-4,4)");
    sub->add_option("--grid", a->grid, "Arrows per axis (default 20)");
    sub->add_option("--data", a->data, "Data that fixes the default box (N x 2)");
  }
  {
    auto [sub, a] = add_kind("samples", "Samples over data (the first two coordinates)", run_samples);
    sub->add_option("--samples", a->samples, "Samples (as `ebm sample` writes: chain, step, x0, ...; or plain columns)");
    sub->add_option("--data", a->data, "Data drawn underneath (N x 2)");
    sub->add_option("--max-points", a->max_points, "Points drawn at most per set (default 5000)");
    sub->add_option("--box", a->box, "x0,x1,y0,y1 (default: around the points)");
  }
  {
    auto [sub, a] = add_kind("trajectories", "Langevin SDE beside gradient flow from the same starting points", run_trajectories);
    add_energy_options(sub, a->model, a->energy);
    sub->add_option("--box", a->box, "x0,x1,y0,y1 (default: around --data, else the model's data, else -4,4,-4,4)");
    sub->add_option("--data", a->data, "Data that fixes the default box (N x 2)");
    sub->add_option("--chains", a->chains, "Trajectories (default 5)");
    sub->add_option("--steps", a->steps, "Steps per trajectory (default 500)");
    sub->add_option("--step-size", a->step_size, "Step size dt (default 0.01)");
  }
  {
    auto [sub, a] = add_kind("loss", "Training loss (and held-out loss) from `ebm train --log`", run_loss);
    sub->add_option("--log", a->log_file, "JSON-lines log written by `ebm train --log`");
  }
  {
    auto [sub, a] = add_kind("trace", "Trace plots: coordinates against the step, per chain", run_trace);
    sub->add_option("--samples", a->samples, "Samples with chain and step columns (as `ebm sample` writes)");
    sub->add_option("--dims", a->dims, "Coordinates to plot (default 0,1)");
    sub->add_option("--chains", a->chains, "Chains drawn, the first in the file (default 4)");
  }
  {
    auto [sub, a] = add_kind("images", "A grid of image samples", run_images);
    sub->add_option("--samples", a->samples, "Images, one per row (.npy, .csv, .idx)");
    sub->add_option("--shape", a->shape, "Image shape HxW, e.g. 28x28");
    sub->add_option("--count", a->count, "Images drawn (default 64)");
  }
}

}  // namespace ebm::cli
