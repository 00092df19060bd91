#include <ebm/facade/sample.hpp>

#include "checks.hpp"

#include <ebm/core/error.hpp>
#include <ebm/core/memory.hpp>
#include <ebm/sample/distributed.hpp>
#include <ebm/sample/registry.hpp>
#include <ebm/sample/samplers.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace ebm::facade {
namespace {

using detail::at_least;
using detail::positive;
using detail::text;

bool is_ladder(const std::string& s) { return s == "annealed" || s == "ncsn"; }
bool is_kernel(const std::string& s) {
  const auto& specs = sampler_specs();
  return std::any_of(specs.begin(), specs.end(), [&](const SamplerSpec& k) { return k.name == s; });
}

// The kept draws (and a recorded trace) are held in memory: refuse a request that cannot fit
// before running it. kept_updates: the updates after burn-in whose states are kept, every thin-th.
template <class T>
void check_memory(const SampleRequest& r, Index dim, Index kept_updates) {
  const double draws = double(std::max<Index>(kept_updates, 0)) / double(r.thin) + 1;
  const double traced = r.record_trace ? double(r.steps) / double(r.thin) + 1 : 0;
  const double bytes = double(r.chains) * (draws + traced) * double(dim) * sizeof(T);
  const double budget = double(physical_memory_bytes()) / 2;
  if (bytes > budget)
    throw InvalidArgument("steps: keeping " + std::to_string(r.chains) + " chains x " + text(draws + traced) + " states of D = " +
                          std::to_string(dim) + " needs " + text(bytes / 1e9) + " GB, more than half this machine's memory (" +
                          text(budget / 1e9) + " GB); keep fewer draws (thin, burn_in) or run fewer chains");
}

template <class T>
void fill_chain_options(ChainOptions<T>& c, const SampleRequest& r, Index burn_in, Index kept_updates, Index dim,
                        Initialization<T> init, Share chains) {
  check_memory<T>(r, dim, kept_updates);  // all r.chains: every process ends with every draw
  c.chains = chains.last - chains.first;
  c.first_chain = static_cast<std::uint64_t>(chains.first);
  c.steps = r.steps;
  c.burn_in = burn_in;
  c.thin = r.thin;
  c.seed = r.seed;
  c.record_trace = r.record_trace;
  c.init = std::move(init);
  if (r.progress) c.progress = [p = r.progress](Index done, Index total) { p(done, total); };
}

// Annealed Langevin over the model's own noise levels (NCSN), steps scaled by sigma^2.
template <class T>
Sampled<T> sample_ncsn(const LoadedEnergy<T>& e, const SampleRequest& r, Initialization<T> init, Share chains) {
  if (!e.conditional())
    throw InvalidArgument("sampler: ncsn needs a noise-conditional model, and " + e.source +
                          " is not one (train one with an architecture that has a \"condition\", e.g. "
                          "examples/models/ncsn_28x28.json)");
  const std::vector<double>& ladder = e.info.noise_levels;
  const Index levels = r.levels.value_or(static_cast<Index>(ladder.size()));
  if (levels != static_cast<Index>(ladder.size()) && ladder.size() < 2)
    throw InvalidArgument("levels: the model was trained at one noise level");
  const Index per_level = (r.steps + levels - 1) / levels;
  const Index burn_in = r.burn_in.value_or(per_level - 1);
  if (burn_in >= per_level)
    throw InvalidArgument("burn_in: counts within the last level for ncsn sampling, must be < " + std::to_string(per_level) +
                          ", got " + std::to_string(burn_in));
  AnnealedOptions<T> o;
  fill_chain_options(o, r, burn_in, per_level - burn_in, e.dim(), std::move(init), chains);
  o.levels = levels;
  o.steps_per_level = per_level;
  o.sigma_max = static_cast<T>(ladder.front());
  o.sigma_min = static_cast<T>(ladder.back());
  // NCSN's epsilon 2e-5 at sigma_min 0.01: 0.2 sigma_min^2 at the smallest level.
  o.step_size = r.step_size ? static_cast<T>(*r.step_size) : static_cast<T>(0.2 * ladder.back() * ladder.back());
  Sampled<T> s;
  s.keep_from = levels * per_level - per_level + burn_in;
  s.result = annealed_langevin<T>(e.dim(), e.noise_conditional_score(), o);
  if (r.denoise) {
    denoise(e, o.sigma_min, s.result.samples);
    denoise(e, o.sigma_min, s.result.final_state);
  }
  return s;
}

template <class T>
Sampled<T> sample_annealed(const LoadedEnergy<T>& e, const SampleRequest& r, Initialization<T> init, Share chains) {
  const Index levels = r.levels.value_or(10);
  if (r.steps < levels)
    throw InvalidArgument("steps: annealed sampling needs at least one step per level (levels " + std::to_string(levels) +
                          "), got " + std::to_string(r.steps));
  const Index per_level = (r.steps + levels - 1) / levels;
  const Index burn_in = r.burn_in.value_or(per_level / 2);
  if (burn_in > per_level)
    throw InvalidArgument("burn_in: counts within the last level for annealed sampling, must be <= " +
                          std::to_string(per_level) + ", got " + std::to_string(burn_in));
  AnnealedOptions<T> o;
  fill_chain_options(o, r, burn_in, per_level - burn_in, e.dim(), std::move(init), chains);
  o.levels = levels;
  o.steps_per_level = per_level;
  o.max_temperature = static_cast<T>(r.max_temperature);
  if (r.step_size) o.step_size = static_cast<T>(*r.step_size);
  Sampled<T> s;
  s.keep_from = levels * per_level - per_level + burn_in;
  s.result = annealed_langevin<T>(*e.energy, o);
  return s;
}

template <class T>
Sampled<T> sample_kernel(const LoadedEnergy<T>& e, const SampleRequest& r, Initialization<T> init, Share chains) {
  const Index burn_in = r.burn_in.value_or(r.steps / 2);
  if (burn_in > r.steps)
    throw InvalidArgument("burn_in: must be <= steps (" + std::to_string(r.steps) + "), got " + std::to_string(burn_in));
  ChainOptions<T> o;
  fill_chain_options(o, r, burn_in, r.steps - burn_in, e.dim(), std::move(init), chains);
  SamplerSettings<T> settings;
  if (r.step_size) settings.step_size = static_cast<T>(*r.step_size);
  if (r.target_accept) settings.target_acceptance = static_cast<T>(*r.target_accept);
  settings.hamiltonian.metric = parse_metric(r.metric);
  settings.hamiltonian.max_depth = static_cast<int>(r.max_depth);
  settings.hamiltonian.path_length = static_cast<T>(r.path_length);
  settings.friction = static_cast<T>(r.friction);
  settings.tempering.replicas = r.replicas;
  settings.tempering.max_temperature = static_cast<T>(r.max_temperature);
  settings.tempering.adapt_ladder = r.adapt_ladder;
  settings.within = r.within;
  Sampled<T> s;
  s.keep_from = burn_in;
  s.result = run_sampler<T>(r.sampler, *e.energy, settings, o);
  return s;
}

}  // namespace

