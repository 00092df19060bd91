#include "figures.hpp"

#include <ebm/core/rng.hpp>
#include <ebm/plot/contour.hpp>
#include <ebm/sample/samplers.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

namespace ebm::cli {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// An EnergyFunction as a closed-form energy, for the samplers.
struct FunctionEnergy {
  Index d;
  EnergyFunction<double> f;
  Index dim() const { return d; }
  void energy(const MatD& x, Vec<double>& out) const { f(x, out, nullptr); }
  void score(const MatD& x, MatD& out) const {
    Vec<double> e;
    f(x, e, &out);
  }
};

double finite_max(const MatD& m) {
  double v = -kInf;
  for (Index i = 0; i < m.size(); ++i)
    if (std::isfinite(m.data()[i])) v = std::max(v, m.data()[i]);
  return v;
}
double finite_min(const MatD& m) {
  double v = kInf;
  for (Index i = 0; i < m.size(); ++i)
    if (std::isfinite(m.data()[i])) v = std::min(v, m.data()[i]);
  return v;
}

// Energy contour levels at these many nats above the grid's minimum (log p below its maximum):
// where the mass is, whatever the energy's far-field growth.
std::vector<double> energy_levels(const GridValues& g) {
  const double lo = finite_min(g.energy), hi = finite_max(g.energy);
  std::vector<double> levels;
  for (double d : {0.5, 1.5, 3.0, 5.0, 8.0, 12.0, 18.0})
    if (lo + d < hi) levels.push_back(lo + d);
  if (levels.size() < 3 && lo < hi) return plot::contour_levels(g.energy, 6);  // a flat energy: spread evenly
  return levels;
}

void frame(plot::Axes& ax, const Box& box, const std::string& title) {
  ax.set_xlim(box.x0, box.x1).set_ylim(box.y0, box.y1).set_equal_aspect().set_xlabel("x0").set_ylabel("x1");
  ax.set_title(title);
}

// Canvas height for panels of equal aspect over box whose plot areas are about plot_width wide:
// the plot height plus room for titles and tick labels, so the picture has no empty bands.
double plane_height(const Box& box, double plot_width, double extra) {
  return std::clamp(plot_width * (box.y1 - box.y0) / (box.x1 - box.x0), 240.0, 1200.0) + extra;
}

std::string count_text(Index shown, Index total) {
  return shown == total ? std::to_string(total) : std::to_string(shown) + " of " + std::to_string(total);
}

}  // namespace

Box parse_plot_box(const std::string& flag, const std::string& text) {
  const std::vector<double> v = parse_numbers(flag, text);
  Box b;
  if (v.size() == 2) b = {v[0], v[1], v[0], v[1]};
  else if (v.size() == 4) b = {v[0], v[1], v[2], v[3]};
  else throw UsageError(flag + ": expected x0,x1,y0,y1 (or lo,hi for both axes), got '" + text + "'");
  if (!(b.x0 < b.x1 && b.y0 < b.y1))
    throw UsageError(flag + ": expected x0 < x1 and y0 < y1, got '" + text + "'");
  return b;
}

Box box_around(const MatD& points, double pad) {
  const double x0 = points.col(0).minCoeff(), x1 = points.col(0).maxCoeff();
  const double y0 = points.col(1).minCoeff(), y1 = points.col(1).maxCoeff();
  const double px = x1 > x0 ? pad * (x1 - x0) : 0.1, py = y1 > y0 ? pad * (y1 - y0) : 0.1;
  return {x0 - px, x1 + px, y0 - py, y1 + py};
}

Box energy_box(const std::string& box_text, const MatD& data, const LoadedEnergy<double>* e) {
  if (!box_text.empty()) return parse_plot_box("--box", box_text);
  if (data.rows() > 0) return box_around(data, 0.1);
  if (e != nullptr && e->standardized() && e->dim() == 2) {
    const RowVec<double> m = e->mean(), s = e->scale();
    return {m(0) - 4 * s(0), m(0) + 4 * s(0), m(1) - 4 * s(1), m(1) + 4 * s(1)};
  }
  return {};
}

MatD grid_points(const Box& box, Index n) {
  MatD p(n * n, 2);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < n; ++j) {
      p(i * n + j, 0) = box.x0 + (box.x1 - box.x0) * double(j) / double(n - 1);
      p(i * n + j, 1) = box.y0 + (box.y1 - box.y0) * double(i) / double(n - 1);
    }
  return p;
}

