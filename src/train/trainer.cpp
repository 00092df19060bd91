#include <ebm/train/trainer.hpp>

#include <ebm/core/bytes.hpp>
#include <ebm/core/check.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/data/dataset.hpp>
#include "block_sum.hpp"

#include <chrono>
#include <cmath>
#include <span>
#include <sstream>

namespace ebm {
namespace {

// Held-out losses use their own draws, apart from any training step's.
constexpr std::uint64_t kHeldOutDraws = std::uint64_t{1} << 62;

}  // namespace

void TrainerOptions::validate() const {
  const char* where = "TrainerOptions";
  require(steps >= 0, where, [&] { return "steps must be >= 0, got " + std::to_string(steps); });
  require(flip_width == 0 || (flip_height >= 1 && flip_width >= 1 && flip_channels >= 1), where,
          "flip_height, flip_width and flip_channels must be >= 1 when flipping");
  require(batch_size >= 1, where, [&] { return "batch_size must be >= 1, got " + std::to_string(batch_size); });
  if (optimizer == OptimizerKind::Adam) adam.validate();
  else sgd.validate();
  require(std::isfinite(clip_norm) && clip_norm >= 0, where, [&] { return "clip_norm must be >= 0, got " + std::to_string(clip_norm); });
  require(ema_decay == 0 || (ema_decay > 0 && ema_decay < 1), where,
          [&] { return "ema_decay must be 0 (off) or in (0, 1), got " + std::to_string(ema_decay); });
  require(eval_every >= 0, where, [&] { return "eval_every must be >= 0, got " + std::to_string(eval_every); });
  require(patience >= 0, where, [&] { return "patience must be >= 0, got " + std::to_string(patience); });
  require(std::isfinite(min_delta) && min_delta >= 0, where, [&] { return "min_delta must be >= 0, got " + std::to_string(min_delta); });
  require(report_every >= 1, where, [&] { return "report_every must be >= 1, got " + std::to_string(report_every); });
  require(block_rows >= 1, where, [&] { return "block_rows must be >= 1, got " + std::to_string(block_rows); });
}

std::string TrainResult::summary() const {
  std::ostringstream s;
  s << "trained steps " << first_step << ".." << steps_done << " in " << seconds << " s";
  if (!losses.empty()) s << ", last batch loss " << losses.back();
  if (!held_out.empty()) s << ", held-out loss " << held_out.back() << " at step " << held_out_steps.back();
  if (stopped_early) s << " (stopped early)";
  return s.str();
}

namespace {
constexpr std::uint64_t kFlipStream = 0x666c6970;  // "flip": apart from the objectives' streams

// Mirrors image row i of `rows` (global rows first_row, ... of the batch) left to right when
// its draw u[first_row + i] < 1/2.
template <class T>
void flip_images(Mat<T>& rows, Index first_row, const std::vector<double>& u, const TrainerOptions& o) {
  const Index h = o.flip_height, w = o.flip_width, c = o.flip_channels;
  for (Index i = 0; i < rows.rows(); ++i) {
    if (u[static_cast<std::size_t>(first_row + i)] >= 0.5) continue;
    T* row = rows.row(i).data();
    for (Index y = 0; y < h; ++y)
      for (Index x = 0; x < w / 2; ++x)
        for (Index k = 0; k < c; ++k) std::swap(row[(y * w + x) * c + k], row[(y * w + (w - 1 - x)) * c + k]);
  }
}

}  // namespace

template <class T>
struct Trainer<T>::Impl {
  Model<T>& model;
  const Communicator& comm;
  TrainerOptions o;
  Objective<T> objective;
  Optimizer<T> optimizer;
  std::unique_ptr<Ema<T>> ema;
  EarlyStopping early;
  std::int64_t step = 0;
  detail::BlockSum<T> block_sum;
  std::vector<std::pair<Index, Index>> parameter_shapes;  // the gradients' shapes, bind() order

  Impl(Model<T>& m, const ObjectiveOptions& obj, const TrainerOptions& options, const Communicator& c)
      : model(m),
        comm(c),
        o(options),
        objective(obj, m.dim(), options.seed),
        optimizer(options.optimizer == OptimizerKind::Adam ? Optimizer<T>(options.adam) : Optimizer<T>(options.sgd)),
        early(options.patience, options.min_delta) {
    if (o.ema_decay > 0) ema = std::make_unique<Ema<T>>(o.ema_decay);
    for (const ParameterSpec& p : m.parameter_specs()) parameter_shapes.emplace_back(p.rows, p.cols);
    if ((o.schedule.kind == LrSchedule::Kind::Cosine || o.schedule.kind == LrSchedule::Kind::Linear) &&
        o.schedule.total_steps == 0)
      o.schedule.total_steps = std::max<std::int64_t>(o.steps, o.schedule.warmup_steps + 1);
    o.schedule.validate();
  }

