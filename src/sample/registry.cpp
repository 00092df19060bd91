#include <ebm/core/error.hpp>
#include <ebm/sample/registry.hpp>

#include <cmath>

namespace ebm {
namespace {

template <class T>
T or_default(T value, double fallback) {
  return std::isnan(value) ? static_cast<T>(fallback) : value;
}

// Each sampler's kernel from the settings, its step size h (the default already applied) and
// the run's length.
template <class T>
using Factory = std::unique_ptr<Kernel<T>> (*)(const SamplerSettings<T>&, T h, Index steps);

template <class T>
std::unique_ptr<Kernel<T>> unadjusted(const char* name, T drift, T noise, Index steps) {
  return std::make_unique<UnadjustedKernel<T>>(name, [drift, noise](Index) { return std::pair<T, T>(drift, noise); }, steps);
}

template <class T>
std::unique_ptr<Kernel<T>> hamiltonian(const SamplerSettings<T>& settings, T h, bool nuts) {
  HamiltonianSettings<T> s = settings.hamiltonian;
  s.step_size = h;
  s.adapt = settings.adapt;
  s.target_acceptance = or_default(settings.target_acceptance, 0.8);
  if (nuts) return std::make_unique<NutsKernel<T>>(s);
  return std::make_unique<HmcKernel<T>>(s);
}

template <class T>
std::unique_ptr<Kernel<T>> tempering(const SamplerSettings<T>& settings, T, Index steps) {
  if (settings.within == "pt") throw InvalidArgument("parallel tempering: the within-replica kernel cannot be pt");
  SamplerSettings<T> inner = settings;
  if (std::isnan(settings.step_size)) inner.step_size = static_cast<T>(sampler_spec(settings.within).default_step_size);
  return std::make_unique<TemperingKernel<T>>(settings.tempering, make_kernel<T>(settings.within, inner, steps));
}

// In the order of sampler_specs().
template <class T>
const std::vector<Factory<T>>& factories() {
  static const std::vector<Factory<T>> table = {
      [](const SamplerSettings<T>&, T h, Index steps) { return unadjusted<T>("ula", h, h, steps); },
      [](const SamplerSettings<T>&, T h, Index steps) { return unadjusted<T>("sde", h, h, steps); },
      [](const SamplerSettings<T>&, T h, Index steps) { return unadjusted<T>("flow", h, T(0), steps); },
      [](const SamplerSettings<T>& s, T h, Index) -> std::unique_ptr<Kernel<T>> {
        typename MalaKernel<T>::Settings m;
        m.step_size = h;
        m.adapt = s.adapt;
        m.target_acceptance = or_default(s.target_acceptance, 0.574);
        return std::make_unique<MalaKernel<T>>(m);
      },
      [](const SamplerSettings<T>& s, T h, Index) { return hamiltonian<T>(s, h, false); },
      [](const SamplerSettings<T>& s, T h, Index) { return hamiltonian<T>(s, h, true); },
      [](const SamplerSettings<T>& s, T h, Index) -> std::unique_ptr<Kernel<T>> {
        return std::make_unique<UnderdampedKernel<T>>(UnderdampedSettings<T>{h, s.friction});
      },
      &tempering<T>,
  };
  return table;
}

}  // namespace

const std::vector<SamplerSpec>& sampler_specs() {
  static const std::vector<SamplerSpec> specs = {
      {"ula", "unadjusted Langevin, x += h s + sqrt(2h) eps (biased for finite h)", 0.01, false},
      {"sde", "the Langevin SDE by Euler-Maruyama, dt = step size", 0.01, false},
      {"flow", "gradient flow x += h s, no noise (finds modes)", 0.01, false},
      {"mala", "Metropolis-adjusted Langevin, step size adapted to 0.574 acceptance", 0.1, true},
      {"hmc", "static HMC, leapfrog over a path length, Stan's warm-up", 1.0, true},
      {"nuts", "the No-U-Turn sampler with Stan's warm-up (step size, diag/dense metric)", 1.0, true},
      {"underdamped", "kinetic Langevin by BAOAB, with friction (unadjusted)", 0.1, false},
      {"pt", "parallel tempering: replicas on a temperature ladder, any kernel within", 0.1, true},
  };
  return specs;
}

const SamplerSpec& sampler_spec(const std::string& name) {
  std::string names;
  for (const SamplerSpec& s : sampler_specs()) {
    if (s.name == name) return s;
    names += (names.empty() ? "" : ", ") + s.name;
  }
  throw InvalidArgument("unknown sampler '" + name + "' (expected " + names + ")");
}

template <class T>
std::unique_ptr<Kernel<T>> make_kernel(const std::string& name, const SamplerSettings<T>& settings, Index steps) {
  const SamplerSpec& spec = sampler_spec(name);
  const auto i = static_cast<std::size_t>(&spec - sampler_specs().data());
  if (factories<T>().size() != sampler_specs().size()) throw Error("ebm::make_kernel: the sampler table is out of step with its specs");
  return factories<T>()[i](settings, or_default(settings.step_size, spec.default_step_size), steps);
}

template <class T>
SampleResult<T> run_sampler(const std::string& name, Index dim, const BatchEvaluation<T>& evaluation,
                            const SamplerSettings<T>& settings, const ChainOptions<T>& o) {
  o.validate(dim);
  std::unique_ptr<Kernel<T>> kernel = make_kernel<T>(name, settings, o.steps);
  Target<T> target(dim, evaluation);
  return run_kernel(*kernel, target, o);
}

#define EBM_INSTANTIATE(T)                                                                                 \
  template std::unique_ptr<Kernel<T>> make_kernel<T>(const std::string&, const SamplerSettings<T>&, Index); \
  template SampleResult<T> run_sampler<T>(const std::string&, Index, const BatchEvaluation<T>&,             \
                                          const SamplerSettings<T>&, const ChainOptions<T>&);
EBM_INSTANTIATE(float)
EBM_INSTANTIATE(double)
#undef EBM_INSTANTIATE

}  // namespace ebm