GridValues evaluate_grid(const EnergyFunction<double>& energy, const Box& box, Index n) {
  GridValues g;
  g.box = box;
  g.n = n;
  Vec<double> e;
  energy(grid_points(box, n), e, nullptr);
  g.energy.resize(n, n);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < n; ++j) g.energy(i, j) = e(i * n + j);
  const double e_min = finite_min(g.energy);
  if (!std::isfinite(e_min)) throw NumericalError("the energy is not finite anywhere on the plot's grid");
  double sum = 0;
  for (Index k = 0; k < g.energy.size(); ++k)
    if (std::isfinite(g.energy.data()[k])) sum += std::exp(e_min - g.energy.data()[k]);
  const double cell = (box.x1 - box.x0) / double(n - 1) * (box.y1 - box.y0) / double(n - 1);
  g.log_z = -e_min + std::log(sum * cell);
  g.log_density = (-g.energy.array() - g.log_z).matrix();
  return g;
}

void require_plane(Index dim, const std::string& kind, const std::string& source) {
  if (dim != 2)
    throw UsageError(source + " is " + std::to_string(dim) + "-dimensional; the " + kind +
                     " plot draws 2-D energies only");
}

MatD thin_rows(const MatD& points, Index max_points) {
  const Index n = points.rows();
  if (max_points <= 0 || n <= max_points) return points;
  MatD out(max_points, points.cols());
  for (Index k = 0; k < max_points; ++k) out.row(k) = points.row(static_cast<Index>(double(k) * double(n) / double(max_points)));
  return out;
}

void check_figure_path(const std::string& flag, const std::string& path) {
  require_given(flag, path);
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext != ".png" && ext != ".svg" && ext != ".pdf")
    throw UsageError(flag + ": " + path + ": expected a .png, .svg or .pdf file name");
  check_output_path(flag, path, false);
}

// ----- figures -----

plot::Figure density_figure(const GridValues& g, const MatD* data, bool log, Index max_points, const std::string& title) {
  plot::Figure fig(1, 1, 860, plane_height(g.box, 680, 120));
  plot::Axes& ax = fig.axes(0, 0);
  plot::HeatmapOptions h;
  h.smooth = true;
  const double top = finite_max(g.log_density);
  if (log) {
    h.vmin = top - 14;
    h.vmax = top;
    h.colorbar_label = "log p(x)";
    ax.heatmap(g.log_density, g.box.extent(), h);
    std::vector<double> levels;
    for (double d : {1.0, 2.5, 4.5, 7.0, 10.0}) levels.push_back(top - d);
    ax.contours(g.log_density, g.box.extent(), levels, {.color = plot::colors::white, .alpha = 0.7, .width = 1.0});
  } else {
    const MatD p = g.log_density.array().exp().matrix();
    h.vmin = 0;
    h.colorbar_label = "p(x)";
    ax.heatmap(p, g.box.extent(), h);
    ax.contours(p, g.box.extent(), plot::contour_levels(p, 5),
                {.color = plot::colors::white, .alpha = 0.7, .width = 1.0});
  }
  if (data != nullptr && data->rows() > 0) {
    const MatD shown = thin_rows(*data, max_points);
    ax.scatter(shown.leftCols(2), {.color = plot::palette(1), .size = 2.6, .alpha = 0.55,
                                   .label = "data (" + count_text(shown.rows(), data->rows()) + ")"});
    ax.legend();
  }
  frame(ax, g.box, title);
  return fig;
}

