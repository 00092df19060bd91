#pragma once
// Results as JSON text, one layout for every front end (the CLI's --report and --json files,
// Python's dicts). Non-finite numbers become null.
#include <ebm/density/log_z.hpp>
#include <ebm/diag/mcmc.hpp>

#include <string>

namespace ebm::facade {

/// {"chains", "draws_per_chain", "dimensions": [{"name", "mean", "sd", "mcse_mean", "ess_bulk",
/// "ess_tail", "rhat", "flagged"}, ...], "acceptance": {"overall", "min", "max"} or null,
/// "hamiltonian": {"draws", "divergent", "max_tree_depth", "saturated", "mean_tree_depth",
/// "ebfmi", "warnings"} or null}.
std::string mcmc_summary_json(const McmcSummary& s);
/// {"method", "log_z", "error_estimate", "evaluations", "seconds"} and "boundary_fraction"
/// (grid) or "ess" and "acceptance_rate" (ais).
std::string log_z_json(const LogZResult& z);

}  // namespace ebm::facade
