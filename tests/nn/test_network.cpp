// Networks from JSON (docs/networks.md): description errors name the field path and the bad
// value; parameter names, shapes and initialisation as documented; energies of small networks of
// every layer against a direct per-sample evaluation of the documented formulas (written here with
// plain loops over channels-last pixels, independent of the engine); first and second derivatives
// through x and through the parameters against central differences; the MLP sugar equals
// ebm::Mlp bit for bit; 1 vs 2 threads and a sample alone vs in a batch give the same bits.
#include <ebm/ad/gradcheck.hpp>
#include <ebm/ad/ops.hpp>
#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/energy/mlp.hpp>
#include <ebm/nn/network.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <numbers>
#include <span>
#include <string>
#include <vector>

namespace {

namespace ad = ebm::ad;
namespace fs = std::filesystem;
using ebm::Index;
using ebm::InvalidArgument;
using ebm::MatD;
using ebm_test::expect_throws_with;
using json = nlohmann::json;
using Net = ebm::nn::Network<double>;
using V = ad::Var<double>;

MatD normal(Index rows, Index cols, std::uint64_t seed) {
  MatD m(rows, cols);
  ebm::CounterRng(seed, 0).normal<double>(0, std::span<double>(m.data(), static_cast<std::size_t>(m.size())));
  return m;
}

// Noise levels spread over [0.05, 2] (log-uniform-ish), one per row.
MatD sigmas(Index n, std::uint64_t seed) {
  MatD u(n, 1);
  ebm::CounterRng(seed, 1).uniform<double>(0, std::span<double>(u.data(), static_cast<std::size_t>(u.size())));
  return u.unaryExpr([](double v) { return 0.05 * std::pow(40.0, v); });
}

// Moves every parameter off its initial value, so that group norm scales and shifts, FiLM and
// biases all matter in the checks.
void perturb(Net& net, std::uint64_t seed) {
  net.edit_parameters([&](const std::vector<MatD*>& p) {
    for (std::size_t k = 0; k < p.size(); ++k) *p[k] += 0.25 * normal(p[k]->rows(), p[k]->cols(), seed + k);
  });
}

// ---------------------------------------------------------------------------------------------
// The documented formulas, one sample at a time: an image is H x W x C values, channels last.

struct Image {
  Index h = 1, w = 1, c = 1;
  std::vector<double> v;  // (y w + x) c + ch
  double& at(Index y, Index x, Index ch) { return v[static_cast<std::size_t>((y * w + x) * c + ch)]; }
  double at(Index y, Index x, Index ch) const { return v[static_cast<std::size_t>((y * w + x) * c + ch)]; }
};

double activation(const std::string& fn, double x, double alpha) {
  if (fn == "softplus") return std::log1p(std::exp(x));
  if (fn == "silu") return x / (1 + std::exp(-x));
  if (fn == "tanh") return std::tanh(x);
  if (fn == "gelu") return x * 0.5 * std::erfc(-x / std::numbers::sqrt2);
  if (fn == "elu") return x > 0 ? x : alpha * std::expm1(x);
  if (fn == "relu") return std::max(x, 0.0);
  if (fn == "sigmoid") return 1 / (1 + std::exp(-x));
  throw std::runtime_error("reference: unknown activation " + fn);
}

class Reference {
 public:
  explicit Reference(const Net& net) : arch_(json::parse(net.architecture())) {
    for (std::size_t k = 0; k < net.parameter_specs().size(); ++k)
      params_[net.parameter_specs()[k].name] = net.parameter_values()[k];
  }

  // E(x_n | sigma_n) for every row.
  MatD energy(const MatD& x, const MatD& sigma) const {
    MatD e(x.rows(), 1);
    for (Index n = 0; n < x.rows(); ++n) e(n, 0) = sample(x.row(n), sigma.size() ? sigma(n, 0) : 0.0);
    return e;
  }

 private:
  const MatD& param(const std::string& name) const {
    const auto it = params_.find(name);
    if (it == params_.end()) throw std::runtime_error("reference: no parameter " + name);
    return it->second;
  }

  double sample(const Eigen::RowVectorXd& x, double sigma) const {
    Image in;
    const json& input = arch_.at("input");
    if (input.is_array()) in = {input[0].get<Index>(), input[1].get<Index>(), input[2].get<Index>(), {}};
    else in = {1, 1, input.get<Index>(), {}};
    in.v.assign(x.data(), x.data() + x.size());
    std::vector<double> e;
    if (arch_.contains("condition")) {
      const json& c = arch_.at("condition");
      const Index f = c.value("fourier_features", Index{16}), half = f / 2;
      const double max_f = c.value("max_frequency", 8.0), u = std::log(sigma);
      std::vector<double> features(static_cast<std::size_t>(f));
      for (Index k = 0; k < half; ++k) {
        const double w = half == 1 ? 1.0 : std::pow(max_f, double(k) / double(half - 1));
        features[static_cast<std::size_t>(k)] = std::sin(w * u);
        features[static_cast<std::size_t>(half + k)] = std::cos(w * u);
      }
      const MatD& w = param("embed.weight");
      const MatD& b = param("embed.bias");
      for (Index o = 0; o < w.rows(); ++o) {
        double s = b(0, o);
        for (Index i = 0; i < f; ++i) s += w(o, i) * features[static_cast<std::size_t>(i)];
        e.push_back(activation(c.value("activation", std::string("silu")), s, 1.0));  // elu: alpha 1
      }
    }
    const Image out = sequence(arch_.at("layers"), in, e, "");
    double energy = 0;
    if (arch_.value("energy", std::string("scalar")) == "quadratic") {
      for (std::size_t i = 0; i < in.v.size(); ++i) energy += 0.5 * (in.v[i] - out.v[i]) * (in.v[i] - out.v[i]);
    } else {
      energy = out.v.at(0);
    }
    return energy / std::pow(sigma, arch_.value("sigma_power", 0));
  }

  Image sequence(const json& layers, Image h, const std::vector<double>& e, const std::string& prefix) const {
    for (std::size_t i = 0; i < layers.size(); ++i) h = layer(layers[i], h, e, prefix + std::to_string(i) + ".");
    return h;
  }

