// `ebm train`: an energy network (an MLP or an architecture file) fitted to a data file by score matching or contrastive divergence.
// Standardises the data (statistics saved with the model), trains with ebm::Trainer, writes the
// model atomically; checkpoints (--checkpoint) hold the model, the trainer's state and the run's
// options, so --resume continues bit for bit.
#include "commands.hpp"

#include <ebm/core/check.hpp>
#include <ebm/data/matrix_file.hpp>
#include <ebm/facade/train.hpp>

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
  std::string data, output, log;
  std::int64_t log_every = 10;
  bool float64 = false;
  facade::TrainRequest request;
};

// The options that define the run (what --resume restores): the request's, the data file and
// the precision; not the outputs, logs or threads.
std::string run_config(const TrainArgs& a, const facade::TrainRequest& r) {
  nlohmann::json c = nlohmann::json::parse(r.run_config());
  c["data"] = a.data;
  c["float64"] = a.float64;
  return c.dump();
}

// Where an interrupted run without --checkpoint saves itself: next to the output.
std::string interrupted_checkpoint_path(const std::string& output) {
  const std::string ext = ".safetensors";
  const bool has_ext = output.size() > ext.size() && output.compare(output.size() - ext.size(), ext.size(), ext) == 0;
  return (has_ext ? output.substr(0, output.size() - ext.size()) : output) + ".interrupted.safetensors";
}

template <class T>
void train(const TrainArgs& a, const Globals& g) {
  require_given("--data", a.data);
  check_output_path("-o", a.output, false);
  if (!a.request.checkpoint.empty()) check_output_path("--checkpoint", a.request.checkpoint, false);
  if (!a.log.empty()) check_output_path("--log", a.log, false);
  require_at_least("--log-every", a.log_every, 1);
  facade::TrainRequest r = a.request;
  r.seed = g.seed;
  r.data_name = a.data;
  r.config_json = run_config(a, r);
  try {
    r.validate();
  } catch (const InvalidArgument& e) {
    throw flag_error(e);
  }
  const Mat<T> x = read_matrix<T>(a.data);
  if (x.rows() < 1 || x.cols() < 1) throw FormatError(a.data + ": no data (" + shape_str(x) + ")");

  r.communicator = g.processes;
  std::ofstream log;
  if (!a.log.empty() && g.writes()) {
    log.open(a.log, r.resume.empty() ? std::ios::trunc : std::ios::app);
    if (!log) throw IoError(a.log + ": cannot open for writing (" + std::strerror(errno) + ")");
  }
  const bool contrastive = r.objective == "cd" || r.objective == "pcd";
  const std::int64_t steps = r.steps_or_default();
  const std::int64_t end = r.stop_at ? std::min(*r.stop_at, steps) : steps;  // the last step of this run
  const std::string units = r.standardize ? "standardized" : "raw";
  std::optional<ProgressBar> bar;
  const InterruptGuard interrupts;
  r.on_note = [&g](const std::string& line) {
    if (!g.quiet) std::cerr << "ebm train: " << line << "\n";
  };
  r.on_step = [&](const TrainProgress& p) {
    if (!bar) bar.emplace(progress_enabled(g), p.step - 1, end);
    const bool evaluated = p.has_held_out && r.eval_every > 0 && p.step % r.eval_every == 0;
    if (log.is_open() && (p.step % a.log_every == 0 || p.step == p.total || evaluated)) {
      nlohmann::json line = {{"step", p.step}, {"loss", number_or_null(p.loss)}, {"lr", p.lr},
                             {"grad_norm", number_or_null(p.grad_norm)}, {"units", units}};
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
    bar->update(p.step, "loss " + fmt(p.loss) + (p.has_held_out ? "  held-out " + fmt(p.held_out) : ""));
  };
  r.should_stop = [] { return InterruptGuard::requested(); };
  r.interrupt_checkpoint = r.checkpoint.empty() ? interrupted_checkpoint_path(a.output) : r.checkpoint;

  std::optional<facade::Trained<T>> trained;
  try {
    trained.emplace(facade::train<T>(x, r));
  } catch (const InvalidArgument& e) {
    if (bar) bar->finish();
    throw flag_error(e);
  } catch (...) {
    if (bar) bar->finish();
    throw;
  }
  if (bar) bar->finish();
  if (trained->interrupted_at)
    throw Interrupted(std::string(InterruptGuard::signal_name()) + ": interrupted at step " +
                      std::to_string(*trained->interrupted_at) + " of " +
                      std::to_string(end) +
                      ", checkpoint written; resume with: ebm train --resume " + trained->interrupt_checkpoint + " -o " + a.output);
  if (g.writes()) io::save_model<T>(a.output, trained->network, trained->info);
  const TrainResult& res = trained->result;
  if (!g.quiet) {
    std::cerr << "ebm train: steps " << res.first_step << ".." << res.steps_done << " in " << fmt(res.seconds) << " s";
    if (!res.losses.empty()) std::cerr << ", last batch loss " << fmt(res.losses.back());
    if (!res.held_out.empty()) std::cerr << ", held-out loss " << fmt(res.held_out.back());
    if (res.stopped_early) std::cerr << " (stopped early)";
    std::cerr << " -> " << a.output << "\n";
  }
}

}  // namespace

