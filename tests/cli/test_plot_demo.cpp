// `ebm plot` and `ebm demo` through the built binary: every plot kind writes a PNG of the
// documented canvas size with real content (read back with Cairo), SVG and PDF by extension, the
// error paths (exit 2 for usage, 1 for files; one line on stderr; no figure left behind), and a
// reduced demo run that writes the report, finite metrics and every figure, with the same numbers
// for one thread and two.
#include <ebm/data/matrix_file.hpp>
#include <ebm/data/npy.hpp>
#include <ebm/data/toy.hpp>
#include <ebm/energy/mlp.hpp>
#include <ebm/io/model_file.hpp>

#include <cairo.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cli/cli_helpers.hpp"

namespace {

namespace fs = std::filesystem;
using ebm::Index;
using ebm::MatD;

// ---------------------------------------------------------------- running the binary

using cli_test::CommandResult;
using cli_test::lines;
using cli_test::path;
using cli_test::run;
using cli_test::scratch;

// A file by its full path (cli_test::slurp takes a name in the scratch directory).
std::string slurp(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// ---------------------------------------------------------------- PNGs read back

struct PngInfo {
  bool ok = false;
  int width = 0, height = 0;
  double inked = 0;         // fraction of pixels that are not white
  std::int64_t chromatic = 0;  // pixels with colour (axes, ticks and text are grey)
};

PngInfo read_png(const std::string& file) {
  PngInfo info;
  cairo_surface_t* s = cairo_image_surface_create_from_png(file.c_str());
  if (cairo_surface_status(s) == CAIRO_STATUS_SUCCESS) {
    info.ok = true;
    info.width = cairo_image_surface_get_width(s);
    info.height = cairo_image_surface_get_height(s);
    const unsigned char* data = cairo_image_surface_get_data(s);
    const int stride = cairo_image_surface_get_stride(s);
    std::int64_t inked = 0;
    for (int y = 0; y < info.height; ++y)
      for (int x = 0; x < info.width; ++x) {
        const std::uint32_t px = reinterpret_cast<const std::uint32_t*>(data + std::ptrdiff_t(y) * stride)[x] & 0xFFFFFFu;
        inked += px != 0xFFFFFFu;
        const int r = int(px >> 16), g = int((px >> 8) & 0xFF), b = int(px & 0xFF);
        info.chromatic += std::max({r, g, b}) - std::min({r, g, b}) > 40;
      }
    info.inked = double(inked) / (double(info.width) * info.height);
  }
  cairo_surface_destroy(s);
  return info;
}

// ---------------------------------------------------------------- inputs

class Plot : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // A 2-D model with standardisation (the network sees (x - mean) / scale) and a 3-D one.
    ebm::Mlp<float> m2({.widths = {2, 16, 16, 1}, .activation = ebm::Activation::Softplus, .seed = 1});
    ebm::io::ModelInfo info;
    info.data_mean = {0.5, 0.25};
    info.data_scale = {1.7, 1.0};
    ebm::io::save_model(path("m2.safetensors"), m2, info);
    ebm::Mlp<float> m3({.widths = {3, 8, 1}, .activation = ebm::Activation::Softplus, .seed = 2});
    ebm::io::save_model(path("m3.safetensors"), m3, ebm::io::ModelInfo{});
    std::ofstream(path("gauss.json")) << R"({"type": "gaussian", "mean": [0, 1], "cov": [[1, 0.5], [0.5, 2]]})";

    ebm::write_matrix<double>(path("data.csv"), ebm::make_toy<double>(ebm::ToyDataset::TwoMoons, 500, 3), {"x0", "x1"});
    // Samples as `ebm sample` writes them: 3 chains of 40 steps, a random walk each.
    MatD s(120, 4);
    for (Index c = 0; c < 3; ++c)
      for (Index i = 0; i < 40; ++i) {
        const Index r = c * 40 + i;
        s(r, 0) = double(c);
        s(r, 1) = double(10 + 5 * i);
        s(r, 2) = std::sin(0.3 * double(i) + double(c));
        s(r, 3) = std::cos(0.2 * double(i) * double(c + 1));
      }
    ebm::write_matrix<double>(path("samples.csv"), s, {"chain", "step", "x0", "x1"});
    // A training log: a loss every step, a held-out loss every 10, a line without a loss.
    std::ofstream log(path("train.jsonl"));
    for (int step = 1; step <= 200; ++step) {
      nlohmann::json j = {{"step", step}, {"loss", -std::log(double(step)) + 0.1 * std::sin(double(step))}};
      if (step % 10 == 0) j["held_out"] = -std::log(double(step)) + 0.2;
      log << j.dump() << "\n";
    }
    log << nlohmann::json{{"step", 200}, {"held_out", -5.0}}.dump() << "\n";
    log.close();
    // 20 images of 8 x 8 with values outside [0, 1] (clipped when drawn).
    MatD images(20, 64);
    for (Index i = 0; i < 20; ++i)
      for (Index p = 0; p < 64; ++p) images(i, p) = -0.2 + 1.4 * double((p * 7 + i * 3) % 64) / 63.0;
    ebm::write_npy<double>(path("images.npy"), images);
  }

