#include <ebm/core/check.hpp>
#include <ebm/sample/underdamped.hpp>

#include "chains.hpp"

#include <cmath>

namespace ebm {

template <class T>
void UnderdampedSettings<T>::validate() const {
  const char* where = "ebm::UnderdampedSettings";
  require(std::isfinite(step_size) && step_size > T(0), where,
          [&] { return "step_size must be positive, got " + sample_detail::value_text(step_size); });
  require(std::isfinite(friction) && friction > T(0), where,
          [&] { return "friction must be positive, got " + sample_detail::value_text(friction); });
}

template <class T>
UnderdampedKernel<T>::UnderdampedKernel(UnderdampedSettings<T> settings) : settings_(settings) {
  settings_.validate();
}

template <class T>
void UnderdampedKernel<T>::init(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index) {
  const Index n = s.chains(), d = s.dim();
  momentum_.resize(n, d);
  for (Index c = 0; c < n; ++c)
    streams.rng(c).normal<T>(static_cast<std::uint64_t>(DrawPurpose::Init) | 1, std::span<T>(momentum_.row(c).data(), d));
  evaluate_state(s, target, true);
}

template <class T>
void UnderdampedKernel<T>::step(ChainState<T>& s, Target<T>& target, const ChainStreams& streams, Index k, StepInfo<T>& info) {
  const Index n = s.chains(), d = s.dim();
  const T h = settings_.step_size, a = std::exp(-settings_.friction * h), b = std::sqrt(T(1) - a * a);
  std::vector<T> z(static_cast<std::size_t>(d));
  std::vector<Index> moving;
  for (Index c = 0; c < n; ++c) {
    if (!s.alive[static_cast<std::size_t>(c)]) continue;
    streams.normal<T>(c, k, DrawPurpose::Noise, std::span<T>(z));
    for (Index j = 0; j < d; ++j) {
      T& p = momentum_(c, j);
      T& x = s.x(c, j);
      p += T(0.5) * h * s.score(c, j);           // B
      x += T(0.5) * h * p;                        // A
      p = a * p + b * z[static_cast<std::size_t>(j)];  // O
      x += T(0.5) * h * p;                        // A
    }
    moving.push_back(c);
  }
  target.evaluate_rows(s.x, moving, &s.energy, s.score);
  info.gradients.assign(static_cast<std::size_t>(n), 1);
  for (Index c : moving) {
    for (Index j = 0; j < d; ++j) momentum_(c, j) += T(0.5) * h * s.score(c, j);  // B
    if (!std::isfinite(s.energy(c)) || !sample_detail::finite_row(s.score, c) || !sample_detail::finite_row(s.x, c) ||
        !sample_detail::finite_row(momentum_, c))
      s.alive[static_cast<std::size_t>(c)] = 0;
  }
}

template struct UnderdampedSettings<float>;
template struct UnderdampedSettings<double>;
template class UnderdampedKernel<float>;
template class UnderdampedKernel<double>;

}  // namespace ebm