  Image layer(const json& l, const Image& in, const std::vector<double>& e, const std::string& name) const {
    const std::string type = l.at("type");
    if (type == "linear") {
      const MatD& w = param(name + "weight");
      const MatD& b = param(name + "bias");
      Image out{1, 1, w.rows(), {}};
      for (Index o = 0; o < w.rows(); ++o) {
        double s = b(0, o);
        for (Index i = 0; i < w.cols(); ++i) s += w(o, i) * in.v[static_cast<std::size_t>(i)];
        out.v.push_back(s);
      }
      return out;
    }
    if (type == "conv2d") {
      const MatD& w = param(name + "weight");
      const MatD& b = param(name + "bias");
      const Index k = l.at("kernel"), s = l.value("stride", 1), p = l.value("padding", 0), d = l.value("dilation", 1);
      Image out{(in.h + 2 * p - d * (k - 1) - 1) / s + 1, (in.w + 2 * p - d * (k - 1) - 1) / s + 1, w.rows(), {}};
      out.v.assign(static_cast<std::size_t>(out.h * out.w * out.c), 0.0);
      for (Index oy = 0; oy < out.h; ++oy)
        for (Index ox = 0; ox < out.w; ++ox)
          for (Index o = 0; o < out.c; ++o) {
            double sum = b(0, o);
            for (Index ky = 0; ky < k; ++ky)
              for (Index kx = 0; kx < k; ++kx)
                for (Index c = 0; c < in.c; ++c) {
                  const Index y = oy * s - p + ky * d, x = ox * s - p + kx * d;
                  if (y >= 0 && y < in.h && x >= 0 && x < in.w) sum += w(o, (ky * k + kx) * in.c + c) * in.at(y, x, c);
                }
            out.at(oy, ox, o) = sum;
          }
      return out;
    }
    if (type == "avg_pool") {
      const Index k = l.value("kernel", 2);
      Image out{in.h / k, in.w / k, in.c, std::vector<double>(static_cast<std::size_t>(in.h / k * (in.w / k) * in.c))};
      for (Index y = 0; y < out.h; ++y)
        for (Index x = 0; x < out.w; ++x)
          for (Index c = 0; c < in.c; ++c) {
            double sum = 0;
            for (Index dy = 0; dy < k; ++dy)
              for (Index dx = 0; dx < k; ++dx) sum += in.at(y * k + dy, x * k + dx, c);
            out.at(y, x, c) = sum / double(k * k);
          }
      return out;
    }
    if (type == "upsample") {
      const Index f = l.value("factor", 2);
      Image out{in.h * f, in.w * f, in.c, std::vector<double>(static_cast<std::size_t>(in.h * f * in.w * f * in.c))};
      for (Index y = 0; y < out.h; ++y)
        for (Index x = 0; x < out.w; ++x)
          for (Index c = 0; c < in.c; ++c) out.at(y, x, c) = in.at(y / f, x / f, c);
      return out;
    }
    if (type == "group_norm") {
      const MatD& w = param(name + "weight");
      const MatD& b = param(name + "bias");
      const Index groups = l.at("groups"), cg = in.c / groups;
      const double eps = l.value("eps", 1e-5), count = double(in.h * in.w * cg);
      Image out = in;
      for (Index g = 0; g < groups; ++g) {
        double mean = 0, var = 0;
        for (Index y = 0; y < in.h; ++y)
          for (Index x = 0; x < in.w; ++x)
            for (Index c = g * cg; c < (g + 1) * cg; ++c) mean += in.at(y, x, c) / count;
        for (Index y = 0; y < in.h; ++y)
          for (Index x = 0; x < in.w; ++x)
            for (Index c = g * cg; c < (g + 1) * cg; ++c) var += (in.at(y, x, c) - mean) * (in.at(y, x, c) - mean) / count;
        for (Index y = 0; y < in.h; ++y)
          for (Index x = 0; x < in.w; ++x)
            for (Index c = g * cg; c < (g + 1) * cg; ++c)
              out.at(y, x, c) = (in.at(y, x, c) - mean) / std::sqrt(var + eps) * w(0, c) + b(0, c);
      }
      return out;
    }
    if (type == "film") {
      const MatD& w = param(name + "weight");
      const MatD& b = param(name + "bias");
      std::vector<double> film(static_cast<std::size_t>(w.rows()));
      for (Index o = 0; o < w.rows(); ++o) {
        film[static_cast<std::size_t>(o)] = b(0, o);
        for (Index i = 0; i < w.cols(); ++i) film[static_cast<std::size_t>(o)] += w(o, i) * e[static_cast<std::size_t>(i)];
      }
      Image out = in;
      for (Index y = 0; y < in.h; ++y)
        for (Index x = 0; x < in.w; ++x)
          for (Index c = 0; c < in.c; ++c)
            out.at(y, x, c) = in.at(y, x, c) * (1 + film[static_cast<std::size_t>(c)]) + film[static_cast<std::size_t>(in.c + c)];
      return out;
    }
    if (type == "residual") {
      Image out = sequence(l.at("body"), in, e, name + "body.");
      for (std::size_t i = 0; i < out.v.size(); ++i) out.v[i] += in.v[i];
      return out;
    }
    if (type == "flatten") return {1, 1, in.h * in.w * in.c, in.v};
    Image out = in;
    for (double& v : out.v) v = activation(type, v, l.value("alpha", 1.0));
    return out;
  }

