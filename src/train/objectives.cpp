#include <ebm/train/objectives.hpp>

#include <ebm/ad/ops.hpp>
#include <ebm/core/check.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/sample/samplers.hpp>

#include <Eigen/QR>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <numeric>

namespace ebm {
namespace {

using ad::Trans;

// Families of the objective's random streams. Per-row draws come from stream (family, global row
// of the batch), so a row's noise is the same whichever process or block evaluates it; the
// counter is the training step.
enum Stream : std::uint64_t {
  kProjections = 1,
  kDenoisingNoise = 2,
  kDenoisingLevel = 3,
  kNegativeInit = 4,
  kBufferPick = 5,
  kBufferRestart = 6,
  kBufferInit = 7,
};

std::uint64_t splitmix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

CounterRng row_rng(std::uint64_t seed, Stream family, Index row) {
  return CounterRng(seed, (std::uint64_t(family) << 56) | static_cast<std::uint64_t>(row));
}

// Row i of m (rows x cols): the normal draws of global row first_row + i.
template <class T>
void fill_normal_rows(std::uint64_t seed, Stream family, Index first_row, std::uint64_t counter, Mat<T>& m) {
  row_rng(seed, family, first_row)
      .normal_rows<T>(counter, static_cast<std::size_t>(m.cols()), std::span<T>(m.data(), static_cast<std::size_t>(m.size())));
}

// v[i]: the uniform draw of global row first_row + i.
template <class T>
void fill_uniform_rows(std::uint64_t seed, Stream family, Index first_row, std::uint64_t counter, std::vector<T>& v) {
  for (std::size_t i = 0; i < v.size(); ++i)
    row_rng(seed, family, first_row + static_cast<Index>(i)).uniform<T>(counter, std::span<T>(&v[i], 1));
}

template <class T>
ad::Var<T> energy_gradient(ad::Tape<T>& t, const Model<T>& model, ad::Var<T> x, const std::vector<ad::Var<T>>& params) {
  const ad::Var<T> e = model.energy(x, params);
  return t.grad(ad::sum(e), {x}, {.create_graph = true})[0];
}

// -Lap E + 1/2 |grad E|^2 summed over the batch, by D backward passes through grad E.
template <class T>
ad::Var<T> naive_sm_sum(ad::Tape<T>& t, const Model<T>& model, const Mat<T>& x, const std::vector<ad::Var<T>>& params) {
  const ad::Var<T> xv = t.variable_ref(x);
  const ad::Var<T> g = energy_gradient(t, model, xv, params);
  ad::Var<T> laplacian;
  for (Index d = 0; d < x.cols(); ++d) {
    const ad::Var<T> row = t.grad(ad::sum(ad::slice_cols(g, d, 1)), {xv}, {.create_graph = true})[0];
    const ad::Var<T> diag = ad::slice_cols(row, d, 1);
    laplacian = laplacian.valid() ? laplacian + diag : diag;
  }
  return ad::sum(ad::square(g)) * T(0.5) - ad::sum(laplacian);
}

// An orthonormal basis (D x H) of a space holding the rows of w (H x D, H < D): Householder QR
// of w^T, whose first H columns of Q span w^T's columns whatever w's rank.
template <class T>
Mat<T> row_space_basis(const Mat<T>& w) {
  const Eigen::MatrixXd wt = w.transpose().template cast<double>();
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(wt);
  const Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(wt.rows(), wt.cols());
  return q.template cast<T>();
}

// The same sum with the Laplacian propagated forward through the MLP (docs/training.md):
// per sample a k x H Jacobian block J (rows: input directions) and a 1 x H Laplacian,
//   linear:     J <- J W^T,            Lap <- Lap W^T
//   activation: J <- act'(z) * J,      Lap <- act'(z) * Lap + act''(z) * colsum(J^2)
// stacked over the batch as (N k) x H matrices, so each layer is one matrix product. The loss
// sees J only through J J^T, so when D exceeds the first width H0 the input directions are
// replaced by an orthonormal basis Q (D x H0) of W0's row space: K = Q^T W0^T has K^T K = W0 W0^T
// and k = H0 rows instead of D. Q is held constant: the parameter gradient stays exact because
// W0 Q Q^T = W0.
// k_block is K (k x H0), a leaf of the tape: its gradient is carried to W0 by the caller.
template <class T>
ad::Var<T> forward_sm_sum(const DenseChain& chain, ad::Var<T> x, ad::Var<T> k_block, const std::vector<ad::Var<T>>& params) {
  const Index n = x.rows(), layers = static_cast<Index>(chain.weight.size());
  const ad::Fn fn = chain.activation;
  const T p = T(chain.activation_param);
  auto weight = [&](Index l) { return params[chain.weight[static_cast<std::size_t>(l)]]; };
  auto bias = [&](Index l) { return params[chain.bias[static_cast<std::size_t>(l)]]; };
  const Index k = k_block.rows();

  ad::Var<T> z = ad::linear(x, weight(0), bias(0));
  ad::Var<T> jac = ad::repeat_rows(ad::apply(fn, z, 1, p), k) * ad::tile_rows(k_block, n);
  ad::Var<T> lap = ad::apply(fn, z, 2, p) * ad::col_sums(ad::square(k_block));
  for (Index l = 1; l + 1 < layers; ++l) {
    const ad::Var<T> w = weight(l);
    z = ad::linear(ad::apply(fn, z, 0, p), w, bias(l));
    const ad::Var<T> jac_z = ad::matmul(jac, w, Trans::No, Trans::Yes);
    const ad::Var<T> d1 = ad::apply(fn, z, 1, p);
    lap = d1 * ad::matmul(lap, w, Trans::No, Trans::Yes) +
          ad::apply(fn, z, 2, p) * ad::segment_sum_rows(ad::square(jac_z), k);
    jac = ad::repeat_rows(d1, k) * jac_z;
  }
  const ad::Var<T> w_out = weight(layers - 1);
  const ad::Var<T> grad_e = ad::matmul(jac, w_out, Trans::No, Trans::Yes);  // (N k) x 1
  const ad::Var<T> lap_e = ad::matmul(lap, w_out, Trans::No, Trans::Yes);   // N x 1
  return ad::sum(ad::square(grad_e)) * T(0.5) - ad::sum(lap_e);
}

// Sliced score matching's sum propagated forward through the MLP: each row's projection v is
// its input tangent, and per row
//   linear:     t <- t W^T,  c <- c W^T
//   activation: c <- act'(z) c + act''(z) t^2,  t <- act'(z) t
// so that at the output t w^T = v . grad E and c w^T = v^T (Hess E) v: one forward pass of three
// streams instead of a second backward pass through the first. With variance_reduced, |grad E|^2
// comes from one backward pass of the forward stream. Returns 1/2 |.|^2 - v^T H v summed over rows.
template <class T>
ad::Var<T> forward_sliced_sum(ad::Tape<T>& tape, const DenseChain& chain, ad::Var<T> x, ad::Var<T> v,
                              const std::vector<ad::Var<T>>& params, bool variance_reduced) {
  const Index layers = static_cast<Index>(chain.weight.size());
  const ad::Fn fn = chain.activation;
  const T p = T(chain.activation_param);
  auto weight = [&](Index l) { return params[chain.weight[static_cast<std::size_t>(l)]]; };
  auto bias = [&](Index l) { return params[chain.bias[static_cast<std::size_t>(l)]]; };

  ad::Var<T> z = ad::linear(x, weight(0), bias(0));
  ad::Var<T> t_z = ad::matmul(v, weight(0), Trans::No, Trans::Yes);
  ad::Var<T> d1 = ad::apply(fn, z, 1, p);
  ad::Var<T> c = ad::apply(fn, z, 2, p) * ad::square(t_z);
  ad::Var<T> t = d1 * t_z;
  for (Index l = 1; l + 1 < layers; ++l) {
    const ad::Var<T> w = weight(l);
    z = ad::linear(ad::apply(fn, z, 0, p), w, bias(l));
    t_z = ad::matmul(t, w, Trans::No, Trans::Yes);
    d1 = ad::apply(fn, z, 1, p);
    c = d1 * ad::matmul(c, w, Trans::No, Trans::Yes) + ad::apply(fn, z, 2, p) * ad::square(t_z);
    t = d1 * t_z;
  }
  const ad::Var<T> w_out = weight(layers - 1);
  const ad::Var<T> curvature = ad::matmul(c, w_out, Trans::No, Trans::Yes);  // N x 1: v^T H v
  ad::Var<T> norm;
  if (variance_reduced) {
    const ad::Var<T> e = ad::linear(ad::apply(fn, z, 0, p), w_out, bias(layers - 1));
    norm = ad::sum(ad::square(tape.grad(ad::sum(e), {x}, {.create_graph = true})[0]));
  } else {
    norm = ad::sum(ad::square(ad::matmul(t, w_out, Trans::No, Trans::Yes)));  // (v . grad E)^2
  }
  return norm * T(0.5) - ad::sum(curvature);
}

template <class T>
void require_smooth(const Model<T>& model, std::string_view objective) {
  if (model.conditional())
    throw InvalidArgument(std::string(objective) + ": the model is noise-conditional; train it with dsm over a noise ladder");
  const std::string issue = model.second_order_issue();
  if (!issue.empty()) {
    throw InvalidArgument(std::string(objective) + ": the model uses " + issue +
                          ", so the Laplacian term vanishes and the loss has no minimum; use a smooth activation "
                          "(softplus, silu, tanh, gelu, elu) or denoising score matching / cd");
  }
}

template <class T>
std::vector<Mat<T>> gradients_of(ad::Tape<T>& t, ad::Var<T> loss, const std::vector<ad::Var<T>>& params) {
  const auto grads = t.grad(loss, std::span<const ad::Var<T>>(params.data(), params.size()));
  std::vector<Mat<T>> out;
  out.reserve(grads.size());
  for (const auto& g : grads) out.emplace_back(g.value());
  return out;
}

template <class T>
LossResult<T> finish(ad::Tape<T>& t, ad::Var<T> loss, const std::vector<ad::Var<T>>& params, bool with_gradient) {
  LossResult<T> r;
  r.loss = loss.item();
  if (!std::isfinite(r.loss)) throw NumericalError("objective: the loss is not finite (" + std::to_string(r.loss) + ")");
  if (with_gradient) r.gradients = gradients_of(t, loss, params);
  return r;
}

// The forward route over blocks of samples, the loss and gradient summed in block order. A
// block's stacked Jacobians ((samples k) x width per layer) hold at most about this many
// numbers, so the element-wise passes over them run in cache rather than main memory. K is
// computed once; each block adds its gradient to dK, carried to W0 at the end.
constexpr Index kForwardBlockNumbers = Index{1} << 16;

template <class T>
LossResult<T> forward_exact_loss(ad::Tape<T>& t, const Model<T>& model, const DenseChain& chain, const Mat<T>& x,
                                 Index total_rows, bool with_gradient) {
  const std::vector<ParameterSpec> specs = model.parameter_specs();
  t.reset();
  const Mat<T> w0 = model.bind(t, false)[chain.weight[0]].value();
  const Index n = x.rows(), d = x.cols(), h0 = w0.rows();
  const Mat<T> basis = d > h0 ? row_space_basis(w0) : Mat<T>();
  const Mat<T> k_value = basis.size() > 0 ? Mat<T>(basis.transpose() * w0.transpose()) : Mat<T>(w0.transpose());
  Index width = 1;
  for (std::size_t l = 0; l + 1 < chain.weight.size(); ++l) width = std::max(width, specs[chain.weight[l]].rows);
  const Index per_block = std::max<Index>(1, kForwardBlockNumbers / (k_value.rows() * width));
  LossResult<T> r;
  double sum = 0;
  Mat<T> block;
  for (Index b0 = 0; b0 < n; b0 += per_block) {
    block = x.middleRows(b0, std::min(per_block, n - b0));
    t.reset();
    auto leaves = model.bind(t, true);
    const ad::Var<T> k_block = t.variable_ref(k_value);
    const ad::Var<T> block_sum = forward_sm_sum(chain, t.constant_ref(block), k_block, leaves) * (T(1) / T(total_rows));
    sum += static_cast<double>(block_sum.item());
    if (!with_gradient) continue;
    leaves.push_back(k_block);
    auto grads = gradients_of(t, block_sum, leaves);
    if (r.gradients.empty()) r.gradients = std::move(grads);
    else
      for (std::size_t i = 0; i < grads.size(); ++i) r.gradients[i] += grads[i];
  }
  r.loss = static_cast<T>(sum);
  if (!std::isfinite(r.loss)) throw NumericalError("objective: the loss is not finite (" + std::to_string(r.loss) + ")");
  if (with_gradient) {
    // K = Q^T W0^T (or W0^T): dW0 += dK^T Q^T (or dK^T).
    const Mat<T> dk = std::move(r.gradients.back());
    r.gradients.pop_back();
    Mat<T>& dw0 = r.gradients[chain.weight[0]];
    if (basis.size() > 0) dw0.noalias() += dk.transpose() * basis.transpose();
    else dw0 += dk.transpose();
  }
  return r;
}

// The share of a batch of total_rows rows' loss that the rows x contribute.
template <class T>
LossResult<T> exact_loss(ad::Tape<T>& t, const Model<T>& model, const Mat<T>& x, Index total_rows, LaplacianRoute route,
                         bool with_gradient) {
  require_smooth(model, "exact score matching");
  const std::optional<DenseChain> chain = model.dense_chain();
  if (route == LaplacianRoute::Forward)
    require(chain.has_value(), "exact score matching",
            "the forward route needs a plain MLP (linear layers and one activation, a hidden layer at least)");
  if (route != LaplacianRoute::Naive && chain) return forward_exact_loss(t, model, *chain, x, total_rows, with_gradient);
  t.reset();
  const auto params = model.bind(t, true);
  return finish(t, naive_sm_sum(t, model, x, params) * (T(1) / T(total_rows)), params, with_gradient);
}

}  // namespace

std::string_view objective_name(ObjectiveKind kind) {
  switch (kind) {
    case ObjectiveKind::ExactSm: return "sm";
    case ObjectiveKind::SlicedSm: return "ssm";
    case ObjectiveKind::DenoisingSm: return "dsm";
    case ObjectiveKind::Cd: return "cd";
    case ObjectiveKind::Pcd: return "pcd";
  }
  return "sm";
}

ObjectiveKind parse_objective(std::string_view name) {
  for (ObjectiveKind k : {ObjectiveKind::ExactSm, ObjectiveKind::SlicedSm, ObjectiveKind::DenoisingSm,
                          ObjectiveKind::Cd, ObjectiveKind::Pcd})
    if (objective_name(k) == name) return k;
  throw InvalidArgument("objective: unknown name '" + std::string(name) + "' (expected sm, ssm, dsm, cd or pcd)");
}

void ObjectiveOptions::validate() const {
  const char* where = "ObjectiveOptions";
  auto positive = [&](double v, const char* field) {
    require(std::isfinite(v) && v > 0, where, [&] { return std::string(field) + " must be > 0, got " + std::to_string(v); });
  };
  require(projections >= 1, where, [&] { return "projections must be >= 1, got " + std::to_string(projections); });
  positive(sigma, "sigma");
  require(noise_levels >= 1, where, [&] { return "noise_levels must be >= 1, got " + std::to_string(noise_levels); });
  if (noise_levels > 1) {
    require(std::isfinite(sigma_max) && sigma_max > sigma, where,
            [&] { return "sigma_max must exceed sigma (" + std::to_string(sigma) + "), got " + std::to_string(sigma_max); });
  }
  require(langevin_steps >= 1, where, [&] { return "langevin_steps must be >= 1, got " + std::to_string(langevin_steps); });
  positive(langevin_step_size, "langevin_step_size");
  positive(init_scale, "init_scale");
  require(std::isfinite(energy_penalty) && energy_penalty >= 0, where,
          [&] { return "energy_penalty must be >= 0, got " + std::to_string(energy_penalty); });
  require(buffer_size >= 1, where, [&] { return "buffer_size must be >= 1, got " + std::to_string(buffer_size); });
  require(reinit_fraction >= 0 && reinit_fraction <= 1, where,
          [&] { return "reinit_fraction must be in [0, 1], got " + std::to_string(reinit_fraction); });
}

std::vector<double> ObjectiveOptions::noise_ladder() const {
  if (noise_levels == 1) return {sigma};
  std::vector<double> levels(static_cast<std::size_t>(noise_levels));
  const double ratio = std::log(sigma / sigma_max) / double(noise_levels - 1);
  for (Index i = 0; i < noise_levels; ++i) levels[static_cast<std::size_t>(i)] = sigma_max * std::exp(ratio * double(i));
  levels.back() = sigma;
  return levels;
}

template <class T>
LossResult<T> exact_score_matching(const Model<T>& model, const Mat<T>& x, LaplacianRoute route, bool with_gradient) {
  require(x.cols() == model.dim() && x.rows() >= 1, "exact_score_matching", [&] {
    return "batch has shape " + shape_str(x) + ", expected Nx" + std::to_string(model.dim()) + " with N >= 1";
  });
  ad::Tape<T> tape;
  return exact_loss(tape, model, x, x.rows(), route, with_gradient);
}

template <class T>
struct Objective<T>::Impl {
  ObjectiveOptions o;
  Index dim;
  std::uint64_t seed;
  Mat<T> buffer;
  // Tapes for concurrent evaluate_rows calls (blocks on several threads): a tape is scratch
  // memory, so which one a call gets does not change its result.
  std::mutex mutex;  // guards spare_tapes, the picks' cache and the lazy creation of the buffer
  std::vector<std::unique_ptr<ad::Tape<T>>> spare_tapes;
  std::vector<Index> picks;  // batch_picks' cache, of step picks_step
  std::uint64_t picks_step = 0;

