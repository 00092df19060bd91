// Every differentiable op: forward values against independent closed forms, first derivatives
// (gradcheck) and second derivatives (gradgradcheck) against central differences in float64 at
// PyTorch's default tolerances, and higher derivatives of the elementwise functions.
#include <ebm/ad/gradcheck.hpp>
#include <ebm/ad/ops.hpp>
#include <ebm/core/rng.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <ostream>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace ad = ebm::ad;
using ebm::Index;
using ebm::MatD;
using V = ad::Var<double>;
using Inputs = std::vector<MatD>;
using Reference = std::function<MatD(const Inputs&)>;
using Scalar = std::function<double(double)>;

// ---------------------------------------------------------------------------------------------
// Inputs from fixed seeds.

MatD normal(Index rows, Index cols, std::uint64_t seed) {
  MatD m(rows, cols);
  ebm::CounterRng(seed, 0).normal<double>(0, std::span<double>(m.data(), static_cast<std::size_t>(m.size())));
  return m;
}

MatD uniform(Index rows, Index cols, std::uint64_t seed, double lo, double hi) {
  MatD m(rows, cols);
  ebm::CounterRng(seed, 1).uniform<double>(0, std::span<double>(m.data(), static_cast<std::size_t>(m.size())));
  return (m.array() * (hi - lo) + lo).matrix();
}

/// Normal draws pushed at least `margin` away from 0 (for kinks at 0: relu, elu).
MatD away_from_zero(Index rows, Index cols, std::uint64_t seed, double margin) {
  return normal(rows, cols, seed).unaryExpr([margin](double v) { return v + std::copysign(margin, v); });
}

/// Positive entries, away from the poles and branch points at 0.
MatD positive(Index rows, Index cols, std::uint64_t seed) { return uniform(rows, cols, seed, 0.6, 1.8); }

// ---------------------------------------------------------------------------------------------
// Comparison helpers.

/// Entrywise |actual - expected| <= rtol |expected| + atol, reporting the worst entry.
::testing::AssertionResult matrices_near(const MatD& actual, const MatD& expected, double rtol, double atol) {
  if (actual.rows() != expected.rows() || actual.cols() != expected.cols())
    return ::testing::AssertionFailure() << "shape " << actual.rows() << "x" << actual.cols() << ", expected "
                                         << expected.rows() << "x" << expected.cols();
  for (Index i = 0; i < actual.rows(); ++i) {
    for (Index j = 0; j < actual.cols(); ++j) {
      const double a = actual(i, j), e = expected(i, j);
      if (!std::isfinite(a) || !(std::abs(a - e) <= rtol * std::abs(e) + atol))
        return ::testing::AssertionFailure() << "entry (" << i << "," << j << "): " << a << " vs expected " << e;
    }
  }
  return ::testing::AssertionSuccess();
}

/// Relative agreement for scalars that may be tiny (down to ~1e-305). Where the true value
/// underflows to 0 in double, a residue below 1e-300 is accepted: Eigen 3.4's vectorised exp
/// clamps its argument at about -709.8, so e.g. exp(-1400) comes out as 2^-1024, not 0.
::testing::AssertionResult close(double actual, double expected, double rtol = 1e-12) {
  const double atol = expected == 0 ? 1e-300 : 16 * std::numeric_limits<double>::denorm_min();
  if (std::isfinite(actual) && std::abs(actual - expected) <= rtol * std::abs(expected) + atol)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << actual << " vs expected " << expected << " (rel error "
                                       << std::abs(actual - expected) / std::abs(expected) << ")";
}

MatD map(const MatD& x, const Scalar& fn) { return x.unaryExpr([&fn](double v) { return fn(v); }); }

/// m replicated up to rows x cols (each of m's extents is 1 or the target's).
MatD expand(const MatD& m, Index rows, Index cols) { return m.replicate(rows / m.rows(), cols / m.cols()); }

MatD row_vector(const std::vector<double>& v) {
  MatD m(1, static_cast<Index>(v.size()));
  for (Index j = 0; j < m.cols(); ++j) m(0, j) = v[static_cast<std::size_t>(j)];
  return m;
}

