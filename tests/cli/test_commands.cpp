// The subcommands end to end through the built binary: data, train, sample, energy, score, logp,
// eval, diag; each output read back and checked for shape, column names and values; resumed
// training bit-identical to an uninterrupted run; --config files; every error path an exit code,
// one line on stderr and no output file.
#include "cli/cli_helpers.hpp"

#include <ebm/ad/kernel_target.hpp>
#include <ebm/data/csv.hpp>
#include <ebm/data/matrix_file.hpp>
#include <ebm/data/npy.hpp>
#include <ebm/io/model_file.hpp>

#include <Eigen/LU>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <numbers>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace {

using cli_test::CommandResult;
using cli_test::exists;
using cli_test::lines;
using cli_test::path;
using cli_test::run;
using cli_test::slurp;
using cli_test::write_file;
using ebm::Index;
using ebm::MatD;

ebm::Table<double> table(const std::string& name) { return ebm::read_table<double>(path(name)); }

bool all_finite(const MatD& m) { return m.allFinite(); }

// A 2-D data set and a small model trained on it (about 0.1 s), once per test process.
struct Trained {
  bool ok = false;
  std::string why;
};
const Trained& trained() {
  static const Trained t = [] {
    Trained r;
    CommandResult c = run("data make moons --n 400 --seed 1 -o moons.csv --quiet");
    if (c.exit_code != 0) return Trained{false, c.err};
    c = run("train --data moons.csv --model mlp:16x16 --steps 60 --batch 64 --lr 0.01 --quiet -o m.safetensors");
    if (c.exit_code != 0) return Trained{false, c.err};
    r.ok = true;
    return r;
  }();
  return t;
}
#define REQUIRE_TRAINED() ASSERT_TRUE(trained().ok) << trained().why

// N(m, S) and a two-component mixture in 2-D, with closed-form log densities.
const char* kGaussianJson = R"({"type": "gaussian", "mean": [1, -1], "cov": [[2, 0.5], [0.5, 1]]})";
const char* kMixtureJson =
    R"({"type": "gmm", "weights": [0.3, 0.7], "means": [[-2, 0], [1.5, 1]],
        "covs": [[[0.5, 0], [0, 0.5]], [[1, 0.3], [0.3, 0.8]]]})";

double log_normal(const Eigen::RowVector2d& x, const Eigen::RowVector2d& m, const Eigen::Matrix2d& s) {
  const Eigen::RowVector2d d = x - m;
  return -0.5 * (d * s.inverse() * d.transpose())(0) - std::log(2 * std::numbers::pi) - 0.5 * std::log(s.determinant());
}
double log_gaussian(const Eigen::RowVector2d& x) {
  Eigen::Matrix2d s;
  s << 2, 0.5, 0.5, 1;
  return log_normal(x, Eigen::RowVector2d(1, -1), s);
}
double log_mixture(const Eigen::RowVector2d& x) {
  Eigen::Matrix2d s0, s1;
  s0 << 0.5, 0, 0, 0.5;
  s1 << 1, 0.3, 0.3, 0.8;
  const double a = std::log(0.3) + log_normal(x, Eigen::RowVector2d(-2, 0), s0);
  const double b = std::log(0.7) + log_normal(x, Eigen::RowVector2d(1.5, 1), s1);
  const double hi = std::max(a, b);
  return hi + std::log(std::exp(a - hi) + std::exp(b - hi));
}

// A 7 x 7 grid of points in [-3, 3]^2.
MatD grid_points() {
  MatD x(49, 2);
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 7; ++j) x.row(i * 7 + j) << -3.0 + i, -3.0 + j;
  return x;
}

// ---------------------------------------------------------------- data

TEST(CliData, MakeWritesCsvAndNpyWithTheSameValues) {
  ASSERT_EQ(run("data make 8gaussians --n 300 --seed 7 -o g.csv --quiet").exit_code, 0);
  ASSERT_EQ(run("data make 8gaussians --n 300 --seed 7 -o g.npy --quiet").exit_code, 0);
  const auto csv = table("g.csv");
  EXPECT_EQ(csv.columns, (std::vector<std::string>{"x0", "x1"}));
  ASSERT_EQ(csv.values.rows(), 300);
  ASSERT_EQ(csv.values.cols(), 2);
  EXPECT_TRUE(all_finite(csv.values));
  EXPECT_EQ(csv.values, ebm::read_npy<double>(path("g.npy")));  // CSV digits read back exactly
  // 8 Gaussians: modes at radius 2.83 with sd 0.354 per coordinate, so E|x| = 2.83 + 0.354^2 /
  // (2 2.83) + O(sd^4) = 2.85; the mean of 300 radii has standard error 0.02.
  const Eigen::VectorXd r = csv.values.rowwise().norm();
  EXPECT_NEAR(r.mean(), 2.85, 0.1);
  // Another seed, other points.
  ASSERT_EQ(run("data make 8gaussians --n 300 --seed 8 -o g8.csv --quiet").exit_code, 0);
  EXPECT_NE(table("g8.csv").values, csv.values);
}

TEST(CliData, ShowPrintsShapeStatisticsAndRows) {
  ASSERT_EQ(run("data make moons --n 50 -o s.csv --quiet").exit_code, 0);
  const CommandResult t = run("data show s.csv");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("50 rows x 2 columns"), std::string::npos) << t.out;
  const CommandResult j = run("data show s.csv --json --rows 3");
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc.at("rows"), 50);
  EXPECT_EQ(doc.at("cols"), 2);
  EXPECT_EQ(doc.at("head").size(), 3u);
  const MatD x = table("s.csv").values;
  EXPECT_NEAR(doc.at("columns")[1].at("mean").get<double>(), x.col(1).mean(), 1e-12);
  EXPECT_EQ(doc.at("columns")[0].at("min").get<double>(), x.col(0).minCoeff());
  EXPECT_EQ(doc.at("head")[2][0].get<double>(), x(2, 0));
}

