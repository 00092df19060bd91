#include <ebm/core/check.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/density/line_integral.hpp>
#include <ebm/density/quadrature.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>
#include <vector>

namespace ebm {
namespace {

constexpr const char* kWhere = "ebm::log_density_relative";
constexpr Index kPointsPerTask = 256;

// The detour point m for the path x0 -> m -> x (see the header), from d = x - x0.
void detour_point(const double* x0, const double* d, Index dim, double* m) {
  double norm2 = 0;
  for (Index j = 0; j < dim; ++j) norm2 += d[j] * d[j];
  for (Index j = 0; j < dim; ++j) m[j] = x0[j] + 0.5 * d[j];
  if (dim < 2 || norm2 == 0) return;
  Index axis = 0;
  for (Index j = 1; j < dim; ++j)
    if (std::fabs(d[j]) < std::fabs(d[axis])) axis = j;
  // u = e_axis - (d_axis / |d|^2) d; |u|^2 = 1 - d_axis^2 / |d|^2 >= 1 - 1/D >= 1/2.
  const double c = d[axis] / norm2;
  const double u_norm = std::sqrt(std::max(0.0, 1 - c * d[axis]));
  const double scale = 0.5 * std::sqrt(norm2) / u_norm;
  for (Index j = 0; j < dim; ++j) m[j] += scale * ((j == axis ? 1.0 : 0.0) - c * d[j]);
}

}  // namespace

void LineIntegralOptions::validate() const {
  require(nodes >= 2 && nodes <= 4096, "ebm::LineIntegralOptions",
          [&] { return "nodes must be in 2..4096, got " + std::to_string(nodes); });
  require(batch_rows >= 1, "ebm::LineIntegralOptions",
          [&] { return "batch_rows must be >= 1, got " + std::to_string(batch_rows); });
}

template <class T>
std::string LineIntegralResult<T>::summary() const {
  std::ostringstream s;
  s << "line integral at " << log_p_relative.size() << " points";
  if (log_p_relative.size() > 0) {
    s << ": max quadrature error " << quadrature_error.maxCoeff();
    s << ", max path difference " << path_difference.maxCoeff();
  }
  s << "; " << evaluations << " score evaluations, " << seconds << " s";
  return s.str();
}

template <class T>
LineIntegralResult<T> log_density_relative(const std::type_identity_t<ScoreFunction<T>>& score, const Mat<T>& x,
                                           const Mat<T>& x0, const LineIntegralOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  o.validate();
  require(static_cast<bool>(score), kWhere, "score is an empty function");
  const Index d = x.cols(), n = x.rows();
  require(d >= 1, kWhere, [&] { return "x has shape " + shape_str(x) + ", needs at least one column"; });
  require_shape(x0, 1, d, kWhere, "x0");
  require_finite(x, kWhere, "x");
  require_finite(x0, kWhere, "x0");

  const QuadratureRule full = gauss_legendre(o.nodes), half = gauss_legendre(o.nodes / 2);
  const Index nf = o.nodes, nh = o.nodes / 2, nd = o.check_path ? 2 * nf : 0;
  const Index per_point = nf + nh + nd;
  const Index chunk = std::max<Index>(1, o.batch_rows / per_point);

  LineIntegralResult<T> r;
  r.log_p_relative.resize(n);
  r.quadrature_error.resize(n);
  r.path_difference = Vec<T>::Zero(n);
  std::vector<double> origin(static_cast<std::size_t>(d));
  for (Index j = 0; j < d; ++j) origin[static_cast<std::size_t>(j)] = double(x0(0, j));
  std::vector<char> bad(static_cast<std::size_t>(std::min(n, chunk)));
  Mat<T> pts, scores;

  for (Index c0 = 0; c0 < n; c0 += chunk) {
    const Index cn = std::min(chunk, n - c0);
    pts.resize(cn * per_point, d);
    // Rows of point i: [i P, i P + nf) straight, then nh half-rule, then nf on x0 -> m, nf on m -> x.
    parallel_for_chunks(cn, kPointsPerTask, [&](Index b, Index e) {
      const auto dd = static_cast<std::size_t>(d);
      std::vector<double> dir(dd), m(dd), a(dd), bm(dd);
      for (Index i = b; i < e; ++i) {
        for (Index j = 0; j < d; ++j) dir[j] = double(x(c0 + i, j)) - origin[j];
        T* row = pts.data() + i * per_point * d;
        auto segment = [&](const double* from, const double* step, const std::vector<double>& t) {
          for (double tk : t) {
            for (Index j = 0; j < d; ++j) row[j] = static_cast<T>(from[j] + tk * step[j]);
            row += d;
          }
        };
        segment(origin.data(), dir.data(), full.nodes);
        segment(origin.data(), dir.data(), half.nodes);
        if (o.check_path) {
          detour_point(origin.data(), dir.data(), d, m.data());
          for (Index j = 0; j < d; ++j) {
            a[j] = m[j] - origin[j];
            bm[j] = double(x(c0 + i, j)) - m[j];
          }
          segment(origin.data(), a.data(), full.nodes);
          segment(m.data(), bm.data(), full.nodes);
        }
      }
    });
    score(pts, scores);
    require(scores.rows() == pts.rows() && scores.cols() == d, kWhere, [&] {
      return "score returned shape " + shape_str(scores) + " for points of shape " + shape_str(pts);
    });
    r.evaluations += pts.rows();
    std::fill(bad.begin(), bad.end(), char(0));
    parallel_for_chunks(cn, kPointsPerTask, [&](Index b, Index e) {
      const auto dd = static_cast<std::size_t>(d);
      std::vector<double> dir(dd), m(dd), a(dd), bm(dd);
      for (Index i = b; i < e; ++i) {
        for (Index j = 0; j < d; ++j) dir[j] = double(x(c0 + i, j)) - origin[j];
        const T* s = scores.data() + i * per_point * d;
        // sum_k w_k s(row_k) . step over the next t.size() rows.
        auto integrate = [&](const double* step, const std::vector<double>& w) {
          double total = 0;
          for (double wk : w) {
            double dot = 0;
            for (Index j = 0; j < d; ++j) dot += double(s[j]) * step[j];
            total += wk * dot;
            s += d;
          }
          return total;
        };
        const double straight = integrate(dir.data(), full.weights);
        const double coarse = integrate(dir.data(), half.weights);
        double difference = 0;
        if (o.check_path) {
          detour_point(origin.data(), dir.data(), d, m.data());
          for (Index j = 0; j < d; ++j) {
            a[j] = m[j] - origin[j];
            bm[j] = double(x(c0 + i, j)) - m[j];
          }
          const double first = integrate(a.data(), full.weights);
          const double second = integrate(bm.data(), full.weights);
          difference = std::fabs(straight - (first + second));
        }
        const double error = std::fabs(straight - coarse);
        bad[i] = !(std::isfinite(straight) && std::isfinite(error) && std::isfinite(difference));
        r.log_p_relative(c0 + i) = static_cast<T>(straight);
        r.quadrature_error(c0 + i) = static_cast<T>(error);
        r.path_difference(c0 + i) = static_cast<T>(difference);
      }
    });
    for (Index i = 0; i < cn; ++i) {
      if (!bad[i]) continue;
      std::ostringstream msg;
      msg << kWhere << ": the score is not finite on the path to x row " << c0 + i << " ("
          << x.row(c0 + i) << ")";
      throw NumericalError(msg.str());
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

template struct LineIntegralResult<float>;
template struct LineIntegralResult<double>;
template LineIntegralResult<float> log_density_relative<float>(const ScoreFunction<float>&, const Mat<float>&,
                                                               const Mat<float>&, const LineIntegralOptions&);
template LineIntegralResult<double> log_density_relative<double>(const ScoreFunction<double>&, const Mat<double>&,
                                                                 const Mat<double>&, const LineIntegralOptions&);

}  // namespace ebm
