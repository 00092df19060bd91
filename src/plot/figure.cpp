// Figures: items are recorded by Axes, laid out and drawn by Figure::save with Cairo. One
// drawing routine serves every format; only the surface differs (image + PNG stream, SVG, PDF).
#include <ebm/core/atomic_file.hpp>
#include <ebm/core/error.hpp>
#include <ebm/plot/figure.hpp>
#include <ebm/plot/ticks.hpp>

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <sstream>
#include <string>
#include <variant>

namespace ebm::plot {
namespace {

// Text sizes and spacing (output units: pixels at PNG scale 1).
constexpr double kTickFont = 12, kLabelFont = 14, kTitleFont = 16, kFigureTitleFont = 18, kLegendFont = 12;
constexpr double kTickLength = 5, kPad = 8, kColorbarGap = 12, kColorbarWidth = 14;
constexpr double kDataMargin = 0.05;  // of the data span, around points and lines
// Coordinates beyond this many units outside the plot area are clipped before reaching Cairo,
// whose fixed-point paths overflow near 2^23.
constexpr double kGuard = 2000;

// ---------------------------------------------------------------------------------------------
// Recorded items

struct HeatmapItem {
  Mat<double> values;
  Extent extent;
  HeatmapOptions options;
  double vmin = 0, vmax = 1;
};
struct ContourItem {
  std::vector<std::vector<Point>> lines;
  Extent extent;
  Style style;
  Color color;
};
struct QuiverItem {
  Mat<double> points, vectors;
  QuiverOptions options;
  Color color;
  double scale = 1;               // data units per vector unit (normalize: length of every arrow)
  double min_norm = 0, max_norm = 0;
};
struct ScatterItem {
  Mat<double> points;
  Style style;
  Color color;
};
struct LineItem {
  std::vector<double> xs, ys;
  Style style;
  Color color;
};
struct ImageGridItem {
  Mat<double> images;
  Index h = 0, w = 0, columns = 1;
};

using Item = std::variant<HeatmapItem, ContourItem, QuiverItem, ScatterItem, LineItem, ImageGridItem>;

std::string fmt(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// Throws NumericalError naming the first non-finite entry.
void require_finite_values(const double* data, Index n, Index cols, const char* where, const char* arg) {
  for (Index k = 0; k < n; ++k) {
    if (!std::isfinite(data[k])) {
      throw NumericalError(std::string(where) + ": " + arg + " has non-finite value " + fmt(data[k]) + " at " +
                           (cols > 1 ? "row " + std::to_string(k / cols) + ", column " + std::to_string(k % cols)
                                     : "index " + std::to_string(k)));
    }
  }
}

void require_points(const Mat<double>& p, const char* where, const char* arg) {
  if (p.cols() != 2 || p.rows() < 1) {
    throw InvalidArgument(std::string(where) + ": " + arg + " has shape " + std::to_string(p.rows()) + "x" +
                          std::to_string(p.cols()) + ", expected Nx2 with N >= 1");
  }
  require_finite_values(p.data(), p.size(), 2, where, arg);
}

}  // namespace

struct Axes::Data {
  std::vector<Item> items;
  std::string title, xlabel, ylabel;
  std::optional<std::pair<double, double>> xlim, ylim;
  bool logy = false, equal = false, legend = false, grid = true, axis_visible = true;
  std::size_t next_color = 0;