plot::Figure score_figure(const GridValues& g, const MatD& fine_scores, const MatD& points, const MatD& scores,
                          const std::string& title) {
  plot::Figure fig(1, 1, 860, plane_height(g.box, 680, 120));
  plot::Axes& ax = fig.axes(0, 0);
  MatD magnitude(g.n, g.n);
  for (Index i = 0; i < g.n; ++i)
    for (Index j = 0; j < g.n; ++j) magnitude(i, j) = std::log1p(fine_scores.row(i * g.n + j).norm());
  plot::HeatmapOptions h;
  h.smooth = true;
  h.colorbar_label = "log(1 + |s(x)|)";
  ax.heatmap(magnitude, g.box.extent(), h);
  ax.contours(g.energy, g.box.extent(), energy_levels(g), {.color = plot::colors::white, .alpha = 0.6, .width = 1.0});
  // Unit vectors: the heatmap carries the magnitude, the arrows only the direction (the
  // far-field score is orders of magnitude larger than near the data).
  MatD unit = scores;
  for (Index i = 0; i < unit.rows(); ++i) {
    const double len = unit.row(i).norm();
    if (len > 0 && std::isfinite(len)) unit.row(i) /= len;
    else unit.row(i).setZero();
  }
  plot::QuiverOptions q;
  q.color = plot::colors::black;
  q.alpha = 0.8;
  q.width = 1.3;
  q.label = "direction of s(x); white lines: energy contours";
  ax.quiver(points, unit, q);
  ax.legend();
  frame(ax, g.box, title);
  return fig;
}

plot::Figure samples_figure(const std::vector<SamplePanel>& panels, const MatD* data, Index max_points,
                            const std::optional<Box>& box, const std::string& title) {
  const Index n = static_cast<Index>(panels.size());
  Box b;
  if (box) {
    b = *box;
  } else {
    MatD all = data != nullptr ? data->leftCols(2).eval() : MatD(0, 2);
    for (const SamplePanel& p : panels) {
      // The 0.1%..99.9% range: a few stray draws must not shrink the picture.
      MatD both(all.rows() + p.points.rows(), 2);
      both << all, p.points.leftCols(2);
      all = both;
    }
    MatD lo_hi(2, 2);
    for (Index c = 0; c < 2; ++c) {
      std::vector<double> v(static_cast<std::size_t>(all.rows()));
      for (Index i = 0; i < all.rows(); ++i) v[static_cast<std::size_t>(i)] = all(i, c);
      std::sort(v.begin(), v.end());
      lo_hi(0, c) = v[static_cast<std::size_t>(0.001 * double(v.size() - 1))];
      lo_hi(1, c) = v[static_cast<std::size_t>(0.999 * double(v.size() - 1))];
    }
    b = box_around(lo_hi, 0.1);
  }
  plot::Figure fig(1, n, 600.0 * double(n), plane_height(b, 500, title.empty() ? 110 : 150));
  if (!title.empty()) fig.set_title(title);
  for (Index k = 0; k < n; ++k) {
    const SamplePanel& p = panels[static_cast<std::size_t>(k)];
    plot::Axes& ax = fig.axes(0, k);
    if (data != nullptr && data->rows() > 0) {
      const MatD shown = thin_rows(*data, max_points);
      ax.scatter(shown.leftCols(2), {.color = plot::Color::rgb8(150, 150, 150), .size = 2.6, .alpha = 0.5,
                                     .label = "data (" + count_text(shown.rows(), data->rows()) + ")"});
    }
    const MatD shown = thin_rows(p.points, max_points);
    ax.scatter(shown.leftCols(2), {.color = plot::palette(static_cast<std::size_t>(k)), .size = 2.6, .alpha = 0.55,
                                   .label = "samples (" + count_text(shown.rows(), p.points.rows()) + ")"});
    ax.legend();
    frame(ax, b, p.title);
  }
  return fig;
}

plot::Figure trajectories_figure(const GridValues& g, const std::vector<PathPanel>& panels, const std::string& title) {
  const Index n = static_cast<Index>(panels.size());
  plot::Figure fig(1, n, 620.0 * double(n), plane_height(g.box, 520, title.empty() ? 110 : 150));
  if (!title.empty()) fig.set_title(title);
  const std::vector<double> levels = energy_levels(g);
  for (Index k = 0; k < n; ++k) {
    const PathPanel& p = panels[static_cast<std::size_t>(k)];
    plot::Axes& ax = fig.axes(0, k);
    ax.contours(g.energy, g.box.extent(), levels,
                {.color = plot::Color::rgb8(120, 120, 120), .alpha = 0.8, .width = 1.0, .label = "energy contours"});
    for (std::size_t c = 0; c < p.paths.size(); ++c)
      ax.path(p.paths[c], {.color = plot::palette(c), .alpha = 0.85, .width = 1.4});
    MatD starts(static_cast<Index>(p.paths.size()), 2), ends(static_cast<Index>(p.paths.size()), 2);
    for (std::size_t c = 0; c < p.paths.size(); ++c) {
      starts.row(static_cast<Index>(c)) = p.paths[c].row(0);
      ends.row(static_cast<Index>(c)) = p.paths[c].row(p.paths[c].rows() - 1);
    }
    for (std::size_t c = 0; c < p.paths.size(); ++c)
      ax.scatter(ends.row(static_cast<Index>(c)), {.color = plot::colors::black, .size = 11});
    for (std::size_t c = 0; c < p.paths.size(); ++c)
      ax.scatter(ends.row(static_cast<Index>(c)),
                 {.color = plot::palette(c), .size = 8, .label = c == 0 ? "end" : std::string()});
    ax.scatter(starts, {.color = plot::colors::black, .size = 7, .label = "start"});
    ax.legend();
    frame(ax, g.box, p.title);
  }
  return fig;
}

