#include <ebm/core/check.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/train/optimizer.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numbers>

namespace ebm {
namespace {

std::string num(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that round-trips
  return std::string(buf, r.ptr);
}

// Parameters per chunk of an element-wise update, the unit of work of one thread.
constexpr Index kUpdateChunk = 1 << 15;

// The constants of one Adam step.
template <class T>
struct AdamStep {
  T beta1, beta2, one_minus_beta1, one_minus_beta2, neg_step_size, bias_correction2_sqrt, eps, weight_decay,
      decay_factor;
};

// torch.optim.Adam's single-tensor update over n parameters; a plain loop over unaliased
// arrays with the options resolved at compile time, which GCC vectorises.
template <class T, bool L2, bool Decoupled>
void adam_update(const AdamStep<T>& c, T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                 Index n) {
  for (Index k = 0; k < n; ++k) {
    T grad = g[k];
    if constexpr (L2) grad = grad + c.weight_decay * p[k];
    T pk = p[k];
    if constexpr (Decoupled) pk = pk * c.decay_factor;
    const T mk = m[k] * c.beta1 + c.one_minus_beta1 * grad;
    const T vk = v[k] * c.beta2 + c.one_minus_beta2 * grad * grad;
    m[k] = mk;
    v[k] = vk;
    p[k] = pk + c.neg_step_size * mk / (std::sqrt(vk) / c.bias_correction2_sqrt + c.eps);
  }
}

bool finite_nonnegative(double v) { return std::isfinite(v) && v >= 0; }

// Count, null pointers and shapes of params against grads; everything a step needs before it
// may change anything.
template <class T>
void check_params_grads(const std::vector<Mat<T>*>& params, const std::vector<Mat<T>>& grads, const char* where) {
  require(!params.empty(), where, "no parameters");
  require(params.size() == grads.size(), where, [&] {
    return std::to_string(params.size()) + " parameters but " + std::to_string(grads.size()) + " gradients";
  });
  for (std::size_t i = 0; i < params.size(); ++i) {
    require(params[i] != nullptr, where, [&] { return "parameter " + std::to_string(i) + " is a null pointer"; });
    require(params[i]->rows() == grads[i].rows() && params[i]->cols() == grads[i].cols(), where, [&] {
      return "parameter " + std::to_string(i) + " has shape " + shape_str(*params[i]) + " but its gradient " +
             shape_str(grads[i]);
    });
  }
}

std::string buffer_name(OptimizerKind kind, std::size_t k) {
  if (kind == OptimizerKind::Adam) return std::to_string(k / 2) + (k % 2 == 0 ? ".exp_avg" : ".exp_avg_sq");
  return std::to_string(k) + ".momentum_buffer";
}

template <class T>
void check_finite_grads(const std::vector<Mat<T>>& grads, const char* where) {
  for (std::size_t i = 0; i < grads.size(); ++i) require_finite(grads[i], where, "gradient of parameter " + std::to_string(i));
}

}  // namespace

// ---- options -------------------------------------------------------------------------------

void AdamOptions::validate() const {
  require(finite_nonnegative(lr), "AdamOptions::lr", "must be finite and >= 0, got " + num(lr));
  require(beta1 >= 0 && beta1 < 1, "AdamOptions::beta1", "must be in [0, 1), got " + num(beta1));
  require(beta2 >= 0 && beta2 < 1, "AdamOptions::beta2", "must be in [0, 1), got " + num(beta2));
  require(std::isfinite(eps) && eps > 0, "AdamOptions::eps", "must be finite and > 0, got " + num(eps));
  require(finite_nonnegative(weight_decay), "AdamOptions::weight_decay",
          "must be finite and >= 0, got " + num(weight_decay));
}

void SgdOptions::validate() const {
  require(finite_nonnegative(lr), "SgdOptions::lr", "must be finite and >= 0, got " + num(lr));
  require(momentum >= 0 && momentum < 1, "SgdOptions::momentum", "must be in [0, 1), got " + num(momentum));
  require(finite_nonnegative(weight_decay), "SgdOptions::weight_decay",
          "must be finite and >= 0, got " + num(weight_decay));
  require(!nesterov || momentum > 0, "SgdOptions::nesterov", "needs momentum > 0, got momentum " + num(momentum));
}

std::string_view optimizer_name(OptimizerKind kind, bool decoupled_weight_decay) {
  if (kind == OptimizerKind::Sgd) return "sgd";
  return decoupled_weight_decay ? "adamw" : "adam";
}

// ---- optimizer -----------------------------------------------------------------------------

template <class T>
Optimizer<T>::Optimizer(const AdamOptions& options) : kind_(OptimizerKind::Adam), adam_(options) {
  options.validate();
}

template <class T>
Optimizer<T>::Optimizer(const SgdOptions& options) : kind_(OptimizerKind::Sgd), sgd_(options) {
  options.validate();
}

template <class T>
std::string_view Optimizer<T>::name() const {
  return optimizer_name(kind_, adam_.decoupled_weight_decay);
}

template <class T>
double Optimizer<T>::base_lr() const {
  return kind_ == OptimizerKind::Adam ? adam_.lr : sgd_.lr;
}

template <class T>
void Optimizer<T>::step(const std::vector<Mat<T>*>& params, const std::vector<Mat<T>>& grads, double lr) {
  constexpr const char* where = "Optimizer::step";
  require(finite_nonnegative(lr), where, [&] { return "lr must be finite and >= 0, got " + num(lr); });
  check_params_grads(params, grads, where);
  const std::size_t n = params.size();
  const std::size_t per_param = kind_ == OptimizerKind::Adam ? 2 : (sgd_.momentum > 0 ? 1 : 0);
  if (!buffers_.empty()) {
    require(buffers_.size() == per_param * n, where, [&] {
      return "the optimizer state is for " + std::to_string(buffers_.size() / per_param) + " parameters, got " +
             std::to_string(n);
    });
    for (std::size_t i = 0; i < n; ++i) {
      const Mat<T>& b = buffers_[per_param * i];
      require(b.rows() == params[i]->rows() && b.cols() == params[i]->cols(), where, [&] {
        return "parameter " + std::to_string(i) + " has shape " + shape_str(*params[i]) +
               " but the optimizer state has " + shape_str(b);
      });
    }
  }
  check_finite_grads(grads, where);

  // Nothing can fail from here on.
  const bool first = buffers_.empty();
  if (first && per_param > 0) {
    buffers_.reserve(per_param * n);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k < per_param; ++k) buffers_.push_back(Mat<T>::Zero(params[i]->rows(), params[i]->cols()));
  }
  ++steps_;