  Color auto_color(const std::optional<Color>& c, double alpha, const char* where) {
    Color out = c ? *c : palette(next_color++);
    out.validate(where);
    out.a *= alpha;
    return out;
  }
};

struct Figure::Data {
  Index rows = 1, cols = 1;
  double width = 640, height = 480, png_scale = 1;
  std::string title;
  std::vector<std::unique_ptr<Axes>> axes;
  std::vector<const Axes::Data*> panels;  // axes[k]'s data, for the drawing code
};

// ---------------------------------------------------------------------------------------------
// Options

void Style::validate(const char* where) const {
  if (color) color->validate(where);
  if (!(size > 0 && size < 1e4)) throw InvalidArgument(std::string(where) + ": style.size " + fmt(size) + " must be in (0, 1e4)");
  if (!(alpha >= 0 && alpha <= 1)) throw InvalidArgument(std::string(where) + ": style.alpha " + fmt(alpha) + " must be in [0, 1]");
  if (!(width > 0 && width < 1e3)) throw InvalidArgument(std::string(where) + ": style.width " + fmt(width) + " must be in (0, 1e3)");
}

void HeatmapOptions::validate() const {
  if ((vmin && !std::isfinite(*vmin)) || (vmax && !std::isfinite(*vmax)) || (vmin && vmax && *vmin > *vmax)) {
    throw InvalidArgument("Axes::heatmap: colour range [" + (vmin ? fmt(*vmin) : "auto") + ", " + (vmax ? fmt(*vmax) : "auto") +
                          "] must be finite with vmin <= vmax");
  }
}

void QuiverOptions::validate() const {
  if (color) color->validate("Axes::quiver");
  if (scale && !(std::isfinite(*scale) && *scale > 0)) throw InvalidArgument("Axes::quiver: scale " + fmt(*scale) + " must be finite and > 0");
  if (!(width > 0 && width < 1e3)) throw InvalidArgument("Axes::quiver: width " + fmt(width) + " must be in (0, 1e3)");
  if (!(alpha >= 0 && alpha <= 1)) throw InvalidArgument("Axes::quiver: alpha " + fmt(alpha) + " must be in [0, 1]");
}

// ---------------------------------------------------------------------------------------------
// Axes: recording

Axes::Axes() : d_(std::make_unique<Data>()) {}
Axes::~Axes() = default;

Axes& Axes::heatmap(const Mat<double>& values, const Extent& extent, Colormap colormap, std::string colorbar_label) {
  HeatmapOptions o;
  o.colormap = colormap;
  o.colorbar_label = std::move(colorbar_label);
  return heatmap(values, extent, o);
}

Axes& Axes::heatmap(const Mat<double>& values, const Extent& extent, const HeatmapOptions& options) {
  options.validate();
  extent.validate("Axes::heatmap");
  if (values.rows() < 2 || values.cols() < 2) {
    throw InvalidArgument("Axes::heatmap: values has shape " + std::to_string(values.rows()) + "x" + std::to_string(values.cols()) +
                          ", need at least 2x2");
  }
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (Index k = 0; k < values.size(); ++k) {
    const double v = values.data()[k];
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (!(lo <= hi)) throw NumericalError("Axes::heatmap: values (" + std::to_string(values.rows()) + "x" + std::to_string(values.cols()) + ") has no finite entry");
  HeatmapItem item{values, extent, options, options.vmin.value_or(lo), options.vmax.value_or(hi)};
  if (item.vmin > item.vmax) {
    throw InvalidArgument("Axes::heatmap: colour range [" + fmt(item.vmin) + ", " + fmt(item.vmax) + "] is empty (one bound given, the other from the data)");
  }
  d_->items.emplace_back(std::move(item));
  return *this;
}

Axes& Axes::contours(const Mat<double>& values, const Extent& extent, std::vector<double> levels, const Style& style) {
  style.validate("Axes::contours");
  if (levels.empty()) throw InvalidArgument("Axes::contours: no levels given");
  ContourItem item{{}, extent, style, d_->auto_color(style.color, style.alpha, "Axes::contours")};
  for (double level : levels) {
    auto lines = contour_lines(values, extent, level);
    for (auto& l : lines) item.lines.push_back(std::move(l));
  }
  d_->items.emplace_back(std::move(item));
  return *this;
}

Axes& Axes::contours(const Mat<double>& values, const Extent& extent, int count, const Style& style) {
  if (count < 1) throw InvalidArgument("Axes::contours: level count " + std::to_string(count) + " < 1");
  return contours(values, extent, contour_levels(values, count), style);
}

Axes& Axes::quiver(const Mat<double>& points, const Mat<double>& vectors, const QuiverOptions& options) {
  options.validate();
  require_points(points, "Axes::quiver", "points");
  if (vectors.rows() != points.rows() || vectors.cols() != 2) {
    throw InvalidArgument("Axes::quiver: vectors has shape " + std::to_string(vectors.rows()) + "x" + std::to_string(vectors.cols()) +
                          ", expected " + std::to_string(points.rows()) + "x2 like points");
  }
  require_finite_values(vectors.data(), vectors.size(), 2, "Axes::quiver", "vectors");
  QuiverItem item{points, vectors, options, {}, 1, 0, 0};
  item.color = options.normalize ? Color{} : d_->auto_color(options.color, options.alpha, "Axes::quiver");
  const Index n = points.rows();
  item.min_norm = std::numeric_limits<double>::infinity();
  for (Index i = 0; i < n; ++i) {
    const double len = std::hypot(vectors(i, 0), vectors(i, 1));
    item.max_norm = std::max(item.max_norm, len);
    item.min_norm = std::min(item.min_norm, len);
  }
  const double bw = points.col(0).maxCoeff() - points.col(0).minCoeff();
  const double bh = points.col(1).maxCoeff() - points.col(1).minCoeff();
  // Typical distance between neighbouring points: sqrt(area per point) on a 2-D layout.
  double spacing = bw > 0 && bh > 0 ? std::sqrt(bw * bh / static_cast<double>(n))
                                    : std::max(bw, bh) / static_cast<double>(std::max<Index>(n - 1, 1));
  if (!(spacing > 0)) spacing = item.max_norm > 0 ? item.max_norm : 1;
  if (options.normalize) {
    item.scale = options.scale.value_or(0.9 * spacing);
  } else {
    item.scale = options.scale.value_or(item.max_norm > 0 ? 0.9 * spacing / item.max_norm : 1);
  }
  d_->items.emplace_back(std::move(item));
  return *this;
}

Axes& Axes::scatter(const Mat<double>& points, const Style& style) {
  style.validate("Axes::scatter");
  require_points(points, "Axes::scatter", "points");
  d_->items.emplace_back(ScatterItem{points, style, d_->auto_color(style.color, style.alpha, "Axes::scatter")});
  return *this;
}

Axes& Axes::line(std::span<const double> xs, std::span<const double> ys, const Style& style) {
  style.validate("Axes::line");
  if (xs.size() != ys.size() || xs.empty()) {
    throw InvalidArgument("Axes::line: xs has " + std::to_string(xs.size()) + " values and ys " + std::to_string(ys.size()) +
                          ", need the same number >= 1");
  }
  require_finite_values(xs.data(), static_cast<Index>(xs.size()), 1, "Axes::line", "xs");
  require_finite_values(ys.data(), static_cast<Index>(ys.size()), 1, "Axes::line", "ys");
  d_->items.emplace_back(LineItem{{xs.begin(), xs.end()}, {ys.begin(), ys.end()}, style,
                                  d_->auto_color(style.color, style.alpha, "Axes::line")});
  return *this;
}

Axes& Axes::line(std::span<const double> ys, const Style& style) {
  std::vector<double> xs(ys.size());
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<double>(i);
  return line(xs, ys, style);
}

Axes& Axes::path(const Mat<double>& points, const Style& style) {
  style.validate("Axes::path");
  require_points(points, "Axes::path", "points");
  std::vector<double> xs(static_cast<std::size_t>(points.rows())), ys(xs.size());
  for (Index i = 0; i < points.rows(); ++i) {
    xs[static_cast<std::size_t>(i)] = points(i, 0);
    ys[static_cast<std::size_t>(i)] = points(i, 1);
  }
  d_->items.emplace_back(LineItem{std::move(xs), std::move(ys), style, d_->auto_color(style.color, style.alpha, "Axes::path")});
  return *this;
}

Axes& Axes::image_grid(const Mat<double>& images, Index h, Index w, Index columns) {
  if (h < 1 || w < 1 || columns < 1) {
    throw InvalidArgument("Axes::image_grid: h " + std::to_string(h) + ", w " + std::to_string(w) + ", columns " +
                          std::to_string(columns) + " must all be >= 1");
  }
  if (images.rows() < 1 || images.cols() != h * w) {
    throw InvalidArgument("Axes::image_grid: images has shape " + std::to_string(images.rows()) + "x" + std::to_string(images.cols()) +
                          ", expected Nx" + std::to_string(h * w) + " (N >= 1 images of " + std::to_string(h) + "x" + std::to_string(w) + ")");
  }
  const Index rows = (images.rows() + columns - 1) / columns;
  if (rows * (h + 1) > 16384 || std::min(columns, images.rows()) * (w + 1) > 16384) {
    throw InvalidArgument("Axes::image_grid: " + std::to_string(images.rows()) + " tiles of " + std::to_string(h) + "x" +
                          std::to_string(w) + " in " + std::to_string(columns) + " columns exceed 16384 pixels a side");
  }
  require_finite_values(images.data(), images.size(), images.cols(), "Axes::image_grid", "images");
  d_->items.emplace_back(ImageGridItem{images, h, w, columns});
  d_->axis_visible = false;
  return *this;
}

Axes& Axes::set_title(std::string title) {
  d_->title = std::move(title);
  return *this;
}
Axes& Axes::set_xlabel(std::string label) {
  d_->xlabel = std::move(label);
  return *this;
}
Axes& Axes::set_ylabel(std::string label) {
  d_->ylabel = std::move(label);
  return *this;
}

namespace {
std::pair<double, double> checked_limits(double lo, double hi, const char* where) {
  if (!(std::isfinite(lo) && std::isfinite(hi) && lo < hi)) {
    throw InvalidArgument(std::string(where) + ": limits [" + fmt(lo) + ", " + fmt(hi) + "] must be finite with lo < hi");
  }
  return {lo, hi};
}
}  // namespace

Axes& Axes::set_xlim(double lo, double hi) {
  d_->xlim = checked_limits(lo, hi, "Axes::set_xlim");
  return *this;
}
Axes& Axes::set_ylim(double lo, double hi) {
  d_->ylim = checked_limits(lo, hi, "Axes::set_ylim");
  return *this;
}
Axes& Axes::set_yscale_log(bool on) {
  d_->logy = on;
  return *this;
}
Axes& Axes::set_equal_aspect(bool on) {
  d_->equal = on;
  return *this;
}
Axes& Axes::legend(bool show) {
  d_->legend = show;
  return *this;
}
Axes& Axes::set_grid(bool on) {
  d_->grid = on;
  return *this;
}
Axes& Axes::set_axis_visible(bool on) {
  d_->axis_visible = on;
  return *this;
}

// ---------------------------------------------------------------------------------------------
// Layout

namespace {

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  void add(const Range& r) {
    lo = std::min(lo, r.lo);
    hi = std::max(hi, r.hi);
  }
  bool empty() const { return !(lo <= hi); }
};

// One axis: limits stored in the drawn space (log10 of the values on a log axis).
struct Scale {
  double lo = 0, hi = 1;
  bool log = false;
  double fraction(double v) const { return ((log ? std::log10(v) : v) - lo) / (hi - lo); }
};

// Space between a panel's cell and its plot area.
struct Margins {
  double top = 0, bottom = 0, left = 0, right = 0;
};

struct Layout {
  Rect cell, plot;
  Scale x, y;
  bool axis_visible = true;
  std::vector<double> xticks, yticks, yminor;
  std::vector<std::string> xlabels, ylabels;
  const HeatmapItem* bar = nullptr;
  Rect bar_rect;
  Margins margins;  // with visible axes: cell to plot area before the equal-aspect shrink
  std::vector<double> bar_ticks;
  std::vector<std::string> bar_labels;
};

enum class VAlign { Top, Middle, Baseline, Bottom };

struct Painter {
  cairo_t* cr;
  double scale = 1;  // device pixels per unit, for snapping 1-unit lines to pixel centres

  void font(double size, bool bold = false) const {
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
  }
  double text_width(const std::string& s, double size, bool bold = false) const {
    font(size, bold);
    cairo_text_extents_t e;
    cairo_text_extents(cr, s.c_str(), &e);
    return e.x_advance;
  }
  // Height of a line of text (ascent + descent) at this size.
  double line_height(double size) const {
    font(size);
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    return fe.ascent + fe.descent;
  }
  // Draws s with its anchor at (x, y): ha 0 / 0.5 / 1 = left / centre / right; rotated by
  // `angle` radians about the anchor.
  void text(const std::string& s, double x, double y, double size, double ha, VAlign va, double angle = 0,
            bool bold = false) const {
    if (s.empty()) return;
    font(size, bold);
    cairo_text_extents_t te;
    cairo_text_extents(cr, s.c_str(), &te);
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    double dy = 0;
    switch (va) {
      case VAlign::Top: dy = fe.ascent; break;
      case VAlign::Middle: {
        cairo_text_extents_t digit;
        cairo_text_extents(cr, "0", &digit);  // centre on the height of digits, not of the font box
        dy = -digit.y_bearing / 2;
        break;
      }
      case VAlign::Baseline: dy = 0; break;
      case VAlign::Bottom: dy = -fe.descent; break;
    }
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, angle);
    cairo_move_to(cr, -ha * te.x_advance, dy);
    cairo_show_text(cr, s.c_str());
    cairo_restore(cr);
  }
  // s shortened with an ellipsis to at most max_width.
  std::string fit(const std::string& s, double size, double max_width, bool bold = false) const {
    if (text_width(s, size, bold) <= max_width) return s;
    std::string t = s;
    while (!t.empty()) {
      do t.pop_back();  // whole UTF-8 characters: drop continuation bytes with their lead byte
      while (!t.empty() && (static_cast<unsigned char>(t.back()) & 0xC0) == 0x80);
      if (t.empty() || text_width(t + "\u2026", size, bold) <= max_width) break;
    }
    while (!t.empty() && t.back() == ' ') t.pop_back();
    return t + "\u2026";
  }
  double snap(double v) const { return (std::floor(v * scale) + 0.5) / scale; }
  void color(const Color& c) const { cairo_set_source_rgba(cr, c.r, c.g, c.b, c.a); }
  void gray(double v, double a = 1) const { cairo_set_source_rgba(cr, v, v, v, a); }
};

std::string panel_name(Index r, Index c) { return "panel (" + std::to_string(r) + ", " + std::to_string(c) + ")"; }

void check_positive(double v, Index r, Index c, const char* what) {
  if (!(v > 0)) {
    throw InvalidArgument("Figure::save: " + panel_name(r, c) + ": log-scale y axis needs positive values, " + what + " has y = " + fmt(v));
  }
}

// Limits from the data: points and lines with a margin, grids exactly. Log y works in log10.
void data_limits(const Axes::Data& a, Index r, Index c, Scale& xs, Scale& ys) {
  Range tx, ty, lx, ly;
  auto add_y = [&](Range& range, double v, const char* what) {
    if (a.logy) {
      check_positive(v, r, c, what);
      range.add(std::log10(v));
    } else {
      range.add(v);
    }
  };
  for (const Item& item : a.items) {
    if (const auto* h = std::get_if<HeatmapItem>(&item)) {
      if (a.logy) throw InvalidArgument("Figure::save: " + panel_name(r, c) + ": a heatmap cannot be drawn on a log-scale y axis");
      tx.add(h->extent.x0), tx.add(h->extent.x1), ty.add(h->extent.y0), ty.add(h->extent.y1);
    } else if (const auto* k = std::get_if<ContourItem>(&item)) {
      tx.add(k->extent.x0), tx.add(k->extent.x1);
      add_y(ty, k->extent.y0, "a contour grid"), add_y(ty, k->extent.y1, "a contour grid");
    } else if (const auto* q = std::get_if<QuiverItem>(&item)) {
      for (Index i = 0; i < q->points.rows(); ++i) {
        const double len = std::hypot(q->vectors(i, 0), q->vectors(i, 1));
        const double f = q->options.normalize ? (len > 0 ? q->scale / len : 0) : q->scale;
        lx.add(q->points(i, 0)), lx.add(q->points(i, 0) + f * q->vectors(i, 0));
        add_y(ly, q->points(i, 1), "a quiver point"), add_y(ly, q->points(i, 1) + f * q->vectors(i, 1), "a quiver arrow tip");
      }
    } else if (const auto* s = std::get_if<ScatterItem>(&item)) {
      for (Index i = 0; i < s->points.rows(); ++i) lx.add(s->points(i, 0)), add_y(ly, s->points(i, 1), "a scatter point");
    } else if (const auto* l = std::get_if<LineItem>(&item)) {
      for (std::size_t i = 0; i < l->xs.size(); ++i) lx.add(l->xs[i]), add_y(ly, l->ys[i], "a line point");
    }
  }
  auto finish = [](Range tight, Range loose, const std::optional<std::pair<double, double>>& fixed, bool log, Index r_,
                   Index c_) -> Scale {
    Scale s;
    s.log = log;
    if (fixed) {
      if (log) {
        check_positive(fixed->first, r_, c_, "the axis limit");
        s.lo = std::log10(fixed->first), s.hi = std::log10(fixed->second);
      } else {
        s.lo = fixed->first, s.hi = fixed->second;
      }
      return s;
    }
    if (!loose.empty()) {
      const double m = kDataMargin * (loose.hi - loose.lo);
      loose.lo -= m, loose.hi += m;
    }
    tight.add(loose);
    if (tight.empty()) tight = {log ? -1.0 : 0.0, log ? 1.0 : 1.0};
    if (!(tight.hi > tight.lo)) {
      // One value: a window around it (a decade each side on log axes).
      const double d = log ? 1.0 : (tight.lo != 0 ? std::abs(tight.lo) * 0.1 : 1.0);
      tight.lo -= d, tight.hi += d;
    }
    s.lo = tight.lo, s.hi = tight.hi;
    return s;
  };
  xs = finish(tx, lx, a.xlim, false, r, c);
  ys = finish(ty, ly, a.ylim, a.logy, r, c);
}

std::vector<double> inside(const std::vector<double>& ticks, const Scale& s) {
  std::vector<double> out;
  for (double t : ticks) {
    const double f = s.fraction(t);
    if (f >= -1e-9 && f <= 1 + 1e-9) out.push_back(t);
  }
  return out;
}

// Ticks and labels on a linear or log axis with at most max_ticks labelled ticks.
void axis_ticks(const Scale& s, int max_ticks, std::vector<double>& major, std::vector<double>& minor,
                std::vector<std::string>& labels) {
  minor.clear();
  if (s.log) {
    const LogTicks t = log_ticks(std::pow(10.0, s.lo), std::pow(10.0, s.hi), max_ticks);
    major = inside(t.major, s);
    minor = inside(t.minor, s);
    labels = format_log_ticks(major);
  } else {
    major = inside(nice_ticks(s.lo, s.hi, max_ticks), s);
    labels = format_linear_ticks(major);
  }
}

const HeatmapItem* colorbar_item(const Axes::Data& a) {
  const HeatmapItem* bar = nullptr;
  for (const Item& item : a.items) {
    if (const auto* h = std::get_if<HeatmapItem>(&item); h && h->options.colorbar) bar = h;
  }
  return bar;
}

std::pair<double, double> bar_range(const HeatmapItem& h) {
  if (h.vmax > h.vmin) return {h.vmin, h.vmax};
  const double d = h.vmin != 0 ? std::abs(h.vmin) * 0.1 : 1.0;
  return {h.vmin - d, h.vmax + d};
}

const ImageGridItem* image_grid_item(const Axes::Data& a) {
  const ImageGridItem* g = nullptr;
  for (const Item& item : a.items) {
    if (const auto* i = std::get_if<ImageGridItem>(&item)) g = i;
  }
  return g;
}

// Tile grid size in image pixels: one-pixel gaps between tiles.
std::pair<int, int> image_grid_pixels(const ImageGridItem& g) {
  const Index n = g.images.rows(), cols = std::min(g.columns, n), rows = (n + g.columns - 1) / g.columns;
  return {static_cast<int>(cols * (g.w + 1) - 1), static_cast<int>(rows * (g.h + 1) - 1)};
}

// The largest rectangle of the grid's aspect centred in `area`; a whole number of device pixels
// per image pixel when enlarging, so every tile pixel is the same size.
Rect image_grid_rect(const ImageGridItem& g, const Rect& area, double device_scale) {
  const auto [W, H] = image_grid_pixels(g);
  double s = std::min(area.width / W, area.height / H);
  if (s * device_scale >= 2) s = std::floor(s * device_scale) / device_scale;
  const double x = area.x + (area.width - s * W) / 2, y = area.y + (area.height - s * H) / 2;
  return {std::round(x * device_scale) / device_scale, std::round(y * device_scale) / device_scale, s * W, s * H};
}

// `align`: margins at least these (the largest of the panel's row or column, so that frames
// line up across panels).
Layout layout_panel(const Painter& p, const Axes::Data& a, Rect cell, Index r, Index c, const Margins& align) {
  Layout L;
  L.cell = cell;
  data_limits(a, r, c, L.x, L.y);
  L.axis_visible = a.axis_visible;
  const double tick_h = p.line_height(kTickFont), label_h = p.line_height(kLabelFont);
  double top = a.title.empty() ? kPad + tick_h / 2 : kPad + p.line_height(kTitleFont) + 6;
  if (!a.axis_visible) {
    L.plot = {cell.x + kPad, cell.y + top, cell.width - 2 * kPad, cell.height - top - kPad};
    if (const ImageGridItem* g = image_grid_item(a)) L.plot = image_grid_rect(*g, L.plot, p.scale);
  } else {
    top = std::max(top, align.top);
    const double bottom = std::max(kTickLength + 3 + tick_h + (a.xlabel.empty() ? 0 : 4 + label_h) + kPad, align.bottom);
    const double height = cell.height - top - bottom;
    // Labelled y ticks at least ~45 units apart.
    const int ymax = std::clamp(static_cast<int>(height / 45) + 1, 2, 8);
    axis_ticks(L.y, ymax, L.yticks, L.yminor, L.ylabels);
    double ywidth = 0;
    for (const auto& s : L.ylabels) ywidth = std::max(ywidth, p.text_width(s, kTickFont));
    const double left = std::max(kPad + (a.ylabel.empty() ? 0 : label_h + 6) + ywidth + 4 + kTickLength, align.left);
    double right = 2 * kPad;
    L.bar = colorbar_item(a);
    if (L.bar) {
      const auto [lo, hi] = bar_range(*L.bar);
      const int bmax = std::clamp(static_cast<int>(height / 45) + 1, 2, 8);
      L.bar_ticks = nice_ticks(lo, hi, bmax);
      Scale bs{lo, hi, false};
      L.bar_ticks = inside(L.bar_ticks, bs);
      L.bar_labels = format_linear_ticks(L.bar_ticks);
      double bw = 0;
      for (const auto& s : L.bar_labels) bw = std::max(bw, p.text_width(s, kTickFont));
      right = kPad + kColorbarGap + kColorbarWidth + 4 + bw + (L.bar->options.colorbar_label.empty() ? 0 : 6 + label_h);
    }
    right = std::max(right, align.right);
    L.margins = {top, bottom, left, right};
    L.plot = {cell.x + left, cell.y + top, cell.width - left - right, height};
    // x ticks: as many as fit with a clear gap between neighbouring labels.
    for (int xmax = std::clamp(static_cast<int>(L.plot.width / 60) + 1, 2, 8);; --xmax) {
      std::vector<double> unused;
      axis_ticks(L.x, xmax, L.xticks, unused, L.xlabels);
      bool fits = true;
      for (std::size_t i = 1; i < L.xticks.size(); ++i) {
        const double gap = (L.x.fraction(L.xticks[i]) - L.x.fraction(L.xticks[i - 1])) * L.plot.width;
        if (gap < (p.text_width(L.xlabels[i], kTickFont) + p.text_width(L.xlabels[i - 1], kTickFont)) / 2 + 10) fits = false;
      }
      if (fits || xmax == 2) break;
    }
  }
  if (a.equal && !a.logy && L.plot.width > 0 && L.plot.height > 0) {
    const double kx = L.plot.width / (L.x.hi - L.x.lo), ky = L.plot.height / (L.y.hi - L.y.lo);
    const double k = std::min(kx, ky);
    const double w = k * (L.x.hi - L.x.lo), h = k * (L.y.hi - L.y.lo);
    L.plot.x += (L.plot.width - w) / 2;
    L.plot.y += (L.plot.height - h) / 2;
    L.plot.width = w, L.plot.height = h;
  }
  if (L.plot.width < 10 || L.plot.height < 10) {
    throw InvalidArgument("Figure::save: " + panel_name(r, c) + ": the plot area is " + fmt(std::round(L.plot.width)) + "x" +
                          fmt(std::round(L.plot.height)) + " after margins; make the figure larger");
  }
  if (L.bar) {
    L.bar_rect = {L.plot.x + L.plot.width + kColorbarGap, L.plot.y, kColorbarWidth, L.plot.height};
  }
  return L;
}

double title_band(const Painter& p, const Figure::Data& f) {
  return f.title.empty() ? 0 : p.line_height(kFigureTitleFont) + 10;
}

std::vector<Layout> layout_figure(const Painter& p, const Figure::Data& f) {
  const double band = title_band(p, f);
  const double cw = f.width / static_cast<double>(f.cols), ch = (f.height - band) / static_cast<double>(f.rows);
  auto pass = [&](const std::vector<Margins>& align) {
    std::vector<Layout> out;
    for (Index r = 0; r < f.rows; ++r) {
      for (Index c = 0; c < f.cols; ++c) {
        const Rect cell{static_cast<double>(c) * cw, band + static_cast<double>(r) * ch, cw, ch};
        const auto k = static_cast<std::size_t>(r * f.cols + c);
        out.push_back(layout_panel(p, *f.panels[k], cell, r, c, align[k]));
      }
    }
    return out;
  };
  const auto n = static_cast<std::size_t>(f.rows * f.cols);
  const std::vector<Layout> first = pass(std::vector<Margins>(n));
  // Line up frames: top and bottom margins shared along a row, left margins along a column,
  // among panels with visible axes. Right margins are not shared: a colour bar in one panel
  // would narrow every panel below it.
  std::vector<Margins> align(n);
  for (std::size_t k = 0; k < n; ++k) {
    if (!first[k].axis_visible) continue;
    const std::size_t r = k / static_cast<std::size_t>(f.cols), c = k % static_cast<std::size_t>(f.cols);
    for (std::size_t m = 0; m < n; ++m) {
      if (!first[m].axis_visible) continue;
      if (m / static_cast<std::size_t>(f.cols) == r) {
        align[k].top = std::max(align[k].top, first[m].margins.top);
        align[k].bottom = std::max(align[k].bottom, first[m].margins.bottom);
      }
      if (m % static_cast<std::size_t>(f.cols) == c) {
        align[k].left = std::max(align[k].left, first[m].margins.left);
      }
    }
  }
  return pass(align);
}

// ---------------------------------------------------------------------------------------------
// Drawing

struct Transform {
  const Layout& L;
  double X(double x) const { return L.plot.x + L.x.fraction(x) * L.plot.width; }
  double Y(double y) const { return L.plot.y + (1 - L.y.fraction(y)) * L.plot.height; }
};

// Liang-Barsky: clips the segment to the guard box; false when nothing is left.
bool clip_segment(double& x0, double& y0, double& x1, double& y1, const Rect& box) {
  double t0 = 0, t1 = 1;
  const double dx = x1 - x0, dy = y1 - y0;
  const double p[4] = {-dx, dx, -dy, dy};
  const double q[4] = {x0 - box.x, box.x + box.width - x0, y0 - box.y, box.y + box.height - y0};
  for (int k = 0; k < 4; ++k) {
    if (p[k] == 0) {
      if (q[k] < 0) return false;
    } else {
      const double t = q[k] / p[k];
      if (p[k] < 0) t0 = std::max(t0, t);
      else t1 = std::min(t1, t);
    }
  }
  if (t0 > t1) return false;
  const double ax = x0 + t0 * dx, ay = y0 + t0 * dy, bx = x0 + t1 * dx, by = y0 + t1 * dy;
  x0 = ax, y0 = ay, x1 = bx, y1 = by;
  return true;
}

Rect guard_box(const Layout& L) {
  return {L.plot.x - kGuard, L.plot.y - kGuard, L.plot.width + 2 * kGuard, L.plot.height + 2 * kGuard};
}

// Adds the polyline through screen points to the current path, breaking it where it leaves
// the guard box.
void add_polyline(cairo_t* cr, const std::vector<double>& sx, const std::vector<double>& sy, const Rect& box) {
  if (sx.size() == 1) {
    if (sx[0] >= box.x && sx[0] <= box.x + box.width && sy[0] >= box.y && sy[0] <= box.y + box.height) {
      cairo_move_to(cr, sx[0], sy[0]);
      cairo_close_path(cr);  // a dot, drawn by the round cap
    }
    return;
  }
  bool pen_down = false;
  double last_x = 0, last_y = 0;
  for (std::size_t i = 1; i < sx.size(); ++i) {
    double x0 = sx[i - 1], y0 = sy[i - 1], x1 = sx[i], y1 = sy[i];
    if (!clip_segment(x0, y0, x1, y1, box)) {
      pen_down = false;
      continue;
    }
    if (!pen_down || x0 != last_x || y0 != last_y) cairo_move_to(cr, x0, y0);
    cairo_line_to(cr, x1, y1);
    pen_down = true;
    last_x = x1, last_y = y1;
  }
}

void set_dash(cairo_t* cr, Dash dash, double width) {
  const double u = std::max(width / 1.8, 0.7);
  switch (dash) {
    case Dash::Solid: cairo_set_dash(cr, nullptr, 0, 0); break;
    case Dash::Dashed: {
      const double d[] = {6 * u, 4 * u};
      cairo_set_dash(cr, d, 2, 0);
      break;
    }
    case Dash::Dotted: {
      const double d[] = {1.5 * u, 3 * u};
      cairo_set_dash(cr, d, 2, 0);
      break;
    }
    case Dash::DashDot: {
      const double d[] = {6 * u, 3 * u, 1.5 * u, 3 * u};
      cairo_set_dash(cr, d, 4, 0);
      break;
    }
  }
}

std::uint32_t premultiplied_argb(const Color& c) {
  auto byte = [](double v) { return static_cast<std::uint32_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255)); };
  return byte(c.a) << 24 | byte(c.r * c.a) << 16 | byte(c.g * c.a) << 8 | byte(c.b * c.a);
}

