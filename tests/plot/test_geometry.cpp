// The plot layer's geometry, without drawing: nice ticks and their labels (linear and log),
// marching-squares contours (radius error on a paraboloid, enclosed area, saddle cells decided
// by the bilinear interpolant, masked cells) and the colour tables against published values.
#include <ebm/core/error.hpp>
#include <ebm/plot/color.hpp>
#include <ebm/plot/contour.hpp>
#include <ebm/plot/ticks.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace {

using ebm_test::measured;

namespace plot = ebm::plot;
using ebm::Index;
using ebm::MatD;

// The step between ticks is 1, 2, 2.5 or 5 times a power of ten, and every tick is a multiple of it.
void expect_nice(const std::vector<double>& t, double lo, double hi) {
  ASSERT_GE(t.size(), 2u);
  const double step = t[1] - t[0];
  const double mant = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
  EXPECT_TRUE(std::abs(mant - 1) < 1e-9 || std::abs(mant - 2) < 1e-9 || std::abs(mant - 2.5) < 1e-9 ||
              std::abs(mant - 5) < 1e-9)
      << step;
  for (std::size_t i = 0; i < t.size(); ++i) {
    EXPECT_GE(t[i], lo - 1e-9 * step);
    EXPECT_LE(t[i], hi + 1e-9 * step);
    EXPECT_NEAR(t[i] / step, std::round(t[i] / step), 1e-9);
    if (i > 0) {
      EXPECT_NEAR(t[i] - t[i - 1], step, 1e-9 * step);
    }
  }
}

TEST(NiceTicks, UnitInterval) {
  const auto t = plot::nice_ticks(0, 1);
  const std::vector<double> want = {0, 0.2, 0.4, 0.6, 0.8, 1.0};
  EXPECT_EQ(t, want);  // exactly the doubles nearest the decimals (no 3 * 0.2 = 0.6000000000000001)
  EXPECT_EQ(plot::format_linear_ticks(t), (std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}));
}

TEST(NiceTicks, AsymmetricRange) {
  const auto t = plot::nice_ticks(-3.7, 12.2);
  EXPECT_EQ(t, (std::vector<double>{-2, 0, 2, 4, 6, 8, 10, 12}));
  const auto labels = plot::format_linear_ticks(t);
  EXPECT_EQ(labels.front(), "\u22122");
  EXPECT_EQ(labels[1], "0");
  EXPECT_EQ(labels.back(), "12");
}

TEST(NiceTicks, CountStaysBetweenFourAndEightOverManyRanges) {
  // Ranges of every magnitude and offset: lo = a 10^e, hi = lo + w 10^e.
  int fewest = 100, most = 0, cases = 0;
  for (int e = -6; e <= 6; e += 3) {
    for (double a = -7.3; a <= 7.3; a += 1.37) {
      for (double w = 0.31; w <= 30; w *= 1.23) {
        const double lo = a * std::pow(10.0, e), hi = lo + w * std::pow(10.0, e);
        const auto t = plot::nice_ticks(lo, hi, 8);
        expect_nice(t, lo, hi);
        fewest = std::min(fewest, static_cast<int>(t.size()));
        most = std::max(most, static_cast<int>(t.size()));
        ++cases;
      }
    }
  }
  measured("nice_ticks: fewest ticks over " + std::to_string(cases) + " ranges", fewest);
  EXPECT_GE(fewest, 4);
  EXPECT_LE(most, 8);
}

TEST(NiceTicks, TwoAndAHalfWhereFiveLeavesTooFew) {
  // Step 2 gives 9 ticks (2, 4, ..., 18), step 5 only 3 (5, 10, 15).
  const auto t = plot::nice_ticks(1.9, 18.1);
  EXPECT_EQ(t, (std::vector<double>{2.5, 5, 7.5, 10, 12.5, 15, 17.5}));
  EXPECT_EQ(plot::format_linear_ticks(t), (std::vector<std::string>{"2.5", "5.0", "7.5", "10.0", "12.5", "15.0", "17.5"}));
}

TEST(NiceTicks, MaxTicksIsRespected) {
  for (int m = 2; m <= 10; ++m) EXPECT_LE(static_cast<int>(plot::nice_ticks(-1.3, 7.9, m).size()), m) << m;
}

TEST(NiceTicks, DegenerateRangeIsWidened) {
  const auto t = plot::nice_ticks(3, 3);
  EXPECT_GE(t.size(), 4u);
  EXPECT_NE(std::find(t.begin(), t.end(), 3.0), t.end());
  const auto z = plot::nice_ticks(0, 0);
  EXPECT_EQ(z, (std::vector<double>{-1, -0.5, 0, 0.5, 1}));
  const auto big = plot::nice_ticks(1e9, 1e9);
  EXPECT_GE(big.size(), 4u);
  expect_nice(big, 0.9e9, 1.1e9);
}

