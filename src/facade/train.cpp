#include <ebm/facade/train.hpp>

#include <ebm/core/check.hpp>
#include "checks.hpp"

#include <ebm/core/error.hpp>
#include <ebm/data/dataset.hpp>
#include <ebm/facade/energy.hpp>
#include <ebm/io/checkpoint.hpp>
#include <ebm/io/safetensors.hpp>
#include <ebm/train/model.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace ebm::facade {
namespace {

using detail::at_least;
using detail::positive;
using detail::text;
using detail::nonnegative;
using detail::fraction;
std::string columns_text(Index d) { return std::to_string(d) + " column" + (d == 1 ? "" : "s"); }

template <class T>
Standardization<T> standardization_of(const io::ModelInfo& info, Index dim) {
  Standardization<T> st;
  st.mean.resize(dim);
  st.scale.resize(dim);
  for (Index j = 0; j < dim; ++j) {
    st.mean(j) = static_cast<T>(info.data_mean[static_cast<std::size_t>(j)]);
    st.scale(j) = static_cast<T>(info.data_scale[static_cast<std::size_t>(j)]);
  }
  return st;
}

constexpr int kMaxRollbacks = 5;

// Why this step's numbers mean the run diverged, or empty: a non-finite loss or gradient, or a
// loss beyond the threshold for every 100 dimensions of the data (score-matching losses grow
// with D; 0: no threshold).
std::string divergence(const TrainProgress& p, double threshold, Index dim) {
  if (!std::isfinite(p.loss) || !std::isfinite(p.grad_norm))
    return "the loss is " + text(p.loss) + " and the gradient norm " + text(p.grad_norm);
  const double limit = threshold * std::max(1.0, double(dim) / 100);
  if (threshold > 0 && std::abs(p.loss) > limit) {
    std::string why = "|loss| = " + text(std::abs(p.loss)) + " > " + text(limit) + " (divergence_threshold " + text(threshold) +
                      (dim > 100 ? " per 100 dimensions" : "") + ")";
    if (p.energy_data != 0 || p.energy_negatives != 0)
      why += " (mean energy of the data " + text(p.energy_data) + ", of the negatives " + text(p.energy_negatives) + ")";
    return why;
  }
  return {};
}

}  // namespace

ObjectiveDefaults objective_defaults(const std::string& objective) {
  ObjectiveDefaults d;
  if (objective == "cd" || objective == "pcd") {
    d.steps = 5000;
    d.energy_penalty = 0.1;
    if (objective == "cd") d.langevin_step_size = 0.05;
    else d.schedule = "constant";
  }
  return d;
}

std::int64_t TrainRequest::steps_or_default() const { return steps.value_or(objective_defaults(objective).steps); }
double TrainRequest::langevin_step_size_or_default() const {
  return langevin_step_size.value_or(objective_defaults(objective).langevin_step_size);
}
double TrainRequest::energy_penalty_or_default() const {
  return energy_penalty.value_or(objective_defaults(objective).energy_penalty);
}
std::string TrainRequest::schedule_or_default() const { return schedule.value_or(objective_defaults(objective).schedule); }

void TrainRequest::validate() const {
  at_least("steps", steps_or_default(), 1);
  at_least("batch", batch, 1);
  at_least("block_rows", block_rows, 1);
  positive("lr", lr);
  nonnegative("weight_decay", weight_decay);
  nonnegative("clip", clip);
  fraction("ema", ema);
  fraction("held_out", held_out);
  at_least("eval_every", eval_every, 0);
  at_least("patience", patience, 0);
  at_least("checkpoint_every", checkpoint_every, 0);
  if (stop_at) at_least("stop_at", *stop_at, 1);
  if (checkpoint_every > 0 && checkpoint.empty()) throw InvalidArgument("checkpoint_every: needs a checkpoint file");
  if (patience > 0 && (held_out == 0 || eval_every == 0))
    throw InvalidArgument("patience: needs held_out and eval_every (early stopping watches the held-out loss)");
  positive("sigma", sigma);
  at_least("noise_levels", noise_levels, 1);
  if (noise_levels > 1 && !(sigma_max > sigma))
    throw InvalidArgument("sigma_max: must exceed sigma (" + text(sigma) + ") with noise_levels > 1, got " + text(sigma_max));
  at_least("projections", projections, 1);
  at_least("langevin_steps", langevin_steps, 1);
  positive("langevin_step_size", langevin_step_size_or_default());
  at_least("buffer_size", buffer_size, 1);
  nonnegative("energy_penalty", energy_penalty_or_default());
  if (!(restart_fraction >= 0 && restart_fraction <= 1))
    throw InvalidArgument("restart_fraction: must be in [0, 1], got " + text(restart_fraction));
  if (on_divergence != "stop" && on_divergence != "rollback")
    throw InvalidArgument("on_divergence: expected stop or rollback, got '" + on_divergence + "'");
  nonnegative("divergence_threshold", divergence_threshold);
  (void)objective_options();
  (void)trainer_options();
}

