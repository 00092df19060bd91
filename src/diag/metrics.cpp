#include <ebm/core/check.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/diag/metrics.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace ebm {
namespace {

using RowMajorD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
constexpr Index kKernelBlock = 1024;  // columns per vectorised kernel pass
constexpr Index kKernelRows = 64;     // rows per parallel task
constexpr Index kBatchRows = 1 << 16;

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// sum_{i, j} k(a_i, b_j) with k = exp(-gamma |a - b|^2); with `upper`, a is b and only j > i
// counts. bt is b transposed (D x M), so that a coordinate of consecutive points is contiguous.
// Partial sums per fixed row chunk, added in chunk order: the same bits for any thread count.
double kernel_sum(const RowMajorD& a, const RowMajorD& bt, double gamma, bool upper) {
  const Index n = a.rows(), m = bt.cols(), d = a.cols();
  std::vector<double> partial(static_cast<std::size_t>(chunk_count(n, kKernelRows)), 0.0);
  parallel_for_chunks(n, kKernelRows, [&](Index r0, Index r1) {
    Eigen::ArrayXd d2(kKernelBlock);
    double total = 0;
    for (Index i = r0; i < r1; ++i) {
      for (Index j0 = upper ? i + 1 : 0; j0 < m; j0 += kKernelBlock) {
        const Index bj = std::min(kKernelBlock, m - j0);
        auto block = d2.head(bj);
        block.setZero();
        for (Index k = 0; k < d; ++k) block += (bt.row(k).segment(j0, bj).array() - a(i, k)).square();
        total += (block * -gamma).exp().sum();
      }
    }
    partial[static_cast<std::size_t>(r0 / kKernelRows)] = total;
  });
  double s = 0;
  for (double v : partial) s += v;
  return s;
}

template <class T>
RowMajorD to_double(const Mat<T>& m) {
  return m.template cast<double>();
}

void check_samples(Index rows, Index cols, Index min_rows, const char* where, const char* name) {
  require(rows >= min_rows && cols >= 1, where, [&] {
    return std::string(name) + " has shape " + shape_str(rows, cols) + ", needs at least " + std::to_string(min_rows) +
           " rows and 1 column";
  });
}

}  // namespace

// ----- MMD -----

void MmdOptions::validate() const {
  require(std::isfinite(bandwidth) && bandwidth >= 0, "ebm::MmdOptions",
          [&] { return "bandwidth must be >= 0 (0: median heuristic), got " + num(bandwidth); });
  require(max_median_points >= 2 && max_median_points <= 10000, "ebm::MmdOptions",
          [&] { return "max_median_points must be in 2..10000, got " + std::to_string(max_median_points); });
}

std::string MmdResult::summary() const {
  std::ostringstream s;
  s << "MMD^2 = " << mmd2 << " (Gaussian kernel, bandwidth " << bandwidth << ")";
  return s.str();
}

template <class T>
double median_pairwise_distance(const Mat<T>& x, const Mat<T>& y, Index max_points) {
  const char* where = "ebm::median_pairwise_distance";
  require(max_points >= 2 && max_points <= 10000, where,
          [&] { return "max_points must be in 2..10000, got " + std::to_string(max_points); });
  require(x.cols() == y.cols(), where,
          [&] { return "x has shape " + shape_str(x) + " and y " + shape_str(y) + ": different dimensions"; });
  const Index pool = x.rows() + y.rows(), d = x.cols();
  require(pool >= 2, where, "x and y together need at least 2 points");
  const Index count = std::min(pool, max_points);
  RowMajorD z(count, d);
  for (Index k = 0; k < count; ++k) {
    // Evenly spread rows of the pool (x then y); all of them when there are few enough.
    const Index row = count == pool ? k : k * pool / count;
    z.row(k) = row < x.rows() ? x.row(row).template cast<double>() : y.row(row - x.rows()).template cast<double>();
  }
  std::vector<double> dist;
  dist.reserve(static_cast<std::size_t>(count * (count - 1) / 2));
  for (Index i = 0; i < count; ++i)
    for (Index j = i + 1; j < count; ++j) dist.push_back((z.row(i) - z.row(j)).norm());
  const std::size_t half = dist.size() / 2;
  std::nth_element(dist.begin(), dist.begin() + static_cast<std::ptrdiff_t>(half), dist.end());
  const double upper = dist[half];
  if (dist.size() % 2 == 1) return upper;
  const double lower = *std::max_element(dist.begin(), dist.begin() + static_cast<std::ptrdiff_t>(half));
  return 0.5 * (lower + upper);
}

