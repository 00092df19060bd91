// Networks against PyTorch in float64, layer by layer and whole: the same weights in the module
// that python/ebm_torch.py builds from the same description (torch's conv2d, GroupNorm,
// AvgPool2d, Upsample(nearest), ...) give E, grad_x E and the parameter gradient of the DSM-style
// loss sum((sigma grad_x E + eps)^2) (a double backward, create_graph=True) equal to ebm's to
// 1e-12 relative (max |ebm - torch| / max |torch| per quantity): two float64 implementations of
// the same arithmetic differ by rounding only. The module's state_dict keys and shapes must be
// ebm's parameter names and file shapes (load_state_dict(strict=True) on the Python side), and
// ebm_torch.load must read ebm's model files (standardisation, energy scale, float32, version 1).
//
// Missing /usr/bin/python3 or torch is a failure, not a skip.
#include <ebm/ad/ops.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/energy/mlp.hpp>
#include <ebm/io/model_file.hpp>
#include <ebm/io/safetensors.hpp>
#include <ebm/nn/network.hpp>

#include <gtest/gtest.h>

#include "support/test_support.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace ad = ebm::ad;
namespace fs = std::filesystem;
using ebm::Index;
using ebm::MatD;
using ebm_test::read_text_matrix;
using ebm_test::write_text_matrix;
using Net = ebm::nn::Network<double>;
using V = ad::Var<double>;

constexpr double kRelTol = 1e-12;

MatD normal(Index rows, Index cols, std::uint64_t seed) {
  MatD m(rows, cols);
  ebm::CounterRng(seed, 0).normal<double>(0, std::span<double>(m.data(), static_cast<std::size_t>(m.size())));
  return m;
}

MatD sigmas(Index n, std::uint64_t seed) {  // in [0.05, 2]
  MatD u(n, 1);
  ebm::CounterRng(seed, 1).uniform<double>(0, std::span<double>(u.data(), static_cast<std::size_t>(u.size())));
  return u.unaryExpr([](double v) { return 0.05 * std::pow(40.0, v); });
}

struct Case {
  std::string name;
  std::string architecture;
  Index n = 3;
};

const std::string kCond = R"("condition": {"fourier_features": 6, "max_frequency": 4, "width": 5})";

