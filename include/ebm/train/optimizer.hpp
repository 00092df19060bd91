#pragma once
// First-order optimisers (Adam, AdamW, SGD with momentum), learning-rate schedules, gradient
// clipping, an exponential moving average of the parameters and early stopping.
//
// Parameters are a list of matrices, as Mlp<T>::edit_parameters hands them out (weight_0,
// bias_0, weight_1, ...); gradients are a list of the same shapes. The arithmetic is that of
// torch.optim.Adam / AdamW / SGD (the single-tensor, foreach=False path), so a run agrees with
// PyTorch to rounding (tests/train/test_optimizer.cpp checks 20 steps in float64 to 1e-13).
//
// Everything that changes over a run exports its state as plain numbers and matrices, for
// checkpoints: loading the exported state into a fresh object continues the run bit for bit.
#include <ebm/core/types.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace ebm {

struct AdamOptions {
  double lr = 1e-3;  // base learning rate (the schedule multiplies it; see Optimizer::step)
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  // false: L2 penalty added to the gradient (torch.optim.Adam); true: decoupled decay
  // p <- p (1 - lr weight_decay) before the Adam update (torch.optim.AdamW).
  bool decoupled_weight_decay = false;
  void validate() const;
};

struct SgdOptions {
  double lr = 1e-2;
  double momentum = 0.9;  // 0: plain SGD, no buffer
  double weight_decay = 0;  // L2 penalty added to the gradient
  bool nesterov = false;  // needs momentum > 0
  void validate() const;
};

enum class OptimizerKind { Adam, Sgd };

/// "adam", "adamw" (Adam with decoupled weight decay) or "sgd".
std::string_view optimizer_name(OptimizerKind kind, bool decoupled_weight_decay = false);

/// What a checkpoint must keep of an optimizer. Buffers, per parameter i in order:
/// Adam: exp_avg_i, exp_avg_sq_i (2 per parameter, interleaved); SGD with momentum:
/// momentum_buffer_i; SGD without momentum: none. Empty before the first step.
template <class T>
struct OptimizerState {
  std::int64_t steps = 0;
  std::vector<Mat<T>> buffers;
};

template <class T>
class Optimizer {
 public:
  explicit Optimizer(const AdamOptions& options);
  explicit Optimizer(const SgdOptions& options);

  OptimizerKind kind() const { return kind_; }
  /// "adam", "adamw" or "sgd".
  std::string_view name() const;
  double base_lr() const;
  const AdamOptions& adam_options() const { return adam_; }  // meaningful when kind() == Adam
  const SgdOptions& sgd_options() const { return sgd_; }     // meaningful when kind() == Sgd

  /// One update of every parameter with learning rate lr (typically base_lr() times
  /// LrSchedule::factor(steps_taken())). params[i] and grads[i] must have the same shape, and
  /// the shapes must stay the same from step to step. Everything is checked before anything
  /// changes: a step applies fully or not at all. Throws InvalidArgument (count or shape
  /// mismatch, naming the parameter index; bad lr) or NumericalError (non-finite gradient,
  /// naming the parameter index and entry).
  void step(const std::vector<Mat<T>*>& params, const std::vector<Mat<T>>& grads, double lr);
  void step(const std::vector<Mat<T>*>& params, const std::vector<Mat<T>>& grads) {
    step(params, grads, base_lr());
  }

  std::int64_t steps_taken() const { return steps_; }

  /// A copy of the state (see OptimizerState for the buffer layout).
  OptimizerState<T> state() const;
  /// Names of state().buffers, as in torch's state_dict: "0.exp_avg", "0.exp_avg_sq",
  /// "1.exp_avg", ... or "0.momentum_buffer", ...
  std::vector<std::string> state_names() const;
  /// Restores a state exported by state() of an optimizer of the same kind and options. The
  /// buffer count and finiteness are checked here, the shapes against the parameters at the
  /// next step. Throws InvalidArgument / NumericalError and leaves this optimizer unchanged.
  void load_state(OptimizerState<T> state);
  /// Forget all state (as a freshly constructed optimizer).
  void reset();

 private:
  OptimizerKind kind_;
  AdamOptions adam_;
  SgdOptions sgd_;
  std::int64_t steps_ = 0;
  std::vector<Mat<T>> buffers_;
};

extern template struct OptimizerState<float>;
extern template struct OptimizerState<double>;
extern template class Optimizer<float>;
extern template class Optimizer<double>;

/// A multiplier of the base learning rate at step t = 0, 1, 2, ... (the number of steps taken
/// before the one it applies to). Linear warm-up first: factor = t / warmup_steps for
/// t < warmup_steps (0 at the first step, as transformers' get_*_schedule_with_warmup). Then,
/// with s = t - warmup_steps, D = total_steps - warmup_steps and m = min_lr_fraction:
///   Constant     1
///   Cosine       m + (1 - m) (1 + cos(pi s / D)) / 2,  m after the end (s >= D)
///   Linear       m + (1 - m) (1 - s / D),               m after the end
///   Step         max(m, gamma^floor(s / step_every))    (torch StepLR)
///   Exponential  max(m, gamma^s)                        (torch ExponentialLR)
/// Cosine and Linear need total_steps > warmup_steps (the trainer fills in its step count
/// where a parsed schedule left total_steps = 0).
struct LrSchedule {
  enum class Kind { Constant, Cosine, Linear, Step, Exponential };
  Kind kind = Kind::Constant;
  std::int64_t warmup_steps = 0;
  std::int64_t total_steps = 0;  // Cosine, Linear: the step at which the decay reaches m
  double min_lr_fraction = 0;    // m, in [0, 1]
  std::int64_t step_every = 0;   // Step: decay every this many steps (> 0)
  double gamma = 0.1;            // Step, Exponential: decay factor in (0, 1]
  void validate() const;
  /// The multiplier at step t >= 0, in [0, 1].
  double factor(std::int64_t step) const;
};