ObjectiveOptions TrainRequest::objective_options() const {
  ObjectiveOptions o;
  try {
    o.kind = parse_objective(objective);
  } catch (const InvalidArgument&) {
    throw InvalidArgument("objective: expected sm, ssm, dsm, cd or pcd, got '" + objective + "'");
  }
  o.sigma = sigma;
  o.noise_levels = noise_levels;
  o.sigma_max = sigma_max;
  o.projections = projections;
  o.langevin_steps = langevin_steps;
  o.langevin_step_size = langevin_step_size_or_default();
  o.buffer_size = buffer_size;
  o.energy_penalty = energy_penalty_or_default();
  o.reinit_fraction = restart_fraction;
  o.validate();
  return o;
}

TrainerOptions TrainRequest::trainer_options() const {
  TrainerOptions t;
  t.steps = steps_or_default();
  t.batch_size = batch;
  t.block_rows = block_rows;
  t.seed = seed;
  if (optimizer == "adam" || optimizer == "adamw") {
    t.optimizer = OptimizerKind::Adam;
    t.adam.lr = lr;
    t.adam.weight_decay = weight_decay;
    t.adam.decoupled_weight_decay = optimizer == "adamw";
  } else if (optimizer == "sgd") {
    t.optimizer = OptimizerKind::Sgd;
    t.sgd.lr = lr;
    t.sgd.weight_decay = weight_decay;
  } else {
    throw InvalidArgument("optimizer: expected adam, adamw or sgd, got '" + optimizer + "'");
  }
  try {
    t.schedule = parse_lr_schedule(schedule_or_default());
  } catch (const InvalidArgument& e) {
    throw InvalidArgument("schedule: " + std::string(e.what()));
  }
  t.clip_norm = clip;
  t.ema_decay = ema;
  t.eval_every = eval_every;
  t.patience = patience;
  t.report_every = 1;  // every step reaches on_step
  t.validate();
  return t;
}

std::string TrainRequest::run_config() const {
  nlohmann::json c = {{"model", model},
                            {"objective", objective},
                            {"steps", steps_or_default()},
                            {"batch", batch},
                            {"block-rows", block_rows},
                            {"lr", lr},
                            {"schedule", schedule_or_default()},
                            {"optimizer", optimizer},
                            {"weight-decay", weight_decay},
                            {"clip", clip},
                            {"ema", ema},
                            {"standardize", standardize},
                            {"held-out", held_out},
                            {"eval-every", eval_every},
                            {"patience", patience},
                            {"sigma", sigma},
                            {"sigma-max", sigma_max},
                            {"noise-levels", noise_levels},
                            {"projections", projections},
                            {"langevin-steps", langevin_steps},
                            {"langevin-step-size", langevin_step_size_or_default()},
                            {"buffer-size", buffer_size},
                            {"energy-penalty", energy_penalty_or_default()},
                            {"restart-fraction", restart_fraction},
                            {"on-divergence", on_divergence},
                            {"divergence-threshold", divergence_threshold},
                            {"flip", flip},
                            {"seed", seed}};
  if (architecture) c["architecture"] = *architecture;  // a description given as text (Python's architecture=)
  return c.dump();
}

