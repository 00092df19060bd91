#include <ebm/ad/ops.hpp>
#include <ebm/core/check.hpp>
#include <ebm/energy/energy.hpp>

namespace ebm {

template <class T>
void EnergyEvaluator<T>::check_dim(Index dim, const Mat<T>& x) {
  if (x.cols() != dim)
    throw InvalidArgument("ebm::EnergyEvaluator: x has shape " + shape_str(x.rows(), x.cols()) + ", the energy has dim " +
                          std::to_string(dim));
}

template <class T>
void EnergyEvaluator<T>::check_energy_shape(const ad::Var<T>& y, Index n) {
  if (y.rows() != n || y.cols() != 1)
    throw InvalidArgument("ebm::EnergyEvaluator: energy(x) returned shape " + shape_str(y.rows(), y.cols()) +
                          ", expected " + std::to_string(n) + "x1");
}

template <class T>
void EnergyEvaluator<T>::score_into(const ad::Var<T>& y, const ad::Var<T>& x, Mat<T>& out) {
  const ad::Var<T> g = tape_.grad(ad::sum(y), {x})[0];
  out.resize(g.rows(), g.cols());
  out = -g.value();
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
