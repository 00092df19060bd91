#pragma once
// Analytic energies: targets with known densities, for testing samplers, training and density
// estimates against exact answers. Each class satisfies both Energy forms (energy/energy.hpp):
// the closed form (fast, used by EnergyEvaluator) and the differentiable one built from ad ops
// (for training objectives, gradients of gradients, and for checking the closed-form score).
//
// The differentiable forms put their parameters on the tape by reference (as Mlp does): the
// energy object must outlive the tape's records. Constructors validate their arguments and
// throw InvalidArgument naming the class and the argument.
//
// Exact samplers are reproducible: sample(n, seed, first) draws row i from
// CounterRng(seed, stream = first + i), so rows do not depend on n or on the thread count, and
// a large sample can be drawn in pieces.
#include <ebm/ad/ops.hpp>
#include <ebm/core/types.hpp>
#include <ebm/energy/energy.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ebm {

namespace detail {
/// The Gaussian quadratic form 0.5 (x - m)^T S^-1 (x - m) and what goes with it, shared by
/// Gaussian and GaussianMixture. `where`, `mean_name` and `cov_name` make the validation messages.
template <class T>
class GaussianTerm {
 public:
  GaussianTerm(RowVec<T> mean, Mat<T> cov, const char* where, const std::string& mean_name,
               const std::string& cov_name);
  Index dim() const { return mean_.cols(); }
  /// 0.5 (x - m)^T P (x - m) for one point x (dim() values).
  T quad(const T* x) const;
  /// out += w * (-P (x - m)): the score of this term, weighted.
  void add_score(const T* x, T w, T* out) const;
  /// Records the quadratic form of each row of x: N x D -> N x 1.
  ad::Var<T> quad(ad::Var<T> x) const;
  /// x <- m + L x in place, L the Cholesky factor of S (turns standard normals into draws).
  void transform_normals(T* x) const;

  const RowVec<T>& mean() const { return mean_; }
  const Mat<T>& cov() const { return cov_; }
  /// log of the normaliser of exp(-quad): 0.5 log det(2 pi S).
  T log_normalizer() const { return log_normalizer_; }

 private:
  RowVec<T> mean_;
  Mat<T> cov_, precision_, chol_;  // chol_: lower triangular, S = L L^T
  T log_normalizer_;
};
}  // namespace detail

/// N(mean, cov): E(x) = 0.5 (x - m)^T cov^-1 (x - m), without the normaliser (see
/// log_normalizer()). cov must be symmetric positive definite.
template <class T>
class Gaussian {
 public:
  using Scalar = T;
  Gaussian(RowVec<T> mean, Mat<T> cov);

  Index dim() const { return term_.dim(); }
  void energy(const Mat<T>& x, Vec<T>& out) const;
  void score(const Mat<T>& x, Mat<T>& out) const;
  ad::Var<T> energy(ad::Var<T> x) const;

  const RowVec<T>& mean() const { return term_.mean(); }
  const Mat<T>& covariance() const { return term_.cov(); }
  /// log Z = 0.5 log det(2 pi cov), so that log p = -E - log Z.
  T log_normalizer() const { return term_.log_normalizer(); }
  /// n exact draws (n x D); row i from CounterRng(seed, first + i).
  Mat<T> sample(Index n, std::uint64_t seed, std::uint64_t first = 0) const;

 private:
  detail::GaussianTerm<T> term_;
};

/// sum_k w_k N(m_k, S_k): E(x) = -log sum_k w_k N(x; m_k, S_k), normalised (log Z = 0),
/// evaluated by log-sum-exp so that it stays finite far from every component. The weights must
/// be positive and sum to 1 within max(1e-9, K eps); they are then divided by their sum.
template <class T>
class GaussianMixture {
 public:
  using Scalar = T;
  /// weights: K; means: K x D; covs: K matrices D x D, each symmetric positive definite.
  GaussianMixture(Vec<T> weights, const Mat<T>& means, std::vector<Mat<T>> covs);

