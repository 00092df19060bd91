#pragma once
// The run loop every sampler shares: initial points, `steps` updates of a Kernel, burn-in,
// thinning, traces, per-draw statistics, and chains stopped on non-finite values.
//
// Shapes: kept draws are chain-major: chain c's draws are the rows [c S, (c + 1) S) of
// `samples`, S = draws_per_chain; per-draw statistics are laid out the same way.
#include <ebm/sample/kernel.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ebm {

template <class T>
struct Initialization {
  enum class Kind { Gaussian, Uniform, Points };
  Kind kind = Kind::Gaussian;
  T scale = T(1);  // Gaussian: standard deviation; Uniform: half-width of [-scale, scale]^D
  Mat<T> points;   // Points: chains x D, or 1 x D for every chain
  void validate(Index chains, Index dim) const;
};

/// Options every sampler shares.
template <class T>
struct ChainOptions {
  Index chains = 64;
  Index steps = 1000;  // updates per chain, burn-in included
  Index burn_in = 0;   // first updates whose states are not kept (and the adaptive kernels' warm-up)
  Index thin = 1;      // keep every thin-th state after burn-in
  bool record_trace = false;  // also keep every thin-th state from the start (x_0 included)
  std::uint64_t seed = 0;
  std::uint64_t first_chain = 0;  // global index of chain 0 (for splitting chains over calls)
  Initialization<T> init;
  /// Called after every update with (updates done, updates in all); for progress bars.
  std::function<void(Index done, Index total)> progress;
  void validate(Index dim) const;
};

/// Per kept draw (chain-major, as the samples), what the kernel reported for the update that
/// produced it. Vectors are empty when the kernel does not report the quantity.
template <class T>
struct DrawStats {
  std::vector<T> acceptance;        // Metropolis probability, or NUTS's mean over the tree
  std::vector<char> divergent;      // HMC/NUTS
  std::vector<int> tree_depth;      // NUTS
  std::vector<int> gradients;       // target evaluations of the update
  std::vector<T> hamiltonian;       // H at the start of the update (HMC/NUTS; E-BFMI)
};

template <class T>
struct SampleResult {
  std::string sampler;         // the kernel's name
  Mat<T> samples;              // (chains_kept * S) x D, chain-major
  Index draws_per_chain = 0;   // S
  std::vector<Index> chains_kept;  // global chain index of each block of samples
  Mat<T> trace;                // when recorded: (chains_kept * L) x D, chain-major, L states
  Index trace_length = 0;      // L
  Mat<T> final_state;          // chains x D (a stopped chain: its last finite state)
  Vec<T> step_size;            // per chain: the final (adapted) step size
  std::vector<std::int64_t> accepted, proposed;  // per chain (Metropolis-adjusted kernels)
  DrawStats<T> stats;          // per kept draw of the kept chains
  std::int64_t gradient_evaluations = 0;         // points at which the target was evaluated
  std::int64_t warmup_gradient_evaluations = 0;  // of which during burn-in (and the initial ones)
  // Chains stopped because their state or score became non-finite: global index and the
  // step at which it happened. Their draws are not in `samples`.
  std::vector<std::pair<Index, Index>> failures;
  std::vector<std::string> notes;  // kernel-specific lines for the summary (swap rates, say)
  double seconds = 0;
  double warmup_seconds = 0;  // of which until the end of burn-in
  double acceptance_rate() const;  // over all chains (Metropolis-adjusted kernels), NaN otherwise
  std::string summary() const;
};

/// Runs `kernel` on `target`: `steps` updates, the states after update keep_from + thin,
/// keep_from + 2 thin, ... kept; the kernel may adapt during the first `warmup` updates.
/// `steps`, `keep_from` and `warmup` override o.steps and o.burn_in (annealing ladders count
/// their own); o is validated by the caller.
template <class T>
SampleResult<T> run_kernel(Kernel<T>& kernel, Target<T>& target, const ChainOptions<T>& o, Index steps,
                           Index keep_from, Index warmup);
/// As above with steps = o.steps and keep_from = warmup = o.burn_in.
template <class T>
SampleResult<T> run_kernel(Kernel<T>& kernel, Target<T>& target, const ChainOptions<T>& o) {
  return run_kernel(kernel, target, o, o.steps, o.burn_in, o.burn_in);
}

/// The initial points of chains [first_chain, first_chain + chains) as `init` says: chain c
/// from CounterRng(seed, first_chain + c) at counter 2^63.
template <class T>
Mat<T> initial_points(const Initialization<T>& init, Index chains, Index dim, const ChainStreams& streams);

}  // namespace ebm
