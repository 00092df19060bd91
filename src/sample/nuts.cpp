#include <ebm/sample/hmc.hpp>

#include "chains.hpp"

#include <bit>
#include <cmath>
#include <limits>

namespace ebm {
namespace {

template <class T>
T log_add(T a, T b) {
  if (a == -std::numeric_limits<T>::infinity()) return b;
  if (b == -std::numeric_limits<T>::infinity()) return a;
  return a > b ? a + std::log1p(std::exp(b - a)) : b + std::log1p(std::exp(a - b));
}

// One chain's trajectory during one update. Leaves are added one at a time to the subtree in
// progress (2^depth leaves in direction dir); a finished subtree is merged into the tree.
template <class T>
struct Tree {
  T h0 = 0;
  RowVec<T> x_minus, p_minus, s_minus, x_plus, p_plus, s_plus;  // the two ends
  RowVec<T> rho;                       // sum of the momenta of the tree's leaves
  T log_weight = 0;                    // log sum over the leaves of exp(H0 - H)
  RowVec<T> x_draw, s_draw;
  T e_draw = 0;
  int depth = 0;
  // the subtree in progress
  int dir = 1;
  Index size = 1, built = 0;
  RowVec<T> rho_sub, x_sub, s_sub, p_sub_first, p_prev, p_old_near;
  T log_weight_sub = 0, e_sub = 0;
  std::vector<RowVec<T>> ckpt_p, ckpt_rho, ckpt_prev;  // per checkpoint: first leaf's p, rho up to it, p before it
  T sum_prob = 0;
  int leaves = 0;
  bool divergent = false, done = false;
  std::uint64_t draws = 0;             // multinomial uniforms used at (update, Tree)
};

// Uniform i at (update, Tree): the direction of doubling j is number j, the multinomial
// choices follow from kChoices on (so a tree's shape depends on the directions alone).
constexpr std::uint64_t kChoices = 64;

}  // namespace

template <class T>
void NutsKernel<T>::transition(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index k, const Vec<T>& h,
                               StepInfo<T>& info) {
  const Index n = s.chains(), d = s.dim();
  const auto& set = this->settings_;
  std::vector<Tree<T>> trees(static_cast<std::size_t>(n));
  Mat<T> x = s.x, p(n, d), score = s.score;  // the leaf being integrated, per chain
  Vec<T> energy = s.energy;
  std::vector<T> step(static_cast<std::size_t>(n), T(0)), z(static_cast<std::size_t>(d));
  RowVec<T> va(d), vb(d);
  info.acceptance = Vec<T>::Zero(n);
  info.hamiltonian = Vec<T>::Constant(n, std::numeric_limits<T>::quiet_NaN());
  info.divergent.assign(static_cast<std::size_t>(n), 0);
  info.tree_depth.assign(static_cast<std::size_t>(n), 0);
  info.gradients.assign(static_cast<std::size_t>(n), 0);

  // The generalised criterion (Betancourt 2017): the span from a to b keeps going while both
  // ends' velocities M^-1 p point along rho, the span's summed momentum.
  auto turning = [&](Index c, const RowVec<T>& pa, const RowVec<T>& pb, const RowVec<T>& rho) {
    this->velocity(c, pa.data(), va.data());
    this->velocity(c, pb.data(), vb.data());
    return !(va.dot(rho) > T(0) && vb.dot(rho) > T(0));
  };
  auto uniform = [&](Index c, Tree<T>& t) { return streams.uniform(c, k, DrawPurpose::Tree, kChoices + t.draws++); };
  auto start_subtree = [&](Index c, Tree<T>& t) {
    t.dir = streams.uniform(c, k, DrawPurpose::Tree, static_cast<std::uint64_t>(t.depth)) > 0.5 ? 1 : -1;
    t.size = Index(1) << t.depth;
    t.built = 0;
    t.p_old_near = t.dir > 0 ? t.p_plus : t.p_minus;
    x.row(c) = t.dir > 0 ? t.x_plus : t.x_minus;
    p.row(c) = t.p_old_near;
    score.row(c) = t.dir > 0 ? t.s_plus : t.s_minus;
    step[static_cast<std::size_t>(c)] = T(t.dir) * h(c);
  };
  // Adds the leaf now in row c; returns false when the trajectory is finished.
  auto add_leaf = [&](Index c, Tree<T>& t) {
    T h1 = energy(c) + this->kinetic(c, p.row(c).data());
    if (std::isnan(h1) || !sample_detail::finite_row(score, c)) h1 = std::numeric_limits<T>::infinity();
    ++t.leaves;
    t.sum_prob += t.h0 - h1 > T(0) ? T(1) : std::exp(t.h0 - h1);
    if (h1 - t.h0 > set.max_energy_error) {
      t.divergent = true;
      return false;
    }
    const T lw = t.h0 - h1;
    const RowVec<T> pc = p.row(c);
    const Index i_leaf = t.built;
    if (i_leaf == 0) {
      t.rho_sub = pc;
      t.log_weight_sub = lw;
      t.x_sub = x.row(c);
      t.s_sub = score.row(c);
      t.e_sub = energy(c);
      t.p_sub_first = pc;
    } else {
      t.log_weight_sub = log_add(t.log_weight_sub, lw);
      if (uniform(c, t) < double(std::exp(lw - t.log_weight_sub))) {  // multinomial within the subtree
        t.x_sub = x.row(c);
        t.s_sub = score.row(c);
        t.e_sub = energy(c);
      }
      t.rho_sub += pc;
    }
    if (t.dir > 0) {
      t.x_plus = x.row(c), t.p_plus = pc, t.s_plus = score.row(c);
    } else {
      t.x_minus = x.row(c), t.p_minus = pc, t.s_minus = score.row(c);
    }
    // Checkpoints (NumPyro's iterative NUTS): the leaf with index n, even, starts the binary
    // subtrees that end at the odd leaves with trailing ones; checkpoint popcount(n >> 1).
    const auto u = static_cast<std::uint64_t>(i_leaf);
    const int top = std::popcount(u >> 1);
    bool turned = false;
    if (i_leaf % 2 == 0) {
      const auto slot = static_cast<std::size_t>(top);
      t.ckpt_p[slot] = pc;
      t.ckpt_rho[slot] = t.rho_sub;
      t.ckpt_prev[slot] = i_leaf == 0 ? t.p_old_near : t.p_prev;
    } else {
      const int spans = std::countr_one(u);
      for (int i = top; i > top - spans && !turned; --i) {
        const auto slot = static_cast<std::size_t>(i);
        const RowVec<T> rho = t.rho_sub - t.ckpt_rho[slot] + t.ckpt_p[slot];
        turned = turning(c, t.ckpt_p[slot], pc, rho);
        if (turned || i == top) continue;
        // Stan's checks across the span's halves: left half plus the right's first leaf, and
        // the left's last leaf plus the right half.
        const auto mid = slot + 1;
        const RowVec<T> rho_right = t.rho_sub - t.ckpt_rho[mid] + t.ckpt_p[mid];
        turned = turning(c, t.ckpt_p[slot], t.ckpt_p[mid], rho - rho_right + t.ckpt_p[mid]) ||
                 turning(c, t.ckpt_prev[mid], pc, t.ckpt_prev[mid] + rho_right);
      }
    }
    t.p_prev = pc;
    ++t.built;
    if (turned) return false;
    if (t.built < t.size) return true;
    // Merge the finished subtree: the draw moves to it with probability w_sub / w_tree
    // (Stan's biased progressive sampling, favouring the new half).
    ++t.depth;
    if (t.log_weight_sub > t.log_weight || uniform(c, t) < double(std::exp(t.log_weight_sub - t.log_weight))) {
      t.x_draw = t.x_sub;
      t.s_draw = t.s_sub;
      t.e_draw = t.e_sub;
    }
    t.log_weight = log_add(t.log_weight, t.log_weight_sub);
    const RowVec<T> rho_old = t.rho;
    t.rho += t.rho_sub;
    const RowVec<T>& p_far = t.dir > 0 ? t.p_minus : t.p_plus;
    if (turning(c, t.p_minus, t.p_plus, t.rho) || turning(c, p_far, t.p_sub_first, rho_old + t.p_sub_first) ||
        turning(c, t.p_old_near, pc, t.p_old_near + t.rho_sub))
      return false;
    if (t.depth >= set.max_depth) return false;
    start_subtree(c, t);
    return true;
  };

  std::vector<Index> moving;
  for (Index c = 0; c < n; ++c) {
    if (!s.alive[static_cast<std::size_t>(c)]) continue;
    Tree<T>& t = trees[static_cast<std::size_t>(c)];
    streams.normal<T>(c, k, DrawPurpose::Momentum, std::span<T>(z));
    this->momentum_from_normals(c, z.data(), p.row(c).data());
    t.h0 = s.energy(c) + this->kinetic(c, p.row(c).data());
    t.x_minus = t.x_plus = t.x_draw = s.x.row(c);
    t.p_minus = t.p_plus = t.rho = p.row(c);
    t.s_minus = t.s_plus = t.s_draw = s.score.row(c);
    t.e_draw = s.energy(c);
    t.ckpt_p.assign(static_cast<std::size_t>(set.max_depth), RowVec<T>());
    t.ckpt_rho = t.ckpt_prev = t.ckpt_p;
    start_subtree(c, t);
    moving.push_back(c);
  }
  while (!moving.empty()) {
    this->leapfrog(moving, step, x, p, score, energy, target);
    std::vector<Index> next;
    for (Index c : moving)
      if (add_leaf(c, trees[static_cast<std::size_t>(c)])) next.push_back(c);
    moving = std::move(next);
  }
  for (Index c = 0; c < n; ++c) {
    if (!s.alive[static_cast<std::size_t>(c)]) continue;
    const Tree<T>& t = trees[static_cast<std::size_t>(c)];
    s.x.row(c) = t.x_draw;
    s.score.row(c) = t.s_draw;
    s.energy(c) = t.e_draw;
    info.acceptance(c) = t.sum_prob / T(t.leaves);
    info.hamiltonian(c) = t.h0;
    info.divergent[static_cast<std::size_t>(c)] = t.divergent;
    info.tree_depth[static_cast<std::size_t>(c)] = t.depth;
    info.gradients[static_cast<std::size_t>(c)] = t.leaves;
  }
}

template class NutsKernel<float>;
template class NutsKernel<double>;

}  // namespace ebm