std::vector<Case> cases() {
  std::vector<Case> c = {
      {"linear_softplus", R"({"input": 4, "layers": [{"type": "linear", "out": 6}, {"type": "softplus"}, {"type": "linear", "out": 1}]})"},
      {"linear_on_image_silu", R"({"input": [3, 2, 2], "layers": [{"type": "linear", "out": 5}, {"type": "silu"}, {"type": "linear", "out": 1}]})"},
      {"activations", R"({"input": 3, "layers": [{"type": "linear", "out": 6}, {"type": "tanh"}, {"type": "linear", "out": 6},
          {"type": "gelu"}, {"type": "linear", "out": 6}, {"type": "elu", "alpha": 0.7}, {"type": "linear", "out": 6},
          {"type": "sigmoid"}, {"type": "linear", "out": 6}, {"type": "relu"}, {"type": "linear", "out": 1}]})"},
      {"conv2d", R"({"input": [5, 4, 2], "layers": [{"type": "conv2d", "out": 3, "kernel": 3, "padding": 1}, {"type": "softplus"},
          {"type": "flatten"}, {"type": "linear", "out": 1}]})"},
      {"conv2d_stride2_padding2_dilation2", R"({"input": [7, 6, 3], "layers": [{"type": "conv2d", "out": 2, "kernel": 3, "stride": 2,
          "padding": 2, "dilation": 2}, {"type": "tanh"}, {"type": "linear", "out": 1}]})"},
      {"conv2d_stride2_no_padding", R"({"input": [6, 7, 1], "layers": [{"type": "conv2d", "out": 4, "kernel": 2, "stride": 2},
          {"type": "silu"}, {"type": "conv2d", "out": 1, "kernel": 1}, {"type": "softplus"}, {"type": "linear", "out": 1}]})"},
      {"conv2d_dilation2", R"({"input": [6, 6, 2], "layers": [{"type": "conv2d", "out": 3, "kernel": 3, "padding": 1, "dilation": 2},
          {"type": "gelu"}, {"type": "linear", "out": 1}]})"},
      {"avg_pool", R"({"input": [4, 6, 2], "layers": [{"type": "conv2d", "out": 3, "kernel": 3, "padding": 1}, {"type": "tanh"},
          {"type": "avg_pool"}, {"type": "silu"}, {"type": "linear", "out": 1}]})"},
      {"avg_pool_kernel3", R"({"input": [6, 3, 2], "layers": [{"type": "conv2d", "out": 2, "kernel": 1}, {"type": "softplus"},
          {"type": "avg_pool", "kernel": 3}, {"type": "tanh"}, {"type": "linear", "out": 1}]})"},
      {"upsample", R"({"input": [3, 2, 2], "layers": [{"type": "upsample"}, {"type": "conv2d", "out": 2, "kernel": 3, "padding": 1},
          {"type": "tanh"}, {"type": "linear", "out": 1}]})"},
      {"upsample_factor3", R"({"input": [2, 1, 2], "layers": [{"type": "conv2d", "out": 2, "kernel": 1}, {"type": "tanh"},
          {"type": "upsample", "factor": 3}, {"type": "conv2d", "out": 1, "kernel": 2}, {"type": "softplus"}, {"type": "linear", "out": 1}]})"},
      {"group_norm", R"({"input": [3, 3, 2], "layers": [{"type": "conv2d", "out": 6, "kernel": 1}, {"type": "group_norm", "groups": 3,
          "eps": 0.001}, {"type": "silu"}, {"type": "linear", "out": 1}]})"},
      {"group_norm_one_group", R"({"input": [2, 3, 4], "layers": [{"type": "conv2d", "out": 4, "kernel": 1}, {"type": "group_norm", "groups": 1},
          {"type": "tanh"}, {"type": "linear", "out": 1}]})"},
      // A tanh between: a per-channel norm cancels a conv bias right before it (gradient 0 up to
      // rounding, which relative comparison cannot judge).
      {"group_norm_per_channel", R"({"input": [3, 2, 2], "layers": [{"type": "conv2d", "out": 3, "kernel": 3, "padding": 1},
          {"type": "tanh"}, {"type": "group_norm", "groups": 3, "eps": 0.01}, {"type": "softplus"}, {"type": "linear", "out": 1}]})"},
      // Groups of 3 numbers (groups of 1 are normalised to exactly 0, groups of 2 nearly-equal
      // numbers make the second derivative ill-conditioned).
      {"group_norm_flat", R"({"input": 5, "layers": [{"type": "linear", "out": 6}, {"type": "group_norm", "groups": 2, "eps": 0.01},
          {"type": "softplus"}, {"type": "linear", "out": 1}]})"},
      {"film", R"({"input": [3, 3, 2], )" + kCond + R"(, "layers": [{"type": "conv2d", "out": 4, "kernel": 3, "padding": 1},
          {"type": "group_norm", "groups": 2}, {"type": "film"}, {"type": "silu"}, {"type": "flatten"}, {"type": "linear", "out": 1}]})"},
      {"film_elu_embedding_two_features", R"({"input": 3, "condition": {"fourier_features": 2, "width": 3, "activation": "elu"},
          "layers": [{"type": "linear", "out": 4}, {"type": "film"}, {"type": "tanh"}, {"type": "linear", "out": 1}]})"},
      {"film_condition_defaults", R"({"input": 2, "condition": {}, "layers": [{"type": "linear", "out": 3}, {"type": "film"},
          {"type": "gelu"}, {"type": "linear", "out": 1}]})"},
      {"residual", R"({"input": [4, 4, 2], "layers": [{"type": "conv2d", "out": 3, "kernel": 3, "padding": 1},
          {"type": "residual", "body": [{"type": "conv2d", "out": 3, "kernel": 3, "padding": 1}, {"type": "tanh"},
          {"type": "conv2d", "out": 3, "kernel": 1}]}, {"type": "softplus"}, {"type": "flatten"}, {"type": "linear", "out": 1}]})"},
      {"residual_nested_with_film", R"({"input": 3, )" + kCond + R"(, "layers": [{"type": "residual", "body": [{"type": "linear", "out": 3},
          {"type": "film"}, {"type": "residual", "body": [{"type": "tanh"}, {"type": "linear", "out": 3}]}]},
          {"type": "silu"}, {"type": "linear", "out": 1}]})"},
      {"quadratic_head", R"({"input": [4, 3, 1], "energy": "quadratic", "layers": [{"type": "conv2d", "out": 3, "kernel": 3, "padding": 1},
          {"type": "softplus"}, {"type": "conv2d", "out": 1, "kernel": 3, "padding": 1}]})"},
      {"quadratic_head_channels", R"({"input": [2, 3, 2], "energy": "quadratic", "layers": [{"type": "conv2d", "out": 4, "kernel": 3, "padding": 1},
          {"type": "tanh"}, {"type": "conv2d", "out": 2, "kernel": 1}]})"},
      {"sigma_power_1", R"({"input": [3, 3, 1], )" + kCond + R"(, "energy": "quadratic", "sigma_power": 1, "layers": [
          {"type": "conv2d", "out": 2, "kernel": 3, "padding": 1}, {"type": "film"}, {"type": "silu"},
          {"type": "conv2d", "out": 1, "kernel": 3, "padding": 1}]})"},
      {"sigma_power_2", R"({"input": 3, )" + kCond + R"(, "sigma_power": 2, "layers": [{"type": "linear", "out": 4}, {"type": "film"},
          {"type": "softplus"}, {"type": "linear", "out": 1}]})"},
      {"mlp_sugar", R"({"type": "mlp", "widths": [3, 8, 8, 1], "activation": "elu"})"},
      // Small complete networks: an NCSN-style quadratic denoiser and a conv classifier head.
      {"small_ncsn", R"({"input": [8, 8, 1], "condition": {"fourier_features": 8, "width": 8}, "energy": "quadratic", "sigma_power": 1,
          "layers": [{"type": "conv2d", "out": 4, "kernel": 3, "padding": 1}, {"type": "group_norm", "groups": 2}, {"type": "film"},
          {"type": "silu"}, {"type": "avg_pool"}, {"type": "conv2d", "out": 6, "kernel": 3, "padding": 1},
          {"type": "group_norm", "groups": 3}, {"type": "film"}, {"type": "silu"},
          {"type": "residual", "body": [{"type": "conv2d", "out": 6, "kernel": 3, "padding": 1}, {"type": "group_norm", "groups": 3},
          {"type": "film"}, {"type": "silu"}, {"type": "conv2d", "out": 6, "kernel": 3, "padding": 1}]},
          {"type": "upsample"}, {"type": "conv2d", "out": 4, "kernel": 3, "padding": 1}, {"type": "silu"},
          {"type": "conv2d", "out": 1, "kernel": 3, "padding": 1}]})"},
      {"small_conv_classifier", R"({"input": [9, 7, 3], "layers": [{"type": "conv2d", "out": 4, "kernel": 3, "padding": 1}, {"type": "silu"},
          {"type": "conv2d", "out": 6, "kernel": 3, "stride": 2, "padding": 1}, {"type": "silu"},
          {"type": "conv2d", "out": 6, "kernel": 3, "stride": 2, "padding": 1, "dilation": 2}, {"type": "silu"},
          {"type": "flatten"}, {"type": "linear", "out": 5}, {"type": "silu"}, {"type": "linear", "out": 1}]})"},
  };
  // The example architectures, full size, two samples.
  const fs::path dir = fs::path(EBM_TEST_DIR).parent_path() / "examples" / "models";
  std::vector<fs::path> files;
  if (fs::is_directory(dir))
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path().extension() == ".json") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) c.push_back({"example_" + f.stem().string(), ebm_test::read_bytes(f.string()), 2});
  return c;
}

