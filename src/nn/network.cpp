#include "layer.hpp"

#include "../core/json_text.hpp"

#include <ebm/ad/ops.hpp>
#include <ebm/core/check.hpp>
#include <ebm/core/rng.hpp>

#include <algorithm>
#include <cmath>

namespace ebm::nn {

std::string Shape::str() const {
  return std::to_string(height) + "x" + std::to_string(width) + "x" + std::to_string(channels);
}

namespace detail {

namespace {
using ebm::detail::join;
// One level deep: a hostile description nested a million levels deep must not overflow the stack.
std::string show(const json& v) { return ebm::detail::json_preview(v); }
}  // namespace

Fields::Fields(const json& object, std::string path, std::string where)
    : obj_(object), path_(std::move(path)), where_(std::move(where)) {
  if (!obj_.is_object()) fail("must be a JSON object, got " + show(obj_));
}

void Fields::fail(const std::string& what) const {
  throw InvalidArgument(where_ + ": " + (path_.empty() ? "" : path_ + ": ") + what);
}

void Fields::only(const std::vector<std::string>& allowed) const {
  for (const auto& item : obj_.items())
    if (item.key() != "type" && std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end())
      fail("unknown field '" + item.key() + "'" + (allowed.empty() ? " (it takes none)" : " (fields: " + join(allowed) + ")"));
}

Index Fields::integer(const std::string& key, Index fallback, Index minimum) const {
  if (!has(key)) {
    if (fallback < 0) fail("missing field '" + key + "'");
    return fallback;
  }
  const json& v = obj_.at(key);
  const double d = v.is_number() ? v.get<double>() : 0.5;
  if (!v.is_number() || d != std::floor(d) || d < double(minimum) || d > 1e9)
    fail("'" + key + "' must be an integer >= " + std::to_string(minimum) + ", got " + show(v));
  return static_cast<Index>(d);
}

double Fields::number(const std::string& key, double fallback) const {
  if (!has(key)) return fallback;
  const json& v = obj_.at(key);
  if (!v.is_number() || !std::isfinite(v.get<double>())) fail("'" + key + "' must be a finite number, got " + show(v));
  return v.get<double>();
}

std::string Fields::text(const std::string& key, const std::string& fallback) const {
  if (!has(key)) {
    if (fallback.empty()) fail("missing field '" + key + "'");
    return fallback;
  }
  const json& v = obj_.at(key);
  if (!v.is_string()) fail("'" + key + "' must be a string, got " + show(v));
  return v.get<std::string>();
}

const json& Fields::array(const std::string& key) const {
  if (!has(key)) fail("missing field '" + key + "'");
  const json& v = obj_.at(key);
  if (!v.is_array()) fail("'" + key + "' must be an array, got " + show(v));
  return v;
}

Fields Fields::child(const json& object, const std::string& suffix) const {
  return Fields(object, path_.empty() ? suffix : path_ + "." + suffix, where_);
}

ad::Fn parse_fn(const Fields& f, const std::string& name) {
  for (ad::Fn fn : {ad::Fn::Softplus, ad::Fn::Silu, ad::Fn::Tanh, ad::Fn::Gelu, ad::Fn::Elu, ad::Fn::Relu, ad::Fn::Sigmoid})
    if (ad::fn_name(fn) == name) return fn;
  f.fail("unknown activation '" + name + "' (expected softplus, silu, tanh, gelu, elu, relu or sigmoid)");
}

template <class T>
std::size_t Builder<T>::add(const std::string& name, Index rows, Index cols, const Init& init, bool cache_transpose) {
  Mat<T> m(allocate_ ? rows : 0, allocate_ ? cols : 0);
  if (!allocate_) {
  } else if (init.fan_in > 0) {
    const T bound = T(1) / std::sqrt(T(init.fan_in));
    CounterRng(seed_, stream_).uniform<T>(counter_++, std::span<T>(m.data(), static_cast<std::size_t>(m.size())));
    m = ((m.array() * 2 - 1) * bound).matrix();
  } else {
    m.setConstant(T(init.constant));
  }
  specs_.push_back({prefix + name, rows, cols, init.vector});
  values_.push_back(std::move(m));
  cache_transpose_.push_back(cache_transpose ? 1 : 0);
  return values_.size() - 1;
}

template <class T>
std::vector<std::unique_ptr<Layer<T>>> build_sequence(const Fields& owner, const std::string& key, Shape input,
                                                      Builder<T>& b, const std::string& prefix) {
  const json& layers = owner.array(key);
  std::vector<std::unique_ptr<Layer<T>>> out;
  Shape shape = input;
  const auto& specs = layer_specs();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Fields f = owner.child(layers[i], key + "[" + std::to_string(i) + "]");
    const std::string type = f.text("type", "");
    const auto spec = std::find_if(specs.begin(), specs.end(), [&](const LayerSpec& s) { return type == s.type; });
    if (spec == specs.end()) f.fail("layer type '" + type + "' is unknown (known: " + join(layer_types()) + ")");
    f.only(spec->fields);
    b.prefix = prefix + std::to_string(i) + ".";
    out.push_back(spec->template build<T>()(f, shape, b));
    shape = out.back()->output_shape();
  }
  return out;
}

}  // namespace detail