  if (kind_ == OptimizerKind::Adam) {
    // torch.optim.Adam / AdamW, single-tensor path, operation for operation.
    const AdamOptions& o = adam_;
    const double bias_correction1 = 1 - std::pow(o.beta1, static_cast<double>(steps_));
    const double bias_correction2 = 1 - std::pow(o.beta2, static_cast<double>(steps_));
    const AdamStep<T> c{T(o.beta1),
                        T(o.beta2),
                        T(1 - o.beta1),
                        T(1 - o.beta2),
                        T(-(lr / bias_correction1)),
                        T(std::sqrt(bias_correction2)),
                        T(o.eps),
                        T(o.weight_decay),
                        T(1 - lr * o.weight_decay)};
    const bool l2 = o.weight_decay != 0 && !o.decoupled_weight_decay;
    const auto update = l2                         ? adam_update<T, true, false>
                        : o.decoupled_weight_decay ? adam_update<T, false, true>
                                                   : adam_update<T, false, false>;
    for (std::size_t i = 0; i < n; ++i) {
      T* p = params[i]->data();
      const T* g = grads[i].data();
      T* m = buffers_[2 * i].data();
      T* v = buffers_[2 * i + 1].data();
      // Element by element, so any split over threads gives the same bits.
      parallel_for_chunks(params[i]->size(), kUpdateChunk,
                          [&](Index k0, Index k1) { update(c, p + k0, g + k0, m + k0, v + k0, k1 - k0); });
    }
    return;
  }

  // torch.optim.SGD (dampening 0): the momentum buffer starts as the first gradient.
  const SgdOptions& o = sgd_;
  const T momentum = T(o.momentum), weight_decay = T(o.weight_decay), neg_lr = T(-lr);
  for (std::size_t i = 0; i < n; ++i) {
    T* p = params[i]->data();
    const T* g = grads[i].data();
    T* buf = per_param > 0 ? buffers_[i].data() : nullptr;
    const Index size = params[i]->size();
    for (Index k = 0; k < size; ++k) {
      T d = o.weight_decay != 0 ? g[k] + weight_decay * p[k] : g[k];
      if (buf != nullptr) {
        buf[k] = first ? d : buf[k] * momentum + d;
        d = o.nesterov ? d + momentum * buf[k] : buf[k];
      }
      p[k] = p[k] + neg_lr * d;
    }
  }
}

