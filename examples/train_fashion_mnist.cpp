// Train an MLP energy on Fashion-MNIST (D = 784) and sample it: the run documented in
// docs/training.md. Runs for minutes, so it is not a test.
//
//   example_train_fashion_mnist [--key=value ...]
//     --data=DIR          Fashion-MNIST idx files (default /usr/share/datasets/fashion-mnist)
//     --out=DIR           log.jsonl, model.safetensors, checkpoint.safetensors, samples.npy
//                         (default fmnist_run)
//     --figures=DIR       where the PNGs go (default: --out)  --prefix=NAME (default fashion_mnist)
//     --objective=dsm|sm  multi-level denoising (default) or exact score matching
//     --route=auto|naive  sm: forward Laplacian (auto) or D backward passes (for timing)
//     --steps=N --batch=B --width=H --lr=F --clip=F --threads=T --seed=S
//                         (defaults: the documented run, 12000 128 1024 2e-3 0 1 0)
//     --levels=L --sigma-max=F --sigma-min=F    the denoising ladder (NCSN's MNIST values)
//     --log-every=N --eval-every=N --checkpoint-every=N --held-out=M
//     --stop-at=N         stop after step N (checkpoint written), to be continued with --resume
//     --resume=CHECKPOINT  continue a run from its checkpoint; with the same options the result
//                         is bit for bit that of an uninterrupted run
//     --model=FILE        skip training: evaluate, denoise and sample a saved model (give it
//                         its own --out: log.jsonl there is rewritten)
//     --samples=N         annealed-Langevin chains drawn after training (0: skip sampling)
//     --sample-step=F     Langevin step at the sampling ladder's smallest level (NCSN's 2e-5 / 2)
//     --sample-sigma-min=F --sample-levels=L   the sampling ladder: sigma-max down to this
//                         (default: the training ladder), ending with a Tweedie denoising step
//     --steps-per-level=N
//
// Data: pixels divided by 255, kept in [0, 1]. That is the scale NCSN's noise ladder for MNIST
// was chosen for (sigma from 1 down to 0.01), and it keeps the background at exactly 0, which
// samples should reproduce. Per-pixel standardisation is avoided on purpose: border pixels are
// almost always 0, so their scale would blow their noise up by orders of magnitude. No
// dequantisation: the smallest noise level (0.01) is 2.5 quantisation steps wide already.
#include <ebm/core/parallel.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/data/idx.hpp>
#include <ebm/data/npy.hpp>
#include <ebm/energy/energy.hpp>
#include <ebm/energy/mlp.hpp>
#include <ebm/io/checkpoint.hpp>
#include <ebm/io/model_file.hpp>
#include <ebm/plot/figure.hpp>
#include <ebm/sample/samplers.hpp>
#include <ebm/train/trainer.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// --key=value arguments with defaults; unknown keys are an error, so a typo does not silently
// run the default.
struct Args {
  std::map<std::string, std::string> values = {
      {"data", "/usr/share/datasets/fashion-mnist"},
      {"out", "fmnist_run"},
      {"figures", ""},
      {"prefix", "fashion_mnist"},
      {"objective", "dsm"},
      {"route", "auto"},
      {"steps", "12000"},
      {"batch", "128"},
      {"width", "1024"},
      {"lr", "2e-3"},
      {"clip", "0"},
      {"threads", "1"},
      {"seed", "0"},
      {"levels", "10"},
      {"sigma-max", "1.0"},
      {"sigma-min", "0.01"},
      {"log-every", "100"},
      {"eval-every", "1000"},
      {"checkpoint-every", "2000"},
      {"stop-at", "0"},
      {"held-out", "2000"},
      {"resume", ""},
      {"model", ""},
      {"samples", "64"},
      {"sample-step", "1e-5"},
      {"steps-per-level", "100"},
      {"sample-sigma-min", "0"},
      {"sample-levels", "0"},
  };
  Args(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      const auto eq = a.find('=');
      if (a.rfind("--", 0) != 0 || eq == std::string::npos) throw std::invalid_argument("expected --key=value, got " + a);
      const std::string key = a.substr(2, eq - 2);
      if (!values.count(key)) throw std::invalid_argument("unknown option --" + key);
      values[key] = a.substr(eq + 1);
    }
  }
  const std::string& str(const std::string& k) const { return values.at(k); }
  long long integer(const std::string& k) const { return std::stoll(values.at(k)); }
  double real(const std::string& k) const { return std::stod(values.at(k)); }
};