template <class T>
MmdResult mmd(const Mat<T>& x, const Mat<T>& y, const MmdOptions& o) {
  const char* where = "ebm::mmd";
  o.validate();
  check_samples(x.rows(), x.cols(), 2, where, "x");
  check_samples(y.rows(), y.cols(), 2, where, "y");
  require(x.cols() == y.cols(), where,
          [&] { return "x has shape " + shape_str(x) + " and y " + shape_str(y) + ": different dimensions"; });
  require_finite(x, where, "x");
  require_finite(y, where, "y");
  MmdResult r;
  r.bandwidth = o.bandwidth > 0 ? o.bandwidth : median_pairwise_distance(x, y, o.max_median_points);
  if (!(r.bandwidth > 0)) r.bandwidth = 1;  // all sampled points equal: any scale is as good
  const double gamma = 1 / (2 * r.bandwidth * r.bandwidth);
  const RowMajorD xd = to_double(x), yd = to_double(y);
  const RowMajorD xt = xd.transpose(), yt = yd.transpose();
  const double n = double(x.rows()), m = double(y.rows());
  const double sxx = 2 * kernel_sum(xd, xt, gamma, true);  // off-diagonal pairs, both orders
  const double syy = 2 * kernel_sum(yd, yt, gamma, true);
  const double sxy = kernel_sum(xd, yt, gamma, false);
  if (o.unbiased) r.mmd2 = sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2 * sxy / (n * m);
  else r.mmd2 = (sxx + n) / (n * n) + (syy + m) / (m * m) - 2 * sxy / (n * m);
  return r;
}

// ----- histograms -----

void GridHistogramOptions::validate(Index dim) const {
  const char* where = "ebm::GridHistogramOptions";
  require(dim == 1 || dim == 2, where, [&] { return "histograms need dim 1 or 2, got dim " + std::to_string(dim); });
  require_box(lower, upper, dim, where);
  require(bins.size() == 1 || static_cast<Index>(bins.size()) == dim, where, [&] {
    return "bins must have 1 or dim = " + std::to_string(dim) + " values, got " + std::to_string(bins.size());
  });
  for (std::size_t j = 0; j < bins.size(); ++j)
    require(bins[j] >= 1 && bins[j] <= 100000, where,
            [&] { return "bins[" + std::to_string(j) + "] must be in 1..100000, got " + std::to_string(bins[j]); });
  require(std::isfinite(smoothing) && smoothing >= 0, where,
          [&] { return "smoothing must be finite and >= 0, got " + num(smoothing); });
}

int GridHistogramOptions::bins_of(Index d) const { return bins.size() == 1 ? bins[0] : bins[static_cast<std::size_t>(d)]; }

Index GridHistogramOptions::cells(Index dim) const {
  Index c = 1;
  for (Index d = 0; d < dim; ++d) c *= bins_of(d);
  return c;
}

std::string HistogramDivergences::summary() const {
  std::ostringstream s;
  s << "KL(reference || samples) = " << kl << ", KL(samples || reference) = " << kl_reverse << ", TV = " << tv;
  if (samples_outside > 0 || reference_outside > 0)
    s << "; outside the box: " << samples_outside << " of the samples, " << reference_outside << " of the reference";
  return s.str();
}

template <class T>
Vec<double> grid_histogram(const Mat<T>& points, const GridHistogramOptions& o, double* outside) {
  const char* where = "ebm::grid_histogram";
  const Index dim = points.cols();
  o.validate(dim);
  check_samples(points.rows(), dim, 1, where, "points");
  require_finite(points, where, "points");
  Vec<double> counts = Vec<double>::Zero(o.cells(dim));
  Index inside = 0;
  for (Index i = 0; i < points.rows(); ++i) {
    Index cell = 0;
    bool in = true;
    for (Index d = 0; d < dim && in; ++d) {
      const double v = double(points(i, d)), lo = o.lower[d], hi = o.upper[d];
      const int b = o.bins_of(d);
      in = v >= lo && v <= hi;
      const Index k = std::min<Index>(b - 1, static_cast<Index>(std::floor((v - lo) / (hi - lo) * b)));
      cell = cell * b + std::max<Index>(0, k);
    }
    if (!in) continue;
    counts(cell) += 1;
    ++inside;
  }
  if (outside) *outside = double(points.rows() - inside) / double(points.rows());
  require(inside > 0, where, [&] { return "none of the " + std::to_string(points.rows()) + " points lies in the box"; });
  return counts / double(inside);
}

