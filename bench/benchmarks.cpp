// Google Benchmark registration of the engine and peer workloads.
#include "workloads.hpp"

#include <benchmark/benchmark.h>

namespace {

void register_all() {
  static std::vector<ebm::bench::Workload> all = [] {
    auto w = ebm::bench::engine_workloads();
    for (auto& p : ebm::bench::peer_workloads()) w.push_back(std::move(p));
    return w;
  }();
  for (auto& w : all) {
    const std::string name = w.name + "/B=" + std::to_string(w.shape.batch) + "/D=" + std::to_string(w.shape.dim) +
                             "/H=" + std::to_string(w.shape.width);
    benchmark::RegisterBenchmark(name.c_str(), [&w](benchmark::State& state) {
      for (auto _ : state) w.step();
    })->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