// ---------------------------------------------------------------------------------------------
// The elementwise functions: the named op, its Fn, and closed forms computed without the engine.

enum class Domain { Real, Positive, AboveMinusOne, AwayFromZero };

MatD sample(Domain domain, std::uint64_t seed) {
  switch (domain) {
    case Domain::Real: return normal(2, 3, seed);
    case Domain::Positive: return positive(2, 3, seed);
    case Domain::AboveMinusOne: return uniform(2, 3, seed, -0.5, 1.5);
    case Domain::AwayFromZero: return away_from_zero(2, 3, seed, 0.25);
  }
  return {};
}

double sigmoid_ref(double x) { return 1 / (1 + std::exp(-x)); }
double sigmoid_q_ref(double x) { return 1 / (1 + std::exp(x)); }  // 1 - sigmoid(x), without cancellation
double normal_cdf_ref(double x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2); }
double normal_pdf_ref(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi); }

struct FnSpec {
  std::string name;
  ad::Fn fn;
  double param;
  std::function<V(V)> op;   // the named op, e.g. ad::exp
  Scalar value;             // closed form of the function
  Scalar derivative;        // closed form of its first derivative
  Domain domain;
  std::vector<double> hard;  // extreme points where value and derivative must be finite and accurate
};

void PrintTo(const FnSpec& s, std::ostream* os) { *os << s.name; }

const std::vector<double> kTails = {-700, -30, -5, -1e-9, 0, 1e-9, 0.5, 5, 30, 700};
const std::vector<double> kTailsAwayFromZero = {-700, -30, -5, -0.5, 0.5, 5, 30, 700};
const std::vector<double> kPositivePoints = {1e-300, 1e-10, 0.25, 1, 3, 1e10};