Vec<double> grid_cell_masses(const std::function<void(const Mat<double>&, Vec<double>&)>& log_density,
                             const GridHistogramOptions& o, int subdivisions) {
  const char* where = "ebm::grid_cell_masses";
  const Index dim = static_cast<Index>(o.lower.size());
  o.validate(dim);
  require(static_cast<bool>(log_density), where, "log_density is an empty function");
  require(subdivisions >= 1 && subdivisions <= 1000, where,
          [&] { return "subdivisions must be in 1..1000, got " + std::to_string(subdivisions); });
  const Index cells = o.cells(dim);
  Index per_cell = 1;
  for (Index d = 0; d < dim; ++d) per_cell *= subdivisions;
  require(double(cells) * double(per_cell) <= 1e8, where, "cells x subdivisions^D exceeds 1e8 points");
  const Index total = cells * per_cell;
  // Point p: cell p / per_cell, sub-point p % per_cell; both row-major, dimension 0 slowest.
  std::vector<double> values(static_cast<std::size_t>(total));
  Mat<double> pts;
  Vec<double> out;
  for (Index b0 = 0; b0 < total; b0 += kBatchRows) {
    const Index rows = std::min(kBatchRows, total - b0);
    pts.resize(rows, dim);
    for (Index r = 0; r < rows; ++r) {
      Index cell = (b0 + r) / per_cell, sub = (b0 + r) % per_cell;
      for (Index d = dim - 1; d >= 0; --d) {
        const int nb = o.bins_of(d);
        const Index ci = cell % nb, si = sub % subdivisions;
        cell /= nb;
        sub /= subdivisions;
        const double width = (o.upper[d] - o.lower[d]) / nb;
        pts(r, d) = o.lower[d] + width * (double(ci) + (double(si) + 0.5) / subdivisions);
      }
    }
    log_density(pts, out);
    require(out.size() == rows, where, [&] {
      return "log_density returned " + std::to_string(out.size()) + " values for " + std::to_string(rows) + " points";
    });
    for (Index r = 0; r < rows; ++r) {
      const double v = out(r);
      if (std::isnan(v) || v == std::numeric_limits<double>::infinity()) {
        std::ostringstream msg;
        msg << where << ": log_density is " << v << " at (" << pts.row(r) << ")";
        throw NumericalError(msg.str());
      }
      values[static_cast<std::size_t>(b0 + r)] = v;
    }
  }
  const double top = *std::max_element(values.begin(), values.end());
  require(top > -std::numeric_limits<double>::infinity(), where, "the density is 0 everywhere in the box");
  Vec<double> mass = Vec<double>::Zero(cells);
  for (Index p = 0; p < total; ++p) mass(p / per_cell) += std::exp(values[static_cast<std::size_t>(p)] - top);
  return mass / mass.sum();
}

namespace {

HistogramDivergences divergences(const Vec<double>& p, const Vec<double>& q, double smoothing) {
  HistogramDivergences r;
  const double c = double(p.size());
  r.tv = 0.5 * (p - q).cwiseAbs().sum();
  for (Index i = 0; i < p.size(); ++i) {
    const double ps = (p(i) + smoothing) / (1 + smoothing * c), qs = (q(i) + smoothing) / (1 + smoothing * c);
    if (qs > 0) r.kl += qs * std::log(qs / ps);
    if (ps > 0) r.kl_reverse += ps * std::log(ps / qs);
  }
  return r;
}

}  // namespace

template <class T>
HistogramDivergences histogram_divergences(const Mat<T>& samples, const Mat<T>& reference, const GridHistogramOptions& o) {
  require(samples.cols() == reference.cols(), "ebm::histogram_divergences", [&] {
    return "samples has shape " + shape_str(samples) + " and reference " + shape_str(reference) +
           ": different dimensions";
  });
  double out_p = 0, out_q = 0;
  const Vec<double> p = grid_histogram(samples, o, &out_p), q = grid_histogram(reference, o, &out_q);
  HistogramDivergences r = divergences(p, q, o.smoothing);
  r.samples_outside = out_p;
  r.reference_outside = out_q;
  return r;
}