  std::unique_ptr<ad::Tape<T>> take_tape() {
    std::lock_guard lock(mutex);
    if (spare_tapes.empty()) return std::make_unique<ad::Tape<T>>();
    std::unique_ptr<ad::Tape<T>> t = std::move(spare_tapes.back());
    spare_tapes.pop_back();
    return t;
  }
  // The buffer's initial chains, made when first needed (by any block, on any process).
  void ensure_buffer() {
    std::lock_guard lock(mutex);
    if (buffer.rows() == 0) buffer = noise(o.buffer_size, kBufferInit, 0, 0);
  }
  // The whole batch's picks of the step, made once for all its blocks (each takes its part).
  std::vector<Index> batch_picks(Index count, std::uint64_t step) {
    std::lock_guard lock(mutex);
    if (picks_step != step || static_cast<Index>(picks.size()) != count) {
      picks = pick_chains(count, step);
      picks_step = step;
    }
    return picks;
  }
  void return_tape(std::unique_ptr<ad::Tape<T>> t) {
    std::lock_guard lock(mutex);
    spare_tapes.push_back(std::move(t));
  }

  CounterRng rng(Stream s) const { return CounterRng(seed, s); }

  LossResult<T> sliced(ad::Tape<T>& tape, const Model<T>& model, const Mat<T>& x, Index first_row, Index total_rows, std::uint64_t step,
                       bool with_gradient) {
    require_smooth(model, "sliced score matching");
    const Index m = o.projections, rows = x.rows() * m;
    Mat<T> xr(rows, dim), v(rows, dim);
    for (Index i = 0; i < x.rows(); ++i) xr.middleRows(i * m, m).rowwise() = x.row(i);
    // Row i's m projections are the m x D block of v starting at row i m: one stream per row.
    if (o.projection == ObjectiveOptions::Projection::Gaussian) {
      row_rng(seed, kProjections, first_row)
          .normal_rows<T>(step, static_cast<std::size_t>(m * dim), std::span<T>(v.data(), static_cast<std::size_t>(v.size())));
    } else {
      for (Index i = 0; i < x.rows(); ++i)
        row_rng(seed, kProjections, first_row + i)
            .rademacher<T>(step, std::span<T>(v.data() + i * m * dim, static_cast<std::size_t>(m * dim)));
    }
    tape.reset();
    const auto params = model.bind(tape, true);
    const ad::Var<T> xv = tape.variable_ref(xr), vv = tape.constant_ref(v);
    const std::optional<DenseChain> chain = model.dense_chain();
    if (o.route == LaplacianRoute::Forward)
      require(chain.has_value(), "sliced score matching",
              "the forward route needs a plain MLP (linear layers and one activation, a hidden layer at least)");
    if (o.route != LaplacianRoute::Naive && chain) {
      const ad::Var<T> sum = forward_sliced_sum(tape, *chain, xv, vv, params, o.variance_reduced);
      return finish(tape, sum * (T(1) / T(total_rows * m)), params, with_gradient);
    }
    const ad::Var<T> g = energy_gradient(tape, model, xv, params);
    const ad::Var<T> hv = tape.grad(ad::sum(g * vv), {xv}, {.create_graph = true})[0];
    const ad::Var<T> norm = o.variance_reduced ? ad::sum(ad::square(g)) : ad::sum(ad::square(ad::row_sums(g * vv)));
    const ad::Var<T> sum = norm * T(0.5) - ad::sum(hv * vv);
    return finish(tape, sum * (T(1) / T(total_rows * m)), params, with_gradient);
  }