  // Runs a plot that must succeed and returns the PNG's properties.
  static PngInfo plot_png(const std::string& args, const std::string& out) {
    fs::remove(path(out));
    const CommandResult r = run("plot " + args + " -o " + out + " --quiet");
    EXPECT_EQ(r.exit_code, 0) << args << ": " << r.err;
    EXPECT_TRUE(r.err.empty()) << args << ": " << r.err;
    return read_png(path(out));
  }

  // Runs a plot that must fail with `code`, one line on stderr naming the subcommand and
  // containing `needle`, and no output file.
  static void plot_fails(const std::string& args, int code, const std::string& needle) {
    const std::string out = "failed.png";
    fs::remove(path(out));
    const CommandResult r = run("plot " + args + (args.find(" -o ") == std::string::npos ? " -o " + out : ""));
    EXPECT_EQ(r.exit_code, code) << args << ": " << r.err;
    EXPECT_EQ(lines(r.err), 1) << args << ": " << r.err;
    EXPECT_EQ(r.err.rfind("ebm plot", 0), 0u) << args << ": " << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << ": " << r.err;
    EXPECT_FALSE(fs::exists(path(out))) << args;
    EXPECT_TRUE(r.out.empty()) << args << ": " << r.out;
  }
};

// Canvas widths are the figures' (figures.cpp); heights follow the box's aspect for maps:
// plot height 680 (x extent) times (y extent / x extent) plus 120 for title and labels.
TEST_F(Plot, EveryKindWritesAPngOfItsSizeWithContent) {
  struct Case {
    std::string args, out;
    int width, height;   // height -1: not fixed by the test
    double min_inked;          // fraction of non-white pixels
    std::int64_t min_chromatic;  // coloured pixels: what the figure shows, not just its axes
  };
  const std::vector<Case> cases = {
      {"density --model m2.safetensors --box -3,3,-2,2 --grid 60 --data data.csv", "density.png", 860, 573, 0.5, 200000},
      {"density --energy gauss.json --box -4,4 --log", "logdensity.png", 860, 800, 0.5, 300000},
      {"score --model m2.safetensors --box -3,3,-2,2", "score.png", 860, 573, 0.5, 200000},
      {"samples --samples samples.csv --data data.csv --max-points 100", "samples.png", 600, -1, 0.02, 500},
      {"trajectories --energy gauss.json --box -4,4,-3,5 --chains 3 --steps 100", "trajectories.png", 1240, -1, 0.02, 2000},
      {"loss --log train.jsonl", "loss.png", 900, 560, 0.02, 2000},
      {"trace --samples samples.csv --chains 2", "trace.png", 1000, 600, 0.02, 2000},
      {"images --samples images.npy --shape 8x8 --count 16", "images.png", 440, 490, 0.2, 0},
  };
  for (const Case& c : cases) {
    const PngInfo png = plot_png(c.args, c.out);
    ASSERT_TRUE(png.ok) << c.args;
    EXPECT_EQ(png.width, c.width) << c.args;
    if (c.height > 0) EXPECT_NEAR(png.height, c.height, 1) << c.args;
    else EXPECT_GT(png.height, 200) << c.args;
    EXPECT_GT(png.inked, c.min_inked) << c.args;
    EXPECT_GE(png.chromatic, c.min_chromatic) << c.args;
  }
}

