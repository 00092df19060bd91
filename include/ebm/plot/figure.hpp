#pragma once
// Figures with Cairo: a grid of panels (Axes), each holding heatmaps, contours, quiver fields,
// scatter clouds, lines and image grids, saved as PNG, SVG or PDF by one drawing code path.
//
//   ebm::plot::Figure fig(1, 2, 1200, 520);
//   auto& ax = fig.axes(0, 0);
//   ax.heatmap(logp, {-3, 3, -3, 3}, ebm::plot::Colormap::Viridis, "log p(x)");
//   ax.contours(logp, {-3, 3, -3, 3}, 8, {.color = ebm::plot::colors::white});
//   fig.axes(0, 1).line(steps, loss, {.label = "train"});
//   fig.save("out.png");
//
// Items are recorded when added (data copied) and drawn by save(), so limits, ticks and the
// layout are computed from everything a panel holds; frames line up along rows and columns.
// Sizes are in units: pixels for PNG (times set_png_scale) and SVG, points for PDF. Fonts
// ("sans-serif" through Cairo's toy text API): ticks 12, labels 14, panel titles 16, figure
// title 18; text wider than its panel is shortened with an ellipsis. A panel's series take
// the Okabe-Ito palette in order unless given a colour. PNG output is byte-identical for
// identical figures on one machine (PDF embeds its creation date).
//
// Non-finite inputs: scatter, line, path, quiver and image_grid throw NumericalError naming
// the function, argument and entry. Heatmaps draw non-finite cells transparent (masked) and
// take their colour range from the finite values; contours skip cells with a non-finite corner.
#include <ebm/core/types.hpp>
#include <ebm/plot/color.hpp>
#include <ebm/plot/contour.hpp>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ebm::plot {

enum class Dash { Solid, Dashed, Dotted, DashDot };

/// Appearance of a scatter, line, path or contour set.
struct Style {
  std::optional<Color> color{};  // default: the panel's next palette colour
  double size = 6;             // scatter marker diameter
  double alpha = 1;            // opacity, multiplies color.a
  double width = 1.8;          // line width
  std::string label{};         // legend entry; empty: not in the legend
  Dash dash = Dash::Solid;
  void validate(const char* where) const;
};

struct HeatmapOptions {
  Colormap colormap = Colormap::Viridis;
  std::optional<double> vmin{}, vmax{};  // colour range; default: range of the finite values
  bool colorbar = true;              // a colour bar right of the panel
  std::string colorbar_label{};
  bool smooth = false;  // bilinear between grid points (true) or one flat cell per point
  void validate() const;
};

/// Arrows are drawn in data coordinates (their direction is the vector's direction in the
/// panel's axes). Default scaling: the longest arrow is 0.9 times the typical spacing of the
/// points, sqrt(bounding-box area / N), so a quiver on a grid never overlaps; `scale` (data
/// units per vector unit) overrides it. With `normalize`, every arrow has that longest length
/// and the colour encodes |v| through `colormap` (useful when magnitudes span decades).
struct QuiverOptions {
  std::optional<Color> color{};  // default: the panel's next palette colour
  std::optional<double> scale{};
  bool normalize = false;
  Colormap colormap = Colormap::Viridis;
  double width = 1.2;  // shaft width; heads scale with it
  double alpha = 1;
  std::string label{};
  void validate() const;
};

/// The plot area of a panel in output units, origin top-left.
struct Rect {
  double x = 0, y = 0, width = 0, height = 0;
};

class Figure;

class Axes {
 public:
  ~Axes();
  Axes(const Axes&) = delete;
  Axes& operator=(const Axes&) = delete;

  /// values: ny x nx on the grid of `extent` (row 0 = lowest y; see contour.hpp), ny, nx >= 2.
  /// Non-finite cells are transparent. A colour bar is drawn unless options.colorbar is false.
  Axes& heatmap(const Mat<double>& values, const Extent& extent, Colormap colormap = Colormap::Viridis,
                std::string colorbar_label = {});
  Axes& heatmap(const Mat<double>& values, const Extent& extent, const HeatmapOptions& options);

