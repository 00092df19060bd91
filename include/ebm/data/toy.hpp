#pragma once
// The 2-D toy distributions of the generative-modelling literature, as defined in FFJORD's
// toy_data.py (Grathwohl et al. 2019; the same sets appear in NCSN and in most EBM papers).
// Every set is drawn point by point, i.i.d.: where FFJORD places an exact share of a batch in
// each component (rings, circles, moons, pinwheel, 2spirals) we draw the component of each point
// uniformly instead, which is the same distribution without tying a point to the batch size.
//
// Definitions (U = uniform on (0, 1), B = fair coin in {0, 1}, N = standard normal; N is a pair
// of independent normals where it is added to a point; every draw is a fresh one):
//   8gaussians   c = 4 (cos(k pi/4), sin(k pi/4)), k uniform in 0..7;
//                x = (c + 0.5 N) / 1.414.   Modes at radius 2.83, sd 0.354 per coordinate.
//   moons        sklearn make_moons(noise = 0.1), then 2 x + (-1, -0.2): with t = pi U,
//                m = (cos t, sin t) (upper moon) or (1 - cos t, 0.5 - sin t) (lower), by B;
//                x = 2 (m + 0.1 N) + (-1, -0.2).   Within about [-3.6, 3.6] x [-1.8, 2.4].
//   swissroll    sklearn make_swiss_roll(noise = 1.0), coordinates (x, z), divided by 5:
//                t = 1.5 pi (1 + 2 U), x = (t cos t + N) / 5, y = (t sin t + N) / 5.
//   rings        four concentric circles of radius 3, 2.25, 1.5, 0.75 (3 (1, 3/4, 1/2, 1/4)),
//                ring uniform, angle 2 pi U, plus 0.08 N.
//   circles      sklearn make_circles(factor = 0.5, noise = 0.08), times 3: radius 1 or 0.5
//                (B), angle 2 pi U, plus 0.08 N, all times 3 (radii 3 and 1.5, noise sd 0.24).
//   checkerboard a = 4 U - 2, b = U - 2 B + (floor(a) mod 2), x = 2 (a, b): uniform on the
//                8 dark cells of a 4 x 4 board of side-2 squares covering [-4, 4]^2.
//   pinwheel     five arms (class k uniform in 0..4): f = (1 + 0.3 N, 0.1 N),
//                a = 2 pi k / 5 + 0.25 exp(f0),
//                x = 2 (f0 cos a + f1 sin a, -f0 sin a + f1 cos a).
//   2spirals     r = 3 pi sqrt(U) (540 degrees), p = (-r cos r + 0.5 U, r sin r + 0.5 U),
//                x = +-p / 3 (sign from B) + 0.1 N.
//
// Randomness: point i draws from CounterRng(seed, stream = i) at counters fixed per data set,
// so a point does not depend on n nor on the thread count: make_toy(d, 100, s) is the first 100
// rows of make_toy(d, 1000, s). Points are computed in double and rounded once for float, so
// make_toy<float> is make_toy<double> rounded.
#include <ebm/core/types.hpp>

#include <cstdint>
#include <span>
#include <string_view>

namespace ebm {

enum class ToyDataset { EightGaussians, TwoMoons, SwissRoll, Rings, Circles, Checkerboard, Pinwheel, TwoSpirals };

/// "8gaussians", "moons", "swissroll", "rings", "circles", "checkerboard", "pinwheel",
/// "2spirals", in the order of the enum.
std::span<const std::string_view> toy_dataset_names();

/// The name of a data set, as listed by toy_dataset_names().
std::string_view toy_dataset_name(ToyDataset d);

/// Parses a name (case-insensitive); throws InvalidArgument listing the valid names.
ToyDataset parse_toy_dataset(std::string_view name);

/// n points of the data set: n x 2. n >= 0.
template <class T>
Mat<T> make_toy(ToyDataset d, Index n, std::uint64_t seed);

extern template Mat<float> make_toy<float>(ToyDataset, Index, std::uint64_t);
extern template Mat<double> make_toy<double>(ToyDataset, Index, std::uint64_t);

}  // namespace ebm