TEST_F(Plot, SvgAndPdfFollowTheExtension) {
  ASSERT_EQ(run("plot density --model m2.safetensors --grid 40 -o d.svg --quiet").exit_code, 0);
  ASSERT_EQ(run("plot loss --log train.jsonl -o l.PDF --quiet").exit_code, 0);
  const std::string svg = slurp(path("d.svg")), pdf = slurp(path("l.PDF"));
  EXPECT_NE(svg.substr(0, 200).find("<svg"), std::string::npos);
  EXPECT_EQ(pdf.rfind("%PDF-", 0), 0u);
}

TEST_F(Plot, ErrorsAreOneLineWithTheRightCodeAndLeaveNoFile) {
  plot_fails("loss --log missing.jsonl", 1, "missing.jsonl");
  plot_fails("density --model m3.safetensors", 2, "3-dimensional");
  plot_fails("score --model m3.safetensors", 2, "3-dimensional");
  plot_fails("density --model m2.safetensors --box 1,0,0,1", 2, "--box");
  plot_fails("density --model m2.safetensors --box 1,2,3", 2, "--box");
  plot_fails("density --model m2.safetensors --box a,b", 2, "--box");
  plot_fails("frobnicate", 2, "frobnicate");
  plot_fails("density --model m2.safetensors -o figure.txt", 2, ".png");
  plot_fails("density", 2, "--model");
  plot_fails("density --model m2.safetensors --energy gauss.json", 2, "--energy");
  plot_fails("images --samples images.npy --shape 7x7", 1, "49");
  plot_fails("images --samples images.npy --shape 8by8", 2, "--shape");
  plot_fails("trace --samples samples.csv --dims 0,5", 2, "--dims");
  plot_fails("samples --samples nowhere.csv", 1, "nowhere.csv");
  // Not a log: a line that is not JSON is named.
  std::ofstream(path("bad.jsonl")) << "{\"step\": 1, \"loss\": 2}\nnot json\n";
  plot_fails("loss --log bad.jsonl", 1, "line 2");
  // -o is required.
  const CommandResult r = run("plot loss --log train.jsonl");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("-o"), std::string::npos) << r.err;
}

// ---------------------------------------------------------------- the demo

// Numbers of a metrics.json without what legitimately differs between runs: timings, the thread
// count and the command line (the output directory).
nlohmann::json comparable(nlohmann::json m) {
  m.erase("timings");
  m.erase("threads");
  m.erase("command");
  for (const char* k : {"train", "mala", "ula"}) m[k].erase("seconds");
  return m;
}

void expect_finite_numbers(const nlohmann::json& j, const std::string& where) {
  if (j.is_number()) {
    EXPECT_TRUE(std::isfinite(j.get<double>())) << where;
  } else if (j.is_object()) {
    for (const auto& [k, v] : j.items()) expect_finite_numbers(v, where + "." + k);
  } else if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) expect_finite_numbers(j[i], where + "[" + std::to_string(i) + "]");
  } else {
    EXPECT_FALSE(j.is_null()) << where;
  }
}