template <class T>
OptimizerState<T> Optimizer<T>::state() const {
  return {steps_, buffers_};
}

template <class T>
std::vector<std::string> Optimizer<T>::state_names() const {
  std::vector<std::string> names;
  for (std::size_t k = 0; k < buffers_.size(); ++k) names.push_back(buffer_name(kind_, k));
  return names;
}

template <class T>
void Optimizer<T>::load_state(OptimizerState<T> state) {
  constexpr const char* where = "Optimizer::load_state";
  require(state.steps >= 0, where, "steps must be >= 0, got " + std::to_string(state.steps));
  const std::size_t count = state.buffers.size();
  const std::string what = std::string(name()) + " state with steps = " + std::to_string(state.steps) + " has " +
                           std::to_string(count) + " buffers";
  if (kind_ == OptimizerKind::Adam) {
    require(state.steps == 0 ? count == 0 : count > 0 && count % 2 == 0, where,
            what + ", expected " + (state.steps == 0 ? "none" : "2 per parameter (exp_avg, exp_avg_sq)"));
  } else if (sgd_.momentum > 0) {
    require(state.steps == 0 ? count == 0 : count > 0, where,
            what + ", expected " + (state.steps == 0 ? "none" : "1 per parameter (momentum_buffer)"));
  } else {
    require(count == 0, where, what + ", expected none (SGD without momentum)");
  }
  for (std::size_t k = 0; k < count; ++k) {
    const std::string buffer = buffer_name(kind_, k);
    require_finite(state.buffers[k], where, buffer);
    if (kind_ == OptimizerKind::Adam && k % 2 == 1) {
      const Mat<T>&m = state.buffers[k - 1], &v = state.buffers[k];
      require(m.rows() == v.rows() && m.cols() == v.cols(), where,
              [&] { return buffer + " has shape " + shape_str(v) + " but its exp_avg " + shape_str(m); });
      require((v.array() >= T(0)).all(), where, [&] { return buffer + " has a negative entry"; });
    }
  }
  steps_ = state.steps;
  buffers_ = std::move(state.buffers);
}

template <class T>
void Optimizer<T>::reset() {
  steps_ = 0;
  buffers_.clear();
}

template struct OptimizerState<float>;
template struct OptimizerState<double>;
template class Optimizer<float>;
template class Optimizer<double>;

// ---- learning-rate schedules ---------------------------------------------------------------

namespace {

std::string_view schedule_kind_name(LrSchedule::Kind kind) {
  switch (kind) {
    case LrSchedule::Kind::Constant: return "constant";
    case LrSchedule::Kind::Cosine: return "cosine";
    case LrSchedule::Kind::Linear: return "linear";
    case LrSchedule::Kind::Step: return "step";
    case LrSchedule::Kind::Exponential: return "exp";
  }
  return "constant";
}

bool decays_to_total(LrSchedule::Kind kind) {
  return kind == LrSchedule::Kind::Cosine || kind == LrSchedule::Kind::Linear;
}

void validate_schedule(const LrSchedule& s, bool need_total) {
  const std::string kind(schedule_kind_name(s.kind));
  require(s.warmup_steps >= 0, "LrSchedule::warmup_steps", "must be >= 0, got " + std::to_string(s.warmup_steps));
  require(s.total_steps >= 0, "LrSchedule::total_steps", "must be >= 0, got " + std::to_string(s.total_steps));
  require(s.min_lr_fraction >= 0 && s.min_lr_fraction <= 1, "LrSchedule::min_lr_fraction",
          "must be in [0, 1], got " + num(s.min_lr_fraction));
  if (need_total && decays_to_total(s.kind))
    require(s.total_steps > s.warmup_steps, "LrSchedule::total_steps",
            "a " + kind + " schedule needs total_steps > warmup_steps (" + std::to_string(s.warmup_steps) + "), got " +
                std::to_string(s.total_steps));
  if (s.kind == LrSchedule::Kind::Step)
    require(s.step_every > 0, "LrSchedule::step_every", "must be > 0 for a step schedule, got " + std::to_string(s.step_every));
  if (s.kind == LrSchedule::Kind::Step || s.kind == LrSchedule::Kind::Exponential)
    require(s.gamma > 0 && s.gamma <= 1, "LrSchedule::gamma",
            "must be in (0, 1] for a " + kind + " schedule, got " + num(s.gamma));
}

}  // namespace