  json arch_;
  std::map<std::string, MatD> params_;
};

// ---------------------------------------------------------------------------------------------
// Small networks of every layer (and each option of each layer).

struct Case {
  std::string name;
  std::string architecture;
  bool smooth = true;  // no relu: derivatives are checked
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

const char* kCondition = R"("condition": {"fourier_features": 6, "max_frequency": 4, "width": 5})";

std::vector<Case> cases() {
  const std::string cond = kCondition;
  std::vector<Case> c = {
      {"linear_tanh", R"({"input": 4, "layers": [{"type": "linear", "out": 5}, {"type": "tanh"}, {"type": "linear", "out": 1}]})"},
      {"linear_on_image", R"({"input": [3, 2, 2], "layers": [{"type": "linear", "out": 4}, {"type": "silu"}, {"type": "linear", "out": 1}]})"},
      {"conv2d", R"({"input": [5, 4, 2], "layers": [{"type": "conv2d", "out": 3, "kernel": 3, "padding": 1}, {"type": "softplus"},
                     {"type": "flatten"}, {"type": "linear", "out": 1}]})"},
      {"conv2d_stride_padding_dilation", R"({"input": [7, 6, 1], "layers": [{"type": "conv2d", "out": 2, "kernel": 3, "stride": 2,
                     "padding": 2, "dilation": 2}, {"type": "tanh"}, {"type": "linear", "out": 1}]})"},
      {"conv2d_kernel2_stride2", R"({"input": [4, 6, 3], "layers": [{"type": "conv2d", "out": 2, "kernel": 2, "stride": 2},
                     {"type": "gelu"}, {"type": "conv2d", "out": 2, "kernel": 1}, {"type": "elu", "alpha": 0.7}, {"type": "linear", "out": 1}]})"},
      {"avg_pool", R"({"input": [4, 6, 2], "layers": [{"type": "conv2d", "out": 3, "kernel": 3, "padding": 1}, {"type": "tanh"},
                     {"type": "avg_pool"}, {"type": "silu"}, {"type": "linear", "out": 1}]})"},
      {"avg_pool_kernel3", R"({"input": [6, 3, 1], "layers": [{"type": "avg_pool", "kernel": 3}, {"type": "sigmoid"}, {"type": "linear", "out": 1}]})"},
      {"upsample", R"({"input": [3, 2, 2], "layers": [{"type": "upsample"}, {"type": "conv2d", "out": 2, "kernel": 3, "padding": 1},
                     {"type": "tanh"}, {"type": "linear", "out": 1}]})"},
      {"upsample_factor3", R"({"input": [2, 1, 2], "layers": [{"type": "upsample", "factor": 3}, {"type": "conv2d", "out": 1, "kernel": 2},
                     {"type": "softplus"}, {"type": "linear", "out": 1}]})"},
      {"group_norm", R"({"input": [3, 3, 2], "layers": [{"type": "conv2d", "out": 6, "kernel": 1}, {"type": "group_norm", "groups": 3,
                     "eps": 0.001}, {"type": "silu"}, {"type": "linear", "out": 1}]})"},
      {"group_norm_one_group", R"({"input": [2, 3, 4], "layers": [{"type": "group_norm", "groups": 1}, {"type": "tanh"}, {"type": "linear", "out": 1}]})"},
      {"group_norm_per_channel", R"({"input": [3, 2, 3], "layers": [{"type": "group_norm", "groups": 3}, {"type": "softplus"}, {"type": "linear", "out": 1}]})"},
      {"group_norm_flat", R"({"input": 5, "layers": [{"type": "linear", "out": 6}, {"type": "group_norm", "groups": 2}, {"type": "tanh"},
                     {"type": "linear", "out": 1}]})"},
      {"film", R"({"input": [3, 3, 2], )" + cond + R"(, "layers": [{"type": "conv2d", "out": 4, "kernel": 3, "padding": 1},
                     {"type": "group_norm", "groups": 2}, {"type": "film"}, {"type": "silu"}, {"type": "flatten"}, {"type": "linear", "out": 1}]})"},
      {"film_flat_two_features_elu", R"({"input": 3, "condition": {"fourier_features": 2, "width": 3, "activation": "elu"},
                     "layers": [{"type": "linear", "out": 4}, {"type": "film"}, {"type": "tanh"}, {"type": "linear", "out": 1}]})"},
      {"condition_defaults", R"({"input": 2, "condition": {}, "layers": [{"type": "linear", "out": 3}, {"type": "film"},
                     {"type": "gelu"}, {"type": "linear", "out": 1}]})"},
      {"residual", R"({"input": [4, 4, 2], "layers": [{"type": "conv2d", "out": 3, "kernel": 3, "padding": 1},
                     {"type": "residual", "body": [{"type": "conv2d", "out": 3, "kernel": 3, "padding": 1}, {"type": "tanh"},
                     {"type": "conv2d", "out": 3, "kernel": 1}]}, {"type": "softplus"}, {"type": "flatten"}, {"type": "linear", "out": 1}]})"},
      {"residual_nested_with_film", R"({"input": 3, )" + cond + R"(, "layers": [{"type": "residual", "body": [{"type": "linear", "out": 3},
                     {"type": "film"}, {"type": "residual", "body": [{"type": "tanh"}, {"type": "linear", "out": 3}]}]},
                     {"type": "silu"}, {"type": "linear", "out": 1}]})"},
      {"flatten", R"({"input": [2, 3, 2], "layers": [{"type": "flatten"}, {"type": "tanh"}, {"type": "linear", "out": 1}]})"},
      {"quadratic", R"({"input": [4, 3, 1], "energy": "quadratic", "layers": [{"type": "conv2d", "out": 3, "kernel": 3, "padding": 1},
                     {"type": "softplus"}, {"type": "conv2d", "out": 1, "kernel": 3, "padding": 1}]})"},
      {"quadratic_flat", R"({"input": 3, "energy": "quadratic", "layers": [{"type": "linear", "out": 4}, {"type": "tanh"}, {"type": "linear", "out": 3}]})"},
      {"sigma_power_1", R"({"input": [3, 3, 1], )" + cond + R"(, "energy": "quadratic", "sigma_power": 1, "layers": [
                     {"type": "conv2d", "out": 2, "kernel": 3, "padding": 1}, {"type": "film"}, {"type": "silu"},
                     {"type": "conv2d", "out": 1, "kernel": 3, "padding": 1}]})"},
      {"sigma_power_2", R"({"input": 3, )" + cond + R"(, "sigma_power": 2, "layers": [{"type": "linear", "out": 4}, {"type": "film"},
                     {"type": "softplus"}, {"type": "linear", "out": 1}]})"},
      {"relu", R"({"input": 3, "layers": [{"type": "linear", "out": 4}, {"type": "relu"}, {"type": "linear", "out": 1}]})", false},
      {"mlp_sugar", R"({"type": "mlp", "widths": [3, 5, 4, 1], "activation": "gelu"})"},
  };
  return c;
}

class Layers : public ::testing::TestWithParam<Case> {};

// A batch, its noise levels (empty for an unconditional network) and the perturbed network.
struct Problem {
  Net net;
  MatD x, sigma;
};

Problem setup(const Case& c, Index n) {
  Problem s{Net::from_json(c.architecture, 11), MatD(), MatD()};
  perturb(s.net, 100);
  s.x = normal(n, s.net.dim(), 12);
  if (s.net.conditional()) s.sigma = sigmas(n, 13);
  return s;
}

TEST_P(Layers, EnergiesEqualTheDocumentedFormulas) {
  const Problem s = setup(GetParam(), 4);
  ad::Tape<double> tape;
  const V cond = s.net.conditional() ? tape.constant(s.sigma) : V();
  const MatD ours = s.net.energy(tape.variable(s.x), s.net.bind(tape, false), cond).value();
  const MatD expected = Reference(s.net).energy(s.x, s.sigma);
  ASSERT_EQ(ours.rows(), 4);
  ASSERT_EQ(ours.cols(), 1);
  const double err = (ours - expected).cwiseAbs().maxCoeff() / expected.cwiseAbs().maxCoeff();
  ebm_test::measured(GetParam().name + ": max |E - reference| / max |reference|", err);
  EXPECT_LE(err, 1e-13);
}

