#include <ebm/core/check.hpp>
#include <ebm/core/error.hpp>

#include <gtest/gtest.h>

#include <limits>

namespace {

template <class T>
class RequireFinite : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RequireFinite, Types);

// Every kind of non-finite value, at every position of arrays around a vector's width, is
// reported with its row and column; the extremes of the finite values pass.
TYPED_TEST(RequireFinite, FindsEveryNonFiniteValueAndPassesEveryFiniteOne) {
  using T = TypeParam;
  using L = std::numeric_limits<T>;
  for (ebm::Index n : {1, 7, 16, 33, 100}) {
    ebm::Mat<T> m(1, n);
    for (ebm::Index k = 0; k < n; ++k) m(0, k) = (k % 2 ? T(-1) : T(1)) * T(k + 1);
    m(0, n - 1) = L::max();
    if (n > 1) m(0, 0) = -L::max();
    if (n > 2) m(0, 1) = L::denorm_min();
    if (n > 3) m(0, 2) = T(-0.0);
    EXPECT_NO_THROW(ebm::require_finite(m, "f", "x")) << n;
    for (T bad : {L::quiet_NaN(), -L::quiet_NaN(), L::infinity(), -L::infinity()}) {
      for (ebm::Index k = 0; k < n; ++k) {
        ebm::Mat<T> b = m;
        b(0, k) = bad;
        try {
          ebm::require_finite(b, "f", "x");
          ADD_FAILURE() << "n " << n << ", position " << k << ", value " << bad << ": not reported";
        } catch (const ebm::NumericalError& e) {
          EXPECT_NE(std::string(e.what()).find("column " + std::to_string(k)), std::string::npos) << e.what();
        }
      }
    }
  }
}

}  // namespace
