// Analytic energies described in JSON, as `--energy` reads them; each accepted energy is also
// evaluated at a point, so a description that builds must also compute.
#include "harness.hpp"

#include <ebm/energy/json.hpp>

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ebm::fuzz::run_reader(data, size, ".json", [](const std::string& p) {
    const ebm::AnyEnergy<double> e = ebm::energy_from_json_file<double>(p);
    if (e.dim() > 4096) return;
    ebm::EnergyEvaluator<double> ev;
    ebm::Vec<double> energies;
    ebm::Mat<double> scores;
    e.evaluate(ev, ebm::Mat<double>::Zero(2, e.dim()), &energies, &scores);
  });
}
