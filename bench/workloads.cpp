#include "workloads.hpp"

#include <ebm/ad/ops.hpp>
#include <ebm/core/error.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/energy/analytic.hpp>
#include <ebm/energy/mlp.hpp>
#include <ebm/sample/langevin.hpp>
#include <ebm/sample/samplers.hpp>

#include <algorithm>
#include <chrono>
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

}  // namespace

// Single-chain sampling on the 2-D analytic Gaussian: 100000 steps per timed step.
Workload make_single_chain_workload(const std::string& name) {
  auto target = std::make_shared<Gaussian<double>>(RowVec<double>{{0.0, 0.0}}, Mat<double>{{1.0, 0.5}, {0.5, 2.0}});
  Workload w{name, {1, 2, 0}, {}, target};
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
  Workload w{name, shape, {}, st};
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
                            make_single_chain_workload("ula_1chain_x100000"),
                            make_single_chain_workload("mala_1chain_x100000")};
  for (const char* name : {"forward", "grad_x", "double_backward"})
    for (Shape base : {Shape{0, 2, 128}, Shape{0, 64, 256}})
      for (long batch : {1L, 64L, 4096L}) all.push_back(make_engine_workload(name, {batch, base.dim, base.width}));
  return all;
}

Workload make_peer_workload(const std::string& name, Shape shape) {
  if (name != "langevin") throw InvalidArgument("bench: peer workload '" + name + "' is not implemented yet");
  auto st = std::make_shared<MlpState>(shape);
  MlpState* s = st.get();
  Workload w{name, shape, {}, st};
  w.step = [s] {
    s->evaluator.evaluate(s->mlp, s->x, nullptr, &s->score);
    langevin_update<T>(s->x, s->score, T(0.01), 11, s->step++);
  };
  return w;
}

std::vector<Workload> peer_workloads() {
  std::vector<Workload> all;
  for (long batch : {1L, 64L, 4096L, 65536L}) all.push_back(make_peer_workload("langevin", {batch, 2, 128}));
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