std::vector<std::string> sampler_names() {
  std::vector<std::string> names;
  for (const SamplerSpec& s : sampler_specs()) names.push_back(s.name);
  names.push_back("annealed");
  names.push_back("ncsn");
  return names;
}

void SampleRequest::validate() const {
  if (!is_kernel(sampler) && !is_ladder(sampler)) {
    std::string list;
    for (const std::string& n : sampler_names()) list += (list.empty() ? "" : ", ") + n;
    throw InvalidArgument("sampler: expected " + list + ", got '" + sampler + "'");
  }
  if (!is_kernel(within) || within == "pt")
    throw InvalidArgument("within: expected a sampler other than pt (mala, hmc, nuts, underdamped), got '" + within + "'");
  try {
    parse_metric(metric);
  } catch (const InvalidArgument&) {
    throw InvalidArgument("metric: expected unit, diag or dense, got '" + metric + "'");
  }
  if (target_accept && !(*target_accept > 0 && *target_accept < 1))
    throw InvalidArgument("target_accept: must be in (0, 1), got " + text(*target_accept));
  at_least("replicas", replicas, 2);
  at_least("max_depth", max_depth, 1);
  if (max_depth > 30) throw InvalidArgument("max_depth: must be <= 30, got " + std::to_string(max_depth));
  positive("friction", friction);
  positive("path_length", path_length);
  if (adapt_ladder && sampler != "pt") throw InvalidArgument("adapt_ladder: only with sampler pt");
  positive("max_temperature", max_temperature);
  if (sampler == "pt" && !(max_temperature > 1))
    throw InvalidArgument("max_temperature: parallel tempering needs > 1, got " + text(max_temperature));
  if (denoise && sampler != "ncsn") throw InvalidArgument("denoise: only with sampler ncsn");
  at_least("chains", chains, 1);
  at_least("steps", steps, 1);
  if (burn_in) at_least("burn_in", *burn_in, 0);
  at_least("thin", thin, 1);
  if (step_size) positive("step_size", *step_size);
  positive("init_scale", init_scale);
  if (levels) at_least("levels", *levels, 1);
}