  // The loss (and gradient) of a batch of total_rows rows, summed over its blocks' tree on all
  // processes. rows_of(first, count, out) puts the batch's rows [first, first + count) in out.
  // PCD with gradient: every block's new chains go into every process's replay buffer.
  LossResult<T> sum_blocks(Index total_rows, const std::function<void(Index, Index, Mat<T>&)>& rows_of, std::int64_t draws,
                           bool with_gradient) {
    require(total_rows >= 1, "Trainer", "a batch needs at least one row");
    const Index blocks = (total_rows + o.block_rows - 1) / o.block_rows;
    const Share mine = share_of(blocks, comm.rank(), comm.size());
    // (buffer rows, their new states) of this process's blocks, by block.
    std::vector<std::string> replay(static_cast<std::size_t>(mine.last - mine.first));
    auto block = [&](Index b) {  // runs on several threads at once
      const Index first = b * o.block_rows, count = std::min(o.block_rows, total_rows - first);
      Mat<T> x;
      rows_of(first, count, x);
      LossResult<T> r = objective.evaluate_rows(model, x, first, total_rows, draws, with_gradient);
      if (!r.replay_rows.empty()) {
        ByteWriter records;
        records.values(std::vector<std::int64_t>(r.replay_rows.begin(), r.replay_rows.end()));
        records.matrix(r.negatives);
        replay[static_cast<std::size_t>(b - mine.first)] = records.take();
      }
      return detail::Partial<T>{{r.loss, r.energy_data, r.energy_negatives}, std::move(r.gradients)};
    };
    detail::Layout layout;
    layout.scalars = 3;
    if (with_gradient) layout.shapes = parameter_shapes;
    detail::Partial<T> total = block_sum(comm, blocks, block, layout, [&] {
      std::string all;
      for (const std::string& records : replay) all += records;
      return all;
    });
    write_replay(block_sum.extras());
    LossResult<T> r;
    r.loss = total.scalars[0];
    r.energy_data = total.scalars[1];
    r.energy_negatives = total.scalars[2];
    r.gradients = std::move(total.matrices);
    return r;
  }