void LrSchedule::validate() const { validate_schedule(*this, true); }

double LrSchedule::factor(std::int64_t step) const {
  validate();
  require(step >= 0, "LrSchedule::factor", "step must be >= 0, got " + std::to_string(step));
  if (step < warmup_steps) return static_cast<double>(step) / static_cast<double>(warmup_steps);
  const std::int64_t s = step - warmup_steps;
  const double m = min_lr_fraction;
  switch (kind) {
    case Kind::Constant: return 1;
    case Kind::Cosine: {
      const std::int64_t d = total_steps - warmup_steps;
      if (s >= d) return m;
      return m + (1 - m) * (1 + std::cos(std::numbers::pi * static_cast<double>(s) / static_cast<double>(d))) / 2;
    }
    case Kind::Linear: {
      const std::int64_t d = total_steps - warmup_steps;
      if (s >= d) return m;
      return m + (1 - m) * (static_cast<double>(d - s) / static_cast<double>(d));
    }
    case Kind::Step: return std::max(m, std::pow(gamma, static_cast<double>(s / step_every)));
    case Kind::Exponential: return std::max(m, std::pow(gamma, static_cast<double>(s)));
  }
  return 1;
}

namespace {

[[noreturn]] void bad_schedule(std::string_view text, const std::string& what) {
  throw InvalidArgument("parse_lr_schedule: '" + std::string(text) + "': " + what +
                        " (expected KIND[,warmup=N][,total=N][,min=F], KIND one of constant, cosine, linear, "
                        "step:EVERY[:GAMMA], exp:GAMMA)");
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const std::size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

std::int64_t parse_int(std::string_view text, std::string_view field, std::string_view value) {
  std::int64_t v = 0;
  const auto r = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || r.ec != std::errc() || r.ptr != value.data() + value.size())
    bad_schedule(text, std::string(field) + " '" + std::string(value) + "' is not an integer");
  return v;
}

double parse_double(std::string_view text, std::string_view field, std::string_view value) {
  double v = 0;
  const auto r = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || r.ec != std::errc() || r.ptr != value.data() + value.size())
    bad_schedule(text, std::string(field) + " '" + std::string(value) + "' is not a number");
  return v;
}

}  // namespace

LrSchedule parse_lr_schedule(std::string_view text) {
  const std::vector<std::string_view> parts = split(text, ',');
  const std::vector<std::string_view> head = split(parts[0], ':');
  LrSchedule s;
  const std::string_view kind = head[0];
  std::size_t min_args = 0, max_args = 0;
  if (kind == "constant") s.kind = LrSchedule::Kind::Constant;
  else if (kind == "cosine") s.kind = LrSchedule::Kind::Cosine;
  else if (kind == "linear") s.kind = LrSchedule::Kind::Linear;
  else if (kind == "step") s.kind = LrSchedule::Kind::Step, min_args = 1, max_args = 2;
  else if (kind == "exp" || kind == "exponential") s.kind = LrSchedule::Kind::Exponential, min_args = max_args = 1;
  else bad_schedule(text, "unknown kind '" + std::string(kind) + "'");
  const std::size_t args = head.size() - 1;
  if (args < min_args || args > max_args)
    bad_schedule(text, "'" + std::string(kind) + "' takes " +
                           (max_args == 0 ? std::string("no arguments")
                                          : min_args == max_args ? std::to_string(min_args) + " argument"
                                                                 : std::to_string(min_args) + " to " + std::to_string(max_args) + " arguments") +
                           ", got " + std::to_string(args));
  if (s.kind == LrSchedule::Kind::Step) {
    s.step_every = parse_int(text, "EVERY", head[1]);
    if (args == 2) s.gamma = parse_double(text, "GAMMA", head[2]);
  } else if (s.kind == LrSchedule::Kind::Exponential) {
    s.gamma = parse_double(text, "GAMMA", head[1]);
  }
  bool seen_warmup = false, seen_total = false, seen_min = false;
  for (std::size_t k = 1; k < parts.size(); ++k) {
    const std::string_view option = parts[k];
    const std::size_t eq = option.find('=');
    const std::string_view key = option.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view() : option.substr(eq + 1);
    if (eq == std::string_view::npos) bad_schedule(text, "option '" + std::string(option) + "' is not KEY=VALUE");
    bool* seen = key == "warmup" ? &seen_warmup : key == "total" ? &seen_total : key == "min" ? &seen_min : nullptr;
    if (seen == nullptr) bad_schedule(text, "unknown option '" + std::string(key) + "' (warmup, total or min)");
    if (*seen) bad_schedule(text, "option '" + std::string(key) + "' given twice");
    *seen = true;
    if (key == "warmup") s.warmup_steps = parse_int(text, key, value);
    else if (key == "total") s.total_steps = parse_int(text, key, value);
    else s.min_lr_fraction = parse_double(text, key, value);
  }
  try {
    validate_schedule(s, seen_total);
  } catch (const InvalidArgument& e) {
    bad_schedule(text, e.what());
  }
  return s;
}