std::vector<FnSpec> fn_specs() {
  auto pow_spec = [](const std::string& name, double p, std::function<V(V)> op) {
    return FnSpec{name,
                  ad::Fn::Pow,
                  p,
                  std::move(op),
                  [p](double x) { return std::pow(x, p); },
                  [p](double x) { return p * std::pow(x, p - 1); },
                  Domain::Positive,
                  {1e-10, 0.25, 1, 3, 1e10}};
  };
  auto elu_spec = [](const std::string& name, double alpha, std::function<V(V)> op) {
    return FnSpec{name,
                  ad::Fn::Elu,
                  alpha,
                  std::move(op),
                  [alpha](double x) { return x > 0 ? x : alpha * std::expm1(x); },  // torch.nn.ELU
                  [alpha](double x) { return x > 0 ? 1 : alpha * std::exp(x); },
                  Domain::AwayFromZero,
                  kTailsAwayFromZero};
  };
  return {
      {"exp", ad::Fn::Exp, 0, [](V x) { return ad::exp(x); }, [](double x) { return std::exp(x); },
       [](double x) { return std::exp(x); }, Domain::Real, kTails},
      {"log", ad::Fn::Log, 0, [](V x) { return ad::log(x); }, [](double x) { return std::log(x); },
       [](double x) { return 1 / x; }, Domain::Positive, {1e-300, 1e-10, 0.25, 1, 3, 1e10, 1e300}},
      {"log1p", ad::Fn::Log1p, 0, [](V x) { return ad::log1p(x); }, [](double x) { return std::log1p(x); },
       [](double x) { return 1 / (1 + x); }, Domain::AboveMinusOne, {-0.999999, -1e-12, 1e-300, 1e-12, 0.5, 1e10, 1e300}},
      {"square", ad::Fn::Pow, 2, [](V x) { return ad::square(x); }, [](double x) { return x * x; },
       [](double x) { return 2 * x; }, Domain::Real, kTails},
      {"sqrt", ad::Fn::Pow, 0.5, [](V x) { return ad::sqrt(x); }, [](double x) { return std::sqrt(x); },
       [](double x) { return 0.5 / std::sqrt(x); }, Domain::Positive, kPositivePoints},
      pow_spec("pow_3", 3, [](V x) { return ad::pow(x, 3.0); }),
      pow_spec("pow_2p5", 2.5, [](V x) { return ad::pow(x, 2.5); }),
      pow_spec("pow_minus1", -1, [](V x) { return ad::pow(x, -1.0); }),
      pow_spec("pow_minus1p5", -1.5, [](V x) { return ad::pow(x, -1.5); }),
      pow_spec("pow_0p3", 0.3, [](V x) { return ad::pow(x, 0.3); }),
      {"sigmoid", ad::Fn::Sigmoid, 0, [](V x) { return ad::sigmoid(x); }, sigmoid_ref,
       [](double x) { return sigmoid_ref(x) * sigmoid_q_ref(x); }, Domain::Real, kTails},
      // torch.nn.functional.softplus with beta 1, without its threshold: log(1 + e^x).
      {"softplus", ad::Fn::Softplus, 0, [](V x) { return ad::softplus(x); },
       [](double x) { return std::log1p(std::exp(x)); }, sigmoid_ref, Domain::Real, kTails},
      {"tanh", ad::Fn::Tanh, 0, [](V x) { return ad::tanh(x); }, [](double x) { return std::tanh(x); },
       [](double x) { return 1 / (std::cosh(x) * std::cosh(x)); }, Domain::Real, kTails},
      {"silu", ad::Fn::Silu, 0, [](V x) { return ad::silu(x); }, [](double x) { return x / (1 + std::exp(-x)); },
       [](double x) { return sigmoid_ref(x) + x * sigmoid_ref(x) * sigmoid_q_ref(x); }, Domain::Real, kTails},
      {"gelu", ad::Fn::Gelu, 0, [](V x) { return ad::gelu(x); }, [](double x) { return x * normal_cdf_ref(x); },
       [](double x) { return normal_cdf_ref(x) + x * normal_pdf_ref(x); }, Domain::Real, kTails},
      elu_spec("elu", 1.0, [](V x) { return ad::elu(x); }),
      elu_spec("elu_alpha_1p3", 1.3, [](V x) { return ad::elu(x, 1.3); }),
      {"relu", ad::Fn::Relu, 0, [](V x) { return ad::relu(x); }, [](double x) { return std::max(x, 0.0); },
       [](double x) { return x > 0 ? 1.0 : 0.0; }, Domain::AwayFromZero, kTailsAwayFromZero},
  };
}

// ---------------------------------------------------------------------------------------------
// The op table.

struct OpCase {
  std::string name;
  Inputs inputs;
  ad::CheckedFunction f;
  Reference reference;  // the forward value, computed independently with Eigen
};

void PrintTo(const OpCase& c, std::ostream* os) { *os << c.name; }

template <class Op>
ad::CheckedFunction unary(Op op) {
  return [op](ad::Tape<double>&, std::span<const V> x) { return op(x[0]); };
}
template <class Op>
ad::CheckedFunction binary(Op op) {
  return [op](ad::Tape<double>&, std::span<const V> x) { return op(x[0], x[1]); };
}

MatD op_t(const MatD& m, ad::Trans t) { return t == ad::Trans::Yes ? MatD(m.transpose()) : m; }

