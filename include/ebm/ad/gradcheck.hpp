#pragma once
// Gradient checking against central differences in float64, first and second order, like
// PyTorch's gradcheck and gradgradcheck (same default tolerances).
#include <ebm/ad/tape.hpp>

#include <functional>
#include <span>
#include <string>
#include <vector>

namespace ebm::ad {

/// A function under test: builds its output (any shape) from its inputs on the given tape.
using CheckedFunction = std::function<Var<double>(Tape<double>& tape, std::span<const Var<double>> inputs)>;

struct GradcheckOptions {
  double eps = 1e-6;   // central-difference step
  double atol = 1e-5;  // pass when |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
  std::uint64_t seed = 0;  // for gradgradcheck's random output weights
  void validate() const;
};

struct GradcheckReport {
  bool ok = true;
  std::size_t checked = 0;       // Jacobian entries compared
  double max_abs_error = 0;      // worst |analytic - numeric|
  double max_rel_error = 0;      // worst |analytic - numeric| / max(|numeric|, 1e-300)
  double worst_ratio = 0;        // worst |analytic - numeric| / (atol + rtol |numeric|); ok iff <= 1
  // Where the worst ratio occurred: input index, entry in that input, output entry.
  std::size_t input = 0;
  Index input_row = 0, input_col = 0, output_index = 0;
  double analytic = 0, numeric = 0;
  std::string summary() const;
};

/// Compares the full Jacobian of f at inputs from reverse mode with central differences.
GradcheckReport gradcheck(const CheckedFunction& f, const std::vector<MatD>& inputs,
                          const GradcheckOptions& options = {});

/// Second order: gradchecks x -> d/dx sum(U * f(x)) for a fixed random U, whose analytic
/// Jacobian needs the backward pass to be differentiated (create_graph).
GradcheckReport gradgradcheck(const CheckedFunction& f, const std::vector<MatD>& inputs,
                              const GradcheckOptions& options = {});

}  // namespace ebm::ad