TEST(NiceTicks, CompactLabels) {
  EXPECT_EQ(plot::format_linear_ticks(plot::nice_ticks(0, 1e6)),
            (std::vector<std::string>{"0", "2e5", "4e5", "6e5", "8e5", "1e6"}));
  EXPECT_EQ(plot::format_linear_ticks({1e6, 1.5e6, 2e6}), (std::vector<std::string>{"1e6", "1.5e6", "2e6"}));
  EXPECT_EQ(plot::format_linear_ticks(plot::nice_ticks(0, 3e-5)),
            (std::vector<std::string>{"0", "5e\u22126", "1e\u22125", "1.5e\u22125", "2e\u22125", "2.5e\u22125", "3e\u22125"}));
  EXPECT_EQ(plot::format_linear_ticks(plot::nice_ticks(-0.003, 0.003)),
            (std::vector<std::string>{"\u22120.003", "\u22120.002", "\u22120.001", "0.000", "0.001", "0.002", "0.003"}));
  EXPECT_EQ(plot::format_linear_ticks({-10, 0, 10}), (std::vector<std::string>{"\u221210", "0", "10"}));
}

TEST(NiceTicks, BadArguments) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(plot::nice_ticks(nan, 1), ebm::InvalidArgument);
  EXPECT_THROW(plot::nice_ticks(0, INFINITY), ebm::InvalidArgument);
  EXPECT_THROW(plot::nice_ticks(2, 1), ebm::InvalidArgument);
  EXPECT_THROW(plot::nice_ticks(0, 1, 1), ebm::InvalidArgument);
  EXPECT_THROW(plot::log_ticks(0, 1), ebm::InvalidArgument);
  EXPECT_THROW(plot::log_ticks(-1, 1), ebm::InvalidArgument);
}

TEST(LogTicks, DecadesFromTenThousandthToThousand) {
  const auto t = plot::log_ticks(1e-4, 1e3);
  EXPECT_EQ(t.major, (std::vector<double>{1e-4, 1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3}));
  EXPECT_EQ(t.minor.size(), 7u * 8u);  // 2..9 in each of the 7 decades between
  EXPECT_EQ(plot::format_log_ticks(t.major),
            (std::vector<std::string>{"1e\u22124", "1e\u22123", "1e\u22122", "1e\u22121", "1", "1e1", "1e2", "1e3"}));
}

TEST(LogTicks, ManyDecadesAreThinned) {
  const auto t = plot::log_ticks(1e-10, 1e10, 8);
  EXPECT_EQ(t.major, (std::vector<double>{1e-9, 1e-6, 1e-3, 1, 1e3, 1e6, 1e9}));
  EXPECT_EQ(t.minor.size(), 21u - 7u);  // the skipped decades
}

TEST(LogTicks, NarrowRangesUseOneTwoFive) {
  const auto t = plot::log_ticks(2, 40);
  EXPECT_EQ(t.major, (std::vector<double>{2, 5, 10, 20}));
  EXPECT_EQ(plot::format_log_ticks(t.major), (std::vector<std::string>{"2", "5", "10", "20"}));
  // Within one decade without a 1-2-5 value inside: linear positions.
  const auto n = plot::log_ticks(3.1, 4.6);
  EXPECT_GE(n.major.size(), 2u);
  for (double v : n.major) {
    EXPECT_GE(v, 3.1);
    EXPECT_LE(v, 4.6);
  }
  EXPECT_EQ(plot::format_log_ticks({0.01, 0.1, 1, 10}), (std::vector<std::string>{"0.01", "0.1", "1", "10"}));
}

TEST(LogTicks, DegenerateRangeIsWidened) {
  const auto t = plot::log_ticks(5, 5);
  EXPECT_EQ(t.major, (std::vector<double>{1, 10}));
  EXPECT_FALSE(t.minor.empty());
}

// f = x^2 + y^2 on [-2, 2]^2; grid point (i, j) at (x_j, y_i).
MatD paraboloid(Index n, double half) {
  MatD v(n, n);
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < n; ++j) {
      const double x = -half + 2 * half * static_cast<double>(j) / static_cast<double>(n - 1);
      const double y = -half + 2 * half * static_cast<double>(i) / static_cast<double>(n - 1);
      v(i, j) = x * x + y * y;
    }
  }
  return v;
}