/// Parses a schedule for the command line:
///   KIND[,warmup=N][,total=N][,min=F]
/// with KIND one of
///   constant | cosine | linear | step:EVERY[:GAMMA] | exp:GAMMA
/// (GAMMA of step defaults to 0.1; "exponential" is accepted for "exp"). Examples: "cosine",
/// "cosine,warmup=500,min=0.1", "step:1000:0.5", "exp:0.999,warmup=100". total_steps stays 0
/// unless given. Throws InvalidArgument naming the text and the bad part. The result is
/// validated except for total_steps of Cosine/Linear, which the caller may still fill in.
LrSchedule parse_lr_schedule(std::string_view text);
/// The inverse of parse_lr_schedule: parse_lr_schedule(format_lr_schedule(s)) == s field for
/// field (doubles printed with 17 significant digits).
std::string format_lr_schedule(const LrSchedule& schedule);

/// Scales grads in place so that their global L2 norm (over all matrices, as if concatenated)
/// is at most max_norm, as torch.nn.utils.clip_grad_norm_: with n the norm, every entry is
/// multiplied by c = max_norm / (n + 1e-6) when c < 1. max_norm <= 0 (or +inf): no clipping.
/// Returns n, the norm before clipping. Throws NumericalError naming the matrix index and entry
/// when a gradient is not finite (before changing anything), InvalidArgument for a NaN max_norm.
template <class T>
double clip_grad_norm(std::vector<Mat<T>>& grads, double max_norm);

extern template double clip_grad_norm<float>(std::vector<Mat<float>>&, double);
extern template double clip_grad_norm<double>(std::vector<Mat<double>>&, double);

template <class T>
struct EmaState {
  std::int64_t updates = 0;
  std::vector<Mat<T>> shadow;  // empty before the first update
};

/// Exponential moving average of the parameters: the first update copies them, later ones
/// set shadow = decay shadow + (1 - decay) param.
template <class T>
class Ema {
 public:
  /// decay in [0, 1); throws InvalidArgument otherwise.
  explicit Ema(double decay);

  double decay() const { return decay_; }
  /// Throws InvalidArgument (naming the index and shapes) when the parameters do not match the
  /// shadow's count or shapes, before changing anything.
  void update(const std::vector<Mat<T>*>& params);
  std::int64_t updates() const { return updates_; }
  /// The averaged parameters, in the order of params (empty before the first update).
  const std::vector<Mat<T>>& shadow() const { return shadow_; }
  /// Copies the shadow into params (e.g. inside Mlp::edit_parameters, to evaluate or save the
  /// averaged model). Throws InvalidArgument on a count or shape mismatch or before any update.
  void copy_to(const std::vector<Mat<T>*>& params) const;

  EmaState<T> state() const { return {updates_, shadow_}; }
  /// Throws InvalidArgument (updates < 0, or shadow empty exactly when updates == 0 fails)
  /// or NumericalError (non-finite shadow), leaving this object unchanged.
  void load_state(EmaState<T> state);

 private:
  double decay_;
  std::int64_t updates_ = 0;
  std::vector<Mat<T>> shadow_;
};

extern template struct EmaState<float>;
extern template struct EmaState<double>;
extern template class Ema<float>;
extern template class Ema<double>;

struct EarlyStoppingState {
  double best = std::numeric_limits<double>::infinity();  // lowest loss seen
  std::int64_t best_step = -1;       // the step given with it (-1 before the first)
  std::int64_t evaluations = 0;      // update() calls so far
  std::int64_t bad_evaluations = 0;  // consecutive evaluations without improvement
  bool stopped = false;
};

/// Stops training when the held-out loss has not improved by more than min_delta for
/// `patience` consecutive evaluations (Keras / Lightning semantics: an improvement is
/// loss < best - min_delta). patience = 0 disables stopping (best() is still tracked). A
/// non-finite loss stops at once: the model has diverged.
class EarlyStopping {
 public:
  /// patience >= 0, min_delta >= 0 and finite; throws InvalidArgument otherwise.
  explicit EarlyStopping(std::int64_t patience = 0, double min_delta = 0);

  std::int64_t patience() const { return patience_; }
  double min_delta() const { return min_delta_; }

  /// Records the held-out loss measured at training step `step` (-1: the evaluation's index,
  /// 0, 1, ...). Returns true when training should stop (and keeps returning true).
  bool update(double held_out_loss, std::int64_t step = -1);
  bool should_stop() const { return state_.stopped; }
  double best() const { return state_.best; }
  std::int64_t best_step() const { return state_.best_step; }
  /// True when the last update() set a new best (the moment to save the best model).
  bool improved() const { return improved_; }

  const EarlyStoppingState& state() const { return state_; }
  /// Throws InvalidArgument on an inconsistent state (negative counts, bad_evaluations >
  /// evaluations, a NaN best), leaving this object unchanged.
  void load_state(const EarlyStoppingState& state);

 private:
  std::int64_t patience_;
  double min_delta_;
  EarlyStoppingState state_;
  bool improved_ = false;
};

}  // namespace ebm
