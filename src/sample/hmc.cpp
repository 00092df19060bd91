#include <ebm/sample/hmc.hpp>

#include "chains.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ebm {

template <class T>
void HmcKernel<T>::transition(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index k, const Vec<T>& h,
                              StepInfo<T>& info) {
  const Index n = s.chains(), d = s.dim();
  const auto& set = this->settings_;
  q_ = s.x;
  score_ = s.score;
  energy_ = s.energy;
  p_.resize(n, d);
  info.acceptance = Vec<T>::Zero(n);
  info.hamiltonian = Vec<T>::Constant(n, std::numeric_limits<T>::quiet_NaN());
  info.accepted.assign(static_cast<std::size_t>(n), 0);
  info.divergent.assign(static_cast<std::size_t>(n), 0);
  info.gradients.assign(static_cast<std::size_t>(n), 0);

  std::vector<T> z(static_cast<std::size_t>(d)), step(static_cast<std::size_t>(n));
  std::vector<Index> steps(static_cast<std::size_t>(n), 0), moving;
  Index longest = 0;
  for (Index c = 0; c < n; ++c) {
    if (!s.alive[static_cast<std::size_t>(c)]) continue;
    streams.normal<T>(c, k, DrawPurpose::Momentum, std::span<T>(z));
    this->momentum_from_normals(c, z.data(), p_.row(c).data());
    info.hamiltonian(c) = s.energy(c) + this->kinetic(c, p_.row(c).data());
    Index l = std::max<Index>(1, static_cast<Index>(std::floor(set.path_length / h(c))));
    if (set.jitter_path) l = 1 + std::min<Index>(2 * l - 2, static_cast<Index>(streams.uniform(c, k, DrawPurpose::Jitter, 1) * double(2 * l - 1)));
    steps[static_cast<std::size_t>(c)] = l;
    step[static_cast<std::size_t>(c)] = h(c);
    longest = std::max(longest, l);
  }
  std::vector<char> diverged(static_cast<std::size_t>(n), 0);
  for (Index i = 0; i < longest; ++i) {
    moving.clear();
    for (Index c = 0; c < n; ++c)
      if (steps[static_cast<std::size_t>(c)] > i && !diverged[static_cast<std::size_t>(c)]) moving.push_back(c);
    this->leapfrog(moving, step, q_, p_, score_, energy_, target);
    for (Index c : moving) {
      ++info.gradients[static_cast<std::size_t>(c)];
      T h1 = energy_(c) + this->kinetic(c, p_.row(c).data());
      if (std::isnan(h1)) h1 = std::numeric_limits<T>::infinity();
      if (h1 - info.hamiltonian(c) > set.max_energy_error) diverged[static_cast<std::size_t>(c)] = 1;
    }
  }
  for (Index c = 0; c < n; ++c) {
    if (!s.alive[static_cast<std::size_t>(c)]) continue;
    ++this->proposed_[static_cast<std::size_t>(c)];
    info.divergent[static_cast<std::size_t>(c)] = diverged[static_cast<std::size_t>(c)];
    if (diverged[static_cast<std::size_t>(c)] || !sample_detail::finite_row(score_, c)) continue;
    const T log_alpha = info.hamiltonian(c) - energy_(c) - this->kinetic(c, p_.row(c).data());
    if (std::isnan(log_alpha)) continue;
    info.acceptance(c) = std::min(T(1), std::exp(log_alpha));
    if (std::log(streams.uniform(c, k, DrawPurpose::Accept)) < double(log_alpha)) {
      ++this->accepted_[static_cast<std::size_t>(c)];
      info.accepted[static_cast<std::size_t>(c)] = 1;
      s.x.row(c) = q_.row(c);
      s.score.row(c) = score_.row(c);
      s.energy(c) = energy_(c);
    }
  }
}

template class HmcKernel<float>;
template class HmcKernel<double>;

}  // namespace ebm
