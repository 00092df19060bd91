#pragma once
// log p and log Z of a loaded energy with the defaults every front end shares: the grid's box
// from the points and the model's training statistics, AIS's base distribution from the same.
#include <ebm/density/line_integral.hpp>
#include <ebm/density/log_z.hpp>
#include <ebm/facade/energy.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ebm::facade {

/// How to normalise. Field names are the front ends' option names (validate() uses them).
struct LogZRequest {
  std::string method = "grid";  // grid (D <= 3) or ais
  /// grid: [lo, hi] per axis (one pair for every axis, or D pairs); empty: default_box.
  std::vector<std::pair<double, double>> box;
  int grid_points = 0;               // grid: per axis, >= 5; 0: 4001, 401, 81 for D = 1, 2, 3
  std::int64_t ais_chains = 256;     // >= 2
  int ais_temperatures = 200;        // >= 1
  std::uint64_t seed = 0;
  std::function<void(int done, int total)> progress;  // ais: after each temperature
  /// ais: the processes sharing the chains (null: this one alone); grid: unused, every process
  /// computes it whole. Every process calls log_z with the same request.
  const Communicator* communicator = nullptr;
  void validate() const;
};

/// The points' range (N x D) widened by its width on each side (at least 1), joined with
/// mean +- 8 scale of a model's training data.
std::vector<std::pair<double, double>> default_box(const MatD& points, const LoadedEnergy<double>& e);

/// log Z by r.method: grid quadrature over the box, or AIS from N(m, s^2 I) with m, s the
/// model's training statistics (else the points' mean and widest spread). InvalidArgument
/// naming the field for a bad request ("method: grid needs D <= 3 ...").
LogZResult log_z(const LoadedEnergy<double>& e, const MatD& points, const LogZRequest& r);

struct LogP {
  Vec<double> log_p;             // N: relative to x0, or absolute when normalised
  Vec<double> quadrature_error;  // N
  Vec<double> path_difference;   // N
  std::optional<LogZResult> log_z;
  std::int64_t evaluations = 0;
  double seconds = 0;
};

/// log p at x (N x D) by line integrals of the score from x0 (1 x D); absolute when
/// `normalize` is given: log p(x) = log p(x0) + integral, log p(x0) = -E(x0) - log Z. nodes >= 2.
/// Under a communicator of several processes (collective) each integrates a share of the
/// points and every process gets all of them, as one process would compute them.
LogP log_p(const LoadedEnergy<double>& e, const MatD& x, const MatD& x0, int nodes,
           const std::optional<LogZRequest>& normalize, const Communicator* communicator = nullptr);

}  // namespace ebm::facade
