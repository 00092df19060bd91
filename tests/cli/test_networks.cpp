// The command with architecture files: training convolutional and noise-conditional networks on
// images, bit-identical resume, `sample --sampler ncsn` with Tweedie denoising, image grids, and
// the errors a user meets (a bad file, a mismatched dimension, flags that do not apply).
#include "cli/cli_helpers.hpp"

#include <ebm/data/matrix_file.hpp>
#include <ebm/io/model_file.hpp>
#include <ebm/nn/network.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace {

using cli_test::CommandResult;
using cli_test::lines;
using cli_test::path;
using cli_test::run;

const std::string kModels = std::string(EBM_TEST_DIR) + "/../examples/models/";

std::string read(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// 12 random 28x28 "images" in [0, 1], as a .npy file.
void write_images(const std::string& name) {
  ebm::MatF x = (ebm::MatF::Random(12, 784).array() * 0.5f + 0.5f).matrix();
  ebm::write_matrix<float>(path(name), x, {});
}

TEST(CliNetworks, TrainsAConvolutionalEnergyFromAnArchitectureFile) {
  write_images("img.npy");
  const CommandResult r = run("train --data img.npy --model '" + kModels + "conv_28x28.json' --objective dsm --sigma 0.1 "
                              "--no-standardize --flip --steps 3 --batch 4 -o conv.safetensors --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto m = ebm::io::load_model<float>(path("conv.safetensors"));
  EXPECT_EQ(m.info.architecture, ebm::nn::Network<float>::from_json(read(kModels + "conv_28x28.json"), 0).architecture());
  EXPECT_EQ(m.network.input_shape().str(), "28x28x1");
  const CommandResult e = run("energy --model conv.safetensors --at img.npy -o e.csv --quiet");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(lines(cli_test::slurp("e.csv")), 13);  // header and 12 energies
}

TEST(CliNetworks, NoiseConditionalNetworkSamplesByNcsnAndPlotsOneImagePerChain) {
  write_images("img.npy");
  ASSERT_EQ(run("train --data img.npy --model '" + kModels + "ncsn_28x28.json' --objective dsm --noise-levels 4 --sigma 0.05 "
                "--sigma-max 1 --no-standardize --steps 2 --batch 4 -o ncsn.safetensors --quiet")
                .exit_code,
            0);
  const auto m = ebm::io::load_model<float>(path("ncsn.safetensors"));
  ASSERT_EQ(m.info.noise_levels.size(), 4u);
  EXPECT_DOUBLE_EQ(m.info.noise_levels.front(), 1.0);
  EXPECT_DOUBLE_EQ(m.info.noise_levels.back(), 0.05);
  EXPECT_EQ(m.info.energy_scale, 1.0);  // the network is conditioned on sigma: no E / sigma temperature
  const CommandResult s = run("sample --model ncsn.safetensors --sampler ncsn --chains 3 --steps 8 --denoise -o s.csv --quiet");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const ebm::Table<double> t = ebm::read_table<double>(path("s.csv"));
  ASSERT_EQ(t.values.rows(), 3);  // one draw per chain: the end of the last level
  ASSERT_EQ(t.values.cols(), 2 + 784);
  EXPECT_TRUE(t.values.allFinite());
  const CommandResult p = run("plot images --samples s.csv --shape 28x28 -o grid.png --quiet");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_TRUE(cli_test::exists("grid.png"));
  // The model's data-level energy (its smallest level) serves energy, score and the other samplers.
  EXPECT_EQ(run("energy --model ncsn.safetensors --at img.npy -o e.csv --quiet").exit_code, 0);
}

TEST(CliNetworks, ResumingAnArchitectureFileRunGivesTheSameModelBytes) {
  write_images("img.npy");
  const std::string common = "train --data img.npy --model '" + kModels + "ncsn_28x28.json' --objective dsm --noise-levels 3 "
                             "--sigma 0.1 --no-standardize --flip --steps 4 --batch 4 --quiet ";
  ASSERT_EQ(run(common + "-o whole.safetensors").exit_code, 0);
  ASSERT_EQ(run(common + "--stop-at 2 --checkpoint half.ckpt -o half.safetensors").exit_code, 0);
  const CommandResult r = run("train --resume half.ckpt -o resumed.safetensors --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(cli_test::slurp("whole.safetensors") == cli_test::slurp("resumed.safetensors"));
}

TEST(CliNetworks, TheTrainingLogSaysWhichExactScoreMatchingRouteRuns) {
  ASSERT_EQ(run("data make moons --n 64 -o m.csv --quiet").exit_code, 0);
  const CommandResult mlp = run("train --data m.csv --model mlp:8 --steps 1 -o a.safetensors");
  ASSERT_EQ(mlp.exit_code, 0) << mlp.err;
  EXPECT_NE(mlp.err.find("forward Laplacian"), std::string::npos) << mlp.err;
  cli_test::write_file("res.json", R"({"input": 2, "layers": [{"type": "linear", "out": 8}, {"type": "tanh"},
      {"type": "residual", "body": [{"type": "linear", "out": 8}, {"type": "tanh"}]}, {"type": "linear", "out": 1}]})");
  const CommandResult res = run("train --data m.csv --model res.json --steps 1 -o b.safetensors");
  ASSERT_EQ(res.exit_code, 0) << res.err;
  EXPECT_NE(res.err.find("naive route"), std::string::npos) << res.err;
}

TEST(CliNetworks, MistakesGetOneLineNamingTheFileOrFlag) {
  write_images("img.npy");
  ASSERT_EQ(run("data make moons --n 64 -o m.csv --quiet").exit_code, 0);
  ASSERT_EQ(run("train --data m.csv --model mlp:8 --steps 1 -o plain.safetensors --quiet").exit_code, 0);
  cli_test::write_file("bad.json", R"({"input": [28, 28, 1], "layers": [{"type": "conv2d", "out": 4, "kernel": 3, "groups": 2}]})");
  struct Case {
    std::string args, fragment;
    int code;
  };
  const std::string ncsn = "'" + kModels + "ncsn_28x28.json'";
  for (const Case& c : std::vector<Case>{
           {"train --data img.npy --model bad.json --objective dsm --steps 1 -o x.safetensors", "bad.json: layers[0]: unknown field 'groups'", 1},
           {"train --data m.csv --model " + ncsn + " --objective dsm --steps 1 -o x.safetensors", "takes 784", 1},
           {"train --data img.npy --model " + ncsn + " --objective sm --steps 1 -o x.safetensors", "noise-conditional", 2},
           {"train --data m.csv --model mlp:8 --flip --steps 1 -o x.safetensors", "--flip", 2},
           {"train --data m.csv --model missing.json --steps 1 -o x.safetensors", "missing.json", 1},
           {"sample --model plain.safetensors --sampler ncsn -o s.csv", "--sampler: ncsn needs a noise-conditional model, and plain.safetensors is not one", 2},
           {"sample --model plain.safetensors --denoise -o s.csv", "--denoise", 2},
       }) {
    const CommandResult r = run(c.args);
    EXPECT_EQ(r.exit_code, c.code) << c.args << ": " << r.err;
    EXPECT_EQ(lines(r.err), 1) << c.args << ": " << r.err;
    EXPECT_NE(r.err.find(c.fragment), std::string::npos) << c.args << ": " << r.err;
  }
}

}  // namespace
