// Figures written to files and read back: PNG size and content (a horizontal gradient heatmap
// shows viridis in order, row 0 at the bottom, masked cells transparent, image tiles where
// laid out), SVG and PDF headers, byte-identical PNGs from identical figures, and the errors
// (bad extension, missing directory, non-finite data, log axes with non-positive values),
// none of which leaves a file behind. A full example figure (all item kinds) is rendered too;
// set EBM_PLOT_EXAMPLE=/path/to/file.png to keep a copy to look at.
#include "support/test_support.hpp"
#include <ebm/core/error.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/plot/figure.hpp>

#include <cairo.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numbers>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace plot = ebm::plot;
using ebm::Index;
using ebm::MatD;

fs::path scratch(const std::string& name) { return ebm_test::process_temp_dir().path() / name; }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool temp_files_in(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().find(".tmp-") != std::string::npos) return true;
  }
  return false;
}

struct Rgb {
  double r, g, b;
};

// A PNG read back with Cairo.
class Png {
 public:
  explicit Png(const fs::path& p) : s_(cairo_image_surface_create_from_png(p.c_str())) {}
  ~Png() { cairo_surface_destroy(s_); }
  Png(const Png&) = delete;
  Png& operator=(const Png&) = delete;
  bool ok() const { return cairo_surface_status(s_) == CAIRO_STATUS_SUCCESS; }
  int width() const { return cairo_image_surface_get_width(s_); }
  int height() const { return cairo_image_surface_get_height(s_); }
  Rgb at(double x, double y) const {
    const int ix = static_cast<int>(x), iy = static_cast<int>(y);
    const unsigned char* row = cairo_image_surface_get_data(s_) + static_cast<std::ptrdiff_t>(iy) * cairo_image_surface_get_stride(s_);
    const std::uint32_t px = reinterpret_cast<const std::uint32_t*>(row)[ix];
    return {((px >> 16) & 0xFF) / 255.0, ((px >> 8) & 0xFF) / 255.0, (px & 0xFF) / 255.0};  // opaque: no un-premultiplying
  }

 private:
  cairo_surface_t* s_;
};

bool is_white(const Rgb& c) { return c.r > 0.99 && c.g > 0.99 && c.b > 0.99; }

double distance(const Rgb& c, const plot::Color& d) {
  return std::max({std::abs(c.r - d.r), std::abs(c.g - d.g), std::abs(c.b - d.b)});
}

// The t whose viridis colour is closest to c.
double viridis_position(const Rgb& c) {
  double best = 0, best_d = 1e9;
  for (int k = 0; k <= 1000; ++k) {
    const double d = distance(c, plot::colormap(plot::Colormap::Viridis, k / 1000.0));
    if (d < best_d) best_d = d, best = k / 1000.0;
  }
  return best;
}

MatD cloud(Index n, std::uint64_t seed) {
  MatD x(n, 2);
  for (Index i = 0; i < n; ++i) {
    double z[2];
    ebm::CounterRng(seed, static_cast<std::uint64_t>(i)).normal<double>(0, std::span<double>(z, 2));
    x(i, 0) = z[0], x(i, 1) = 0.5 * z[1] + 0.3 * z[0];
  }
  return x;
}

TEST(Figure, PngHasTheSizeAndDrawsInsideThePlotArea) {
  plot::Figure fig(1, 1, 400, 300);
  fig.axes(0, 0).scatter(cloud(200, 1), {.label = "points"}).set_title("cloud").set_xlabel("x").set_ylabel("y").legend();
  const fs::path p = scratch("scatter.png");
  fig.save(p.string());
  const Png png(p);
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png.width(), 400);
  EXPECT_EQ(png.height(), 300);
  const plot::Rect a = fig.plot_area(0, 0);
  EXPECT_GT(a.x, 20);  // room for tick labels and the y label
  EXPECT_LT(a.x + a.width, 400);
  EXPECT_GT(a.y, 16);  // room for the title
  EXPECT_LT(a.y + a.height, 300 - 30);
  int coloured = 0, total = 0;
  for (double y = a.y + 2; y < a.y + a.height - 2; y += 2) {
    for (double x = a.x + 2; x < a.x + a.width - 2; x += 2) {
      const Rgb c = png.at(x, y);
      coloured += std::abs(c.r - c.g) > 0.1 || std::abs(c.g - c.b) > 0.1;  // palette blue, not gray
      ++total;
    }
  }
  std::printf("[ measured ] coloured fraction of the scatter plot area: %.3f\n", static_cast<double>(coloured) / total);
  EXPECT_GT(coloured, total / 50);
  // Outside the plot area, left of the tick labels: background.
  EXPECT_TRUE(is_white(png.at(2, a.y + a.height / 2)));

  fig.set_png_scale(2);
  fig.save(p.string());
  const Png png2(p);
  EXPECT_EQ(png2.width(), 800);
  EXPECT_EQ(png2.height(), 600);
}