TEST_P(Layers, FirstAndSecondDerivativesThroughXAndParameters) {
  const Problem s = setup(GetParam(), 2);
  // Inputs: x, then every parameter; sigma is a constant (it is not differentiated in training).
  std::vector<MatD> inputs = {s.x};
  for (const MatD& p : s.net.parameter_values()) inputs.push_back(p);
  const ad::CheckedFunction f = [&](ad::Tape<double>& tape, std::span<const V> in) {
    const std::vector<V> params(in.begin() + 1, in.end());
    return s.net.energy(in[0], params, s.net.conditional() ? tape.constant(s.sigma) : V());
  };
  const auto first = ad::gradcheck(f, inputs);
  EXPECT_TRUE(first.ok) << first.summary();
  ebm_test::measured(GetParam().name + ": gradcheck max abs error", first.max_abs_error);
  // relu's second derivative is zero away from its kinks, and central differences of the
  // gradient straddle kinks: only the first order is checked for it.
  if (!GetParam().smooth) return;
  const auto second = ad::gradgradcheck(f, inputs);
  EXPECT_TRUE(second.ok) << second.summary();
  ebm_test::measured(GetParam().name + ": gradgradcheck max abs error", second.max_abs_error);
}

TEST_P(Layers, CanonicalFormRebuildsTheSameNetworkAndInspectAgrees) {
  const Net a = Net::from_json(GetParam().architecture, 5);
  const Net b = Net::from_json(a.architecture(), 5);
  EXPECT_EQ(a.architecture(), b.architecture());
  ASSERT_EQ(a.parameter_specs().size(), b.parameter_specs().size());
  for (std::size_t k = 0; k < a.parameter_specs().size(); ++k) {
    EXPECT_EQ(a.parameter_specs()[k].name, b.parameter_specs()[k].name);
    EXPECT_TRUE(a.parameter_values()[k] == b.parameter_values()[k]) << a.parameter_specs()[k].name;
  }
  const auto summary = ebm::nn::inspect_architecture(GetParam().architecture);
  EXPECT_EQ(summary.dim, a.dim());
  EXPECT_EQ(summary.conditional, a.conditional());
  EXPECT_EQ(summary.canonical, a.architecture());
  ASSERT_EQ(summary.parameters.size(), a.parameter_specs().size());
  std::size_t count = 0;
  for (std::size_t k = 0; k < summary.parameters.size(); ++k) {
    EXPECT_EQ(summary.parameters[k].name, a.parameter_specs()[k].name);
    EXPECT_EQ(summary.parameters[k].rows, a.parameter_specs()[k].rows);
    EXPECT_EQ(summary.parameters[k].cols, a.parameter_specs()[k].cols);
    count += static_cast<std::size_t>(a.parameter_specs()[k].rows * a.parameter_specs()[k].cols);
  }
  EXPECT_EQ(a.parameter_count(), count);
}

INSTANTIATE_TEST_SUITE_P(Networks, Layers, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& param_info) { return param_info.param.name; });

// ---------------------------------------------------------------------------------------------
// Names, shapes and initialisation.

TEST(Parameters, NamesAndShapesAreAsDocumented) {
  const Net net = Net::from_json(R"({"input": [4, 4, 3], "condition": {"fourier_features": 8, "width": 6},
      "layers": [{"type": "conv2d", "out": 5, "kernel": 3, "padding": 1}, {"type": "group_norm", "groups": 5}, {"type": "film"},
                 {"type": "silu"}, {"type": "avg_pool"},
                 {"type": "residual", "body": [{"type": "conv2d", "out": 5, "kernel": 1}, {"type": "tanh"},
                                               {"type": "group_norm", "groups": 1}]},
                 {"type": "upsample"}, {"type": "flatten"}, {"type": "linear", "out": 1}]})", 0);
  struct Expected {
    std::string name;
    Index rows, cols;
    std::vector<Index> file_shape;
  };
  const std::vector<Expected> expected = {
      {"embed.weight", 6, 8, {6, 8}},       {"embed.bias", 1, 6, {6}},       {"0.weight", 5, 27, {5, 27}},
      {"0.bias", 1, 5, {5}},                {"1.weight", 1, 5, {5}},         {"1.bias", 1, 5, {5}},
      {"2.weight", 10, 6, {10, 6}},         {"2.bias", 1, 10, {10}},         {"5.body.0.weight", 5, 5, {5, 5}},
      {"5.body.0.bias", 1, 5, {5}},         {"5.body.2.weight", 1, 5, {5}},  {"5.body.2.bias", 1, 5, {5}},
      // Biases and norm parameters are 1-D in files; a one-output layer's weight stays [1, 80], as
      // torch's Linear(80, 1).weight.
      {"8.weight", 1, 80, {1, 80}},         {"8.bias", 1, 1, {1}}};
  const auto& specs = net.parameter_specs();
  ASSERT_EQ(specs.size(), expected.size());
  for (std::size_t k = 0; k < specs.size(); ++k) {
    EXPECT_EQ(specs[k].name, expected[k].name);
    EXPECT_EQ(specs[k].rows, expected[k].rows) << specs[k].name;
    EXPECT_EQ(specs[k].cols, expected[k].cols) << specs[k].name;
    EXPECT_EQ(specs[k].file_shape(), expected[k].file_shape) << specs[k].name;
    EXPECT_EQ(net.parameter_values()[k].rows(), expected[k].rows);
    EXPECT_EQ(net.parameter_values()[k].cols(), expected[k].cols);
  }
  EXPECT_TRUE(net.conditional());
  EXPECT_EQ(net.dim(), 48);
  EXPECT_EQ(net.input_shape().str(), "4x4x3");
  // Every documented layer type, and nothing else.
  const std::vector<std::string> types = {"linear", "conv2d", "avg_pool", "upsample", "group_norm", "film", "residual",
                                          "flatten", "softplus", "silu", "tanh", "gelu", "elu", "relu", "sigmoid"};
  auto known = ebm::nn::layer_types();
  std::sort(known.begin(), known.end());
  auto documented = types;
  std::sort(documented.begin(), documented.end());
  EXPECT_EQ(known, documented);
}

