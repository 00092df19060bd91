#pragma once
// The training loop: mini-batches from a seeded schedule, an objective, an optimizer with a
// learning-rate schedule, gradient clipping, an exponential moving average of the weights,
// held-out evaluation every K steps with early stopping, and progress reports.
//
// Everything a run depends on is (options, data, the step counter) or is in TrainerState, so a
// run stopped at step k and resumed from its state (with the model's parameters) continues bit
// for bit as if it had not stopped.
//
// Data parallel: each batch is cut into blocks of block_rows rows; the blocks' losses and
// gradients are summed over a binary tree fixed by the number of blocks. Under a communicator
// of K processes each takes a contiguous share of the blocks (so K <= blocks keeps every
// process busy) and the processes exchange tree nodes, so that every process takes the same
// optimizer step, with the same bits as one process (docs/scaling.md). Every process holds the
// whole data set and the model; the PCD replay buffer is kept whole on each.
#include <ebm/core/communicator.hpp>
#include <ebm/core/types.hpp>
#include <ebm/train/model.hpp>
#include <ebm/train/objectives.hpp>
#include <ebm/train/optimizer.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ebm {

struct TrainerOptions {
  std::int64_t steps = 1000;  // total optimizer steps of the run (a resumed run included)
  Index batch_size = 256;     // clipped to the data size: full batch when >= N
  std::uint64_t seed = 0;     // batches and the objective's draws
  OptimizerKind optimizer = OptimizerKind::Adam;
  AdamOptions adam;
  SgdOptions sgd;
  LrSchedule schedule;        // Cosine/Linear without total_steps decay over `steps`
  double clip_norm = 0;       // global gradient-norm clipping; 0: off
  double ema_decay = 0;       // 0: no moving average; else in (0, 1)
  std::int64_t eval_every = 0;   // held-out loss every this many steps (0: only at the end)
  std::int64_t patience = 0;     // early stopping after this many evaluations without improvement (0: off)
  double min_delta = 0;
  std::int64_t report_every = 1;  // progress callback period in steps
  // Augmentation: each training row, an image of flip_height x flip_width x flip_channels
  // (channels last, ad/patches.hpp), mirrored left to right with probability 1/2, a function of
  // (seed, step, position in the batch). flip_width = 0: off.
  Index flip_height = 0, flip_width = 0, flip_channels = 1;
  // Rows per block of a batch (the unit of work split across processes; the last block may be
  // shorter). Results depend on it, not on the number of processes or threads.
  Index block_rows = 64;
  void validate() const;
};

/// What the progress callback sees.
struct TrainProgress {
  std::int64_t step = 0, total = 0;  // steps done, steps of the run
  double loss = 0;                   // this step's batch loss
  double lr = 0, grad_norm = 0;      // grad_norm before clipping
  bool has_held_out = false;
  double held_out = 0;               // the latest held-out loss, when has_held_out
  double energy_data = 0, energy_negatives = 0;  // CD / PCD
  double seconds = 0;                // since run() began
};

template <class T>
struct TrainerState {
  std::int64_t step = 0;
  OptimizerState<T> optimizer;
  EmaState<T> ema;
  EarlyStoppingState early_stopping;
  Mat<T> replay_buffer;  // PCD chains (empty otherwise)
};

struct TrainResult {
  std::int64_t first_step = 0, steps_done = 0;  // the run covered steps [first_step, steps_done)
  bool stopped_early = false;
  std::vector<std::int64_t> loss_steps;
  std::vector<double> losses;  // batch loss of every step of this run
  std::vector<std::int64_t> held_out_steps;
  std::vector<double> held_out;  // held-out losses at held_out_steps
  double seconds = 0;
  std::string summary() const;
};

template <class T>
class Trainer {
 public:
  /// Trains `model` (kept by reference) by `objective` with these options. Under a communicator
  /// of several processes (kept by reference), every process constructs its Trainer alike and
  /// calls run() and evaluate() together: they are collective, and an exception on one process
  /// (bad data, a numerical failure) is thrown on all of them.
  Trainer(Model<T>& model, const ObjectiveOptions& objective, const TrainerOptions& options,
          const Communicator& communicator = single_process());
  ~Trainer();

  /// Runs from the current step to options.steps (or to stop_at when 0 <= stop_at <
  /// options.steps, or until early stopping) on `train` (N x D); `held_out` (M x D) may be null.
  /// The callback, if any, gets a report every report_every steps and after each held-out
  /// evaluation. A run stopped at stop_at and resumed continues exactly as if never stopped.
  TrainResult run(const Mat<T>& train, const Mat<T>* held_out = nullptr,
                  const std::function<void(const TrainProgress&)>& progress = {}, std::int64_t stop_at = -1);

  std::int64_t step() const;
  /// Loss of the current model on `x` (no update); draws keyed to the current step. Collective.
  double evaluate(const Mat<T>& x);
  /// When an EMA is kept: copies the averaged weights into the model.
  void apply_ema();

  TrainerState<T> state() const;
  /// Continues from a state saved by state() (with the model's parameters restored too).
  void load_state(TrainerState<T> state);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

extern template class Trainer<float>;
extern template class Trainer<double>;

}  // namespace ebm