std::vector<std::string> layer_types() {
  std::vector<std::string> names;
  for (const auto& s : detail::layer_specs()) names.emplace_back(s.type);
  return names;
}

std::string mlp_architecture(const std::vector<Index>& widths, std::string_view activation) {
  return nlohmann::json{{"type", "mlp"}, {"widths", widths}, {"activation", std::string(activation)}}.dump();
}

namespace {
using detail::Fields;
using detail::json;

// {"type": "mlp", "widths": [D, H..., 1], "activation": a} as the Sequential it stands for.
json expand_mlp(const Fields& f) {
  f.only({"widths", "activation"});
  const json& widths = f.array("widths");
  if (widths.size() < 2) f.fail("'widths' needs at least the input and output widths, got " + ebm::detail::json_preview(widths));
  std::vector<Index> w;
  for (std::size_t i = 0; i < widths.size(); ++i) {
    const json& v = widths[i];
    if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > 1000000000)
      f.fail("'widths' entry " + std::to_string(i) + " must be an integer >= 1, got " + ebm::detail::json_preview(v));
    w.push_back(v.get<Index>());
  }
  if (w.back() != 1) f.fail("the last of 'widths' (the energy) must be 1, got " + std::to_string(w.back()));
  const std::string act = f.text("activation", "softplus");
  detail::parse_fn(f, act);
  json layers = json::array();
  for (std::size_t l = 1; l < w.size(); ++l) {
    if (l > 1) layers.push_back({{"type", act}});
    layers.push_back({{"type", "linear"}, {"out", w[l]}});
  }
  return {{"input", w[0]}, {"layers", layers}};
}

}  // namespace

template <class T>
Network<T> Network<T>::from_json(std::string_view architecture, std::uint64_t seed, const std::string& where) {
  return build(architecture, seed, where, true);
}

ArchitectureSummary inspect_architecture(std::string_view architecture, const std::string& where) {
  const Network<float> net = Network<float>::build(architecture, 0, where, false);
  return {net.dim(), net.conditional(), net.specs_, net.architecture_};
}