TEST(Parameters, InitialisationIsTorchsUniformAndDependsOnSeedAndPositionOnly) {
  const std::string arch = R"({"input": [4, 4, 3], "condition": {"fourier_features": 8, "width": 6},
      "layers": [{"type": "conv2d", "out": 5, "kernel": 3, "padding": 1}, {"type": "group_norm", "groups": 5}, {"type": "film"},
                 {"type": "silu"}, {"type": "flatten"}, {"type": "linear", "out": 7}, {"type": "tanh"}, {"type": "linear", "out": 1}]})";
  const Net net = Net::from_json(arch, 42);
  const std::map<std::string, double> fan_in = {{"embed.", 8}, {"0.", 27}, {"2.", 6}, {"5.", 80}, {"7.", 7}};
  for (std::size_t k = 0; k < net.parameter_specs().size(); ++k) {
    const std::string& name = net.parameter_specs()[k].name;
    const MatD& v = net.parameter_values()[k];
    if (name.starts_with("1.")) {  // group norm: weight 1, bias 0
      EXPECT_TRUE((v.array() == (name == "1.weight" ? 1.0 : 0.0)).all()) << name;
      continue;
    }
    const double bound = 1 / std::sqrt(fan_in.at(name.substr(0, name.find('.') + 1)));
    EXPECT_LE(v.cwiseAbs().maxCoeff(), bound) << name;
    // Draws fill the range: for >= 20 draws the largest magnitude is above half the bound
    // but with probability 2^-20 (and the seeds are fixed).
    if (v.size() >= 20) {
      EXPECT_GT(v.cwiseAbs().maxCoeff(), 0.5 * bound) << name;
    }
    EXPECT_GT(v.array().square().sum(), 0) << name;
  }
  // Same seed, same values; another seed, others. A later layer's width does not change the
  // draws of the layers before it.
  const Net same = Net::from_json(arch, 42), other = Net::from_json(arch, 43);
  std::string wider = arch;
  wider.replace(wider.find("\"out\": 7"), 8, "\"out\": 9");
  const Net changed = Net::from_json(wider, 42);
  for (std::size_t k = 0; k < net.parameter_specs().size(); ++k) {
    const std::string& name = net.parameter_specs()[k].name;
    EXPECT_TRUE(net.parameter_values()[k] == same.parameter_values()[k]) << name;
    if (!name.starts_with("1.")) {
      EXPECT_FALSE(net.parameter_values()[k] == other.parameter_values()[k]) << name;
    }
    if (!name.starts_with("5.") && !name.starts_with("7.")) {
      EXPECT_TRUE(net.parameter_values()[k] == changed.parameter_values()[k]) << name;
    }
  }
  // Weight and bias of one layer are different draws.
  EXPECT_NE(net.parameter_values()[3](0, 0), net.parameter_values()[2](0, 0));
}

// ---------------------------------------------------------------------------------------------
// The MLP sugar is ebm::Mlp.

template <class T>
void expect_mlp_equals_network(const std::vector<Index>& widths, ebm::Activation act, std::uint64_t seed) {
  ebm::MlpOptions o;
  o.widths = widths;
  o.activation = act;
  o.seed = seed;
  const ebm::Mlp<T> mlp(o);
  const auto net = ebm::nn::Network<T>::from_json(ebm::nn::mlp_architecture(widths, ebm::activation_name(act)), seed);
  const auto mlp_values = mlp.parameter_values();
  const auto mlp_specs = mlp.parameter_specs();
  ASSERT_EQ(net.parameter_specs().size(), mlp_specs.size());
  for (std::size_t k = 0; k < mlp_specs.size(); ++k) {
    EXPECT_EQ(net.parameter_specs()[k].name, mlp_specs[k].name);
    ASSERT_EQ(net.parameter_values()[k].rows(), mlp_values[k].rows());
    ASSERT_EQ(net.parameter_values()[k].cols(), mlp_values[k].cols());
    EXPECT_EQ(0, std::memcmp(net.parameter_values()[k].data(), mlp_values[k].data(), sizeof(T) * mlp_values[k].size()))
        << mlp_specs[k].name << ": same seed, different initial values";
  }
  const ebm::Mat<T> x = normal(37, widths.front(), 3).cast<T>();  // 37: not a multiple of any block
  ad::Tape<T> t1, t2;
  const auto x1 = t1.variable(x), x2 = t2.variable(x);
  const auto e1 = mlp.energy(x1), e2 = net.energy(x2);
  EXPECT_EQ(0, std::memcmp(e1.value().data(), e2.value().data(), sizeof(T) * 37)) << "energies differ";
  const auto g1 = t1.grad(ad::sum(e1), {x1})[0], g2 = t2.grad(ad::sum(e2), {x2})[0];
  EXPECT_EQ(0, std::memcmp(g1.value().data(), g2.value().data(), sizeof(T) * x.size())) << "scores differ";
  const auto chain = net.dense_chain(), mlp_chain = mlp.dense_chain();
  ASSERT_TRUE(chain.has_value());
  EXPECT_EQ(chain->weight, mlp_chain->weight);
  EXPECT_EQ(chain->bias, mlp_chain->bias);
  EXPECT_EQ(chain->activation, mlp_chain->activation);
  EXPECT_EQ(chain->activation_param, mlp_chain->activation_param);
}

TEST(MlpSugar, EqualsMlpBitForBit) {
  expect_mlp_equals_network<double>({3, 16, 8, 1}, ebm::Activation::Elu, 7);
  expect_mlp_equals_network<double>({2, 128, 128, 1}, ebm::Activation::Softplus, 0);
  expect_mlp_equals_network<float>({5, 9, 1}, ebm::Activation::Silu, 9);
  expect_mlp_equals_network<float>({4, 33, 17, 6, 1}, ebm::Activation::Tanh, 1);
  expect_mlp_equals_network<double>({4, 12, 1}, ebm::Activation::Gelu, 2);
}

TEST(MlpSugar, ExpandsToTheDocumentedSequential) {
  const Net sugar = Net::from_json(R"({"type": "mlp", "widths": [3, 6, 4, 1], "activation": "tanh"})", 4);
  const Net plain = Net::from_json(R"({"input": 3, "layers": [{"type": "linear", "out": 6}, {"type": "tanh"},
      {"type": "linear", "out": 4}, {"type": "tanh"}, {"type": "linear", "out": 1}]})", 4);
  EXPECT_EQ(sugar.architecture(), plain.architecture());
  for (std::size_t k = 0; k < plain.parameter_values().size(); ++k)
    EXPECT_TRUE(sugar.parameter_values()[k] == plain.parameter_values()[k]);
  // Default activation softplus.
  EXPECT_EQ(Net::from_json(R"({"type": "mlp", "widths": [2, 3, 1]})", 0).architecture(),
            Net::from_json(R"({"input": 2, "layers": [{"type": "linear", "out": 3}, {"type": "softplus"}, {"type": "linear", "out": 1}]})", 0)
                .architecture());
}

