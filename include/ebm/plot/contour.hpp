#pragma once
// Contour lines by marching squares over a grid of values.
//
// Grid convention (shared with Axes::heatmap): values is ny x nx, row i at
// y_i = y0 + i (y1 - y0) / (ny - 1) (row 0 = lowest y), column j at x_j = x0 + j (x1 - x0) / (nx - 1).
#include <ebm/core/types.hpp>

#include <vector>

namespace ebm::plot {

/// The rectangle a grid of values covers: the coordinates of its first and last grid points.
struct Extent {
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  /// Throws InvalidArgument naming `where` unless finite with x0 < x1 and y0 < y1.
  void validate(const char* where) const;
};

struct Point {
  double x = 0, y = 0;
};

/// The level set {f = level} of the bilinear interpolant of `values` (ny x nx, ny, nx >= 2), as
/// polylines in data coordinates; a closed curve repeats its first point at the end. Crossings
/// are linearly interpolated along cell edges; a saddle cell (diagonally opposite corners on
/// the same side) is resolved by the asymptotic decider, i.e. by the interpolant's value at its
/// saddle point, so curves never cross. Cells with a non-finite corner are skipped.
std::vector<std::vector<Point>> contour_lines(const Mat<double>& values, const Extent& extent, double level);

/// n levels evenly spaced strictly inside the range of the finite values: min + k (max - min) / (n + 1),
/// k = 1..n. Throws InvalidArgument for n < 1, NumericalError when no value is finite.
std::vector<double> contour_levels(const Mat<double>& values, int n);

}  // namespace ebm::plot
