#include <ebm/facade/density.hpp>

#include <ebm/core/bytes.hpp>

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

LogP log_p(const LoadedEnergy<double>& e, const MatD& x, const MatD& x0, int nodes, const std::optional<LogZRequest>& normalize,
           const Communicator* communicator) {
  if (nodes < 2) throw InvalidArgument("nodes: must be >= 2, got " + std::to_string(nodes));
  if (normalize) normalize->validate();
  LineIntegralOptions lo;
  lo.nodes = nodes;
  const Communicator& comm = communicator ? *communicator : single_process();
  LogP out;
  if (comm.size() == 1) {
    const LineIntegralResult<double> r = log_density_relative<double>(*e.energy, x, x0, lo);
    out = LogP{r.log_p_relative, r.quadrature_error, r.path_difference, std::nullopt, r.evaluations, r.seconds};
  } else {
    // Each process integrates a contiguous share of the points (a point's integral does not
    // depend on the others); the shares are joined in order.
    const Share mine = share_of(x.rows(), comm.rank(), comm.size());
    ByteWriter w;
    std::exception_ptr failure;
    try {
      LineIntegralResult<double> r;  // a process without points sends empty columns
      if (mine.last > mine.first) r = log_density_relative<double>(*e.energy, MatD(x.middleRows(mine.first, mine.last - mine.first)), x0, lo);
      for (const Vec<double>* v : {&r.log_p_relative, &r.quadrature_error, &r.path_difference})
        w.values(std::vector<double>(v->data(), v->data() + v->size()));
      w.value(static_cast<std::int64_t>(r.evaluations));
      w.value(r.seconds);
    } catch (...) {
      failure = std::current_exception();
    }
    const Gathered all = gather_agreed(comm, w.take(), failure);
    std::vector<double> columns[3];
    for (int rank = 0; rank < all.size(); ++rank) {
      ByteReader in(all[rank]);
      for (std::vector<double>& c : columns) {
        const std::vector<double> part = in.values<double>();
        c.insert(c.end(), part.begin(), part.end());
      }
      out.evaluations += in.value<std::int64_t>();
      out.seconds = std::max(out.seconds, in.value<double>());
    }
    auto vec = [](const std::vector<double>& c) { return Vec<double>(Eigen::Map<const Vec<double>>(c.data(), static_cast<Index>(c.size()))); };
    out.log_p = vec(columns[0]);
    out.quadrature_error = vec(columns[1]);
    out.path_difference = vec(columns[2]);
  }
  if (normalize) {
    out.log_z = log_z(e, x, *normalize);
    Vec<double> e0;
    e.evaluate(x0, e0, nullptr);
    out.log_p.array() += -e0(0) - out.log_z->log_z;
  }
  return out;
}

}  // namespace ebm::facade
