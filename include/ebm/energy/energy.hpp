#pragma once
// The Energy contract. An energy on R^D maps a batch x (N x D, one point per row) to N
// energies; p(x) is proportional to exp(-E(x)). A type can provide E in either or both forms:
//
//  - differentiable: `ad::Var<T> energy(ad::Var<T> x) const`, written with ad ops (x is N x D,
//    the result N x 1). Autodiff then supplies the score -grad_x E, and training can take
//    gradients of gradients through it.
//  - closed form: `void energy(const Mat<T>& x, Vec<T>& out) const` (N energies) and
//    `void score(const Mat<T>& x, Mat<T>& out) const` (N x D, the score -grad_x E).
//
// Both need `Index dim() const`. Evaluation prefers the closed form when there is one.
#include <ebm/ad/tape.hpp>
#include <ebm/core/types.hpp>

#include <concepts>
#include <memory>
#include <string>

namespace ebm {

template <class E, class T>
concept DifferentiableEnergy = requires(const E& e, ad::Var<T> x) {
  { e.dim() } -> std::convertible_to<Index>;
  { e.energy(x) } -> std::same_as<ad::Var<T>>;
};

template <class E, class T>
concept ClosedFormEnergy = requires(const E& e, const Mat<T>& x, Vec<T>& energies, Mat<T>& scores) {
  { e.dim() } -> std::convertible_to<Index>;
  e.energy(x, energies);
  e.score(x, scores);
};

template <class E, class T>
concept Energy = DifferentiableEnergy<E, T> || ClosedFormEnergy<E, T>;

/// Evaluates any Energy on batches; holds the tape that autodiff needs, reused call to call.
/// Not thread-safe (one per thread); the ops inside use all threads.
template <class T>
class EnergyEvaluator {
 public:
  /// At x (N x D): energies (N) when `energies` is not null, scores (N x D) when `scores` is
  /// not null. A closed-form energy computes only what is asked for.
  template <Energy<T> E>
  void evaluate(const E& e, const Mat<T>& x, Vec<T>* energies, Mat<T>* scores) {
    check_dim(e.dim(), x);
    if constexpr (ClosedFormEnergy<E, T>) {
      if (energies) e.energy(x, *energies);
      if (scores) e.score(x, *scores);
    } else {
      tape_.reset();
      const ad::Var<T> xv = tape_.variable_ref(x);
      if (!scores) {
        ad::NoGrad<T> no_grad(tape_);
        if (energies) *energies = e.energy(xv).value();
        return;
      }
      const ad::Var<T> y = e.energy(xv);
      check_energy_shape(y, x.rows());
      if (energies) *energies = y.value();
      score_into(y, xv, *scores);
    }
  }
  template <Energy<T> E>
  void evaluate(const E& e, const Mat<T>& x, Vec<T>& energies, Mat<T>* scores) {
    evaluate(e, x, &energies, scores);
  }
  template <Energy<T> E>
  Vec<T> energy(const E& e, const Mat<T>& x) {
    Vec<T> out;
    evaluate(e, x, out, nullptr);
    return out;
  }
  template <Energy<T> E>
  Mat<T> score(const E& e, const Mat<T>& x) {
    Vec<T> energies;
    Mat<T> out;
    evaluate(e, x, energies, &out);
    return out;
  }
  ad::Tape<T>& tape() { return tape_; }

 private:
  static void check_dim(Index dim, const Mat<T>& x);
  static void check_energy_shape(const ad::Var<T>& y, Index n);
  void score_into(const ad::Var<T>& y, const ad::Var<T>& x, Mat<T>& out);  // -grad_x sum(y)
  ad::Tape<T> tape_;
};

/// A type-erased energy, for the runtime boundary (files, the command line).
template <class T>
class AnyEnergy {
 public:
  template <Energy<T> E>
  explicit AnyEnergy(E e, std::string name = "energy") : impl_(std::make_shared<Model<E>>(std::move(e))), name_(std::move(name)) {}

  Index dim() const { return impl_->dim(); }
  const std::string& name() const { return name_; }
  /// True when the energy can be recorded on a tape (training, exact Laplacians).
  bool differentiable() const { return impl_->differentiable(); }
  /// Records E(x) (N x 1); throws InvalidArgument for closed-form-only energies.
  ad::Var<T> energy(ad::Var<T> x) const { return impl_->energy(x); }
  /// As EnergyEvaluator::evaluate, using the given evaluator.
  void evaluate(EnergyEvaluator<T>& ev, const Mat<T>& x, Vec<T>* energies, Mat<T>* scores) const {
    impl_->evaluate(ev, x, energies, scores);
  }
  void evaluate(EnergyEvaluator<T>& ev, const Mat<T>& x, Vec<T>& energies, Mat<T>* scores) const {
    impl_->evaluate(ev, x, &energies, scores);
  }

 private:
  struct Concept {
    virtual ~Concept() = default;
    virtual Index dim() const = 0;
    virtual bool differentiable() const = 0;
    virtual ad::Var<T> energy(ad::Var<T> x) const = 0;
    virtual void evaluate(EnergyEvaluator<T>& ev, const Mat<T>& x, Vec<T>* e, Mat<T>* s) const = 0;
  };
  template <class E>
  struct Model final : Concept {
    explicit Model(E v) : e(std::move(v)) {}
    Index dim() const override { return static_cast<Index>(e.dim()); }
    bool differentiable() const override { return DifferentiableEnergy<E, T>; }
    ad::Var<T> energy(ad::Var<T> x) const override {
      if constexpr (DifferentiableEnergy<E, T>) return e.energy(x);
      else throw_not_differentiable();
    }
    void evaluate(EnergyEvaluator<T>& ev, const Mat<T>& x, Vec<T>* out, Mat<T>* s) const override {
      ev.evaluate(e, x, out, s);
    }
    E e;
  };
  [[noreturn]] static void throw_not_differentiable();
  std::shared_ptr<const Concept> impl_;
  std::string name_;
};

extern template class EnergyEvaluator<float>;
extern template class EnergyEvaluator<double>;
extern template class AnyEnergy<float>;
extern template class AnyEnergy<double>;

}  // namespace ebm
