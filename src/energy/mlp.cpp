#include <ebm/ad/ops.hpp>
#include <ebm/core/check.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/energy/mlp.hpp>

#include <cmath>

namespace ebm {
ad::Fn activation_fn(Activation a) {
  switch (a) {
    case Activation::Softplus: return ad::Fn::Softplus;
    case Activation::Silu: return ad::Fn::Silu;
    case Activation::Tanh: return ad::Fn::Tanh;
    case Activation::Gelu: return ad::Fn::Gelu;
    case Activation::Elu: return ad::Fn::Elu;
    case Activation::Relu: return ad::Fn::Relu;
  }
  return ad::Fn::Softplus;
}

double activation_param(Activation a) { return a == Activation::Elu ? 1.0 : 0.0; }

namespace {

constexpr Activation kActivations[] = {Activation::Softplus, Activation::Silu, Activation::Tanh,
                                       Activation::Gelu,     Activation::Elu,  Activation::Relu};

}  // namespace

std::string_view activation_name(Activation a) { return ad::fn_name(activation_fn(a)); }

Activation parse_activation(std::string_view name) {
  for (Activation a : kActivations)
    if (activation_name(a) == name) return a;
  throw InvalidArgument("activation: unknown name '" + std::string(name) +
                        "' (expected softplus, silu, tanh, gelu, elu or relu)");
}

bool activation_is_smooth(Activation a) { return a != Activation::Relu; }

void MlpOptions::validate() const {
  require(widths.size() >= 2, "MlpOptions::widths", "needs at least input and output widths, got " +
                                                        std::to_string(widths.size()) + " entries");
  for (std::size_t l = 0; l < widths.size(); ++l)
    require(widths[l] >= 1, "MlpOptions::widths", "entry " + std::to_string(l) + " is " +
                                                      std::to_string(widths[l]) + ", must be >= 1");
  require(widths.back() == 1, "MlpOptions::widths", "last entry (the energy) must be 1, got " +
                                                        std::to_string(widths.back()));
}

template <class T>
Mlp<T>::Mlp(const MlpOptions& options) : activation_(options.activation) {
  options.validate();
  for (std::size_t l = 0; l + 1 < options.widths.size(); ++l) {
    const Index in = options.widths[l], out = options.widths[l + 1];
    const T bound = T(1) / std::sqrt(T(in));
    Mat<T> w(out, in), b(1, out);
    const CounterRng rng(options.seed, l);
    rng.uniform<T>(0, std::span<T>(w.data(), static_cast<std::size_t>(w.size())));
    rng.uniform<T>(1, std::span<T>(b.data(), static_cast<std::size_t>(b.size())));
    weights_.push_back(((w.array() * 2 - 1) * bound).matrix());
    biases_.push_back(((b.array() * 2 - 1) * bound).matrix());
  }
  parameters_changed();
}

template <class T>
void Mlp<T>::parameters_changed() {
  transposed_.resize(weights_.size());
  for (std::size_t l = 0; l < weights_.size(); ++l) {
    const Index in = l == 0 ? weights_[0].cols() : weights_[l - 1].rows();
    const Index out = l + 1 == weights_.size() ? 1 : weights_[l + 1].cols();
    require_shape(weights_[l], out, in, "ebm::Mlp", "weight " + std::to_string(l));
    require_shape(biases_[l], 1, out, "ebm::Mlp", "bias " + std::to_string(l));
    transposed_[l] = weights_[l].transpose();
  }
}

template <class T>
void Mlp<T>::set_weight(Index l, const Mat<T>& w) {
  require(l >= 0 && l < layers(), "ebm::Mlp::set_weight", [&] { return "layer " + std::to_string(l) + " out of range"; });
  require_shape(w, weight(l).rows(), weight(l).cols(), "ebm::Mlp::set_weight", "w");
  weights_[static_cast<std::size_t>(l)] = w;
  parameters_changed();
}

template <class T>
void Mlp<T>::set_bias(Index l, const Mat<T>& b) {
  require(l >= 0 && l < layers(), "ebm::Mlp::set_bias", [&] { return "layer " + std::to_string(l) + " out of range"; });
  require_shape(b, 1, bias(l).cols(), "ebm::Mlp::set_bias", "b");
  biases_[static_cast<std::size_t>(l)] = b;
  parameters_changed();
}

template <class T>
std::size_t Mlp<T>::parameter_count() const {
  std::size_t n = 0;
  for (std::size_t l = 0; l < weights_.size(); ++l)
    n += static_cast<std::size_t>(weights_[l].size() + biases_[l].size());
  return n;
}

template <class T>
std::vector<ParameterSpec> Mlp<T>::parameter_specs() const {
  std::vector<ParameterSpec> specs;
  for (std::size_t l = 0; l < weights_.size(); ++l) {
    const std::string index = std::to_string(2 * l);  // activations take the odd indices
    specs.push_back({index + ".weight", weights_[l].rows(), weights_[l].cols()});
    specs.push_back({index + ".bias", 1, biases_[l].cols(), true});
  }
  return specs;
}

template <class T>
std::vector<Mat<T>> Mlp<T>::parameter_values() const {
  std::vector<Mat<T>> values;
  for (std::size_t l = 0; l < weights_.size(); ++l) {
    values.push_back(weights_[l]);
    values.push_back(biases_[l]);
  }
  return values;
}

template <class T>
std::optional<DenseChain> Mlp<T>::dense_chain() const {
  if (weights_.size() < 2) return std::nullopt;
  DenseChain chain;
  for (std::size_t l = 0; l < weights_.size(); ++l) {
    chain.weight.push_back(2 * l);
    chain.bias.push_back(2 * l + 1);
  }
  chain.activation = activation_fn(activation_);
  chain.activation_param = activation_param(activation_);
  return chain;
}

template <class T>
std::string Mlp<T>::second_order_issue() const {
  if (activation_is_smooth(activation_)) return {};
  return std::string(activation_name(activation_)) + ", whose second derivative is zero almost everywhere";
}

template <class T>
std::vector<ad::Var<T>> Mlp<T>::bind(ad::Tape<T>& tape, bool requires_grad) const {
  std::vector<ad::Var<T>> params;
  params.reserve(2 * weights_.size());
  for (std::size_t l = 0; l < weights_.size(); ++l) {
    const Mat<T>& w = weights_[l];
    params.push_back(tape.leaf_ref(w.data(), w.rows(), w.cols(), requires_grad, transposed_[l].data()));
    params.push_back(requires_grad ? tape.variable_ref(biases_[l]) : tape.constant_ref(biases_[l]));
  }
  return params;
}

template <class T>
ad::Var<T> Mlp<T>::energy(ad::Var<T> x, const std::vector<ad::Var<T>>& params) const {
  require(params.size() == 2 * weights_.size(), "ebm::Mlp::energy", [&] {
    return "expected " + std::to_string(2 * weights_.size()) + " parameters, got " + std::to_string(params.size());
  });
  require(x.cols() == dim(), "ebm::Mlp::energy", [&] {
    return "x has shape " + shape_str(x.rows(), x.cols()) + ", expected Nx" + std::to_string(dim());
  });
  ad::Var<T> h = x;
  const ad::Fn fn = activation_fn(activation_);
  const T param = T(activation_param(activation_));
  for (std::size_t l = 0; l < weights_.size(); ++l) {
    h = ad::linear(h, params[2 * l], params[2 * l + 1]);
    if (l + 1 < weights_.size()) h = ad::apply(fn, h, 0, param);
  }
  return h;
}

template <class T>
Vec<T> Mlp<T>::energy(ad::Tape<T>& tape, const Mat<T>& x) const {
  tape.reset();
  ad::NoGrad<T> no_grad(tape);
  const auto params = bind(tape, false);
  return energy(tape.constant_ref(x), params).value();
}

template <class T>
void Mlp<T>::score(ad::Tape<T>& tape, const Mat<T>& x, Mat<T>& out) const {
  tape.reset();
  const auto params = bind(tape, false);
  const ad::Var<T> xv = tape.variable_ref(x);
  const auto g = tape.grad(ad::sum(energy(xv, params)), {xv});
  out.resize(x.rows(), x.cols());
  out = -g[0].value();
}

template <class T>
nn::Network<T> to_network(const Mlp<T>& mlp) {
  std::vector<Index> widths = {mlp.dim()};
  for (Index l = 0; l < mlp.layers(); ++l) widths.push_back(mlp.weight(l).rows());
  nn::Network<T> net = nn::Network<T>::from_json(nn::mlp_architecture(widths, activation_name(mlp.activation())), 0);
  const std::vector<Mat<T>> values = mlp.parameter_values();
  net.edit_parameters([&](const std::vector<Mat<T>*>& p) {
    for (std::size_t k = 0; k < p.size(); ++k) *p[k] = values[k];
  });
  return net;
}

template <class T>
Mlp<T> to_mlp(const nn::Network<T>& network) {
  const std::optional<DenseChain> chain = network.dense_chain();
  require(chain.has_value(), "ebm::to_mlp", "the network is not a plain MLP (linear layers and one activation)");
  const Activation* act = nullptr;
  for (const Activation& a : kActivations)
    if (activation_fn(a) == chain->activation && activation_param(a) == chain->activation_param) act = &a;
  require(act != nullptr, "ebm::to_mlp", [&] { return "activation " + std::string(ad::fn_name(chain->activation)) + " has no Mlp equivalent"; });
  const auto& specs = network.parameter_specs();
  MlpOptions o;
  o.widths = {network.dim()};
  for (std::size_t w : chain->weight) o.widths.push_back(specs[w].rows);
  o.activation = *act;
  Mlp<T> mlp(o);
  const auto& values = network.parameter_values();
  mlp.edit_parameters([&](const std::vector<Mat<T>*>& p) {
    for (std::size_t l = 0; l < chain->weight.size(); ++l) {
      *p[2 * l] = values[chain->weight[l]];
      *p[2 * l + 1] = values[chain->bias[l]];
    }
  });
  return mlp;
}

template class Mlp<float>;
template class Mlp<double>;
template nn::Network<float> to_network<float>(const Mlp<float>&);
template nn::Network<double> to_network<double>(const Mlp<double>&);
template Mlp<float> to_mlp<float>(const nn::Network<float>&);
template Mlp<double> to_mlp<double>(const nn::Network<double>&);

}  // namespace ebm
