#pragma once
// A trainable energy: E_phi(x) recorded with ad ops from parameters phi bound on a tape. The
// objectives and the trainer work on this small interface; ModelOf adapts any type with the same
// members (Mlp<T>, a user's own parametric energy) to it.
#include <ebm/ad/tape.hpp>
#include <ebm/core/types.hpp>
#include <ebm/energy/mlp.hpp>

#include <functional>
#include <type_traits>
#include <vector>

namespace ebm {

template <class T>
class Model {
 public:
  virtual ~Model() = default;
  virtual Index dim() const = 0;
  /// The parameters as leaves on `tape`, in a fixed order (the order of gradients everywhere).
  virtual std::vector<ad::Var<T>> bind(ad::Tape<T>& tape, bool requires_grad) const = 0;
  /// Records E(x): x (N x D) -> N x 1, with parameters from bind() on x's tape.
  virtual ad::Var<T> energy(ad::Var<T> x, const std::vector<ad::Var<T>>& params) const = 0;
  /// Changes the parameters in place (optimizer steps); edit gets them in bind() order and must
  /// keep their shapes.
  virtual void edit_parameters(const std::function<void(const std::vector<Mat<T>*>&)>& edit) = 0;
  /// Copies of the current parameter values, in bind() order.
  virtual std::vector<Mat<T>> parameter_values() const = 0;
  /// The MLP behind the model, if any: exact score matching then propagates the Laplacian
  /// forward instead of taking D backward passes.
  virtual const Mlp<T>* mlp() const { return nullptr; }

  /// The DifferentiableEnergy contract (energy/energy.hpp), with the parameters as constants:
  /// the samplers draw negatives from the model through this.
  ad::Var<T> energy(ad::Var<T> x) const { return energy(x, bind(*x.tape(), false)); }
};

/// A Model<T> view of `e` (kept by reference: e must outlive the view). E needs dim(),
/// bind(tape, requires_grad), energy(x, params) and edit_parameters(edit) as Mlp<T> has them.
template <class T, class E>
class ModelOf final : public Model<T> {
 public:
  explicit ModelOf(E& e) : e_(e) {}
  Index dim() const override { return e_.dim(); }
  std::vector<ad::Var<T>> bind(ad::Tape<T>& tape, bool requires_grad) const override {
    return e_.bind(tape, requires_grad);
  }
  ad::Var<T> energy(ad::Var<T> x, const std::vector<ad::Var<T>>& params) const override {
    return e_.energy(x, params);
  }
  using Model<T>::energy;
  void edit_parameters(const std::function<void(const std::vector<Mat<T>*>&)>& edit) override {
    e_.edit_parameters([&](const std::vector<Mat<T>*>& p) { edit(p); });
  }
  std::vector<Mat<T>> parameter_values() const override {
    std::vector<Mat<T>> values;
    if constexpr (std::is_same_v<std::remove_const_t<E>, Mlp<T>>) {
      for (Index l = 0; l < e_.layers(); ++l) {
        values.push_back(e_.weight(l));
        values.push_back(e_.bias(l));
      }
      return values;
    }
    const_cast<E&>(e_).edit_parameters([&](const std::vector<Mat<T>*>& p) {
      for (const Mat<T>* m : p) values.push_back(*m);
    });
    return values;
  }
  const Mlp<T>* mlp() const override {
    if constexpr (std::is_same_v<std::remove_const_t<E>, Mlp<T>>) return &e_;
    else return nullptr;
  }

 private:
  E& e_;
};

}  // namespace ebm
