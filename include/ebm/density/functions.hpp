#pragma once
// Batch callbacks the density and diag layers run on, and adapters from any energy to them.
// Taking callbacks keeps the numerical code out of templates on the energy type (one compiled
// implementation per scalar type) and lets a score field that is not the gradient of any energy
// (a score network) be used where only a score is needed.
#include <ebm/core/types.hpp>
#include <ebm/energy/energy.hpp>

#include <concepts>
#include <functional>
#include <memory>
#include <type_traits>

namespace ebm {

/// A score field: at points (M x D) writes scores (M x D). Called from one thread at a time.
template <class T>
using ScoreFunction = std::function<void(const Mat<T>& points, Mat<T>& scores)>;

/// An energy: at points (M x D) writes energies (M), and scores (M x D) when `scores` is not
/// null. Called from one thread at a time.
template <class T>
using EnergyFunction = std::function<void(const Mat<T>& points, Vec<T>& energies, Mat<T>* scores)>;

/// Anything these layers accept as an energy: a type satisfying Energy<E, T>, or AnyEnergy<T>.
template <class E, class T>
concept EnergyLike = Energy<E, T> || std::same_as<std::remove_cvref_t<E>, AnyEnergy<T>>;

namespace detail {
/// Throws InvalidArgument unless the energy's dim equals the data's column count.
void check_energy_dim(Index energy_dim, Index data_cols, const char* where);
}  // namespace detail

/// The energy's score field. Keeps a reference to `energy`, which must outlive the result.
template <class T, class E>
  requires EnergyLike<E, T>
ScoreFunction<T> score_function(const E& energy) {
  auto ev = std::make_shared<EnergyEvaluator<T>>();
  return [&energy, ev](const Mat<T>& x, Mat<T>& s) {
    // AnyEnergy also models DifferentiableEnergy; it must go through its own dispatch.
    if constexpr (std::same_as<E, AnyEnergy<T>>) energy.evaluate(*ev, x, nullptr, &s);
    else ev->evaluate(energy, x, nullptr, &s);
  };
}

/// The energy as an EnergyFunction. Keeps a reference to `energy`, which must outlive the result.
template <class T, class E>
  requires EnergyLike<E, T>
EnergyFunction<T> energy_function(const E& energy) {
  auto ev = std::make_shared<EnergyEvaluator<T>>();
  return [&energy, ev](const Mat<T>& x, Vec<T>& e, Mat<T>* s) {
    if constexpr (std::same_as<E, AnyEnergy<T>>) energy.evaluate(*ev, x, &e, s);
    else ev->evaluate(energy, x, &e, s);
  };
}

}  // namespace ebm