MatD spread_starts(const Box& box, Index chains, std::uint64_t seed) {
  MatD s(chains, 2);
  double u[2];
  for (Index c = 0; c < chains; ++c) {
    CounterRng(seed, static_cast<std::uint64_t>(c)).uniform<double>(0, std::span<double>(u, 2));
    s(c, 0) = box.x0 + (box.x1 - box.x0) * (0.1 + 0.8 * u[0]);
    s(c, 1) = box.y0 + (box.y1 - box.y0) * (0.1 + 0.8 * u[1]);
  }
  return s;
}

std::vector<PathPanel> langevin_vs_flow(const EnergyFunction<double>& energy, const MatD& starts, Index steps,
                                        double step_size, std::uint64_t seed) {
  const FunctionEnergy e{starts.cols(), energy};
  auto common = [&](ChainOptions<double>& o) {
    o.chains = starts.rows();
    o.steps = steps;
    o.record_trace = true;
    o.seed = seed;
    o.init.kind = Initialization<double>::Kind::Points;
    o.init.points = starts;
  };
  SdeOptions<double> so;
  common(so);
  so.dt = step_size;
  so.horizon = step_size * double(steps);
  GradientFlowOptions<double> fo;
  common(fo);
  fo.step_size = step_size;
  const SampleResult<double> sde_run = sde<double>(e, so);
  const SampleResult<double> flow_run = gradient_flow<double>(e, fo);
  auto paths = [](const SampleResult<double>& r) {
    std::vector<MatD> out;
    for (std::size_t c = 0; c < r.chains_kept.size(); ++c)
      out.push_back(r.trace.middleRows(static_cast<Index>(c) * r.trace_length, r.trace_length));
    return out;
  };
  char h[32];
  std::snprintf(h, sizeof h, "%g", step_size);
  return {{"Langevin SDE: dx = s(x) dt + sqrt(2) dW  (dt " + std::string(h) + ")", paths(sde_run)},
          {"gradient flow: dx = s(x) dt  (no noise)", paths(flow_run)}};
}

LossCurve read_loss_log(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw IoError(path + ": is a directory");
  std::ifstream in(path);
  if (!in) throw IoError(path + ": cannot open (" + std::strerror(errno) + ")");
  LossCurve c;
  std::string line;
  std::int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      throw FormatError(path + ": line " + std::to_string(number) + ": not a JSON object");
    }
    if (!j.is_object() || !j.contains("step") || !j["step"].is_number())
      throw FormatError(path + ": line " + std::to_string(number) + ": expected an object with a numeric \"step\"");
    const double step = j["step"].get<double>();
    if (j.contains("loss") && j["loss"].is_number()) {
      c.steps.push_back(step);
      c.loss.push_back(j["loss"].get<double>());
    }
    if (j.contains("held_out") && j["held_out"].is_number()) {
      c.held_out_steps.push_back(step);
      c.held_out.push_back(j["held_out"].get<double>());
    }
  }
  if (c.loss.empty()) throw FormatError(path + ": no line has a numeric \"loss\" (expected `ebm train --log` output)");
  return c;
}

