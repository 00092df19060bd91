#include <ebm/ad/ops.hpp>
#include <ebm/core/check.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/energy/analytic.hpp>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>

#include <cmath>
#include <limits>
#include <numbers>
#include <sstream>
#include <string>

namespace ebm {
namespace {

// Rows are independent, so any chunking gives the same bits; small batches stay serial.
constexpr Index kRowChunk = 256;

template <class F>
void for_each_row(Index n, F&& f) {
  parallel_for_chunks(n, kRowChunk, [&f](Index begin, Index end) {
    for (Index i = begin; i < end; ++i) f(i);
  });
}

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// name[i]; appended piecewise, which also avoids a false -Wrestrict from GCC 12 on "[" + s.
std::string indexed(std::string name, Index i) {
  name += '[';
  name += std::to_string(i);
  name += ']';
  return name;
}

[[noreturn]] void fail(const char* where, const std::string& what) {
  throw InvalidArgument(std::string(where) + ": " + what);
}

template <class T>
void require_finite_value(T v, const char* where, const std::string& name) {
  if (!std::isfinite(v)) fail(where, name + " is " + num(double(v)) + ", must be finite");
}

template <class T>
void require_positive(T v, const char* where, const std::string& name) {
  if (!(std::isfinite(v) && v > T(0))) fail(where, name + " is " + num(double(v)) + ", must be finite and > 0");
}

void require_dim(Index dim, Index min, const char* where) {
  if (dim < min) fail(where, "dim is " + std::to_string(dim) + ", must be >= " + std::to_string(min));
}

void require_count(Index n, const char* where) {
  if (n < 0) fail(where, "n is " + std::to_string(n) + ", must be >= 0");
}

template <class T>
void require_cols(const Mat<T>& x, Index dim, const char* where) {
  if (x.cols() != dim)
    fail(where, "x has shape " + shape_str(x.rows(), x.cols()) + ", expected Nx" + std::to_string(dim));
}

template <class T>
void require_cols(const ad::Var<T>& x, Index dim, const char* where) {
  if (x.cols() != dim)
    fail(where, "x has shape " + shape_str(x.rows(), x.cols()) + ", expected Nx" + std::to_string(dim));
}

// Row i of an exact sample: D standard normals from stream first + i at counter 0, then
// `place` turns them into the draw in place (with the rng, for any further draws).
template <class T, class Place>
Mat<T> sample_rows(Index n, Index dim, std::uint64_t seed, std::uint64_t first, Place&& place) {
  Mat<T> out(n, dim);
  for_each_row(n, [&](Index i) {
    const CounterRng rng(seed, first + static_cast<std::uint64_t>(i));
    T* row = &out(i, 0);
    rng.normal<T>(0, std::span<T>(row, static_cast<std::size_t>(dim)));
    place(rng, row);
  });
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// GaussianTerm

template <class T>
detail::GaussianTerm<T>::GaussianTerm(RowVec<T> mean, Mat<T> cov, const char* where, const std::string& mean_name,
                                      const std::string& cov_name)
    : mean_(std::move(mean)), cov_(std::move(cov)) {
  const Index d = mean_.cols();
  if (d < 1) fail(where, mean_name + " is empty");
  for (Index j = 0; j < d; ++j) require_finite_value(mean_(j), where, indexed(mean_name, j));
  if (cov_.rows() != d)
    fail(where, cov_name + " has " + std::to_string(cov_.rows()) + " rows, " + mean_name + " has " + std::to_string(d) +
                    " entries");
  if (cov_.cols() != d)
    fail(where, cov_name + " has " + std::to_string(cov_.cols()) + " columns, " + mean_name + " has " +
                    std::to_string(d) + " entries");
  auto entry = [&](Index i, Index j) { return indexed(indexed(cov_name, i), j); };
  for (Index i = 0; i < d; ++i)
    for (Index j = 0; j < d; ++j) require_finite_value(cov_(i, j), where, entry(i, j));
  // Exact symmetry is too strict for matrices computed in floating point; a few thousand ulp of
  // the largest entry is still far below any meaningful asymmetry.
  const T tol = T(1000) * std::numeric_limits<T>::epsilon() * cov_.cwiseAbs().maxCoeff();
  for (Index i = 0; i < d; ++i)
    for (Index j = i + 1; j < d; ++j)
      if (std::abs(cov_(i, j) - cov_(j, i)) > tol)
        fail(where, cov_name + " is not symmetric: " + entry(i, j) + " = " + num(double(cov_(i, j))) + " but " +
                        entry(j, i) + " = " + num(double(cov_(j, i))));
  cov_ = (cov_ + cov_.transpose()) * T(0.5);
  const Eigen::LLT<Mat<T>> llt(cov_);
  // rcond guards against matrices that are positive definite only through rounding: their
  // precision would be meaningless.
  if (llt.info() != Eigen::Success || !(llt.rcond() > std::numeric_limits<T>::epsilon())) {
    const Eigen::SelfAdjointEigenSolver<Mat<T>> eig(cov_, Eigen::EigenvaluesOnly);
    fail(where, cov_name + " is not positive definite (eigenvalues from " + num(double(eig.eigenvalues()(0))) +
                    " to " + num(double(eig.eigenvalues()(d - 1))) + ")");
  }
  chol_ = llt.matrixL();
  precision_ = llt.solve(Mat<T>::Identity(d, d));
  // Exactly symmetric (a + b == b + a), so the precision is its own transpose on the tape.
  precision_ = (precision_ + precision_.transpose()) * T(0.5);
  const T log_det = T(2) * chol_.diagonal().array().log().sum();
  log_normalizer_ = T(0.5) * (T(d) * std::log(T(2) * std::numbers::pi_v<T>) + log_det);
}

template <class T>
T detail::GaussianTerm<T>::quad(const T* x) const {
  const Index d = dim();
  const T* m = mean_.data();
  T q = 0;
  for (Index j = 0; j < d; ++j) {
    T y = 0;
    for (Index l = 0; l < d; ++l) y += (x[l] - m[l]) * precision_(l, j);
    q += (x[j] - m[j]) * y;
  }
  return T(0.5) * q;
}

template <class T>
void detail::GaussianTerm<T>::add_score(const T* x, T w, T* out) const {
  const Index d = dim();
  const T* m = mean_.data();
  for (Index j = 0; j < d; ++j) {
    T y = 0;
    for (Index l = 0; l < d; ++l) y += (x[l] - m[l]) * precision_(l, j);
    out[j] -= w * y;
  }
}

template <class T>
ad::Var<T> detail::GaussianTerm<T>::quad(ad::Var<T> x) const {
  ad::Tape<T>& tape = *x.tape();
  const Index d = dim();
  const ad::Var<T> m = tape.leaf_ref(mean_.data(), 1, d, false);
  const ad::Var<T> p = tape.leaf_ref(precision_.data(), d, d, false, precision_.data());
  const ad::Var<T> diff = x - m;
  return ad::row_sums(diff * ad::matmul(diff, p)) * T(0.5);
}

template <class T>
void detail::GaussianTerm<T>::transform_normals(T* x) const {
  // Descending, so that the z_l (l < j) still needed by later rows are not yet overwritten.
  for (Index j = dim() - 1; j >= 0; --j) {
    T s = 0;
    for (Index l = 0; l <= j; ++l) s += chol_(j, l) * x[l];
    x[j] = mean_(j) + s;
  }
}

// ---------------------------------------------------------------------------------------------
// Gaussian

template <class T>
Gaussian<T>::Gaussian(RowVec<T> mean, Mat<T> cov)
    : term_(std::move(mean), std::move(cov), "ebm::Gaussian", "mean", "cov") {}

template <class T>
void Gaussian<T>::energy(const Mat<T>& x, Vec<T>& out) const {
  require_cols(x, dim(), "ebm::Gaussian::energy");
  out.resize(x.rows());
  for_each_row(x.rows(), [&](Index i) { out(i) = term_.quad(&x(i, 0)); });
}

template <class T>
void Gaussian<T>::score(const Mat<T>& x, Mat<T>& out) const {
  require_cols(x, dim(), "ebm::Gaussian::score");
  out.setZero(x.rows(), x.cols());
  for_each_row(x.rows(), [&](Index i) { term_.add_score(&x(i, 0), T(1), &out(i, 0)); });
}

template <class T>
ad::Var<T> Gaussian<T>::energy(ad::Var<T> x) const {
  require_cols(x, dim(), "ebm::Gaussian::energy");
  return term_.quad(x);
}

template <class T>
Mat<T> Gaussian<T>::sample(Index n, std::uint64_t seed, std::uint64_t first) const {
  require_count(n, "ebm::Gaussian::sample");
  return sample_rows<T>(n, dim(), seed, first, [this](const CounterRng&, T* row) { term_.transform_normals(row); });
}

// ---------------------------------------------------------------------------------------------
// GaussianMixture

template <class T>
GaussianMixture<T>::GaussianMixture(Vec<T> weights, const Mat<T>& means, std::vector<Mat<T>> covs)
    : weights_(std::move(weights)) {
  constexpr const char* where = "ebm::GaussianMixture";
  const Index k = weights_.size();
  if (k < 1) fail(where, "weights is empty");
  if (means.rows() != k)
    fail(where, "means has " + std::to_string(means.rows()) + " rows, weights has " + std::to_string(k) + " entries");
  if (static_cast<Index>(covs.size()) != k)
    fail(where, "covs has " + std::to_string(covs.size()) + " entries, weights has " + std::to_string(k) + " entries");
  for (Index c = 0; c < k; ++c) require_positive(weights_(c), where, indexed("weights", c));
  const T total = weights_.sum();
  // Weights typed as decimals sum to 1 only up to rounding: that is all the slack allowed.
  const double tol = std::max(1e-9, double(k) * double(std::numeric_limits<T>::epsilon()));
  if (!(std::abs(double(total) - 1.0) <= tol)) {
    std::ostringstream msg;
    msg.precision(15);  // enough to show a miss by 1e-9, without printing rounding noise
    msg << "weights sum to " << double(total) << ", must sum to 1 (within " << num(tol) << ")";
    fail(where, msg.str());
  }
  weights_ /= total;
  components_.reserve(static_cast<std::size_t>(k));
  for (Index c = 0; c < k; ++c) {
    components_.emplace_back(RowVec<T>(means.row(c)), std::move(covs[static_cast<std::size_t>(c)]), where,
                             indexed("means", c), indexed("covs", c));
    offsets_.push_back(std::log(weights_(c)) - components_.back().log_normalizer());
  }
}

template <class T>
const detail::GaussianTerm<T>& GaussianMixture<T>::component(Index k) const {
  require(k >= 0 && k < components(), "ebm::GaussianMixture", [&] {
    return "component " + std::to_string(k) + " out of range (" + std::to_string(components()) + " components)";
  });
  return components_[static_cast<std::size_t>(k)];
}

// Log-sum-exp in one pass over the components (a running maximum, the partial sum rescaled when
// it changes), so nothing is stored per component and no term overflows or all underflow.
template <class T>
void GaussianMixture<T>::energy(const Mat<T>& x, Vec<T>& out) const {
  require_cols(x, dim(), "ebm::GaussianMixture::energy");
  out.resize(x.rows());
  for_each_row(x.rows(), [&](Index i) {
    const T* xi = &x(i, 0);
    T top = -std::numeric_limits<T>::infinity(), sum = 0;
    for (std::size_t c = 0; c < components_.size(); ++c) {
      const T l = offsets_[c] - components_[c].quad(xi);
      if (l > top) {
        sum = sum * std::exp(top - l) + T(1);
        top = l;
      } else {
        sum += std::exp(l - top);
      }
    }
    out(i) = -(top + std::log(sum));
  });
}

template <class T>
void GaussianMixture<T>::score(const Mat<T>& x, Mat<T>& out) const {
  require_cols(x, dim(), "ebm::GaussianMixture::score");
  out.setZero(x.rows(), x.cols());
  for_each_row(x.rows(), [&](Index i) {
    const T* xi = &x(i, 0);
    auto row = out.row(i);
    T top = -std::numeric_limits<T>::infinity(), sum = 0;
    for (std::size_t c = 0; c < components_.size(); ++c) {
      const T l = offsets_[c] - components_[c].quad(xi);
      T w = 1;
      if (l > top) {
        const T scale = std::exp(top - l);
        sum = sum * scale + T(1);
        row *= scale;
        top = l;
      } else {
        w = std::exp(l - top);
        sum += w;
      }
      components_[c].add_score(xi, w, row.data());
    }
    row /= sum;
  });
}

template <class T>
ad::Var<T> GaussianMixture<T>::energy(ad::Var<T> x) const {
  require_cols(x, dim(), "ebm::GaussianMixture::energy");
  ad::Var<T> logs;  // N x K: log w_k N(x; m_k, S_k)
  for (std::size_t c = 0; c < components_.size(); ++c) {
    const ad::Var<T> l = offsets_[c] - components_[c].quad(x);
    logs = c == 0 ? l : ad::concat_cols(logs, l);
  }
  // The row maximum enters as a constant: log-sum-exp does not depend on it mathematically, so
  // the gradient (the softmax) is exact, and it keeps exp from overflowing or all underflowing.
  const Mat<T> top = logs.value().rowwise().maxCoeff();
  const ad::Var<T> shift = x.tape()->constant(top);
  return -(shift + ad::log(ad::row_sums(ad::exp(logs - shift))));
}

template <class T>
RowVec<T> GaussianMixture<T>::mean() const {
  RowVec<T> mu = RowVec<T>::Zero(dim());
  for (std::size_t c = 0; c < components_.size(); ++c) mu += weights_(Index(c)) * components_[c].mean();
  return mu;
}

template <class T>
Mat<T> GaussianMixture<T>::covariance() const {
  const RowVec<T> mu = mean();
  Mat<T> cov = -mu.transpose() * mu;
  for (std::size_t c = 0; c < components_.size(); ++c) {
    const auto& term = components_[c];
    cov += weights_(Index(c)) * (term.cov() + term.mean().transpose() * term.mean());
  }
  return cov;
}

template <class T>
Mat<T> GaussianMixture<T>::sample(Index n, std::uint64_t seed, std::uint64_t first) const {
  require_count(n, "ebm::GaussianMixture::sample");
  return sample_rows<T>(n, dim(), seed, first, [this](const CounterRng& rng, T* row) {
    T u;
    rng.uniform<T>(1, std::span<T>(&u, 1));
    std::size_t c = 0;
    T cum = weights_(0);
    while (c + 1 < components_.size() && !(u < cum)) cum += weights_(Index(++c));
    components_[c].transform_normals(row);
  });
}

// ---------------------------------------------------------------------------------------------
// DoubleWell

template <class T>
DoubleWell<T>::DoubleWell(Index dim, T a, T c) : dim_(dim), a_(a), c_(c) {
  require_dim(dim, 1, "ebm::DoubleWell");
  require_positive(a, "ebm::DoubleWell", "a");
  require_positive(c, "ebm::DoubleWell", "c");
}

template <class T>
void DoubleWell<T>::energy(const Mat<T>& x, Vec<T>& out) const {
  require_cols(x, dim_, "ebm::DoubleWell::energy");
  out.resize(x.rows());
  const T c2 = c_ * c_;
  for_each_row(x.rows(), [&](Index i) {
    const T t = x(i, 0) * x(i, 0) - c2;
    T rest = 0;
    for (Index j = 1; j < dim_; ++j) rest += x(i, j) * x(i, j);
    out(i) = a_ * (t * t) + T(0.5) * rest;
  });
}

template <class T>
void DoubleWell<T>::score(const Mat<T>& x, Mat<T>& out) const {
  require_cols(x, dim_, "ebm::DoubleWell::score");
  out.resize(x.rows(), dim_);
  out.rightCols(dim_ - 1) = -x.rightCols(dim_ - 1);
  const T c2 = c_ * c_;
  for_each_row(x.rows(), [&](Index i) { out(i, 0) = T(-4) * a_ * x(i, 0) * (x(i, 0) * x(i, 0) - c2); });
}

template <class T>
ad::Var<T> DoubleWell<T>::energy(ad::Var<T> x) const {
  require_cols(x, dim_, "ebm::DoubleWell::energy");
  const ad::Var<T> well = ad::square(ad::square(ad::slice_cols(x, 0, 1)) - c_ * c_) * a_;
  if (dim_ == 1) return well;
  return well + ad::row_sums(ad::square(ad::slice_cols(x, 1, dim_ - 1))) * T(0.5);
}

// ---------------------------------------------------------------------------------------------
// Rosenbrock

template <class T>
Rosenbrock<T>::Rosenbrock(T a, T b) : a_(a), b_(b) {
  require_finite_value(a, "ebm::Rosenbrock", "a");
  require_positive(b, "ebm::Rosenbrock", "b");
}

template <class T>
void Rosenbrock<T>::energy(const Mat<T>& x, Vec<T>& out) const {
  require_cols(x, 2, "ebm::Rosenbrock::energy");
  out.resize(x.rows());
  for_each_row(x.rows(), [&](Index i) {
    const T u = a_ - x(i, 0), v = x(i, 1) - x(i, 0) * x(i, 0);
    out(i) = u * u + b_ * (v * v);
  });
}

template <class T>
void Rosenbrock<T>::score(const Mat<T>& x, Mat<T>& out) const {
  require_cols(x, 2, "ebm::Rosenbrock::score");
  out.resize(x.rows(), 2);
  for_each_row(x.rows(), [&](Index i) {
    const T u = a_ - x(i, 0), v = x(i, 1) - x(i, 0) * x(i, 0);
    out(i, 0) = T(2) * u + T(4) * b_ * x(i, 0) * v;
    out(i, 1) = T(-2) * b_ * v;
  });
}

template <class T>
ad::Var<T> Rosenbrock<T>::energy(ad::Var<T> x) const {
  require_cols(x, 2, "ebm::Rosenbrock::energy");
  const ad::Var<T> x0 = ad::slice_cols(x, 0, 1), x1 = ad::slice_cols(x, 1, 1);
  return ad::square(a_ - x0) + ad::square(x1 - ad::square(x0)) * b_;
}

template <class T>
RowVec<T> Rosenbrock<T>::mean() const {
  RowVec<T> m(2);
  m << a_, a_ * a_ + T(0.5);
  return m;
}

// With x_0 ~ N(a, s^2), s^2 = 1/2: Var(x_0^2) = 2 s^4 + 4 a^2 s^2 and Cov(x_0, x_0^2) = 2 a s^2.
template <class T>
Mat<T> Rosenbrock<T>::covariance() const {
  Mat<T> c(2, 2);
  c << T(0.5), a_, a_, T(0.5) + T(2) * a_ * a_ + T(0.5) / b_;
  return c;
}

template <class T>
T Rosenbrock<T>::log_normalizer() const {
  return std::log(std::numbers::pi_v<T>) - T(0.5) * std::log(b_);
}

template <class T>
Mat<T> Rosenbrock<T>::sample(Index n, std::uint64_t seed, std::uint64_t first) const {
  require_count(n, "ebm::Rosenbrock::sample");
  const T s0 = std::sqrt(T(0.5)), s1 = std::sqrt(T(0.5) / b_);
  return sample_rows<T>(n, 2, seed, first, [&](const CounterRng&, T* row) {
    row[0] = a_ + s0 * row[0];
    row[1] = row[0] * row[0] + s1 * row[1];
  });
}

// ---------------------------------------------------------------------------------------------
// Ring

namespace {
// Radial moments M_k = int_0^inf r^k exp(-(r - radius)^2 / (2 width^2)) dr for k = 1, 3, in
// double. With r = radius + width u and alpha = radius / width they reduce to
// I_j = int_{-alpha}^inf u^j e^{-u^2/2} du = (j - 1) I_{j-2} + (-alpha)^{j-1} e^{-alpha^2/2}.
struct RadialMoments {
  double m1, m3;
};
RadialMoments radial_moments(double radius, double width) {
  const double alpha = radius / width, tail = std::exp(-0.5 * alpha * alpha);
  const double i0 = std::sqrt(std::numbers::pi / 2) * std::erfc(-alpha / std::numbers::sqrt2);
  const double i1 = tail, i2 = i0 - alpha * tail, i3 = 2 * i1 + alpha * alpha * tail;
  const double r = radius, s = width;
  return {s * (r * i0 + s * i1), s * (r * r * r * i0 + 3 * r * r * s * i1 + 3 * r * s * s * i2 + s * s * s * i3)};
}
}  // namespace

template <class T>
Ring<T>::Ring(T radius, T width) : radius_(radius), width_(width) {
  require_positive(radius, "ebm::Ring", "radius");
  require_positive(width, "ebm::Ring", "width");
}

template <class T>
void Ring<T>::energy(const Mat<T>& x, Vec<T>& out) const {
  require_cols(x, 2, "ebm::Ring::energy");
  out.resize(x.rows());
  const T k = T(0.5) / (width_ * width_);
  for_each_row(x.rows(), [&](Index i) {
    const T d = std::sqrt(x(i, 0) * x(i, 0) + x(i, 1) * x(i, 1)) - radius_;
    out(i) = d * d * k;
  });
}

template <class T>
void Ring<T>::score(const Mat<T>& x, Mat<T>& out) const {
  require_cols(x, 2, "ebm::Ring::score");
  out.resize(x.rows(), 2);
  const T k = T(1) / (width_ * width_);
  for_each_row(x.rows(), [&](Index i) {
    const T r = std::sqrt(x(i, 0) * x(i, 0) + x(i, 1) * x(i, 1));
    const T f = r > T(0) ? -(r - radius_) * k / r : T(0);
    out(i, 0) = f * x(i, 0);
    out(i, 1) = f * x(i, 1);
  });
}

template <class T>
ad::Var<T> Ring<T>::energy(ad::Var<T> x) const {
  require_cols(x, 2, "ebm::Ring::energy");
  const ad::Var<T> r = ad::sqrt(ad::row_sums(ad::square(x)));
  return ad::square(r - radius_) * (T(0.5) / (width_ * width_));
}

template <class T>
Mat<T> Ring<T>::covariance() const {
  const RadialMoments m = radial_moments(double(radius_), double(width_));
  return Mat<T>::Identity(2, 2) * T(0.5 * m.m3 / m.m1);
}

template <class T>
T Ring<T>::log_normalizer() const {
  return T(std::log(2 * std::numbers::pi * radial_moments(double(radius_), double(width_)).m1));
}

// ---------------------------------------------------------------------------------------------
// Funnel

template <class T>
Funnel<T>::Funnel(Index dim, T sigma) : dim_(dim), sigma_(sigma) {
  require_dim(dim, 2, "ebm::Funnel");
  require_positive(sigma, "ebm::Funnel", "sigma");
}

template <class T>
void Funnel<T>::energy(const Mat<T>& x, Vec<T>& out) const {
  require_cols(x, dim_, "ebm::Funnel::energy");
  out.resize(x.rows());
  const T k = T(0.5) / (sigma_ * sigma_), half = T(0.5) * T(dim_ - 1);
  for_each_row(x.rows(), [&](Index i) {
    const T v = x(i, 0);
    T rest = 0;
    for (Index j = 1; j < dim_; ++j) rest += x(i, j) * x(i, j);
    out(i) = v * v * k + T(0.5) * std::exp(-v) * rest + half * v;
  });
}

template <class T>
void Funnel<T>::score(const Mat<T>& x, Mat<T>& out) const {
  require_cols(x, dim_, "ebm::Funnel::score");
  out.resize(x.rows(), dim_);
  const T k = T(1) / (sigma_ * sigma_), half = T(0.5) * T(dim_ - 1);
  for_each_row(x.rows(), [&](Index i) {
    const T v = x(i, 0), e = std::exp(-v);
    T rest = 0;
    for (Index j = 1; j < dim_; ++j) {
      rest += x(i, j) * x(i, j);
      out(i, j) = -e * x(i, j);
    }
    out(i, 0) = -(v * k - T(0.5) * e * rest + half);
  });
}

template <class T>
ad::Var<T> Funnel<T>::energy(ad::Var<T> x) const {
  require_cols(x, dim_, "ebm::Funnel::energy");
  const ad::Var<T> v = ad::slice_cols(x, 0, 1);
  const ad::Var<T> rest = ad::row_sums(ad::square(ad::slice_cols(x, 1, dim_ - 1)));
  return ad::square(v) * (T(0.5) / (sigma_ * sigma_)) + ad::exp(-v) * rest * T(0.5) + v * (T(0.5) * T(dim_ - 1));
}

template <class T>
Mat<T> Funnel<T>::covariance() const {
  Mat<T> c = Mat<T>::Identity(dim_, dim_) * std::exp(T(0.5) * sigma_ * sigma_);
  c(0, 0) = sigma_ * sigma_;
  return c;
}

template <class T>
T Funnel<T>::log_normalizer() const {
  const T log_2pi = std::log(T(2) * std::numbers::pi_v<T>);
  return T(0.5) * (log_2pi + T(2) * std::log(sigma_)) + T(0.5) * T(dim_ - 1) * log_2pi;
}

template <class T>
Mat<T> Funnel<T>::sample(Index n, std::uint64_t seed, std::uint64_t first) const {
  require_count(n, "ebm::Funnel::sample");
  return sample_rows<T>(n, dim_, seed, first, [&](const CounterRng&, T* row) {
    row[0] *= sigma_;
    const T s = std::exp(T(0.5) * row[0]);
    for (Index j = 1; j < dim_; ++j) row[j] *= s;
  });
}

// ---------------------------------------------------------------------------------------------

template <class T>
void check_temperature(T temperature) {
  require_positive(temperature, "ebm::Tempered", "temperature");
}

#define EBM_ANALYTIC_INSTANTIATE(T)           \
  template class detail::GaussianTerm<T>;     \
  template class Gaussian<T>;                 \
  template class GaussianMixture<T>;          \
  template class DoubleWell<T>;               \
  template class Rosenbrock<T>;               \
  template class Ring<T>;                     \
  template class Funnel<T>;                   \
  template void check_temperature<T>(T);
EBM_ANALYTIC_INSTANTIATE(float)
EBM_ANALYTIC_INSTANTIATE(double)
#undef EBM_ANALYTIC_INSTANTIATE

}  // namespace ebm
