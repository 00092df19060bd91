#include <ebm/ad/elementwise.hpp>

#include <array>
#include <cmath>
#include <numbers>

#pragma GCC diagnostic ignored "-Wignored-attributes"  // Eigen packet types as template arguments

namespace ebm::ad {
namespace {

// Work in stack blocks so temporaries stay in L1 and nothing is allocated.
constexpr Index kBlock = 256;
template <class T>
using Block = Eigen::Array<T, Eigen::Dynamic, 1, 0, kBlock, 1>;
template <class T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

// d^k/dx^k sigmoid(x) = sum_a c[k][a] s^a q^(k+1-a) with s = sigmoid(x), q = 1 - s = sigmoid(-x).
// Writing it in both s and q keeps it accurate in both tails, where 1 - s would cancel.
// From ds/dx = s q and dq/dx = -s q: d(s^a q^b) = a s^a q^(b+1) - b s^(a+1) q^b.
struct SigmoidCoefficients {
  std::array<std::array<double, kMaxDerivativeOrder + 2>, kMaxDerivativeOrder + 1> c{};
  constexpr SigmoidCoefficients() {
    c[0][1] = 1;
    for (int k = 0; k < kMaxDerivativeOrder; ++k) {
      const int d = k + 1;  // degree at order k
      for (int a = 0; a <= d; ++a) {
        c[k + 1][a] += a * c[k][a];
        c[k + 1][a + 1] -= (d - a) * c[k][a];
      }
    }
  }
};
constexpr SigmoidCoefficients kSigmoid;

// out = x >= 0 ? a : b (x > 0 when `strict`), packet by packet. Eigen 3.4's select() is not
// vectorised: it is a scalar loop with a branch per element, mispredicted half the time on
// signed data. Blocks are padded to whole packets, so every element takes this one path.
template <class T>
void where_nonnegative(const Block<T>& x, const Block<T>& a, const Block<T>& b, Block<T>& out, bool strict = false) {
  using Packet = typename Eigen::internal::packet_traits<T>::type;
  constexpr Index P = Eigen::internal::unpacket_traits<Packet>::size;
  namespace in = Eigen::internal;
  out.resize(x.size());
  const Packet zero = in::pset1<Packet>(T(0));
  for (Index i = 0; i < x.size(); i += P) {
    const Packet xi = in::pload<Packet>(x.data() + i);
    const Packet mask = strict ? in::pcmp_lt(zero, xi) : in::pcmp_le(zero, xi);
    in::pstore(out.data() + i, in::pselect(mask, in::pload<Packet>(a.data() + i), in::pload<Packet>(b.data() + i)));
  }
}

// s and q from one exp, stable for any x.
template <class T>
void sigmoid_pair(const Block<T>& x, Block<T>& s, Block<T>& q) {
  const Block<T> e = (-x.abs()).exp();
  const Block<T> r = (T(1) + e).inverse();
  const Block<T> er = e * r;
  where_nonnegative<T>(x, r, er, s);
  where_nonnegative<T>(x, er, r, q);
}

template <class T, class X>
void sigmoid_derivative(const X& x, int k, Block<T>& out) {
  if (k == 0) {  // accurate everywhere: exp(-x) overflowing to inf gives exactly 0
    out = (T(1) + (-x).exp()).inverse();
    return;
  }
  if (k == 1) {  // s q = e / (1 + e)^2 with e = exp(-|x|) <= 1
    const Block<T> e = (-x.abs()).exp();
    out = e / (T(1) + e).square();
    return;
  }
  Block<T> s(x.size()), q(x.size());
  sigmoid_pair<T>(x, s, q);
  // Horner in s with coefficients scaled by rising powers of q.
  const auto& c = kSigmoid.c[k];
  const int d = k + 1;
  out.setConstant(x.size(), T(c[d]));
  Block<T> qp = q;
  for (int a = d - 1; a >= 0; --a) {
    out = out * s + T(c[a]) * qp;
    if (a > 0) qp *= q;
  }
}

// d^j/dx^j Phi(x), Phi the standard normal CDF: Phi for j = 0, else (-1)^(j-1) He_{j-1}(x) phi(x).
template <class T, class X>
void normal_cdf_derivative(const X& x, int j, Block<T>& out) {
  const Index m = x.size();
  if (j == 0) {
    for (Index i = 0; i < m; ++i) out[i] = T(0.5) * std::erfc(-x[i] * T(std::numbers::sqrt2 / 2));
    return;
  }
  const T inv_sqrt_2pi = T(std::numbers::inv_sqrtpi / std::numbers::sqrt2);
  Block<T> he_prev = Block<T>::Ones(m), he = x;  // He_0, He_1
  if (j == 1) he = he_prev;
  for (int n = 1; n < j - 1; ++n) {  // He_{n+1} = x He_n - n He_{n-1}
    Block<T> next = x * he - T(n) * he_prev;
    he_prev = he;
    he = next;
  }
  const T sign = (j - 1) % 2 == 0 ? T(1) : T(-1);
  out = sign * he * inv_sqrt_2pi * (T(-0.5) * x.square()).exp();
}

double falling_factorial(double p, int k) {
  double r = 1;
  for (int i = 0; i < k; ++i) r *= p - i;
  return r;
}

template <class T, class X>
void integer_power_of_inverse(const X& x, int k, Block<T>& out) {
  const Block<T> inv = x.inverse();
  out = inv;
  for (int i = 1; i < k; ++i) out *= inv;
}

// (x f)^(k) = x f^(k) + k f^(k-1) (Leibniz), given f^(j) by f_derivative(x, j, out).
template <class T, class X, class Derivative>
void x_times_derivative(const X& x, int k, Block<T>& v, Derivative f_derivative) {
  f_derivative(x, k, v);
  v *= x;
  if (k > 0) {
    Block<T> lower(x.size());
    f_derivative(x, k - 1, lower);
    v += T(k) * lower;
  }
}

template <class T, class X>
void value(Fn fn, int k, T param, const X& x, Block<T>& v) {
  const Index m = x.size();
  v.resize(m);
  switch (fn) {
    case Fn::Exp:
      v = x.exp();
      return;
    case Fn::Log:
    case Fn::Log1p: {
      const Block<T> base = fn == Fn::Log ? Block<T>(x) : Block<T>(x + T(1));
      if (k == 0) {
        v = fn == Fn::Log ? Block<T>(x.log()) : Block<T>(x.log1p());
      } else {  // (-1)^(k-1) (k-1)! / base^k
        integer_power_of_inverse<T>(base, k, v);
        v *= T(falling_factorial(k - 1, k - 1) * (k % 2 == 1 ? 1 : -1));
      }
      return;
    }
    case Fn::Pow: {
      const T coef = T(falling_factorial(param, k));
      const T e = param - T(k);
      if (coef == T(0)) v.setZero();
      else if (e == T(0)) v.setConstant(coef);
      else if (e == T(1)) v = coef * x;
      else if (e == T(2)) v = coef * x.square();
      else if (e == T(0.5)) v = coef * x.sqrt();
      else if (e == T(-1)) v = coef * x.inverse();
      else v = coef * x.pow(e);
      return;
    }
    case Fn::Sigmoid:
      sigmoid_derivative<T>(x, k, v);
      return;
    case Fn::Softplus:
      if (k == 0) {
        // max(x, 0) + log1p(e), e = exp(-|x|) in (0, 1]. log1p(e) as log(u) corrected for the
        // rounding of u = 1 + e: as accurate as Eigen's log1p and a third faster.
        const Block<T> e = (-x.abs()).exp();
        const Block<T> u = T(1) + e;
        v = x.max(T(0)) + (u.log() - ((u - T(1)) - e) / u);
      } else {
        sigmoid_derivative<T>(x, k - 1, v);
      }
      return;
    case Fn::Tanh:
      if (k == 0) {
        v = x.tanh();
      } else {  // tanh(x) = 2 sigmoid(2x) - 1
        const Block<T> x2 = T(2) * x;
        sigmoid_derivative<T>(x2, k, v);
        v *= T(std::ldexp(1.0, k + 1));
      }
      return;
    case Fn::Silu:  // x sigmoid(x)
      x_times_derivative<T>(x, k, v, [](const X& y, int j, Block<T>& out) { sigmoid_derivative<T>(y, j, out); });
      return;
    case Fn::Gelu:  // x Phi(x)
      x_times_derivative<T>(x, k, v, [](const X& y, int j, Block<T>& out) { normal_cdf_derivative<T>(y, j, out); });
      return;
    case Fn::Elu:
      if (k == 0) where_nonnegative<T>(x, x, Block<T>(param * x.expm1()), v, true);
      else where_nonnegative<T>(x, Block<T>::Constant(m, k == 1 ? T(1) : T(0)), Block<T>(param * x.exp()), v, true);
      return;
    case Fn::Relu:
      if (k == 0) v = x.max(T(0));
      else if (k == 1) where_nonnegative<T>(x, Block<T>::Ones(m), Block<T>::Zero(m), v, true);
      else v.setZero();
      return;
  }
}

}  // namespace

std::string_view fn_name(Fn fn) {
  switch (fn) {
    case Fn::Exp: return "exp";
    case Fn::Log: return "log";
    case Fn::Log1p: return "log1p";
    case Fn::Pow: return "pow";
    case Fn::Sigmoid: return "sigmoid";
    case Fn::Softplus: return "softplus";
    case Fn::Tanh: return "tanh";
    case Fn::Silu: return "silu";
    case Fn::Gelu: return "gelu";
    case Fn::Elu: return "elu";
    case Fn::Relu: return "relu";
  }
  return "unknown";
}

template <class T>
void fn_apply(Fn fn, int order, T param, const T* x, const T* g, T* out, Index n) {
  // Every element goes through Eigen's packet path, in an aligned block padded to whole
  // packets: its scalar path (std::exp, ...) rounds differently, and using it for a loop's
  // head or tail would make a value depend on where it sits in memory, so a chain's result
  // would depend on its batch.
  constexpr Index P = Eigen::internal::unpacket_traits<typename Eigen::internal::packet_traits<T>::type>::size;
  Block<T> xb, v;
  for (Index start = 0; start < n; start += kBlock) {
    const Index m = std::min(kBlock, n - start), padded = (m + P - 1) / P * P;
    xb.resize(padded);
    xb.head(m) = ConstArrayMap<T>(x + start, m);
    xb.tail(padded - m).setConstant(T(1));  // a harmless argument for every fn
    value<T>(fn, order, param, xb, v);
    Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> o(out + start, m);
    if (g) o = ConstArrayMap<T>(g + start, m) * v.head(m);
    else o = v.head(m);
  }
}

template void fn_apply<float>(Fn, int, float, const float*, const float*, float*, Index);
template void fn_apply<double>(Fn, int, double, const double*, const double*, double*, Index);

}  // namespace ebm::ad