  LossResult<T> denoising(ad::Tape<T>& tape, const Model<T>& model, const Mat<T>& x, Index first_row, Index total_rows, std::uint64_t step,
                          bool with_gradient) {
    const Index n = x.rows();
    Mat<T> eps(n, dim);
    fill_normal_rows(seed, kDenoisingNoise, first_row, step, eps);
    Mat<T> sigma_col(n, 1);
    if (o.noise_levels == 1) {
      sigma_col.setConstant(T(o.sigma));
    } else {
      const std::vector<double> ladder = o.noise_ladder();
      std::vector<T> u(static_cast<std::size_t>(n));
      fill_uniform_rows(seed, kDenoisingLevel, first_row, step, u);
      for (Index i = 0; i < n; ++i) {
        const auto level = std::min<std::size_t>(static_cast<std::size_t>(u[static_cast<std::size_t>(i)] * T(ladder.size())),
                                                 ladder.size() - 1);
        sigma_col(i, 0) = T(ladder[level]);
      }
    }
    const Mat<T> noisy = x + (eps.array().colwise() * sigma_col.col(0).array()).matrix();
    tape.reset();
    const auto params = model.bind(tape, true);
    const ad::Var<T> xv = tape.variable_ref(noisy);
    // A noise-conditional model: E(x | sigma), loss 1/2 |sigma s(x~, sigma) + eps|^2 (NCSN's
    // sigma^2-weighted denoising loss). Unconditional: one level, 1/2 |sigma s + eps|^2; a ladder
    // with E/sigma and weight sigma^2: 1/2 |s + eps|^2.
    const bool conditional = model.conditional();
    const ad::Var<T> e = model.energy(xv, params, conditional ? tape.constant_ref(sigma_col) : ad::Var<T>());
    const ad::Var<T> g = tape.grad(ad::sum(e), {xv}, {.create_graph = true})[0];
    const ad::Var<T> scaled = conditional ? g * tape.constant_ref(sigma_col) : (o.noise_levels == 1 ? g * T(o.sigma) : g);
    const ad::Var<T> residual = tape.constant_ref(eps) - scaled;
    return finish(tape, ad::sum(ad::square(residual)) * (T(0.5) / T(total_rows)), params, with_gradient);
  }