  Index dim() const { return components_.front().dim(); }
  Index components() const { return static_cast<Index>(components_.size()); }
  void energy(const Mat<T>& x, Vec<T>& out) const;
  /// The responsibility-weighted component scores.
  void score(const Mat<T>& x, Mat<T>& out) const;
  ad::Var<T> energy(ad::Var<T> x) const;

  const Vec<T>& weights() const { return weights_; }
  const RowVec<T>& component_mean(Index k) const { return component(k).mean(); }
  const Mat<T>& component_covariance(Index k) const { return component(k).cov(); }
  /// Mixture moments: sum_k w_k m_k and sum_k w_k (S_k + m_k m_k^T) - mean mean^T.
  RowVec<T> mean() const;
  Mat<T> covariance() const;
  T log_normalizer() const { return T(0); }
  /// n exact draws; row i from CounterRng(seed, first + i): uniform at counter 1 picks the
  /// component, normals at counter 0 place the point.
  Mat<T> sample(Index n, std::uint64_t seed, std::uint64_t first = 0) const;

 private:
  const detail::GaussianTerm<T>& component(Index k) const;
  Vec<T> weights_;
  std::vector<T> offsets_;  // log w_k - log Z_k
  std::vector<detail::GaussianTerm<T>> components_;
};

/// E(x) = a (x_0^2 - c^2)^2 + 0.5 sum_{i>0} x_i^2: two modes at x_0 = +-c separated by a
/// barrier of height a c^4, standard normal in the other coordinates. a > 0, c > 0, dim >= 1.
/// No exact sampler; the mean is 0 by symmetry.
template <class T>
class DoubleWell {
 public:
  using Scalar = T;
  DoubleWell(Index dim, T a, T c);

  Index dim() const { return dim_; }
  T a() const { return a_; }
  T c() const { return c_; }
  void energy(const Mat<T>& x, Vec<T>& out) const;
  void score(const Mat<T>& x, Mat<T>& out) const;
  ad::Var<T> energy(ad::Var<T> x) const;
  RowVec<T> mean() const { return RowVec<T>::Zero(dim_); }

 private:
  Index dim_;
  T a_, c_;
};

/// The Rosenbrock "banana" in 2-D: E(x) = (a - x_0)^2 + b (x_1 - x_0^2)^2, b > 0. Exactly
/// x_0 ~ N(a, 1/2) and x_1 | x_0 ~ N(x_0^2, 1/(2b)).
template <class T>
class Rosenbrock {
 public:
  using Scalar = T;
  Rosenbrock(T a, T b);

  Index dim() const { return 2; }
  void energy(const Mat<T>& x, Vec<T>& out) const;
  void score(const Mat<T>& x, Mat<T>& out) const;
  ad::Var<T> energy(ad::Var<T> x) const;

  /// (a, a^2 + 1/2).
  RowVec<T> mean() const;
  /// [[1/2, a], [a, 1/2 + 2 a^2 + 1/(2b)]].
  Mat<T> covariance() const;
  /// log Z = log(pi / sqrt(b)).
  T log_normalizer() const;
  /// Row i from CounterRng(seed, first + i), two normals at counter 0.
  Mat<T> sample(Index n, std::uint64_t seed, std::uint64_t first = 0) const;

 private:
  T a_, b_;
};

/// A ring in 2-D: E(x) = (||x|| - radius)^2 / (2 width^2), radius > 0, width > 0. The energy is
/// not differentiable at the origin; there the closed-form score is taken to be 0 (autodiff
/// gives a non-finite value).
template <class T>
class Ring {
 public:
  using Scalar = T;
  Ring(T radius, T width);

  Index dim() const { return 2; }
  T radius() const { return radius_; }
  T width() const { return width_; }
  void energy(const Mat<T>& x, Vec<T>& out) const;
  void score(const Mat<T>& x, Mat<T>& out) const;
  ad::Var<T> energy(ad::Var<T> x) const;