// The network of a case: initialised from a seed, then every parameter moved off its initial
// value so that group norm scales, FiLM and biases all matter.
Net network(const Case& c) {
  Net net = Net::from_json(c.architecture, 21);
  net.edit_parameters([&](const std::vector<MatD*>& p) {
    for (std::size_t k = 0; k < p.size(); ++k) *p[k] += 0.25 * normal(p[k]->rows(), p[k]->cols(), 300 + k);
  });
  return net;
}

struct Inputs {
  MatD x, sigma, eps;
};

Inputs inputs(const Net& net, Index n) { return {normal(n, net.dim(), 31), sigmas(n, 32), normal(n, net.dim(), 33)}; }

struct Results {
  MatD energy, grad_x, loss;
  std::vector<MatD> grads;  // parameter_specs() order
};

Results ebm_results(const Net& net, const Inputs& in) {
  ad::Tape<double> tape;
  const auto params = net.bind(tape, true);
  const V x = tape.variable(in.x), sigma = tape.constant(in.sigma);
  const V e = net.energy(x, params, net.conditional() ? sigma : V());
  ad::GradOptions<double> keep;
  keep.create_graph = true;
  const V gx = tape.grad(ad::sum(e), {x}, keep)[0];
  const V loss = ad::sum(ad::square(sigma * gx + tape.constant(in.eps)));
  Results r{e.value(), gx.value(), loss.value(), {}};
  for (const V& g : tape.grad(loss, params)) r.grads.push_back(g.value());
  return r;
}