TEST(Demo, ReducedRunWritesReportMetricsAndFiguresSameNumbersForAnyThreadCount) {
  const std::string args = " --steps 100 --chains 100 --sample-steps 200 --seed 5 --quiet";
  const CommandResult one = run("demo -o run1 --threads 1" + args);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_TRUE(one.err.empty()) << one.err;  // --quiet
  EXPECT_NE(one.out.find("report.md"), std::string::npos) << one.out;
  EXPECT_NE(one.out.find("NLL"), std::string::npos) << one.out;

  const std::string dir = path("run1/");
  const std::string report = slurp(dir + "report.md");
  for (const char* fig : {"density", "score", "samples", "trajectories", "loss", "trace"}) {
    const std::string file = std::string(fig) + ".png";
    EXPECT_NE(report.find("](" + file + ")"), std::string::npos) << fig;
    const PngInfo png = read_png(dir + file);
    EXPECT_TRUE(png.ok) << fig;
    EXPECT_GT(png.inked, 0.03) << fig;
  }
  EXPECT_NE(report.find("ebm demo -o run1 --steps 100 --seed 5 --chains 100 --sample-steps 200"), std::string::npos);
  for (const char* file : {"model.safetensors", "train_log.jsonl", "samples_mala.csv", "samples_ula.csv", "train.csv",
                           "held_out.csv"})
    EXPECT_TRUE(fs::exists(dir + file)) << file;

  const nlohmann::json m = nlohmann::json::parse(slurp(dir + "metrics.json"));
  expect_finite_numbers(m, "metrics");
  for (const char* k : {"train", "log_z", "log_p", "nll", "density", "mala", "ula", "fresh_data", "timings"})
    EXPECT_TRUE(m.contains(k)) << k;
  EXPECT_EQ(m["train"]["steps"], 100);
  EXPECT_EQ(m["mala"]["chains"], 100);
  EXPECT_EQ(m["mala"]["draws_per_chain"], 64);
  const double acceptance = m["mala"]["acceptance"].get<double>();
  EXPECT_GT(acceptance, 0.4);
  EXPECT_LT(acceptance, 0.8);
  // The line integrals of an energy's score are path-independent up to quadrature error, and
  // agree with -E - log Z; the grid quadrature of log Z is converged.
  EXPECT_LT(m["log_p"]["max_path_difference"].get<double>(), 0.05);
  EXPECT_LT(m["log_p"]["max_abs_vs_energy"].get<double>(), 0.05);
  EXPECT_NEAR(m["nll"]["held_out"].get<double>(), m["nll"]["line_integral"].get<double>(), 0.01);
  EXPECT_LT(m["log_z"]["error_estimate"].get<double>(), 1e-3);
  for (const char* k : {"tv"}) {
    EXPECT_GE(m["density"][k].get<double>(), 0.0);
    EXPECT_LE(m["density"][k].get<double>(), 1.0);
  }
  // The training log is what `ebm plot loss` reads.
  EXPECT_EQ(run("plot loss --log run1/train_log.jsonl -o run1_loss.png --quiet").exit_code, 0);

  // Two threads: the same numbers and the same model file.
  const CommandResult two = run("demo -o run2 --threads 2" + args);
  ASSERT_EQ(two.exit_code, 0) << two.err;
  const nlohmann::json m2 = nlohmann::json::parse(slurp(path("run2/metrics.json")));
  EXPECT_EQ(comparable(m), comparable(m2));
  EXPECT_EQ(slurp(dir + "model.safetensors"), slurp(path("run2/model.safetensors")));
  EXPECT_EQ(slurp(dir + "samples_mala.csv"), slurp(path("run2/samples_mala.csv")));
}

TEST(Demo, BadOptionsAreUsageErrors) {
  for (const char* args : {"demo --steps 0 -o d", "demo --chains 2 -o d", "demo --sample-steps 10 -o d"}) {
    const CommandResult r = run(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.err;
    EXPECT_EQ(lines(r.err), 1) << args << ": " << r.err;
    EXPECT_FALSE(fs::exists(path("d"))) << args;
  }
  std::ofstream(path("a_file")) << "x";
  const CommandResult r = run("demo -o a_file --steps 1");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("not a directory"), std::string::npos) << r.err;
}

}  // namespace
