#pragma once
// Analytic energies described in JSON (configs, the command line). One object per energy:
//
//   {"type": "gaussian",    "mean": [m...], "cov": [[...], ...]}
//   {"type": "gmm",         "weights": [w...], "means": [[...], ...], "covs": [[[...]], ...]}
//   {"type": "double_well", "dim": 2, "a": 1, "c": 1}
//   {"type": "rosenbrock",  "a": 1, "b": 5}
//   {"type": "ring",        "radius": 2, "width": 0.2}
//   {"type": "funnel",      "dim": 5, "sigma": 3}          (sigma optional, default 3)
//
// Any of them may add "temperature": T (> 0), which wraps the energy in Tempered (E / T). Every
// other field is required; unknown fields are errors (a misspelt "temperature" must not be
// silently ignored). The AnyEnergy's name is the type. See energy/analytic.hpp for the
// meaning of the parameters.
//
// Errors: FormatError for malformed JSON (with nlohmann's line and column); InvalidArgument
// naming the field path and the bad value for everything else (unknown type, missing field,
// wrong JSON type, inconsistent lengths, non-finite numbers, out-of-range parameters, a
// covariance that is not positive definite). energy_from_json_file adds IoError.
#include <ebm/energy/energy.hpp>

#include <string>
#include <vector>

namespace ebm {

template <class T>
AnyEnergy<T> energy_from_json(const std::string& text);

template <class T>
AnyEnergy<T> energy_from_json_file(const std::string& path);

/// The "type" values energy_from_json accepts, in the order above.
std::vector<std::string> energy_json_types();

extern template AnyEnergy<float> energy_from_json<float>(const std::string&);
extern template AnyEnergy<double> energy_from_json<double>(const std::string&);
extern template AnyEnergy<float> energy_from_json_file<float>(const std::string&);
extern template AnyEnergy<double> energy_from_json_file<double>(const std::string&);

}  // namespace ebm