// A CSV with its header and no rows: the shape and the column names, no statistics (no NaN).
TEST(CliData, ShowOfAFileWithoutRowsHasNoStatistics) {
  write_file("header_only.csv", "x,y\n");
  const CommandResult t = run("data show header_only.csv");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("0 rows x 2 columns"), std::string::npos) << t.out;
  EXPECT_EQ(t.out.find("nan"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("y                           -            -            -            -"), std::string::npos)
      << t.out;
  const CommandResult j = run("data show header_only.csv --json");
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc.at("rows"), 0);
  for (const char* key : {"mean", "sd", "min", "max"}) EXPECT_TRUE(doc.at("columns")[1].at(key).is_null()) << key;
}

// ---------------------------------------------------------------- train, sample, ...

TEST(CliTrain, WritesAModelWithStandardisationAndAJsonLinesLog) {
  ASSERT_EQ(run("data make moons --n 400 --seed 1 -o tm.csv --quiet").exit_code, 0);
  const CommandResult r = run("train --data tm.csv --model mlp:16x16:silu --objective ssm --steps 60 --batch 64 --lr 0.01 "
                              "--held-out 0.25 --eval-every 20 --log t.jsonl --log-every 10 -o t.safetensors --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;  // --quiet, and no terminal
  const auto model = ebm::io::load_model<float>(path("t.safetensors"));
  EXPECT_EQ(model.info.step, 60);
  EXPECT_EQ(model.info.objective, "ssm");
  EXPECT_EQ(model.info.architecture,
            ebm::nn::Network<float>::from_json(ebm::nn::mlp_architecture({2, 16, 16, 1}, "silu"), 0).architecture());
  EXPECT_EQ(ebm::to_mlp(model.network).activation(), ebm::Activation::Silu);
  // Standardisation of the 300 training rows: moons spans x in [-3.4, 3.4], y in [-1.7, 2.2].
  ASSERT_EQ(model.info.data_mean.size(), 2u);
  EXPECT_GT(model.info.data_scale[0], 1.0);
  EXPECT_LT(model.info.data_scale[0], 2.5);

  std::istringstream log(slurp("t.jsonl"));
  std::string line;
  std::vector<std::int64_t> steps, held_out_steps;
  while (std::getline(log, line)) {
    const auto j = nlohmann::json::parse(line);
    steps.push_back(j.at("step"));
    for (const char* key : {"loss", "lr", "grad_norm", "seconds"}) EXPECT_TRUE(j.at(key).is_number()) << line;
    // The default schedule, a cosine over the 60 steps: step k takes the rate of k - 1 done.
    const double done = j.at("step").get<double>() - 1;
    EXPECT_NEAR(j.at("lr").get<double>(), 0.01 * 0.5 * (1 + std::cos(std::numbers::pi * done / 60)), 1e-12) << line;
    if (j.contains("held_out")) held_out_steps.push_back(j.at("step"));
  }
  EXPECT_EQ(steps, (std::vector<std::int64_t>{10, 20, 30, 40, 50, 60}));
  EXPECT_EQ(held_out_steps, (std::vector<std::int64_t>{20, 40, 60}));
}

TEST(CliSample, WritesChainStepAndCoordinatesWithAReport) {
  REQUIRE_TRAINED();
  const CommandResult r =
      run("sample --model m.safetensors --sampler mala --chains 8 --steps 40 --burn-in 20 --thin 2 -o s.csv --report r.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ess_bulk"), std::string::npos) << r.err;  // the summary table on stderr
  const auto t = table("s.csv");
  EXPECT_EQ(t.columns, (std::vector<std::string>{"chain", "step", "x0", "x1"}));
  ASSERT_EQ(t.values.rows(), 8 * 10);
  EXPECT_TRUE(all_finite(t.values));
  for (Index c = 0; c < 8; ++c)
    for (Index i = 0; i < 10; ++i) {
      EXPECT_EQ(t.values(c * 10 + i, 0), double(c));
      EXPECT_EQ(t.values(c * 10 + i, 1), double(22 + 2 * i));
    }
  // Raw coordinates: the samples spread like the data (moons: x sd ~1.7), not like N(0, 1).
  const double sd0 = std::sqrt((t.values.col(2).array() - t.values.col(2).mean()).square().mean());
  EXPECT_GT(sd0, 1.0);

  const auto report = nlohmann::json::parse(slurp("r.json"));
  EXPECT_EQ(report.at("sampler"), "mala");
  EXPECT_EQ(report.at("chains_kept"), 8);
  EXPECT_EQ(report.at("draws_per_chain"), 10);
  EXPECT_TRUE(report.at("failures").empty());
  const auto& diag = report.at("diagnostics");
  ASSERT_EQ(diag.at("dimensions").size(), 2u);
  for (const auto& d : diag.at("dimensions"))
    for (const char* key : {"mean", "sd", "mcse_mean", "ess_bulk", "ess_tail", "rhat"}) EXPECT_TRUE(d.at(key).is_number()) << key;
  const double acc = diag.at("acceptance").at("overall");
  EXPECT_GT(acc, 0.2);
  EXPECT_LE(acc, 1.0);

  // The same draws as .npy, quietly: the draws alone (a .npy has no names to mark chain and step).
  const CommandResult q = run("sample --model m.safetensors --chains 8 --steps 40 --burn-in 20 --thin 2 -o s.npy --quiet");
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_TRUE(q.err.empty()) << q.err;
  const ebm::MatD draws = t.values.rightCols(2);
  EXPECT_EQ(ebm::read_npy<double>(path("s.npy")), draws.cast<float>().cast<double>());
  const CommandResult loud = run("sample --model m.safetensors --chains 8 --steps 40 --burn-in 20 --thin 2 -o s2.npy");
  ASSERT_EQ(loud.exit_code, 0) << loud.err;
  EXPECT_NE(loud.err.find("holds the draws only, chain after chain (8 x 10 rows)"), std::string::npos) << loud.err;

  // Every reader takes it as points; those that need chains refuse it and say why.
  const CommandResult energy = run("energy --model m.safetensors --at s.npy -o e.csv --quiet");
  EXPECT_EQ(energy.exit_code, 0) << energy.err;
  EXPECT_EQ(table("e.csv").values.rows(), 80);
  for (const std::string command : {"diag s.npy", "plot trace --samples s.npy -o t.png"}) {
    const CommandResult refused = run(command);
    EXPECT_NE(refused.exit_code, 0) << command;
    EXPECT_NE(refused.err.find("s.npy: a NumPy file holds points without chain and step"), std::string::npos)
        << command << ": " << refused.err;
  }
  EXPECT_FALSE(std::filesystem::exists(path("t.png")));
}