TEST(Contours, CircleOfAParaboloid) {
  const Index n = 101;
  const double half = 2, h = 2 * half / static_cast<double>(n - 1);
  const MatD v = paraboloid(n, half);
  for (double r : {0.5, 1.3, 1.9}) {
    const auto lines = plot::contour_lines(v, {-half, half, -half, half}, r * r);
    ASSERT_EQ(lines.size(), 1u) << r;
    const auto& c = lines[0];
    ASSERT_GT(c.size(), 10u);
    EXPECT_EQ(c.front().x, c.back().x);  // closed: the first point repeated
    EXPECT_EQ(c.front().y, c.back().y);
    double worst = 0, area = 0;
    for (std::size_t k = 0; k < c.size(); ++k) {
      worst = std::max(worst, std::abs(std::hypot(c[k].x, c[k].y) - r));
      if (k > 0) area += c[k - 1].x * c[k].y - c[k].x * c[k - 1].y;
    }
    area = std::abs(area) / 2;
    measured("contour radius error / grid spacing, r = " + std::to_string(r), worst / h);
    // Linear interpolation along an edge of f = x^2 + y^2 is off by at most h^2 f'' / (8 |f'|)
    // = h^2 / (8 r) (~1e-3 h here); the grid spacing is the brief's bound, h / 10 is ours.
    EXPECT_LT(worst, h / 10);
    // Linear interpolation of the convex f puts every vertex on or inside the circle, so the
    // polygon is inside: chords of length s <= sqrt(2) h miss a relative (s / r)^2 / 6 of the
    // area, at most h^2 / (3 r^2), and vertices up to h^2 / (8 r) inside the circle another
    // h^2 / (4 r^2): 3.7e-3 at r = 0.5.
    const double deficit = 1 - area / (std::numbers::pi * r * r);
    measured("contour enclosed-area deficit (relative), r = " + std::to_string(r), deficit);
    EXPECT_GT(deficit, 0);
    EXPECT_LT(deficit, 7 * h * h / (12 * r * r));
  }
}

TEST(Contours, SaddleFollowsTheBilinearInterpolant) {
  // One cell, corners counter-clockwise from bottom-left: c0 = 3, c1 = -1, c2 = 0.2, c3 = -1.
  // At level 0 both positive corners are above and both negative below: a saddle. The corner
  // average (0.3) would say "centre above" and cut off the negative corners, but the bilinear
  // interpolant's saddle value is (3 * 0.2 - 1) / (3 + 0.2 + 1 + 1) = -0.077: the negative
  // corners are connected through the cell and the positive ones are cut off.
  MatD v(2, 2);
  v << 3, -1,  // row 0 (y = 0): c0, c1
      -1, 0.2;  // row 1 (y = 1): c3, c2
  const auto lines = plot::contour_lines(v, {0, 1, 0, 1}, 0);
  ASSERT_EQ(lines.size(), 2u);
  bool around_c0 = false, around_c2 = false;
  for (const auto& l : lines) {
    ASSERT_EQ(l.size(), 2u);
    const bool on_left = l[0].x == 0 || l[1].x == 0, on_bottom = l[0].y == 0 || l[1].y == 0;
    const bool on_right = l[0].x == 1 || l[1].x == 1, on_top = l[0].y == 1 || l[1].y == 1;
    around_c0 |= on_left && on_bottom;
    around_c2 |= on_right && on_top;
  }
  EXPECT_TRUE(around_c0);
  EXPECT_TRUE(around_c2);
  // Above the saddle value the other way round: the positive corners join through the cell.
  const auto high = plot::contour_lines(v, {0, 1, 0, 1}, -0.5);
  ASSERT_EQ(high.size(), 2u);
  for (const auto& l : high) {
    const bool cuts_c1 = (l[0].y == 0 || l[1].y == 0) && (l[0].x == 1 || l[1].x == 1);
    const bool cuts_c3 = (l[0].y == 1 || l[1].y == 1) && (l[0].x == 0 || l[1].x == 0);
    EXPECT_TRUE(cuts_c1 || cuts_c3);
  }
}

TEST(Contours, HyperbolaBranchesNeverJoin) {
  // f = x y + 0.1 on a 6x6 grid symmetric about 0: the central cell is a saddle. {f = 0} is
  // the hyperbola x y = -0.1, one branch in the second quadrant and one in the fourth.
  const Index n = 6;
  MatD v(n, n);
  auto g = [&](Index k) { return -2.5 + static_cast<double>(k); };
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < n; ++j) v(i, j) = g(j) * g(i) + 0.1;
  }
  const auto lines = plot::contour_lines(v, {-2.5, 2.5, -2.5, 2.5}, 0);
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& l : lines) {
    const bool left = l.front().x < 0;
    for (const auto& p : l) {
      EXPECT_LT(p.x * p.y, 0);
      EXPECT_EQ(p.x < 0, left);
    }
  }
}

