// Bad input to the autodiff engine: every misuse throws an ebm error (never aborts) whose
// message names the function and the offending shapes, positions or values, and the tape stays
// usable afterwards.
#include <ebm/ad/gradcheck.hpp>
#include <ebm/ad/ops.hpp>
#include <ebm/core/check.hpp>
#include <ebm/core/error.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <ostream>
#include <span>
#include <string>
#include <typeinfo>
#include <vector>

namespace {

namespace ad = ebm::ad;
using ebm::Index;
using ebm::MatD;
using V = ad::Var<double>;
using Tape = ad::Tape<double>;

enum class Kind { InvalidArgument, NumericalError };

struct ErrorCase {
  std::string name;
  Kind kind;
  std::function<void(Tape&)> body;  // must throw
  std::vector<std::string> fragments;  // each must occur in what()
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

V var(Tape& t, Index rows, Index cols) { return t.variable(MatD::Constant(rows, cols, 0.5)); }

MatD with_entry(Index rows, Index cols, Index r, Index c, double v) {
  MatD m = MatD::Ones(rows, cols);
  m(r, c) = v;
  return m;
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------------------------------------
// Shapes that do not fit.

void add_shape_cases(std::vector<ErrorCase>& cases) {
  const Kind IA = Kind::InvalidArgument;
  cases.push_back({"matmul_inner", IA, [](Tape& t) { ad::matmul(var(t, 3, 2), var(t, 4, 5)); },
                   {"matmul", "3x2", "4x5"}});
  cases.push_back({"matmul_inner_transposed", IA,
                   [](Tape& t) { ad::matmul(var(t, 3, 2), var(t, 4, 5), ad::Trans::Yes, ad::Trans::Yes); },
                   {"matmul", "3x2", "4x5", "transposed"}});
  struct Arith {
    const char* name;
    V (*op)(V, V);
  };
  const Arith ops[] = {{"add", &ad::add<double>}, {"sub", &ad::sub<double>}, {"mul", &ad::mul<double>},
                       {"div", &ad::div<double>}};
  struct Pair {
    const char* name;
    Index ar, ac, br, bc;
  };
  const Pair pairs[] = {{"both", 3, 2, 4, 5}, {"row", 3, 4, 1, 5}, {"col", 3, 4, 2, 1}};
  for (const Arith& a : ops) {
    for (const Pair& p : pairs) {
      cases.push_back({std::string(a.name) + "_" + p.name, IA,
                       [a, p](Tape& t) { a.op(var(t, p.ar, p.ac), var(t, p.br, p.bc)); },
                       {a.name, ebm::shape_str(p.ar, p.ac), ebm::shape_str(p.br, p.bc)}});
    }
  }
  cases.push_back({"concat_cols_rows", IA, [](Tape& t) { ad::concat_cols(var(t, 3, 2), var(t, 4, 5)); },
                   {"concat_cols", "3x2", "4x5"}});
  cases.push_back({"concat_rows_cols", IA, [](Tape& t) { ad::concat_rows(var(t, 3, 2), var(t, 4, 5)); },
                   {"concat_rows", "3x2", "4x5"}});
  cases.push_back({"reduce_to_bad_shape", IA, [](Tape& t) { ad::reduce_to(var(t, 3, 4), 2, 1); },
                   {"reduce_to", "3x4", "2x1"}});
  cases.push_back({"broadcast_to_bad_rows", IA, [](Tape& t) { ad::broadcast_to(var(t, 2, 3), 4, 3); },
                   {"broadcast_to", "2x3", "4x3"}});
  cases.push_back({"broadcast_to_bad_cols", IA, [](Tape& t) { ad::broadcast_to(var(t, 1, 3), 1, 5); },
                   {"broadcast_to", "1x3", "1x5"}});
  cases.push_back({"broadcast_to_negative", IA, [](Tape& t) { ad::broadcast_to(var(t, 1, 1), -1, 2); },
                   {"broadcast_to", "1x1", "-1x2"}});
  cases.push_back({"linear_bias_length", IA,
                   [](Tape& t) { ad::linear(var(t, 3, 4), var(t, 2, 4), var(t, 1, 3)); },
                   {"linear", "bias", "1x3", "1x2"}});
  cases.push_back({"linear_bias_column", IA,
                   [](Tape& t) { ad::linear(var(t, 3, 4), var(t, 2, 4), var(t, 2, 1)); },
                   {"linear", "bias", "2x1", "1x2"}});
  cases.push_back({"linear_weight", IA, [](Tape& t) { ad::linear(var(t, 3, 2), var(t, 4, 5), var(t, 1, 4)); },
                   {"linear", "3x2", "4x5"}});
}

// ---------------------------------------------------------------------------------------------
// Ranges, indices and factors out of bounds.

void add_range_cases(std::vector<ErrorCase>& cases) {
  const Kind IA = Kind::InvalidArgument;
  cases.push_back({"slice_cols_past_end", IA, [](Tape& t) { ad::slice_cols(var(t, 3, 4), 2, 3); },
                   {"slice_cols", "3x4", "[2, 5)"}});
  cases.push_back({"slice_cols_negative_start", IA, [](Tape& t) { ad::slice_cols(var(t, 3, 4), -1, 2); },
                   {"slice_cols", "3x4", "[-1, 1)"}});
  cases.push_back({"slice_cols_negative_count", IA, [](Tape& t) { ad::slice_cols(var(t, 3, 4), 1, -1); },
                   {"slice_cols", "3x4"}});
  cases.push_back({"slice_rows_past_end", IA, [](Tape& t) { ad::slice_rows(var(t, 3, 4), 1, 3); },
                   {"slice_rows", "3x4", "[1, 4)"}});
  cases.push_back({"pad_cols_past_end", IA, [](Tape& t) { ad::pad_cols(var(t, 3, 2), 4, 5); },
                   {"pad_cols", "3x2", "[4, 6)"}});
  cases.push_back({"pad_rows_past_end", IA, [](Tape& t) { ad::pad_rows(var(t, 3, 2), 2, 4); },
                   {"pad_rows", "3x2", "[2, 5)"}});
  cases.push_back({"select_cols_past_end", IA, [](Tape& t) { ad::select_cols(var(t, 3, 4), {0, 4}); },
                   {"select_cols", "index 4", "3x4"}});
  cases.push_back({"select_cols_negative", IA, [](Tape& t) { ad::select_cols(var(t, 3, 4), {-1}); },
                   {"select_cols", "index -1", "3x4"}});
  cases.push_back({"scatter_cols_count", IA, [](Tape& t) { ad::scatter_cols(var(t, 3, 2), {0, 1, 2}, 5); },
                   {"scatter_cols", "3 indices", "3x2"}});
  cases.push_back({"scatter_cols_past_total", IA, [](Tape& t) { ad::scatter_cols(var(t, 3, 2), {0, 5}, 5); },
                   {"scatter_cols", "index 5"}});
  cases.push_back({"segment_sum_rows_indivisible", IA, [](Tape& t) { ad::segment_sum_rows(var(t, 7, 2), 3); },
                   {"segment_sum_rows", "7x2", "k = 3"}});
  cases.push_back({"segment_sum_rows_zero_k", IA, [](Tape& t) { ad::segment_sum_rows(var(t, 6, 2), 0); },
                   {"segment_sum_rows", "6x2", "k = 0"}});
  cases.push_back({"block_sum_rows_indivisible", IA, [](Tape& t) { ad::block_sum_rows(var(t, 7, 2), 3); },
                   {"block_sum_rows", "7x2", "k = 3"}});
  cases.push_back({"tile_rows_zero_k", IA, [](Tape& t) { ad::tile_rows(var(t, 2, 2), 0); },
                   {"tile_rows", "k must be >= 1", "got 0"}});
  cases.push_back({"repeat_rows_zero_k", IA, [](Tape& t) { ad::repeat_rows(var(t, 2, 2), 0); },
                   {"repeat_rows", "k must be >= 1", "got 0"}});
  cases.push_back({"apply_negative_order", IA, [](Tape& t) { ad::apply(ad::Fn::Sigmoid, var(t, 2, 2), -1); },
                   {"apply", "order -1", "sigmoid"}});
  cases.push_back({"apply_order_too_high", IA,
                   [](Tape& t) { ad::apply(ad::Fn::Tanh, var(t, 2, 2), ad::kMaxDerivativeOrder + 1); },
                   {"apply", "order 9", "tanh"}});
  cases.push_back({"gradcheck_bad_eps", IA,
                   [](Tape&) {
                     ad::GradcheckOptions options;
                     options.eps = 0;
                     ad::gradcheck([](Tape&, std::span<const V> x) { return x[0]; }, {MatD::Ones(1, 1)}, options);
                   },
                   {"GradcheckOptions", "eps"}});
}

// ---------------------------------------------------------------------------------------------
// Vars that are stale, empty or from another tape; misuse of grad and item.

void add_var_cases(std::vector<ErrorCase>& cases) {
  const Kind IA = Kind::InvalidArgument;
  cases.push_back({"stale_argument", IA,
                   [](Tape& t) {
                     const V x = var(t, 2, 2);
                     t.reset();
                     ad::exp(x);
                   },
                   {"apply", "stale", "reset"}});
  cases.push_back({"stale_second_argument", IA,
                   [](Tape& t) {
                     const V x = var(t, 2, 2);
                     t.reset();
                     ad::add(var(t, 2, 2), x);
                   },
                   {"add", "second argument", "stale"}});
  cases.push_back({"stale_grad_output", IA,
                   [](Tape& t) {
                     const V x = var(t, 1, 1);
                     const V y = ad::exp(x);
                     t.reset();
                     const V x2 = var(t, 1, 1);
                     (void)t.grad(y, {x2});
                   },
                   {"grad", "y", "stale"}});
  cases.push_back({"stale_grad_wrt", IA,
                   [](Tape& t) {
                     const V x = var(t, 1, 1);
                     t.reset();
                     const V y = ad::exp(var(t, 1, 1));
                     (void)t.grad(y, {x});
                   },
                   {"grad", "wrt[0]", "stale"}});
  cases.push_back({"different_tapes_op", IA,
                   [](Tape& t) {
                     Tape other;
                     ad::mul(var(t, 2, 2), var(other, 2, 2));
                   },
                   {"mul", "different tapes"}});
  cases.push_back({"different_tapes_grad_wrt", IA,
                   [](Tape& t) {
                     Tape other;
                     const V y = ad::sum(var(t, 2, 2));
                     (void)t.grad(y, {var(other, 2, 2)});
                   },
                   {"grad", "wrt[0]", "another tape"}});
  cases.push_back({"different_tapes_grad_output", IA,
                   [](Tape& t) {
                     Tape other;
                     const V y = ad::sum(var(other, 2, 2));
                     (void)t.grad(y, {var(t, 2, 2)});
                   },
                   {"grad", "y", "another tape"}});
  cases.push_back({"different_tapes_seed", IA,
                   [](Tape& t) {
                     Tape other;
                     const V x = var(t, 2, 2);
                     ad::GradOptions<double> options;
                     options.seed = other.constant(MatD::Ones(2, 2));
                     (void)t.grad(ad::exp(x), {x}, options);
                   },
                   {"grad", "seed", "another tape"}});
  cases.push_back({"empty_argument", IA, [](Tape&) { ad::exp(V()); }, {"apply", "empty Var"}});
  cases.push_back({"empty_second_argument", IA, [](Tape& t) { ad::add(var(t, 1, 1), V()); }, {"add"}});
  cases.push_back({"empty_grad_output", IA, [](Tape& t) { (void)t.grad(V(), {var(t, 1, 1)}); },
                   {"grad", "empty Var"}});
  cases.push_back({"grad_non_scalar_without_seed", IA,
                   [](Tape& t) {
                     const V x = var(t, 3, 2);
                     (void)t.grad(ad::exp(x), {x});
                   },
                   {"grad", "3x2", "seed"}});
  cases.push_back({"grad_wrt_constant", IA,
                   [](Tape& t) {
                     const V c = t.constant(MatD::Ones(2, 2));
                     (void)t.grad(ad::sum(ad::exp(c)), {c});
                   },
                   {"grad", "wrt[0]", "does not require grad"}});
  cases.push_back({"grad_wrt_no_grad_result", IA,
                   [](Tape& t) {
                     const V x = var(t, 2, 2);
                     V h;
                     {
                       ad::NoGrad<double> no_grad(t);
                       h = ad::exp(x);
                     }
                     (void)t.grad(ad::sum(h), {x, h});
                   },
                   {"grad", "wrt[1]", "does not require grad"}});
  cases.push_back({"grad_seed_wrong_shape", IA,
                   [](Tape& t) {
                     const V x = var(t, 3, 2);
                     ad::GradOptions<double> options;
                     options.seed = t.constant(MatD::Ones(2, 3));
                     (void)t.grad(ad::exp(x), {x}, options);
                   },
                   {"grad", "seed", "2x3", "3x2"}});
  cases.push_back({"item_non_scalar", IA, [](Tape& t) { (void)var(t, 3, 2).item(); }, {"item", "3x2", "1x1"}});
}

// ---------------------------------------------------------------------------------------------
// Non-finite values: rejected leaves, and anomaly mode.

void add_numerical_cases(std::vector<ErrorCase>& cases) {
  const Kind NE = Kind::NumericalError;
  cases.push_back({"variable_nan", NE, [](Tape& t) { t.variable(with_entry(3, 4, 1, 2, kNaN)); },
                   {"variable", "nan", "row 1", "column 2"}});
  cases.push_back({"variable_inf", NE, [](Tape& t) { t.variable(with_entry(3, 4, 2, 0, kInf)); },
                   {"variable", "inf", "row 2", "column 0"}});
  cases.push_back({"constant_nan", NE, [](Tape& t) { t.constant(with_entry(2, 5, 0, 4, kNaN)); },
                   {"constant", "nan", "row 0", "column 4"}});
  cases.push_back({"constant_minus_inf", NE, [](Tape& t) { t.constant(with_entry(4, 3, 3, 1, -kInf)); },
                   {"constant", "-inf", "row 3", "column 1"}});
  cases.push_back({"check_finite_log_negative", NE,
                   [](Tape& t) {
                     t.set_check_finite(true);
                     ad::log(t.variable(with_entry(2, 3, 1, 2, -1.0)));
                   },
                   {"log", "nan", "row 1", "column 2", "2x3"}});
  cases.push_back({"check_finite_exp_overflow", NE,
                   [](Tape& t) {
                     t.set_check_finite(true);
                     ad::exp(t.variable(with_entry(2, 2, 0, 1, 800.0)));
                   },
                   {"exp", "inf", "row 0", "column 1"}});
  cases.push_back({"check_finite_div_by_zero", NE,
                   [](Tape& t) {
                     t.set_check_finite(true);
                     ad::div(var(t, 2, 2), t.constant(with_entry(1, 2, 0, 1, 0.0)));
                   },
                   {"div", "inf", "2x2", "1x2"}});
  cases.push_back({"check_finite_in_backward", NE,
                   [](Tape& t) {
                     t.set_check_finite(true);
                     const V x = t.variable(with_entry(2, 2, 1, 0, 0.0));
                     (void)t.grad(ad::sum(ad::sqrt(x)), {x});  // sqrt(0) is fine, its slope is not
                   },
                   {"apply_times", "pow", "inf", "row 1", "column 0"}});
}

std::vector<ErrorCase> error_cases() {
  std::vector<ErrorCase> cases;
  add_shape_cases(cases);
  add_range_cases(cases);
  add_var_cases(cases);
  add_numerical_cases(cases);
  return cases;
}

class ErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ErrorTest, ThrowsNamedError) {
  const ErrorCase& c = GetParam();
  Tape tape;
  std::string what;
  try {
    c.body(tape);
    FAIL() << "no exception";
  } catch (const ebm::InvalidArgument& e) {
    EXPECT_EQ(c.kind, Kind::InvalidArgument) << "unexpected InvalidArgument: " << e.what();
    what = e.what();
  } catch (const ebm::NumericalError& e) {
    EXPECT_EQ(c.kind, Kind::NumericalError) << "unexpected NumericalError: " << e.what();
    what = e.what();
  } catch (const std::exception& e) {
    FAIL() << "wrong exception type " << typeid(e).name() << ": " << e.what();
  }
  for (const std::string& fragment : c.fragments)
    EXPECT_NE(what.find(fragment), std::string::npos) << "\"" << fragment << "\" missing from: " << what;