  // k Langevin steps from `start` (chains x D: the chains of global rows first_row, ...) on the
  // current model.
  Mat<T> langevin(const Model<T>& model, const Mat<T>& start, Index first_row, std::uint64_t step) const {
    UlaOptions<T> u;
    u.chains = start.rows();
    u.first_chain = static_cast<std::uint64_t>(first_row);
    u.steps = o.langevin_steps;
    u.burn_in = o.langevin_steps - 1;
    u.step_size = T(o.langevin_step_size);
    u.seed = splitmix64(seed ^ splitmix64(step));
    u.init.kind = Initialization<T>::Kind::Points;
    u.init.points = start;
    return ula<T>(model, u).final_state;
  }

  // N(0, init_scale^2) rows of global rows first_row, ... (the buffer's initial chains: of its rows).
  Mat<T> noise(Index rows, Stream s, Index first_row, std::uint64_t counter) const {
    Mat<T> m(rows, dim);
    fill_normal_rows(seed, s, first_row, counter, m);
    return m * T(o.init_scale);
  }

  // Shares of mean E(data) - mean E(negatives) + alpha (mean E(data)^2 + mean E(negatives)^2):
  // the data means over the batch's total_rows rows, the negatives' over its total_negatives.
  LossResult<T> contrastive(ad::Tape<T>& tape, const Model<T>& model, const Mat<T>& x, Index first_row, Index total_rows, std::uint64_t step,
                            bool with_gradient) {
    if (model.conditional())
      throw InvalidArgument("contrastive divergence: the model is noise-conditional; train it with dsm over a noise ladder");
    const Index n = x.rows();
    Mat<T> negatives;
    Index total_negatives = total_rows;
    std::vector<Index> picked;
    if (o.kind == ObjectiveKind::Pcd && with_gradient) {
      // The chains of the whole batch are picked (the same on every process); these rows take
      // the picks at their own positions, and a batch larger than the buffer has some rows
      // without a chain.
      ensure_buffer();
      total_negatives = std::min(total_rows, buffer.rows());
      const std::vector<Index> all = batch_picks(total_negatives, step);
      const Index count = std::clamp<Index>(total_negatives - first_row, 0, n);
      picked.assign(all.begin() + std::min<Index>(first_row, total_negatives), all.begin() + std::min<Index>(first_row, total_negatives) + count);
      Mat<T> start(count, dim);
      const Mat<T> fresh = noise(count, kBufferRestart, first_row, step);
      std::vector<T> u(picked.size());
      fill_uniform_rows(seed, kBufferRestart, first_row, step | (std::uint64_t(1) << 62), u);
      for (Index i = 0; i < count; ++i) {
        if (u[static_cast<std::size_t>(i)] < T(o.reinit_fraction)) start.row(i) = fresh.row(i);
        else start.row(i) = buffer.row(picked[static_cast<std::size_t>(i)]);
      }
      if (count > 0) negatives = langevin(model, start, first_row, step);
    } else {
      negatives = langevin(model, o.negatives_from_data ? x : noise(n, kNegativeInit, first_row, step), first_row, step);
    }
    tape.reset();
    const auto params = model.bind(tape, true);
    const ad::Var<T> e_data = model.energy(tape.constant_ref(x), params);
    const T data_weight = T(1) / T(total_rows), negative_weight = T(1) / T(total_negatives);
    ad::Var<T> loss = ad::sum(e_data) * data_weight;
    if (o.energy_penalty > 0) loss = loss + ad::sum(ad::square(e_data)) * (data_weight * T(o.energy_penalty));
    ad::Var<T> e_neg;
    if (negatives.rows() > 0) {
      e_neg = model.energy(tape.constant_ref(negatives), params);
      loss = loss - ad::sum(e_neg) * negative_weight;
      if (o.energy_penalty > 0) loss = loss + ad::sum(ad::square(e_neg)) * (negative_weight * T(o.energy_penalty));
    }
    LossResult<T> r = finish(tape, loss, params, with_gradient);
    r.energy_data = ad::sum(e_data).item() * data_weight;
    if (e_neg.valid()) r.energy_negatives = ad::sum(e_neg).item() * negative_weight;
    r.replay_rows = std::move(picked);
    if (!r.replay_rows.empty()) r.negatives = std::move(negatives);
    return r;
  }

