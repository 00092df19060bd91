// `ebm bench`: timings of the engine, and the peer workloads of shared/bench/WORKLOADS.md.
#include "commands.hpp"

#include "../../bench/workloads.hpp"

#include <ebm/core/error.hpp>
#include <ebm/core/parallel.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

namespace ebm::cli {
namespace {

struct BenchArgs {
  bool peer = false;
  bool json = false;
  bool quick = false;
  int threads = 0;
  std::string only;
};

// True when `only` is empty or one of its comma-separated names starts w's name.
bool selected(const std::string& only, const std::string& name) {
  if (only.empty()) return true;
  std::size_t start = 0;
  while (start <= only.size()) {
    const std::size_t end = std::min(only.find(',', start), only.size());
    const std::string token = only.substr(start, end - start);
    if (!token.empty() && name.rfind(token, 0) == 0) return true;
    start = end + 1;
  }
  return false;
}

void run_bench(const BenchArgs& args) {
  if (args.threads > 0) set_num_threads(args.threads);
  const int threads = num_threads();
  auto workloads = args.peer ? bench::peer_workloads() : bench::engine_workloads();
  const double budget = args.peer ? (args.quick ? 0.5 : 2.0) : (args.quick ? 0.1 : 0.5);
  const long max_reps = args.peer ? 200 : 1000000;
  const bool any = std::any_of(workloads.begin(), workloads.end(),
                               [&](const bench::Workload& w) { return selected(args.only, w.name); });
  if (!any) {
    std::string names;
    for (const auto& w : workloads)
      if (names.find(w.name) == std::string::npos) names += (names.empty() ? "" : ", ") + w.name;
    throw InvalidArgument("--only: no workload matches '" + args.only + "' (available: " + names + ")");
  }
  if (!args.json) {
    std::printf("ebm bench: MLP D->H->H->1, softplus, float32, %d thread(s); median wall time per step\n", threads);
    std::printf("%-36s %14s %12s\n", "Benchmark", "Time", "Iterations");
  }
  for (const auto& w : workloads) {
    if (!selected(args.only, w.name)) continue;
    const auto t = bench::time_workload(w, budget, 2, max_reps);
    if (args.json) {
      nlohmann::json line = {{"impl", "ebm"},        {"workload", w.name}, {"batch", w.shape.batch},
                             {"dim", w.shape.dim},   {"width", w.shape.width}, {"threads", threads},
                             {"ms", t.median_ms},    {"reps", t.reps}};
      std::cout << line.dump() << std::endl;
    } else {
      char name[64];
      std::snprintf(name, sizeof name, "%s/B=%ld/D=%ld/H=%ld", w.name.c_str(), w.shape.batch, w.shape.dim,
                    w.shape.width);
      const double us = t.median_ms * 1e3;
      std::printf("%-36s %11.2f us %12ld\n", name, us, t.reps);
      std::fflush(stdout);
    }
  }
}

}  // namespace

void add_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* sub = app.add_subcommand("bench", "Time the engine, or the peer workloads (--peer) against PyTorch");
  sub->add_flag("--peer", args->peer, "Run the workloads of shared/bench/WORKLOADS.md (implemented so far: langevin)");
  sub->add_flag("--json", args->json, "Print one JSON line per case (the schema compare.py reads)");
  sub->add_flag("--quick", args->quick, "Shorter timing budget per case");
  sub->add_option("--threads", args->threads, "Thread count (default: all cores)")->check(CLI::Range(1, 4096));
  sub->add_option("--only", args->only, "Comma-separated workload names to run (e.g. langevin,grad_x)");
  sub->callback([args] { run_bench(*args); });
}

}  // namespace ebm::cli