using SurfacePtr = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;

SurfacePtr make_image(int w, int h) {
  return {cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h), &cairo_surface_destroy};
}

void draw_image(cairo_t* cr, cairo_surface_t* img, cairo_filter_t filter) {
  cairo_pattern_t* pat = cairo_pattern_create_for_surface(img);
  cairo_pattern_set_filter(pat, filter);
  cairo_pattern_set_extend(pat, CAIRO_EXTEND_PAD);
  cairo_set_source(cr, pat);
  cairo_pattern_destroy(pat);
}

void draw_heatmap(const Painter& p, const Transform& T, const HeatmapItem& h) {
  const int nx = static_cast<int>(h.values.cols()), ny = static_cast<int>(h.values.rows());
  SurfacePtr img = make_image(nx, ny);
  cairo_surface_flush(img.get());
  unsigned char* data = cairo_image_surface_get_data(img.get());
  const int stride = cairo_image_surface_get_stride(img.get());
  const double range = h.vmax - h.vmin;
  for (int row = 0; row < ny; ++row) {
    auto* px = reinterpret_cast<std::uint32_t*>(data + static_cast<std::ptrdiff_t>(row) * stride);
    for (int j = 0; j < nx; ++j) {
      const double v = h.values(ny - 1 - row, j);  // image rows run downwards, values rows upwards
      const Color col = std::isfinite(v) ? colormap(h.options.colormap, range > 0 ? (v - h.vmin) / range : 0.5) : Color{0, 0, 0, 0};
      px[j] = premultiplied_argb(col);
    }
  }
  cairo_surface_mark_dirty(img.get());
  // Image pixel centres sit on the grid points; the fill covers exactly the extent.
  const double dx = (h.extent.x1 - h.extent.x0) / (nx - 1), dy = (h.extent.y1 - h.extent.y0) / (ny - 1);
  const double b = T.X(h.extent.x0 + dx) - T.X(h.extent.x0), d = T.Y(h.extent.y0) - T.Y(h.extent.y0 + dy);
  const double a = T.X(h.extent.x0) - 0.5 * b, cc = T.Y(h.extent.y1) - 0.5 * d;
  cairo_save(p.cr);
  cairo_translate(p.cr, a, cc);
  cairo_scale(p.cr, b, d);
  draw_image(p.cr, img.get(), h.options.smooth ? CAIRO_FILTER_BILINEAR : CAIRO_FILTER_NEAREST);
  cairo_rectangle(p.cr, 0.5, 0.5, nx - 1, ny - 1);
  cairo_fill(p.cr);
  cairo_restore(p.cr);
}