TEST(Capabilities, DenseChainOnlyForPlainChainsAndReluIsNamed) {
  EXPECT_TRUE(Net::from_json(R"({"type": "mlp", "widths": [2, 3, 1]})", 0).dense_chain().has_value());
  EXPECT_FALSE(Net::from_json(R"({"input": 2, "layers": [{"type": "linear", "out": 1}]})", 0).dense_chain().has_value());
  EXPECT_FALSE(Net::from_json(R"({"input": 2, "layers": [{"type": "linear", "out": 3}, {"type": "tanh"}, {"type": "linear", "out": 3},
      {"type": "silu"}, {"type": "linear", "out": 1}]})", 0).dense_chain().has_value());  // two activations
  EXPECT_FALSE(Net::from_json(R"({"input": [2, 2, 1], "layers": [{"type": "conv2d", "out": 2, "kernel": 1}, {"type": "tanh"},
      {"type": "linear", "out": 1}]})", 0).dense_chain().has_value());
  EXPECT_FALSE(Net::from_json(R"({"input": 2, "energy": "quadratic", "layers": [{"type": "linear", "out": 3}, {"type": "tanh"},
      {"type": "linear", "out": 2}]})", 0).dense_chain().has_value());
  EXPECT_FALSE(Net::from_json(R"({"input": 2, "condition": {}, "layers": [{"type": "linear", "out": 3}, {"type": "tanh"},
      {"type": "linear", "out": 1}]})", 0).dense_chain().has_value());
  EXPECT_EQ(Net::from_json(R"({"type": "mlp", "widths": [2, 3, 1]})", 0).second_order_issue(), "");
  EXPECT_NE(Net::from_json(R"({"input": 2, "layers": [{"type": "residual", "body": [{"type": "relu"}]}, {"type": "linear", "out": 1}]})", 0)
                .second_order_issue()
                .find("relu"),
            std::string::npos);
}

TEST(Conditioning, AtNoiseLevelIsTheNetworkAtAConstantSigma) {
  auto net = std::make_shared<Net>(Net::from_json(R"({"input": 3, "condition": {"width": 4}, "sigma_power": 1,
      "layers": [{"type": "linear", "out": 4}, {"type": "film"}, {"type": "tanh"}, {"type": "linear", "out": 1}]})", 3));
  const ebm::nn::AtNoiseLevel<double> at{net, 0.3};
  EXPECT_EQ(at.dim(), 3);
  const MatD x = normal(5, 3, 1);
  ad::Tape<double> tape;
  const MatD a = at.energy(tape.constant(x)).value();
  const MatD b = net->energy(tape.constant(x), net->bind(tape, false), tape.constant(MatD::Constant(5, 1, 0.3))).value();
  EXPECT_TRUE(a == b);
  const MatD c = net->energy(tape.constant(x), net->bind(tape, false), tape.constant(MatD::Constant(5, 1, 0.6))).value();
  EXPECT_FALSE(a == c);  // sigma matters
}

// ---------------------------------------------------------------------------------------------
// Errors.

struct ErrorCase {
  std::string architecture;
  std::vector<std::string> fragments;  // each must appear in the message
};