TEST(CliSample, EverySamplerOnAnAnalyticEnergy) {
  write_file("gauss.json", kGaussianJson);
  for (const char* sampler : {"ula", "mala", "sde", "flow", "annealed", "hmc", "nuts", "underdamped", "pt"}) {
    const std::string out = std::string("s_") + sampler + ".csv";
    const CommandResult r =
        run(std::string("sample --energy gauss.json --sampler ") + sampler + " --chains 4 --steps 40 --quiet -o " + out);
    ASSERT_EQ(r.exit_code, 0) << sampler << ": " << r.err;
    const auto t = table(out);
    EXPECT_EQ(t.values.cols(), 4) << sampler;
    EXPECT_EQ(t.values.rows() % 4, 0) << sampler;
    EXPECT_GT(t.values.rows(), 0) << sampler;
    EXPECT_TRUE(all_finite(t.values)) << sampler;
  }
  // Gradient flow has no noise: every chain slides to the mode (1, -1).
  const CommandResult f = run("sample --energy gauss.json --sampler flow --chains 4 --steps 2000 --burn-in 1999 --step-size 0.1 "
                              "--quiet -o flow.csv");
  ASSERT_EQ(f.exit_code, 0) << f.err;
  const MatD x = table("flow.csv").values;
  for (Index c = 0; c < 4; ++c) {
    EXPECT_NEAR(x(c, 2), 1.0, 1e-4);
    EXPECT_NEAR(x(c, 3), -1.0, 1e-4);
  }
}

TEST(CliSample, MalaMeanMatchesTheTargetWithinItsMonteCarloError) {
  write_file("gauss.json", kGaussianJson);
  const CommandResult r =
      run("sample --energy gauss.json --chains 32 --steps 600 --seed 3 --quiet -o g.csv --report g.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto dims = nlohmann::json::parse(slurp("g.json")).at("diagnostics").at("dimensions");
  const double target[2] = {1, -1};
  for (int j = 0; j < 2; ++j) {
    const double mean = dims[j].at("mean"), mcse = dims[j].at("mcse_mean");
    EXPECT_LT(mcse, 0.1);
    EXPECT_LT(std::abs(mean - target[j]), 5 * mcse) << "dimension " << j;  // fails with probability ~6e-7
  }
}

TEST(CliSample, NutsReportsItsDiagnosticsAndParallelTemperingItsSwaps) {
  write_file("gauss.json", kGaussianJson);
  const CommandResult r = run("sample --energy gauss.json --sampler nuts --metric dense --chains 4 --steps 600 --seed 3 "
                              "-o n.csv --report n.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("hamiltonian: 0 divergent of 1200; mean tree depth"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("E-BFMI"), std::string::npos) << r.err;
  const auto report = nlohmann::json::parse(slurp("n.json"));
  EXPECT_EQ(report.at("sampler"), "nuts");
  EXPECT_GT(report.at("gradient_evaluations").get<double>(), report.at("warmup_gradient_evaluations").get<double>());
  const auto dims = report.at("diagnostics").at("dimensions");
  const double target[2] = {1, -1};
  for (int j = 0; j < 2; ++j) {
    const double mean = dims[j].at("mean"), mcse = dims[j].at("mcse_mean");
    EXPECT_LT(std::abs(mean - target[j]), 5 * mcse) << "dimension " << j;
  }
  const CommandResult p = run("sample --energy gauss.json --sampler pt --within nuts --replicas 3 --chains 2 --steps 100 "
                              "--quiet -o p.csv --report p.json");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const auto notes = nlohmann::json::parse(slurp("p.json")).at("notes");
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].get<std::string>().find("swap acceptance per pair"), std::string::npos) << notes;
  EXPECT_EQ(nlohmann::json::parse(slurp("p.json")).at("sampler"), "pt(nuts)");
}

TEST(CliEnergyScore, ScoreIsMinusTheGradientOfEnergyInRawCoordinates) {
  REQUIRE_TRAINED();
  ASSERT_EQ(run("energy --model m.safetensors --at moons.csv -o e.csv").exit_code, 0);
  ASSERT_EQ(run("score --model m.safetensors --at moons.csv -o s.npy").exit_code, 0);
  const auto e = table("e.csv");
  EXPECT_EQ(e.columns, (std::vector<std::string>{"energy"}));
  ASSERT_EQ(e.values.rows(), 400);
  EXPECT_TRUE(all_finite(e.values));
  const auto st = table("s.npy");
  ASSERT_EQ(st.values.rows(), 400);
  ASSERT_EQ(st.values.cols(), 2);
  ASSERT_EQ(run("score --model m.safetensors --at moons.csv -o s.csv").exit_code, 0);
  EXPECT_EQ(table("s.csv").columns, (std::vector<std::string>{"s0", "s1"}));

  // Central differences of the energy at the first 5 points (step 1e-4: truncation error
  // ~1e-8 E''' and rounding ~1e-16 E / 1e-4 in double, both far below the tolerance).
  const MatD x = table("moons.csv").values.topRows(5);
  const double h = 1e-4;
  MatD shifted(20, 2);
  for (Index i = 0; i < 5; ++i)
    for (Index j = 0; j < 2; ++j) {
      shifted.row(i * 4 + 2 * j) = x.row(i);
      shifted.row(i * 4 + 2 * j + 1) = x.row(i);
      shifted(i * 4 + 2 * j, j) += h;
      shifted(i * 4 + 2 * j + 1, j) -= h;
    }
  ebm::write_csv<double>(path("shifted.csv"), shifted);
  ASSERT_EQ(run("energy --model m.safetensors --at shifted.csv -o es.csv").exit_code, 0);
  const MatD es = table("es.csv").values;
  for (Index i = 0; i < 5; ++i)
    for (Index j = 0; j < 2; ++j) {
      const double fd = -(es(i * 4 + 2 * j, 0) - es(i * 4 + 2 * j + 1, 0)) / (2 * h);
      EXPECT_NEAR(st.values(i, j), fd, 1e-5 * std::max(1.0, std::abs(fd))) << i << "," << j;
    }
  // A samples file is accepted as points: its chain and step columns are skipped.
  ASSERT_EQ(run("sample --model m.safetensors --chains 2 --steps 8 --quiet -o few.csv").exit_code, 0);
  ASSERT_EQ(run("energy --model m.safetensors --at few.csv -o ef.csv").exit_code, 0);
  EXPECT_EQ(table("ef.csv").values.rows(), table("few.csv").values.rows());
}