TEST(Figure, HeatmapShowsViridisInOrderWithRowZeroAtTheBottom) {
  // Horizontal gradient values(i, j) = j, except the top row, which is the maximum.
  const Index ny = 20, nx = 50;
  MatD v(ny, nx);
  for (Index i = 0; i < ny; ++i) {
    for (Index j = 0; j < nx; ++j) v(i, j) = static_cast<double>(j);
  }
  v.row(ny - 1).setConstant(nx - 1);
  v(0, 0) = std::numeric_limits<double>::quiet_NaN();  // bottom-left corner masked
  plot::Figure fig(1, 1, 600, 400);
  plot::HeatmapOptions o;
  o.colorbar = false;
  fig.axes(0, 0).heatmap(v, {0, 1, 0, 1}, o);
  const fs::path p = scratch("gradient.png");
  fig.save(p.string());
  const Png png(p);
  ASSERT_TRUE(png.ok());
  const plot::Rect a = fig.plot_area(0, 0);
  // Limits are the extent, so x fraction f in the plot area is data x = f. Each flat cell has
  // the value of its nearest grid point: t is within half a cell (1 / 98) of f.
  double last = -1, worst = 0;
  for (int k = 1; k <= 9; ++k) {
    const double f = k / 10.0;
    const double t = viridis_position(png.at(a.x + f * a.width, a.y + a.height / 2));
    worst = std::max(worst, std::abs(t - f));
    EXPECT_GT(t, last) << f;
    last = t;
  }
  std::printf("[ measured ] heatmap: largest |viridis position - x| at 9 pixels: %.4f\n", worst);
  EXPECT_LT(worst, 0.5 / 49 + 0.01);  // half a cell plus 8-bit rounding of the colours
  // Top row (largest y) is the maximum everywhere: yellow at the top-left.
  EXPECT_GT(viridis_position(png.at(a.x + 3, a.y + 2)), 0.98);
  // The masked grid point covers the cell corner at (0, 0): background shows through.
  EXPECT_TRUE(is_white(png.at(a.x + 2, a.y + a.height - 2)));
}

TEST(Figure, ImageGridTilesLandWhereLaidOut) {
  // Two 4x4 tiles side by side: black, then white with a black top-left pixel.
  MatD img = MatD::Zero(2, 16);
  img.row(1).setOnes();
  img(1, 0) = 0;
  plot::Figure fig(1, 1, 300, 200);
  fig.axes(0, 0).image_grid(img, 4, 4, 2);
  const fs::path p = scratch("tiles.png");
  fig.save(p.string());
  const Png png(p);
  // plot_area is the tiles' rectangle: 9x4 image pixels (one-pixel gap), each a whole number
  // of PNG pixels, centred in the panel.
  const plot::Rect a = fig.plot_area(0, 0);
  const double s = a.width / 9;
  EXPECT_EQ(s, std::floor(s));
  EXPECT_GE(s, 2);
  EXPECT_EQ(a.height, 4 * s);
  EXPECT_NEAR(a.x + a.width / 2, 150, 1);
  auto pixel = [&](double ix, double iy) { return png.at(a.x + (ix + 0.5) * s, a.y + (iy + 0.5) * s); };
  EXPECT_LT(pixel(1, 2).r, 0.01);    // black tile
  EXPECT_GT(pixel(4, 2).r, 0.99);    // gap
  EXPECT_LT(pixel(5, 0).r, 0.01);    // white tile's black top-left pixel (row 0 at the top)
  EXPECT_GT(pixel(7, 3).r, 0.99);    // white tile
}