TEST(Errors, DescriptionsNameTheFieldPathAndTheBadValue) {
  const std::string img = R"("input": [4, 4, 1], )";
  const std::string tail = R"(, {"type": "flatten"}, {"type": "linear", "out": 1}]})";
  const std::vector<ErrorCase> errors = {
      {R"({"input": 4, "layers": [{"type": "conv3d", "out": 1}]})", {"architecture: layers[0]: layer type 'conv3d' is unknown", "conv2d"}},
      {R"({"input": 4, "layers": [{"type": "linear", "out": 1, "stride": 2}]})", {"architecture: layers[0]: unknown field 'stride'"}},
      {R"({"input": 4, "layers": [{"type": "linear"}]})", {"architecture: layers[0]: missing field 'out'"}},
      {R"({"input": 4, "layers": [{"out": 1}]})", {"architecture: layers[0]: missing field 'type'"}},
      {R"({"input": 4, "layers": [3]})", {"architecture: layers[0]: must be a JSON object, got 3"}},
      {R"({"input": 4, "layers": [{"type": "linear", "out": 0}]})", {"layers[0]: 'out' must be an integer >= 1, got 0"}},
      {"{" + img + R"("layers": [{"type": "conv2d", "out": 2, "kernel": 0})" + tail, {"architecture: layers[0]: 'kernel' must be an integer >= 1, got 0"}},
      {"{" + img + R"("layers": [{"type": "conv2d", "out": 2, "kernel": 2.5})" + tail, {"layers[0]: 'kernel' must be an integer >= 1, got 2.5"}},
      {"{" + img + R"("layers": [{"type": "conv2d", "out": 2, "kernel": "3"})" + tail, {"layers[0]: 'kernel' must be an integer", "got \"3\""}},
      {"{" + img + R"("layers": [{"type": "conv2d", "out": 2, "kernel": 5})" + tail,
       {"architecture: layers[0]: ", "the kernel does not fit the padded image (4x4x1, kernel 5x5"}},
      {"{" + img + R"("layers": [{"type": "conv2d", "out": 2, "kernel": 3, "dilation": 2})" + tail, {"layers[0]: ", "dilation 2"}},
      {"{" + img + R"("layers": [{"type": "conv2d", "out": 2, "kernel": 3, "padding": -1})" + tail, {"layers[0]: 'padding' must be an integer >= 0, got -1"}},
      {"{" + img + R"("layers": [{"type": "conv2d", "out": 2, "kernel": 3, "stride": 0})" + tail, {"layers[0]: 'stride' must be an integer >= 1, got 0"}},
      {R"({"input": [2, 2, 4], "layers": [{"type": "group_norm", "groups": 3})" + tail, {"architecture: layers[0]: groups 3 does not divide the 4 channels"}},
      {R"({"input": [2, 2, 4], "layers": [{"type": "group_norm"})" + tail, {"architecture: layers[0]: missing field 'groups'"}},
      {R"({"input": [2, 2, 4], "layers": [{"type": "group_norm", "groups": 2, "eps": 0})" + tail, {"layers[0]: eps must be > 0"}},
      {R"({"input": 3, "layers": [{"type": "linear", "out": 3}, {"type": "film"}, {"type": "linear", "out": 1}]})",
       {"architecture: layers[1]: film needs the network's \"condition\""}},
      {R"({"input": [4, 4, 2], "layers": [{"type": "residual", "body": [{"type": "conv2d", "out": 3, "kernel": 1}]})" + tail,
       {"architecture: layers[0]: the body maps 4x4x2 to 4x4x3; a residual block must keep the shape"}},
      {R"({"input": [4, 4, 2], "layers": [{"type": "residual", "body": [{"type": "avg_pool"}]})" + tail, {"architecture: layers[0]: the body maps 4x4x2 to 2x2x2"}},
      {R"({"input": [4, 4, 2], "layers": [{"type": "residual", "body": [{"type": "tanh"}, {"type": "silu", "kernel": 3}]})" + tail,
       {"architecture: layers[0].body[1]: unknown field 'kernel'"}},
      {R"({"input": [4, 4, 2], "layers": [{"type": "residual"})" + tail, {"architecture: layers[0]: missing field 'body'"}},
      {R"({"input": 3, "layers": [{"type": "linear", "out": 2}]})", {"the last layer gives 2 numbers per sample; a scalar energy needs 1"}},
      {R"({"input": [2, 2, 1], "layers": [{"type": "tanh"}]})", {"the last layer gives 4 numbers per sample"}},
      {R"({"input": 3, "energy": "quadratic", "layers": [{"type": "linear", "out": 2}]})",
       {"the last layer gives 1x1x2; the quadratic energy", "needs the input's 1x1x3"}},
      {R"({"input": 3, "energy": "vector", "layers": []})", {"'energy' must be \"scalar\" or \"quadratic\", got \"vector\""}},
      {R"({"input": 3, "layer": []})", {"architecture: unknown field 'layer'"}},
      {R"({"input": 3})", {"architecture: missing field 'layers'"}},
      {R"({"input": 3, "layers": 3})", {"'layers' must be an array, got 3"}},
      {R"({"input": [28, 28], "layers": []})", {"'input' must be the dimension D or [height, width, channels], got [28,28]"}},
      {R"({"layers": []})", {"'input' must be", "got nothing"}},
      {R"({"input": 0, "layers": []})", {"'input' must be", "got 0"}},
      {R"({"input": 3, "sigma_power": 1, "layers": [{"type": "linear", "out": 1}]})", {"'sigma_power' needs a \"condition\""}},
      {R"({"input": 3, "condition": {}, "sigma_power": 3, "layers": [{"type": "linear", "out": 1}]})", {"'sigma_power' must be 0, 1 or 2, got 3"}},
      {R"({"input": 3, "condition": {"fourier_features": 5}, "layers": [{"type": "linear", "out": 1}]})",
       {"architecture: condition: 'fourier_features' must be even, got 5"}},
      {R"({"input": 3, "condition": {"widht": 5}, "layers": [{"type": "linear", "out": 1}]})", {"architecture: condition: unknown field 'widht'"}},
      {R"({"input": 3, "condition": {"activation": "swish"}, "layers": [{"type": "linear", "out": 1}]})",
       {"architecture: condition: unknown activation 'swish'"}},
      {R"({"input": 3, "condition": {"max_frequency": -1}, "layers": [{"type": "linear", "out": 1}]})", {"condition: 'max_frequency' must be > 0"}},
      {R"({"input": 3, "condition": 3, "layers": [{"type": "linear", "out": 1}]})", {"architecture: condition: must be a JSON object, got 3"}},
      {"{" + img + R"("layers": [{"type": "avg_pool", "kernel": 3})" + tail, {"architecture: layers[0]: kernel 3 does not divide the input 4x4x1"}},
      {"{" + img + R"("layers": [{"type": "upsample", "factor": 0})" + tail, {"architecture: layers[0]: 'factor' must be an integer >= 1, got 0"}},
      {R"({"input": 3, "layers": [{"type": "linear", "out": 2}, {"type": "tanh", "alpha": 1}, {"type": "linear", "out": 1}]})",
       {"architecture: layers[1]: only elu takes \"alpha\""}},
      {R"({"input": 3, "layers": [{"type": "elu", "alpha": "big"}, {"type": "linear", "out": 1}]})", {"layers[0]: 'alpha' must be a finite number, got \"big\""}},
      {R"({"input": 3, "layers": [{"type": "flatten", "out": 3}, {"type": "linear", "out": 1}]})", {"layers[0]: unknown field 'out' (it takes none)"}},
      {R"({"type": "mlp", "widths": [2, 8, 2]})", {"the last of 'widths' (the energy) must be 1, got 2"}},
      {R"({"type": "mlp", "widths": [2, 0, 1]})", {"'widths' entry 1 must be an integer >= 1, got 0"}},
      {R"({"type": "mlp", "widths": [2, 8, 1], "activation": "swish"})", {"unknown activation 'swish'"}},
      {R"({"type": "mlp", "widths": [2, 8, 1], "depth": 3})", {"unknown field 'depth'"}},
      {R"({"type": "cnn", "layers": []})", {"'type' at the top level must be \"mlp\" (or absent), got \"cnn\""}},
      {R"({"input": 3, "layers": [)", {"architecture: not valid JSON"}},
      {R"([1, 2])", {"architecture: must be a JSON object"}},
  };
  for (const ErrorCase& e : errors) {
    SCOPED_TRACE(e.architecture);
    for (const std::string& fragment : e.fragments) {
      expect_throws_with<InvalidArgument>([&] { Net::from_json(e.architecture, 0); }, fragment);
      expect_throws_with<InvalidArgument>([&] { ebm::nn::Network<float>::from_json(e.architecture, 0); }, fragment);
      expect_throws_with<InvalidArgument>([&] { ebm::nn::inspect_architecture(e.architecture); }, fragment);
    }
  }
  // The caller's name for the description leads the message.
  expect_throws_with<InvalidArgument>([] { Net::from_json(R"({"input": 3, "layers": [{"type": "linear"}]})", 0, "model.json"); },
                                      "model.json: layers[0]: missing field 'out'");
}

TEST(Errors, EnergyChecksXTheConditionAndTheParameters) {
  const char* where = "ebm::nn::Network::energy: ";
  const Net cond = Net::from_json(R"({"input": 3, "condition": {"width": 4}, "layers": [{"type": "linear", "out": 4}, {"type": "film"},
      {"type": "tanh"}, {"type": "linear", "out": 1}]})", 0);
  const Net plain = Net::from_json(R"({"input": 3, "layers": [{"type": "linear", "out": 1}]})", 0);
  ad::Tape<double> tape;
  const V x = tape.variable(normal(2, 3, 1));
  expect_throws_with<InvalidArgument>([&] { cond.energy(x, cond.bind(tape, false)); },
                                      std::string(where) + "the network is noise-conditional: give sigma as an Nx1 condition (N = 2)");
  expect_throws_with<InvalidArgument>([&] { cond.energy(x, cond.bind(tape, false), tape.constant(MatD::Ones(3, 1))); },
                                      "give sigma as an Nx1 condition (N = 2)");
  expect_throws_with<InvalidArgument>([&] { cond.energy(x, cond.bind(tape, false), tape.constant(MatD::Ones(2, 2))); },
                                      "give sigma as an Nx1 condition");
  expect_throws_with<InvalidArgument>([&] { cond.energy(x, cond.bind(tape, false), tape.constant(MatD::Constant(2, 1, -1.0))); },
                                      "sigma must be finite and > 0, got -1");
  expect_throws_with<InvalidArgument>([&] { cond.energy(x, cond.bind(tape, false), tape.constant(MatD::Zero(2, 1))); },
                                      "sigma must be finite and > 0, got 0");
  expect_throws_with<InvalidArgument>([&] { cond.energy(x); }, "noise-conditional");
  expect_throws_with<InvalidArgument>([&] { plain.energy(x, plain.bind(tape, false), tape.constant(MatD::Ones(2, 1))); },
                                      std::string(where) + "the network is not noise-conditional, but a condition was given");
  expect_throws_with<InvalidArgument>([&] { plain.energy(tape.variable(normal(2, 4, 1))); }, std::string(where) + "x has shape 2x4, expected Nx3");
  expect_throws_with<InvalidArgument>([&] { plain.energy(V(), plain.bind(tape, false)); }, "x has shape (empty)");
  expect_throws_with<InvalidArgument>([&] { plain.energy(x, {}); }, std::string(where) + "expected 2 parameters, got 0");
  Net edited = plain;
  expect_throws_with<InvalidArgument>([&] { edited.edit_parameters([](const std::vector<MatD*>& p) { p[0]->resize(2, 3); }); },
                                      "'0.weight' has shape 2x3, expected 1x3");
}

