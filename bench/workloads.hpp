#pragma once
// Benchmark workloads, shared by the Google Benchmark targets and `ebm bench`. Each workload
// owns its state; step() runs one timed unit of work.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ebm::bench {

struct Shape {
  long batch, dim, width;
};

struct Workload {
  std::string name;   // e.g. "forward", "langevin"
  Shape shape;
  std::function<void()> step;
  std::shared_ptr<void> state;  // keeps step's captures alive
};

/// Engine workloads on the DESIGN.md MLP (D -> H -> H -> 1, softplus, float32):
/// "forward" (E), "grad_x" (E and grad_x E), "double_backward" (grad_phi of sum of grad_x E squared);
/// "record_op_x1000": 1000 recorded ops on 1x1 matrices (the per-op overhead); and "matmul":
/// one B x H by H x H product as a hidden layer computes it (the product roofline); and
/// "ula_1chain_x100000" / "mala_1chain_x100000": 100000 single-chain steps on the 2-D analytic
/// Gaussian (closed-form score).
Workload make_engine_workload(const std::string& name, Shape shape);
/// The engine workloads at D=2,H=128 and D=64,H=256, batches 1, 64 and 4096.
std::vector<Workload> engine_workloads();

/// Peer workloads of shared/bench/WORKLOADS.md implemented so far ("langevin").
Workload make_peer_workload(const std::string& name, Shape shape);
std::vector<Workload> peer_workloads();

struct Timing {
  double median_ms;
  long reps;
};
/// Times step like shared/bench/peer_torch.py: one warm-up, then at least min_reps and up to
/// max_reps repetitions within budget_s; the median.
Timing time_workload(const Workload& w, double budget_s, long min_reps = 2, long max_reps = 200);

}  // namespace ebm::bench