void stroke_style(const Painter& p, const Color& color, double width, Dash dash) {
  p.color(color);
  cairo_set_line_width(p.cr, width);
  cairo_set_line_join(p.cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap(p.cr, CAIRO_LINE_CAP_ROUND);
  set_dash(p.cr, dash, width);
  if (dash != Dash::Solid) cairo_set_line_cap(p.cr, CAIRO_LINE_CAP_BUTT);
}

void draw_polylines(const Painter& p, const Transform& T, const std::vector<std::vector<Point>>& lines, const Color& color,
                    const Style& style) {
  const Rect box = guard_box(T.L);
  std::vector<double> sx, sy;
  for (const auto& line : lines) {
    sx.clear(), sy.clear();
    for (const Point& pt : line) sx.push_back(T.X(pt.x)), sy.push_back(T.Y(pt.y));
    add_polyline(p.cr, sx, sy, box);
  }
  stroke_style(p, color, style.width, style.dash);
  cairo_stroke(p.cr);
  cairo_set_dash(p.cr, nullptr, 0, 0);
}

void draw_line(const Painter& p, const Transform& T, const LineItem& l) {
  std::vector<double> sx(l.xs.size()), sy(l.ys.size());
  for (std::size_t i = 0; i < sx.size(); ++i) sx[i] = T.X(l.xs[i]), sy[i] = T.Y(l.ys[i]);
  add_polyline(p.cr, sx, sy, guard_box(T.L));
  stroke_style(p, l.color, sx.size() == 1 ? std::max(l.style.width, l.style.size) : l.style.width, l.style.dash);
  cairo_stroke(p.cr);
  cairo_set_dash(p.cr, nullptr, 0, 0);
}

void draw_scatter(const Painter& p, const Transform& T, const ScatterItem& s) {
  const Rect box = guard_box(T.L);
  p.color(s.color);
  const double radius = s.style.size / 2;
  for (Index i = 0; i < s.points.rows(); ++i) {
    const double x = T.X(s.points(i, 0)), y = T.Y(s.points(i, 1));
    if (x < box.x || x > box.x + box.width || y < box.y || y > box.y + box.height) continue;
    cairo_new_sub_path(p.cr);
    cairo_arc(p.cr, x, y, radius, 0, 2 * std::numbers::pi);
    // One fill per marker so that overlapping translucent markers accumulate.
    if (s.color.a < 1) cairo_fill(p.cr);
  }
  cairo_fill(p.cr);
}

void arrow(cairo_t* cr, double x0, double y0, double x1, double y1, double width) {
  const double len = std::hypot(x1 - x0, y1 - y0);
  if (len < 0.5) return;
  const double ux = (x1 - x0) / len, uy = (y1 - y0) / len;
  const double head = std::min(0.45 * len, 3 * width + 4), half = 0.6 * head;
  const double bx = x1 - ux * head, by = y1 - uy * head;
  cairo_set_line_width(cr, width);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
  cairo_move_to(cr, x0, y0);
  cairo_line_to(cr, bx + ux * 0.5, by + uy * 0.5);  // overlap the head slightly: no seam
  cairo_stroke(cr);
  cairo_move_to(cr, x1, y1);
  cairo_line_to(cr, bx - uy * half, by + ux * half);
  cairo_line_to(cr, bx + uy * half, by - ux * half);
  cairo_close_path(cr);
  cairo_fill(cr);
}

void draw_quiver(const Painter& p, const Transform& T, const QuiverItem& q) {
  const Rect box = T.L.plot;
  for (Index i = 0; i < q.points.rows(); ++i) {
    const double vx = q.vectors(i, 0), vy = q.vectors(i, 1), len = std::hypot(vx, vy);
    if (len == 0) continue;
    const double f = q.options.normalize ? q.scale / len : q.scale;
    double x0 = T.X(q.points(i, 0)), y0 = T.Y(q.points(i, 1));
    double x1 = T.X(q.points(i, 0) + f * vx), y1 = T.Y(q.points(i, 1) + f * vy);
    if (x0 < box.x - kGuard || x0 > box.x + box.width + kGuard || y0 < box.y - kGuard || y0 > box.y + box.height + kGuard) continue;
    if (std::hypot(x1 - x0, y1 - y0) > kGuard) continue;  // a zoomed-in view: the arrow is off scale
    if (q.options.normalize) {
      const double range = q.max_norm - q.min_norm;
      p.color(colormap(q.options.colormap, range > 0 ? (len - q.min_norm) / range : 1.0).with_alpha(q.options.alpha));
    } else {
      p.color(q.color);
    }
    arrow(p.cr, x0, y0, x1, y1, q.options.width);
  }
}

void draw_image_grid(const Painter& p, const Layout& L, const ImageGridItem& g) {
  const auto [W, H] = image_grid_pixels(g);
  SurfacePtr img = make_image(W, H);
  cairo_surface_flush(img.get());
  unsigned char* data = cairo_image_surface_get_data(img.get());
  const int stride = cairo_image_surface_get_stride(img.get());
  for (int y = 0; y < H; ++y) {
    auto* px = reinterpret_cast<std::uint32_t*>(data + static_cast<std::ptrdiff_t>(y) * stride);
    for (int x = 0; x < W; ++x) px[x] = 0xFFFFFFFFu;  // gaps
  }
  for (Index k = 0; k < g.images.rows(); ++k) {
    const Index ox = (k % g.columns) * (g.w + 1), oy = (k / g.columns) * (g.h + 1);
    for (Index i = 0; i < g.h; ++i) {
      auto* px = reinterpret_cast<std::uint32_t*>(data + static_cast<std::ptrdiff_t>(oy + i) * stride);
      for (Index j = 0; j < g.w; ++j) {
        const auto v = static_cast<std::uint32_t>(std::lround(std::clamp(g.images(k, i * g.w + j), 0.0, 1.0) * 255));
        px[ox + j] = 0xFF000000u | v << 16 | v << 8 | v;
      }
    }
  }
  cairo_surface_mark_dirty(img.get());
  // With hidden axes the layout made L.plot the grid's own rectangle (image_grid_rect); with the
  // axes switched back on the grid fills the plot area.
  const Rect& r = L.plot;
  const double sx = r.width / W, sy = r.height / H;
  cairo_save(p.cr);
  cairo_translate(p.cr, r.x, r.y);
  cairo_scale(p.cr, sx, sy);
  draw_image(p.cr, img.get(), std::min(sx, sy) >= 1 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
  cairo_rectangle(p.cr, 0, 0, W, H);
  cairo_fill(p.cr);
  cairo_restore(p.cr);
}

struct LegendEntry {
  enum Kind { Line, Marker, Arrow } kind;
  Color color;
  double width, size;
  Dash dash;
  std::string label;
};

std::vector<LegendEntry> legend_entries(const Axes::Data& a) {
  std::vector<LegendEntry> out;
  for (const Item& item : a.items) {
    if (const auto* s = std::get_if<ScatterItem>(&item); s && !s->style.label.empty()) {
      out.push_back({LegendEntry::Marker, s->color, 0, s->style.size, Dash::Solid, s->style.label});
    } else if (const auto* l = std::get_if<LineItem>(&item); l && !l->style.label.empty()) {
      out.push_back({LegendEntry::Line, l->color, l->style.width, 0, l->style.dash, l->style.label});
    } else if (const auto* k = std::get_if<ContourItem>(&item); k && !k->style.label.empty()) {
      out.push_back({LegendEntry::Line, k->color, k->style.width, 0, k->style.dash, k->style.label});
    } else if (const auto* q = std::get_if<QuiverItem>(&item); q && !q->options.label.empty()) {
      const Color c = q->options.normalize ? colormap(q->options.colormap, 0.7) : q->color;
      out.push_back({LegendEntry::Arrow, c, q->options.width, 0, Dash::Solid, q->options.label});
    }
  }
  return out;
}

// Data points (scatter markers, line vertices, arrow bases) inside the rectangle, on screen.
int points_under(const Axes::Data& a, const Layout& L, const Rect& box) {
  const Transform T{L};
  int n = 0;
  auto count = [&](double x, double y) {
    const double sx = T.X(x), sy = T.Y(y);
    n += sx >= box.x && sx <= box.x + box.width && sy >= box.y && sy <= box.y + box.height;
  };
  for (const Item& item : a.items) {
    if (const auto* s = std::get_if<ScatterItem>(&item)) {
      for (Index i = 0; i < s->points.rows(); ++i) count(s->points(i, 0), s->points(i, 1));
    } else if (const auto* l = std::get_if<LineItem>(&item)) {
      for (std::size_t i = 0; i < l->xs.size(); ++i) count(l->xs[i], l->ys[i]);
    } else if (const auto* q = std::get_if<QuiverItem>(&item)) {
      for (Index i = 0; i < q->points.rows(); ++i) count(q->points(i, 0), q->points(i, 1));
    }
  }
  return n;
}

// Top-right, unless another corner hides fewer data points.
void draw_legend(const Painter& p, const Axes::Data& a, const Layout& L, const std::vector<LegendEntry>& entries) {
  if (entries.empty()) return;
  const double row = p.line_height(kLegendFont) + 4, sample = 24, pad = 7;
  double tw = 0;
  for (const auto& e : entries) tw = std::max(tw, p.text_width(e.label, kLegendFont));
  const double w = pad + sample + 6 + tw + pad, h = 2 * pad - 4 + row * static_cast<double>(entries.size());
  const double left = L.plot.x + 8, right = L.plot.x + L.plot.width - 8 - w;
  const double top = L.plot.y + 8, bottom = L.plot.y + L.plot.height - 8 - h;
  const Rect corners[4] = {{right, top, w, h}, {left, top, w, h}, {left, bottom, w, h}, {right, bottom, w, h}};
  Rect best = corners[0];
  int fewest = points_under(a, L, corners[0]);
  for (int k = 1; k < 4 && fewest > 0; ++k) {
    const int n = points_under(a, L, corners[k]);
    if (n < fewest) fewest = n, best = corners[k];
  }
  const double x = std::round(best.x), y = std::round(best.y);
  cairo_rectangle(p.cr, x + 0.5, y + 0.5, std::round(w), std::round(h));
  p.gray(1, 0.88);
  cairo_fill_preserve(p.cr);
  p.gray(0.75);
  cairo_set_line_width(p.cr, 1);
  cairo_stroke(p.cr);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const double cy = y + pad - 2 + row * (static_cast<double>(i) + 0.5);
    const double sx = x + pad;
    switch (e.kind) {
      case LegendEntry::Line:
        stroke_style(p, e.color, e.width, e.dash);
        cairo_move_to(p.cr, sx, cy);
        cairo_line_to(p.cr, sx + sample, cy);
        cairo_stroke(p.cr);
        cairo_set_dash(p.cr, nullptr, 0, 0);
        break;
      case LegendEntry::Marker:
        p.color(e.color.a < 0.6 ? e.color.with_alpha(0.6) : e.color);  // faint clouds still show a key
        cairo_arc(p.cr, sx + sample / 2, cy, std::min(e.size, 12.0) / 2, 0, 2 * std::numbers::pi);
        cairo_fill(p.cr);
        break;
      case LegendEntry::Arrow:
        p.color(e.color);
        arrow(p.cr, sx, cy, sx + sample, cy, e.width);
        break;
    }
    p.gray(0.1);
    p.text(e.label, sx + sample + 6, cy, kLegendFont, 0, VAlign::Middle);
  }
}

void draw_colorbar(const Painter& p, const Layout& L) {
  const HeatmapItem& h = *L.bar;
  const Rect& b = L.bar_rect;
  constexpr int kSteps = 256;
  SurfacePtr img = make_image(1, kSteps);
  cairo_surface_flush(img.get());
  unsigned char* data = cairo_image_surface_get_data(img.get());
  const int stride = cairo_image_surface_get_stride(img.get());
  const auto [lo, hi] = bar_range(h);
  for (int k = 0; k < kSteps; ++k) {
    // Row k (from the top) shows the value at its centre, mapped as the heatmap maps it.
    const double v = hi - (hi - lo) * (k + 0.5) / kSteps;
    const double range = h.vmax - h.vmin;
    const double t = range > 0 ? (v - h.vmin) / range : 0.5;
    *reinterpret_cast<std::uint32_t*>(data + static_cast<std::ptrdiff_t>(k) * stride) = premultiplied_argb(colormap(h.options.colormap, t));
  }
  cairo_surface_mark_dirty(img.get());
  cairo_save(p.cr);
  cairo_translate(p.cr, b.x, b.y);
  cairo_scale(p.cr, b.width, b.height / kSteps);
  draw_image(p.cr, img.get(), CAIRO_FILTER_BILINEAR);
  cairo_rectangle(p.cr, 0, 0, 1, kSteps);
  cairo_fill(p.cr);
  cairo_restore(p.cr);
  p.gray(0.25);
  cairo_set_line_width(p.cr, 1);
  const double x0 = p.snap(b.x), x1 = p.snap(b.x + b.width), y0 = p.snap(b.y), y1 = p.snap(b.y + b.height);
  cairo_rectangle(p.cr, x0, y0, x1 - x0, y1 - y0);
  cairo_stroke(p.cr);
  double label_right = x1;
  for (std::size_t i = 0; i < L.bar_ticks.size(); ++i) {
    const double y = p.snap(b.y + b.height * (hi - L.bar_ticks[i]) / (hi - lo));
    p.gray(0.25);
    cairo_move_to(p.cr, x1, y);
    cairo_line_to(p.cr, x1 + 4, y);
    cairo_stroke(p.cr);
    p.gray(0.15);
    p.text(L.bar_labels[i], x1 + 6, y, kTickFont, 0, VAlign::Middle);
    label_right = std::max(label_right, x1 + 6 + p.text_width(L.bar_labels[i], kTickFont));
  }
  if (!h.options.colorbar_label.empty()) {
    p.gray(0.1);
    p.text(p.fit(h.options.colorbar_label, kLabelFont, b.height + 20), label_right + 6, b.y + b.height / 2, kLabelFont, 0.5, VAlign::Top, -std::numbers::pi / 2);
  }
}

void draw_panel(const Painter& p, const Axes::Data& a, const Layout& L) {
  cairo_t* cr = p.cr;
  const Transform T{L};
  const Rect& P = L.plot;
  const double left = p.snap(P.x), right = p.snap(P.x + P.width), top = p.snap(P.y), bottom = p.snap(P.y + P.height);
  if (L.axis_visible && a.grid) {
    p.gray(0.9);
    cairo_set_line_width(cr, 1);
    for (double t : L.xticks) {
      const double x = p.snap(T.X(t));
      cairo_move_to(cr, x, top), cairo_line_to(cr, x, bottom);
    }
    for (double t : L.yticks) {
      const double y = p.snap(T.Y(t));
      cairo_move_to(cr, left, y), cairo_line_to(cr, right, y);
    }
    cairo_stroke(cr);
  }
  cairo_save(cr);
  cairo_rectangle(cr, P.x, P.y, P.width, P.height);
  cairo_clip(cr);
  for (const Item& item : a.items) {
    if (const auto* h = std::get_if<HeatmapItem>(&item)) draw_heatmap(p, T, *h);
    else if (const auto* k = std::get_if<ContourItem>(&item)) draw_polylines(p, T, k->lines, k->color, k->style);
    else if (const auto* q = std::get_if<QuiverItem>(&item)) draw_quiver(p, T, *q);
    else if (const auto* s = std::get_if<ScatterItem>(&item)) draw_scatter(p, T, *s);
    else if (const auto* l = std::get_if<LineItem>(&item)) draw_line(p, T, *l);
  }
  cairo_restore(cr);
  for (const Item& item : a.items) {
    if (const auto* g = std::get_if<ImageGridItem>(&item)) draw_image_grid(p, L, *g);
  }

  const double tick_h = p.line_height(kTickFont), label_h = p.line_height(kLabelFont);
  if (L.axis_visible) {
    cairo_set_line_width(cr, 1);
    p.gray(0.25);
    cairo_rectangle(cr, left, top, right - left, bottom - top);
    cairo_stroke(cr);
    for (double t : L.xticks) {
      const double x = p.snap(T.X(t));
      cairo_move_to(cr, x, bottom), cairo_line_to(cr, x, bottom + kTickLength);
    }
    for (double t : L.yticks) {
      const double y = p.snap(T.Y(t));
      cairo_move_to(cr, left, y), cairo_line_to(cr, left - kTickLength, y);
    }
    for (double t : L.yminor) {
      const double y = p.snap(T.Y(t));
      cairo_move_to(cr, left, y), cairo_line_to(cr, left - kTickLength * 0.6, y);
    }
    cairo_stroke(cr);
    p.gray(0.15);
    for (std::size_t i = 0; i < L.xticks.size(); ++i) {
      p.text(L.xlabels[i], T.X(L.xticks[i]), bottom + kTickLength + 3, kTickFont, 0.5, VAlign::Top);
    }
    double ywidth = 0;
    for (std::size_t i = 0; i < L.yticks.size(); ++i) {
      p.text(L.ylabels[i], left - kTickLength - 4, T.Y(L.yticks[i]), kTickFont, 1, VAlign::Middle);
      ywidth = std::max(ywidth, p.text_width(L.ylabels[i], kTickFont));
    }
    p.gray(0.1);
    if (!a.xlabel.empty()) {
      p.text(p.fit(a.xlabel, kLabelFont, P.width + 40), P.x + P.width / 2, bottom + kTickLength + 3 + tick_h + 4, kLabelFont, 0.5, VAlign::Top);
    }
    if (!a.ylabel.empty()) {
      const double x = left - kTickLength - 4 - ywidth - 6 - label_h;
      p.text(p.fit(a.ylabel, kLabelFont, P.height + 20), x, P.y + P.height / 2, kLabelFont, 0.5, VAlign::Top, -std::numbers::pi / 2);
    }
  }
  if (!a.title.empty()) {
    p.gray(0.05);
    // Centred over the plot area, shifted to stay inside the panel's cell when it is wider.
    const std::string title = p.fit(a.title, kTitleFont, L.cell.width - 8);
    const double half = p.text_width(title, kTitleFont) / 2;
    double centre = P.x + P.width / 2;
    centre = std::max(centre, L.cell.x + 4 + half);
    centre = std::min(centre, L.cell.x + L.cell.width - 4 - half);
    p.text(title, centre, P.y - 8, kTitleFont, 0.5, VAlign::Bottom);
  }
  if (L.bar) draw_colorbar(p, L);
  if (a.legend) draw_legend(p, a, L, legend_entries(a));
}

void draw_figure(const Painter& p, const Figure::Data& f, const std::vector<Layout>& layouts) {
  cairo_set_source_rgb(p.cr, 1, 1, 1);
  cairo_paint(p.cr);
  if (!f.title.empty()) {
    p.gray(0.05);
    p.text(p.fit(f.title, kFigureTitleFont, f.width - 16, true), f.width / 2, 6, kFigureTitleFont, 0.5, VAlign::Top, 0, true);
  }
  for (std::size_t k = 0; k < layouts.size(); ++k) draw_panel(p, *f.panels[k], layouts[k]);
}

// Layout is measured on a scratch surface so that plot_area() and every format agree.
// device_scale (PNG pixels per unit) only rounds image tiles to whole pixels.
std::vector<Layout> measure_layout(const Figure::Data& f, double device_scale) {
  SurfacePtr scratch = make_image(1, 1);
  std::unique_ptr<cairo_t, decltype(&cairo_destroy)> cr(cairo_create(scratch.get()), &cairo_destroy);
  return layout_figure(Painter{cr.get(), device_scale}, f);
}

struct Sink {
  AtomicFile* file;
  std::string error;
};

cairo_status_t write_to_sink(void* closure, const unsigned char* data, unsigned int length) {
  auto* sink = static_cast<Sink*>(closure);
  try {  // exceptions must not cross Cairo's C frames
    sink->file->write(data, length);
    return CAIRO_STATUS_SUCCESS;
  } catch (const std::exception& e) {
    if (sink->error.empty()) sink->error = e.what();
    return CAIRO_STATUS_WRITE_ERROR;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Figure

Figure::Figure(Index rows, Index cols, double width, double height) : d_(std::make_unique<Data>()) {
  if (rows < 1 || cols < 1 || rows * cols > 400) {
    throw InvalidArgument("Figure: " + std::to_string(rows) + "x" + std::to_string(cols) + " panels; need 1..400 panels");
  }
  if (!(width >= 50 && width <= 16384 && height >= 50 && height <= 16384)) {
    throw InvalidArgument("Figure: size " + fmt(width) + "x" + fmt(height) + " must be within [50, 16384] each way");
  }
  d_->rows = rows, d_->cols = cols, d_->width = width, d_->height = height;
  for (Index k = 0; k < rows * cols; ++k) {
    d_->axes.push_back(std::unique_ptr<Axes>(new Axes()));
    d_->panels.push_back(d_->axes.back()->d_.get());
  }
}

Figure::~Figure() = default;
Figure::Figure(Figure&&) noexcept = default;
Figure& Figure::operator=(Figure&&) noexcept = default;

Index Figure::rows() const { return d_->rows; }
Index Figure::cols() const { return d_->cols; }

Axes& Figure::axes(Index r, Index c) {
  return const_cast<Axes&>(static_cast<const Figure&>(*this).axes(r, c));
}

const Axes& Figure::axes(Index r, Index c) const {
  if (r < 0 || r >= d_->rows || c < 0 || c >= d_->cols) {
    throw InvalidArgument("Figure::axes: panel (" + std::to_string(r) + ", " + std::to_string(c) + ") outside the " +
                          std::to_string(d_->rows) + "x" + std::to_string(d_->cols) + " grid");
  }
  return *d_->axes[static_cast<std::size_t>(r * d_->cols + c)];
}

Figure& Figure::set_title(std::string title) {
  d_->title = std::move(title);
  return *this;
}

Figure& Figure::set_png_scale(double scale) {
  if (!(scale >= 0.25 && scale <= 4) || d_->width * scale > 32767 || d_->height * scale > 32767) {
    throw InvalidArgument("Figure::set_png_scale: scale " + fmt(scale) + " must be in [0.25, 4] and keep the image below 32767 pixels a side");
  }
  d_->png_scale = scale;
  return *this;
}

Rect Figure::plot_area(Index r, Index c) const {
  axes(r, c);  // range check
  return measure_layout(*d_, d_->png_scale)[static_cast<std::size_t>(r * d_->cols + c)].plot;
}

void Figure::save(const std::string& path) const {
  const auto slash = path.find_last_of('/');
  const auto dot = path.find_last_of('.');
  std::string ext = dot == std::string::npos || (slash != std::string::npos && dot < slash) ? "" : path.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (ext != ".png" && ext != ".svg" && ext != ".pdf") {
    throw InvalidArgument("Figure::save: " + path + ": " + (ext.empty() ? std::string("no extension") : "unknown extension '" + ext + "'") +
                          " (expected .png, .svg or .pdf)");
  }
  const double s = ext == ".png" ? d_->png_scale : 1.0;
  const std::vector<Layout> layouts = measure_layout(*d_, s);  // throws on invalid content, before any file exists

  std::optional<AtomicFile> file;
  try {
    file.emplace(path);
  } catch (const IoError& e) {
    throw IoError(std::string("Figure::save: ") + e.what());
  }
  Sink sink{&*file, {}};
  SurfacePtr surface(nullptr, &cairo_surface_destroy);
  if (ext == ".png") {
    surface.reset(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, static_cast<int>(std::ceil(d_->width * s)),
                                             static_cast<int>(std::ceil(d_->height * s))));
  } else if (ext == ".svg") {
    surface.reset(cairo_svg_surface_create_for_stream(write_to_sink, &sink, d_->width, d_->height));
    cairo_svg_surface_set_document_unit(surface.get(), CAIRO_SVG_UNIT_PX);
  } else {
    surface.reset(cairo_pdf_surface_create_for_stream(write_to_sink, &sink, d_->width, d_->height));
  }
  {
    std::unique_ptr<cairo_t, decltype(&cairo_destroy)> cr(cairo_create(surface.get()), &cairo_destroy);
    cairo_scale(cr.get(), s, s);
    draw_figure(Painter{cr.get(), s}, *d_, layouts);
    if (cairo_status(cr.get()) != CAIRO_STATUS_SUCCESS) {
      throw IoError("Figure::save: " + path + ": drawing failed: " + cairo_status_to_string(cairo_status(cr.get())));
    }
  }
  cairo_status_t status;
  if (ext == ".png") {
    status = cairo_surface_write_to_png_stream(surface.get(), write_to_sink, &sink);
  } else {
    cairo_surface_finish(surface.get());
    status = cairo_surface_status(surface.get());
  }
  if (status != CAIRO_STATUS_SUCCESS || !sink.error.empty()) {
    throw IoError("Figure::save: " + (sink.error.empty() ? path + ": " + cairo_status_to_string(status) : sink.error));
  }
  surface.reset();
  try {
    file->commit();
  } catch (const IoError& e) {
    throw IoError(std::string("Figure::save: ") + e.what());
  }
}

}  // namespace ebm::plot