  // The tape is still usable, and recording again, after the error.
  EXPECT_TRUE(tape.recording());
  tape.set_check_finite(false);
  tape.reset();
  const V x = tape.variable(MatD::Constant(2, 2, 0.5));
  const auto g = tape.grad(ad::sum(ad::square(x)), {x});
  EXPECT_TRUE(g[0].value().isApprox(MatD::Ones(2, 2)));
}

INSTANTIATE_TEST_SUITE_P(Errors, ErrorTest, ::testing::ValuesIn(error_cases()),
                         [](const ::testing::TestParamInfo<ErrorCase>& param_info) { return param_info.param.name; });

// ---------------------------------------------------------------------------------------------

TEST(CheckFinite, OffByDefaultSoNonFiniteValuesPropagate) {
  Tape tape;
  EXPECT_FALSE(tape.check_finite());
  const V y = ad::log(tape.constant(MatD::Constant(1, 1, -1.0)));
  EXPECT_TRUE(std::isnan(y.item()));
}

TEST(NoGrad, RecordsNothingAndRestoresRecording) {
  Tape tape;
  const V x = var(tape, 2, 3);
  ASSERT_TRUE(tape.recording());
  V inside;
  {
    ad::NoGrad<double> no_grad(tape);
    EXPECT_FALSE(tape.recording());
    inside = ad::sum(ad::exp(x) * x);
    EXPECT_FALSE(inside.requires_grad());
    {
      ad::NoGrad<double> nested(tape);
      EXPECT_FALSE(tape.recording());
    }
    EXPECT_FALSE(tape.recording());  // the inner scope restores the outer one's state
  }
  EXPECT_TRUE(tape.recording());
  EXPECT_DOUBLE_EQ(inside.item(), 6 * 0.5 * std::exp(0.5));
  // The value is there, but gradients do not flow through it.
  EXPECT_TRUE(tape.grad(inside, {x})[0].value().isZero());
  const V outside = ad::sum(ad::exp(x) * x);
  EXPECT_TRUE(outside.requires_grad());
  const auto g = tape.grad(outside, {x});
  EXPECT_TRUE(g[0].value().isApprox(MatD::Constant(2, 3, 1.5 * std::exp(0.5))));
}

TEST(NoGrad, RestoresRecordingWhenAnOpThrows) {
  Tape tape;
  try {
    ad::NoGrad<double> no_grad(tape);
    ad::matmul(var(tape, 3, 2), var(tape, 4, 5));
  } catch (const ebm::InvalidArgument&) {
  }
  EXPECT_TRUE(tape.recording());
}

TEST(Grad, RestoresRecordingWhenTheBackwardPassThrows) {
  Tape tape;
  tape.set_check_finite(true);
  const V x = tape.variable(MatD::Zero(1, 1));
  const V y = ad::sqrt(x);  // finite; its slope at 0 is not
  EXPECT_THROW((void)tape.grad(y, {x}), ebm::NumericalError);
  EXPECT_TRUE(tape.recording());
  ad::GradOptions<double> options;
  options.create_graph = true;
  tape.set_recording(false);
  EXPECT_THROW((void)tape.grad(y, {x}, options), ebm::NumericalError);
  EXPECT_FALSE(tape.recording());
}

}  // namespace