TEST(Figure, NormalizedQuiverColoursByMagnitude) {
  // Two arrows along x from (0, 0) and (1, 0), magnitudes 0.1 and 10: both drawn 0.9 long
  // (0.9 x the spacing of 1), the weak one viridis(0), the strong one viridis(1).
  MatD pts(2, 2), vec(2, 2);
  pts << 0, 0, 1, 0;
  vec << 0.1, 0, 10, 0;
  plot::Figure fig(1, 1, 400, 200);
  fig.axes(0, 0).quiver(pts, vec, {.normalize = true, .width = 4}).set_grid(false);
  const fs::path p = scratch("quiver.png");
  fig.save(p.string());
  const Png png(p);
  const plot::Rect a = fig.plot_area(0, 0);
  // x limits: bases and tips span [0, 1.9], plus 5 %; y: the single value 0 widened to [-1, 1].
  const double lo = -0.095, hi = 1.995;
  auto X = [&](double x) { return a.x + (x - lo) / (hi - lo) * a.width; };
  const double y = a.y + a.height / 2;
  EXPECT_LT(distance(png.at(X(0.3), y), plot::colormap(plot::Colormap::Viridis, 0)), 0.05);
  EXPECT_LT(distance(png.at(X(1.3), y), plot::colormap(plot::Colormap::Viridis, 1)), 0.05);
  EXPECT_TRUE(is_white(png.at(X(0.95), y)));  // between the first tip (0.9) and the second base
  EXPECT_FALSE(is_white(png.at(X(0.75), y)));
}

TEST(Figure, SvgAndPdfHeaders) {
  plot::Figure fig(1, 2, 500, 250);
  const std::vector<double> ys = {3, 1, 0.5, 0.2};
  fig.axes(0, 0).line(ys, {.label = "loss"}).legend();
  fig.axes(0, 1).scatter(cloud(20, 2));
  const fs::path svg = scratch("f.svg"), pdf = scratch("f.PDF");
  fig.save(svg.string());
  fig.save(pdf.string());
  const std::string s = slurp(svg), d = slurp(pdf);
  EXPECT_EQ(s.rfind("<?xml", 0), 0u);
  EXPECT_NE(s.find("<svg"), std::string::npos);
  EXPECT_NE(s.find("width=\"500"), std::string::npos);
  EXPECT_EQ(d.rfind("%PDF", 0), 0u);
  EXPECT_NE(d.find("%%EOF"), std::string::npos);
}

TEST(Figure, SameFigureGivesTheSameBytes) {
  auto make = [] {
    plot::Figure fig(1, 2, 500, 260);
    MatD v(30, 30);
    for (Index i = 0; i < 30; ++i) {
      for (Index j = 0; j < 30; ++j) v(i, j) = std::sin(0.2 * static_cast<double>(i)) * std::cos(0.3 * static_cast<double>(j));
    }
    fig.axes(0, 0).heatmap(v, {-1, 1, -1, 1}, plot::Colormap::CoolWarm, "f").contours(v, {-1, 1, -1, 1}, 5);
    fig.axes(0, 1).scatter(cloud(300, 3), {.alpha = 0.4}).set_title("samples");
    return fig;
  };
  const fs::path a = scratch("same-a.png"), b = scratch("same-b.png");
  make().save(a.string());
  const plot::Figure again = make();
  again.save(b.string());
  const std::string first = slurp(a), second = slurp(b);
  EXPECT_GT(first.size(), 1000u);
  EXPECT_EQ(first, second);
  again.save(b.string());
  EXPECT_EQ(slurp(b), first);
}

