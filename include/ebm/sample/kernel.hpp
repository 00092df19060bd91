#pragma once
// The sampler seam: a Markov kernel over a batch of chains, in the spirit of BlackJAX's
// init / kernel / state / info. A sampler is a Kernel (its options and per-chain state live in
// the object, one `step` moves every chain once and reports a StepInfo); the run loop that
// every sampler shares (sample/run.hpp) draws the initial points, calls `step`, keeps draws,
// thins, records traces and the per-draw info, and stops chains that become non-finite.
//
// Chains are independent rows: chain c draws every random number from the counter-based
// stream (seed, first_chain + c), and the kernels evaluate the target on the rows that need
// it, each row computed the same way whatever else is in the batch. So a chain gives the same
// bits alone or in a batch, and for any thread count.
//
// Shapes: a batch is N chains x D. Per-chain quantities are length N.
#include <ebm/core/rng.hpp>
#include <ebm/core/types.hpp>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace ebm {

template <class T>
struct SampleResult;  // sample/run.hpp

/// The batch evaluation the samplers run on: scores (N x D) at x (N x D), and energies (N) when
/// `energies` is not null (unadjusted samplers do not need them).
template <class T>
using BatchEvaluation = std::function<void(const Mat<T>& x, Vec<T>* energies, Mat<T>& scores)>;

/// What a kernel draws a random number for. A draw's counter is the update number (1-based,
/// minus one) with the purpose in the high bits, so no two uses share numbers.
enum class DrawPurpose : std::uint64_t {
  Noise = 0,                              // Langevin noise, momenta of the unadjusted kernels
  Accept = std::uint64_t(1) << 62,        // Metropolis tests
  Init = std::uint64_t(1) << 63,          // initial points (counter 2^63 exactly)
  Momentum = std::uint64_t(1) << 56,      // HMC/NUTS momentum refresh
  Tree = std::uint64_t(2) << 56,          // NUTS: directions and multinomial choices
  Jitter = std::uint64_t(3) << 56,        // step-size jitter
  Swap = std::uint64_t(4) << 56,          // parallel tempering's swap tests
  Search = std::uint64_t(5) << 56,        // momenta of the initial step-size search
};

/// The random numbers of a batch of chains: chain c (0-based in the batch) is the stream
/// first_chain + c.
struct ChainStreams {
  std::uint64_t seed = 0;
  std::uint64_t first_chain = 0;

  std::uint64_t stream(Index c) const { return first_chain + static_cast<std::uint64_t>(c); }
  CounterRng rng(Index c) const { return CounterRng(seed, stream(c)); }
  static std::uint64_t counter(Index update, DrawPurpose purpose) {
    return static_cast<std::uint64_t>(update - 1) | static_cast<std::uint64_t>(purpose);
  }
  /// The i-th uniform in (0, 1) of chain c at (update, purpose); one Philox block per call.
  double uniform(Index c, Index update, DrawPurpose purpose, std::uint64_t i = 0) const;
  /// D standard normals of chain c at (update, purpose).
  template <class T>
  void normal(Index c, Index update, DrawPurpose purpose, std::span<T> out) const {
    rng(c).normal<T>(counter(update, purpose), out);
  }
};

/// A batch of chains: positions, and the energies and scores there (kept in step with x).
template <class T>
struct ChainState {
  Mat<T> x;               // N x D
  Vec<T> energy;          // N; empty for kernels that do not need energies
  Mat<T> score;           // N x D, -grad E at x
  std::vector<char> alive;  // N; a chain that became non-finite is stopped (see run loop)
  Index chains() const { return x.rows(); }
  Index dim() const { return x.cols(); }
};

/// What one update did, per chain. The run loop empties every field before an update; a kernel
/// sizes the fields it reports to N (a stopped chain's entries are ignored).
template <class T>
struct StepInfo {
  Vec<T> acceptance;              // Metropolis probability (MALA, HMC) or NUTS's mean over the tree
  std::vector<char> accepted;     // the proposal was taken (MALA, HMC)
  std::vector<char> divergent;    // the Hamiltonian error exceeded the divergence threshold
  std::vector<int> tree_depth;    // NUTS
  std::vector<int> gradients;     // target evaluations this update
  Vec<T> hamiltonian;             // H = E + K at the start of the update (for E-BFMI)
  void reset();
};

/// The target of a run: the batch evaluation, with evaluation on a subset of the chains (the
/// rows of the chains still moving in a NUTS tree, say) and a count of evaluated points.
template <class T>
class Target {
 public:
  /// `update` tells an annealed evaluation where in the run it is (1-based; 0 before the first).
  using Evaluation = std::function<void(Index update, const Mat<T>& x, Vec<T>* energies, Mat<T>& scores)>;
  Target(Index dim, Evaluation evaluation) : dim_(dim), evaluation_(std::move(evaluation)) {}
  Target(Index dim, BatchEvaluation<T> evaluation);

  Index dim() const { return dim_; }
  void set_update(Index update) { update_ = update; }
  Index update() const { return update_; }
  /// Every row of x (N x D): scores (N x D) and energies (N, when not null).
  void evaluate(const Mat<T>& x, Vec<T>* energies, Mat<T>& scores);
  /// The rows `rows` of x only: results go to the same rows of `energies` (if not null) and
  /// `scores`, which must already have x's shape. An empty list evaluates nothing.
  void evaluate_rows(const Mat<T>& x, std::span<const Index> rows, Vec<T>* energies, Mat<T>& scores);
  std::int64_t evaluations() const { return evaluations_; }
  /// Tempering: row r's energy and score are multiplied by scale[r] (inverse temperatures;
  /// empty: none). evaluate_rows scales each row by its own entry.
  void set_row_scale(std::vector<T> scale) { row_scale_ = std::move(scale); }
  const std::vector<T>& row_scale() const { return row_scale_; }

 private:
  void evaluate_raw(const Mat<T>& x, Vec<T>* energies, Mat<T>& scores);
  Index dim_;
  Evaluation evaluation_;
  Index update_ = 0;
  std::int64_t evaluations_ = 0;
  std::vector<T> row_scale_;
  Mat<T> gathered_x_, gathered_scores_;
  Vec<T> gathered_energies_;
};

/// A Markov kernel over a batch of chains. Implementations hold their options and per-chain
/// state (step sizes, metrics, momenta, adaptation).
template <class T>
class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual std::string name() const = 0;
  /// Sets up the per-chain state for the chains in `s` (x holds the initial points) and
  /// evaluates what the kernel keeps (energies, scores); `warmup` is the number of updates the
  /// kernel may spend adapting. A chain whose initial evaluation is not finite is marked dead.
  virtual void init(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index warmup) = 0;
  /// Update k (1-based) of every live chain.
  virtual void step(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index k, StepInfo<T>& info) = 0;
  /// Per chain, the step size in use (after warm-up: the adapted one).
  virtual Vec<T> step_size() const = 0;
  /// Adds what the kernel counted to the run's result (acceptance counts, swap rates).
  virtual void report(SampleResult<T>&) const {}
};

/// Evaluates energies and scores of all rows of s.x and marks chains with a non-finite energy
/// or score dead (for kernels' init).
template <class T>
void evaluate_state(ChainState<T>& s, Target<T>& target, bool with_energy);

}  // namespace ebm