void add_matmul_cases(std::vector<OpCase>& cases) {
  // op(a) is 3x4 and op(b) is 4x2 in every combination.
  struct Combo {
    const char* name;
    ad::Trans ta, tb;
  };
  const Combo combos[] = {{"matmul_NN", ad::Trans::No, ad::Trans::No},
                          {"matmul_NT", ad::Trans::No, ad::Trans::Yes},
                          {"matmul_TN", ad::Trans::Yes, ad::Trans::No},
                          {"matmul_TT", ad::Trans::Yes, ad::Trans::Yes}};
  for (const Combo& c : combos) {
    const MatD a = op_t(normal(3, 4, 11), c.ta), b = op_t(normal(4, 2, 12), c.tb);
    cases.push_back({c.name, {a, b},
                     binary([ta = c.ta, tb = c.tb](V x, V y) { return ad::matmul(x, y, ta, tb); }),
                     [ta = c.ta, tb = c.tb](const Inputs& in) { return MatD(op_t(in[0], ta) * op_t(in[1], tb)); }});
  }
  cases.push_back({"linear", {normal(3, 4, 13), normal(2, 4, 14), normal(1, 2, 15)},
                   [](ad::Tape<double>&, std::span<const V> x) { return ad::linear(x[0], x[1], x[2]); },
                   [](const Inputs& in) {
                     return MatD((in[0] * in[1].transpose()).rowwise() + in[2].row(0));
                   }});
  cases.push_back({"linear_no_bias", {normal(3, 4, 16), normal(2, 4, 17)},
                   binary([](V x, V w) { return ad::linear(x, w, V()); }),
                   [](const Inputs& in) { return MatD(in[0] * in[1].transpose()); }});
  cases.push_back({"transpose", {normal(3, 2, 18)}, unary([](V x) { return ad::transpose(x); }),
                   [](const Inputs& in) { return MatD(in[0].transpose()); }});
}

void add_arithmetic_cases(std::vector<OpCase>& cases) {
  struct Arith {
    const char* name;
    V (*op)(V, V);
    double (*ref)(double, double);
  };
  const Arith ops[] = {{"add", &ad::add<double>, [](double a, double b) { return a + b; }},
                       {"sub", &ad::sub<double>, [](double a, double b) { return a - b; }},
                       {"mul", &ad::mul<double>, [](double a, double b) { return a * b; }},
                       {"div", &ad::div<double>, [](double a, double b) { return a / b; }}};
  struct Shapes {
    const char* name;
    Index ar, ac, br, bc;
  };
  const Shapes shapes[] = {{"same", 3, 4, 3, 4},         {"row", 3, 4, 1, 4},          {"row_left", 1, 4, 3, 4},
                           {"col", 3, 4, 3, 1},          {"col_left", 3, 1, 3, 4},     {"scalar_right", 3, 4, 1, 1},
                           {"scalar_left", 1, 1, 3, 4},  {"outer", 3, 1, 1, 4},        {"scalars", 1, 1, 1, 1}};
  std::uint64_t seed = 100;
  for (const Arith& op : ops) {
    for (const Shapes& s : shapes) {
      const bool is_div = std::string(op.name) == "div";
      const MatD a = normal(s.ar, s.ac, ++seed);
      // Denominators stay away from 0; other operands take either sign.
      const MatD b = is_div ? uniform(s.br, s.bc, ++seed, 0.5, 1.5) : normal(s.br, s.bc, ++seed);
      cases.push_back({std::string(op.name) + "_" + s.name, {a, b}, binary(op.op), [ref = op.ref](const Inputs& in) {
                         const Index rows = std::max(in[0].rows(), in[1].rows());
                         const Index cols = std::max(in[0].cols(), in[1].cols());
                         const MatD x = expand(in[0], rows, cols), y = expand(in[1], rows, cols);
                         return MatD(x.binaryExpr(y, ref));
                       }});
    }
  }
  // The Var-Var operators are the same ops; check they are wired to the right ones.
  cases.push_back({"var_operators", {normal(3, 4, 150), uniform(3, 4, 151, 0.5, 1.5)},
                   binary([](V a, V b) { return (a + b) * (a - b) / b; }),
                   [](const Inputs& in) {
                     const auto a = in[0].array(), b = in[1].array();
                     return MatD(((a + b) * (a - b) / b).matrix());
                   }});
}