plot::Figure loss_figure(const LossCurve& c, const std::string& title) {
  plot::Figure fig(1, 1, 900, 560);
  plot::Axes& ax = fig.axes(0, 0);
  const std::size_t n = c.loss.size();
  // A centred moving average over about 2% of the run: the batch loss is noisy.
  const std::size_t half = std::max<std::size_t>(1, n / 100);
  std::vector<double> smooth(n);
  std::vector<double> prefix(n + 1, 0.0);
  for (std::size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + c.loss[i];
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t a = i >= half ? i - half : 0, b = std::min(n, i + half + 1);
    smooth[i] = (prefix[b] - prefix[a]) / double(b - a);
  }
  ax.line(c.steps, c.loss, {.color = plot::palette(0), .alpha = 0.25, .width = 1.0, .label = "batch loss"});
  if (n > 20) ax.line(c.steps, smooth, {.color = plot::palette(0), .width = 2.0, .label = "batch loss, moving average"});
  if (!c.held_out.empty())
    ax.line(c.held_out_steps, c.held_out,
            {.color = plot::palette(1), .size = 6, .width = 2.0, .label = "held-out loss", .dash = plot::Dash::Dashed});
  // y range from the 1st..99th percentile of the batch loss and the other curves: one early
  // spike must not flatten the rest.
  std::vector<double> sorted = c.loss;
  std::sort(sorted.begin(), sorted.end());
  double lo = sorted[static_cast<std::size_t>(0.01 * double(n - 1))];
  double hi = sorted[static_cast<std::size_t>(0.99 * double(n - 1))];
  for (double v : smooth) lo = std::min(lo, v), hi = std::max(hi, v);
  for (double v : c.held_out) lo = std::min(lo, v), hi = std::max(hi, v);
  if (std::isfinite(lo) && std::isfinite(hi)) {
    const double pad = hi > lo ? 0.06 * (hi - lo) : 0.5;
    ax.set_ylim(lo - pad, hi + pad);
  }
  ax.set_xlabel("step").set_ylabel("loss").set_grid().legend();
  ax.set_title(title);
  return fig;
}

plot::Figure trace_figure(const std::vector<TraceChain>& chains, const std::vector<std::string>& dim_names,
                          const std::string& title, double burn_in) {
  const Index dims = static_cast<Index>(dim_names.size());
  plot::Figure fig(dims, 1, 1000, 40 + 280.0 * double(dims));
  if (!title.empty()) fig.set_title(title);
  for (Index d = 0; d < dims; ++d) {
    plot::Axes& ax = fig.axes(d, 0);
    for (std::size_t c = 0; c < chains.size(); ++c) {
      const TraceChain& t = chains[c];
      std::vector<double> v(static_cast<std::size_t>(t.values.rows()));
      for (Index i = 0; i < t.values.rows(); ++i) v[static_cast<std::size_t>(i)] = t.values(i, d);
      ax.line(t.steps, v, {.color = plot::palette(c), .alpha = 0.85, .width = 1.0,
                           .label = d == 0 ? "chain " + std::to_string(t.chain) : std::string()});
    }
    if (burn_in >= 0) {
      double lo = std::numeric_limits<double>::infinity(), hi = -lo;
      for (const TraceChain& t : chains)
        if (t.values.rows() > 0) lo = std::min(lo, t.values.col(d).minCoeff()), hi = std::max(hi, t.values.col(d).maxCoeff());
      if (lo <= hi) {
        const double xs[2] = {burn_in, burn_in}, ys[2] = {lo, hi};
        ax.line(xs, ys, {.color = plot::Color::rgb8(90, 90, 90), .width = 1.2,
                         .label = d == 0 ? "end of burn-in" : std::string(), .dash = plot::Dash::Dashed});
      }
    }
    ax.set_ylabel(dim_names[static_cast<std::size_t>(d)]).set_grid();
    if (d == dims - 1) ax.set_xlabel("step");
    if (d == 0) ax.legend();
  }
  return fig;
}

plot::Figure images_figure(const MatD& images, Index h, Index w, const std::string& title) {
  const Index n = images.rows();
  const Index columns = std::max<Index>(1, static_cast<Index>(std::ceil(std::sqrt(double(n)))));
  const Index rows = (n + columns - 1) / columns;
  // About 3 PNG pixels per image pixel for 28 x 28 tiles, within sensible bounds.
  const double side = std::clamp(3.0 * double(std::max(columns * (w + 1), rows * (h + 1))), 400.0, 1400.0);
  plot::Figure fig(1, 1, side + 40, side + 90);
  plot::Axes& ax = fig.axes(0, 0);
  ax.image_grid(images.cwiseMax(0.0).cwiseMin(1.0), h, w, columns);
  ax.set_title(title);
  return fig;
}

}  // namespace ebm::cli