TEST(Contours, NonFiniteCellsAreSkipped) {
  MatD v = paraboloid(41, 2);
  v(20, 30) = std::numeric_limits<double>::quiet_NaN();  // on the circle r = 1
  const auto lines = plot::contour_lines(v, {-2, 2, -2, 2}, 1.0);
  ASSERT_EQ(lines.size(), 1u);  // the circle, broken open around the masked point
  const auto& c = lines[0];
  EXPECT_FALSE(c.front().x == c.back().x && c.front().y == c.back().y);
  for (const auto& p : c) {
    EXPECT_TRUE(std::isfinite(p.x) && std::isfinite(p.y));
  }
}

TEST(Contours, LevelsAndErrors) {
  MatD v(2, 3);
  v << 0, 1, 2, 3, 4, std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(plot::contour_levels(v, 3), (std::vector<double>{1, 2, 3}));
  EXPECT_THROW(plot::contour_levels(v, 0), ebm::InvalidArgument);
  EXPECT_THROW(plot::contour_levels(MatD::Constant(2, 2, NAN), 2), ebm::NumericalError);
  EXPECT_THROW(plot::contour_lines(MatD::Zero(1, 5), {0, 1, 0, 1}, 0), ebm::InvalidArgument);
  EXPECT_THROW(plot::contour_lines(v, {0, 0, 0, 1}, 0), ebm::InvalidArgument);
  EXPECT_THROW(plot::contour_lines(v, {0, 1, 0, 1}, NAN), ebm::InvalidArgument);
}

double distance255(const plot::Color& c, int r, int g, int b) {
  return 255 * std::max({std::abs(c.r - r / 255.0), std::abs(c.g - g / 255.0), std::abs(c.b - b / 255.0)});
}

TEST(Colormaps, ViridisMatchesThePublishedTable) {
  // viridis at 0, 1/4, 1/2, 3/4, 1 as published (matplotlib's table; R's viridis(5)). Between
  // our anchors linear interpolation is within ~1.5/255 of the 256-entry table.
  const int want[5][3] = {{0x44, 0x01, 0x54}, {0x3B, 0x52, 0x8B}, {0x21, 0x90, 0x8C}, {0x5D, 0xC8, 0x63}, {0xFD, 0xE7, 0x25}};
  double worst = 0;
  for (int k = 0; k < 5; ++k) {
    worst = std::max(worst, distance255(plot::colormap(plot::Colormap::Viridis, k / 4.0), want[k][0], want[k][1], want[k][2]));
  }
  measured("viridis: largest difference at the quartiles (of 255)", worst);
  EXPECT_LE(worst, 2.0);
  // Perceptually ordered: luminance increases along the map.
  double last = -1;
  for (int k = 0; k <= 100; ++k) {
    const auto c = plot::colormap(plot::Colormap::Viridis, k / 100.0);
    const double y = 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b;
    EXPECT_GT(y, last) << k;
    last = y;
  }
  EXPECT_EQ(plot::colormap(plot::Colormap::Viridis, -3).r, plot::colormap(plot::Colormap::Viridis, 0).r);
  EXPECT_EQ(plot::colormap(plot::Colormap::Viridis, NAN).a, 0);
}

TEST(Colormaps, CoolWarmAndPalette) {
  EXPECT_LE(distance255(plot::colormap(plot::Colormap::CoolWarm, 0), 59, 76, 192), 1e-9);
  EXPECT_LE(distance255(plot::colormap(plot::Colormap::CoolWarm, 0.5), 221, 221, 221), 1e-9);
  EXPECT_LE(distance255(plot::colormap(plot::Colormap::CoolWarm, 1), 180, 4, 38), 1e-9);
  EXPECT_LE(distance255(plot::palette(0), 0, 114, 178), 1e-9);
  EXPECT_LE(distance255(plot::palette(7), 0, 114, 178), 1e-9);  // the cycle repeats
  EXPECT_EQ(plot::parse_colormap("coolwarm"), plot::Colormap::CoolWarm);
  EXPECT_THROW(plot::parse_colormap("jet"), ebm::InvalidArgument);
  EXPECT_THROW(plot::Color::rgb8(0, 256, 0), ebm::InvalidArgument);
}

}  // namespace