TEST(Figure, ErrorsNameTheProblemAndLeaveNoFile) {
  plot::Figure fig(1, 1, 300, 200);
  fig.axes(0, 0).line(std::vector<double>{1, 2, 3});
  try {
    fig.save(scratch("out.jpg").string());
    FAIL() << "no throw";
  } catch (const ebm::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'.jpg'"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(scratch("out.jpg")));
  EXPECT_THROW(fig.save(scratch("noextension").string()), ebm::InvalidArgument);
  EXPECT_THROW(fig.save(scratch("dir.png/x").string()), ebm::InvalidArgument);

  const fs::path missing = scratch("no-such-dir") / "out.png";
  try {
    fig.save(missing.string());
    FAIL() << "no throw";
  } catch (const ebm::IoError& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(missing.parent_path()));

  // Content errors are found before the file is opened: an existing target is untouched.
  const fs::path keep = scratch("keep.png");
  { std::ofstream(keep) << "old"; }
  plot::Figure logfig(1, 1, 300, 200);
  logfig.axes(0, 0).line(std::vector<double>{1, -2, 3}).set_yscale_log();
  try {
    logfig.save(keep.string());
    FAIL() << "no throw";
  } catch (const ebm::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("log-scale"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("-2"), std::string::npos) << e.what();
  }
  EXPECT_EQ(slurp(keep), "old");
  EXPECT_FALSE(temp_files_in(keep.parent_path()));

  plot::Figure logheat(1, 1, 300, 200);
  logheat.axes(0, 0).heatmap(MatD::Ones(3, 3), {1, 2, 1, 2}).set_yscale_log();
  EXPECT_THROW(logheat.save(keep.string()), ebm::InvalidArgument);
  EXPECT_EQ(slurp(keep), "old");

  EXPECT_THROW(fig.axes(1, 0), ebm::InvalidArgument);
  EXPECT_THROW(plot::Figure(0, 1, 300, 200), ebm::InvalidArgument);
  EXPECT_THROW(plot::Figure(1, 1, 10, 200), ebm::InvalidArgument);
  EXPECT_THROW(fig.set_png_scale(0), ebm::InvalidArgument);
  // A figure too small for its margins says so instead of drawing garbage.
  plot::Figure tiny(4, 4, 100, 100);
  tiny.axes(0, 0).set_title("t").set_xlabel("x").set_ylabel("y");
  EXPECT_THROW(tiny.save(scratch("tiny.png").string()), ebm::InvalidArgument);
}

TEST(Figure, NonFiniteDataIsRejectedWhereItIsGiven) {
  plot::Figure fig(1, 1, 300, 200);
  auto& ax = fig.axes(0, 0);
  MatD pts = cloud(5, 4);
  pts(3, 1) = std::numeric_limits<double>::quiet_NaN();
  try {
    ax.scatter(pts);
    FAIL() << "no throw";
  } catch (const ebm::NumericalError& e) {
    EXPECT_NE(std::string(e.what()).find("row 3, column 1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Axes::scatter"), std::string::npos) << e.what();
  }
  const std::vector<double> xs = {0, 1, 2}, ys = {0, INFINITY, 1};
  EXPECT_THROW(ax.line(xs, ys), ebm::NumericalError);
  EXPECT_THROW(ax.path(pts), ebm::NumericalError);
  EXPECT_THROW(ax.quiver(cloud(5, 4), pts), ebm::NumericalError);
  EXPECT_THROW(ax.heatmap(MatD::Constant(3, 3, NAN), {0, 1, 0, 1}), ebm::NumericalError);
  EXPECT_THROW(ax.image_grid(MatD::Constant(1, 4, NAN), 2, 2, 1), ebm::NumericalError);
  // Shapes and styles.
  EXPECT_THROW(ax.scatter(MatD::Zero(4, 3)), ebm::InvalidArgument);
  EXPECT_THROW(ax.line(xs, std::vector<double>{1, 2}), ebm::InvalidArgument);
  EXPECT_THROW(ax.scatter(cloud(4, 1), {.alpha = 2}), ebm::InvalidArgument);
  EXPECT_THROW(ax.scatter(cloud(4, 1), {.color = plot::Color{1.5, 0, 0, 1}}), ebm::InvalidArgument);
  EXPECT_THROW(ax.image_grid(MatD::Zero(2, 5), 2, 2, 1), ebm::InvalidArgument);
  EXPECT_THROW(ax.set_xlim(1, 1), ebm::InvalidArgument);
  EXPECT_THROW(ax.heatmap(MatD::Zero(3, 3), {0, 1, 0, 1}, plot::HeatmapOptions{.vmin = 2, .vmax = 1}), ebm::InvalidArgument);
}

// A 2-D mixture of three Gaussians: log density and score on a grid, samples.
struct Mixture {
  double mx[3] = {-1.6, 1.4, 0.3}, my[3] = {-0.8, -1.0, 1.6}, s[3] = {0.6, 0.8, 0.5}, w[3] = {0.35, 0.4, 0.25};
  double logp(double x, double y, double* gx = nullptr, double* gy = nullptr) const {
    double p = 0, px = 0, py = 0;
    for (int k = 0; k < 3; ++k) {
      const double dx = x - mx[k], dy = y - my[k];
      const double q = w[k] / (2 * std::numbers::pi * s[k] * s[k]) * std::exp(-(dx * dx + dy * dy) / (2 * s[k] * s[k]));
      p += q, px -= q * dx / (s[k] * s[k]), py -= q * dy / (s[k] * s[k]);
    }
    if (gx) *gx = px / p, *gy = py / p;
    return std::log(p);
  }
};

plot::Figure example_figure() {
  const Mixture m;
  const plot::Extent ext{-4, 4, -3.5, 3.5};
  const Index n = 121;
  MatD logp(n, n);
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < n; ++j) {
      const double x = ext.x0 + (ext.x1 - ext.x0) * static_cast<double>(j) / static_cast<double>(n - 1);
      const double y = ext.y0 + (ext.y1 - ext.y0) * static_cast<double>(i) / static_cast<double>(n - 1);
      logp(i, j) = std::max(m.logp(x, y), -12.0);
    }
  }
  const Index g = 17;
  MatD pts(g * g, 2), score(g * g, 2);
  for (Index i = 0; i < g; ++i) {
    for (Index j = 0; j < g; ++j) {
      const double x = -3.75 + 7.5 * static_cast<double>(j) / static_cast<double>(g - 1);
      const double y = -3.25 + 6.5 * static_cast<double>(i) / static_cast<double>(g - 1);
      pts(i * g + j, 0) = x, pts(i * g + j, 1) = y;
      m.logp(x, y, &score(i * g + j, 0), &score(i * g + j, 1));
    }
  }
  // Samples: pick a component by a uniform draw, then a normal draw.
  const Index ns = 600;
  MatD samples(ns, 2);
  for (Index i = 0; i < ns; ++i) {
    double u[1], z[2];
    ebm::CounterRng rng(7, static_cast<std::uint64_t>(i));
    rng.uniform<double>(0, std::span<double>(u, 1));
    rng.normal<double>(1, std::span<double>(z, 2));
    const int k = u[0] < m.w[0] ? 0 : (u[0] < m.w[0] + m.w[1] ? 1 : 2);
    samples(i, 0) = m.mx[k] + m.s[k] * z[0], samples(i, 1) = m.my[k] + m.s[k] * z[1];
  }
  // A Langevin chain from (3, 3): x <- x + h s(x) + sqrt(2h) z.
  const Index steps = 60;
  MatD chain(steps, 2);
  double x = 3.2, y = 3.0;
  for (Index t = 0; t < steps; ++t) {
    chain(t, 0) = x, chain(t, 1) = y;
    double gx, gy, z[2];
    m.logp(x, y, &gx, &gy);
    ebm::CounterRng(8, 0).normal<double>(static_cast<std::uint64_t>(t), std::span<double>(z, 2));
    const double h = 0.02;
    x += h * gx + std::sqrt(2 * h) * z[0], y += h * gy + std::sqrt(2 * h) * z[1];
  }
  // Training-like curves for the log axis.
  std::vector<double> steps_x, loss_a, loss_b;
  for (int t = 0; t <= 200; ++t) {
    steps_x.push_back(10.0 * t);
    loss_a.push_back(5 * std::exp(-t / 25.0) + 0.02 + 0.01 * std::sin(t * 0.7));
    loss_b.push_back(3 * std::exp(-t / 60.0) + 0.08);
  }
  // Tiles: Gaussian blobs of varying position and width.
  const Index tiles = 24, side = 16;
  MatD images(tiles, side * side);
  for (Index k = 0; k < tiles; ++k) {
    const double cx = 4 + static_cast<double>(k % 6) * 1.5, cy = 4 + static_cast<double>(k / 6) * 2.2, r = 1.5 + 0.15 * static_cast<double>(k);
    for (Index i = 0; i < side; ++i) {
      for (Index j = 0; j < side; ++j) {
        const double d2 = (static_cast<double>(j) - cx) * (static_cast<double>(j) - cx) + (static_cast<double>(i) - cy) * (static_cast<double>(i) - cy);
        images(k, i * side + j) = std::exp(-d2 / (2 * r * r));
      }
    }
  }
  // A signed difference for the diverging map.
  MatD diff(n, n);
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < n; ++j) {
      const double xx = ext.x0 + (ext.x1 - ext.x0) * static_cast<double>(j) / static_cast<double>(n - 1);
      const double yy = ext.y0 + (ext.y1 - ext.y0) * static_cast<double>(i) / static_cast<double>(n - 1);
      diff(i, j) = 0.8 * std::sin(xx) * std::exp(-0.1 * yy * yy) - 0.3 * std::cos(yy);
    }
  }

  plot::Figure fig(2, 3, 1500, 1000);
  fig.set_title("ebm::plot example: a three-component Gaussian mixture");
  auto& a = fig.axes(0, 0);
  a.heatmap(logp, ext, plot::Colormap::Viridis, "log p(x)")
      .contours(logp, ext, 8, {.color = plot::Color{1, 1, 1, 0.8}, .width = 1})
      .set_title("log density")
      .set_xlabel("x\u2081")
      .set_ylabel("x\u2082")
      .set_equal_aspect();
  auto& b = fig.axes(0, 1);
  b.contours(logp, ext, 8, {.color = plot::Color{0.6, 0.6, 0.6, 1}, .width = 1})
      .quiver(pts, score, {.label = "score"})
      .set_title("score \u2207 log p(x)")
      .set_xlabel("x\u2081")
      .set_equal_aspect()
      .legend();
  auto& c = fig.axes(0, 2);
  c.scatter(samples, {.size = 4, .alpha = 0.35, .label = "samples"})
      .path(chain, {.width = 1.5, .label = "Langevin chain"})
      .scatter(chain.topRows(1), {.color = plot::colors::black, .size = 8, .label = "start"})
      .set_title("samples and a chain")
      .set_xlabel("x\u2081")
      .set_equal_aspect()
      .legend();
  auto& d = fig.axes(1, 0);
  d.line(steps_x, loss_a, {.label = "score matching"})
      .line(steps_x, loss_b, {.label = "contrastive divergence", .dash = plot::Dash::Dashed})
      .set_yscale_log()
      .set_title("loss (log scale)")
      .set_xlabel("step")
      .set_ylabel("loss")
      .legend();
  fig.axes(1, 1).image_grid(images, side, side, 6).set_title("image tiles");
  fig.axes(1, 2)
      .heatmap(diff, ext, plot::HeatmapOptions{.colormap = plot::Colormap::CoolWarm, .vmin = -1.2, .vmax = 1.2, .colorbar_label = "difference"})
      .contours(diff, ext, std::vector<double>{0.0}, {.color = plot::colors::black, .width = 1.2, .label = "zero", .dash = plot::Dash::Dashed})
      .set_title("diverging map")
      .set_xlabel("x\u2081")
      .set_equal_aspect()
      .legend();
  return fig;
}

TEST(Figure, ExampleWithEveryItemKind) {
  const plot::Figure fig = example_figure();
  const fs::path p = scratch("example.png");
  fig.save(p.string());
  const Png png(p);
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png.width(), 1500);
  // Equal aspect: the log-density panel's plot area has the extent's 8 : 7 shape.
  const plot::Rect r = fig.plot_area(0, 0);
  EXPECT_NEAR(r.width / r.height, 8.0 / 7.0, 1e-9);
  fig.save(scratch("example.svg").string());
  fig.save(scratch("example.pdf").string());
  if (const char* keep = std::getenv("EBM_PLOT_EXAMPLE")) fig.save(keep);
}

}  // namespace