template <class T>
Network<T> Network<T>::build(std::string_view architecture, std::uint64_t seed, const std::string& where, bool allocate) {
  json j;
  try {
    j = json::parse(architecture);
  } catch (const json::parse_error& e) {
    const std::string what = e.what();
    throw InvalidArgument(where + ": not valid JSON (" + what.substr(what.find("] ") == std::string::npos ? 0 : what.find("] ") + 2) + ")");
  }
  {
    const Fields top(j, "", where);
    if (top.has("type")) {
      if (top.text("type", "") != "mlp") top.fail("'type' at the top level must be \"mlp\" (or absent), got " + ebm::detail::json_preview(j.at("type")));
      j = expand_mlp(top);
    }
  }
  const Fields top(j, "", where);
  top.only({"input", "layers", "condition", "energy", "sigma_power"});
  Network net;
  auto plan = std::make_shared<detail::Plan>();
  // Input: D, or [H, W, C].
  const json& in = top.has("input") ? j.at("input") : json();
  if (in.is_number_integer() && in.get<long long>() >= 1 && in.get<long long>() <= 1000000000) {
    net.input_ = {1, 1, in.get<Index>()};
  } else if (in.is_array() && in.size() == 3 && std::all_of(in.begin(), in.end(), [](const json& v) {
               return v.is_number_integer() && v.get<long long>() >= 1 && v.get<long long>() <= 100000;
             })) {
    net.input_ = {in[0].get<Index>(), in[1].get<Index>(), in[2].get<Index>()};
  } else {
    top.fail("'input' must be the dimension D or [height, width, channels], got " + (in.is_null() ? std::string("nothing") : ebm::detail::json_preview(in)));
  }
  detail::Builder<T> b(seed, net.specs_, net.values_, net.cache_transpose_, allocate);
  if (top.has("condition")) {
    const Fields c = top.child(j.at("condition"), "condition");
    c.only({"fourier_features", "max_frequency", "width", "activation"});
    plan->conditional = true;
    plan->fourier_features = c.integer("fourier_features", 16, 2);
    if (plan->fourier_features % 2 != 0) c.fail("'fourier_features' must be even, got " + std::to_string(plan->fourier_features));
    plan->max_frequency = c.number("max_frequency", 8.0);
    if (!(plan->max_frequency > 0)) c.fail("'max_frequency' must be > 0");
    plan->embedding_width = c.integer("width", 64, 1);
    plan->embedding_fn = detail::parse_fn(c, c.text("activation", "silu"));
    plan->embedding_param = plan->embedding_fn == ad::Fn::Elu ? 1.0 : 0.0;  // elu's alpha, as the elu layer's default
    b.prefix = "embed.";
    b.begin_layer();
    plan->embed_weight = b.add("weight", plan->embedding_width, plan->fourier_features, {.fan_in = plan->fourier_features}, true);
    plan->embed_bias = b.add("bias", 1, plan->embedding_width, {.fan_in = plan->fourier_features, .vector = true});
    b.embedding_width = plan->embedding_width;
  }
  const std::string head = top.text("energy", "scalar");
  if (head != "scalar" && head != "quadratic") top.fail("'energy' must be \"scalar\" or \"quadratic\", got \"" + head + "\"");
  plan->quadratic = head == "quadratic";
  plan->sigma_power = static_cast<int>(top.integer("sigma_power", 0, 0));
  if (plan->sigma_power > 2) top.fail("'sigma_power' must be 0, 1 or 2, got " + std::to_string(plan->sigma_power));
  if (plan->sigma_power > 0 && !plan->conditional) top.fail("'sigma_power' needs a \"condition\"");
  auto layers = detail::build_sequence<T>(top, "layers", net.input_, b, "");
  const Shape out = layers.empty() ? net.input_ : layers.back()->output_shape();
  if (!plan->quadratic && out.size() != 1)
    top.fail("the last layer gives " + std::to_string(out.size()) + " numbers per sample; a scalar energy needs 1 (end with {\"type\": \"linear\", \"out\": 1})");
  if (plan->quadratic && out.size() != net.input_.size())
    top.fail("the last layer gives " + out.str() + "; the quadratic energy 1/2 |x - f(x)|^2 needs the input's " + net.input_.str());
  for (auto& l : layers) net.layers_.push_back(std::move(l));
  net.plan_ = std::move(plan);
  net.architecture_ = j.dump();
  if (allocate) net.parameters_changed();
  return net;
}

template <class T>
bool Network<T>::conditional() const {
  return plan_->conditional;
}

template <class T>
std::size_t Network<T>::parameter_count() const {
  std::size_t n = 0;
  for (const auto& v : values_) n += static_cast<std::size_t>(v.size());
  return n;
}

template <class T>
void Network<T>::parameters_changed() {
  transposed_.resize(values_.size());
  for (std::size_t i = 0; i < values_.size(); ++i) {
    require_shape(values_[i], specs_[i].rows, specs_[i].cols, "ebm::nn::Network", "parameter '" + specs_[i].name + "'");
    if (cache_transpose_[i]) transposed_[i] = values_[i].transpose();
  }
}

template <class T>
std::vector<ad::Var<T>> Network<T>::bind(ad::Tape<T>& tape, bool requires_grad) const {
  std::vector<ad::Var<T>> params;
  params.reserve(values_.size());
  for (std::size_t i = 0; i < values_.size(); ++i) {
    const Mat<T>& v = values_[i];
    params.push_back(tape.leaf_ref(v.data(), v.rows(), v.cols(), requires_grad,
                                   cache_transpose_[i] ? transposed_[i].data() : nullptr));
  }
  return params;
}

