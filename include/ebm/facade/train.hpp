#pragma once
// Training a network on data by objective name, with the policy every front end shares: the
// architecture from an mlp:... spec or a description, per-column standardisation saved with
// the model, a held-out split, checkpoints (periodic, at the end, and when asked to stop) and
// resuming a checkpoint bit for bit, with the checks that a resumed run is the same run.
#include <ebm/core/types.hpp>
#include <ebm/io/model_file.hpp>
#include <ebm/nn/network.hpp>
#include <ebm/train/trainer.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ebm::facade {

/// The defaults that depend on the objective. Contrastive divergence needs more steps than score
/// matching, and without the energy penalty its energies drift apart and the run diverges; cd's
/// short chains from noise need a larger Langevin step than pcd's persistent ones. Measured on
/// the toy sets, held-out NLL over 5 seeds: docs/training.md, "Contrastive divergence defaults".
/// At a constant learning rate the last iterate is as noisy as the last steps' mini-batches, so
/// the rate decays by a cosine over the run; pcd does worse with it and keeps a constant rate:
/// docs/training.md, "The learning-rate schedule".
struct ObjectiveDefaults {
  std::int64_t steps = 1000;
  double langevin_step_size = 0.01;
  double energy_penalty = 0;
  std::string schedule = "cosine";  // train/optimizer.hpp parse_lr_schedule; pcd: constant
};
/// The defaults of `objective` (sm, ssm, dsm: the plain ObjectiveDefaults; an unknown name too,
/// TrainRequest::validate names it).
ObjectiveDefaults objective_defaults(const std::string& objective);

/// What to train. Field names are the option names of every front end (`--weight-decay` on the
/// command line, `weight_decay=` in Python); validate() names them in its messages.
struct TrainRequest {
  /// "mlp[:WIDTHx...][:ACTIVATION]", or a path to an architecture file (docs/networks.md).
  std::string model = "mlp:128x128:softplus";
  /// The architecture's JSON text itself; when set, `model` only names it in messages.
  std::optional<std::string> architecture;
  std::string objective = "sm";     // sm, ssm, dsm, cd, pcd
  /// Total optimiser steps of the run (a resumed run included); unset: the objective's default.
  std::optional<std::int64_t> steps;
  std::int64_t batch = 256;         // full batch when >= N
  /// Rows per block of a batch: the unit of work shared out among processes (TrainerOptions).
  std::int64_t block_rows = 64;
  double lr = 1e-3;
  /// train/optimizer.hpp parse_lr_schedule; unset: the objective's default.
  std::optional<std::string> schedule;
  std::string optimizer = "adam";     // adam, adamw, sgd
  double weight_decay = 0, clip = 0, ema = 0;
  bool standardize = true;          // per column, statistics of the training split saved with the model
  double held_out = 0;              // fraction in [0, 1)
  std::int64_t eval_every = 0, patience = 0;
  double sigma = 0.1, sigma_max = 1;  // dsm
  std::int64_t noise_levels = 1;      // dsm
  std::int64_t projections = 1;       // ssm
  std::int64_t langevin_steps = 10;   // cd, pcd
  std::optional<double> langevin_step_size;  // cd, pcd; unset: the objective's default
  std::int64_t buffer_size = 10000;   // pcd
  /// cd, pcd: alpha (E(data)^2 + E(negatives)^2) added to the loss; unset: the objective's default.
  std::optional<double> energy_penalty;
  double restart_fraction = 0.05;     // pcd: share of the replay buffer's chains restarted from noise per step
  /// A step whose loss or gradient is not finite, or whose |loss| exceeds divergence_threshold
  /// times max(1, D / 100) (0: no threshold), diverged: "stop" ends the run with a
  /// NumericalError; "rollback" goes back 1-2 snapshots (kept every max(10, steps / 100) steps)
  /// with half the learning rate (and half the Langevin step for cd, pcd), up to 5 times.
  std::string on_divergence = "stop";
  double divergence_threshold = 1000;
  bool flip = false;                  // image networks: random left-right mirroring
  std::uint64_t seed = 0;
  std::string data_name = "data";       // what messages call the data (its file)
  std::optional<std::int64_t> stop_at;  // stop after this step (to split a run)
  std::string checkpoint;               // written at the end and every checkpoint_every steps
  std::int64_t checkpoint_every = 0;
  std::string resume;                   // continue from this checkpoint
  /// Where a run stopped by should_stop saves itself (default: `checkpoint`; one of the two is
  /// needed for a run that can be stopped).
  std::string interrupt_checkpoint;
  /// The run's options as saved in checkpoints (front ends put what --resume restores); empty:
  /// run_config().
  std::string config_json;
  /// After every step, before a checkpoint of that step is written; may throw to abort.
  std::function<void(const TrainProgress&)> on_step;
  /// Polled after every step: true stops the run at a safe point with a checkpoint.
  std::function<bool()> should_stop;
  /// The processes training together (null: this one alone). Every process calls train() with
  /// the same request and data; one (rank 0) writes the checkpoints; callbacks run on all, and
  /// an exception in one stops all (Trainer).
  const Communicator* communicator = nullptr;
  /// A line for the user (the exact-SM route, constant columns), as soon as it is known.
  std::function<void(const std::string&)> on_note;

  /// steps, langevin_step_size, energy_penalty and schedule as given, else
  /// objective_defaults(objective)'s.
  std::int64_t steps_or_default() const;
  double langevin_step_size_or_default() const;
  double energy_penalty_or_default() const;
  std::string schedule_or_default() const;

  /// InvalidArgument "name: must be ..., got v" for the first bad field.
  void validate() const;
  /// The objective's options (validated).
  ObjectiveOptions objective_options() const;
  /// The trainer's options (validated).
  TrainerOptions trainer_options() const;
  /// The options that define the run, as JSON with the command line's option names.
  std::string run_config() const;
};

template <class T>
struct Trained {
  nn::Network<T> network;  // EMA applied when the run kept one
  io::ModelInfo info;      // what io::save_model writes with it (step included)
  TrainResult result;
  /// Set when should_stop stopped the run: the step saved, and the checkpoint that holds it.
  std::optional<std::int64_t> interrupted_at;
  std::string interrupt_checkpoint;
  struct Rollback {
    std::int64_t diverged_at, back_to;
    double lr;  // the learning rate from then on
  };
  std::vector<Rollback> rollbacks;
};

/// Trains on data (N x D, raw). InvalidArgument naming the field for a bad request or one that
/// does not fit the data or the checkpoint; FormatError / IoError for bad files.
template <class T>
Trained<T> train(const Mat<T>& data, const TrainRequest& r);

/// The options a checkpoint was trained with (run_config's JSON; empty when it has none).
std::string saved_run_config(const std::string& checkpoint);

}  // namespace ebm::facade
