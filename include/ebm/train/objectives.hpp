#pragma once
// Training objectives: each gives the loss on a batch and its gradient with respect to the
// model's parameters (DESIGN.md sections 2 and 3).
//
//   exact score matching   mean_n [ -Lap E(x_n) + 1/2 |grad_x E(x_n)|^2 ]       (Hyvarinen)
//   sliced                 mean_n,m [ -v^T Hess E v + 1/2 |grad E|^2 ]  (variance-reduced), or
//                          mean_n,m [ -v^T Hess E v + 1/2 (v^T grad E)^2 ]
//   denoising, one sigma   mean_n 1/2 |sigma s(x~_n) + eps_n|^2,  x~ = x + sigma eps
//                          (= 1/2 sigma^2 |s(x~) + (x~ - x)/sigma^2|^2, Vincent 2011)
//   denoising, a ladder    sigma_n drawn from a geometric ladder per point. A noise-conditional
//                          model E(x | sigma_n): mean_n 1/2 |sigma_n s(x~_n, sigma_n) + eps_n|^2
//                          (NCSN); an unconditional one as E(x)/sigma (NCSNv2):
//                          mean_n 1/2 |s(x~_n) + eps_n|^2
//   contrastive divergence mean E(data) - mean E(negatives) + alpha (mean E(data)^2 + mean E(neg)^2),
//                          negatives from k Langevin steps started from noise or from the batch
//   persistent CD          the same with negatives kept in a replay buffer between steps; a
//                          fraction of the chains drawn each step restart from noise. A loss
//                          evaluated without gradient (held-out data) uses CD-k negatives from
//                          noise and leaves the buffer alone.
//
// Randomness (projections, noise, negatives) is a function of (seed, step, global row of the
// batch) only, so a run resumed at step k sees the same draws as an uninterrupted one, and a
// batch split over blocks or processes the same draws as one evaluated whole.
#include <ebm/core/types.hpp>
#include <ebm/train/model.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ebm {

enum class ObjectiveKind { ExactSm, SlicedSm, DenoisingSm, Cd, Pcd };
/// "sm", "ssm", "dsm", "cd" or "pcd".
std::string_view objective_name(ObjectiveKind kind);
ObjectiveKind parse_objective(std::string_view name);

/// How exact and sliced score matching get their second derivatives. Forward: propagated through
/// a model with the DenseChain capability (a plain MLP): for exact SM the Jacobian (or, when D
/// exceeds the first width, a factor of its Gram matrix) and the Laplacian, for sliced SM the
/// projection's tangent and v^T H v; Naive: backward passes through the gradient (any model; the
/// reference in tests): D of them for exact SM, one for sliced. Auto: Forward when the model
/// offers it.
enum class LaplacianRoute { Auto, Forward, Naive };

struct ObjectiveOptions {
  ObjectiveKind kind = ObjectiveKind::ExactSm;
  LaplacianRoute route = LaplacianRoute::Auto;

  // Sliced score matching.
  enum class Projection { Rademacher, Gaussian };
  Projection projection = Projection::Rademacher;
  Index projections = 1;        // M per point
  bool variance_reduced = true;  // 1/2 |s|^2 in place of 1/2 (v^T s)^2

  // Denoising score matching: noise_levels = 1 uses sigma; more use a geometric ladder from
  // sigma_max down to sigma, one level drawn per point.
  double sigma = 0.1;
  Index noise_levels = 1;
  double sigma_max = 1.0;

  // Contrastive divergence: Langevin negatives x <- x - h grad E + sqrt(2h) eps.
  Index langevin_steps = 10;
  double langevin_step_size = 0.01;
  bool negatives_from_data = false;  // CD-k from the batch instead of from noise
  double init_scale = 1.0;           // noise starts: N(0, init_scale^2 I)
  double energy_penalty = 0.0;       // alpha
  Index buffer_size = 10000;         // PCD replay buffer
  double reinit_fraction = 0.05;     // PCD: chains restarted from noise each step

  void validate() const;
  /// The noise levels of the denoising ladder, largest first (one entry for a single level).
  std::vector<double> noise_ladder() const;
  /// The factor turning the trained network's output into the energy of the data: 1 / sigma
  /// for a denoising ladder (the energy at level s is E / s; the smallest level stands for the
  /// data), 1 otherwise (a noise-conditional model is conditioned on sigma instead). Multiply the last layer by it before using the model as the data's
  /// energy; the energy at level s is then the result times sigma / s.
  double data_energy_scale() const { return kind == ObjectiveKind::DenoisingSm && noise_levels > 1 ? 1.0 / sigma : 1.0; }
};

/// Loss on a batch, or a share of it (Objective::evaluate_rows): shares add up to the loss.
template <class T>
struct LossResult {
  T loss = T(0);
  std::vector<Mat<T>> gradients;  // d loss / d parameter, in Model::bind() order (when asked)
  T energy_data = T(0), energy_negatives = T(0);  // CD / PCD only: means (or their shares)
  // PCD with gradient: the replay-buffer rows these rows' chains came from and their new
  // states (replay_rows.size() x D), for Objective::write_replay.
  std::vector<Index> replay_rows;
  Mat<T> negatives;
};

/// An objective bound to a dimension and a seed. Holds the PCD replay buffer and reusable tapes.
/// Not thread-safe; ops inside parallelise.
template <class T>
class Objective {
 public:
  Objective(const ObjectiveOptions& options, Index dim, std::uint64_t seed);
  ~Objective();
  Objective(Objective&&) noexcept;
  Objective& operator=(Objective&&) noexcept;

  const ObjectiveOptions& options() const;
  /// Loss at `batch` (N x D) for training step `step` (which selects the random draws), and its
  /// parameter gradient when `with_gradient`. Throws InvalidArgument for a ReLU MLP with
  /// exact or sliced score matching (its Laplacian is zero almost everywhere).
  LossResult<T> evaluate(const Model<T>& model, const Mat<T>& batch, std::int64_t step, bool with_gradient);
  /// The share of the loss of a batch of `total_rows` rows that its rows [first_row, first_row +
  /// rows.rows()) contribute (`rows`: n x D), and its gradient. The draws are those the rows get
  /// in the whole batch, so evaluating a batch in pieces and adding the shares gives its loss (up
  /// to the order of the sums). PCD: the replay buffer is read, not written; the chains' new
  /// states are returned for write_replay. Calls for different rows may run on several threads
  /// at once (not at once with write_replay or set_replay_buffer).
  LossResult<T> evaluate_rows(const Model<T>& model, const Mat<T>& rows, Index first_row, Index total_rows,
                              std::int64_t step, bool with_gradient);
  /// PCD: stores `states` (buffer_rows.size() x D) as the chains at those buffer rows.
  void write_replay(const std::vector<Index>& buffer_rows, const Mat<T>& states);

  /// The PCD replay buffer (buffer_size x D; empty for other objectives), for checkpoints.
  const Mat<T>& replay_buffer() const;
  void set_replay_buffer(const Mat<T>& buffer);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Exact score-matching loss of an MLP by the given route, and its gradient (for tests and
/// benchmarks; Objective chooses the route itself).
template <class T>
LossResult<T> exact_score_matching(const Model<T>& model, const Mat<T>& x, LaplacianRoute route, bool with_gradient);

extern template class Objective<float>;
extern template class Objective<double>;

}  // namespace ebm
