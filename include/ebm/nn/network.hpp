#pragma once
// Networks described in JSON (docs/networks.md): a Sequential of layers (linear, conv2d,
// avg_pool, upsample, group_norm, film, residual, activations), an optional noise conditioning
// (Fourier features of log sigma, embedded by a linear layer, fed to FiLM layers) and an energy
// head: the scalar output, or 1/2 |x - f(x)|^2. Images are rows in channels-last order
// (ad/patches.hpp). Every layer is built from differentiable ad ops, so any derivative order
// (DSM's gradient of grad_x E, exact SM's Laplacian) goes through any network.
//
// Shapes: x is N x D with D = H W C from "input"; the condition, when the network has one, is
// N x 1 (sigma per row, > 0); the energy is N x 1.
#include <ebm/ad/tape.hpp>
#include <ebm/core/types.hpp>
#include <ebm/nn/parameter.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ebm::nn {

namespace detail {
template <class T>
class Layer;
struct Plan;
}  // namespace detail

/// The per-sample layout a layer sees: H x W x C, channels last. A flat vector is 1 x 1 x D.
struct Shape {
  Index height = 1, width = 1, channels = 1;
  Index size() const { return height * width * channels; }
  std::string str() const;  // "28x28x1"
};

/// What a description declares, found without allocating any parameter (for file readers,
/// which must not let a hostile header decide an allocation).
struct ArchitectureSummary {
  Index dim = 0;
  bool conditional = false;
  std::vector<ParameterSpec> parameters;
  std::string canonical;  // as Network::architecture()
};
/// Throws InvalidArgument as Network::from_json.
ArchitectureSummary inspect_architecture(std::string_view architecture, const std::string& where = "architecture");

template <class T>
class Network {
 public:
  /// Builds the network from its JSON description, parameters initialised from `seed` (as
  /// torch.nn.Linear / Conv2d: U(-1/sqrt(fan_in), 1/sqrt(fan_in)); norms at 1 and 0). Throws
  /// InvalidArgument "<where>: <path>: ..." naming the bad field and value.
  static Network from_json(std::string_view architecture, std::uint64_t seed, const std::string& where = "architecture");

  Index dim() const { return input_.size(); }
  Shape input_shape() const { return input_; }
  /// True when energy() needs the condition (the noise level sigma per row).
  bool conditional() const;
  /// The description in canonical form (sugar such as "type": "mlp" expanded, keys sorted):
  /// what model files store; from_json of it builds the same network.
  const std::string& architecture() const { return architecture_; }

  const std::vector<ParameterSpec>& parameter_specs() const { return specs_; }
  std::size_t parameter_count() const;
  /// The parameters as leaves on `tape`, in parameter_specs() order, without copying; valid
  /// until the tape's reset() and while the parameters are unchanged.
  std::vector<ad::Var<T>> bind(ad::Tape<T>& tape, bool requires_grad) const;
  /// Records E(x | condition): x N x D, condition N x 1 (or an empty Var for an unconditional
  /// network) -> N x 1. Throws InvalidArgument for a missing or misshapen condition.
  ad::Var<T> energy(ad::Var<T> x, const std::vector<ad::Var<T>>& params, ad::Var<T> condition = {}) const;
  /// The DifferentiableEnergy contract (parameters as constants); unconditional networks only.
  ad::Var<T> energy(ad::Var<T> x) const;

  /// Changes parameters in place: edit gets pointers in parameter_specs() order and must keep
  /// their shapes (checked afterwards: InvalidArgument naming the parameter).
  template <class Edit>
  void edit_parameters(Edit&& edit) {
    std::vector<Mat<T>*> p;
    p.reserve(values_.size());
    for (auto& v : values_) p.push_back(&v);
    edit(p);
    parameters_changed();
  }
  const std::vector<Mat<T>>& parameter_values() const { return values_; }

  /// The DenseChain capability (exact SM's forward route), when the network is a plain MLP.
  std::optional<DenseChain> dense_chain() const;
  /// Why exact or sliced score matching is ill-posed for this network (a ReLU), or empty.
  std::string second_order_issue() const;

 private:
  friend ArchitectureSummary inspect_architecture(std::string_view, const std::string&);
  static Network build(std::string_view architecture, std::uint64_t seed, const std::string& where, bool allocate);
  void parameters_changed();
  Shape input_;
  std::string architecture_;
  std::shared_ptr<const detail::Plan> plan_;                      // head, conditioning
  std::vector<std::shared_ptr<const detail::Layer<T>>> layers_;  // immutable, shared by copies
  std::vector<ParameterSpec> specs_;
  std::vector<Mat<T>> values_;
  std::vector<char> cache_transpose_;
  std::vector<Mat<T>> transposed_;  // values_[i]^T where cache_transpose_[i]
};

/// A noise-conditional network at one noise level sigma, as an energy on x (the
/// DifferentiableEnergy contract of energy/energy.hpp): E(x | sigma), x N x D -> N x 1.
template <class T>
struct AtNoiseLevel {
  std::shared_ptr<const Network<T>> network;
  T sigma = T(1);
  Index dim() const { return network->dim(); }
  ad::Var<T> energy(ad::Var<T> x) const;
};

extern template class Network<float>;
extern template class Network<double>;
extern template struct AtNoiseLevel<float>;
extern template struct AtNoiseLevel<double>;

/// The architecture JSON of an MLP: {"type": "mlp", "widths": [...], "activation": "..."}.
std::string mlp_architecture(const std::vector<Index>& widths, std::string_view activation);
/// The layer types from_json knows.
std::vector<std::string> layer_types();

}  // namespace ebm::nn
