#pragma once
// A trainable energy: E_phi(x | c) recorded with ad ops from parameters phi bound on a tape,
// optionally conditioned on c (the noise level sigma per row, N x 1). The objectives and the
// trainer work on this small interface; ModelOf adapts any type with the same members
// (nn::Network<T>, Mlp<T>, a user's own parametric energy) to it.
//
// Capabilities a model may offer beyond the minimum:
//  - dense_chain(): it is a plain MLP, so exact score matching propagates the Laplacian forward
//    (a few matrix products) instead of taking D backward passes;
//  - second_order_issue(): why exact or sliced score matching is ill-posed for it (a ReLU).
#include <ebm/ad/tape.hpp>
#include <ebm/core/error.hpp>
#include <ebm/core/types.hpp>
#include <ebm/nn/parameter.hpp>

#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace ebm {

template <class T>
class Model {
 public:
  virtual ~Model() = default;
  virtual Index dim() const = 0;
  /// Names and shapes of the parameters, in bind() order.
  virtual std::vector<ParameterSpec> parameter_specs() const = 0;
  /// True when energy() needs the condition (sigma per row).
  virtual bool conditional() const { return false; }
  /// The parameters as leaves on `tape`, in a fixed order (the order of gradients everywhere).
  virtual std::vector<ad::Var<T>> bind(ad::Tape<T>& tape, bool requires_grad) const = 0;
  /// Records E(x | condition): x (N x D), condition N x 1 or an empty Var -> N x 1, with
  /// parameters from bind() on x's tape.
  virtual ad::Var<T> energy(ad::Var<T> x, const std::vector<ad::Var<T>>& params, ad::Var<T> condition) const = 0;
  /// Changes the parameters in place (optimizer steps); edit gets them in bind() order and must
  /// keep their shapes.
  virtual void edit_parameters(const std::function<void(const std::vector<Mat<T>*>&)>& edit) = 0;
  /// Copies of the current parameter values, in bind() order.
  virtual std::vector<Mat<T>> parameter_values() const = 0;
  virtual std::optional<DenseChain> dense_chain() const { return std::nullopt; }
  virtual std::string second_order_issue() const { return {}; }

  ad::Var<T> energy(ad::Var<T> x, const std::vector<ad::Var<T>>& params) const { return energy(x, params, {}); }
  /// The DifferentiableEnergy contract (energy/energy.hpp), with the parameters as constants:
  /// the samplers draw negatives from an unconditional model through this.
  ad::Var<T> energy(ad::Var<T> x) const { return energy(x, bind(*x.tape(), false), {}); }
};

/// A Model<T> view of `e` (kept by reference: e must outlive the view). E needs dim(),
/// bind(tape, requires_grad), energy(x, params) and edit_parameters(edit); it may have
/// energy(x, params, condition) with conditional(), parameter_specs(), parameter_values(),
/// dense_chain() and second_order_issue(), which the view then forwards.
template <class T, class E>
class ModelOf final : public Model<T> {
 public:
  explicit ModelOf(E& e) : e_(e) {}
  Index dim() const override { return e_.dim(); }
  std::vector<ParameterSpec> parameter_specs() const override {
    if constexpr (requires { e_.parameter_specs(); }) {
      const auto& specs = e_.parameter_specs();
      return std::vector<ParameterSpec>(specs.begin(), specs.end());
    } else {
      std::vector<ParameterSpec> specs;
      const auto values = parameter_values();
      for (std::size_t i = 0; i < values.size(); ++i) {
        std::string name = "p";  // (not "p" + ...: GCC 12 warns falsely on that, -Wrestrict)
        name += std::to_string(i);
        specs.push_back({std::move(name), values[i].rows(), values[i].cols()});
      }
      return specs;
    }
  }
  bool conditional() const override {
    if constexpr (requires { e_.conditional(); }) return e_.conditional();
    else return false;
  }
  std::vector<ad::Var<T>> bind(ad::Tape<T>& tape, bool requires_grad) const override {
    return e_.bind(tape, requires_grad);
  }
  ad::Var<T> energy(ad::Var<T> x, const std::vector<ad::Var<T>>& params, ad::Var<T> condition) const override {
    if constexpr (requires { e_.energy(x, params, condition); }) {
      return e_.energy(x, params, condition);
    } else {
      if (condition.valid()) throw InvalidArgument("ebm::ModelOf::energy: the model takes no condition");
      return e_.energy(x, params);
    }
  }
  using Model<T>::energy;
  void edit_parameters(const std::function<void(const std::vector<Mat<T>*>&)>& edit) override {
    e_.edit_parameters([&](const std::vector<Mat<T>*>& p) { edit(p); });
  }
  std::vector<Mat<T>> parameter_values() const override {
    if constexpr (requires { e_.parameter_values(); }) {
      const auto& v = e_.parameter_values();
      return std::vector<Mat<T>>(v.begin(), v.end());
    } else {
      std::vector<Mat<T>> values;
      const_cast<E&>(e_).edit_parameters([&](const std::vector<Mat<T>*>& p) {
        for (const Mat<T>* m : p) values.push_back(*m);
      });
      return values;
    }
  }
  std::optional<DenseChain> dense_chain() const override {
    if constexpr (requires { e_.dense_chain(); }) return e_.dense_chain();
    else return std::nullopt;
  }
  std::string second_order_issue() const override {
    if constexpr (requires { e_.second_order_issue(); }) return e_.second_order_issue();
    else return {};
  }

 private:
  E& e_;
};

}  // namespace ebm
