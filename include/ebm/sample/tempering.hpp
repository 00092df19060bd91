#pragma once
// Parallel tempering (replica exchange): each chain runs K replicas of a within-replica kernel
// on exp(-beta_k E), beta_0 = 1 > beta_1 > ... > beta_{K-1} = 1 / max_temperature (geometric
// by default), and after every `swap_every` updates proposes to exchange the states of
// neighbouring replicas, accepted with probability min(1, exp((beta_i - beta_j)(E_i - E_j))).
// Swaps alternate between even and odd pairs (the non-reversible scheme of Syed et al. 2021,
// which makes states travel the ladder in round trips rather than diffuse). Kept draws are
// the beta = 1 replica's.
//
// With adapt_ladder, each chain's ladder is moved during warm-up towards equal rejection rates
// between neighbours (Syed et al. 2021: the inverse temperatures re-spaced so that the
// cumulative rejection rate, the "communication barrier", grows by the same amount per pair),
// at updates 50, 100, 200, ... of the warm-up from the swaps since the last move. The ends stay
// at 1 and 1 / max_temperature; the ladder is fixed after warm-up, so the kept draws are exact.
//
// Replica k of chain c (stream first_chain + c) is row c K + k of the within kernel's batch,
// with stream (first_chain + c) K + k; the swap tests draw from the chain's own stream at
// (update, Swap). So a chain gives the same bits alone or in a batch.
#include <ebm/sample/kernel.hpp>

#include <memory>
#include <string>
#include <vector>

namespace ebm {

template <class T>
struct TemperingSettings {
  Index replicas = 8;             // K >= 2
  T max_temperature = T(10);      // the ladder is geometric from 1 to this
  std::vector<T> temperatures;    // or given: K values, the first 1, increasing
  Index swap_every = 1;
  bool adapt_ladder = false;      // re-space the ladder during warm-up (above)
  void validate() const;
  /// The K inverse temperatures beta_k, beta_0 = 1.
  std::vector<T> inverse_temperatures() const;
};

/// log of the acceptance ratio for exchanging the states of two replicas at inverse
/// temperatures beta_i and beta_j whose (untempered) energies are e_i and e_j.
template <class T>
T swap_log_acceptance(T beta_i, T beta_j, T e_i, T e_j) {
  return (beta_i - beta_j) * (e_i - e_j);
}

template <class T>
class TemperingKernel final : public Kernel<T> {
 public:
  /// `within` must keep energies (MALA, HMC, NUTS, underdamped); init checks it.
  TemperingKernel(TemperingSettings<T> settings, std::unique_ptr<Kernel<T>> within);
  std::string name() const override { return "pt(" + within_->name() + ")"; }
  void init(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index warmup) override;
  void step(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index k, StepInfo<T>& info) override;
  /// The beta = 1 replicas' step sizes.
  Vec<T> step_size() const override;
  void report(SampleResult<T>& r) const override;

  /// Over all chains: swaps accepted / proposed between replicas k and k + 1 (K - 1 pairs).
  std::vector<double> swap_rates() const;
  /// Chain c's inverse temperatures (K), as adapted.
  std::vector<T> inverse_temperatures(Index c) const;
  /// Completed round trips (a state's trip from the beta = 1 replica to the hottest and back),
  /// summed over chains.
  std::int64_t round_trips() const { return round_trips_; }

 private:
  TemperingSettings<T> settings_;
  std::unique_ptr<Kernel<T>> within_;
  void respace_ladders(Target<T>& target);

  std::vector<T> beta_;            // per (chain, slot): inverse temperatures, chain-major
  Index K_ = 0, warmup_ = 0, next_respace_ = 0;
  std::vector<std::int64_t> window_accepted_, window_proposed_;  // per (chain, pair), since the last re-spacing
  ChainState<T> replicas_;
  ChainStreams inner_streams_;
  std::vector<std::int64_t> swaps_accepted_, swaps_proposed_;
  std::vector<Index> walker_;      // per (chain, slot): the walker there
  std::vector<signed char> end_;   // per (chain, walker): last end reached (+1 cold, -1 hot, 0 none)
  std::int64_t round_trips_ = 0;
  Index swap_rounds_ = 0;
};

}  // namespace ebm
