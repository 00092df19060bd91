// ebm model files load into PyTorch as they are. For each activation, in float and double, an
// Mlp is saved with save_model, a batch of points and ebm's energies are saved as safetensors,
// and load_in_torch.py (standard library + torch, no `safetensors` package) parses the files,
// rebuilds torch.nn.Sequential from the metadata, load_state_dict(strict=True) and compares
// energies: max|ebm - torch| / max|torch| < 1e-12 in float64, 1e-5 in float32 (the script's
// docstring says why). One Python run checks all models (importing torch takes seconds).
// Missing /usr/bin/python3 or torch is a failure, not a skip.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <ebm/core/rng.hpp>
#include <ebm/io/model_file.hpp>
#include <iterator>
#include <limits>
#include <span>

#include "io/io_test_util.hpp"

namespace {

namespace io = ebm::io;
namespace fs = std::filesystem;
using ebm::Activation;
using ebm::Index;

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kInstallHint =
    "PyTorch is needed as the reference: install python3-torch (scripts/setup.sh --with-test installs it)";

// Writes model, points and energies for one case; returns the three paths as script arguments.
template <class T>
std::string write_case(const fs::path& dir, Activation activation, std::uint64_t seed) {
  ebm::MlpOptions options;
  options.widths = {3, 16, 16, 1};
  options.activation = activation;
  options.seed = seed;
  const ebm::Mlp<T> mlp(options);
  const std::string stem = std::string(ebm::activation_name(activation)) + (std::is_same_v<T, float> ? "-f32" : "-f64");
  const std::string model = (dir / (stem + ".model.safetensors")).string();
  const std::string points = (dir / (stem + ".points.safetensors")).string();
  const std::string energies = (dir / (stem + ".energy.safetensors")).string();

  io::ModelInfo info;
  info.data_mean = {0.5, -1.0, 2.0};
  info.data_scale = {1.5, 0.25, 3.0};
  info.objective = "ssm";
  info.step = 42;
  info.extra = {{"source", "test_torch_load"}};
  io::save_model(model, mlp, info);

  ebm::Mat<T> x(64, 3);
  ebm::CounterRng(seed, 1).normal<T>(0, std::span<T>(x.data(), static_cast<std::size_t>(x.size())));
  x *= T(2);
  io::TensorFile pts;
  pts.tensors.push_back(io::tensor_from("x", x));
  const std::vector<std::int64_t> i64 = {-3, 1LL << 40, std::numeric_limits<std::int64_t>::min(),
                                         std::numeric_limits<std::int64_t>::max()};
  const std::vector<std::uint64_t> u64 = {0, 7, std::numeric_limits<std::uint64_t>::max()};
  const std::vector<std::uint8_t> u8 = {0, 1, 255};
  pts.tensors.push_back(io::tensor_from_values<std::int64_t>("check_i64", i64));
  pts.tensors.push_back(io::tensor_from_values<std::uint64_t>("check_u64", u64));
  pts.tensors.push_back(io::tensor_from_values<std::uint8_t>("check_u8", u8, std::vector<std::int64_t>{1, 3}));
  io::write_safetensors(points, pts);

  ebm::ad::Tape<T> tape;
  const ebm::Vec<T> e = mlp.energy(tape, x);
  io::TensorFile en;
  en.tensors.push_back(
      io::tensor_from_values<T>("energy", std::span<const T>(e.data(), static_cast<std::size_t>(e.size()))));
  io::write_safetensors(energies, en);
  return " '" + model + "' '" + points + "' '" + energies + "'";
}

TEST(TorchLoad, EbmModelFilesLoadIntoTorchAndGiveTheSameEnergies) {
  ASSERT_TRUE(fs::exists(kPython)) << kPython << " not found. " << kInstallHint;
  const io_test::TempDir dir;
  std::string args;
  std::uint64_t seed = 1;
  int cases = 0;
  for (Activation a : {Activation::Softplus, Activation::Silu, Activation::Tanh, Activation::Gelu, Activation::Elu,
                       Activation::Relu}) {
    args += write_case<double>(dir.path(), a, seed++);
    args += write_case<float>(dir.path(), a, seed++);
    cases += 2;
  }
  const fs::path script = fs::path(EBM_TEST_DIR) / "io" / "load_in_torch.py";
  const std::string log = dir.file("log.txt");
  const std::string command = std::string(kPython) + " '" + script.string() + "'" + args + " > '" + log + "' 2>&1";
  const int status = std::system(command.c_str());
  const std::string output = io_test::slurp(log);
  std::printf("%s", output.c_str());
  ASSERT_NE(status, -1) << "cannot run " << command;
  ASSERT_TRUE(WIFEXITED(status)) << command << " did not exit normally (status " << status << ")\n" << output;
  const int code = WEXITSTATUS(status);
  ASSERT_EQ(code, 0) << command << " exited with " << code << ":\n" << output << (code == 2 ? kInstallHint : "");
  // Every case reported, and passed: the script cannot succeed by checking nothing.
  std::size_t ok = 0;
  for (std::size_t pos = 0; (pos = output.find("ok  ", pos)) != std::string::npos; pos += 4) ++ok;
  EXPECT_EQ(ok, static_cast<std::size_t>(cases)) << output;
}

}  // namespace
