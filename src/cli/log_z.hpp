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
/// The points' range widened by its width on each side (at least 1), joined with mean +- 8 scale
/// of a model's training data.
std::vector<std::pair<double, double>> default_box(const MatD& points, const LoadedEnergy<double>& e);
/// log Z by "grid" (D <= 3; box from box_text or default_box) or "ais" (base from the model's
/// standardisation, else the points' mean and widest spread).
LogZResult log_z_for(const LoadedEnergy<double>& e, const std::string& method, const MatD& points,
                     const std::string& box_text, int grid_points, std::int64_t ais_chains, int ais_temperatures,
                     std::uint64_t seed, bool show_progress);
/// One line for stderr: the value, its error and the method's warning signs.
std::string log_z_note(const LogZResult& z);
nlohmann::json log_z_json(const LogZResult& z);

}  // namespace ebm::cli
