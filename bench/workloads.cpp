#include "workloads.hpp"

#include <ebm/ad/ops.hpp>
#include <ebm/core/error.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/energy/analytic.hpp>
#include <ebm/energy/mlp.hpp>
#include <ebm/sample/langevin.hpp>
#include <ebm/sample/samplers.hpp>
#include <ebm/io/model_file.hpp>
#include <ebm/io/safetensors.hpp>
#include <ebm/train/model.hpp>
#include <ebm/train/objectives.hpp>
#include <ebm/train/optimizer.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <tuple>

namespace ebm::bench {
namespace {

using T = float;

struct MlpState {
  Mlp<T> mlp;
  ad::Tape<T> tape;
  EnergyEvaluator<T> evaluator;
  Mat<T> x, score;
  std::uint64_t step = 0;
  MlpState(Shape s)
      : mlp(MlpOptions{.widths = {s.dim, s.width, s.width, 1}, .activation = Activation::Softplus, .seed = 1}),
        x(s.batch, s.dim), score(s.batch, s.dim) {
    CounterRng(7, 0).normal<T>(0, std::span<T>(x.data(), static_cast<std::size_t>(x.size())));
  }
};

volatile T g_sink;  // keeps results observable so no work is optimised away

// The objective options of a training workload, as peer_torch.py's loss of the same name.
ObjectiveOptions peer_objective(const std::string& name) {
  ObjectiveOptions o;
  if (name == "sm_exact") {
    o.kind = ObjectiveKind::ExactSm;  // route Auto: forward Laplacian (Gram factor when D > H)
  } else if (name == "ssm") {
    o.kind = ObjectiveKind::SlicedSm;
    o.projection = ObjectiveOptions::Projection::Gaussian;
    o.projections = 1;
    o.variance_reduced = true;  // mean(v^T (grad_x s) v + 1/2 |s|^2)
  } else if (name == "dsm") {
    o.kind = ObjectiveKind::DenoisingSm;
    o.sigma = 0.1;
    o.noise_levels = 1;
  } else if (name == "cd") {
    o.kind = ObjectiveKind::Cd;
    o.negatives_from_data = false;
    o.init_scale = 1;
    o.langevin_steps = 10;
    o.langevin_step_size = 0.01;
    o.energy_penalty = 0;  // loss mean E(data) - mean E(neg)
  } else {
    throw InvalidArgument("bench: unknown peer workload '" + name + "'");
  }
  return o;
}

constexpr std::uint64_t kObjectiveSeed = 11;

// One Adam step (torch.optim.Adam defaults, lr 1e-3) per timed step on a fixed batch; the
// objective's draws (projections, noise, negatives) are those of the step number.
struct TrainState {
  Mlp<T> mlp;
  ModelOf<T, Mlp<T>> model{mlp};  // refers to mlp: TrainState is never moved
  Objective<T> objective;
  Optimizer<T> optimizer{AdamOptions{}};
  Mat<T> x;
  std::int64_t step = 0;
  double first_loss = std::numeric_limits<double>::quiet_NaN(), last_loss = first_loss;

  TrainState(const std::string& name, Shape s)
      : mlp(MlpOptions{.widths = {s.dim, s.width, s.width, 1}, .activation = Activation::Softplus, .seed = 1}),
        objective(peer_objective(name), s.dim, kObjectiveSeed),
        x(s.batch, s.dim) {
    CounterRng(7, 0).normal<T>(0, std::span<T>(x.data(), static_cast<std::size_t>(x.size())));
  }
  TrainState(const TrainState&) = delete;
  TrainState& operator=(const TrainState&) = delete;

  void train_step() {
    const LossResult<T> r = objective.evaluate(model, x, step, true);
    mlp.edit_parameters([&](const std::vector<Mat<T>*>& p) { optimizer.step(p, r.gradients); });
    if (step == 0) first_loss = r.loss;
    last_loss = r.loss;
    ++step;
  }