void add_affine_cases(std::vector<OpCase>& cases) {
  struct ScalarOp {
    const char* name;
    V (*op)(V);
    double (*ref)(double);
    bool positive;  // input must stay away from 0 (division by it)
  };
  const ScalarOp ops[] = {
      {"affine", [](V a) { return ad::affine(a, 1.7, -0.3); }, [](double a) { return 1.7 * a - 0.3; }, false},
      {"negate", [](V a) { return -a; }, [](double a) { return -a; }, false},
      {"plus_scalar", [](V a) { return a + 0.7; }, [](double a) { return a + 0.7; }, false},
      {"scalar_plus", [](V a) { return 0.7 + a; }, [](double a) { return 0.7 + a; }, false},
      {"minus_scalar", [](V a) { return a - 0.7; }, [](double a) { return a - 0.7; }, false},
      {"scalar_minus", [](V a) { return 0.7 - a; }, [](double a) { return 0.7 - a; }, false},
      {"times_scalar", [](V a) { return a * 1.9; }, [](double a) { return a * 1.9; }, false},
      {"scalar_times", [](V a) { return 1.9 * a; }, [](double a) { return 1.9 * a; }, false},
      {"over_scalar", [](V a) { return a / 1.9; }, [](double a) { return a / 1.9; }, false},
      {"scalar_over", [](V a) { return 1.9 / a; }, [](double a) { return 1.9 / a; }, true},
  };
  std::uint64_t seed = 200;
  for (const ScalarOp& op : ops) {
    const MatD a = op.positive ? positive(3, 4, ++seed) : normal(3, 4, ++seed);
    cases.push_back({op.name, {a}, unary(op.op), [ref = op.ref](const Inputs& in) { return map(in[0], ref); }});
  }
}

void add_elementwise_cases(std::vector<OpCase>& cases) {
  std::uint64_t seed = 300;
  for (const FnSpec& s : fn_specs()) {
    cases.push_back({s.name, {sample(s.domain, ++seed)}, unary(s.op),
                     [value = s.value](const Inputs& in) { return map(in[0], value); }});
  }
}

void add_reduction_cases(std::vector<OpCase>& cases) {
  struct Reduction {
    const char* name;
    V (*op)(V);
    MatD (*ref)(const MatD&);
  };
  const Reduction ops[] = {
      {"sum", &ad::sum<double>, [](const MatD& a) { return MatD(MatD::Constant(1, 1, a.sum())); }},
      {"mean", &ad::mean<double>, [](const MatD& a) { return MatD(MatD::Constant(1, 1, a.mean())); }},
      {"row_sums", &ad::row_sums<double>, [](const MatD& a) { return MatD(a.rowwise().sum()); }},
      {"row_means", &ad::row_means<double>, [](const MatD& a) { return MatD(a.rowwise().mean()); }},
      {"col_sums", &ad::col_sums<double>, [](const MatD& a) { return MatD(a.colwise().sum()); }},
      {"col_means", &ad::col_means<double>, [](const MatD& a) { return MatD(a.colwise().mean()); }},
      {"reduce_to_1x1", [](V a) { return ad::reduce_to(a, 1, 1); },
       [](const MatD& a) { return MatD(MatD::Constant(1, 1, a.sum())); }},
      {"reduce_to_Nx1", [](V a) { return ad::reduce_to(a, 3, 1); }, [](const MatD& a) { return MatD(a.rowwise().sum()); }},
      {"reduce_to_1xD", [](V a) { return ad::reduce_to(a, 1, 4); }, [](const MatD& a) { return MatD(a.colwise().sum()); }},
      {"reduce_to_same", [](V a) { return ad::reduce_to(a, 3, 4); }, [](const MatD& a) { return a; }},
  };
  std::uint64_t seed = 400;
  for (const Reduction& r : ops)
    cases.push_back({r.name, {normal(3, 4, ++seed)}, unary(r.op), [ref = r.ref](const Inputs& in) { return ref(in[0]); }});

  struct Broadcast {
    const char* name;
    Index rows, cols;
  };
  const Broadcast from[] = {{"broadcast_to_from_1x1", 1, 1},
                            {"broadcast_to_from_1xD", 1, 4},
                            {"broadcast_to_from_Nx1", 3, 1},
                            {"broadcast_to_same", 3, 4}};
  for (const Broadcast& b : from)
    cases.push_back({b.name, {normal(b.rows, b.cols, ++seed)}, unary([](V a) { return ad::broadcast_to(a, 3, 4); }),
                     [](const Inputs& in) { return expand(in[0], 3, 4); }});
}