std::string format_lr_schedule(const LrSchedule& s) {
  std::string out(schedule_kind_name(s.kind));
  if (s.kind == LrSchedule::Kind::Step) out += ":" + std::to_string(s.step_every) + ":" + num(s.gamma);
  if (s.kind == LrSchedule::Kind::Exponential) out += ":" + num(s.gamma);
  if (s.warmup_steps != 0) out += ",warmup=" + std::to_string(s.warmup_steps);
  if (s.total_steps != 0) out += ",total=" + std::to_string(s.total_steps);
  if (s.min_lr_fraction != 0) out += ",min=" + num(s.min_lr_fraction);
  return out;
}

// ---- gradient clipping ---------------------------------------------------------------------

template <class T>
double clip_grad_norm(std::vector<Mat<T>>& grads, double max_norm) {
  constexpr const char* where = "clip_grad_norm";
  require(!std::isnan(max_norm), where, "max_norm is NaN");
  check_finite_grads(grads, where);
  // Squares summed in double (float gradients lose nothing); as torch, per matrix then overall.
  double sum_sq = 0;
  for (const Mat<T>& g : grads) {
    double s = 0;
    for (Index k = 0; k < g.size(); ++k) s += static_cast<double>(g.data()[k]) * static_cast<double>(g.data()[k]);
    sum_sq += s;
  }
  double norm = std::sqrt(sum_sq);
  double scale_of_max = 1;  // norm = scale_of_max * (what `norm` holds), when rescaled
  if (std::isinf(norm)) {
    // Finite entries whose squares overflow: the same sum over entries divided by the largest.
    double largest = 0;
    for (const Mat<T>& g : grads)
      if (g.size() > 0) largest = std::max(largest, static_cast<double>(g.cwiseAbs().maxCoeff()));
    double s = 0;
    for (const Mat<T>& g : grads)
      for (Index k = 0; k < g.size(); ++k) {
        const double r = static_cast<double>(g.data()[k]) / largest;
        s += r * r;
      }
    scale_of_max = largest;
    norm = std::sqrt(s);
  }
  const double total = scale_of_max * norm;  // may be +inf beyond the double range
  if (max_norm > 0) {
    const double coef = std::isinf(total) ? (max_norm / scale_of_max) / norm : max_norm / (total + 1e-6);
    if (coef < 1) {
      const T c = T(coef);
      for (Mat<T>& g : grads) g *= c;
    }
  }
  return total;
}

template double clip_grad_norm<float>(std::vector<Mat<float>>&, double);
template double clip_grad_norm<double>(std::vector<Mat<double>>&, double);

// ---- exponential moving average ------------------------------------------------------------

template <class T>
Ema<T>::Ema(double decay) : decay_(decay) {
  require(decay >= 0 && decay < 1, "Ema", "decay must be in [0, 1), got " + num(decay));
}

