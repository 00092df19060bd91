// `ebm bench`: timings of the engine, and the peer workloads of shared/bench/WORKLOADS.md.
#include "commands.hpp"

#include "../../bench/roofline.hpp"
#include "../../bench/workloads.hpp"

#include <ebm/ad/kernel_target.hpp>
#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

namespace ebm::cli {
namespace {

struct BenchArgs {
  bool peer = false;
  bool json = false;
  bool quick = false;
  bool roofline = false;
  int threads = 0;
  std::string only;
  std::string export_dir;
  std::vector<std::string> networks;
};

// True when `only` is empty or one of its comma-separated tokens selects w: a token NAME selects
// the workloads whose name starts with NAME, NAME:D only those of them with dimension D (e.g.
// sm_exact:784, to measure one case's memory alone).
bool selected(const std::string& only, const bench::Workload& w) {
  if (only.empty()) return true;
  std::size_t start = 0;
  while (start <= only.size()) {
    const std::size_t end = std::min(only.find(',', start), only.size());
    std::string token = only.substr(start, end - start);
    start = end + 1;
    const std::size_t colon = token.find(':');
    if (colon != std::string::npos) {
      const std::string dim = token.substr(colon + 1);
      token.resize(colon);
      if (dim != std::to_string(w.shape.dim)) continue;
    }
    if (!token.empty() && w.name.rfind(token, 0) == 0) return true;
  }
  return false;
}

nlohmann::json finite_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// --export: files and losses for the PyTorch loss check (bench/compare_with_pytorch.sh --check),
// one JSON line per workload that supports it; nothing is timed.
void run_export(std::vector<bench::Workload>& workloads, const BenchArgs& args) {
  std::filesystem::create_directories(args.export_dir);
  for (auto& w : workloads) {
    if (!selected(args.only, w) || !w.export_check) continue;
    const std::string base = w.name + "_" + std::to_string(w.shape.batch) + "_" + std::to_string(w.shape.dim) + "_" +
                             std::to_string(w.shape.width);
    const auto [loss32, loss64] = w.export_check((std::filesystem::path(args.export_dir) / base).string());
    const nlohmann::json line = {{"impl", "ebm"},       {"workload", w.name},       {"batch", w.shape.batch},
                                 {"dim", w.shape.dim},  {"width", w.shape.width},   {"files", base},
                                 {"loss_f32", loss32}, {"loss_f64", finite_or_null(loss64)}};
    std::cout << line.dump() << std::endl;
  }
}

void run_bench(const BenchArgs& args) {
  if (args.threads > 0) set_num_threads(args.threads);
  const int threads = num_threads();
  if (!args.networks.empty() && args.peer) throw UsageError("--network: excludes --peer");
  auto workloads = !args.networks.empty() ? bench::network_workloads(args.networks)
                   : args.peer            ? bench::peer_workloads()
                                          : bench::engine_workloads();
  if (!args.export_dir.empty() && !args.peer) throw InvalidArgument("--export: needs --peer");
  const bool long_steps = args.peer || !args.networks.empty();
  const double budget = long_steps ? (args.quick ? 0.5 : 2.0) : (args.quick ? 0.1 : 0.5);
  const long max_reps = long_steps ? 200 : 1000000;
  const bool any = std::any_of(workloads.begin(), workloads.end(),
                               [&](const bench::Workload& w) { return selected(args.only, w); });
  if (!any) {
    std::string names;
    for (const auto& w : workloads)
      if (names.find(w.name) == std::string::npos) names += (names.empty() ? "" : ", ") + w.name;
    throw InvalidArgument("--only: no workload matches '" + args.only + "' (available: " + names + ")");
  }
  if (!args.export_dir.empty()) return run_export(workloads, args);
  const std::string kernels(ad::kernel_target_name(ad::kernel_target()));
  std::optional<bench::ProductRate> rate;
  if (args.roofline) {
    rate = bench::measure_product_rate(threads, args.quick ? 0.3 : 1.0);
    if (!args.json)
      std::printf("ebm bench: the machine's product rate: %s %s, %.1f GFLOP/s on %d thread(s)\n", rate->source.c_str(),
                  rate->shape.c_str(), rate->gflops, threads);
  }
  if (!args.json) {
    std::printf("ebm bench: %s, float32, %d thread(s), %s kernels; median wall time per step\n",
                args.networks.empty() ? "MLP D->H->H->1, softplus" : "architecture files", threads, kernels.c_str());
    std::printf("%-36s %14s %12s%s\n", "Benchmark", "Time", "Iterations", rate ? "  product GFLOP/s  of the rate" : "");
  }
  for (auto& w : workloads) {
    if (!selected(args.only, w)) continue;
    // The products' share of one step's work, counted on a step of its own.
    std::uint64_t flops = 0;
    if (rate) {
      const std::uint64_t before = ad::product_flops();
      w.step();
      flops = ad::product_flops() - before;
    }
    const auto t = bench::time_workload(w, budget, 3, max_reps);
    const double gflops = double(flops) / (t.median_ms * 1e6);
    if (args.json) {
      nlohmann::json line = {{"impl", "ebm"},        {"workload", w.name}, {"batch", w.shape.batch},
                             {"dim", w.shape.dim},   {"width", w.shape.width}, {"threads", threads},
                             {"ms", t.median_ms},    {"reps", t.reps},         {"kernels", kernels}};
      if (rate) {
        line["product_gflops"] = gflops;
        line["rate_gflops"] = rate->gflops;
        line["rate_source"] = rate->source;
      }
      if (w.training) {
        // loss: at the initial weights (the warm-up step); loss_last: after steps - 1 updates.
        const bench::TrainingInfo info = w.training();
        line["loss"] = finite_or_null(info.first_loss);
        line["loss_last"] = finite_or_null(info.last_loss);
        line["steps"] = info.steps;
      }
      std::cout << line.dump() << std::endl;
    } else {
      char name[64];
      std::snprintf(name, sizeof name, "%s/B=%ld/D=%ld/H=%ld", w.name.c_str(), w.shape.batch, w.shape.dim,
                    w.shape.width);
      const double us = t.median_ms * 1e3;
      std::printf("%-36s %11.2f us %12ld", name, us, t.reps);
      if (rate) std::printf("  %15.1f  %11.0f%%", gflops, 100 * gflops / rate->gflops);
      std::printf("\n");
      std::fflush(stdout);
    }
    w = {};  // frees the case's tapes before the next one
  }
}

}  // namespace

void add_bench(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* sub = app.add_subcommand("bench", "Time the engine, or the peer workloads (--peer) against PyTorch");
  sub->add_flag("--peer", args->peer, "Run the workloads of shared/bench/WORKLOADS.md (langevin, sm_exact, ssm, dsm, cd)");
  sub->add_flag("--json", args->json, "Print one JSON line per case (the schema compare.py reads)");
  sub->add_flag("--quick", args->quick, "Shorter timing budget per case");
  sub->add_flag("--roofline", args->roofline,
                "Also each case's matrix-product GFLOP/s, against the machine's product rate measured in the same run "
                "(OpenBLAS's sgemm when libopenblas.so.0 loads, else ebm's own product)");
  sub->add_option("--only", args->only,
                  "Comma-separated workload names to run, NAME or NAME:DIM (e.g. langevin,grad_x or sm_exact:784)");
  sub->add_option("--network", args->networks,
                  "Time forward, grad_x and a DSM step of this architecture file (repeatable) at batches 1, 32 and 128, "
                  "as bench/torch_networks.py does in PyTorch");
  sub->add_option("--export", args->export_dir,
                  "With --peer: write model, batch, draws and ebm's losses of sm_exact/ssm/dsm to this directory "
                  "for the PyTorch loss check, instead of timing");
  const Globals& g = ctx.globals;
  ctx.runners[sub] = [args, &g] {
    args->threads = g.threads;
    run_bench(*args);
  };
}

}  // namespace ebm::cli
