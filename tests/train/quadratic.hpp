#pragma once
// A trainable Gaussian energy for the train tests: E(x) = 1/2 x A x^T - x b^T with parameters
// A (D x D; its symmetric part is the precision) and b (1 x D). Every objective has a known
// minimiser for it, which the tests compare against.
#include <ebm/ad/ops.hpp>
#include <ebm/core/types.hpp>

#include <Eigen/Cholesky>

#include <vector>

namespace ebm_test {

struct Quadratic {
  ebm::MatD a, b;
  ebm::Index dim() const { return a.rows(); }
  std::vector<ebm::ad::Var<double>> bind(ebm::ad::Tape<double>& t, bool requires_grad) const {
    return {requires_grad ? t.variable_ref(a) : t.constant_ref(a), requires_grad ? t.variable_ref(b) : t.constant_ref(b)};
  }
  ebm::ad::Var<double> energy(ebm::ad::Var<double> x, const std::vector<ebm::ad::Var<double>>& p) const {
    namespace ad = ebm::ad;
    return ad::row_sums(ad::matmul(x, p[0]) * x) * 0.5 - ad::matmul(x, p[1], ad::Trans::No, ad::Trans::Yes);
  }
  template <class Edit>
  void edit_parameters(Edit&& edit) {
    std::vector<ebm::MatD*> p{&a, &b};
    edit(p);
  }
  ebm::MatD precision() const { return (a + a.transpose()) / 2; }
  ebm::MatD mean() const { return precision().ldlt().solve(b.transpose()).transpose(); }
};

}  // namespace ebm_test