  // Files for the PyTorch loss check (see Workload::export_check), at the current weights and
  // step 0's draws. The draws are recomputed as objectives.cpp makes them (per-row streams of
  // families 1 and 2 of the objective's seed, at counter 0): the check fails loudly if that ever
  // changes.
  std::pair<double, double> export_check(const std::string& name, const std::string& prefix) {
    io::ModelInfo info;
    info.objective = name;
    info.step = step;
    io::save_model(prefix + ".model.safetensors", mlp, info);
    io::TensorFile file;
    file.tensors.push_back(io::tensor_from("x", x));
    if (name == "ssm" || name == "dsm") {
      // Row i's draws come from stream (family << 56 | i): family 1 the projections, 2 the noise.
      Mat<T> draws(x.rows(), x.cols());
      CounterRng(kObjectiveSeed, std::uint64_t{name == "ssm" ? 1u : 2u} << 56)
          .normal_rows<T>(0, static_cast<std::size_t>(x.cols()), std::span<T>(draws.data(), static_cast<std::size_t>(draws.size())));
      file.tensors.push_back(io::tensor_from(name == "ssm" ? "v" : "eps", draws));
    }
    const double loss32 = objective.evaluate(model, x, 0, false).loss;
    double loss64 = std::numeric_limits<double>::quiet_NaN();
    if (name == "sm_exact") {
      // The same weights and batch in float64 (no draws, so the objective sees the same input).
      Mlp<double> mlp64(MlpOptions{.widths = {x.cols(), mlp.weight(0).rows(), mlp.weight(1).rows(), 1},
                                   .activation = Activation::Softplus});
      for (Index l = 0; l < mlp.layers(); ++l) {
        mlp64.set_weight(l, mlp.weight(l).cast<double>());
        mlp64.set_bias(l, mlp.bias(l).cast<double>());
      }
      const Mat<double> x64 = x.cast<double>();
      const LossResult<double> r =
          Objective<double>(peer_objective(name), x.cols(), kObjectiveSeed).evaluate(ModelOf<double, Mlp<double>>(mlp64), x64, 0, true);
      loss64 = r.loss;
      for (std::size_t i = 0; i < r.gradients.size(); ++i)
        file.tensors.push_back(io::tensor_from("grad_" + std::to_string(i), r.gradients[i]));
    }
    const double l32[] = {loss32}, l64[] = {loss64};
    file.tensors.push_back(io::tensor_from_values<double>("loss_f32", l32));
    file.tensors.push_back(io::tensor_from_values<double>("loss_f64", l64));
    io::write_safetensors(prefix + ".check.safetensors", file);
    return {loss32, loss64};
  }
};

}  // namespace

// Single-chain sampling on the 2-D analytic Gaussian: 100000 steps per timed step.
Workload make_single_chain_workload(const std::string& name) {
  auto target = std::make_shared<Gaussian<double>>(RowVec<double>{{0.0, 0.0}}, Mat<double>{{1.0, 0.5}, {0.5, 2.0}});
  Workload w{name, {1, 2, 0}, {}, target, {}, {}};
  if (name == "ula_1chain_x100000") {
    w.step = [target] {
      UlaOptions<double> o;
      o.chains = 1;
      o.steps = 100000;
      o.step_size = 0.1;
      g_sink = static_cast<T>(ula(*target, o).final_state(0, 0));
    };
  } else {
    w.step = [target] {
      MalaOptions<double> o;
      o.chains = 1;
      o.steps = 100000;
      o.adapt = false;
      o.step_size = 0.5;
      g_sink = static_cast<T>(mala(*target, o).final_state(0, 0));
    };
  }
  return w;
}

Workload make_engine_workload(const std::string& name, Shape shape) {
  auto st = std::make_shared<MlpState>(shape);
  Workload w{name, shape, {}, st, {}, {}};
  MlpState* s = st.get();
  if (name == "forward") {
    w.step = [s] { g_sink = s->mlp.energy(s->tape, s->x)(0); };
  } else if (name == "grad_x") {
    w.step = [s] {
      s->mlp.score(s->tape, s->x, s->score);
      g_sink = s->score(0, 0);
    };
  } else if (name == "double_backward") {
    // grad_phi of sum ||grad_x E||^2: the shape of every score-matching gradient.
    w.step = [s] {
      auto& t = s->tape;
      t.reset();
      const auto params = s->mlp.bind(t, true);
      const auto xg = t.variable_ref(s->x);
      ad::GradOptions<T> keep;
      keep.create_graph = true;
      const auto gx = t.grad(ad::sum(s->mlp.energy(xg, params)), {xg}, keep)[0];
      const auto gp = t.grad(ad::sum(ad::square(gx)), std::span<const ad::Var<T>>(params));
      g_sink = gp[0].value()(0, 0);
    };
  } else if (name == "matmul") {
    // The product roofline: x (B x H) W^T through the row-independent kernel, W's cached
    // transpose as an MLP layer uses it.
    auto w_mat = std::make_shared<Mat<T>>(s->mlp.weight(1));
    auto w_t = std::make_shared<Mat<T>>(w_mat->transpose());
    auto h = std::make_shared<Mat<T>>(Mat<T>::Random(shape.batch, shape.width));
    w.state = std::make_shared<std::tuple<std::shared_ptr<MlpState>, decltype(w_mat), decltype(w_t), decltype(h)>>(
        st, w_mat, w_t, h);
    w.step = [s, w_mat, w_t, h] {
      auto& t = s->tape;
      t.reset();
      ad::NoGrad<T> no_grad(t);
      const auto wv = t.leaf_ref(w_mat->data(), w_mat->rows(), w_mat->cols(), false, w_t->data());
      g_sink = ad::matmul(t.constant_ref(*h), wv, ad::Trans::No, ad::Trans::Yes).value()(0, 0);
    };
  } else if (name == "matmul_at") {
    // The weight-gradient product: G^T H (H x B by B x H), a sum over the batch.
    auto g = std::make_shared<Mat<T>>(Mat<T>::Random(shape.batch, shape.width));
    auto h = std::make_shared<Mat<T>>(Mat<T>::Random(shape.batch, shape.width));
    w.state = std::make_shared<std::tuple<std::shared_ptr<MlpState>, decltype(g), decltype(h)>>(st, g, h);
    w.step = [s, g, h] {
      auto& t = s->tape;
      t.reset();
      ad::NoGrad<T> no_grad(t);
      g_sink = ad::matmul(t.constant_ref(*g), t.constant_ref(*h), ad::Trans::Yes, ad::Trans::No).value()(0, 0);
    };
  } else if (name == "record_op_x1000") {
    // Recording overhead: 1000 ops on 1x1 matrices, with gradients tracked, then reset.
    w.step = [s] {
      auto& t = s->tape;
      t.reset();
      ad::Var<T> v = t.variable_ref(s->x);
      for (int i = 0; i < 1000; ++i) v = v * T(0.999);
      g_sink = v.item();
    };
  } else {
    throw InvalidArgument("bench: unknown engine workload '" + name + "'");
  }
  return w;
}

std::vector<Workload> engine_workloads() {
  std::vector<Workload> all{make_engine_workload("record_op_x1000", {1, 1, 1}),
                            make_engine_workload("matmul", {4096, 2, 256}), make_engine_workload("matmul", {65536, 2, 128}),
                            make_engine_workload("matmul_at", {4096, 2, 256}),
                            make_single_chain_workload("ula_1chain_x100000"),
                            make_single_chain_workload("mala_1chain_x100000")};
  for (const char* name : {"forward", "grad_x", "double_backward"})
    for (Shape base : {Shape{0, 2, 128}, Shape{0, 64, 256}})
      for (long batch : {1L, 64L, 4096L}) all.push_back(make_engine_workload(name, {batch, base.dim, base.width}));
  return all;
}

Workload make_peer_workload(const std::string& name, Shape shape) {
  if (name != "langevin") {
    auto st = std::make_shared<TrainState>(name, shape);
    TrainState* s = st.get();
    Workload w{name, shape, [s] { s->train_step(); }, st, {}, {}};
    w.training = [s] { return TrainingInfo{s->first_loss, s->last_loss, static_cast<long>(s->step)}; };
    if (name != "cd")
      w.export_check = [s, name](const std::string& prefix) { return s->export_check(name, prefix); };
    return w;
  }
  auto st = std::make_shared<MlpState>(shape);
  MlpState* s = st.get();
  Workload w{name, shape, {}, st, {}, {}};
  w.step = [s] {
    s->evaluator.evaluate(s->mlp, s->x, nullptr, &s->score);
    langevin_update<T>(s->x, s->score, T(0.01), 11, s->step++);
  };
  return w;
}

std::vector<Workload> peer_workloads() {
  std::vector<Workload> all;
  for (long batch : {1L, 64L, 4096L, 65536L}) all.push_back(make_peer_workload("langevin", {batch, 2, 128}));
  const Shape train[] = {{1024, 2, 128}, {256, 64, 256}, {128, 784, 256}};
  for (const char* name : {"sm_exact", "ssm", "dsm"})
    for (Shape s : train) all.push_back(make_peer_workload(name, s));
  for (Shape s : {Shape{256, 2, 128}, Shape{128, 784, 256}}) all.push_back(make_peer_workload("cd", s));
  return all;
}

Timing time_workload(const Workload& w, double budget_s, long min_reps, long max_reps) {
  using clock = std::chrono::steady_clock;
  w.step();  // warm-up
  std::vector<double> times;
  const auto start = clock::now();
  while (static_cast<long>(times.size()) < max_reps &&
         (static_cast<long>(times.size()) < min_reps ||
          std::chrono::duration<double>(clock::now() - start).count() < budget_s)) {
    const auto t0 = clock::now();
    w.step();
    times.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  const std::size_t n = times.size();
  const double median = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
  return {median, static_cast<long>(n)};
}

}  // namespace ebm::bench
