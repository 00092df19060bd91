#include <ebm/facade/report.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace ebm::facade {
namespace {

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

}  // namespace

std::string mcmc_summary_json(const McmcSummary& s) {
  nlohmann::json out;
  out["chains"] = s.chains;
  out["draws_per_chain"] = s.draws_per_chain;
  const std::vector<Index> flagged = s.flagged();
  nlohmann::json dims = nlohmann::json::array();
  for (Index j = 0; j < s.mean.cols(); ++j) {
    dims.push_back({{"name", s.names[static_cast<std::size_t>(j)]},
                    {"mean", number_or_null(s.mean(j))},
                    {"sd", number_or_null(s.sd(j))},
                    {"mcse_mean", number_or_null(s.mcse_mean(j))},
                    {"ess_bulk", number_or_null(s.ess_bulk(j))},
                    {"ess_tail", number_or_null(s.ess_tail(j))},
                    {"rhat", number_or_null(s.rhat(j))},
                    {"flagged", std::find(flagged.begin(), flagged.end(), j) != flagged.end()}});
  }
  out["dimensions"] = dims;
  if (s.acceptance) {
    out["acceptance"] = {{"overall", number_or_null(s.acceptance->overall)},
                         {"min", number_or_null(s.acceptance->min)},
                         {"max", number_or_null(s.acceptance->max)}};
  } else {
    out["acceptance"] = nullptr;
  }
  if (s.hamiltonian) {
    const HamiltonianSummary& h = *s.hamiltonian;
    nlohmann::json ebfmi = nlohmann::json::array();
    for (double v : h.ebfmi) ebfmi.push_back(number_or_null(v));
    out["hamiltonian"] = {{"draws", h.draws},           {"divergent", h.divergent},
                          {"max_tree_depth", h.max_tree_depth}, {"saturated", h.saturated},
                          {"mean_tree_depth", number_or_null(h.mean_tree_depth)}, {"ebfmi", ebfmi},
                          {"warnings", h.warnings()}};
  } else {
    out["hamiltonian"] = nullptr;
  }
  return out.dump();
}

std::string log_z_json(const LogZResult& z) {
  nlohmann::json j = {{"method", z.method}, {"log_z", number_or_null(z.log_z)}, {"error_estimate", number_or_null(z.error_estimate)},
                      {"evaluations", z.evaluations}, {"seconds", z.seconds}};
  if (z.method == "grid") j["boundary_fraction"] = number_or_null(z.boundary_fraction);
  else {
    j["ess"] = number_or_null(z.ess);
    j["acceptance_rate"] = number_or_null(z.acceptance_rate);
  }
  return j.dump();
}

}  // namespace ebm::facade