// Appends one JSON object per line; flushed so that `tail -f` shows progress.
class JsonLines {
 public:
  explicit JsonLines(const std::string& path, bool append) : out_(path, append ? std::ios::app : std::ios::trunc) {
    if (!out_) throw std::runtime_error("cannot write " + path);
  }
  void write(const std::vector<std::pair<std::string, double>>& fields, const std::string& kind) {
    out_ << "{\"kind\": \"" << kind << "\"";
    char buf[64];
    for (const auto& [k, v] : fields) {
      std::snprintf(buf, sizeof buf, "%.6g", v);
      out_ << ", \"" << k << "\": " << buf;
    }
    out_ << "}\n" << std::flush;
  }

 private:
  std::ofstream out_;
};

// Rows [0, n) of x (the test set's first images, a fixed held-out subset).
ebm::MatF head(const ebm::MatF& x, ebm::Index n) { return x.topRows(std::min(n, x.rows())); }

ebm::Mat<double> to_double(const ebm::MatF& x) { return x.cast<double>(); }

}  // namespace

int main(int argc, char** argv) try {
  const Args args(argc, argv);
  const std::string out_dir = args.str("out");
  const std::string fig_dir = args.str("figures").empty() ? out_dir : args.str("figures");
  const std::string prefix = args.str("prefix");
  std::filesystem::create_directories(out_dir);
  std::filesystem::create_directories(fig_dir);
  ebm::set_num_threads(static_cast<int>(args.integer("threads")));

  auto t0 = Clock::now();
  const ebm::MatF train = ebm::read_idx_images<float>(args.str("data") + "/train-images-idx3-ubyte.gz");
  const ebm::MatF test = ebm::read_idx_images<float>(args.str("data") + "/t10k-images-idx3-ubyte.gz");
  const ebm::MatF held_out = head(test, args.integer("held-out"));
  std::printf("data: train %lld x %lld, held-out %lld (of %lld test images), read in %.1f s\n",
              static_cast<long long>(train.rows()), static_cast<long long>(train.cols()),
              static_cast<long long>(held_out.rows()), static_cast<long long>(test.rows()), since(t0));

  const ebm::Index width = args.integer("width");
  ebm::ObjectiveOptions objective;
  objective.kind = ebm::parse_objective(args.str("objective"));
  if (args.str("route") == "naive") objective.route = ebm::LaplacianRoute::Naive;
  else if (args.str("route") != "auto") throw std::invalid_argument("--route must be auto or naive");
  // A ladder of noise levels, one drawn per image, with the NCSNv2 conditioning E(x) / sigma:
  // one unconditional network serves every level, which in 784 dimensions can tell the levels
  // apart from the noise's norm alone.
  objective.noise_levels = args.integer("levels");
  objective.sigma_max = args.real("sigma-max");
  objective.sigma = args.real("sigma-min");

  ebm::TrainerOptions options;
  options.steps = args.integer("steps");
  options.batch_size = args.integer("batch");
  options.seed = static_cast<std::uint64_t>(args.integer("seed"));
  options.adam.lr = args.real("lr");
  options.schedule.kind = ebm::LrSchedule::Kind::Cosine;
  options.schedule.warmup_steps = std::min<std::int64_t>(200, options.steps / 10);
  options.clip_norm = args.real("clip");  // guards against the rare huge gradient
  options.ema_decay = 0.999;  // sampling uses the averaged weights: smoother than the last step's
  options.eval_every = args.integer("eval-every");
  options.report_every = 1;  // the callback averages every step's loss over a log window

  ebm::Mlp<float> mlp({.widths = {train.cols(), width, width, 1},
                       .activation = ebm::Activation::Softplus,
                       .seed = options.seed});
  ebm::io::ModelInfo info;
  info.objective = std::string(ebm::objective_name(objective.kind));
  info.extra = {{"data", "fashion-mnist, pixels / 255"}};
  // The command line, kept in the checkpoint (options hold no quotes or backslashes).
  std::string config = "{\"argv\": \"";
  for (int i = 1; i < argc; ++i) {
    if (i > 1) config += ' ';
    config += argv[i];
  }
  config += "\"}";

  // A resumed run restores the weights and the trainer state (step, Adam moments, EMA): with
  // the same options it continues exactly where the checkpoint left off.
  ebm::TrainerState<float> resumed;
  const bool resume = !args.str("resume").empty();
  if (resume) {
    auto checkpoint = ebm::io::load_checkpoint<float>(args.str("resume"));
    mlp = ebm::to_mlp(checkpoint.network);
    resumed = std::move(checkpoint.state);
    std::printf("resuming from %s at step %lld\n", args.str("resume").c_str(), static_cast<long long>(resumed.step));
  }
  const bool train_now = args.str("model").empty();
  if (!train_now) {
    mlp = ebm::to_mlp(ebm::io::load_model<float>(args.str("model")).network);
    std::printf("loaded %s; not training\n", args.str("model").c_str());
  }
  ebm::ModelOf<float, ebm::Mlp<float>> model(mlp);
  ebm::Trainer<float> trainer(model, objective, options);
  if (resume) trainer.load_state(std::move(resumed));
  std::printf("model: %lld -> %lld -> %lld -> 1 %s, %zu parameters; objective %s; %d threads\n",
              static_cast<long long>(mlp.dim()), static_cast<long long>(mlp.weight(0).rows()),
              static_cast<long long>(mlp.weight(1).rows()), std::string(ebm::activation_name(mlp.activation())).c_str(),
              mlp.parameter_count(), info.objective.c_str(), ebm::num_threads());

  JsonLines log(out_dir + "/log.jsonl", resume);
  std::vector<double> log_steps, log_losses, eval_steps, eval_losses, step_seconds;
  double window_loss = 0, window_seconds = 0;
  std::int64_t window_count = 0;
  auto last = Clock::now();
  const std::int64_t log_every = args.integer("log-every");
  auto on_progress = [&](const ebm::TrainProgress& p) {
    const double dt = since(last);
    last = Clock::now();
    const bool evaluated = p.has_held_out && options.eval_every > 0 && p.step % options.eval_every == 0;
    // A step that ran a held-out evaluation is not a training step's time.
    if (!evaluated) step_seconds.push_back(dt);
    window_loss += p.loss;
    window_seconds += evaluated ? 0 : dt;
    ++window_count;
    if (p.step % log_every == 0 || p.step == p.total) {
      const double mean = window_loss / double(window_count);
      log_steps.push_back(double(p.step));
      log_losses.push_back(mean);
      log.write({{"step", double(p.step)},
                 {"loss", mean},
                 {"lr", p.lr},
                 {"grad_norm", p.grad_norm},
                 {"ms_per_step", 1e3 * window_seconds / double(window_count)},
                 {"seconds", p.seconds}},
                "train");
      std::printf("step %6lld/%lld  loss %10.4f  grad %8.3g  lr %.2e  %6.1f ms/step  %7.1f s\n",
                  static_cast<long long>(p.step), static_cast<long long>(p.total), mean, p.grad_norm, p.lr,
                  1e3 * window_seconds / double(window_count), p.seconds);
      window_loss = window_seconds = 0;
      window_count = 0;
    }
    if (evaluated) {
      eval_steps.push_back(double(p.step));
      eval_losses.push_back(p.held_out);
      log.write({{"step", double(p.step)}, {"held_out", p.held_out}, {"eval_seconds", dt}}, "held_out");
      std::printf("step %6lld  held-out loss %.4f (%.1f s)\n", static_cast<long long>(p.step), p.held_out, dt);
    }
  };

  // Train in segments so that a checkpoint is written between them; a run stopped in a
  // segment can be resumed from the last one.
  t0 = Clock::now();
  const std::int64_t every = args.integer("checkpoint-every");
  const std::string checkpoint_path = out_dir + "/checkpoint.safetensors";
  std::int64_t steps_this_run = 0;
  const std::int64_t end = args.integer("stop-at") > 0 ? std::min<std::int64_t>(args.integer("stop-at"), options.steps) : options.steps;
  while (train_now && trainer.step() < end) {
    const std::int64_t stop = every > 0 ? std::min(end, (trainer.step() / every + 1) * every) : end;
    const std::int64_t from = trainer.step();
    last = Clock::now();
    trainer.run(train, &held_out, on_progress, stop);
    steps_this_run += trainer.step() - from;
    info.step = trainer.step();
    ebm::io::save_checkpoint(checkpoint_path, ebm::to_network(mlp), info, trainer.state(), config);
  }
  const double train_seconds = since(t0);
  if (train_now && trainer.step() < options.steps) {
    std::printf("stopped at step %lld; continue with --resume=%s\n", static_cast<long long>(trainer.step()),
                checkpoint_path.c_str());
    return 0;
  }
  std::vector<double> sorted = step_seconds;
  std::sort(sorted.begin(), sorted.end());
  const double median_ms = sorted.empty() ? 0 : 1e3 * sorted[sorted.size() / 2];
  if (train_now)
    std::printf("trained %lld steps in %.1f s (median %.1f ms/step)\n", static_cast<long long>(steps_this_run),
                train_seconds, median_ms);

  // Everything from here on uses the averaged weights.
  if (train_now) trainer.apply_ema();
  const double final_held_out = trainer.evaluate(held_out);
  info.step = trainer.step();
  if (train_now) ebm::io::save_model(out_dir + "/model.safetensors", mlp, info);
  log.write({{"step", double(trainer.step())},
             {"held_out_ema", final_held_out},
             {"train_seconds", train_seconds},
             {"median_ms_per_step", median_ms}},
            "summary");
  std::printf("held-out loss of the EMA weights: %.4f\n", final_held_out);

  // The loss curve: window means of the batch loss and the held-out losses.
  if (!log_steps.empty()) {
    ebm::plot::Figure fig(1, 1, 640, 400);
    auto& ax = fig.axes(0, 0);
    ax.line(log_steps, log_losses, {.label = "train (mean over " + std::to_string(log_every) + " steps)"});
    if (!eval_steps.empty()) ax.line(eval_steps, eval_losses, {.label = "held-out"});
    ax.set_xlabel("step").set_ylabel("loss").set_grid().legend();
    // Log scale when it can be (exact score matching's loss goes negative).
    const bool positive = std::all_of(log_losses.begin(), log_losses.end(), [](double v) { return v > 0; }) &&
                          std::all_of(eval_losses.begin(), eval_losses.end(), [](double v) { return v > 0; });
    if (positive) ax.set_yscale_log();
    ax.set_title("Fashion-MNIST, " + info.objective + ", MLP 784-" + std::to_string(width) + "-" +
                 std::to_string(width) + "-1");
    fig.save(fig_dir + "/" + prefix + "_loss.png");
  }

  ebm::EnergyEvaluator<float> evaluator;
  const std::vector<double> ladder = objective.noise_ladder();
  const bool ladder_model = objective.kind == ebm::ObjectiveKind::DenoisingSm && ladder.size() > 1;
  // The noise-conditional score at level sigma: the network's energy is E(x) / sigma, so its
  // score is s(x) / sigma with s = -grad E. (A model trained without a ladder has no sigma.)
  auto conditional_score = [&](const ebm::MatF& x, float sigma, ebm::MatF& s) {
    evaluator.evaluate(mlp, x, nullptr, &s);
    if (ladder_model) s /= sigma;
  };

  // The loss at each level separately: where the model is good and where it is not. With
  // s = 0 the loss is D / 2 = 392 at every level.
  if (ladder_model) {
    ebm::MatF eps(held_out.rows(), held_out.cols()), s;
    for (std::size_t l = 0; l < ladder.size(); ++l) {
      ebm::CounterRng(99, l).normal<float>(0, std::span<float>(eps.data(), static_cast<std::size_t>(eps.size())));
      const float sigma = float(ladder[l]);
      const ebm::MatF noisy = held_out + sigma * eps;
      conditional_score(noisy, sigma, s);
      const double loss = 0.5 * (sigma * s + eps).rowwise().squaredNorm().mean();
      log.write({{"sigma", sigma}, {"held_out", loss}}, "level");
      std::printf("sigma %.4f  held-out loss %.3f\n", double(sigma), loss);
    }
  }

  // Denoising test images in one step, Tweedie's formula x + sigma^2 score_sigma(x): the
  // direct picture of what the score has learnt.
  if (ladder_model) {
    const std::vector<float> sigmas = {0.1f, 0.3f, 0.6f};
    const ebm::Index n = 8;
    ebm::plot::Figure fig(static_cast<ebm::Index>(sigmas.size()), 1, 520, 600);
    ebm::MatF eps(n, test.cols()), s;
    ebm::CounterRng(7, 0).normal<float>(0, std::span<float>(eps.data(), static_cast<std::size_t>(eps.size())));
    const ebm::MatF clean = test.bottomRows(n);  // not in the held-out subset used for losses
    for (std::size_t i = 0; i < sigmas.size(); ++i) {
      const ebm::MatF noisy = clean + sigmas[i] * eps;
      conditional_score(noisy, sigmas[i], s);
      const ebm::MatF denoised = noisy + sigmas[i] * sigmas[i] * s;
      ebm::MatF grid(3 * n, test.cols());
      grid << clean, noisy, denoised;
      fig.axes(static_cast<ebm::Index>(i), 0)
          .image_grid(to_double(grid), 28, 28, n)
          .set_title("sigma " + std::to_string(sigmas[i]).substr(0, 3) + ": clean / noisy / denoised");
    }
    fig.save(fig_dir + "/" + prefix + "_denoise.png");
  }

  // Annealed Langevin over the training ladder from uniform noise in [0, 1]^D (NCSN), then
  // one Tweedie step at the smallest level to remove the last Langevin noise. ebm's update is
  // x + a s + sqrt(2 a) z, so NCSN's step 2e-5 (for x + a/2 s + sqrt(a) z) is 1e-5 here.
  const ebm::Index chains = args.integer("samples");
  if (chains > 0 && ladder_model) {
    ebm::AnnealedOptions<float> a;
    a.chains = chains;
    // The sampler may stop above the training ladder's bottom, where the score is no better
    // than zero (see the per-level losses), and denoise from there.
    a.levels = args.integer("sample-levels") > 0 ? args.integer("sample-levels") : static_cast<ebm::Index>(ladder.size());
    a.steps_per_level = args.integer("steps-per-level");
    a.step_size = float(args.real("sample-step"));
    a.sigma_max = float(ladder.front());
    a.sigma_min = args.real("sample-sigma-min") > 0 ? float(args.real("sample-sigma-min")) : float(ladder.back());
    a.seed = 1;
    a.init.kind = ebm::Initialization<float>::Kind::Points;
    a.init.points.resize(chains, train.cols());
    ebm::CounterRng(3, 0).uniform<float>(0, std::span<float>(a.init.points.data(), static_cast<std::size_t>(a.init.points.size())));
    t0 = Clock::now();
    const ebm::SampleResult<float> result = ebm::annealed_langevin<float>(train.cols(), conditional_score, a);
    const double sample_seconds = since(t0);
    ebm::MatF x = result.final_state, s;
    conditional_score(x, a.sigma_min, s);
    x += a.sigma_min * a.sigma_min * s;
    std::printf("sampling: %s (%.1f s); pixel range [%.2f, %.2f], mean %.3f (data mean %.3f)\n",
                result.summary().c_str(), sample_seconds, double(x.minCoeff()), double(x.maxCoeff()),
                double(x.mean()), double(train.mean()));
    log.write({{"chains", double(chains)}, {"seconds", sample_seconds}, {"mean_pixel", x.mean()}}, "sampling");
    ebm::write_npy(out_dir + "/samples.npy", x);
    // Chains that left the pixel range by far have not turned into images.
    const auto off = ((x.array() < -0.5f) || (x.array() > 1.5f)).rowwise().any().count();
    // The nearest training image of every sample (squared distances |t|^2 - 2 x t^T + |x|^2,
    // one matrix product): copies would mean memorisation, and the classes of the neighbours
    // are a crude measure of which of the ten classes the samples cover.
    const std::vector<int> labels = ebm::read_idx_labels(args.str("data") + "/train-labels-idx1-ubyte.gz");
    const ebm::MatF cross = x * train.transpose();
    const ebm::RowVec<float> train_norms = train.rowwise().squaredNorm().transpose();
    std::vector<ebm::Index> nearest_rows(static_cast<std::size_t>(x.rows()));
    std::vector<int> per_class(10, 0);
    double nearest_distance = 0;
    for (ebm::Index i = 0; i < x.rows(); ++i) {
      ebm::Index best = 0;
      const float d2 = (train_norms - 2 * cross.row(i)).minCoeff(&best) + x.row(i).squaredNorm();
      nearest_rows[static_cast<std::size_t>(i)] = best;
      nearest_distance += std::sqrt(std::max(d2, 0.0f)) / double(x.rows());
      ++per_class[static_cast<std::size_t>(labels[static_cast<std::size_t>(best)])];
    }
    std::printf("%lld of %lld samples have pixels outside [-0.5, 1.5]; mean distance to the nearest training image %.2f\n",
                static_cast<long long>(off), static_cast<long long>(x.rows()), nearest_distance);
    std::printf("classes of the nearest training images (t-shirt trouser pullover dress coat sandal shirt sneaker bag boot):");
    for (int c : per_class) std::printf(" %d", c);
    std::printf("\n");
    log.write({{"outside_range", double(off)}, {"nearest_distance", nearest_distance}}, "samples");
    const ebm::Index show = std::min<ebm::Index>(8, x.rows());
    ebm::MatF nearest(show, train.cols());
    for (ebm::Index i = 0; i < show; ++i) nearest.row(i) = train.row(nearest_rows[static_cast<std::size_t>(i)]);
    ebm::plot::Figure fig(1, 1, 520, 560);
    fig.axes(0, 0)
        .image_grid(to_double(x.topRows(std::min<ebm::Index>(64, x.rows()))), 28, 28, 8)
        .set_title("annealed Langevin samples (EMA weights)");
    fig.save(fig_dir + "/" + prefix + "_samples.png");
    ebm::plot::Figure nn(1, 1, 520, 180);
    ebm::MatF pairs(2 * show, train.cols());
    pairs << x.topRows(show), nearest;
    nn.axes(0, 0).image_grid(to_double(pairs), 28, 28, show).set_title("samples (top) and their nearest training images");
    nn.save(fig_dir + "/" + prefix + "_nearest.png");
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "example_train_fashion_mnist: %s\n", e.what());
  return 1;
}
