#pragma once
// Elementwise functions with all their derivatives. The autodiff engine represents every
// smooth elementwise op as (function, derivative order), so the derivative of order k is the
// same op at order k + 1 and gradients of any order need no extra rules.
#include <ebm/core/types.hpp>

#include <cstdint>
#include <string_view>

namespace ebm::ad {

enum class Fn : std::uint8_t {
  Exp,       // e^x
  Log,       // log x
  Log1p,     // log(1 + x)
  Pow,       // x^p, p = param (square: 2, sqrt: 0.5, reciprocal: -1)
  Sigmoid,   // 1 / (1 + e^-x)
  Softplus,  // log(1 + e^x), as torch.nn.Softplus with beta 1 (without its threshold)
  Tanh,
  Silu,      // x * sigmoid(x)
  Gelu,      // x * Phi(x), the exact (erf) form, as torch.nn.GELU()
  Elu,       // x if x > 0 else param * (e^x - 1), param = alpha
  Relu,      // max(x, 0); derivative 0 at 0, as PyTorch
};

std::string_view fn_name(Fn fn);

/// Largest derivative order (with respect to x) that fn_apply supports.
inline constexpr int kMaxDerivativeOrder = 8;

/// out[i] = (g ? g[i] : 1) * d^order/dx^order fn(x[i]) for i < n. `param` as documented on Fn.
/// Aliasing out with x or g is allowed.
template <class T>
void fn_apply(Fn fn, int order, T param, const T* x, const T* g, T* out, Index n);

}  // namespace ebm::ad
