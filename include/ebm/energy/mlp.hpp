#pragma once
// A multilayer-perceptron energy E(x) = MLP(x), D -> H ... -> 1, built from ad ops. Layers are
// laid out as a PyTorch nn.Sequential of Linear layers and activations, so weights map to and
// from torch one to one.
#include <ebm/ad/tape.hpp>
#include <ebm/core/types.hpp>
#include <ebm/nn/network.hpp>
#include <ebm/nn/parameter.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ebm {

enum class Activation { Softplus, Silu, Tanh, Gelu, Elu, Relu };

std::string_view activation_name(Activation a);
/// Parses "softplus", "silu", "tanh", "gelu", "elu" or "relu"; throws InvalidArgument otherwise.
Activation parse_activation(std::string_view name);
/// False for ReLU, whose second derivative is zero almost everywhere.
bool activation_is_smooth(Activation a);
/// The elementwise function behind an activation and its parameter (ELU's alpha = 1).
ad::Fn activation_fn(Activation a);
double activation_param(Activation a);

struct MlpOptions {
  std::vector<Index> widths = {2, 128, 128, 1};  // D, hidden widths..., 1
  Activation activation = Activation::Softplus;
  std::uint64_t seed = 0;  // initialisation as torch.nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  void validate() const;
};

template <class T>
class Mlp {
 public:
  explicit Mlp(const MlpOptions& options = {});

  Index dim() const { return weights_.front().cols(); }
  Index layers() const { return static_cast<Index>(weights_.size()); }
  Activation activation() const { return activation_; }
  std::size_t parameter_count() const;

  /// Layer l: weight (out x in) and bias (1 x out), as torch.nn.Linear.
  const Mat<T>& weight(Index l) const { return weights_[static_cast<std::size_t>(l)]; }
  const Mat<T>& bias(Index l) const { return biases_[static_cast<std::size_t>(l)]; }
  /// Replace one layer's weight or bias; the shape must stay the same.
  void set_weight(Index l, const Mat<T>& w);
  void set_bias(Index l, const Mat<T>& b);
  /// Change parameters in place (an optimizer step): edit receives pointers to weight_0,
  /// bias_0, weight_1, ... and must keep their shapes.
  template <class Edit>
  void edit_parameters(Edit&& edit) {
    std::vector<Mat<T>*> params;
    for (std::size_t l = 0; l < weights_.size(); ++l) {
      params.push_back(&weights_[l]);
      params.push_back(&biases_[l]);
    }
    edit(params);
    parameters_changed();
  }

  /// The model seam (train/model.hpp): names as torch.nn.Sequential ("0.weight", "0.bias",
  /// "2.weight", ...), copies of the values, and the capabilities.
  std::vector<ParameterSpec> parameter_specs() const;
  std::vector<Mat<T>> parameter_values() const;
  /// Present for two or more layers: exact SM propagates the Laplacian forward.
  std::optional<DenseChain> dense_chain() const;
  std::string second_order_issue() const;

  /// The parameters as leaves on a tape, without copying: weight_0, bias_0, weight_1, ...
  /// Valid until the tape's reset() and while the parameters are unchanged. Each weight leaf
  /// carries the MLP's cached transpose, so x W^T needs no transposition per step.
  std::vector<ad::Var<T>> bind(ad::Tape<T>& tape, bool requires_grad) const;
  /// Records E(x): x (N x D) -> N x 1, with params from bind().
  ad::Var<T> energy(ad::Var<T> x, const std::vector<ad::Var<T>>& params) const;
  /// Records E(x) with the parameters as constants on x's tape: the DifferentiableEnergy
  /// contract (energy/energy.hpp), for sampling.
  ad::Var<T> energy(ad::Var<T> x) const { return energy(x, bind(*x.tape(), false)); }

  /// E(x) for a batch, x N x D -> N energies. Uses (and resets) the given tape.
  Vec<T> energy(ad::Tape<T>& tape, const Mat<T>& x) const;
  /// The score -grad_x E(x), x N x D -> N x D, written to out. Uses (and resets) the tape.
  void score(ad::Tape<T>& tape, const Mat<T>& x, Mat<T>& out) const;

 private:
  void parameters_changed();  // checks shapes, refreshes the transposes
  std::vector<Mat<T>> weights_, biases_;
  std::vector<Mat<T>> transposed_;  // weights_[l]^T, in x out
  Activation activation_;
};

/// The equivalent network ({"type": "mlp", ...}, the same tensors): equal energies bit for bit.
template <class T>
nn::Network<T> to_network(const Mlp<T>& mlp);
/// The Mlp of a network that offers the DenseChain capability (a plain MLP); InvalidArgument
/// naming the network otherwise.
template <class T>
Mlp<T> to_mlp(const nn::Network<T>& network);

extern template class Mlp<float>;
extern template class Mlp<double>;
extern template nn::Network<float> to_network<float>(const Mlp<float>&);
extern template nn::Network<double> to_network<double>(const Mlp<double>&);
extern template Mlp<float> to_mlp<float>(const nn::Network<float>&);
extern template Mlp<double> to_mlp<double>(const nn::Network<double>&);

}  // namespace ebm