// max |a - b| / max |b|, printed, or a failure naming the mismatch.
::testing::AssertionResult agrees(const std::string& what, const MatD& ours, const MatD& torch, double tol = kRelTol) {
  if (ours.rows() != torch.rows() || ours.cols() != torch.cols())
    return ::testing::AssertionFailure() << what << ": ebm is " << ours.rows() << "x" << ours.cols() << ", torch " << torch.rows()
                                         << "x" << torch.cols();
  const double scale = std::max(torch.cwiseAbs().maxCoeff(), std::numeric_limits<double>::min());
  const double rel = (ours - torch).cwiseAbs().maxCoeff() / scale;
  ebm_test::measured(what + ": max|ebm - torch| / max|torch|", rel);
  if (rel <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": relative difference " << rel << " > " << tol;
}

// ---------------------------------------------------------------------------------------------
// Model files for ebm_torch.load.

struct FileCase {
  std::string name;
  MatD x, sigma;
  MatD expected;     // ebm's energies of the raw points
  double tolerance;  // relative, as agrees()
};

// A noise-conditional network on standardised data with an energy scale (float64).
FileCase conditional_file(const fs::path& dir) {
  const Net net = network({"", R"({"input": [4, 4, 1], "condition": {"fourier_features": 4, "width": 4}, "energy": "quadratic",
      "sigma_power": 1, "layers": [{"type": "conv2d", "out": 2, "kernel": 3, "padding": 1}, {"type": "group_norm", "groups": 2},
      {"type": "film"}, {"type": "silu"}, {"type": "conv2d", "out": 1, "kernel": 3, "padding": 1}]})", 3});
  ebm::io::ModelInfo info;
  for (Index j = 0; j < net.dim(); ++j) {
    info.data_mean.push_back(0.1 * double(j) - 0.5);
    info.data_scale.push_back(0.5 + 0.05 * double(j));
  }
  info.energy_scale = 2.5;
  info.noise_levels = {1.0, 0.3, 0.1};
  info.objective = "dsm";
  info.step = 12;
  ebm::io::save_model(dir.string() + "/model.safetensors", net, info);
  FileCase c{"file_conditional_standardized_f64", normal(4, net.dim(), 41), sigmas(4, 42), MatD(), kRelTol};
  ad::Tape<double> tape;
  MatD standardized = c.x;
  for (Index j = 0; j < net.dim(); ++j)
    standardized.col(j) = ((c.x.col(j).array() - info.data_mean[j]) / info.data_scale[j]).matrix();
  c.expected = info.energy_scale * MatD(net.energy(tape.constant(standardized), net.bind(tape, false), tape.constant(c.sigma)).value());
  return c;
}

// An unconditional conv network in float32: torch evaluates it in float32 too, so the two differ
// by float rounding (~1e-7 per operation, a few dozen deep).
FileCase float_file(const fs::path& dir) {
  auto net = ebm::nn::Network<float>::from_json(R"({"input": [5, 5, 2], "layers": [{"type": "conv2d", "out": 3, "kernel": 3,
      "stride": 2, "padding": 1}, {"type": "tanh"}, {"type": "flatten"}, {"type": "linear", "out": 4}, {"type": "softplus"},
      {"type": "linear", "out": 1}]})", 5);
  ebm::io::save_model(dir.string() + "/model.safetensors", net, ebm::io::ModelInfo{});
  FileCase c{"file_unconditional_f32", normal(4, net.dim(), 43), MatD(), MatD(), 1e-5};
  ad::Tape<float> tape;
  c.expected = net.energy(tape.constant(ebm::Mat<float>(c.x.cast<float>()))).value().cast<double>();
  return c;
}