std::string saved_run_config(const std::string& checkpoint) {
  const io::TensorFile file = io::read_safetensors(checkpoint);
  const auto config = file.metadata.find("config");
  return config == file.metadata.end() ? std::string() : config->second;
}

template <class T>
Trained<T> train(const Mat<T>& data, const TrainRequest& r) {
  r.validate();
  ObjectiveOptions objective = r.objective_options();
  const Index dim = data.cols();
  if (data.rows() < 1 || dim < 1) throw FormatError(r.data_name + ": no data (" + shape_str(data) + ")");
  auto note = [&](const std::string& line) {
    if (r.on_note) r.on_note(line);
  };

  const bool from_file = !r.architecture && architecture_is_file(r.model);
  const std::string described = r.architecture ? *r.architecture : architecture_text(r.model, dim);
  std::optional<nn::Network<T>> fresh;
  try {
    fresh.emplace(nn::Network<T>::from_json(described, r.seed, from_file ? r.model : "model"));
  } catch (const InvalidArgument& e) {
    if (from_file) throw FormatError(e.what());  // bad file content
    throw;
  }
  if (fresh->dim() != dim)
    throw FormatError(r.data_name + " has " + columns_text(dim) + " but the architecture " + r.model + " takes " +
                      std::to_string(fresh->dim()) + " (input " + fresh->input_shape().str() + ")");
  std::optional<io::Checkpoint<T>> ckpt;
  if (!r.resume.empty()) {
    ckpt.emplace(io::load_checkpoint<T>(r.resume));
    if (ckpt->network.dim() != dim)
      throw FormatError(r.data_name + " has " + columns_text(dim) + " but the checkpoint " + r.resume + " expects " +
                        std::to_string(ckpt->network.dim()));
    if (ckpt->network.architecture() != fresh->architecture())
      throw InvalidArgument("model: " + r.model + " differs from the architecture of the checkpoint " + r.resume);
    const bool saved_standardized = !ckpt->info.data_mean.empty();
    if (r.standardize != saved_standardized)
      throw InvalidArgument(std::string("standardize: ") + (r.standardize ? "on" : "off") + ", but the checkpoint " + r.resume +
                            " was trained on " + (saved_standardized ? "standardised" : "raw") +
                            " data, and a resumed run keeps that");
  }
  const bool second_order = objective.kind == ObjectiveKind::ExactSm || objective.kind == ObjectiveKind::SlicedSm;
  if (const std::string issue = fresh->second_order_issue(); !issue.empty() && second_order)
    throw InvalidArgument("model: the network uses " + issue + ", so objective " + r.objective +
                          " has no minimum; use a smooth activation (softplus, silu, tanh, gelu, elu) or dsm, cd, pcd");
  if (fresh->conditional() && objective.kind != ObjectiveKind::DenoisingSm)
    throw InvalidArgument("objective: " + r.objective + ", but the network is noise-conditional; train it with dsm (and noise_levels)");
  if (r.flip && fresh->input_shape().width < 2)
    throw InvalidArgument("flip: needs an image network (\"input\": [height, width, channels]); " + r.model + " takes vectors");
  if (r.should_stop && r.interrupt_checkpoint.empty() && r.checkpoint.empty())
    throw InvalidArgument("interrupt_checkpoint: a run that can be stopped needs a file to save itself to");

  Mat<T> train_x, test_x;
  if (r.held_out > 0) {
    Split<T> s = split(data, r.held_out, r.seed);
    if (s.test.rows() < 1 || s.train.rows() < 1)
      throw InvalidArgument("held_out: " + text(r.held_out) + " of " + std::to_string(data.rows()) +
                            " points leaves an empty training or held-out set");
    train_x = std::move(s.train);
    test_x = std::move(s.test);
  } else {
    train_x = data;
  }

  Trained<T> out{ckpt ? std::move(ckpt->network) : std::move(*fresh), {}, {}, std::nullopt, {}, {}};
  io::ModelInfo& info = out.info;
  if (ckpt) {
    info = ckpt->info;  // the checkpoint's standardisation: the model was trained with it
  } else {
    info.architecture = out.network.architecture();
    if (r.standardize) {
      const Standardization<T> st = Standardization<T>::fit(train_x);
      if (!st.constant_columns.empty())
        note(std::to_string(st.constant_columns.size()) + " constant column(s) (first: column " +
             std::to_string(st.constant_columns.front()) + ") are left unscaled (scale 1)");
      for (Index j = 0; j < dim; ++j) {
        info.data_mean.push_back(double(st.mean(j)));
        info.data_scale.push_back(double(st.scale(j)));
      }
    }
    info.objective = std::string(objective_name(objective.kind));
    if (out.network.conditional()) info.noise_levels = objective.noise_ladder();
    else info.energy_scale = objective.data_energy_scale();  // E / sigma_min is the data-level energy (NCSNv2)
  }
  if (!info.data_mean.empty()) {
    const Standardization<T> st = standardization_of<T>(info, dim);
    train_x = st.apply(train_x);
    if (test_x.rows() > 0) test_x = st.apply(test_x);
  }

  nn::Network<T>& network = out.network;
  ModelOf<T, nn::Network<T>> model(network);
  TrainerOptions trainer_options = r.trainer_options();
  if (r.flip) {
    trainer_options.flip_height = network.input_shape().height;
    trainer_options.flip_width = network.input_shape().width;
    trainer_options.flip_channels = network.input_shape().channels;
  }
  if (objective.kind == ObjectiveKind::ExactSm)
    note("exact score matching by " + (network.dense_chain() ? std::string("the forward Laplacian (the network is a plain MLP)")
                                                              : "the naive route: D = " + std::to_string(dim) +
                                                                    " backward passes per step (the network offers no forward Laplacian)"));
  const Communicator& comm = r.communicator ? *r.communicator : single_process();
  // Checkpoints: written by rank 0, and a failure to write stops every rank.
  auto save_checkpoint = [&](const std::string& path, const Trainer<T>& t, const std::string& config_text) {
    agreed(comm, [&] {
      if (comm.rank() == 0) io::save_checkpoint<T>(path, network, info, t.state(), config_text);
    });
  };
  if (comm.size() > 1) {
    const Index batch = std::min<Index>(r.batch, train_x.rows());
    const Index blocks = (batch + r.block_rows - 1) / r.block_rows;
    if (blocks < comm.size())
      note(std::to_string(comm.size()) + " processes share batches of " + std::to_string(batch) + " rows in " + std::to_string(blocks) +
           " block(s) of " + std::to_string(r.block_rows) + ": " + std::to_string(comm.size() - blocks) +
           " process(es) idle (a smaller block_rows shares it out, and changes the run's bits)");
  }
  auto trainer = std::make_unique<Trainer<T>>(model, objective, trainer_options, comm);
  if (ckpt) trainer->load_state(std::move(ckpt->state));
  const std::int64_t first = trainer->step();
  const std::int64_t steps = r.steps_or_default();
  if (ckpt && first >= steps)
    throw InvalidArgument("steps: " + r.resume + " is at step " + std::to_string(first) + ", so steps " + std::to_string(steps) +
                          " leaves nothing to do (ask for more steps)");
  const std::int64_t end = r.stop_at ? std::min(*r.stop_at, steps) : steps;
  std::string config = r.config_json.empty() ? r.run_config() : r.config_json;

  struct Stop {
    std::int64_t step;
  };
  struct Diverged {
    std::int64_t step;
    std::string why;
  };
  // For on_divergence rollback: states (parameters and the trainer's) kept every snapshot_every
  // steps. A run is often going wrong some steps before its loss shows it, so a rollback goes
  // to the older of the last two.
  const bool rollback = r.on_divergence == "rollback";
  const std::int64_t snapshot_every = std::max<std::int64_t>(10, steps / 100);
  struct Snapshot {
    std::vector<Mat<T>> parameters;
    TrainerState<T> state;
  };
  Snapshot older{network.parameter_values(), trainer->state()}, newer = older;
  // The callbacks run on every rank; a failure in one, or a stop asked of one, stops all.
  auto callbacks = [&](const TrainProgress& p) {
    bool stop = false;
    std::exception_ptr failure;
    try {
      if (r.on_step) r.on_step(p);
      stop = r.should_stop && p.step < end && r.should_stop();
    } catch (...) {
      failure = std::current_exception();
    }
    if (comm.size() == 1) {
      if (failure) std::rethrow_exception(failure);
      return stop;
    }
    const Gathered flags = gather_agreed(comm, stop ? "1" : "0", failure);
    for (int rank = 0; rank < flags.size(); ++rank) stop = stop || flags[rank] == "1";
    return stop;
  };
  auto on_step = [&](const TrainProgress& p) {
    const bool stop = callbacks(p);
    if (const std::string why = divergence(p, r.divergence_threshold, dim); !why.empty()) throw Diverged{p.step, why};
    if (rollback && p.step % snapshot_every == 0) {
      older = std::move(newer);
      newer = Snapshot{network.parameter_values(), trainer->state()};
    }
    if (r.checkpoint_every > 0 && p.step % r.checkpoint_every == 0 && p.step < end) save_checkpoint(r.checkpoint, *trainer, config);
    if (stop) throw Stop{p.step};
  };
  const bool held = test_x.rows() > 0;
  double lr = r.lr;
  for (int rollbacks = 0;; ++rollbacks) {
    try {
      out.result = trainer->run(train_x, held ? &test_x : nullptr, on_step, r.stop_at.value_or(-1));
      break;
    } catch (const Stop& stop) {
      // Between steps: the trainer's state is that of step `stop.step`, as a checkpoint written then would hold.
      out.interrupt_checkpoint = r.interrupt_checkpoint.empty() ? r.checkpoint : r.interrupt_checkpoint;
      save_checkpoint(out.interrupt_checkpoint, *trainer, config);
      out.interrupted_at = stop.step;
      info.step = trainer->step();
      return out;
    } catch (const Diverged& d) {
      const std::string what = "training diverged at step " + std::to_string(d.step) + ": " + d.why;
      if (!rollback)
        throw NumericalError(what + "; lower lr" + (r.objective == "cd" || r.objective == "pcd" ? " or langevin_step_size, add energy_penalty," : ",") +
                             " or use on_divergence rollback");
      if (rollbacks == kMaxRollbacks)
        throw NumericalError(what + " again after " + std::to_string(kMaxRollbacks) + " rollbacks (lr now " + text(lr) + ")");
      // Back to a good state with half the learning rate (and half the Langevin step for CD,
      // whose sampler is the usual culprit); the saved options say so, so that a checkpoint
      // written from here resumes this run.
      lr /= 2;
      const bool contrastive = objective.kind == ObjectiveKind::Cd || objective.kind == ObjectiveKind::Pcd;
      if (contrastive) objective.langevin_step_size /= 2;
      network.edit_parameters([&](std::vector<Mat<T>*>& p) {
        for (std::size_t i = 0; i < p.size(); ++i) *p[i] = older.parameters[i];
      });
      trainer_options.adam.lr = trainer_options.sgd.lr = lr;  // the optimizer's own, whichever it is
      trainer = std::make_unique<Trainer<T>>(model, objective, trainer_options, comm);
      trainer->load_state(older.state);
      newer = older;
      nlohmann::json c = nlohmann::json::parse(config);
      c["lr"] = lr;
      if (contrastive) c["langevin-step-size"] = objective.langevin_step_size;
      config = c.dump();
      out.rollbacks.push_back({d.step, trainer->step(), lr});
      note(what + "; rolled back to step " + std::to_string(trainer->step()) + " with lr " + text(lr) +
           (contrastive ? ", langevin_step_size " + text(objective.langevin_step_size) : std::string()));
    }
  }
  if (!r.checkpoint.empty()) save_checkpoint(r.checkpoint, *trainer, config);
  trainer->apply_ema();
  info.step = trainer->step();
  return out;
}

template Trained<float> train<float>(const Mat<float>&, const TrainRequest&);
template Trained<double> train<double>(const Mat<double>&, const TrainRequest&);

}  // namespace ebm::facade
