#pragma once
// What a trainable network declares about its parameters: a name (as the PyTorch module that
// mirrors it would name the tensor in its state_dict) and a shape.
#include <ebm/ad/elementwise.hpp>
#include <ebm/core/types.hpp>

#include <string>
#include <vector>

namespace ebm {

struct ParameterSpec {
  std::string name;   // e.g. "0.weight", "3.body.1.bias", "embed.weight"
  Index rows = 0, cols = 0;  // the matrix the network holds; a bias or a norm's scale is 1 x n
  bool vector = false;       // a bias or a norm's scale or shift (rows == 1), which torch keeps 1-D
  /// The tensor's shape in a model file: {cols} for a vector (as torch stores a bias), else
  /// {rows, cols} (a one-output layer's weight stays [1, in], as torch.nn.Linear's).
  std::vector<Index> file_shape() const {
    return vector ? std::vector<Index>{cols} : std::vector<Index>{rows, cols};
  }
};

/// Capability of a network that is a plain chain x -> W_0 x + b_0 -> act -> ... -> W_L h + b_L
/// (one output): exact score matching then propagates the Jacobian and the Laplacian forward
/// through it instead of taking D backward passes. Indices are into the bind() order.
struct DenseChain {
  std::vector<std::size_t> weight, bias;  // per linear layer: out x in, 1 x out
  ad::Fn activation = ad::Fn::Softplus;  // between the linear layers
  double activation_param = 0;
};

}  // namespace ebm