  /// Contour lines of values (ny x nx, as heatmap) at the given levels, or at `count` levels
  /// evenly spaced inside the value range. The label (if any) makes one legend entry.
  Axes& contours(const Mat<double>& values, const Extent& extent, std::vector<double> levels,
                 const Style& style = {});
  Axes& contours(const Mat<double>& values, const Extent& extent, int count, const Style& style = {});

  /// Arrows from points (N x 2) along vectors (N x 2); see QuiverOptions for the scaling.
  Axes& quiver(const Mat<double>& points, const Mat<double>& vectors, const QuiverOptions& options = {});

  /// Filled circles at points (N x 2), diameter style.size.
  Axes& scatter(const Mat<double>& points, const Style& style = {});

  /// The polyline (xs[i], ys[i]); xs and ys of the same length >= 1 (a single point is a dot).
  Axes& line(std::span<const double> xs, std::span<const double> ys, const Style& style = {});
  /// The polyline (i, ys[i]), i = 0, 1, ... (loss curves).
  Axes& line(std::span<const double> ys, const Style& style = {});
  /// The polyline through points (N x 2), e.g. a chain trajectory.
  Axes& path(const Mat<double>& points, const Style& style = {});

  /// Grayscale tiles: images is N x (h * w), row-major pixels in [0, 1] (clamped; 0 = black),
  /// laid out `columns` per row with 1-pixel gaps, square pixels (a whole number of PNG pixels
  /// each when enlarged), centred in the panel. Hides the axes (frame, ticks, grid); the title
  /// sits above the tiles.
  Axes& image_grid(const Mat<double>& images, Index h, Index w, Index columns);

  Axes& set_title(std::string title);
  Axes& set_xlabel(std::string label);
  Axes& set_ylabel(std::string label);
  /// Fixed limits (lo < hi, finite); default: from the data, 5 % margin for points and lines,
  /// none for grids (heatmap, contours).
  Axes& set_xlim(double lo, double hi);
  Axes& set_ylim(double lo, double hi);
  /// Log-scale y axis: every y value and limit must then be > 0 (checked by save()); heatmaps
  /// cannot be drawn on it.
  Axes& set_yscale_log(bool on = true);
  /// Equal data units on x and y (the plot area shrinks in one direction); ignored on log axes.
  Axes& set_equal_aspect(bool on = true);
  /// A legend of the labelled items inside the plot area on a white box: top-right, or the
  /// first of top-left, bottom-left, bottom-right that hides fewer data points.
  Axes& legend(bool show = true);
  Axes& set_grid(bool on = true);
  /// Hide (false) or show the frame, ticks, tick labels and grid.
  Axes& set_axis_visible(bool on = true);

  struct Data;  // opaque: the recorded items and settings

 private:
  friend class Figure;
  Axes();
  std::unique_ptr<Data> d_;
};

class Figure {
 public:
  /// rows x cols panels on a width x height canvas (each in [50, 16384] units).
  Figure(Index rows, Index cols, double width, double height);
  ~Figure();
  Figure(Figure&&) noexcept;
  Figure& operator=(Figure&&) noexcept;

  Index rows() const;
  Index cols() const;
  /// Panel (r, c), r from the top; throws InvalidArgument out of range.
  Axes& axes(Index r, Index c);
  const Axes& axes(Index r, Index c) const;

  Figure& set_title(std::string title);
  /// PNG pixels per unit (default 1; 2 for high-density screens). SVG/PDF are vector output.
  Figure& set_png_scale(double scale);

  /// Writes the figure; the format follows the extension (.png, .svg, .pdf, any case).
  /// Goes through a temporary file renamed over `path`: an error leaves no partial file.
  /// Throws InvalidArgument for another extension or invalid panel content (e.g. a log axis
  /// with non-positive data), IoError when the file cannot be written.
  void save(const std::string& path) const;

  /// Panel (r, c)'s plot area (inside the frame; for an image grid, the tiles' rectangle) as
  /// save() lays it out for PNG at the current scale, in output units.
  Rect plot_area(Index r, Index c) const;

  struct Data;

 private:
  std::unique_ptr<Data> d_;
};

}  // namespace ebm::plot
