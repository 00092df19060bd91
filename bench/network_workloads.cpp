// Workloads on networks from architecture files (docs/networks.md): the forward pass, grad_x E,
// and one DSM training step (noise ladder sigma 1 .. 0.01 over 10 levels, the double backward,
// then Adam), as bench/torch_networks.py runs the same network in PyTorch.
#include "workloads.hpp"

#include <ebm/ad/ops.hpp>
#include <ebm/core/error.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/energy/energy.hpp>
#include <ebm/nn/network.hpp>
#include <ebm/train/model.hpp>
#include <ebm/train/objectives.hpp>
#include <ebm/train/optimizer.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ebm::bench {
namespace {

using T = float;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("bench: cannot read architecture file '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

ObjectiveOptions ladder() {
  ObjectiveOptions o;
  o.kind = ObjectiveKind::DenoisingSm;
  o.noise_levels = 10;
  o.sigma = 0.01;
  o.sigma_max = 1;
  return o;
}

struct NetworkState {
  nn::Network<T> net;
  ModelOf<T, nn::Network<T>> model{net};  // refers to net: never moved
  Objective<T> objective;
  Optimizer<T> optimizer{AdamOptions{}};
  ad::Tape<T> tape;
  Mat<T> x, sigma, score;
  std::int64_t step = 0;
  NetworkState(const std::string& architecture, long batch)
      : net(nn::Network<T>::from_json(architecture, 1)), objective(ladder(), net.dim(), 11), x(batch, net.dim()),
        sigma(Mat<T>::Constant(batch, 1, T(0.1))) {
    CounterRng(7, 0).uniform<T>(0, std::span<T>(x.data(), static_cast<std::size_t>(x.size())));
  }
  NetworkState(const NetworkState&) = delete;
  NetworkState& operator=(const NetworkState&) = delete;

  ad::Var<T> record(ad::Var<T> xv, const std::vector<ad::Var<T>>& params) {
    return net.energy(xv, params, net.conditional() ? tape.constant_ref(sigma) : ad::Var<T>());
  }
  void forward() {
    tape.reset();
    ad::NoGrad<T> no_grad(tape);
    volatile T sink = ad::sum(record(tape.constant_ref(x), net.bind(tape, false))).item();
    (void)sink;
  }
  void grad_x() {
    tape.reset();
    const ad::Var<T> xv = tape.variable_ref(x);
    score = tape.grad(ad::sum(record(xv, net.bind(tape, false))), {xv})[0].value();
  }
  void dsm_step() {
    const LossResult<T> r = objective.evaluate(model, x, step++, true);
    net.edit_parameters([&](const std::vector<Mat<T>*>& p) { optimizer.step(p, r.gradients); });
  }
};

}  // namespace

std::vector<Workload> network_workloads(const std::vector<std::string>& architecture_files) {
  std::vector<Workload> all;
  for (const std::string& file : architecture_files) {
    const std::string text = read_text(file), stem = std::filesystem::path(file).stem().string();
    for (long batch : {1L, 32L, 128L}) {
      auto st = std::make_shared<NetworkState>(text, batch);
      NetworkState* s = st.get();
      const Shape shape{batch, s->net.dim(), 0};
      all.push_back({stem + "/forward", shape, [s] { s->forward(); }, st, {}, {}});
      all.push_back({stem + "/grad_x", shape, [s] { s->grad_x(); }, st, {}, {}});
      all.push_back({stem + "/dsm_step", shape, [s] { s->dsm_step(); }, st, {}, {}});
    }
  }
  return all;
}

}  // namespace ebm::bench