template <class T>
Sampled<T> sample(const LoadedEnergy<T>& e, const SampleRequest& r) {
  r.validate();
  const Communicator& comm = r.communicator ? *r.communicator : single_process();
  if (r.chains < comm.size())
    throw InvalidArgument("chains: " + std::to_string(r.chains) + " chains cannot be shared among " + std::to_string(comm.size()) +
                          " processes; run at least one chain per process");
  // This process's chains: a contiguous share, each chain drawing from its own stream, so the
  // shares gathered in order are the draws of one process running them all.
  const Share mine = share_of(r.chains, comm.rank(), comm.size());
  Sampled<T> s;
  std::exception_ptr failure;
  try {
    Initialization<T> init = data_initialization(e, r.chains, r.init_scale, r.seed);
    if (init.kind == Initialization<T>::Kind::Points && init.points.rows() == r.chains)
      init.points = Mat<T>(init.points.middleRows(mine.first, mine.last - mine.first));
    s = r.sampler == "ncsn"       ? sample_ncsn(e, r, std::move(init), mine)
        : r.sampler == "annealed" ? sample_annealed(e, r, std::move(init), mine)
                                  : sample_kernel(e, r, std::move(init), mine);
  } catch (...) {
    failure = std::current_exception();
  }
  s.result = gather_chains(comm, std::move(s.result), failure);
  s.sampler = r.sampler;
  s.thin = r.thin;
  const SampleResult<T>& res = s.result;
  if (res.draws_per_chain == 0)
    throw InvalidArgument("burn_in: no draw is kept (steps " + std::to_string(r.steps) + ", thin " + std::to_string(r.thin) + ")");
  const Index kept = static_cast<Index>(res.chains_kept.size());
  if (kept == 0)
    throw NumericalError("every chain stopped at a non-finite state or score (first: chain " +
                         std::to_string(res.failures.front().first) + " at step " + std::to_string(res.failures.front().second) +
                         "); try a smaller step size");
  if (r.diagnostics && res.draws_per_chain >= kMinDrawsPerChain) {
    McmcSummaryOptions so;
    if (!res.accepted.empty()) {
      for (Index c = 0; c < kept; ++c) {  // the kept chains only: failed chains have no draws
        const auto global = static_cast<std::size_t>(res.chains_kept[static_cast<std::size_t>(c)]);
        so.accepted.push_back(res.accepted[global]);
        so.proposed.push_back(res.proposed[global]);
      }
    }
    so.divergent = res.stats.divergent;
    so.tree_depth = res.stats.tree_depth;
    so.max_tree_depth = static_cast<int>(r.max_depth);
    so.hamiltonian.assign(res.stats.hamiltonian.begin(), res.stats.hamiltonian.end());
    s.diagnostics = summarize(unstack_chains(res.samples.template cast<double>(), res.draws_per_chain), so);
  }
  return s;
}

template Sampled<float> sample<float>(const LoadedEnergy<float>&, const SampleRequest&);
template Sampled<double> sample<double>(const LoadedEnergy<double>&, const SampleRequest&);

}  // namespace ebm::facade