void add_train(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* sub = app.add_subcommand("train", "Fit an energy (an MLP or any architecture file) to a data file");
  sub->add_option("--data", a->data, "Training data (.csv, .tsv, .npy, .idx, optionally .gz): N x D");
  sub->add_option("--model", a->request.model,
                  "Architecture: mlp:WIDTHxWIDTH...:ACTIVATION (default mlp:128x128:softplus) or a JSON architecture file "
                  "(docs/networks.md, examples/models/)");
  sub->add_option("--objective", a->request.objective, "sm (exact score matching, default), ssm, dsm, cd or pcd")->transform(lowercase());
  sub->add_option("--steps", a->request.steps, "Total optimizer steps of the run (default 1000; cd, pcd: 5000)");
  sub->add_option("--batch", a->request.batch, "Batch size (default 256; full batch when >= N)");
  sub->add_option("--block-rows", a->request.block_rows,
                  "Rows per block of a batch, the unit of work shared among MPI processes (default 64; results depend on it, "
                  "not on the number of processes)");
  sub->add_option("--lr", a->request.lr, "Learning rate (default 1e-3)");
  sub->add_option("-o,--output", a->output, "Model file to write (.safetensors)");
  sub->add_option("--resume", a->request.resume, "Continue from a checkpoint (its saved options are the defaults)");
  sub->add_option("--checkpoint", a->request.checkpoint, "Checkpoint file written at the end (and every --checkpoint-every steps)");
  sub->add_option("--checkpoint-every", a->request.checkpoint_every, "Also write the checkpoint every K steps (default 0: at the end only)");
  sub->add_option("--stop-at", a->request.stop_at, "Stop after this step (to split a run; resume with --resume)");
  sub->add_option("--log", a->log, "JSON-lines log, one object per logged step");
  sub->add_option("--log-every", a->log_every, "Log every K steps (default 10)");
  sub->add_option("--held-out", a->request.held_out, "Fraction of the data held out for evaluation (default 0)");
  sub->add_option("--eval-every", a->request.eval_every, "Held-out loss every K steps (default 0: at the end only)");
  sub->add_option("--patience", a->request.patience, "Early stopping after P held-out evaluations without improvement");
  sub->add_option("--schedule", a->request.schedule, "Learning-rate schedule: cosine (default; pcd: constant), constant, linear, step:EVERY[:GAMMA], exp:GAMMA, with ,warmup=N ,min=F");
  sub->add_option("--optimizer", a->request.optimizer, "adam (default), adamw or sgd")->transform(lowercase());
  sub->add_option("--weight-decay", a->request.weight_decay, "Weight decay (default 0)");
  sub->add_option("--clip", a->request.clip, "Clip the gradient norm to X (default 0: off)");
  sub->add_option("--ema", a->request.ema, "Exponential moving average of the weights with this decay; the model file gets the average");
  sub->add_flag("--standardize,!--no-standardize", a->request.standardize, "Standardise the data per column (default on)");
  sub->add_option("--sigma", a->request.sigma, "dsm: noise level (the smallest with --noise-levels; default 0.1)");
  sub->add_option("--sigma-max", a->request.sigma_max, "dsm: largest noise level with --noise-levels > 1 (default 1)");
  sub->add_option("--noise-levels", a->request.noise_levels, "dsm: number of noise levels (default 1)");
  sub->add_option("--projections", a->request.projections, "ssm: random projections per point (default 1)");
  sub->add_option("--langevin-steps", a->request.langevin_steps, "cd/pcd: Langevin steps per negative (default 10)");
  sub->add_option("--langevin-step-size", a->request.langevin_step_size, "cd/pcd: Langevin step size (default cd 0.05, pcd 0.01)");
  sub->add_option("--buffer-size", a->request.buffer_size, "pcd: replay buffer size (default 10000)");
  sub->add_option("--energy-penalty", a->request.energy_penalty,
                  "cd/pcd: alpha of the regulariser alpha (E(data)^2 + E(negatives)^2) (default 0.1; 0: off)");
  sub->add_option("--restart-fraction", a->request.restart_fraction,
                  "pcd: share of the buffer's chains restarted from noise each step (default 0.05)");
  sub->add_option("--on-divergence", a->request.on_divergence,
                  "A non-finite loss or |loss| > --divergence-threshold: stop (default, exit 1) or rollback (10-20 steps, "
                  "with half the learning rate and, for cd/pcd, half the Langevin step; up to 5 times)")
      ->transform(lowercase());
  sub->add_option("--divergence-threshold", a->request.divergence_threshold, "|loss| above this (per 100 data dimensions beyond 100) is a divergence (default 1000; 0: off)");
  sub->add_flag("--float64", a->float64, "Train in double precision (default float32)");
  sub->add_flag("--flip", a->request.flip, "Image networks: mirror each training image left to right with probability 1/2");
  const Globals& g = ctx.globals;
  ctx.distributed.insert(sub);
  ctx.runners[sub] = [a, &g, sub] {
    if (a->request.resume.empty()) {  // a resumed run's options are the checkpoint's
      require_applicable(sub, "objective", a->request.objective,
                         {{"sigma", {"dsm"}}, {"noise-levels", {"dsm"}}, {"sigma-max", {"dsm"}}, {"projections", {"ssm"}},
                          {"langevin-steps", {"cd", "pcd"}}, {"langevin-step-size", {"cd", "pcd"}}, {"buffer-size", {"pcd"}},
                          {"energy-penalty", {"cd", "pcd"}}, {"restart-fraction", {"pcd"}}});
      if (a->request.eval_every > 0 && a->request.held_out == 0)
        throw UsageError("--eval-every: needs --held-out F (there is no held-out set to evaluate)");
    }
    if (!a->request.resume.empty()) {
      // The checkpoint's options fill in what neither the command line nor --config gave.
      const std::string config = facade::saved_run_config(a->request.resume);
      if (!config.empty()) {
        nlohmann::json saved;
        try {
          saved = nlohmann::json::parse(config);
        } catch (const nlohmann::json::exception& e) {
          throw FormatError(a->request.resume + ": saved configuration is not valid JSON (" + e.what() + ")");
        }
        apply_json_options(sub, saved, a->request.resume + " (saved options)", {"architecture"});
      }
    }
    if (a->float64) train<double>(*a, g);
    else train<float>(*a, g);
  };
}

}  // namespace ebm::cli