  // `count` distinct buffer rows: a partial Fisher-Yates shuffle driven by the step's draws.
  std::vector<Index> pick_chains(Index count, std::uint64_t step) const {
    std::vector<Index> order(static_cast<std::size_t>(buffer.rows()));
    std::iota(order.begin(), order.end(), Index(0));
    std::vector<double> u(static_cast<std::size_t>(count));
    rng(kBufferPick).template uniform<double>(step, std::span<double>(u.data(), u.size()));
    for (Index i = 0; i < count; ++i) {
      const auto left = static_cast<double>(buffer.rows() - i);
      const Index j = i + std::min(static_cast<Index>(u[static_cast<std::size_t>(i)] * left), buffer.rows() - i - 1);
      std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
    }
    order.resize(static_cast<std::size_t>(count));
    return order;
  }
};

template <class T>
Objective<T>::Objective(const ObjectiveOptions& options, Index dim, std::uint64_t seed)
    : impl_(std::make_unique<Impl>()) {
  options.validate();
  require(dim >= 1, "Objective", [&] { return "dim must be >= 1, got " + std::to_string(dim); });
  impl_->o = options;
  impl_->dim = dim;
  impl_->seed = seed;
}

template <class T>
Objective<T>::~Objective() = default;
template <class T>
Objective<T>::Objective(Objective&&) noexcept = default;
template <class T>
Objective<T>& Objective<T>::operator=(Objective&&) noexcept = default;

template <class T>
const ObjectiveOptions& Objective<T>::options() const {
  return impl_->o;
}

template <class T>
LossResult<T> Objective<T>::evaluate(const Model<T>& model, const Mat<T>& batch, std::int64_t step, bool with_gradient) {
  const char* where = "Objective::evaluate";
  require(model.dim() == impl_->dim, where, [&] {
    return "model dimension " + std::to_string(model.dim()) + " differs from the objective's " + std::to_string(impl_->dim);
  });
  require(batch.cols() == impl_->dim && batch.rows() >= 1, where, [&] {
    return "batch has shape " + shape_str(batch) + ", expected Nx" + std::to_string(impl_->dim) + " with N >= 1";
  });
  LossResult<T> r = evaluate_rows(model, batch, 0, batch.rows(), step, with_gradient);
  write_replay(r.replay_rows, r.negatives);
  return r;
}

template <class T>
LossResult<T> Objective<T>::evaluate_rows(const Model<T>& model, const Mat<T>& rows, Index first_row, Index total_rows,
                                          std::int64_t step, bool with_gradient) {
  const char* where = "Objective::evaluate_rows";
  require(model.dim() == impl_->dim, where, [&] {
    return "model dimension " + std::to_string(model.dim()) + " differs from the objective's " + std::to_string(impl_->dim);
  });
  require(rows.cols() == impl_->dim && rows.rows() >= 1, where, [&] {
    return "rows have shape " + shape_str(rows) + ", expected Nx" + std::to_string(impl_->dim) + " with N >= 1";
  });
  require(first_row >= 0 && first_row + rows.rows() <= total_rows, where, [&] {
    return "rows [" + std::to_string(first_row) + ", " + std::to_string(first_row + rows.rows()) +
           ") do not lie in a batch of " + std::to_string(total_rows);
  });
  const auto counter = static_cast<std::uint64_t>(step);
  struct Lease {  // the tape goes back to the pool however the call ends
    Impl& impl;
    std::unique_ptr<ad::Tape<T>> tape;
    ~Lease() { impl.return_tape(std::move(tape)); }
  } lease{*impl_, impl_->take_tape()};
  ad::Tape<T>& tape = *lease.tape;
  switch (impl_->o.kind) {
    case ObjectiveKind::ExactSm: return exact_loss(tape, model, rows, total_rows, impl_->o.route, with_gradient);
    case ObjectiveKind::SlicedSm: return impl_->sliced(tape, model, rows, first_row, total_rows, counter, with_gradient);
    case ObjectiveKind::DenoisingSm: return impl_->denoising(tape, model, rows, first_row, total_rows, counter, with_gradient);
    case ObjectiveKind::Cd:
    case ObjectiveKind::Pcd: return impl_->contrastive(tape, model, rows, first_row, total_rows, counter, with_gradient);
  }
  throw InvalidArgument("Objective::evaluate_rows: unknown objective");
}

template <class T>
void Objective<T>::write_replay(const std::vector<Index>& buffer_rows, const Mat<T>& states) {
  require(static_cast<Index>(buffer_rows.size()) == states.rows() || (buffer_rows.empty() && states.size() == 0),
          "Objective::write_replay", "one state per buffer row");
  if (buffer_rows.empty()) return;
  impl_->ensure_buffer();  // a process without blocks of its own has not made it yet
  for (std::size_t i = 0; i < buffer_rows.size(); ++i) impl_->buffer.row(buffer_rows[i]) = states.row(static_cast<Index>(i));
}

template <class T>
const Mat<T>& Objective<T>::replay_buffer() const {
  return impl_->buffer;
}

template <class T>
void Objective<T>::set_replay_buffer(const Mat<T>& buffer) {
  require(buffer.rows() == 0 || (buffer.rows() == impl_->o.buffer_size && buffer.cols() == impl_->dim),
          "Objective::set_replay_buffer", [&] {
            return "buffer has shape " + shape_str(buffer) + ", expected " + std::to_string(impl_->o.buffer_size) + "x" +
                   std::to_string(impl_->dim);
          });
  require_finite(buffer, "Objective::set_replay_buffer", "buffer");
  impl_->buffer = buffer;
}

template class Objective<float>;
template class Objective<double>;
template LossResult<float> exact_score_matching<float>(const Model<float>&, const Mat<float>&, LaplacianRoute, bool);
template LossResult<double> exact_score_matching<double>(const Model<double>&, const Mat<double>&, LaplacianRoute, bool);

}  // namespace ebm