// A format_version 1 file as older ebm wrote it: an MLP ("architecture": {"widths", "activation"}),
// Linear weights 2-D (the last one [1, H]), a temperature t in "extra" (energy_scale 1 / t).
FileCase version1_file(const fs::path& dir) {
  ebm::MlpOptions o;
  o.widths = {3, 6, 1};
  o.activation = ebm::Activation::Tanh;
  o.seed = 8;
  const ebm::Mlp<double> mlp(o);
  ebm::io::TensorFile file;
  for (Index l = 0; l < mlp.layers(); ++l) {
    file.tensors.push_back(ebm::io::tensor_from(std::to_string(2 * l) + ".weight", mlp.weight(l)));
    file.tensors.push_back(ebm::io::tensor_from_row(std::to_string(2 * l) + ".bias", mlp.bias(l)));
  }
  file.metadata["format"] = "ebm-model";
  file.metadata["ebm"] = R"({"format_version": 1, "architecture": {"widths": [3, 6, 1], "activation": "tanh"},
      "standardization": null, "objective": "sm", "step": 3, "extra": {"temperature": "0.5"}})";
  ebm::io::write_safetensors(dir.string() + "/model.safetensors", file);
  FileCase c{"file_version1_mlp", normal(5, 3, 44), MatD(), MatD(), kRelTol};
  ad::Tape<double> tape;
  c.expected = 2.0 * MatD(mlp.energy(tape.constant(c.x)).value());
  return c;
}

// ---------------------------------------------------------------------------------------------
// One Python run per test (ctest runs each test in its own process, and importing torch takes
// seconds): a test writes all its cases, runs torch_layers.py once, then compares them one by one.

std::string run_torch(const ebm_test::TempDir& dir) {
  return ebm_test::run_python("nn/torch_layers.py", {dir.path().string()}, dir.path() / "stderr.log");
}

std::string python_error(const fs::path& d) {
  return fs::exists(d / "python_error.txt") ? ebm_test::read_bytes((d / "python_error.txt").string()) : std::string();
}

void write_case(const fs::path& d, const Case& c) {
  fs::create_directories(d);
  const Net net = network(c);
  const Inputs in = inputs(net, c.n);
  std::ofstream(d / "architecture.json") << net.architecture();
  write_text_matrix(d / "x.txt", in.x);
  write_text_matrix(d / "sigma.txt", in.sigma);
  write_text_matrix(d / "eps.txt", in.eps);
  for (std::size_t k = 0; k < net.parameter_specs().size(); ++k)
    write_text_matrix(d / ("param." + net.parameter_specs()[k].name + ".txt"), net.parameter_values()[k]);
}

