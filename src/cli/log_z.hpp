#pragma once
// log Z for `ebm logp` and `ebm eval` (defined in logp.cpp).
#include "common.hpp"

#include <ebm/density/log_z.hpp>

#include <string>
#include <utility>
#include <vector>

namespace ebm::cli {

/// --box text: "lo,hi" for every axis or D pairs; UsageError otherwise.
std::vector<std::pair<double, double>> parse_box(const std::string& text, Index dim);
/// log Z by facade::log_z, the box from --box text, a progress bar for AIS; AIS's chains shared
/// among `processes`.
LogZResult log_z_for(const LoadedEnergy<double>& e, const std::string& method, const MatD& points,
                     const std::string& box_text, int grid_points, std::int64_t ais_chains, int ais_temperatures,
                     std::uint64_t seed, bool show_progress, const Communicator& processes);
/// One line for stderr: the value, its error and the method's warning signs.
std::string log_z_note(const LogZResult& z);
nlohmann::json log_z_json(const LogZResult& z);

}  // namespace ebm::cli
