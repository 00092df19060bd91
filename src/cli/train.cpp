// `ebm train`: an energy network (an MLP or an architecture file) fitted to a data file by score matching or contrastive divergence.
// Standardises the data (statistics saved with the model), trains with ebm::Trainer, writes the
// model atomically; checkpoints (--checkpoint) hold the model, the trainer's state and the run's
// options, so --resume continues bit for bit.
#include "commands.hpp"

#include <ebm/core/check.hpp>
#include <ebm/data/dataset.hpp>
#include <ebm/data/matrix_file.hpp>
#include <ebm/io/checkpoint.hpp>
#include <ebm/io/safetensors.hpp>
#include <ebm/train/trainer.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

namespace ebm::cli {
namespace {

struct TrainArgs {
  std::string data, model = "mlp:128x128:softplus", objective = "sm", output, resume, checkpoint, log;
  std::string schedule = "constant", optimizer = "adam";
  std::int64_t steps = 1000, batch = 256, checkpoint_every = 0, eval_every = 0, log_every = 10;
  std::optional<std::int64_t> stop_at;
  std::int64_t patience = 0, noise_levels = 1, projections = 1, langevin_steps = 10, buffer_size = 10000;
  double lr = 1e-3, weight_decay = 0, held_out = 0, clip = 0, ema = 0, sigma = 0.1, sigma_max = 1;
  double langevin_step_size = 0.01;
  bool standardize = true, float64 = false, flip = false;
};

// The options that define the run (what --resume restores): not the outputs, logs or threads.
nlohmann::json run_config(const TrainArgs& a, const Globals& g) {
  return {{"data", a.data},
          {"model", a.model},
          {"objective", a.objective},
          {"steps", a.steps},
          {"batch", a.batch},
          {"lr", a.lr},
          {"schedule", a.schedule},
          {"optimizer", a.optimizer},
          {"weight-decay", a.weight_decay},
          {"clip", a.clip},
          {"ema", a.ema},
          {"standardize", a.standardize},
          {"held-out", a.held_out},
          {"eval-every", a.eval_every},
          {"patience", a.patience},
          {"sigma", a.sigma},
          {"sigma-max", a.sigma_max},
          {"noise-levels", a.noise_levels},
          {"projections", a.projections},
          {"langevin-steps", a.langevin_steps},
          {"langevin-step-size", a.langevin_step_size},
          {"buffer-size", a.buffer_size},
          {"float64", a.float64},
          {"flip", a.flip},
          {"seed", g.seed}};
}

struct Validated {
  ObjectiveOptions objective;
  TrainerOptions trainer;
};

Validated validate(const TrainArgs& a, const Globals& g) {
  require_given("--data", a.data);
  check_output_path("-o", a.output, false);
  if (!a.checkpoint.empty()) check_output_path("--checkpoint", a.checkpoint, false);
  if (!a.log.empty()) check_output_path("--log", a.log, false);
  require_at_least("--steps", a.steps, 1);
  require_at_least("--batch", a.batch, 1);
  require_positive("--lr", a.lr);
  require_nonnegative("--weight-decay", a.weight_decay);
  require_nonnegative("--clip", a.clip);
  require_in_unit_interval("--ema", a.ema, true);
  require_in_unit_interval("--held-out", a.held_out, true);
  require_at_least("--eval-every", a.eval_every, 0);
  require_at_least("--patience", a.patience, 0);
  require_at_least("--checkpoint-every", a.checkpoint_every, 0);
  require_at_least("--log-every", a.log_every, 1);
  if (a.stop_at) require_at_least("--stop-at", *a.stop_at, 1);
  if (a.checkpoint_every > 0 && a.checkpoint.empty()) throw UsageError("--checkpoint-every: needs --checkpoint FILE");
  if (a.patience > 0 && (a.held_out == 0 || a.eval_every == 0))
    throw UsageError("--patience: needs --held-out and --eval-every (early stopping watches the held-out loss)");
  require_positive("--sigma", a.sigma);
  require_at_least("--noise-levels", a.noise_levels, 1);
  if (a.noise_levels > 1 && !(a.sigma_max > a.sigma))
    throw UsageError("--sigma-max: must exceed --sigma (" + fmt(a.sigma) + ") with --noise-levels > 1, got " + fmt(a.sigma_max));
  require_at_least("--projections", a.projections, 1);
  require_at_least("--langevin-steps", a.langevin_steps, 1);
  require_positive("--langevin-step-size", a.langevin_step_size);
  require_at_least("--buffer-size", a.buffer_size, 1);

  Validated v;
  ObjectiveOptions& o = v.objective;
  try {
    o.kind = parse_objective(a.objective);
  } catch (const InvalidArgument&) {
    throw UsageError("--objective: expected sm, ssm, dsm, cd or pcd, got '" + a.objective + "'");
  }
  o.sigma = a.sigma;
  o.noise_levels = a.noise_levels;
  o.sigma_max = a.sigma_max;
  o.projections = a.projections;
  o.langevin_steps = a.langevin_steps;
  o.langevin_step_size = a.langevin_step_size;
  o.buffer_size = a.buffer_size;
  o.validate();

  TrainerOptions& t = v.trainer;
  t.steps = a.steps;
  t.batch_size = a.batch;
  t.seed = g.seed;
  if (a.optimizer == "adam" || a.optimizer == "adamw") {
    t.optimizer = OptimizerKind::Adam;
    t.adam.lr = a.lr;
    t.adam.weight_decay = a.weight_decay;
    t.adam.decoupled_weight_decay = a.optimizer == "adamw";
  } else if (a.optimizer == "sgd") {
    t.optimizer = OptimizerKind::Sgd;
    t.sgd.lr = a.lr;
    t.sgd.weight_decay = a.weight_decay;
  } else {
    throw UsageError("--optimizer: expected adam, adamw or sgd, got '" + a.optimizer + "'");
  }
  try {
    t.schedule = parse_lr_schedule(a.schedule);
  } catch (const InvalidArgument& e) {
    throw UsageError("--schedule: " + std::string(e.what()));
  }
  t.clip_norm = a.clip;
  t.ema_decay = a.ema;
  t.eval_every = a.eval_every;
  t.patience = a.patience;
  t.report_every = 1;  // every step reaches the callback, which decides what to log
  t.validate();
  return v;
}

// Where an interrupted run without --checkpoint saves itself: next to the output.
std::string interrupted_checkpoint_path(const std::string& output) {
  const std::string ext = ".safetensors";
  const bool has_ext = output.size() > ext.size() && output.compare(output.size() - ext.size(), ext.size(), ext) == 0;
  return (has_ext ? output.substr(0, output.size() - ext.size()) : output) + ".interrupted.safetensors";
}

template <class T>
void train(const TrainArgs& a, const Globals& g, const std::string& config_json) {
  const Validated v = validate(a, g);
  Mat<T> x = read_matrix<T>(a.data);
  const Index dim = x.cols();
  if (x.rows() < 1 || dim < 1) throw FormatError(a.data + ": no data (" + shape_str(x) + ")");

  std::optional<io::Checkpoint<T>> ckpt;
  const bool spec_is_file = a.model.rfind("mlp", 0) != 0 || std::filesystem::exists(a.model);
  const std::string described = model_architecture(a.model, dim);
  std::optional<nn::Network<T>> fresh;
  try {
    fresh.emplace(nn::Network<T>::from_json(described, g.seed, spec_is_file ? a.model : "--model"));
  } catch (const InvalidArgument& e) {
    if (spec_is_file) throw FormatError(e.what());
    throw UsageError(e.what());
  }
  if (fresh->dim() != dim)
    throw FormatError(a.data + " has " + std::to_string(dim) + " column" + (dim == 1 ? "" : "s") + " but the architecture " +
                      a.model + " takes " + std::to_string(fresh->dim()) + " (input " + fresh->input_shape().str() + ")");
  if (!a.resume.empty()) {
    ckpt.emplace(io::load_checkpoint<T>(a.resume));
    const nn::Network<T>& saved = ckpt->network;
    if (saved.dim() != dim)
      throw FormatError(a.data + " has " + std::to_string(dim) + " column" + (dim == 1 ? "" : "s") + " but the checkpoint " +
                        a.resume + " expects " + std::to_string(saved.dim()));
    if (saved.architecture() != fresh->architecture())
      throw UsageError("--model: " + a.model + " differs from the architecture of the checkpoint " + a.resume);
    const bool saved_standardized = !ckpt->info.data_mean.empty();
    if (a.standardize != saved_standardized)
      throw UsageError(std::string(a.standardize ? "--standardize" : "--no-standardize") + ": the checkpoint " + a.resume +
                       " was trained on " + (saved_standardized ? "standardised" : "raw") +
                       " data, and a resumed run keeps that");
  }
  if (const std::string issue = fresh->second_order_issue();
      !issue.empty() && (v.objective.kind == ObjectiveKind::ExactSm || v.objective.kind == ObjectiveKind::SlicedSm))
    throw UsageError("--model: the network uses " + issue + ", so --objective " + a.objective +
                     " has no minimum; use a smooth activation (softplus, silu, tanh, gelu, elu) or dsm, cd, pcd");
  if (fresh->conditional() && v.objective.kind != ObjectiveKind::DenoisingSm)
    throw UsageError("--objective " + a.objective + ": the network is noise-conditional; train it with dsm (and --noise-levels)");
  if (a.flip && fresh->input_shape().width < 2)
    throw UsageError("--flip: needs an image network (\"input\": [height, width, channels]); " + a.model + " takes vectors");

  Mat<T> train_x, test_x;
  if (a.held_out > 0) {
    Split<T> s = split(x, a.held_out, g.seed);
    if (s.test.rows() < 1 || s.train.rows() < 1)
      throw UsageError("--held-out: " + fmt(a.held_out) + " of " + std::to_string(x.rows()) +
                       " points leaves an empty training or held-out set");
    train_x = std::move(s.train);
    test_x = std::move(s.test);
  } else {
    train_x = std::move(x);
  }

  io::ModelInfo info;
  if (ckpt) {
    info = ckpt->info;  // the checkpoint's standardisation: the model was trained with it
  } else {
    info.architecture = fresh->architecture();
    if (a.standardize) {
      const Standardization<T> st = Standardization<T>::fit(train_x);
      if (!st.constant_columns.empty() && !g.quiet) {
        std::cerr << "ebm train: note: " << st.constant_columns.size() << " constant column(s) (first: column "
                  << st.constant_columns.front() << ") are left unscaled (scale 1)\n";
      }
      for (Index j = 0; j < dim; ++j) {
        info.data_mean.push_back(double(st.mean(j)));
        info.data_scale.push_back(double(st.scale(j)));
      }
    }
    info.objective = std::string(objective_name(v.objective.kind));
    if (fresh->conditional()) info.noise_levels = v.objective.noise_ladder();
    else info.energy_scale = v.objective.data_energy_scale();  // E / sigma_min is the data-level energy (NCSNv2)
  }
  if (!info.data_mean.empty()) {
    Standardization<T> st;
    st.mean.resize(dim);
    st.scale.resize(dim);
    for (Index j = 0; j < dim; ++j) {
      st.mean(j) = static_cast<T>(info.data_mean[static_cast<std::size_t>(j)]);
      st.scale(j) = static_cast<T>(info.data_scale[static_cast<std::size_t>(j)]);
    }
    train_x = st.apply(train_x);
    if (test_x.rows() > 0) test_x = st.apply(test_x);
  }

  nn::Network<T> network = ckpt ? std::move(ckpt->network) : std::move(*fresh);
  ModelOf<T, nn::Network<T>> model(network);
  TrainerOptions trainer_options = v.trainer;
  if (a.flip) {
    trainer_options.flip_height = network.input_shape().height;
    trainer_options.flip_width = network.input_shape().width;
    trainer_options.flip_channels = network.input_shape().channels;
  }
  if (v.objective.kind == ObjectiveKind::ExactSm && !g.quiet)
    std::cerr << "ebm train: exact score matching by "
              << (network.dense_chain() ? "the forward Laplacian (the network is a plain MLP)"
                                        : "the naive route: D = " + std::to_string(dim) +
                                              " backward passes per step (the network offers no forward Laplacian)")
              << "\n";
  Trainer<T> trainer(model, v.objective, trainer_options);
  if (ckpt) trainer.load_state(std::move(ckpt->state));
  const std::int64_t first = trainer.step();
  if (ckpt && first >= a.steps)
    throw UsageError("--steps: " + a.resume + " is at step " + std::to_string(first) + ", so --steps " + std::to_string(a.steps) +
                     " leaves nothing to do (ask for more steps)");
  const std::int64_t end = a.stop_at ? std::min(*a.stop_at, a.steps) : a.steps;

  std::ofstream log;
  if (!a.log.empty()) {
    log.open(a.log, ckpt ? std::ios::app : std::ios::trunc);
    if (!log) throw IoError(a.log + ": cannot open for writing (" + std::strerror(errno) + ")");
  }
  const bool contrastive = v.objective.kind == ObjectiveKind::Cd || v.objective.kind == ObjectiveKind::Pcd;
  const bool held = test_x.rows() > 0;
  ProgressBar bar(progress_enabled(g), first, end);
  const InterruptGuard interrupts;
  struct Stop {
    std::int64_t step;
  };
  auto on_step = [&](const TrainProgress& p) {
    const bool evaluated = held && a.eval_every > 0 && p.step % a.eval_every == 0;
    if (log.is_open() && (p.step % a.log_every == 0 || p.step == end || evaluated)) {
      nlohmann::json line = {{"step", p.step}, {"loss", number_or_null(p.loss)}, {"lr", p.lr},
                             {"grad_norm", number_or_null(p.grad_norm)},
                             {"units", info.data_scale.empty() ? "raw" : "standardized"}};
      if (evaluated) line["held_out"] = number_or_null(p.held_out);
      if (contrastive) {
        line["energy_data"] = number_or_null(p.energy_data);
        line["energy_negatives"] = number_or_null(p.energy_negatives);
      }
      line["seconds"] = p.seconds;
      log << line.dump() << "\n";
      log.flush();
      if (!log) throw IoError(a.log + ": write failed");
    }
    if (a.checkpoint_every > 0 && p.step % a.checkpoint_every == 0 && p.step < end)
      io::save_checkpoint<T>(a.checkpoint, network, info, trainer.state(), config_json);
    bar.update(p.step, "loss " + fmt(p.loss) + (p.has_held_out ? "  held-out " + fmt(p.held_out) : ""));
    if (InterruptGuard::requested() && p.step < end) throw Stop{p.step};
  };
  TrainResult r;
  try {
    r = trainer.run(train_x, held ? &test_x : nullptr, on_step, a.stop_at.value_or(-1));
  } catch (const Stop& stop) {
    // The trainer is between steps: its state is that of step `stop.step`, as a checkpoint
    // written then would hold.
    bar.finish();
    const std::string where = a.checkpoint.empty() ? interrupted_checkpoint_path(a.output) : a.checkpoint;
    io::save_checkpoint<T>(where, network, info, trainer.state(), config_json);
    throw Interrupted(std::string(InterruptGuard::signal_name()) + ": interrupted at step " + std::to_string(stop.step) +
                      " of " + std::to_string(end) + ", checkpoint written; resume with: ebm train --resume " + where +
                      " -o " + a.output);
  } catch (...) {
    bar.finish();
    throw;
  }
  bar.finish();
  if (!a.checkpoint.empty()) io::save_checkpoint<T>(a.checkpoint, network, info, trainer.state(), config_json);
  trainer.apply_ema();
  info.step = trainer.step();
  io::save_model<T>(a.output, network, info);
  if (!g.quiet) {
    std::cerr << "ebm train: steps " << r.first_step << ".." << r.steps_done << " in " << fmt(r.seconds) << " s";
    if (!r.losses.empty()) std::cerr << ", last batch loss " << fmt(r.losses.back());
    if (!r.held_out.empty()) std::cerr << ", held-out loss " << fmt(r.held_out.back());
    if (r.stopped_early) std::cerr << " (stopped early)";
    std::cerr << " -> " << a.output << "\n";
  }
}

}  // namespace

void add_train(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* sub = app.add_subcommand("train", "Fit an energy (an MLP or any architecture file) to a data file");
  sub->add_option("--data", a->data, "Training data (.csv, .tsv, .npy, .idx, optionally .gz): N x D");
  sub->add_option("--model", a->model,
                  "Architecture: mlp:WIDTHxWIDTH...:ACTIVATION (default mlp:128x128:softplus) or a JSON architecture file "
                  "(docs/networks.md, examples/models/)");
  sub->add_option("--objective", a->objective, "sm (exact score matching, default), ssm, dsm, cd or pcd")->transform(lowercase());
  sub->add_option("--steps", a->steps, "Total optimizer steps of the run (default 1000)");
  sub->add_option("--batch", a->batch, "Batch size (default 256; full batch when >= N)");
  sub->add_option("--lr", a->lr, "Learning rate (default 1e-3)");
  sub->add_option("-o,--output", a->output, "Model file to write (.safetensors)");
  sub->add_option("--resume", a->resume, "Continue from a checkpoint (its saved options are the defaults)");
  sub->add_option("--checkpoint", a->checkpoint, "Checkpoint file written at the end (and every --checkpoint-every steps)");
  sub->add_option("--checkpoint-every", a->checkpoint_every, "Also write the checkpoint every K steps (default 0: at the end only)");
  sub->add_option("--stop-at", a->stop_at, "Stop after this step (to split a run; resume with --resume)");
  sub->add_option("--log", a->log, "JSON-lines log, one object per logged step");
  sub->add_option("--log-every", a->log_every, "Log every K steps (default 10)");
  sub->add_option("--held-out", a->held_out, "Fraction of the data held out for evaluation (default 0)");
  sub->add_option("--eval-every", a->eval_every, "Held-out loss every K steps (default 0: at the end only)");
  sub->add_option("--patience", a->patience, "Early stopping after P held-out evaluations without improvement");
  sub->add_option("--schedule", a->schedule, "Learning-rate schedule: constant, cosine, linear, step:EVERY[:GAMMA], exp:GAMMA, with ,warmup=N ,min=F");
  sub->add_option("--optimizer", a->optimizer, "adam (default), adamw or sgd")->transform(lowercase());
  sub->add_option("--weight-decay", a->weight_decay, "Weight decay (default 0)");
  sub->add_option("--clip", a->clip, "Clip the gradient norm to X (default 0: off)");
  sub->add_option("--ema", a->ema, "Exponential moving average of the weights with this decay; the model file gets the average");
  sub->add_flag("--standardize,!--no-standardize", a->standardize, "Standardise the data per column (default on)");
  sub->add_option("--sigma", a->sigma, "dsm: noise level (the smallest with --noise-levels; default 0.1)");
  sub->add_option("--sigma-max", a->sigma_max, "dsm: largest noise level with --noise-levels > 1 (default 1)");
  sub->add_option("--noise-levels", a->noise_levels, "dsm: number of noise levels (default 1)");
  sub->add_option("--projections", a->projections, "ssm: random projections per point (default 1)");
  sub->add_option("--langevin-steps", a->langevin_steps, "cd/pcd: Langevin steps per negative (default 10)");
  sub->add_option("--langevin-step-size", a->langevin_step_size, "cd/pcd: Langevin step size (default 0.01)");
  sub->add_option("--buffer-size", a->buffer_size, "pcd: replay buffer size (default 10000)");
  sub->add_flag("--float64", a->float64, "Train in double precision (default float32)");
  sub->add_flag("--flip", a->flip, "Image networks: mirror each training image left to right with probability 1/2");
  const Globals& g = ctx.globals;
  ctx.runners[sub] = [a, &g, sub] {
    if (a->resume.empty()) {  // a resumed run's options are the checkpoint's
      require_applicable(sub, "objective", a->objective,
                         {{"sigma", {"dsm"}}, {"noise-levels", {"dsm"}}, {"sigma-max", {"dsm"}}, {"projections", {"ssm"}},
                          {"langevin-steps", {"cd", "pcd"}}, {"langevin-step-size", {"cd", "pcd"}}, {"buffer-size", {"pcd"}}});
      if (a->eval_every > 0 && a->held_out == 0)
        throw UsageError("--eval-every: needs --held-out F (there is no held-out set to evaluate)");
    }
    if (!a->resume.empty()) {
      // The checkpoint's options fill in what neither the command line nor --config gave.
      const io::TensorFile file = io::read_safetensors(a->resume);
      const auto config = file.metadata.find("config");
      if (config != file.metadata.end() && !config->second.empty()) {
        nlohmann::json saved;
        try {
          saved = nlohmann::json::parse(config->second);
        } catch (const nlohmann::json::exception& e) {
          throw FormatError(a->resume + ": saved configuration is not valid JSON (" + e.what() + ")");
        }
        apply_json_options(sub, saved, a->resume + " (saved options)");
      }
    }
    const std::string config_json = run_config(*a, g).dump();
    if (a->float64) train<double>(*a, g, config_json);
    else train<float>(*a, g, config_json);
  };
}

}  // namespace ebm::cli