  void write_replay(const std::vector<std::string>& messages) {
    for (const std::string& m : messages) {
      ByteReader in(m);
      while (in.left() > 0) {
        const std::vector<std::int64_t> rows = in.values<std::int64_t>();
        objective.write_replay(std::vector<Index>(rows.begin(), rows.end()), in.matrix<T>());
      }
    }
  }
};

template <class T>
Trainer<T>::Trainer(Model<T>& model, const ObjectiveOptions& objective, const TrainerOptions& options, const Communicator& communicator) {
  options.validate();
  impl_ = std::make_unique<Impl>(model, objective, options, communicator);
}

template <class T>
Trainer<T>::~Trainer() = default;

template <class T>
std::int64_t Trainer<T>::step() const {
  return impl_->step;
}

template <class T>
double Trainer<T>::evaluate(const Mat<T>& x) {
  Impl& s = *impl_;
  const auto draws = static_cast<std::int64_t>(kHeldOutDraws + std::uint64_t(s.step));
  return double(s.sum_blocks(x.rows(), [&](Index first, Index count, Mat<T>& out) { out = x.middleRows(first, count); }, draws, false).loss);
}

template <class T>
TrainResult Trainer<T>::run(const Mat<T>& train, const Mat<T>* held_out, const std::function<void(const TrainProgress&)>& progress,
                            std::int64_t stop_at) {
  Impl& s = *impl_;
  // Checked on every process together, so that bad data on one stops all (as any failure later does).
  agreed(s.comm, [&] {
    const char* where = "Trainer::run";
    require(s.o.flip_width == 0 || s.o.flip_height * s.o.flip_width * s.o.flip_channels == s.model.dim(), where, [&] {
      return "flipped images of " + std::to_string(s.o.flip_height) + "x" + std::to_string(s.o.flip_width) + "x" +
             std::to_string(s.o.flip_channels) + " do not match the model's dimension " + std::to_string(s.model.dim());
    });
    require(train.rows() >= 1 && train.cols() == s.model.dim(), where, [&] {
      return "training data has shape " + shape_str(train) + ", expected Nx" + std::to_string(s.model.dim()) + " with N >= 1";
    });
    require_finite(train, where, "training data");
    if (held_out) {
      require(held_out->rows() >= 1 && held_out->cols() == s.model.dim(), where, [&] {
        return "held-out data has shape " + shape_str(*held_out) + ", expected Mx" + std::to_string(s.model.dim());
      });
      require_finite(*held_out, where, "held-out data");
    }
  });
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  TrainResult result;
  result.first_step = s.step;
  const Batcher batcher(train.rows(), std::min(s.o.batch_size, train.rows()), s.o.seed);
  std::vector<Index> rows;
  TrainProgress report;
  report.total = s.o.steps;
  // Periodic evaluations drive early stopping; the one closing a run does not, so that a run
  // split in two keeps the same early-stopping state as an uninterrupted one.
  auto evaluate_held_out = [&](bool periodic) {
    report.held_out = evaluate(*held_out);
    report.has_held_out = true;
    result.held_out_steps.push_back(s.step);
    result.held_out.push_back(report.held_out);
    return periodic && s.o.patience > 0 && s.early.update(report.held_out, s.step);
  };
  const std::int64_t end = stop_at >= 0 ? std::min(stop_at, s.o.steps) : s.o.steps;

  std::vector<double> flips;
  auto batch_rows = [&](Index first, Index count, Mat<T>& out) {
    gather_rows(train, std::span<const Index>(rows).subspan(static_cast<std::size_t>(first), static_cast<std::size_t>(count)), out);
    if (s.o.flip_width > 0) flip_images(out, first, flips, s.o);
  };
  while (s.step < end && !s.early.should_stop()) {
    batcher.indices(s.step, rows);
    if (s.o.flip_width > 0) {
      flips.resize(rows.size());
      CounterRng(s.o.seed, kFlipStream).uniform<double>(static_cast<std::uint64_t>(s.step), std::span<double>(flips.data(), flips.size()));
    }
    LossResult<T> r = s.sum_blocks(static_cast<Index>(rows.size()), batch_rows, s.step, true);
    report.grad_norm = clip_grad_norm(r.gradients, s.o.clip_norm);
    report.lr = s.optimizer.base_lr() * s.o.schedule.factor(s.step);
    s.model.edit_parameters([&](const std::vector<Mat<T>*>& params) {
      s.optimizer.step(params, r.gradients, report.lr);
      if (s.ema) s.ema->update(params);
    });
    ++s.step;
    report.step = s.step;
    report.loss = double(r.loss);
    report.energy_data = double(r.energy_data);
    report.energy_negatives = double(r.energy_negatives);
    result.loss_steps.push_back(s.step);
    result.losses.push_back(report.loss);
    bool stop = false;
    const bool evaluate_now = held_out && s.o.eval_every > 0 && s.step % s.o.eval_every == 0;
    if (evaluate_now) stop = evaluate_held_out(true);
    if (progress && (evaluate_now || s.step % s.o.report_every == 0 || s.step == end)) {
      report.seconds = seconds();
      progress(report);
    }
    if (stop) {
      result.stopped_early = true;
      break;
    }
  }
  if (held_out && (result.held_out_steps.empty() || result.held_out_steps.back() != s.step)) evaluate_held_out(false);
  result.steps_done = s.step;
  result.seconds = seconds();
  return result;
}

template <class T>
void Trainer<T>::apply_ema() {
  Impl& s = *impl_;
  if (!s.ema || s.ema->updates() == 0) return;
  s.model.edit_parameters([&](const std::vector<Mat<T>*>& params) { s.ema->copy_to(params); });
}

template <class T>
TrainerState<T> Trainer<T>::state() const {
  const Impl& s = *impl_;
  TrainerState<T> st;
  st.step = s.step;
  st.optimizer = s.optimizer.state();
  if (s.ema) st.ema = s.ema->state();
  st.early_stopping = s.early.state();
  st.replay_buffer = s.objective.replay_buffer();
  return st;
}

template <class T>
void Trainer<T>::load_state(TrainerState<T> st) {
  Impl& s = *impl_;
  require(st.step >= 0 && st.step == st.optimizer.steps, "Trainer::load_state", [&] {
    return "step " + std::to_string(st.step) + " disagrees with the optimizer's step count " +
           std::to_string(st.optimizer.steps);
  });
  s.optimizer.load_state(std::move(st.optimizer));
  if (s.ema) s.ema->load_state(std::move(st.ema));
  s.early.load_state(st.early_stopping);
  s.objective.set_replay_buffer(st.replay_buffer);
  s.step = st.step;
}

template class Trainer<float>;
template class Trainer<double>;

}  // namespace ebm