void add_selection_cases(std::vector<OpCase>& cases) {
  const std::vector<Index> picks = {2, 0, 2, 3};  // column 2 twice
  const std::vector<Index> targets = {4, 1, 4};   // column 4 accumulates twice
  cases.push_back({"slice_cols", {normal(3, 4, 501)}, unary([](V a) { return ad::slice_cols(a, 1, 2); }),
                   [](const Inputs& in) { return MatD(in[0].middleCols(1, 2)); }});
  cases.push_back({"slice_rows", {normal(4, 3, 502)}, unary([](V a) { return ad::slice_rows(a, 1, 2); }),
                   [](const Inputs& in) { return MatD(in[0].middleRows(1, 2)); }});
  cases.push_back({"select_cols_repeated", {normal(3, 4, 503)},
                   unary([picks](V a) { return ad::select_cols(a, picks); }), [picks](const Inputs& in) {
                     MatD out(in[0].rows(), static_cast<Index>(picks.size()));
                     for (std::size_t j = 0; j < picks.size(); ++j) out.col(static_cast<Index>(j)) = in[0].col(picks[j]);
                     return out;
                   }});
  cases.push_back({"pad_cols", {normal(3, 2, 504)}, unary([](V a) { return ad::pad_cols(a, 1, 5); }),
                   [](const Inputs& in) {
                     MatD out = MatD::Zero(3, 5);
                     out.middleCols(1, 2) = in[0];
                     return out;
                   }});
  cases.push_back({"pad_rows", {normal(2, 3, 505)}, unary([](V a) { return ad::pad_rows(a, 1, 4); }),
                   [](const Inputs& in) {
                     MatD out = MatD::Zero(4, 3);
                     out.middleRows(1, 2) = in[0];
                     return out;
                   }});
  cases.push_back({"scatter_cols_repeated", {normal(3, 3, 506)},
                   unary([targets](V a) { return ad::scatter_cols(a, targets, 5); }), [targets](const Inputs& in) {
                     MatD out = MatD::Zero(3, 5);
                     for (std::size_t j = 0; j < targets.size(); ++j) out.col(targets[j]) += in[0].col(static_cast<Index>(j));
                     return out;
                   }});
  cases.push_back({"concat_cols", {normal(3, 2, 507), normal(3, 3, 508)}, binary(&ad::concat_cols<double>),
                   [](const Inputs& in) {
                     MatD out(3, 5);
                     out << in[0], in[1];
                     return out;
                   }});
  cases.push_back({"concat_rows", {normal(2, 3, 509), normal(1, 3, 510)}, binary(&ad::concat_rows<double>),
                   [](const Inputs& in) {
                     MatD out(3, 3);
                     out << in[0], in[1];
                     return out;
                   }});
  cases.push_back({"repeat_rows", {normal(2, 3, 511)}, unary([](V a) { return ad::repeat_rows(a, 3); }),
                   [](const Inputs& in) {
                     MatD out(6, 3);
                     for (Index i = 0; i < 6; ++i) out.row(i) = in[0].row(i / 3);
                     return out;
                   }});
  cases.push_back({"tile_rows", {normal(2, 3, 513)}, unary([](V a) { return ad::tile_rows(a, 3); }),
                   [](const Inputs& in) {
                     MatD out(6, 3);
                     for (Index i = 0; i < 6; ++i) out.row(i) = in[0].row(i % 2);
                     return out;
                   }});
  cases.push_back({"block_sum_rows", {normal(6, 2, 514)}, unary([](V a) { return ad::block_sum_rows(a, 3); }),
                   [](const Inputs& in) {
                     MatD out = MatD::Zero(2, 2);
                     for (Index i = 0; i < 6; ++i) out.row(i % 2) += in[0].row(i);
                     return out;
                   }});
  cases.push_back({"segment_sum_rows", {normal(6, 2, 512)}, unary([](V a) { return ad::segment_sum_rows(a, 3); }),
                   [](const Inputs& in) {
                     MatD out = MatD::Zero(2, 2);
                     for (Index i = 0; i < 6; ++i) out.row(i / 3) += in[0].row(i);
                     return out;
                   }});
}