  RowVec<T> mean() const { return RowVec<T>::Zero(2); }
  /// E[||x||^2] / 2 times the identity, from the radial density r exp(-E) in closed form (erf).
  Mat<T> covariance() const;
  /// log Z = log(2 pi int_0^inf r exp(-(r - radius)^2 / (2 width^2)) dr).
  T log_normalizer() const;

 private:
  T radius_, width_;
};

/// Neal's funnel in D >= 2 dimensions: v = x_0 ~ N(0, sigma^2), x_i | v ~ N(0, e^v) for
/// i = 1..D-1: E(x) = v^2 / (2 sigma^2) + 0.5 e^{-v} sum_{i>0} x_i^2 + (D - 1) v / 2.
template <class T>
class Funnel {
 public:
  using Scalar = T;
  explicit Funnel(Index dim, T sigma = T(3));

  Index dim() const { return dim_; }
  T sigma() const { return sigma_; }
  void energy(const Mat<T>& x, Vec<T>& out) const;
  void score(const Mat<T>& x, Mat<T>& out) const;
  ad::Var<T> energy(ad::Var<T> x) const;

  RowVec<T> mean() const { return RowVec<T>::Zero(dim_); }
  /// diag(sigma^2, e^{sigma^2/2}, ..., e^{sigma^2/2}).
  Mat<T> covariance() const;
  /// log Z = 0.5 log(2 pi sigma^2) + (D - 1) / 2 log(2 pi).
  T log_normalizer() const;
  /// Row i from CounterRng(seed, first + i), D normals at counter 0.
  Mat<T> sample(Index n, std::uint64_t seed, std::uint64_t first = 0) const;

 private:
  Index dim_;
  T sigma_;
};

/// Throws InvalidArgument unless temperature is finite and > 0.
template <class T>
void check_temperature(T temperature);

/// Any energy at a temperature: p_T proportional to exp(-E / temperature), so the energy and
/// the score are divided by the temperature. Provides whichever forms E provides. T defaults to
/// E::Scalar (the analytic energies define it); write Tempered<Mlp<double>, double> otherwise.
template <class E, class T = typename E::Scalar>
  requires Energy<E, T>
class Tempered {
 public:
  using Scalar = T;
  Tempered(E base, T temperature) : base_(std::move(base)), temperature_(temperature) {
    check_temperature(temperature);
    inverse_ = T(1) / temperature;
  }

  Index dim() const { return static_cast<Index>(base_.dim()); }
  const E& base() const { return base_; }
  T temperature() const { return temperature_; }

  void energy(const Mat<T>& x, Vec<T>& out) const
    requires ClosedFormEnergy<E, T>
  {
    base_.energy(x, out);
    out *= inverse_;
  }
  void score(const Mat<T>& x, Mat<T>& out) const
    requires ClosedFormEnergy<E, T>
  {
    base_.score(x, out);
    out *= inverse_;
  }
  ad::Var<T> energy(ad::Var<T> x) const
    requires DifferentiableEnergy<E, T>
  {
    return base_.energy(x) * inverse_;
  }

 private:
  E base_;
  T temperature_, inverse_;
};

template <class E>
Tempered<E> tempered(E base, typename E::Scalar temperature) {
  return Tempered<E>(std::move(base), temperature);
}

extern template class detail::GaussianTerm<float>;
extern template class Gaussian<float>;
extern template class GaussianMixture<float>;
extern template class DoubleWell<float>;
extern template class Rosenbrock<float>;
extern template class Ring<float>;
extern template class Funnel<float>;
extern template void check_temperature<float>(float);
extern template class detail::GaussianTerm<double>;
extern template class Gaussian<double>;
extern template class GaussianMixture<double>;
extern template class DoubleWell<double>;
extern template class Rosenbrock<double>;
extern template class Ring<double>;
extern template class Funnel<double>;
extern template void check_temperature<double>(double);

}  // namespace ebm
