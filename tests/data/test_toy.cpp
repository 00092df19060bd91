// The toy data sets: names, shapes, reproducibility (seed, prefix, thread count, float = rounded
// double), and their geometry against the definitions in data/toy.hpp:
//  - the mean vector and E|x|^2 against closed forms derived from the definitions (and checked
//    against a simulation of FFJORD's toy_data.py with 2e6 points), within 5 standard errors
//    estimated from the sample (a wrong scale, offset or noise level moves them by far more);
//  - set-specific structure: 8gaussians' eight clusters (counts and within-cluster sd), rings'
//    and circles' radii and shares, moons' two components, the checkerboard's dark cells.
// n = 20000 per set; the measured z-scores are printed.
#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/data/toy.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <string>

#include "data/util.hpp"

namespace {

using ebm::Index;
using ebm::MatD;
using ebm::ToyDataset;
constexpr double pi = std::numbers::pi;
constexpr Index kN = 20000;
constexpr double kZ = 5;  // standard errors allowed

const std::array<ToyDataset, 8> kAll = {ToyDataset::EightGaussians, ToyDataset::TwoMoons,  ToyDataset::SwissRoll,
                                        ToyDataset::Rings,          ToyDataset::Circles,   ToyDataset::Checkerboard,
                                        ToyDataset::Pinwheel,       ToyDataset::TwoSpirals};

std::string name(ToyDataset d) { return std::string(ebm::toy_dataset_name(d)); }

// Binomial count check: |count - n p| within kZ sd.
void expect_share(Index count, Index n, double p, const std::string& what) {
  const double sd = std::sqrt(static_cast<double>(n) * p * (1 - p));
  const double z = (static_cast<double>(count) - static_cast<double>(n) * p) / sd;
  EXPECT_LT(std::abs(z), kZ) << what << ": count " << count << " of " << n << ", expected share " << p;
}

// Sample mean of v within kZ standard errors of `expected`; returns the z-score.
double expect_mean(const Eigen::VectorXd& v, double expected, const std::string& what) {
  const double n = static_cast<double>(v.size());
  const double mean = v.mean();
  const double sd = std::sqrt((v.array() - mean).square().sum() / (n - 1));
  const double z = (mean - expected) / (sd / std::sqrt(n));
  EXPECT_LT(std::abs(z), kZ) << what << ": mean " << mean << ", expected " << expected << " (z = " << z << ")";
  return z;
}

TEST(Toy, NamesParseAndRoundTrip) {
  const auto names = ebm::toy_dataset_names();
  ASSERT_EQ(names.size(), 8u);
  EXPECT_EQ(names[0], "8gaussians");
  EXPECT_EQ(names[7], "2spirals");
  for (std::size_t k = 0; k < names.size(); ++k) {
    EXPECT_EQ(ebm::parse_toy_dataset(names[k]), static_cast<ToyDataset>(k));
    EXPECT_EQ(ebm::toy_dataset_name(static_cast<ToyDataset>(k)), names[k]);
  }
  EXPECT_EQ(ebm::parse_toy_dataset("SwissRoll"), ToyDataset::SwissRoll);
  EXPECT_ERROR(ebm::InvalidArgument, ebm::parse_toy_dataset("spiral"), "'spiral'", "8gaussians", "checkerboard",
               "2spirals");
  EXPECT_ERROR(ebm::InvalidArgument, ebm::make_toy<double>(ToyDataset::Rings, -1, 0), "make_toy", "-1");
  EXPECT_ERROR(ebm::InvalidArgument, ebm::make_toy<double>(static_cast<ToyDataset>(42), 3, 0), "make_toy", "42");
  EXPECT_EQ(ebm::make_toy<float>(ToyDataset::Rings, 0, 0).rows(), 0);
}

TEST(Toy, ReproducibleAndIndependentOfSizeAndThreads) {
  const int threads = ebm::num_threads();
  for (ToyDataset d : kAll) {
    SCOPED_TRACE(name(d));
    const MatD big = ebm::make_toy<double>(d, 10000, 7);  // several parallel chunks
    ASSERT_EQ(big.rows(), 10000);
    ASSERT_EQ(big.cols(), 2);
    EXPECT_TRUE(big.allFinite());
    EXPECT_EQ(ebm::make_toy<double>(d, 10000, 7), big);
    EXPECT_EQ(ebm::make_toy<double>(d, 100, 7), big.topRows(100));
    EXPECT_NE(ebm::make_toy<double>(d, 100, 8), big.topRows(100));
    ebm::set_num_threads(1);
    EXPECT_EQ(ebm::make_toy<double>(d, 10000, 7), big);
    ebm::set_num_threads(2);
    EXPECT_EQ(ebm::make_toy<double>(d, 10000, 7), big);
    ebm::set_num_threads(threads);
    EXPECT_EQ(ebm::make_toy<float>(d, 10000, 7), big.cast<float>());
  }
  // One seed, different sets: independent draws, not the same noise reshaped.
  const MatD a = ebm::make_toy<double>(ToyDataset::Rings, 1000, 1);
  const MatD b = ebm::make_toy<double>(ToyDataset::Circles, 1000, 1);
  const double corr = ((a.col(0).array() / 3) * (b.col(0).array() / 3)).mean();
  EXPECT_LT(std::abs(corr), 0.2);
}

struct Moments {
  ToyDataset set;
  double mean_x, mean_y, mean_r2;
};

// Closed forms from the definitions in toy.hpp (derivations in the comments).
const std::array<Moments, 8> kMoments = {{
    // ((16 + 2 * 0.25) / 1.414^2
    {ToyDataset::EightGaussians, 0, 0, 16.5 / (1.414 * 1.414)},
    // E x = 0, E y = 2 * 0.25 - 0.2; E x^2 = 3.04, E y^2 = 2.38 - 4 / pi
    {ToyDataset::TwoMoons, 0, 0.3, 3.04 + 2.38 - 4 / pi},
    // t uniform on [1.5 pi, 4.5 pi]: E t cos t = 2, E t sin t = 2 / (3 pi), E t^2 = 9.75 pi^2
    {ToyDataset::SwissRoll, 0.4, 2 / (3 * pi) / 5, (9.75 * pi * pi + 2) / 25},
    // 9 (1 + 9/16 + 1/4 + 1/16) / 4 + 2 * 0.08^2
    {ToyDataset::Rings, 0, 0, 9 * 1.875 / 4 + 2 * 0.0064},
    // 9 ((1 + 1/4) / 2 + 2 * 0.08^2)
    {ToyDataset::Circles, 0, 0, 9 * (0.625 + 0.0128)},
    // both coordinates 2 * uniform(-2, 2): 2 * 16 / 3
    {ToyDataset::Checkerboard, 0, 0, 32.0 / 3},
    // 4 (E f0^2 + E f1^2) = 4 (1 + 0.09 + 0.01); five arms average to 0
    {ToyDataset::Pinwheel, 0, 0, 4.4},
    // r = 3 pi sqrt(U): E r^2 = 4.5 pi^2, E r sin r = 2 - 8 / (9 pi^2), E r cos r = -4 / (3 pi);
    // E|x|^2 = (E r^2 + (E r sin r - E r cos r) / 2 + 1/6) / 9 + 2 * 0.01
    {ToyDataset::TwoSpirals, 0, 0, (4.5 * pi * pi + (2 - 8 / (9 * pi * pi) + 4 / (3 * pi)) / 2 + 1.0 / 6) / 9 + 0.02},
}};

TEST(Toy, MomentsMatchTheDefinitions) {
  for (const Moments& m : kMoments) {
    SCOPED_TRACE(name(m.set));
    const MatD x = ebm::make_toy<double>(m.set, kN, 2024);
    const double zx = expect_mean(x.col(0), m.mean_x, "mean x");
    const double zy = expect_mean(x.col(1), m.mean_y, "mean y");
    const double zr = expect_mean(x.rowwise().squaredNorm(), m.mean_r2, "E|x|^2");
    std::printf("[ measured ] %-12s z-scores: mean x %+.2f, mean y %+.2f, E|x|^2 %+.2f\n", name(m.set).c_str(), zx, zy,
                zr);
  }
}

TEST(Toy, EightGaussiansClusterAtEightCentres) {
  const MatD x = ebm::make_toy<double>(ToyDataset::EightGaussians, kN, 3);
  // Nearest centre; neighbouring centres are 2 * 2.83 sin(pi/8) = 2.16 apart, 3 sd either side,
  // so about 0.1% of points are assigned to a neighbour, which trims the spread by < 1%.
  std::array<Index, 8> count{};
  double ss = 0;
  for (Index i = 0; i < kN; ++i) {
    int best = 0;
    double best_d = 1e300, dx = 0, dy = 0;
    for (int k = 0; k < 8; ++k) {
      const double cx = 4 * std::cos(k * pi / 4) / 1.414, cy = 4 * std::sin(k * pi / 4) / 1.414;
      const double d = std::hypot(x(i, 0) - cx, x(i, 1) - cy);
      if (d < best_d) best_d = d, best = k, dx = x(i, 0) - cx, dy = x(i, 1) - cy;
    }
    ++count[static_cast<std::size_t>(best)];
    ss += dx * dx + dy * dy;
  }
  for (int k = 0; k < 8; ++k)
    expect_share(count[static_cast<std::size_t>(k)], kN, 1.0 / 8, "centre " + std::to_string(k));
  // sd per coordinate 0.5 / 1.414 = 0.3536; its estimate from 2 kN values has SE 0.3536 / sqrt(4 kN) = 0.0013.
  const double sd = std::sqrt(ss / (2.0 * kN));
  std::printf("[ measured ] 8gaussians within-cluster sd %.4f (expected 0.3536)\n", sd);
  EXPECT_NEAR(sd, 0.5 / 1.414, 0.01);
}

TEST(Toy, RingsAndCirclesHaveTheirRadii) {
  {
    const MatD x = ebm::make_toy<double>(ToyDataset::Rings, kN, 5);
    const std::array<double, 4> radii = {3, 2.25, 1.5, 0.75};
    std::array<Index, 4> count{};
    std::array<double, 4> sum{}, sum2{};
    for (Index i = 0; i < kN; ++i) {
      const double r = x.row(i).norm();
      const std::size_t k = static_cast<std::size_t>(std::clamp(std::lround(4 - r / 0.75), 0L, 3L));
      ++count[k];
      sum[k] += r - radii[k];
      sum2[k] += (r - radii[k]) * (r - radii[k]);
    }
    for (std::size_t k = 0; k < 4; ++k) {
      expect_share(count[k], kN, 0.25, "ring " + std::to_string(k));
      // Radial offset ~ 0.08 N + 0.08^2 / (2 R): mean ~ 0.0032 / R (<= 0.0043), sd ~ 0.08.
      const double mean = sum[k] / static_cast<double>(count[k]);
      const double sd = std::sqrt(sum2[k] / static_cast<double>(count[k]) - mean * mean);
      EXPECT_NEAR(mean, 0.0032 / radii[k], 5 * 0.08 / std::sqrt(static_cast<double>(count[k])));
      EXPECT_NEAR(sd, 0.08, 0.004);
    }
  }
  {
    const MatD x = ebm::make_toy<double>(ToyDataset::Circles, kN, 6);
    Index outer = 0;
    double sum_outer = 0, sum_inner = 0;
    for (Index i = 0; i < kN; ++i) {
      const double r = x.row(i).norm();
      if (r > 2.25) {
        ++outer;
        sum_outer += r;
      } else {
        sum_inner += r;
      }
    }
    expect_share(outer, kN, 0.5, "outer circle");
    // Radii 3 and 1.5 with noise sd 0.24: mean radius R + 0.24^2 / (2 R); SE 0.24 / sqrt(kN / 2) = 0.0024.
    EXPECT_NEAR(sum_outer / static_cast<double>(outer), 3 + 0.0576 / 6, 0.015);
    EXPECT_NEAR(sum_inner / static_cast<double>(kN - outer), 1.5 + 0.0576 / 3, 0.015);
  }
}

TEST(Toy, MoonsAreTwoComponentsNearTheirCurves) {
  constexpr Index n = 5000;
  const MatD x = ebm::make_toy<double>(ToyDataset::TwoMoons, n, 9);
  // Squared distance of each point to the nearest of the two (scaled) moon curves, sampled
  // every 0.016 along the curve (an error below 0.01 in the distance).
  constexpr int kCurve = 400;
  auto d2 = [](double px, double py, double cx, double cy) { return (px - cx) * (px - cx) + (py - cy) * (py - cy); };
  Index upper = 0, far = 0;
  for (Index i = 0; i < n; ++i) {
    double du = 1e300, dl = 1e300;
    for (int k = 0; k <= kCurve; ++k) {
      const double c = std::cos(pi * k / kCurve), s = std::sin(pi * k / kCurve);
      du = std::min(du, d2(x(i, 0), x(i, 1), 2 * c - 1, 2 * s - 0.2));
      dl = std::min(dl, d2(x(i, 0), x(i, 1), 2 * (1 - c) - 1, 2 * (0.5 - s) - 0.2));
    }
    upper += du < dl;
    far += std::min(du, dl) > 0.8 * 0.8;  // 4 sd of the noise (0.2 per coordinate)
  }
  expect_share(upper, n, 0.5, "upper moon");
  EXPECT_LT(far, n / 1000) << far << " points are farther than 4 noise sd from both moons";
}

TEST(Toy, CheckerboardFillsTheDarkCells) {
  const MatD x = ebm::make_toy<double>(ToyDataset::Checkerboard, kN, 11);
  std::array<Index, 16> count{};
  for (Index i = 0; i < kN; ++i) {
    ASSERT_TRUE(x(i, 0) >= -4 && x(i, 0) < 4 && x(i, 1) >= -4 && x(i, 1) < 4) << x.row(i);
    const auto cx = static_cast<long>(std::floor(x(i, 0) / 2)), cy = static_cast<long>(std::floor(x(i, 1) / 2));
    ASSERT_EQ((cx + cy) & 1, 0) << "point " << x.row(i) << " in a light cell";
    ++count[static_cast<std::size_t>((cx + 2) * 4 + (cy + 2))];
  }
  int filled = 0;
  for (std::size_t c = 0; c < 16; ++c) {
    if (count[c] == 0) continue;
    ++filled;
    expect_share(count[c], kN, 1.0 / 8, "cell " + std::to_string(c));
  }
  EXPECT_EQ(filled, 8);
}

}  // namespace