std::vector<OpCase> op_cases() {
  std::vector<OpCase> cases;
  add_matmul_cases(cases);
  add_arithmetic_cases(cases);
  add_affine_cases(cases);
  add_elementwise_cases(cases);
  add_reduction_cases(cases);
  add_selection_cases(cases);
  return cases;
}

class OpTest : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpTest, ForwardMatchesClosedForm) {
  const OpCase& c = GetParam();
  ad::Tape<double> tape;
  std::vector<V> vars;
  for (const MatD& x : c.inputs) vars.push_back(tape.variable(x));
  const V y = c.f(tape, vars);
  EXPECT_TRUE(y.requires_grad());
  EXPECT_TRUE(matrices_near(y.value(), c.reference(c.inputs), 1e-13, 1e-14));
}

TEST_P(OpTest, FirstDerivatives) {
  const auto report = ad::gradcheck(GetParam().f, GetParam().inputs);
  ASSERT_TRUE(report.ok) << report.summary();
  EXPECT_GT(report.checked, 0u);
}

TEST_P(OpTest, SecondDerivatives) {
  const auto report = ad::gradgradcheck(GetParam().f, GetParam().inputs);
  ASSERT_TRUE(report.ok) << report.summary();
}

// For ops linear in their input the second derivative above is zero; squaring the output makes
// the gradient depend on the input, so this differentiates each op's backward rule itself.
TEST_P(OpTest, SecondDerivativesOfSquaredOutput) {
  const ad::CheckedFunction& f = GetParam().f;
  const ad::CheckedFunction squared = [&f](ad::Tape<double>& tape, std::span<const V> x) {
    const V y = f(tape, x);
    return y * y;
  };
  const auto report = ad::gradgradcheck(squared, GetParam().inputs);
  ASSERT_TRUE(report.ok) << report.summary();
}

INSTANTIATE_TEST_SUITE_P(Ops, OpTest, ::testing::ValuesIn(op_cases()),
                         [](const ::testing::TestParamInfo<OpCase>& param_info) { return param_info.param.name; });

// ---------------------------------------------------------------------------------------------
// Elementwise functions: higher derivatives, and values in the tails.

class ElementwiseTest : public ::testing::TestWithParam<FnSpec> {};

// apply(fn, x, k) must be the derivative of apply(fn, x, k - 1): gradcheck at order k - 1
// compares the analytic order k with the central difference of order k - 1 (k up to 5), and
// gradgradcheck at order k - 1 does the same one order higher through the fused backward.
TEST_P(ElementwiseTest, HigherDerivativesMatchCentralDifferences) {
  const FnSpec& s = GetParam();
  const MatD x = sample(s.domain, 600 + static_cast<std::uint64_t>(s.fn));
  for (int order = 0; order <= 4; ++order) {
    const ad::CheckedFunction f = [&s, order](ad::Tape<double>&, std::span<const V> in) {
      return ad::apply(s.fn, in[0], order, s.param);
    };
    const auto first = ad::gradcheck(f, {x});
    ASSERT_TRUE(first.ok) << "order " << order << ": " << first.summary();
    if (order < 4) {
      const auto second = ad::gradgradcheck(f, {x});
      ASSERT_TRUE(second.ok) << "order " << order << ": " << second.summary();
    }
  }
}

TEST_P(ElementwiseTest, OrderZeroIsTheNamedOp) {
  const FnSpec& s = GetParam();
  ad::Tape<double> tape;
  const V x = tape.variable(sample(s.domain, 700));
  EXPECT_TRUE(matrices_near(ad::apply(s.fn, x, 0, s.param).value(), s.op(x).value(), 0, 0));
}