// ---------------------------------------------------------------- logp

// log p(x) - log p(x0) = E(x0) - E(x) for analytic energies, up to the quadrature error of 32
// Gauss-Legendre nodes on smooth integrands (~1e-13 here): 1e-6 leaves room only for a wrong
// sign, scale or reference.
TEST(CliLogp, RelativeLogDensityIsTheEnergyDifference) {
  write_file("gauss.json", kGaussianJson);
  write_file("mix.json", kMixtureJson);
  ebm::write_csv<double>(path("grid.csv"), grid_points());
  for (const char* energy : {"gauss.json", "mix.json"}) {
    const std::string e(energy);
    ASSERT_EQ(run("logp --energy " + e + " --at grid.csv --ref 0.5,0.25 -o lp.csv").exit_code, 0) << e;
    ebm::write_csv<double>(path("ref.csv"), (MatD(1, 2) << 0.5, 0.25).finished());
    ASSERT_EQ(run("energy --energy " + e + " --at grid.csv -o e.csv").exit_code, 0);
    ASSERT_EQ(run("energy --energy " + e + " --at ref.csv -o e0.csv").exit_code, 0);
    const auto lp = table("lp.csv");
    EXPECT_EQ(lp.columns, (std::vector<std::string>{"log_p", "quadrature_error", "path_difference"}));
    const MatD energies = table("e.csv").values;
    const double e0 = table("e0.csv").values(0, 0);
    ASSERT_EQ(lp.values.rows(), 49);
    for (Index i = 0; i < 49; ++i) {
      EXPECT_NEAR(lp.values(i, 0), e0 - energies(i, 0), 1e-6) << e << " point " << i;
      // The 16- vs 32-node difference (an estimate of the 16-node error, 3e-5 at worst for the
      // mixture) and the detour's difference (both 32-node, so at the 32-node error).
      EXPECT_LT(lp.values(i, 1), 1e-4);
      EXPECT_LT(lp.values(i, 2), 1e-6);  // a gradient field: no path dependence
    }
    // The reference from a file gives the same numbers.
    ASSERT_EQ(run("logp --energy " + e + " --at grid.csv --ref ref.csv -o lp2.csv").exit_code, 0);
    EXPECT_EQ(table("lp2.csv").values, lp.values);
  }
}

// Grid-normalised log p in 2-D is the true log density: the trapezoid rule on 401^2 points
// over [-10, 10]^2 is exact to far below 1e-3 for these smooth, well-contained densities.
TEST(CliLogp, GridNormalisedLogDensityIsTheTrueOne) {
  write_file("gauss.json", kGaussianJson);
  write_file("mix.json", kMixtureJson);
  const MatD x = grid_points();
  ebm::write_csv<double>(path("grid.csv"), x);
  for (const char* energy : {"gauss.json", "mix.json"}) {
    const std::string e(energy);
    const CommandResult r = run("logp --energy " + e + " --at grid.csv --normalize grid --box=-10,10 -o lpn.csv --report rep.json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("log Z"), std::string::npos) << r.err;
    const MatD lp = table("lpn.csv").values;
    for (Index i = 0; i < x.rows(); ++i) {
      const Eigen::RowVector2d p = x.row(i);
      const double truth = e == "gauss.json" ? log_gaussian(p) : log_mixture(p);
      EXPECT_NEAR(lp(i, 0), truth, 1e-3) << e << " at " << p;
    }
    const auto rep = nlohmann::json::parse(slurp("rep.json"));
    EXPECT_EQ(rep.at("log_z").at("method"), "grid");
    EXPECT_TRUE(rep.at("normalized").get<bool>());
  }
}

// AIS reports its standard error; the estimate must agree with the closed form within a few.
TEST(CliLogp, AisNormalisedLogDensityAgreesWithinItsError) {
  write_file("gauss.json", kGaussianJson);
  ebm::write_csv<double>(path("grid.csv"), grid_points());
  const CommandResult r = run("logp --energy gauss.json --at grid.csv --normalize ais -o lpa.csv --report ais.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto z = nlohmann::json::parse(slurp("ais.json")).at("log_z");
  EXPECT_EQ(z.at("method"), "ais");
  const double se = z.at("error_estimate");
  EXPECT_GT(se, 0);
  EXPECT_LT(se, 0.05);
  const MatD lp = table("lpa.csv").values;
  const Eigen::RowVector2d p = grid_points().row(24);  // the origin
  EXPECT_NEAR(lp(24, 0), log_gaussian(p), 5 * se + 0.01);
}

// ---------------------------------------------------------------- eval, diag

TEST(CliEval, JsonHasScoreMatchingLossNllAndMmd) {
  REQUIRE_TRAINED();
  const CommandResult r = run("eval --model m.safetensors --data moons.csv --json --mmd-samples 200 --mmd-steps 100");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("points"), 400);
  EXPECT_EQ(j.at("dim"), 2);
  EXPECT_TRUE(j.at("sm_loss").is_number());
  EXPECT_EQ(j.at("log_z").at("method"), "grid");
  EXPECT_TRUE(j.at("nll").is_number());
  EXPECT_GT(j.at("nll_standard_error").get<double>(), 0);
  EXPECT_GE(j.at("mmd2").get<double>(), -0.01);
  EXPECT_LT(j.at("mmd2").get<double>(), 1.0);
  EXPECT_EQ(j.at("mmd_samples"), 200);

  // The table form.
  const CommandResult t = run("eval --model m.safetensors --data moons.csv --mmd-samples 0");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("NLL"), std::string::npos) << t.out;
}