template <class T>
ad::Var<T> Network<T>::energy(ad::Var<T> x, const std::vector<ad::Var<T>>& params, ad::Var<T> condition) const {
  const char* where = "ebm::nn::Network::energy";
  require(params.size() == values_.size(), where, [&] {
    return "expected " + std::to_string(values_.size()) + " parameters, got " + std::to_string(params.size());
  });
  require(x.valid() && x.cols() == dim(), where, [&] {
    return "x has shape " + (x.valid() ? shape_str(x.rows(), x.cols()) : std::string("(empty)")) + ", expected Nx" + std::to_string(dim());
  });
  const detail::Plan& p = *plan_;
  ad::Var<T> embedding, inv_scale;
  if (p.conditional) {
    require(condition.valid() && condition.rows() == x.rows() && condition.cols() == 1, where, [&] {
      return "the network is noise-conditional: give sigma as an Nx1 condition (N = " + std::to_string(x.rows()) + ")";
    });
    // Fourier features of log sigma (constants: sigma is not differentiated), then a linear
    // layer and the activation.
    const auto sigma = condition.value();
    const Index half = p.fourier_features / 2, n = x.rows();
    Mat<T> features(n, p.fourier_features);
    Mat<T> scale(n, 1);
    for (Index i = 0; i < n; ++i) {
      const double s = double(sigma(i, 0));
      require(std::isfinite(s) && s > 0, where, [&] { return "sigma must be finite and > 0, got " + std::to_string(s) + " at row " + std::to_string(i); });
      const double u = std::log(s);
      for (Index k = 0; k < half; ++k) {
        const double w = half == 1 ? 1.0 : std::pow(p.max_frequency, double(k) / double(half - 1));
        features(i, k) = T(std::sin(w * u));
        features(i, half + k) = T(std::cos(w * u));
      }
      scale(i, 0) = T(1.0 / std::pow(s, p.sigma_power));
    }
    ad::Tape<T>& tape = *x.tape();
    embedding = ad::apply(p.embedding_fn, ad::linear(tape.constant(features), params[p.embed_weight], params[p.embed_bias]), 0,
                          T(p.embedding_param));
    if (p.sigma_power > 0) inv_scale = tape.constant(scale);
  } else {
    require(!condition.valid(), where, "the network is not noise-conditional, but a condition was given");
  }
  const detail::ForwardContext<T> c{params, embedding};
  ad::Var<T> h = x;
  for (const auto& l : layers_) h = l->forward(h, c);
  ad::Var<T> e = p.quadratic ? ad::row_sums(ad::square(x - h)) * T(0.5) : h;
  if (inv_scale.valid()) e = e * inv_scale;
  return e;
}

template <class T>
ad::Var<T> Network<T>::energy(ad::Var<T> x) const {
  require(!conditional(), "ebm::nn::Network::energy",
          "the network is noise-conditional: sample it at a noise level (ncsn) or give sigma");
  return energy(x, bind(*x.tape(), false));
}

template <class T>
std::optional<DenseChain> Network<T>::dense_chain() const {
  if (plan_->conditional || plan_->quadratic || layers_.empty()) return std::nullopt;
  DenseChain chain;
  bool have_fn = false;
  ad::Fn chain_fn = ad::Fn::Softplus;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    std::size_t w = 0, b = 0;
    ad::Fn fn;
    double param = 0;
    const bool expect_linear = i % 2 == 0;
    if (expect_linear) {
      if (!layers_[i]->dense_linear(w, b)) return std::nullopt;
      chain.weight.push_back(w);
      chain.bias.push_back(b);
    } else {
      if (!layers_[i]->activation(fn, param)) return std::nullopt;
      if (have_fn && (fn != chain_fn || param != chain.activation_param)) return std::nullopt;
      have_fn = true;
      chain_fn = fn;
      chain.activation_param = param;
    }
  }
  if (layers_.size() % 2 == 0 || !have_fn) return std::nullopt;  // must end on a linear layer, with a hidden one
  chain.activation = chain_fn;
  return chain;
}

template <class T>
std::string Network<T>::second_order_issue() const {
  for (const auto& l : layers_)
    if (auto issue = l->second_order_issue(); !issue.empty()) return issue;
  return {};
}

template <class T>
ad::Var<T> AtNoiseLevel<T>::energy(ad::Var<T> x) const {
  ad::Tape<T>& tape = *x.tape();
  return network->energy(x, network->bind(tape, false), tape.constant(Mat<T>::Constant(x.rows(), 1, sigma)));
}

template class Network<float>;
template class Network<double>;
template struct AtNoiseLevel<float>;
template struct AtNoiseLevel<double>;

namespace detail {
template class Builder<float>;
template class Builder<double>;
template std::vector<std::unique_ptr<Layer<float>>> build_sequence<float>(const Fields&, const std::string&, Shape, Builder<float>&, const std::string&);
template std::vector<std::unique_ptr<Layer<double>>> build_sequence<double>(const Fields&, const std::string&, Shape, Builder<double>&, const std::string&);
}  // namespace detail

}  // namespace ebm::nn
