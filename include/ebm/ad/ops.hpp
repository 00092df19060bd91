#pragma once
// The differentiable ops. Shapes: matrices are rows x cols; binary elementwise ops broadcast
// an operand with 1 row across rows and one with 1 column across columns (so 1x1 is a
// scalar). Every op throws InvalidArgument naming the op and the shapes when they do not fit.
#include <ebm/ad/tape.hpp>

#include <type_traits>
#include <vector>

namespace ebm::ad {

enum class Trans : bool { No = false, Yes = true };

/// op(a) * op(b): (n x k) * (k x m) -> n x m, op = transpose when Trans::Yes.
template <class T>
Var<T> matmul(Var<T> a, Var<T> b, Trans ta = Trans::No, Trans tb = Trans::No);
/// x W^T + b as torch.nn.Linear: x (N x in), W (out x in), b (1 x out) -> N x out.
template <class T>
Var<T> linear(Var<T> x, Var<T> w, Var<T> b);
template <class T>
Var<T> transpose(Var<T> a);

// Elementwise arithmetic with broadcasting.
template <class T>
Var<T> add(Var<T> a, Var<T> b);
template <class T>
Var<T> sub(Var<T> a, Var<T> b);
template <class T>
Var<T> mul(Var<T> a, Var<T> b);
template <class T>
Var<T> div(Var<T> a, Var<T> b);
/// alpha * a + beta.
template <class T>
Var<T> affine(Var<T> a, T alpha, T beta);

// Elementwise functions (torch semantics).
template <class T>
Var<T> exp(Var<T> a);
template <class T>
Var<T> log(Var<T> a);
template <class T>
Var<T> log1p(Var<T> a);
template <class T>
Var<T> square(Var<T> a);
template <class T>
Var<T> sqrt(Var<T> a);
template <class T>
Var<T> pow(Var<T> a, T exponent);
template <class T>
Var<T> sigmoid(Var<T> a);
template <class T>
Var<T> softplus(Var<T> a);
template <class T>
Var<T> tanh(Var<T> a);
template <class T>
Var<T> silu(Var<T> a);
template <class T>
Var<T> gelu(Var<T> a);
template <class T>
Var<T> elu(Var<T> a, T alpha = T(1));
template <class T>
Var<T> relu(Var<T> a);
/// d^order/dx^order fn(a), elementwise (order 0: fn itself).
template <class T>
Var<T> apply(Fn fn, Var<T> a, int order = 0, T param = T(0));

// Reductions. row_sums: N x D -> N x 1 (sum of each row); col_sums: N x D -> 1 x D.
template <class T>
Var<T> sum(Var<T> a);
template <class T>
Var<T> mean(Var<T> a);
template <class T>
Var<T> row_sums(Var<T> a);
template <class T>
Var<T> row_means(Var<T> a);
template <class T>
Var<T> col_sums(Var<T> a);
template <class T>
Var<T> col_means(Var<T> a);
/// Sums a down to rows x cols, each equal to a's own or 1.
template <class T>
Var<T> reduce_to(Var<T> a, Index rows, Index cols);
/// Replicates a up to rows x cols; a's rows (cols) must equal rows (cols) or be 1.
template <class T>
Var<T> broadcast_to(Var<T> a, Index rows, Index cols);

// Selection and reshaping.
template <class T>
Var<T> slice_cols(Var<T> a, Index start, Index count);
template <class T>
Var<T> slice_rows(Var<T> a, Index start, Index count);
template <class T>
Var<T> select_cols(Var<T> a, const std::vector<Index>& indices);
/// Inverse of slice_cols: zeros(a.rows, total) with a at column start.
template <class T>
Var<T> pad_cols(Var<T> a, Index start, Index total);
template <class T>
Var<T> pad_rows(Var<T> a, Index start, Index total);
/// Inverse of select_cols: zeros(a.rows, total); column indices[j] accumulates a's column j.
template <class T>
Var<T> scatter_cols(Var<T> a, const std::vector<Index>& indices, Index total);
template <class T>
Var<T> concat_cols(Var<T> a, Var<T> b);
template <class T>
Var<T> concat_rows(Var<T> a, Var<T> b);
/// Each row repeated k times consecutively: N x D -> (N k) x D. Used for per-sample Jacobians.
template <class T>
Var<T> repeat_rows(Var<T> a, Index k);
/// Sums of consecutive groups of k rows: (N k) x D -> N x D.
template <class T>
Var<T> segment_sum_rows(Var<T> a, Index k);
/// a stacked k times: N x D -> (k N) x D (a per-sample copy of a shared matrix).
template <class T>
Var<T> tile_rows(Var<T> a, Index k);
/// Sum of k consecutive blocks of rows: (k N) x D -> N x D; the adjoint of tile_rows.
template <class T>
Var<T> block_sum_rows(Var<T> a, Index k);

namespace detail {
/// g * d^order fn(x): the fused backward of apply(), itself differentiable. Engine-internal.
template <class T>
Var<T> apply_times(Fn fn, Var<T> g, Var<T> x, int order, T param);
}  // namespace detail

// Operators.
template <class T>
Var<T> operator+(Var<T> a, Var<T> b) { return add(a, b); }
template <class T>
Var<T> operator-(Var<T> a, Var<T> b) { return sub(a, b); }
template <class T>
Var<T> operator*(Var<T> a, Var<T> b) { return mul(a, b); }
template <class T>
Var<T> operator/(Var<T> a, Var<T> b) { return div(a, b); }
template <class T>
Var<T> operator-(Var<T> a) { return affine(a, T(-1), T(0)); }
template <class T>
Var<T> operator+(Var<T> a, std::type_identity_t<T> s) { return affine(a, T(1), s); }
template <class T>
Var<T> operator+(std::type_identity_t<T> s, Var<T> a) { return affine(a, T(1), s); }
template <class T>
Var<T> operator-(Var<T> a, std::type_identity_t<T> s) { return affine(a, T(1), -s); }
template <class T>
Var<T> operator-(std::type_identity_t<T> s, Var<T> a) { return affine(a, T(-1), s); }
template <class T>
Var<T> operator*(Var<T> a, std::type_identity_t<T> s) { return affine(a, s, T(0)); }
template <class T>
Var<T> operator*(std::type_identity_t<T> s, Var<T> a) { return affine(a, s, T(0)); }
template <class T>
Var<T> operator/(Var<T> a, std::type_identity_t<T> s) { return affine(a, T(1) / s, T(0)); }
template <class T>
Var<T> operator/(std::type_identity_t<T> s, Var<T> a) { return pow(a, T(-1)) * s; }

}  // namespace ebm::ad