// For N(m, S) the exact SM loss on data x_i is mean_i [tr(S^-1) ... ] in closed form:
// -Lap E = -tr(S^-1) and 1/2 |grad E|^2 = 1/2 (x - m)^T S^-2 (x - m); and the NLL with the exact
// log Z is the mean of -log N(x_i; m, S).
TEST(CliEval, AnalyticEnergyMatchesClosedForms) {
  write_file("gauss.json", kGaussianJson);
  const MatD x = grid_points();
  ebm::write_csv<double>(path("pts.csv"), x);
  const CommandResult r = run("eval --energy gauss.json --data pts.csv --json --box=-12,12 --mmd-samples 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  Eigen::Matrix2d s;
  s << 2, 0.5, 0.5, 1;
  const Eigen::Matrix2d p = s.inverse();
  double sm = 0, nll = 0;
  for (Index i = 0; i < x.rows(); ++i) {
    const Eigen::RowVector2d d = x.row(i) - Eigen::RowVector2d(1, -1);
    sm += -p.trace() + 0.5 * (d * p * p * d.transpose())(0);
    nll -= log_gaussian(x.row(i));
  }
  EXPECT_NEAR(j.at("sm_loss").get<double>(), sm / 49, 1e-9);
  EXPECT_NEAR(j.at("nll").get<double>(), nll / 49, 1e-6);
  EXPECT_TRUE(j.at("mmd2").is_null());
}

TEST(CliDiag, ReadsASamplesFile) {
  REQUIRE_TRAINED();
  ASSERT_EQ(run("sample --model m.safetensors --chains 4 --steps 60 --quiet -o d.csv --report dr.json").exit_code, 0);
  const CommandResult r = run("diag d.csv --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("chains"), 4);
  EXPECT_EQ(j.at("draws_per_chain"), 30);
  ASSERT_EQ(j.at("dimensions").size(), 2u);
  EXPECT_EQ(j.at("dimensions")[1].at("name"), "x1");
  // The same numbers as the sampler's own report (which saw the draws before they were written).
  const auto dims = nlohmann::json::parse(slurp("dr.json")).at("diagnostics").at("dimensions");
  for (int d = 0; d < 2; ++d)
    for (const char* key : {"ess_bulk", "ess_tail", "rhat", "mcse_mean"})
      EXPECT_NEAR(j.at("dimensions")[d].at(key).get<double>(), dims[d].at(key).get<double>(),
                  1e-6 * std::abs(dims[d].at(key).get<double>()))
          << key;
  const CommandResult t = run("diag d.csv");
  ASSERT_EQ(t.exit_code, 0);
  EXPECT_NE(t.out.find("ess_bulk"), std::string::npos) << t.out;
}

// ---------------------------------------------------------------- resume, config

// 60 steps in one run, or 30, a checkpoint, and 30 more: the same model file, byte for byte.
// Cosine decay, EMA, clipping, held-out evaluation and (for pcd) the replay buffer all carry
// state across the break.
TEST(CliTrain, ResumeIsBitIdentical) {
  ASSERT_EQ(run("data make 8gaussians --n 300 --seed 2 -o r.csv --quiet").exit_code, 0);
  for (const char* objective : {"sm", "pcd"}) {
    const std::string pcd = std::string(objective) == "pcd" ? " --langevin-steps 3 --buffer-size 64" : "";
    const std::string common = std::string("train --data r.csv --model mlp:16x16 --objective ") + objective +
                               " --steps 60 --batch 32 --lr 0.01 --schedule cosine --ema 0.9 --clip 5 "
                               "--held-out 0.2 --eval-every 10 --seed 4 --quiet" + pcd;
    ASSERT_EQ(run(common + " -o whole.safetensors").exit_code, 0);
    const CommandResult first = run(common + " --stop-at 30 --checkpoint ck.safetensors --log part.jsonl -o half.safetensors");
    ASSERT_EQ(first.exit_code, 0) << first.err;
    // The resumed run takes every option from the checkpoint.
    const CommandResult second = run("train --resume ck.safetensors --quiet --log part.jsonl -o resumed.safetensors");
    ASSERT_EQ(second.exit_code, 0) << second.err;
    EXPECT_EQ(slurp("whole.safetensors"), slurp("resumed.safetensors")) << objective;
    EXPECT_NE(slurp("whole.safetensors"), slurp("half.safetensors")) << objective;
    // A checkpoint already past --steps: nothing to do is an error, not a silent copy.
    const CommandResult none = run("train --resume ck.safetensors --steps 20 --quiet -o none.safetensors");
    EXPECT_EQ(none.exit_code, 2) << none.err;
    EXPECT_NE(none.err.find("--steps: ck.safetensors is at step 30, so steps 20 leaves nothing to do"), std::string::npos) << none.err;
    EXPECT_FALSE(exists("none.safetensors"));
    EXPECT_EQ(lines(slurp("part.jsonl")), 6) << objective;  // steps 10..60, appended on resume
  }
  // Checkpoints written every 20 steps along the way leave the run undisturbed; the final one
  // (step 45) finishes it.
  const std::string common = "train --data r.csv --model mlp:8 --steps 50 --batch 32 --lr 0.01 --quiet";
  ASSERT_EQ(run(common + " -o whole.safetensors").exit_code, 0);
  ASSERT_EQ(run(common + " --checkpoint every.safetensors --checkpoint-every 20 --stop-at 45 -o x.safetensors").exit_code, 0);
  ASSERT_EQ(run("train --resume every.safetensors --quiet -o resumed.safetensors").exit_code, 0);
  EXPECT_EQ(slurp("whole.safetensors"), slurp("resumed.safetensors"));
}

TEST(CliModels, ACheckpointIsAcceptedWhereverAModelIs) {
  // At the end of a run the checkpoint holds the model the model file holds (EMA applied):
  // sampling either gives the same bits.
  ASSERT_EQ(run("data make moons --n 200 --seed 1 -o ck_data.csv --quiet").exit_code, 0);
  ASSERT_EQ(run("train --data ck_data.csv --model mlp:8 --steps 30 --ema 0.9 --checkpoint end.ckpt.safetensors --quiet "
                "-o end.safetensors").exit_code, 0);
  const CommandResult a = run("sample --model end.safetensors --chains 2 --steps 20 --quiet -o -");
  const CommandResult b = run("sample --model end.ckpt.safetensors --chains 2 --steps 20 --quiet -o -");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(run("eval --model end.ckpt.safetensors --data ck_data.csv --quiet").exit_code, 0);
}

TEST(CliOutput, DashWritesCsvToStandardOutput) {
  write_file("gauss.json", kGaussianJson);
  const CommandResult r = run("sample --energy gauss.json --chains 3 --steps 10 --burn-in 6 --quiet -o -");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("chain,step,x0,x1\n", 0), 0u) << r.out;
  EXPECT_EQ(lines(r.out), 1 + 3 * 4);
  const CommandResult d = run("data make moons --n 5 --quiet -o -");
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_EQ(lines(d.out), 6);
  // A non-finite value is refused before anything reaches the pipe.
  const CommandResult bad = run("sample --energy gauss.json --sampler ula --step-size 1e30 --chains 3 --steps 20 -o -");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(bad.out.empty()) << bad.out;
}

TEST(CliNames, EnumValuesInAnyCase) {
  write_file("gauss.json", kGaussianJson);
  EXPECT_EQ(run("sample --energy gauss.json --sampler NUTS --metric Dense --chains 2 --steps 20 --quiet -o case.csv").exit_code, 0);
  EXPECT_EQ(run("data make Moons --n 50 -o case.csv --quiet").exit_code, 0);
  const CommandResult r = run("train --data case.csv --model mlp:8 --objective SM --optimizer AdamW --steps 2 --quiet -o case.safetensors");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(CliTrain, CtrlCWritesACheckpointThatResumesBitForBit) {
  ASSERT_EQ(run("data make moons --n 300 --seed 2 -o int.csv --quiet").exit_code, 0);
  const std::string common = "train --data int.csv --model mlp:16x16 --batch 32 --lr 0.01 --seed 4 --quiet";
  // SIGINT once the run is under way (its log has a line), in the middle of 10^7 steps.
  const std::string script = "cd '" + cli_test::scratch() + "' && { " + std::string(EBM_CLI_PATH) + " " + common +
                             " --steps 10000000 --log int.jsonl -o int.safetensors 2>int.stderr & pid=$!; "
                             "n=0; while [ ! -s int.jsonl ] && kill -0 $pid 2>/dev/null && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done; "
                             "kill -INT $pid; wait $pid; echo $? > int.status; }";
  ASSERT_EQ(std::system(script.c_str()), 0);
  EXPECT_EQ(slurp("int.status"), "130\n");
  const std::string err = slurp("int.stderr");
  EXPECT_EQ(lines(err), 1) << err;
  EXPECT_NE(err.find("ebm train: SIGINT: interrupted at step "), std::string::npos) << err;
  EXPECT_NE(err.find("resume with: ebm train --resume int.interrupted.safetensors -o int.safetensors"), std::string::npos)
      << err;
  EXPECT_FALSE(exists("int.safetensors"));  // no half-trained model passed off as done
  ASSERT_TRUE(exists("int.interrupted.safetensors"));
  const std::size_t at = err.find("at step ") + 8;
  const long step = std::stol(err.substr(at));
  ASSERT_GT(step, 0);
  // Resumed for five more steps, the model is the one an uninterrupted run has there.
  const std::string stop = " --stop-at " + std::to_string(step + 5);
  const CommandResult resumed = run("train --resume int.interrupted.safetensors --quiet" + stop + " -o resumed.safetensors");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  ASSERT_EQ(run(common + " --steps 10000000" + stop + " -o whole.safetensors").exit_code, 0);
  EXPECT_EQ(slurp("whole.safetensors"), slurp("resumed.safetensors"));
}

TEST(CliConfig, JsonKeysAreFlagsAndTheCommandLineWins) {
  ASSERT_EQ(run("data make moons --n 100 -o c.csv --quiet").exit_code, 0);
  write_file("cfg.json", R"({"data": "c.csv", "model": "mlp:8", "steps": 20, "--lr": 0.02, "no-standardize": true,
                            "seed": 5, "quiet": true})");
  const CommandResult r = run("train --config cfg.json --steps 7 -o cfg.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;  // "quiet": true
  const auto m = ebm::io::load_model<float>(path("cfg.safetensors"));
  EXPECT_EQ(m.info.step, 7);                   // command line over config
  EXPECT_TRUE(m.info.data_mean.empty());       // no-standardize
  EXPECT_EQ(ebm::to_mlp(m.network).weight(0).rows(), 8);  // from the config
  // The global options before the subcommand work too, and equal the config's seed.
  ASSERT_EQ(run("--seed 5 train --data c.csv --model mlp:8 --steps 7 --lr 0.02 --no-standardize --quiet -o cmd.safetensors")
                .exit_code,
            0);
  EXPECT_EQ(slurp("cfg.safetensors"), slurp("cmd.safetensors"));

  write_file("bad.json", R"({"data": "c.csv", "stpes": 20})");
  const CommandResult bad = run("train --config bad.json -o bad.safetensors");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(lines(bad.err), 1) << bad.err;
  EXPECT_NE(bad.err.find("\"stpes\""), std::string::npos) << bad.err;
  EXPECT_FALSE(exists("bad.safetensors"));
}

// ---------------------------------------------------------------- errors

struct ErrorCase {
  std::string args;
  int code;
  std::string mentions;  // the file, field or flag and value the one line must name
  std::string output;    // must not exist afterwards
};

TEST(CliErrors, OneLineNonZeroExitAndNoOutputFile) {
  REQUIRE_TRAINED();
  write_file("gauss.json", kGaussianJson);
  write_file("broken.json", R"({"type": "gaussian", "mean": [0, 0]})");
  write_file("garbage.safetensors", "this is not a model file at all, just text");
  const std::string model = slurp("m.safetensors");
  write_file("truncated.safetensors", model.substr(0, model.size() / 2));
  ebm::write_csv<double>(path("three.csv"), MatD::Ones(5, 3));
  cli_test::fs::create_directories(path("adir.csv"));
  ASSERT_EQ(run("train --data moons.csv --model mlp:8 --steps 4 --quiet --checkpoint ck2.safetensors -o ok.safetensors").exit_code, 0);

  const std::vector<ErrorCase> cases = {
      {"frobnicate", 2, "frobnicate", ""},
      {"train --data moons.csv --bogus -o e1.safetensors", 2, "--bogus", "e1.safetensors"},
      {"train --data moons.csv --steps -3 -o e2.safetensors", 2, "--steps", "e2.safetensors"},
      {"train --data moons.csv --lr abc -o e3.safetensors", 2, "abc", "e3.safetensors"},
      {"train --data moons.csv --lr -1 -o e4.safetensors", 2, "--lr: must be > 0, got -1", "e4.safetensors"},
      {"train --data moons.csv --objective mle -o e5.safetensors", 2, "mle", "e5.safetensors"},
      {"train -o e6.safetensors", 2, "--data", "e6.safetensors"},
      {"train --data missing.csv -o e7.safetensors", 1, "missing.csv", "e7.safetensors"},
      {"train --data adir.csv -o e8.safetensors", 1, "adir.csv", "e8.safetensors"},
      {"train --resume ck2.safetensors --data three.csv -o e9.safetensors", 1, "three.csv has 3 columns but the checkpoint",
       "e9.safetensors"},
      {"train --resume garbage.safetensors -o e10.safetensors", 1, "garbage.safetensors", "e10.safetensors"},
      {"train --resume ck2.safetensors --no-standardize -o e10b.safetensors", 2,
       "--standardize: off, but the checkpoint ck2.safetensors was trained on standardised data", "e10b.safetensors"},
      {"sample --model m.safetensors --chains 0 -o e11.csv", 2, "--chains", "e11.csv"},
      {"sample --model m.safetensors --sampler gibbs -o e12.csv", 2, "gibbs", "e12.csv"},
      {"sample --model m.safetensors --sampler nuts --metric full -o e12b.csv", 2, "--metric", "e12b.csv"},
      {"sample --model m.safetensors --sampler pt --within pt -o e12c.csv", 2, "--within", "e12c.csv"},
      {"sample --model m.safetensors --sampler pt --replicas 1 -o e12d.csv", 2, "--replicas", "e12d.csv"},
      {"sample --model m.safetensors --sampler nuts --target-accept 1.5 -o e12e.csv", 2, "--target-accept", "e12e.csv"},
      // Typos: the nearest subcommand or option, not the parser's raw words.
      {"trian --data moons.csv", 2, "unknown subcommand 'trian' (did you mean train?)", ""},
      {"--threads 1 --threads 2 data make moons -o e12l.csv", 2, "--threads: given 2 times, takes one value", "e12l.csv"},
      {"train --data moons.csv --stpes 10 -o e12j.safetensors", 2, "unknown option '--stpes' (did you mean --steps?)",
       "e12j.safetensors"},
      {"sample --model m.safetensors --sampelr nuts -o e12k.csv", 2, "did you mean --sampler?", "e12k.csv"},
      // Options that do not apply are refused, not silently ignored.
      {"train --data moons.csv --sigma 0.2 -o e12m.safetensors", 2, "--sigma: applies only with --objective dsm, not sm",
       "e12m.safetensors"},
      {"train --data moons.csv --buffer-size 64 --objective cd -o e12n.safetensors", 2, "--buffer-size: applies only with",
       "e12n.safetensors"},
      {"train --data moons.csv --eval-every 10 -o e12o.safetensors", 2, "--eval-every: needs --held-out", "e12o.safetensors"},
      {"sample --model m.safetensors --levels 3 -o e12p.csv", 2, "--levels: applies only with --sampler annealed or ncsn, not mala",
       "e12p.csv"},
      {"sample --model m.safetensors --sampler nuts --friction 2 -o e12q.csv", 2, "--friction: applies only with", "e12q.csv"},
      // -1 is a value like any other, not a "use the default" sentinel.
      {"sample --model m.safetensors --step-size -1 -o e12f.csv", 2, "--step-size: must be > 0, got -1", "e12f.csv"},
      {"sample --model m.safetensors --burn-in -1 -o e12g.csv", 2, "--burn-in: must be >= 0, got -1", "e12g.csv"},
      {"sample --model m.safetensors --target-accept -1 -o e12h.csv", 2, "--target-accept", "e12h.csv"},
      {"plot density --model m.safetensors --grid -1 -o e12i.png", 2, "--grid", "e12i.png"},
      {"sample --model garbage.safetensors -o e13.csv", 1, "garbage.safetensors", "e13.csv"},
      {"sample --model truncated.safetensors -o e14.csv", 1, "truncated.safetensors", "e14.csv"},
      {"sample --model missing.safetensors -o e15.csv", 1, "missing.safetensors", "e15.csv"},
      {"sample --model m.safetensors --energy gauss.json -o e16.csv", 2, "--energy", "e16.csv"},
      {"sample --energy broken.json -o e17.csv", 1, "broken.json", "e17.csv"},
      {"sample --model m.safetensors -o e18.xls", 2, "e18.xls", "e18.xls"},
      {"sample --model m.safetensors -o nodir/e19.csv", 1, "nodir", "nodir/e19.csv"},
      // Every chain diverges: reported, and nothing (in particular no NaN) is written.
      {"sample --energy gauss.json --sampler ula --step-size 1e30 --chains 3 --steps 20 -o e20.csv", 1, "non-finite", "e20.csv"},
      {"energy --model m.safetensors --at three.csv -o e21.csv", 1, "three.csv has 3 columns but the model expects 2", "e21.csv"},
      {"score --energy gauss.json --at three.csv -o e22.csv", 1, "three.csv has 3 columns but the energy expects 2", "e22.csv"},
      {"energy --model m.safetensors -o e23.csv", 2, "--at", "e23.csv"},
      {"eval --model m.safetensors --data three.csv", 1, "three.csv has 3 columns but the model expects 2", ""},
      {"eval --model m.safetensors --data moons.csv --normalize maybe", 2, "maybe", ""},
      {"logp --energy gauss.json --at moons.csv --ref 1,2,3 -o e24.csv", 2, "--ref", "e24.csv"},
      {"logp --energy gauss.json --at moons.csv --ref 1,x -o e25.csv", 2, "1,x", "e25.csv"},
      {"logp --energy gauss.json --at moons.csv --normalize grid --box 3,1 -o e26.csv", 2, "--box", "e26.csv"},
      {"logp --energy gauss.json --at moons.csv --nodes 1 -o e27.csv", 2, "--nodes", "e27.csv"},
      {"diag moons.csv", 1, "moons.csv", ""},
      {"diag missing.csv", 1, "missing.csv", ""},
      {"data make spirals -o e28.csv", 2, "spirals", "e28.csv"},
      {"data show missing.csv", 1, "missing.csv", ""},
      {"data make moons --n 10 --threads 0 -o e29.csv", 2, "--threads", "e29.csv"},
      {"--config missing.json data make moons -o e30.csv", 1, "missing.json", "e30.csv"},
  };
  for (const ErrorCase& c : cases) {
    const CommandResult r = run(c.args);
    EXPECT_EQ(r.exit_code, c.code) << c.args << ": " << r.err;
    EXPECT_EQ(lines(r.err), 1) << c.args << ": " << r.err;
    EXPECT_EQ(r.err.rfind("ebm", 0), 0u) << c.args << ": " << r.err;
    EXPECT_NE(r.err.find(c.mentions), std::string::npos) << c.args << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << c.args << ": " << r.out;
    if (!c.output.empty()) {
      EXPECT_FALSE(exists(c.output)) << c.args;
    }
  }
  EXPECT_EQ(cli_test::temporaries(), 0);
}

TEST(CliErrors, UnreadableFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
  REQUIRE_TRAINED();
  ASSERT_EQ(run("data make moons --n 10 -o locked.csv --quiet").exit_code, 0);
  ASSERT_EQ(::chmod(path("locked.csv").c_str(), 0), 0);
  const CommandResult r = run("energy --model m.safetensors --at locked.csv -o out.csv");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("locked.csv"), std::string::npos) << r.err;
  EXPECT_FALSE(exists("out.csv"));
}

// ---------------------------------------------------------------- kernel targets

// A model trained, and chains sampled from it, with the AVX2 kernels forced are the same bytes as
// with the AVX-512 ones (docs/design.md, "Kernels per instruction set"). A bad target name is
// refused before any work.
TEST(CliKernelTarget, ForcedTargetsGiveTheSameFiles) {
  struct Unset {  // the variable must not outlive the test, whichever assertion ends it
    ~Unset() { ::unsetenv("EBM_KERNEL_TARGET"); }
  } unset;
  ASSERT_EQ(run("data make moons --n 400 --seed 3 -o kt.csv --quiet").exit_code, 0);
  ::setenv("EBM_KERNEL_TARGET", "sse", 1);
  const CommandResult bad = run("data show kt.csv");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err, "ebm data show: EBM_KERNEL_TARGET: expected avx2 or avx512, got 'sse'\n");
  if (!ebm::ad::cpu_supports(ebm::ad::KernelTarget::Avx512)) {
    ::setenv("EBM_KERNEL_TARGET", "avx512", 1);
    const CommandResult missing = run("data show kt.csv");
    EXPECT_EQ(missing.exit_code, 2);
    EXPECT_NE(missing.err.find("EBM_KERNEL_TARGET=avx512: this CPU has no avx512"), std::string::npos) << missing.err;
    GTEST_SKIP() << "this CPU has no AVX-512: only the AVX2 kernels can run";
  }
  for (const char* target : {"avx2", "avx512"}) {
    ::setenv("EBM_KERNEL_TARGET", target, 1);
    const std::string t(target);
    ASSERT_EQ(run("train --data kt.csv --objective pcd --model mlp:48x48 --steps 40 --batch 64 --langevin-steps 3 "
                  "--buffer-size 128 --quiet -o kt_" + t + ".safetensors").exit_code, 0) << t;
    ASSERT_EQ(run("sample --model kt_" + t + ".safetensors --sampler mala --chains 33 --steps 50 --quiet -o kt_" + t + ".csv")
                  .exit_code, 0) << t;
  }
  EXPECT_EQ(slurp("kt_avx2.safetensors"), slurp("kt_avx512.safetensors"));
  EXPECT_EQ(slurp("kt_avx2.csv"), slurp("kt_avx512.csv"));
}

}  // namespace
