#pragma once
// Sampling a loaded energy by sampler name, with the defaults and checks every front end shares:
// the kernels of sample/registry.hpp, and the two ladders (annealed over temperatures, ncsn over
// a noise-conditional model's own noise levels), chains started where the data were, and the
// MCMC diagnostics of the kept draws.
#include <ebm/core/communicator.hpp>
#include <ebm/diag/mcmc.hpp>
#include <ebm/facade/energy.hpp>
#include <ebm/sample/run.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ebm::facade {

/// What to run. Field names are the option names of every front end (`--burn-in` on the
/// command line, `burn_in=` in Python); validate() names them in its messages.
struct SampleRequest {
  std::string sampler = "mala";  // sampler_names()
  std::int64_t chains = 64;      // >= 1
  std::int64_t steps = 1000;     // updates per chain, burn-in included (annealed, ncsn: over all levels)
  std::optional<std::int64_t> burn_in;  // unset: steps / 2; annealed: half a level; ncsn: all but the last step
  std::int64_t thin = 1;         // >= 1
  double init_scale = 1;         // initial points N(mean, (init_scale * scale)^2), > 0
  std::optional<double> step_size;      // unset: the sampler's default (ncsn: 0.2 sigma_min^2)
  std::optional<std::int64_t> levels;   // annealed: temperatures (10); ncsn: the model's noise levels
  double max_temperature = 10;   // annealed, pt: > 1 for pt
  std::string metric = "diag";   // hmc, nuts: unit, diag or dense
  std::optional<double> target_accept;  // in (0, 1); unset: 0.574 mala, 0.8 hmc/nuts
  std::int64_t max_depth = 10;   // nuts: 1..30
  double path_length = 1;        // hmc
  double friction = 1;           // underdamped
  std::int64_t replicas = 8;     // pt: >= 2
  bool adapt_ladder = false;     // pt
  std::string within = "mala";   // pt: any sampler but pt
  bool denoise = false;          // ncsn: a final Tweedie step
  bool record_trace = false;     // also keep every thin-th state from the start
  bool diagnostics = true;       // R-hat, ESS, MCSE of the kept draws (can cost more than the sampling)
  std::uint64_t seed = 0;
  /// Called after every update with (updates done, updates in all); may throw to stop the run.
  std::function<void(std::int64_t done, std::int64_t total)> progress;
  /// The processes sharing the chains (null: this one alone): each runs a contiguous share and
  /// every process gets all the draws, in chain order, the same as one process running them all.
  /// Every process calls sample() with the same request; a failure on one is thrown on all.
  const Communicator* communicator = nullptr;
  /// InvalidArgument "name: must be ..., got v" for the first bad field (those that do not
  /// depend on the energy; sample() checks the rest).
  void validate() const;
};

/// Every sampler name SampleRequest::sampler takes: the kernels of sample_specs(), annealed, ncsn.
std::vector<std::string> sampler_names();

template <class T>
struct Sampled {
  std::string sampler;     // the name asked for
  SampleResult<T> result;  // samples chain-major, (chains_kept * S) x D
  Index keep_from = 0;     // kept draw i of a chain is the state after update keep_from + (i + 1) thin
  Index thin = 1;
  /// The diagnostics of the kept draws (nullopt with fewer than kMinDrawsPerChain per chain).
  std::optional<McmcSummary> diagnostics;
  /// The update that produced kept draw i of every chain.
  Index step_of(Index i) const { return keep_from + (i + 1) * thin; }
};

/// Runs request r on e. Throws InvalidArgument naming the field for a bad request (also one
/// that does not fit this energy: ncsn on a model that is not noise-conditional, a burn-in
/// that keeps no draw), NumericalError when every chain stopped at a non-finite state.
/// Failed chains are dropped from the draws and listed in result.failures.
template <class T>
Sampled<T> sample(const LoadedEnergy<T>& e, const SampleRequest& r);

}  // namespace ebm::facade
