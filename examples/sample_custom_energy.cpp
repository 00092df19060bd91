// Sample a user-defined energy with MALA and print the diagnostics: the sampling issue's example.
// The energy is a small struct: dim() and E(x) written with ebm's differentiable ops, so the
// score -grad_x E comes from automatic differentiation.
#include <ebm/ad/ops.hpp>
#include <ebm/diag/mcmc.hpp>
#include <ebm/sample/samplers.hpp>

#include <cmath>
#include <iostream>

// A banana: x0 ~ N(0, 1), x1 | x0 ~ N(x0^2 / 2, 1/4).
struct Banana {
  ebm::Index dim() const { return 2; }
  ebm::ad::Var<double> energy(ebm::ad::Var<double> x) const {  // x: N x 2 -> N x 1
    using namespace ebm::ad;
    const auto x0 = slice_cols(x, 0, 1), x1 = slice_cols(x, 1, 1);
    return 0.5 * square(x0) + 2.0 * square(x1 - 0.5 * square(x0));
  }
};

int main() {
  ebm::MalaOptions<double> options;
  options.chains = 8;
  options.steps = 25000;
  options.burn_in = 5000;  // step sizes adapt during burn-in, then stay fixed
  options.seed = 1;
  const auto result = ebm::mala(Banana{}, options);
  std::cout << "MALA: " << result.summary() << "\n\n";

  ebm::McmcSummaryOptions diag;
  diag.names = {"x0", "x1"};
  diag.accepted = result.accepted;
  diag.proposed = result.proposed;
  const auto summary = ebm::summarize(ebm::unstack_chains(result.samples, result.draws_per_chain), diag);
  std::cout << summary.summary() << "\n";
  std::cout << "exact: E[x0] = 0, sd 1; E[x1] = 0.5, sd = " << std::sqrt(0.5 + 0.25) << "\n";
  return summary.flagged().empty() ? 0 : 1;
}
