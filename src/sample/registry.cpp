#include <ebm/core/error.hpp>
#include <ebm/sample/registry.hpp>

#include <cmath>

namespace ebm {
namespace {

template <class T>
T or_default(T value, double fallback) {
  return std::isnan(value) ? static_cast<T>(fallback) : value;
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
  const T h = or_default(settings.step_size, spec.default_step_size);
  if (name == "ula")
    return std::make_unique<UnadjustedKernel<T>>("ula", [h](Index) { return std::pair<T, T>(h, h); }, steps);
  if (name == "sde")
    return std::make_unique<UnadjustedKernel<T>>("sde", [h](Index) { return std::pair<T, T>(h, h); }, steps);
  if (name == "flow")
    return std::make_unique<UnadjustedKernel<T>>("flow", [h](Index) { return std::pair<T, T>(h, T(0)); }, steps);
  if (name == "mala") {
    typename MalaKernel<T>::Settings m;
    m.step_size = h;
    m.adapt = settings.adapt;
    m.target_acceptance = or_default(settings.target_acceptance, 0.574);
    return std::make_unique<MalaKernel<T>>(m);
  }
  if (name == "hmc" || name == "nuts") {
    HamiltonianSettings<T> s = settings.hamiltonian;
    s.step_size = h;
    s.adapt = settings.adapt;
    s.target_acceptance = or_default(settings.target_acceptance, 0.8);
    if (name == "hmc") return std::make_unique<HmcKernel<T>>(s);
    return std::make_unique<NutsKernel<T>>(s);
  }
  if (name == "underdamped") return std::make_unique<UnderdampedKernel<T>>(UnderdampedSettings<T>{h, settings.friction});
  // pt
  if (settings.within == "pt") throw InvalidArgument("parallel tempering: the within-replica kernel cannot be pt");
  SamplerSettings<T> inner = settings;
  if (std::isnan(settings.step_size)) inner.step_size = static_cast<T>(sampler_spec(settings.within).default_step_size);
  return std::make_unique<TemperingKernel<T>>(settings.tempering, make_kernel<T>(settings.within, inner, steps));
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
