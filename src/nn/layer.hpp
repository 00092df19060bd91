#pragma once
// The layer interface and the builder context behind nn::Network (internal to src/nn). A layer
// type is a LayerSpec in the registry (registry.cpp): its JSON fields and a build function that
// reads them, declares its parameters and returns the layer.
#include <ebm/ad/elementwise.hpp>
#include <ebm/ad/tape.hpp>
#include <ebm/nn/network.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ebm::nn::detail {

using json = nlohmann::json;

template <class T>
struct ForwardContext {
  const std::vector<ad::Var<T>>& params;  // the network's, bind() order
  ad::Var<T> embedding;                   // N x E conditioning embedding, or empty
};

template <class T>
class Layer {
 public:
  virtual ~Layer() = default;
  virtual Shape output_shape() const = 0;
  /// x: N x input size -> N x output_shape().size().
  virtual ad::Var<T> forward(ad::Var<T> x, const ForwardContext<T>& c) const = 0;
  /// Non-empty when the layer's second derivative vanishes almost everywhere (ReLU).
  virtual std::string second_order_issue() const { return {}; }
  /// For the DenseChain capability: a linear layer's (weight, bias) indices, or an activation.
  virtual bool dense_linear(std::size_t& /*weight*/, std::size_t& /*bias*/) const { return false; }
  virtual bool activation(ad::Fn& /*fn*/, double& /*param*/) const { return false; }
};

/// How a parameter starts: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as torch's Linear and Conv2d
/// (fan_in > 0), or a constant.
struct Init {
  Index fan_in = 0;
  double constant = 0;
  bool vector = false;  // a bias or norm parameter: 1-D in files (ParameterSpec::vector)
};

/// Reads one JSON object; errors are InvalidArgument("<where>: <path>: ...").
class Fields {
 public:
  Fields(const json& object, std::string path, std::string where);
  [[noreturn]] void fail(const std::string& what) const;
  const std::string& path() const { return path_; }
  const json& object() const { return obj_; }
  bool has(const std::string& key) const { return obj_.contains(key); }
  /// Throws unless every key is "type" or one of `allowed`.
  void only(const std::vector<std::string>& allowed) const;
  Index integer(const std::string& key, Index fallback, Index minimum) const;  // fallback < 0: required
  double number(const std::string& key, double fallback) const;
  std::string text(const std::string& key, const std::string& fallback) const;  // fallback empty: required
  const json& array(const std::string& key) const;
  Fields child(const json& object, const std::string& suffix) const;

 private:
  const json& obj_;
  std::string path_, where_;
};

/// What a build function gets besides its fields: the input shape, and the network's
/// parameter list to declare into.
template <class T>
class Builder {
 public:
  /// allocate = false declares the parameters without allocating them (inspect_architecture).
  Builder(std::uint64_t seed, std::vector<ParameterSpec>& specs, std::vector<Mat<T>>& values,
          std::vector<char>& cache_transpose, bool allocate)
      : seed_(seed), allocate_(allocate), specs_(specs), values_(values), cache_transpose_(cache_transpose) {}
  /// Starts a new parameterised layer: its parameters draw from their own random stream.
  void begin_layer() { ++stream_; counter_ = 0; }
  /// Declares a parameter (rows x cols) named prefix + name; returns its bind() index.
  std::size_t add(const std::string& name, Index rows, Index cols, const Init& init, bool cache_transpose = false);
  /// The embedding width of the network's conditioning (0 when it has none).
  Index embedding_width = 0;
  std::string prefix;  // e.g. "3." or "3.body.0."

 private:
  std::uint64_t seed_;
  bool allocate_;
  std::uint64_t stream_ = ~std::uint64_t{0};
  std::uint64_t counter_ = 0;
  std::vector<ParameterSpec>& specs_;
  std::vector<Mat<T>>& values_;
  std::vector<char>& cache_transpose_;
};

template <class T>
using BuildFn = std::function<std::unique_ptr<Layer<T>>(const Fields&, Shape input, Builder<T>&)>;

struct LayerSpec {
  const char* type;
  std::vector<std::string> fields;  // besides "type"
  BuildFn<float> build_float;
  BuildFn<double> build_double;
  template <class T>
  const BuildFn<T>& build() const {
    if constexpr (sizeof(T) == 4) return build_float;
    else return build_double;
  }
};

/// Every layer type (registry.cpp).
const std::vector<LayerSpec>& layer_specs();
/// Builds the layers in owner's array `key` ("layers", or a residual's "body"), prefixing
/// parameter names with prefix + "i.".
template <class T>
std::vector<std::unique_ptr<Layer<T>>> build_sequence(const Fields& owner, const std::string& key, Shape input,
                                                      Builder<T>& b, const std::string& prefix);

/// The network-wide part of a description: conditioning and head.
struct Plan {
  bool conditional = false;
  Index fourier_features = 0;   // F (even): sin and cos of F/2 frequencies of log sigma
  double max_frequency = 0;     // frequencies max_frequency^(k / (F/2 - 1)), k < F/2
  Index embedding_width = 0;    // E
  ad::Fn embedding_fn = ad::Fn::Silu;
  double embedding_param = 0;
  std::size_t embed_weight = 0, embed_bias = 0;
  bool quadratic = false;       // E = 1/2 |x - f(x)|^2 (else the scalar output)
  int sigma_power = 0;          // E is divided by sigma^sigma_power (conditional only)
};

/// Activation names as in ad::fn_name: softplus, silu, tanh, gelu, elu, relu (and sigmoid).
ad::Fn parse_fn(const Fields& f, const std::string& name);

}  // namespace ebm::nn::detail