// ---------------------------------------------------------------------------------------------
// The example architectures (examples/models/*.json).

std::vector<fs::path> example_files() {
  std::vector<fs::path> files;
  const fs::path dir = fs::path(EBM_TEST_DIR).parent_path() / "examples" / "models";
  if (fs::is_directory(dir))
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path().extension() == ".json") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(Examples, BuildAndEqualTheDocumentedFormulas) {
  const auto files = example_files();
  ASSERT_FALSE(files.empty()) << "no examples/models/*.json";  // shipped with the repository
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.string());
    Net net = Net::from_json(ebm_test::read_bytes(file.string()), 1, file.filename().string());
    perturb(net, 7);
    const MatD x = normal(2, net.dim(), 2), sigma = net.conditional() ? sigmas(2, 3) : MatD();
    ad::Tape<double> tape;
    const MatD ours = net.energy(tape.variable(x), net.bind(tape, false), net.conditional() ? tape.constant(sigma) : V()).value();
    const MatD expected = Reference(net).energy(x, sigma);
    const double err = (ours - expected).cwiseAbs().maxCoeff() / expected.cwiseAbs().maxCoeff();
    ebm_test::measured(file.filename().string() + ": max |E - reference| / max |reference|", err);
    EXPECT_LE(err, 1e-12);
    const auto summary = ebm::nn::inspect_architecture(ebm_test::read_bytes(file.string()));
    EXPECT_EQ(summary.canonical, net.architecture());
    EXPECT_EQ(summary.parameters.size(), net.parameter_specs().size());
  }
}

TEST(Examples, TheMlpExampleIsAnMlp) {
  const fs::path file = fs::path(EBM_TEST_DIR).parent_path() / "examples" / "models" / "mlp.json";
  ASSERT_TRUE(fs::exists(file)) << "no examples/models/mlp.json";  // shipped with the repository
  const json j = json::parse(ebm_test::read_bytes(file.string()));
  expect_mlp_equals_network<double>(j.at("widths").get<std::vector<Index>>(), ebm::parse_activation(j.value("activation", "softplus")), 5);
}

// ---------------------------------------------------------------------------------------------
// Determinism of a conv network with every layer type.

// The noise-conditional example if present (28x28, every layer type), else a small one like it.
std::string conv_network() {
  const fs::path file = fs::path(EBM_TEST_DIR).parent_path() / "examples" / "models" / "ncsn_28x28.json";
  if (fs::exists(file)) return ebm_test::read_bytes(file.string());
  return R"({"input": [12, 12, 1], "condition": {"width": 16}, "energy": "quadratic", "sigma_power": 1, "layers": [
      {"type": "conv2d", "out": 8, "kernel": 3, "padding": 1}, {"type": "group_norm", "groups": 2}, {"type": "film"}, {"type": "silu"},
      {"type": "avg_pool"}, {"type": "residual", "body": [{"type": "conv2d", "out": 8, "kernel": 3, "padding": 1}, {"type": "silu"}]},
      {"type": "upsample"}, {"type": "conv2d", "out": 1, "kernel": 3, "padding": 1}]})";
}

// E, grad_x E and the parameter gradient of a DSM-style loss sum((sigma grad_x E + eps)^2), flat.
std::vector<double> dsm_bits(const Net& net, const MatD& x, const MatD& sigma, const MatD& eps, bool with_params) {
  ad::Tape<double> tape;
  const auto params = net.bind(tape, with_params);
  const V xv = tape.variable(x), s = tape.constant(sigma);
  const V e = net.energy(xv, params, net.conditional() ? s : V());
  ad::GradOptions<double> keep;
  keep.create_graph = with_params;
  const V gx = tape.grad(ad::sum(e), {xv}, keep)[0];
  std::vector<double> out(e.value().data(), e.value().data() + e.value().size());
  out.insert(out.end(), gx.value().data(), gx.value().data() + gx.value().size());
  if (with_params) {
    const V loss = ad::sum(ad::square(s * gx + tape.constant(eps)));
    for (const V& g : tape.grad(loss, params)) out.insert(out.end(), g.value().data(), g.value().data() + g.value().size());
  }
  return out;
}

TEST(Determinism, ConvNetworkIsBitIdenticalForOneAndTwoThreads) {
  Net net = Net::from_json(conv_network(), 3);
  perturb(net, 9);
  const Index n = 5;
  const MatD x = normal(n, net.dim(), 4), sigma = sigmas(n, 5), eps = normal(n, net.dim(), 6);
  ebm::set_num_threads(1);
  const auto one = dsm_bits(net, x, sigma, eps, true);
  ebm::set_num_threads(2);
  const auto two = dsm_bits(net, x, sigma, eps, true);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(0, std::memcmp(one.data(), two.data(), sizeof(double) * one.size()));
}

TEST(Determinism, ASampleAloneEqualsTheSameSampleInABatch) {
  ebm::set_num_threads(2);
  Net net = Net::from_json(conv_network(), 3);
  perturb(net, 9);
  const Index n = 7, d = net.dim();
  const MatD x = normal(n, d, 4), sigma = sigmas(n, 5), eps = normal(n, d, 6);
  const auto all = dsm_bits(net, x, sigma, eps, false);  // E (n), then grad_x (n x d)
  for (Index i = 0; i < n; i += 3) {
    const auto alone = dsm_bits(net, x.row(i), sigma.row(i), eps.row(i), false);
    EXPECT_EQ(alone[0], all[static_cast<std::size_t>(i)]) << "energy of sample " << i;
    EXPECT_EQ(0, std::memcmp(alone.data() + 1, all.data() + n + i * d, sizeof(double) * static_cast<std::size_t>(d)))
        << "grad_x of sample " << i;
  }
  // A sub-batch from the middle.
  const auto part = dsm_bits(net, x.middleRows(2, 3), sigma.middleRows(2, 3), eps.middleRows(2, 3), false);
  EXPECT_EQ(0, std::memcmp(part.data(), all.data() + 2, sizeof(double) * 3));
  EXPECT_EQ(0, std::memcmp(part.data() + 3, all.data() + n + 2 * d, sizeof(double) * static_cast<std::size_t>(3 * d)));
}

}  // namespace
