#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/data/toy.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <numbers>
#include <string>

namespace ebm {
namespace {

constexpr std::array<std::string_view, 8> kNames = {"8gaussians", "moons",        "swissroll", "rings",
                                                    "circles",    "checkerboard", "pinwheel",  "2spirals"};

// Each point takes its uniforms and its normals at two counters of its own stream; the counters
// differ between data sets, so one seed gives independent sets.
struct Draws {
  double u[4];
  double z[2];
};

Draws draws_for(std::uint64_t seed, std::uint64_t point, int dataset) {
  Draws d;
  const CounterRng rng(seed, point);
  const auto base = static_cast<std::uint64_t>(dataset) * 2;
  rng.uniform<double>(base, std::span<double>(d.u, 4));
  rng.normal<double>(base + 1, std::span<double>(d.z, 2));
  return d;
}

// floor(u * k) in 0..k-1 (u is in the open interval (0, 1), the clamp guards the rounding).
int pick(double u, int k) { return std::min(static_cast<int>(u * k), k - 1); }

void toy_point(ToyDataset set, const Draws& r, double& x, double& y) {
  constexpr double pi = std::numbers::pi;
  switch (set) {
    case ToyDataset::EightGaussians: {
      const double a = pick(r.u[0], 8) * (pi / 4);
      x = (4 * std::cos(a) + 0.5 * r.z[0]) / 1.414;
      y = (4 * std::sin(a) + 0.5 * r.z[1]) / 1.414;
      return;
    }
    case ToyDataset::TwoMoons: {
      const double t = pi * r.u[0];
      const bool upper = r.u[1] < 0.5;
      const double mx = upper ? std::cos(t) : 1 - std::cos(t);
      const double my = upper ? std::sin(t) : 0.5 - std::sin(t);
      x = 2 * (mx + 0.1 * r.z[0]) - 1;
      y = 2 * (my + 0.1 * r.z[1]) - 0.2;
      return;
    }
    case ToyDataset::SwissRoll: {
      const double t = 1.5 * pi * (1 + 2 * r.u[0]);
      x = (t * std::cos(t) + r.z[0]) / 5;
      y = (t * std::sin(t) + r.z[1]) / 5;
      return;
    }
    case ToyDataset::Rings: {
      const double radius = 3.0 * (4 - pick(r.u[0], 4)) / 4;
      const double a = 2 * pi * r.u[1];
      x = radius * std::cos(a) + 0.08 * r.z[0];
      y = radius * std::sin(a) + 0.08 * r.z[1];
      return;
    }
    case ToyDataset::Circles: {
      const double radius = r.u[0] < 0.5 ? 1.0 : 0.5;
      const double a = 2 * pi * r.u[1];
      x = 3 * (radius * std::cos(a) + 0.08 * r.z[0]);
      y = 3 * (radius * std::sin(a) + 0.08 * r.z[1]);
      return;
    }
    case ToyDataset::Checkerboard: {
      const double a = 4 * r.u[0] - 2;
      const double fa = std::floor(a);
      const double parity = fa - 2 * std::floor(fa / 2);  // Python's floor(a) % 2: 0 or 1
      const double b = r.u[1] - 2 * pick(r.u[2], 2) + parity;
      x = 2 * a;
      y = 2 * b;
      return;
    }
    case ToyDataset::Pinwheel: {
      const double f0 = 1 + 0.3 * r.z[0];
      const double f1 = 0.1 * r.z[1];
      const double a = 2 * pi * pick(r.u[0], 5) / 5 + 0.25 * std::exp(f0);
      const double c = std::cos(a), s = std::sin(a);
      x = 2 * (f0 * c + f1 * s);
      y = 2 * (-f0 * s + f1 * c);
      return;
    }
    case ToyDataset::TwoSpirals: {
      const double t = 3 * pi * std::sqrt(r.u[0]);
      const double sign = r.u[3] < 0.5 ? 1.0 : -1.0;
      x = sign * (-std::cos(t) * t + 0.5 * r.u[1]) / 3 + 0.1 * r.z[0];
      y = sign * (std::sin(t) * t + 0.5 * r.u[2]) / 3 + 0.1 * r.z[1];
      return;
    }
  }
}

void check_dataset(ToyDataset d, const char* where) {
  const auto k = static_cast<int>(d);
  if (k < 0 || k >= static_cast<int>(kNames.size())) {
    throw InvalidArgument(std::string(where) + ": unknown toy data set (enum value " + std::to_string(k) + ")");
  }
}

}  // namespace

std::span<const std::string_view> toy_dataset_names() { return kNames; }

std::string_view toy_dataset_name(ToyDataset d) {
  check_dataset(d, "toy_dataset_name");
  return kNames[static_cast<std::size_t>(d)];
}

ToyDataset parse_toy_dataset(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::size_t k = 0; k < kNames.size(); ++k) {
    if (lower == kNames[k]) return static_cast<ToyDataset>(k);
  }
  std::string valid;
  for (std::size_t k = 0; k < kNames.size(); ++k) valid += (k > 0 ? ", " : "") + std::string(kNames[k]);
  throw InvalidArgument("parse_toy_dataset: unknown toy data set '" + std::string(name) + "' (valid: " + valid + ")");
}

template <class T>
Mat<T> make_toy(ToyDataset d, Index n, std::uint64_t seed) {
  check_dataset(d, "make_toy");
  if (n < 0) throw InvalidArgument("make_toy: n = " + std::to_string(n) + ", must be >= 0");
  Mat<T> out(n, 2);
  const int set = static_cast<int>(d);
  parallel_for_chunks(n, 4096, [&](Index begin, Index end) {
    for (Index i = begin; i < end; ++i) {
      double x = 0, y = 0;
      toy_point(d, draws_for(seed, static_cast<std::uint64_t>(i), set), x, y);
      out(i, 0) = static_cast<T>(x);
      out(i, 1) = static_cast<T>(y);
    }
  });
  return out;
}

template Mat<float> make_toy<float>(ToyDataset, Index, std::uint64_t);
template Mat<double> make_toy<double>(ToyDataset, Index, std::uint64_t);

}  // namespace ebm
