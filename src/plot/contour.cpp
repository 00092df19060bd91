#include <ebm/core/error.hpp>
#include <ebm/plot/contour.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <string>

namespace ebm::plot {

void Extent::validate(const char* where) const {
  if (!(std::isfinite(x0) && std::isfinite(x1) && std::isfinite(y0) && std::isfinite(y1) && x0 < x1 && y0 < y1)) {
    throw InvalidArgument(std::string(where) + ": extent {" + std::to_string(x0) + ", " + std::to_string(x1) + ", " +
                          std::to_string(y0) + ", " + std::to_string(y1) + "} needs finite x0 < x1 and y0 < y1");
  }
}

namespace {

// Grid edges get one id each, so that the two cells sharing an edge agree on its crossing:
// horizontal edges (i, j)-(i, j+1) first, then vertical edges (i, j)-(i+1, j).
struct EdgeIds {
  Index nx, ny;
  Index horizontal(Index i, Index j) const { return i * (nx - 1) + j; }
  Index vertical(Index i, Index j) const { return ny * (nx - 1) + i * nx + j; }
};

}  // namespace

std::vector<std::vector<Point>> contour_lines(const Mat<double>& values, const Extent& extent, double level) {
  const Index ny = values.rows(), nx = values.cols();
  if (ny < 2 || nx < 2) throw InvalidArgument("contour_lines: values has shape " + std::to_string(ny) + "x" + std::to_string(nx) + ", need at least 2x2");
  extent.validate("contour_lines");
  if (!std::isfinite(level)) throw InvalidArgument("contour_lines: level " + std::to_string(level) + " is not finite");

  const EdgeIds ids{nx, ny};
  const Index edge_count = ny * (nx - 1) + (ny - 1) * nx;
  auto gx = [&](double j) { return extent.x0 + (extent.x1 - extent.x0) * (j / static_cast<double>(nx - 1)); };
  auto gy = [&](double i) { return extent.y0 + (extent.y1 - extent.y0) * (i / static_cast<double>(ny - 1)); };
  auto above = [&](Index i, Index j) { return values(i, j) > level; };
  // Crossing on an edge, interpolated from its lower-index end so both cells get the same bits.
  auto crossing = [&](Index id) -> Point {
    if (id < ny * (nx - 1)) {
      const Index i = id / (nx - 1), j = id % (nx - 1);
      const double a = values(i, j), b = values(i, j + 1);
      return {gx(static_cast<double>(j) + (level - a) / (b - a)), gy(static_cast<double>(i))};
    }
    const Index k = id - ny * (nx - 1), i = k / nx, j = k % nx;
    const double a = values(i, j), b = values(i + 1, j);
    return {gx(static_cast<double>(j)), gy(static_cast<double>(i) + (level - a) / (b - a))};
  };

  // Segments as pairs of edge ids; each edge belongs to at most two segments (its two cells).
  std::vector<std::pair<Index, Index>> segments;
  std::vector<std::array<Index, 2>> at_edge(static_cast<std::size_t>(edge_count), {-1, -1});
  auto add = [&](Index a, Index b) {
    const Index s = static_cast<Index>(segments.size());
    segments.emplace_back(a, b);
    for (Index e : {a, b}) {
      auto& slot = at_edge[static_cast<std::size_t>(e)];
      (slot[0] < 0 ? slot[0] : slot[1]) = s;
    }
  };
  for (Index i = 0; i + 1 < ny; ++i) {
    for (Index j = 0; j + 1 < nx; ++j) {
      // Corners counter-clockwise from bottom-left; edge k joins corner k and corner k+1.
      const double v[4] = {values(i, j), values(i, j + 1), values(i + 1, j + 1), values(i + 1, j)};
      if (!(std::isfinite(v[0]) && std::isfinite(v[1]) && std::isfinite(v[2]) && std::isfinite(v[3]))) continue;
      const bool up[4] = {above(i, j), above(i, j + 1), above(i + 1, j + 1), above(i + 1, j)};
      const Index edge[4] = {ids.horizontal(i, j), ids.vertical(i, j + 1), ids.horizontal(i + 1, j), ids.vertical(i, j)};
      const bool saddle = up[0] == up[2] && up[1] == up[3] && up[0] != up[1];
      if (saddle) {
        // Asymptotic decider: the bilinear interpolant's value at its saddle point says which
        // diagonal pair is connected through the cell; the other two corners are cut off.
        const double centre = (v[0] * v[2] - v[1] * v[3]) / (v[0] + v[2] - v[1] - v[3]);
        const bool centre_up = centre > level;
        for (int c = 0; c < 4; ++c) {
          if (up[c] != centre_up) add(edge[(c + 3) % 4], edge[c]);
        }
        continue;
      }
      Index found[2];
      int n = 0;
      for (int k = 0; k < 4; ++k) {
        if (up[k] != up[(k + 1) % 4]) found[n++] = edge[k];
      }
      if (n == 2) add(found[0], found[1]);
    }
  }

  // Chain segments into polylines through their shared edges.
  std::vector<char> used(segments.size(), 0);
  auto next_segment = [&](Index e, Index from) {
    const auto& slot = at_edge[static_cast<std::size_t>(e)];
    const Index other = slot[0] == from ? slot[1] : slot[0];
    return (other >= 0 && !used[static_cast<std::size_t>(other)]) ? other : Index(-1);
  };
  auto far_end = [&](Index s, Index e) {
    const auto& seg = segments[static_cast<std::size_t>(s)];
    return seg.first == e ? seg.second : seg.first;
  };
  std::vector<std::vector<Point>> lines;
  for (std::size_t s0 = 0; s0 < segments.size(); ++s0) {
    if (used[s0]) continue;
    used[s0] = 1;
    std::deque<Index> chain = {segments[s0].first, segments[s0].second};
    for (Index s = static_cast<Index>(s0), e = chain.back(); (s = next_segment(e, s)) >= 0;) {
      used[static_cast<std::size_t>(s)] = 1;
      e = far_end(s, e);
      chain.push_back(e);
    }
    for (Index s = static_cast<Index>(s0), e = chain.front(); (s = next_segment(e, s)) >= 0;) {
      used[static_cast<std::size_t>(s)] = 1;
      e = far_end(s, e);
      chain.push_front(e);
    }
    std::vector<Point> pts;
    pts.reserve(chain.size());
    for (Index e : chain) pts.push_back(crossing(e));
    lines.push_back(std::move(pts));
  }
  return lines;
}

std::vector<double> contour_levels(const Mat<double>& values, int n) {
  if (n < 1) throw InvalidArgument("contour_levels: count " + std::to_string(n) + " < 1");
  double lo = INFINITY, hi = -INFINITY;
  for (Index k = 0; k < values.size(); ++k) {
    const double v = values.data()[k];
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (!(lo <= hi)) throw NumericalError("contour_levels: values (" + std::to_string(values.rows()) + "x" + std::to_string(values.cols()) + ") has no finite entry");
  std::vector<double> levels;
  for (int k = 1; k <= n; ++k) levels.push_back(lo + (hi - lo) * k / (n + 1));
  return levels;
}

}  // namespace ebm::plot
