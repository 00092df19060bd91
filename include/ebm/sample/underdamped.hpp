#pragma once
// Underdamped (kinetic) Langevin dynamics, dx = p dt, dp = s(x) dt - gamma p dt + sqrt(2 gamma) dW,
// discretised by the BAOAB splitting (Leimkuhler & Matthews 2013): half kick, half drift, the
// exact Ornstein-Uhlenbeck step on p, half drift, half kick. One score evaluation per update;
// unadjusted, so biased at O(h^2) in the configurational marginal (smaller than ULA's O(h)).
// Unit mass. The momentum is carried from update to update (that is what lets it travel);
// chain c's initial momentum is drawn at counter 2^63 + 1, the O-step noise of update k at
// counter k - 1, both from the chain's stream.
#include <ebm/sample/kernel.hpp>

#include <string>

namespace ebm {

template <class T>
struct UnderdampedSettings {
  T step_size = T(0.1);
  T friction = T(1);  // gamma; 1/gamma is the momentum's memory in time units
  void validate() const;
};

template <class T>
class UnderdampedKernel final : public Kernel<T> {
 public:
  explicit UnderdampedKernel(UnderdampedSettings<T> settings);
  std::string name() const override { return "underdamped"; }
  /// Keeps energies as well as scores (parallel tempering swaps on them).
  void init(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index warmup) override;
  void step(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index k, StepInfo<T>& info) override;
  Vec<T> step_size() const override { return Vec<T>::Constant(momentum_.rows(), settings_.step_size); }
  const Mat<T>& momentum() const { return momentum_; }  // N x D

 private:
  UnderdampedSettings<T> settings_;
  Mat<T> momentum_;
};

}  // namespace ebm
