#pragma once
// A model trained on standardised data, as an energy on raw data: E_raw(x) = E((x - mean) / scale),
// with x (N x D) one raw point per row and mean, scale the per-column statistics of the training
// data (data/dataset.hpp Standardization). The inputs the inner energy sees are computed with the
// same formula as Standardization::apply, so E_raw on raw points gives the same bits as E on the
// standardised points the model was trained on.
//
// Densities: p_raw(x) = p_std((x - mean) / scale) / prod(scale), so
//     log Z_raw = log Z_std + sum_j log scale_j.
// Anything computed from E_raw in raw coordinates (line-integral log p, grid or AIS log Z, NLL)
// is already in raw units; log_scale_sum() is the term to add to a log Z or NLL that was
// computed on standardised data.
#include <ebm/ad/ops.hpp>
#include <ebm/core/check.hpp>
#include <ebm/core/error.hpp>
#include <ebm/core/types.hpp>
#include <ebm/energy/mlp.hpp>

#include <cmath>
#include <string>
#include <utility>

namespace ebm {

namespace detail {
/// Throws InvalidArgument (prefixed by where) unless mean and scale have d entries, all finite,
/// scale > 0.
template <class T>
void check_standardization(Index d, const RowVec<T>& mean, const RowVec<T>& scale, const char* where) {
  require(mean.cols() == d && scale.cols() == d, where, [&] {
    return "mean and scale must have " + std::to_string(d) + " entries (the energy's dim), got " +
           std::to_string(mean.cols()) + " and " + std::to_string(scale.cols());
  });
  for (Index j = 0; j < d; ++j) {
    require(std::isfinite(double(mean(j))), where,
            [&] { return "mean[" + std::to_string(j) + "] = " + std::to_string(double(mean(j))) + ", must be finite"; });
    require(std::isfinite(double(scale(j))) && scale(j) > T(0), where, [&] {
      return "scale[" + std::to_string(j) + "] = " + std::to_string(double(scale(j))) + ", must be finite and > 0";
    });
  }
}
}  // namespace detail

/// E: anything with dim() and the differentiable energy(ad::Var<T>) (an Mlp<T>, an analytic
/// energy). The differentiable form records (x - mean) / scale on x's tape with mean and scale
/// by reference: the Standardized object must outlive the tape's records (as Mlp's parameters).
template <class E, class T>
struct Standardized {
  using Scalar = T;
  E inner;
  RowVec<T> mean, scale;  // 1 x D each, finite, scale > 0

  /// Throws InvalidArgument unless mean and scale have inner.dim() entries, are finite and
  /// scale > 0.
  Standardized(E inner_energy, RowVec<T> mean_, RowVec<T> scale_)
      : inner(std::move(inner_energy)), mean(std::move(mean_)), scale(std::move(scale_)) {
    detail::check_standardization(static_cast<Index>(inner.dim()), mean, scale, "Standardized");
  }

  Index dim() const { return static_cast<Index>(inner.dim()); }

  /// Records E((x - mean) / scale): x N x D -> N x 1.
  ad::Var<T> energy(ad::Var<T> x) const {
    ad::Tape<T>& tape = *x.tape();
    const ad::Var<T> m = tape.leaf_ref(mean.data(), 1, mean.cols(), false);
    const ad::Var<T> s = tape.leaf_ref(scale.data(), 1, scale.cols(), false);
    return inner.energy(ad::div(ad::sub(x, m), s));
  }

  /// sum_j log scale_j = log Z_raw - log Z of the inner energy.
  double log_scale_sum() const {
    double sum = 0;
    for (Index j = 0; j < scale.cols(); ++j) sum += std::log(double(scale(j)));
    return sum;
  }
};

/// The MLP on raw data with the standardisation folded into its first layer: W' = W diag(1/scale),
/// b' = b - W' mean^T. Equal to Standardized{mlp, mean, scale} up to rounding, and still an Mlp
/// (so the forward Laplacian of exact score matching applies). `temperature` (> 0) divides the
/// output layer too, giving E_raw / temperature. Throws InvalidArgument on bad mean or scale.
template <class T>
Mlp<T> fold_standardization(const Mlp<T>& mlp, const RowVec<T>& mean, const RowVec<T>& scale, T temperature = T(1)) {
  detail::check_standardization(mlp.dim(), mean, scale, "fold_standardization");
  require(std::isfinite(double(temperature)) && temperature > T(0), "fold_standardization",
          [&] { return "temperature must be finite and > 0, got " + std::to_string(double(temperature)); });
  Mlp<T> out = mlp;
  const Mat<T> w = (mlp.weight(0).array().rowwise() / scale.array()).matrix();  // H x D
  const Mat<T> b = mlp.bias(0) - (w * mean.transpose()).transpose();
  out.set_weight(0, w);
  out.set_bias(0, b);
  if (temperature != T(1)) {
    const Index last = mlp.layers() - 1;
    const Mat<T> wl = out.weight(last) / temperature;
    const Mat<T> bl = out.bias(last) / temperature;
    out.set_weight(last, wl);
    out.set_bias(last, bl);
  }
  return out;
}

}  // namespace ebm
