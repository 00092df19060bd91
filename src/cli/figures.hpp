#pragma once
// Figure recipes shared by `ebm plot` and `ebm demo`: what each figure shows and how it looks.
// The recipes take values already computed (grids, samples, paths, loss curves) plus an energy
// as a batch callback where they must evaluate one; no mathematics beyond normalising a grid
// for display. Every figure has a title, axis labels and, where it helps, a legend.
#include "common.hpp"

#include <ebm/density/functions.hpp>
#include <ebm/plot/figure.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ebm::cli {

/// A rectangle of the plane: [x0, x1] x [y0, y1].
struct Box {
  double x0 = -4, x1 = 4, y0 = -4, y1 = 4;
  plot::Extent extent() const { return {x0, x1, y0, y1}; }
};

/// "x0,x1,y0,y1", or "lo,hi" for both axes; UsageError naming flag unless finite and increasing.
Box parse_plot_box(const std::string& flag, const std::string& text);
/// The range of the first two columns of points (N x >= 2), widened by `pad` times its width
/// on each side (at least 0.1 when the width is 0).
Box box_around(const MatD& points, double pad = 0.1);
/// The box of a plot of an energy: --box if given, else around the data (when non-empty), else
/// mean +- 4 scale of a model's training data, else [-4, 4]^2.
Box energy_box(const std::string& box_text, const MatD& data, const LoadedEnergy<double>* e);

/// Every point of an n x n grid over box, row-major with x fastest: row i * n + j is
/// (x_j, y_i), y_0 = y0 (the heatmap convention of plot/contour.hpp). (n n) x 2.
MatD grid_points(const Box& box, Index n);

/// Energies on the n x n grid (row i = y_i) and log p normalised on it: log p = -E - log Z with
/// Z = sum exp(-E) dx dy over the finite cells (display only: the Riemann sum on the box).
struct GridValues {
  Box box;
  Index n = 0;
  MatD energy;       // n x n
  MatD log_density;  // n x n, non-finite where E is
  double log_z = 0;  // of the grid sum
};
GridValues evaluate_grid(const EnergyFunction<double>& energy, const Box& box, Index n);

/// The energy must be 2-D for plots over the plane: UsageError naming the kind and source.
void require_plane(Index dim, const std::string& kind, const std::string& source);

// ----- the figures -----

/// Density p (or log p) as a heatmap with contours, optional data overlay (at most max_points
/// shown). Log: the colour range spans 14 nats below the maximum.
plot::Figure density_figure(const GridValues& g, const MatD* data, bool log, Index max_points,
                            const std::string& title);

/// The score field: a heatmap of log(1 + |s|) on the fine grid `g`, energy contours, and
/// arrows of equal length showing the direction of s at `points` (M x 2).
plot::Figure score_figure(const GridValues& g, const MatD& fine_scores, const MatD& points, const MatD& scores,
                          const std::string& title);

/// Side-by-side panels of sample clouds over the data (grey), at most max_points of each.
struct SamplePanel {
  std::string title;
  MatD points;  // N x 2
};
plot::Figure samples_figure(const std::vector<SamplePanel>& panels, const MatD* data, Index max_points,
                            const std::optional<Box>& box, const std::string& title);

/// Paths (one L x 2 matrix per chain) on energy contours, one panel per set, same colours for
/// the same chain across panels, start and end marked.
struct PathPanel {
  std::string title;
  std::vector<MatD> paths;
};
plot::Figure trajectories_figure(const GridValues& g, const std::vector<PathPanel>& panels, const std::string& title);

/// Runs the Langevin SDE (dt = step_size, horizon steps * step_size) and gradient flow from the
/// same `starts` (C x 2) and returns the two panels.
std::vector<PathPanel> langevin_vs_flow(const EnergyFunction<double>& energy, const MatD& starts, Index steps,
                                        double step_size, std::uint64_t seed);
/// C starting points spread over the middle 80% of the box (uniform, from CounterRng(seed)).
MatD spread_starts(const Box& box, Index chains, std::uint64_t seed);

/// A training log: batch losses and held-out losses by step.
struct LossCurve {
  std::vector<double> steps, loss;
  std::vector<double> held_out_steps, held_out;
};
/// Reads `ebm train --log` JSON lines ({"step", "loss", "held_out"?, ...}); IoError when it
/// cannot be read, FormatError naming the line for bad JSON or when no line has a loss.
LossCurve read_loss_log(const std::string& path);
plot::Figure loss_figure(const LossCurve& curve, const std::string& title);

/// Trace plots: one panel per dimension (rows), one line per chain against the step; a dashed
/// vertical line at burn_in when it is >= 0.
struct TraceChain {
  Index chain = 0;
  std::vector<double> steps;
  MatD values;  // L x dims
};
plot::Figure trace_figure(const std::vector<TraceChain>& chains, const std::vector<std::string>& dim_names,
                          const std::string& title, double burn_in = -1);

/// A grid of grayscale images (N x (h w), values clipped to [0, 1]).
plot::Figure images_figure(const MatD& images, Index h, Index w, const std::string& title);

/// Rows floor(k N / max_points), k < max_points, when N > max_points; all rows otherwise.
MatD thin_rows(const MatD& points, Index max_points);

/// Checks an output figure name: .png, .svg or .pdf (UsageError) in an existing directory.
void check_figure_path(const std::string& flag, const std::string& path);

}  // namespace ebm::cli
