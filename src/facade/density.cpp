#include <ebm/facade/density.hpp>

#include <ebm/core/error.hpp>

#include <algorithm>
#include <cmath>

namespace ebm::facade {

void LogZRequest::validate() const {
  if (method != "grid" && method != "ais") throw InvalidArgument("normalize: expected grid or ais, got '" + method + "'");
  if (grid_points != 0 && grid_points < 5)
    throw InvalidArgument("grid_points: must be >= 5, got " + std::to_string(grid_points));
  if (ais_chains < 2) throw InvalidArgument("ais_chains: must be >= 2, got " + std::to_string(ais_chains));
  if (ais_temperatures < 1) throw InvalidArgument("ais_temperatures: must be >= 1, got " + std::to_string(ais_temperatures));
  for (const auto& [lo, hi] : box)
    if (!(lo < hi) || !std::isfinite(lo) || !std::isfinite(hi))
      throw InvalidArgument("box: each lower bound must be below its upper bound, got [" + std::to_string(lo) + ", " +
                            std::to_string(hi) + "]");
}

std::vector<std::pair<double, double>> default_box(const MatD& points, const LoadedEnergy<double>& e) {
  std::vector<std::pair<double, double>> box;
  const RowVec<double> mean = e.mean(), scale = e.scale();
  for (Index j = 0; j < points.cols(); ++j) {
    const double lo = points.col(j).minCoeff(), hi = points.col(j).maxCoeff();
    const double pad = std::max(hi - lo, 1.0);
    double a = lo - pad, b = hi + pad;
    if (e.standardized()) {
      a = std::min(a, mean(j) - 8 * scale(j));
      b = std::max(b, mean(j) + 8 * scale(j));
    }
    box.emplace_back(a, b);
  }
  return box;
}

LogZResult log_z(const LoadedEnergy<double>& e, const MatD& points, const LogZRequest& r) {
  r.validate();
  const Index d = e.dim();
  if (points.cols() != d)
    throw InvalidArgument("points: " + std::to_string(points.cols()) + " columns, but the energy has D = " + std::to_string(d));
  if (points.rows() < 1) throw InvalidArgument("points: none given (the box and the AIS base are taken from them)");
  if (r.method == "grid") {
    if (d > 3)
      throw InvalidArgument("normalize: grid needs D <= 3, the energy has D = " + std::to_string(d) + " (use ais)");
    std::vector<std::pair<double, double>> box = r.box;
    if (box.empty()) box = default_box(points, e);
    else if (box.size() == 1) box.assign(static_cast<std::size_t>(d), box.front());
    else if (static_cast<Index>(box.size()) != d)
      throw InvalidArgument("box: expected one [lo, hi] pair or " + std::to_string(d) + ", got " + std::to_string(box.size()));
    GridOptions o;
    for (const auto& [lo, hi] : box) {
      o.lower.push_back(lo);
      o.upper.push_back(hi);
    }
    o.points_per_dim = r.grid_points;
    return log_normalizer_grid<double>(*e.energy, o);
  }
  AisOptions o;
  o.chains = r.ais_chains;
  o.communicator = r.communicator;
  o.temperatures = r.ais_temperatures;
  o.seed = r.seed;
  if (e.standardized()) {
    const RowVec<double> m = e.mean();
    o.base_mean.assign(m.data(), m.data() + d);
    o.base_scale = e.scale().maxCoeff();
  } else {
    const RowVec<double> m = points.colwise().mean();
    o.base_mean.assign(m.data(), m.data() + d);
    double widest = 1;
    if (points.rows() >= 2)
      widest = std::max(widest, ((points.rowwise() - m).array().square().colwise().mean()).sqrt().maxCoeff());
    o.base_scale = widest;
  }
  o.progress = r.progress;
  return log_normalizer_ais<double>(*e.energy, o);
}

LogP log_p(const LoadedEnergy<double>& e, const MatD& x, const MatD& x0, int nodes, const std::optional<LogZRequest>& normalize) {
  if (nodes < 2) throw InvalidArgument("nodes: must be >= 2, got " + std::to_string(nodes));
  if (normalize) normalize->validate();
  LineIntegralOptions lo;
  lo.nodes = nodes;
  const LineIntegralResult<double> r = log_density_relative<double>(*e.energy, x, x0, lo);
  LogP out{r.log_p_relative, r.quadrature_error, r.path_difference, std::nullopt, r.evaluations, r.seconds};
  if (normalize) {
    out.log_z = log_z(e, x, *normalize);
    Vec<double> e0;
    e.evaluate(x0, e0, nullptr);
    out.log_p.array() += -e0(0) - out.log_z->log_z;
  }
  return out;
}

}  // namespace ebm::facade