namespace {

template <class T>
void check_against_shadow(const std::vector<Mat<T>*>& params, const std::vector<Mat<T>>& shadow, const char* where) {
  require(params.size() == shadow.size(), where, [&] {
    return std::to_string(params.size()) + " parameters but the average has " + std::to_string(shadow.size());
  });
  for (std::size_t i = 0; i < params.size(); ++i) {
    require(params[i] != nullptr, where, [&] { return "parameter " + std::to_string(i) + " is a null pointer"; });
    require(params[i]->rows() == shadow[i].rows() && params[i]->cols() == shadow[i].cols(), where, [&] {
      return "parameter " + std::to_string(i) + " has shape " + shape_str(*params[i]) + " but its average " +
             shape_str(shadow[i]);
    });
  }
}

}  // namespace

template <class T>
void Ema<T>::update(const std::vector<Mat<T>*>& params) {
  constexpr const char* where = "Ema::update";
  if (shadow_.empty()) {
    require(!params.empty(), where, "no parameters");
    for (std::size_t i = 0; i < params.size(); ++i)
      require(params[i] != nullptr, where, [&] { return "parameter " + std::to_string(i) + " is a null pointer"; });
    for (const Mat<T>* p : params) shadow_.push_back(*p);
  } else {
    check_against_shadow(params, shadow_, where);
    const T keep = T(decay_), take = T(1 - decay_);
    for (std::size_t i = 0; i < params.size(); ++i) shadow_[i] = keep * shadow_[i] + take * *params[i];
  }
  ++updates_;
}

template <class T>
void Ema<T>::copy_to(const std::vector<Mat<T>*>& params) const {
  constexpr const char* where = "Ema::copy_to";
  require(!shadow_.empty(), where, "no update yet: nothing to copy");
  check_against_shadow(params, shadow_, where);
  for (std::size_t i = 0; i < params.size(); ++i) *params[i] = shadow_[i];
}

template <class T>
void Ema<T>::load_state(EmaState<T> state) {
  constexpr const char* where = "Ema::load_state";
  require(state.updates >= 0, where, "updates must be >= 0, got " + std::to_string(state.updates));
  require((state.updates == 0) == state.shadow.empty(), where,
          "updates = " + std::to_string(state.updates) + " with " + std::to_string(state.shadow.size()) +
              " averaged parameters (none exactly before the first update)");
  for (std::size_t i = 0; i < state.shadow.size(); ++i) require_finite(state.shadow[i], where, "average of parameter " + std::to_string(i));
  updates_ = state.updates;
  shadow_ = std::move(state.shadow);
}

template struct EmaState<float>;
template struct EmaState<double>;
template class Ema<float>;
template class Ema<double>;

// ---- early stopping ------------------------------------------------------------------------

EarlyStopping::EarlyStopping(std::int64_t patience, double min_delta) : patience_(patience), min_delta_(min_delta) {
  require(patience >= 0, "EarlyStopping", "patience must be >= 0 (0: never stop), got " + std::to_string(patience));
  require(finite_nonnegative(min_delta), "EarlyStopping", "min_delta must be finite and >= 0, got " + num(min_delta));
}

bool EarlyStopping::update(double held_out_loss, std::int64_t step) {
  const std::int64_t at = step >= 0 ? step : state_.evaluations;
  ++state_.evaluations;
  improved_ = false;
  if (state_.stopped) return true;
  if (!std::isfinite(held_out_loss)) {
    state_.stopped = true;
    ++state_.bad_evaluations;
    return true;
  }
  if (held_out_loss < state_.best - min_delta_) {
    state_.best = held_out_loss;
    state_.best_step = at;
    state_.bad_evaluations = 0;
    improved_ = true;
  } else {
    ++state_.bad_evaluations;
    if (patience_ > 0 && state_.bad_evaluations >= patience_) state_.stopped = true;
  }
  return state_.stopped;
}

void EarlyStopping::load_state(const EarlyStoppingState& state) {
  constexpr const char* where = "EarlyStopping::load_state";
  require(state.evaluations >= 0 && state.bad_evaluations >= 0 && state.bad_evaluations <= state.evaluations, where,
          "inconsistent counts: evaluations = " + std::to_string(state.evaluations) +
              ", bad_evaluations = " + std::to_string(state.bad_evaluations));
  require(!std::isnan(state.best), where, "best is NaN");
  require((state.best_step >= 0) == std::isfinite(state.best), where,
          "best = " + num(state.best) + " with best_step = " + std::to_string(state.best_step) +
              " (an evaluation has both or neither)");
  state_ = state;
  improved_ = false;
}

}  // namespace ebm
