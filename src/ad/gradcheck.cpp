#include <ebm/ad/gradcheck.hpp>
#include <ebm/ad/ops.hpp>
#include <ebm/core/check.hpp>
#include <ebm/core/rng.hpp>

#include <cmath>
#include <limits>
#include <sstream>

namespace ebm::ad {
namespace {

std::vector<Var<double>> leaves(Tape<double>& tape, const std::vector<MatD>& inputs) {
  std::vector<Var<double>> vars;
  vars.reserve(inputs.size());
  for (const MatD& x : inputs) vars.push_back(tape.variable(x));
  return vars;
}

MatD evaluate(const CheckedFunction& f, const std::vector<MatD>& inputs) {
  Tape<double> tape;  // recording: f may itself take gradients
  const auto vars = leaves(tape, inputs);
  return f(tape, vars).value();
}

}  // namespace

void GradcheckOptions::validate() const {
  require(eps > 0 && std::isfinite(eps), "ebm::ad::GradcheckOptions", "eps must be positive, got " + std::to_string(eps));
  require(atol >= 0 && rtol >= 0, "ebm::ad::GradcheckOptions", "atol and rtol must be >= 0");
}

std::string GradcheckReport::summary() const {
  std::ostringstream s;
  s << (ok ? "gradcheck passed" : "gradcheck FAILED") << ": " << checked << " entries, max abs error "
    << max_abs_error << ", max rel error " << max_rel_error << "; worst at input " << input << " ("
    << input_row << "," << input_col << "), output entry " << output_index << ": analytic " << analytic
    << " vs numeric " << numeric;
  return s.str();
}

GradcheckReport gradcheck(const CheckedFunction& f, const std::vector<MatD>& inputs, const GradcheckOptions& options) {
  options.validate();
  require(!inputs.empty(), "ebm::ad::gradcheck", "no inputs");
  const MatD y0 = evaluate(f, inputs);
  const Index outputs = y0.size();

  // Analytic Jacobian, one reverse sweep per output entry.
  std::vector<MatD> analytic(inputs.size());  // analytic[k] is outputs x inputs[k].size()
  for (std::size_t k = 0; k < inputs.size(); ++k) analytic[k].resize(outputs, inputs[k].size());
  Tape<double> tape;
  for (Index o = 0; o < outputs; ++o) {
    tape.reset();
    const auto vars = leaves(tape, inputs);
    const Var<double> y = f(tape, vars);
    require(y.rows() == y0.rows() && y.cols() == y0.cols(), "ebm::ad::gradcheck", "output shape changed between calls");
    MatD seed = MatD::Zero(y.rows(), y.cols());
    seed.data()[o] = 1;
    GradOptions<double> go;
    go.seed = tape.constant(seed);
    const auto grads = tape.grad(y, std::span<const Var<double>>(vars), go);
    for (std::size_t k = 0; k < inputs.size(); ++k)
      analytic[k].row(o) = Eigen::Map<const RowVec<double>>(grads[k].value().data(), inputs[k].size());
  }

  GradcheckReport report;
  std::vector<MatD> shifted = inputs;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    for (Index e = 0; e < inputs[k].size(); ++e) {
      const double x = inputs[k].data()[e];
      shifted[k].data()[e] = x + options.eps;
      const MatD up = evaluate(f, shifted);
      shifted[k].data()[e] = x - options.eps;
      const MatD down = evaluate(f, shifted);
      shifted[k].data()[e] = x;
      for (Index o = 0; o < outputs; ++o) {
        const double numeric = (up.data()[o] - down.data()[o]) / (2 * options.eps);
        const double a = analytic[k](o, e);
        const double err = std::abs(a - numeric);
        const double raw = err / (options.atol + options.rtol * std::abs(numeric));
        const double ratio = std::isnan(raw) ? std::numeric_limits<double>::infinity() : raw;
        ++report.checked;
        report.max_abs_error = std::max(report.max_abs_error, err);
        report.max_rel_error = std::max(report.max_rel_error, err / std::max(std::abs(numeric), 1e-300));
        if (ratio > report.worst_ratio || report.checked == 1) {
          report.worst_ratio = ratio;
          report.input = k;
          report.input_row = e / inputs[k].cols();
          report.input_col = e % inputs[k].cols();
          report.output_index = o;
          report.analytic = a;
          report.numeric = numeric;
        }
      }
    }
  }
  report.ok = report.worst_ratio <= 1.0;
  return report;
}

GradcheckReport gradgradcheck(const CheckedFunction& f, const std::vector<MatD>& inputs,
                              const GradcheckOptions& options) {
  options.validate();
  const MatD y0 = evaluate(f, inputs);
  MatD weights(y0.rows(), y0.cols());
  CounterRng(options.seed, 0).normal<double>(0, std::span<double>(weights.data(), static_cast<std::size_t>(weights.size())));
  // x -> [d/dx_1 sum(U f) ... d/dx_k sum(U f)] flattened into one row.
  const CheckedFunction first_derivative = [&](Tape<double>& tape, std::span<const Var<double>> xs) {
    const Var<double> y = f(tape, xs);
    const Var<double> s = sum(y * tape.constant(weights));
    GradOptions<double> go;
    go.create_graph = true;
    const auto grads = tape.grad(s, xs, go);
    Var<double> flat;
    for (const Var<double>& g : grads) {
      // Row-major flatten: concatenate the rows of g side by side.
      Var<double> row = slice_rows(g, 0, 1);
      for (Index r = 1; r < g.rows(); ++r) row = concat_cols(row, slice_rows(g, r, 1));
      flat = flat.valid() ? concat_cols(flat, row) : row;
    }
    return flat;
  };
  return gradcheck(first_derivative, inputs, options);
}

}  // namespace ebm::ad