// Value and first derivative (through tape.grad) against closed forms, at the hard points and
// at random ones: finite, and accurate to a few ulps even where the naive formula would cancel.
TEST_P(ElementwiseTest, ValuesAndDerivativesMatchClosedForms) {
  const FnSpec& s = GetParam();
  std::vector<double> points = s.hard;
  const MatD random = sample(s.domain, 800);
  points.insert(points.end(), random.data(), random.data() + random.size());
  ad::Tape<double> tape;
  const V x = tape.variable(row_vector(points));
  const V y = s.op(x);
  const V dy = tape.grad(ad::sum(y), {x})[0];
  for (std::size_t j = 0; j < points.size(); ++j) {
    const double p = points[j];
    EXPECT_TRUE(close(y.value()(0, static_cast<Index>(j)), s.value(p))) << s.name << "(" << p << ")";
    EXPECT_TRUE(close(dy.value()(0, static_cast<Index>(j)), s.derivative(p))) << s.name << "'(" << p << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(Fns, ElementwiseTest, ::testing::ValuesIn(fn_specs()),
                         [](const ::testing::TestParamInfo<FnSpec>& param_info) { return param_info.param.name; });

// d^k sigmoid / dx^k for k = 1..3 deep in both tails, against closed forms written in s and
// q = 1 - s, each evaluated directly (so neither cancels).
TEST(Sigmoid, DerivativesInTheTailsMatchClosedForms) {
  struct Closed {
    int order;
    double (*fn)(double s, double q);
  };
  const Closed closed[] = {
      {1, [](double s, double q) { return s * q; }},                       // s(1-s)
      {2, [](double s, double q) { return s * q * (q - s); }},             // s(1-s)(1-2s)
      {3, [](double s, double q) { return s * q * (1 - 6 * s * q); }},     // s(1-s)(1-6s+6s^2)
  };
  const std::vector<double> points = {-700, -30, -2.5, 0.3, 30, 700};
  ad::Tape<double> tape;
  const V x = tape.constant(row_vector(points));
  for (const Closed& c : closed) {
    const MatD d = ad::apply(ad::Fn::Sigmoid, x, c.order).value();
    for (std::size_t j = 0; j < points.size(); ++j) {
      const double s = sigmoid_ref(points[j]), q = sigmoid_q_ref(points[j]);
      EXPECT_TRUE(close(d(0, static_cast<Index>(j)), c.fn(s, q)))
          << "order " << c.order << " at x = " << points[j];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Gradient plumbing.

// A Var recorded after y cannot influence it: its gradient is zero and shaped like it, even
// when the tape's scratch still holds gradients from an earlier, larger sweep.
TEST(Grad, VarRecordedAfterOutputGetsZeroGradient) {
  ad::Tape<double> tape;
  {
    const V x = tape.variable(normal(3, 2, 901)), w = tape.variable(normal(3, 2, 902));
    (void)tape.grad(ad::sum(ad::exp(x) * w), {x, w});
  }
  tape.reset();
  const MatD x0 = normal(3, 2, 903);
  const V x = tape.variable(x0);
  const V y = ad::sum(ad::square(x));
  const V late = tape.variable(normal(2, 5, 904));
  const auto g = tape.grad(y, {x, late});
  ASSERT_EQ(g.size(), 2u);
  EXPECT_TRUE(matrices_near(g[0].value(), 2 * x0, 1e-15, 0));
  ASSERT_LT(static_cast<std::size_t>(g[1].id()), tape.size());
  EXPECT_TRUE(matrices_near(g[1].value(), MatD::Zero(2, 5), 0, 0));
}

// Gradients wrt an intermediate Var, and create_graph = false producing constants.
TEST(Grad, IntermediateWrtAndConstantGradients) {
  ad::Tape<double> tape;
  const MatD x0 = normal(2, 3, 905);
  const V x = tape.variable(x0);
  const V h = ad::exp(x);
  const V y = ad::sum(h * h);
  const auto g = tape.grad(y, {h, x});
  EXPECT_TRUE(matrices_near(g[0].value(), 2 * x0.array().exp().matrix(), 1e-14, 0));
  EXPECT_TRUE(matrices_near(g[1].value(), 2 * (2 * x0.array()).exp().matrix(), 1e-14, 0));
  EXPECT_FALSE(g[0].requires_grad());
  EXPECT_FALSE(g[1].requires_grad());
  ad::GradOptions<double> options;
  options.create_graph = true;
  EXPECT_TRUE(tape.grad(y, {x}, options)[0].requires_grad());
}

}  // namespace