void compare_case(const fs::path& d, const Case& c) {
  SCOPED_TRACE(c.name);
  ASSERT_EQ(python_error(d), "");
  const Net net = network(c);
  const Results ours = ebm_results(net, inputs(net, c.n));

  // The module's tensors: ebm's names, in ebm's order, with ebm's file shapes.
  std::ifstream listing(d / "state_dict.txt");
  const auto& specs = net.parameter_specs();
  std::size_t k = 0;
  for (std::string line; std::getline(listing, line); ++k) {
    ASSERT_LT(k, specs.size()) << "torch has more tensors: " << line;
    std::ostringstream expected;
    expected << specs[k].name;
    for (Index dim : specs[k].file_shape()) expected << " " << dim;
    EXPECT_EQ(line, expected.str());
  }
  EXPECT_EQ(k, specs.size());

  EXPECT_TRUE(agrees(c.name + " E", ours.energy, read_text_matrix(d / "energy.txt")));
  EXPECT_TRUE(agrees(c.name + " grad_x E", ours.grad_x, read_text_matrix(d / "grad_x.txt")));
  EXPECT_TRUE(agrees(c.name + " DSM loss", ours.loss, read_text_matrix(d / "loss.txt")));
  for (std::size_t p = 0; p < specs.size(); ++p)
    EXPECT_TRUE(agrees(c.name + " d loss / d " + specs[p].name, ours.grads[p],
                       read_text_matrix(d / ("grad." + specs[p].name + ".txt"))));
}

TEST(Torch, EveryLayerAndNetworkGivesTorchsEnergyGradXAndDsmParameterGradient) {
  const ebm_test::TempDir dir;
  const std::vector<Case> all = cases();
  for (const Case& c : all) write_case(dir.path() / c.name, c);
  const std::string error = run_torch(dir);
  ASSERT_TRUE(error.empty()) << error;
  for (const Case& c : all) compare_case(dir.path() / c.name, c);
}

TEST(TorchLoad, ModelFilesLoadWithStandardisationEnergyScaleFloat32AndVersion1) {
  const ebm_test::TempDir dir;
  std::vector<FileCase> files;
  for (auto make : {&conditional_file, &float_file, &version1_file}) {
    const fs::path scratch = dir.path() / "scratch";
    fs::create_directories(scratch);
    FileCase f = make(scratch);
    fs::rename(scratch, dir.path() / f.name);
    write_text_matrix(dir.path() / f.name / "x.txt", f.x);
    if (f.sigma.size()) write_text_matrix(dir.path() / f.name / "sigma.txt", f.sigma);
    files.push_back(std::move(f));
  }
  const std::string error = run_torch(dir);
  ASSERT_TRUE(error.empty()) << error;
  for (const FileCase& f : files) {
    SCOPED_TRACE(f.name);
    const fs::path d = dir.path() / f.name;
    ASSERT_EQ(python_error(d), "");
    EXPECT_TRUE(agrees(f.name + " E_raw", read_text_matrix(d / "load_energy.txt"), f.expected, f.tolerance));
  }
}

TEST(TorchLoad, EbmReadsTheVersion1FileTheLoaderIsTestedOn) {
  // The same file through ebm's own reader: the Python loader is held to what ebm means by it.
  const ebm_test::TempDir dir;
  const FileCase f = version1_file(dir.path());
  const auto loaded = ebm::io::load_model<double>((dir.path() / "model.safetensors").string());
  ad::Tape<double> tape;
  const MatD e = loaded.info.energy_scale * MatD(loaded.network.energy(tape.constant(f.x)).value());
  EXPECT_TRUE(agrees("ebm load_model of the version 1 file", e, f.expected, 0.0));
}

}  // namespace
