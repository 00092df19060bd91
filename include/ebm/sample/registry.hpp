#pragma once
// Samplers by name, for front ends (the CLI, Python): the names, what each is for, and a
// kernel built from one flat set of settings. Annealing over a ladder (`annealed`, `ncsn`) is
// not a kernel of its own: see annealed_langevin in sample/samplers.hpp.
#include <ebm/sample/hmc.hpp>
#include <ebm/sample/langevin.hpp>
#include <ebm/sample/run.hpp>
#include <ebm/sample/samplers.hpp>
#include <ebm/sample/tempering.hpp>
#include <ebm/sample/underdamped.hpp>

#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace ebm {

/// Everything a sampler may be configured with; each uses its part. A NaN step size means
/// the sampler's own default (SamplerSpec::default_step_size).
template <class T>
struct SamplerSettings {
  T step_size = std::numeric_limits<T>::quiet_NaN();
  T target_acceptance = std::numeric_limits<T>::quiet_NaN();  // NaN: 0.574 (MALA), 0.8 (HMC, NUTS)
  bool adapt = true;
  HamiltonianSettings<T> hamiltonian;  // metric, path length, max depth, jitter (step size above)
  T friction = T(1);                   // underdamped
  TemperingSettings<T> tempering;      // parallel tempering's ladder
  std::string within = "mala";         // parallel tempering's within-replica kernel
};

struct SamplerSpec {
  std::string name;
  std::string summary;        // one line for --help
  double default_step_size;
  bool adaptive;              // adapts its step size during burn-in
};

/// Every sampler `make_kernel` knows, in the order --help lists them. A new sampler is a kernel
/// in its own file and one row in the table of sample/registry.cpp.
const std::vector<SamplerSpec>& sampler_specs();
/// The spec of `name`; throws InvalidArgument listing the names when there is none.
const SamplerSpec& sampler_spec(const std::string& name);

/// The kernel `name` with `settings`, for a run of `steps` updates. Throws InvalidArgument for
/// an unknown name or invalid settings.
template <class T>
std::unique_ptr<Kernel<T>> make_kernel(const std::string& name, const SamplerSettings<T>& settings, Index steps);

/// Runs sampler `name` on the target for o.steps updates (o.burn_in of warm-up); o is validated.
template <class T>
SampleResult<T> run_sampler(const std::string& name, Index dim, const BatchEvaluation<T>& evaluation,
                            const SamplerSettings<T>& settings, const ChainOptions<T>& o);
/// As above on any Energy or AnyEnergy.
template <class T, class E>
SampleResult<T> run_sampler(const std::string& name, const E& energy, const SamplerSettings<T>& settings,
                            const ChainOptions<T>& o) {
  return run_sampler<T>(name, energy.dim(), detail::batch_evaluation<T>(energy), settings, o);
}

}  // namespace ebm
