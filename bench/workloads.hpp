#pragma once
// Benchmark workloads, shared by the Google Benchmark targets and `ebm bench`. Each workload
// owns its state; step() runs one timed unit of work.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ebm::bench {

struct Shape {
  long batch, dim, width;
};

/// What a training workload can say about its losses, and the files of the PyTorch check.
struct TrainingInfo {
  double first_loss = 0;  // at the initial weights (the warm-up step, step 0)
  double last_loss = 0;   // at the latest step taken
  long steps = 0;         // steps taken so far
};

struct Workload {
  std::string name;   // e.g. "forward", "langevin"
  Shape shape;
  std::function<void()> step;
  std::shared_ptr<void> state;  // keeps step's captures alive
  /// Training workloads only (empty otherwise): their losses so far.
  std::function<TrainingInfo()> training;
  /// sm_exact, ssm, dsm only: writes, at the current weights and step 0's draws,
  ///   <prefix>.model.safetensors  the MLP (io::save_model, float32)
  ///   <prefix>.check.safetensors  "x" [B, D] float32; "v" (ssm) or "eps" (dsm) [B, D] the
  ///                               objective's draws; "loss_f32" [1] ebm's float32 loss; "loss_f64"
  ///                               [1] and "grad_<i>" (the parameter gradients) from the same
  ///                               weights and batch in float64
  /// without changing the workload's state. Returns the float32 and float64 losses.
  std::function<std::pair<double, double>(const std::string& prefix)> export_check;
};

/// Engine workloads on the DESIGN.md MLP (D -> H -> H -> 1, softplus, float32):
/// "forward" (E), "grad_x" (E and grad_x E), "double_backward" (grad_phi of sum of grad_x E squared);
/// "record_op_x1000": 1000 recorded ops on 1x1 matrices (the per-op overhead); and "matmul":
/// one B x H by H x H product as a hidden layer computes it (the product roofline);
/// "matmul_at": the weight-gradient product G^T H of two B x H matrices (a sum over the batch); and
/// "ula_1chain_x100000" / "mala_1chain_x100000": 100000 single-chain steps on the 2-D analytic
/// Gaussian (closed-form score).
Workload make_engine_workload(const std::string& name, Shape shape);
/// The engine workloads at D=2,H=128 and D=64,H=256, batches 1, 64 and 4096.
std::vector<Workload> engine_workloads();

/// Peer workloads of shared/bench/WORKLOADS.md, as peer_torch.py runs them: "langevin" (one
/// Langevin step of B chains), and one Adam step (lr 1e-3) of "sm_exact", "ssm" (one Gaussian
/// projection per point, variance-reduced), "dsm" (sigma 0.1) or "cd" (10 Langevin steps, h
/// 0.01, from N(0, I) noise) on a fixed standard-normal batch: Objective::evaluate with the
/// gradient, then Optimizer::step inside Mlp::edit_parameters.
Workload make_peer_workload(const std::string& name, Shape shape);
/// Every case of WORKLOADS.md. Construction is cheap; the state grows at the first step.
std::vector<Workload> peer_workloads();

/// For each architecture file (docs/networks.md), batches 1, 32 and 128: "<stem>/forward" (E),
/// "<stem>/grad_x" (grad_x E) and "<stem>/dsm_step" (one Adam step of denoising score matching
/// over a 10-level ladder, sigma 1 to 0.01: the double backward), on inputs uniform in [0, 1];
/// conditional networks at sigma 0.1 for forward and grad_x. Shape: {batch, D, 0}.
std::vector<Workload> network_workloads(const std::vector<std::string>& architecture_files);

struct Timing {
  double median_ms;
  long reps;
};
/// Times step like shared/bench/peer_torch.py: one warm-up, then at least min_reps and up to
/// max_reps repetitions within budget_s; the median.
Timing time_workload(const Workload& w, double budget_s, long min_reps = 2, long max_reps = 200);

}  // namespace ebm::bench