template <class T>
HistogramDivergences histogram_divergences(const Mat<T>& samples, const Vec<double>& reference_masses,
                                           const GridHistogramOptions& o) {
  const char* where = "ebm::histogram_divergences";
  o.validate(samples.cols());
  const Index cells = o.cells(samples.cols());
  require(reference_masses.size() == cells, where, [&] {
    return "reference_masses has " + std::to_string(reference_masses.size()) + " values, the grid has " +
           std::to_string(cells) + " cells";
  });
  require(reference_masses.allFinite() && (reference_masses.array() >= 0).all() && reference_masses.sum() > 0, where,
          "reference_masses must be finite, nonnegative and not all 0");
  double out_p = 0;
  const Vec<double> p = grid_histogram(samples, o, &out_p);
  HistogramDivergences r = divergences(p, reference_masses / reference_masses.sum(), o.smoothing);
  r.samples_outside = out_p;
  return r;
}

// ----- Fisher divergence -----

std::string FisherResult::summary() const {
  std::ostringstream s;
  s << "Fisher divergence 1/2 E|s_model - s_true|^2 = " << value << " +- " << standard_error;
  return s.str();
}

namespace {

FisherResult fisher_from_terms(const std::vector<double>& t) {
  FisherResult r;
  const double n = double(t.size());
  double sum = 0;
  for (double v : t) sum += v;
  r.value = sum / n;
  double ss = 0;
  for (double v : t) ss += (v - r.value) * (v - r.value);
  r.standard_error = t.size() > 1 ? std::sqrt(ss / (n - 1) / n) : std::numeric_limits<double>::quiet_NaN();
  return r;
}

template <class T>
void add_terms(const Mat<T>& a, const Mat<T>& b, std::vector<double>& t) {
  for (Index i = 0; i < a.rows(); ++i) t.push_back(0.5 * (a.row(i).template cast<double>() - b.row(i).template cast<double>()).squaredNorm());
}

}  // namespace

template <class T>
FisherResult fisher_divergence(const Mat<T>& model_scores, const Mat<T>& true_scores) {
  const char* where = "ebm::fisher_divergence";
  check_samples(model_scores.rows(), model_scores.cols(), 1, where, "model_scores");
  require_shape(true_scores, model_scores.rows(), model_scores.cols(), where, "true_scores");
  require_finite(model_scores, where, "model_scores");
  require_finite(true_scores, where, "true_scores");
  std::vector<double> t;
  t.reserve(static_cast<std::size_t>(model_scores.rows()));
  add_terms(model_scores, true_scores, t);
  return fisher_from_terms(t);
}

template <class T>
FisherResult fisher_divergence(const std::type_identity_t<ScoreFunction<T>>& model,
                               const std::type_identity_t<ScoreFunction<T>>& truth, const Mat<T>& points) {
  const char* where = "ebm::fisher_divergence";
  require(static_cast<bool>(model) && static_cast<bool>(truth), where, "model and truth must not be empty functions");
  check_samples(points.rows(), points.cols(), 1, where, "points");
  require_finite(points, where, "points");
  std::vector<double> t;
  t.reserve(static_cast<std::size_t>(points.rows()));
  Mat<T> batch, sm, st;
  for (Index b0 = 0; b0 < points.rows(); b0 += kBatchRows) {
    const Index rows = std::min(kBatchRows, points.rows() - b0);
    batch = points.middleRows(b0, rows);
    model(batch, sm);
    truth(batch, st);
    require_shape(sm, rows, points.cols(), where, "the model's scores");
    require_shape(st, rows, points.cols(), where, "the true scores");
    require_finite(sm, where, "the model's scores");
    require_finite(st, where, "the true scores");
    add_terms(sm, st, t);
  }
  return fisher_from_terms(t);
}

#define EBM_INSTANTIATE(T)                                                                                       \
  template MmdResult mmd<T>(const Mat<T>&, const Mat<T>&, const MmdOptions&);                                   \
  template double median_pairwise_distance<T>(const Mat<T>&, const Mat<T>&, Index);                             \
  template Vec<double> grid_histogram<T>(const Mat<T>&, const GridHistogramOptions&, double*);                  \
  template HistogramDivergences histogram_divergences<T>(const Mat<T>&, const Mat<T>&, const GridHistogramOptions&); \
  template HistogramDivergences histogram_divergences<T>(const Mat<T>&, const Vec<double>&,                     \
                                                         const GridHistogramOptions&);                          \
  template FisherResult fisher_divergence<T>(const Mat<T>&, const Mat<T>&);                                     \
  template FisherResult fisher_divergence<T>(const ScoreFunction<T>&, const ScoreFunction<T>&, const Mat<T>&);
EBM_INSTANTIATE(float)
EBM_INSTANTIATE(double)
#undef EBM_INSTANTIATE

}  // namespace ebm
