#include <ebm/ad/ops.hpp>
#include <ebm/core/check.hpp>
#include <ebm/energy/energy.hpp>

namespace ebm {

template <class T>
void EnergyEvaluator<T>::check_dim(Index dim, Index rows, Index cols) {
  if (cols != dim)
    throw InvalidArgument("ebm::EnergyEvaluator: x has shape " + shape_str(rows, cols) + ", the energy has dim " +
                          std::to_string(dim));
}

template <class T>
void EnergyEvaluator<T>::check_energy_shape(const ad::Var<T>& y, Index n) {
  if (y.rows() != n || y.cols() != 1)
    throw InvalidArgument("ebm::EnergyEvaluator: energy(x) returned shape " + shape_str(y.rows(), y.cols()) +
                          ", expected " + std::to_string(n) + "x1");
}

template <class T>
Index EnergyEvaluator<T>::block_rows(Index n) {
  // At most 2048 rows (an MLP layer of width 256 in float is then 2 MiB: one core's L2), and
  // even shares for the threads when that is smaller, but not below 16 rows per block.
  constexpr Index kMaxBlock = 2048, kMinBlock = 16;
  const Index threads = num_threads();
  const Index share = (n + threads - 1) / threads;
  return std::min(kMaxBlock, std::max(kMinBlock, share));
}

template <class T>
std::vector<std::unique_ptr<ad::Tape<T>>> EnergyEvaluator<T>::make_first_tape() {
  std::vector<std::unique_ptr<ad::Tape<T>>> tapes;
  tapes.push_back(std::make_unique<ad::Tape<T>>());
  return tapes;
}

template <class T>
void EnergyEvaluator<T>::prepare_tapes() {
  while (static_cast<int>(tapes_.size()) < num_threads()) tapes_.push_back(std::make_unique<ad::Tape<T>>());
}

template <class T>
void EnergyEvaluator<T>::copy_energies(const ad::Var<T>& y, T* out) {
  if (out) Eigen::Map<Vec<T>>(out, y.rows()) = y.value();
}

template <class T>
void EnergyEvaluator<T>::write_scores(ad::Tape<T>& t, const ad::Var<T>& y, const ad::Var<T>& x, T* out) {
  const ad::Var<T> g = t.grad(ad::sum(y), {x})[0];
  MatMap<T>(out, g.rows(), g.cols()) = -g.value();
}

template <class T>
void AnyEnergy<T>::throw_not_differentiable() {
  throw InvalidArgument("ebm::AnyEnergy::energy: this energy has only closed forms and cannot be recorded on a tape");
}

template class EnergyEvaluator<float>;
template class EnergyEvaluator<double>;
template class AnyEnergy<float>;
template class AnyEnergy<double>;

}  // namespace ebm
