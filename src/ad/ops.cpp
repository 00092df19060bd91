#include <ebm/ad/ops.hpp>
#include <ebm/core/check.hpp>
#include <ebm/core/parallel.hpp>

#include "kernels.hpp"
#include "op_support.hpp"

#include <string>

namespace ebm::ad {
namespace {

using detail::tape_of;

template <class T>
Tape<T>& tape_of(const Var<T>& a, const Var<T>& b, const char* where) {
  Tape<T>& t = tape_of(a, where);
  if (b.tape() != &t) throw InvalidArgument(std::string(where) + ": arguments are on different tapes");
  t.check_var(b, where, "second argument");
  return t;
}

std::string shapes2(Index ar, Index ac, Index br, Index bc) {
  return shape_str(ar, ac) + " and " + shape_str(br, bc);
}

// Broadcast result extent of one axis, or -1 when incompatible.
Index broadcast_extent(Index x, Index y) {
  if (x == y) return x;
  if (x == 1) return y;
  if (y == 1) return x;
  return -1;
}

template <class T>
Var<T> arith(Var<T> a, Var<T> b, kernels::Arith op, Op kind, const char* where) {
  Tape<T>& t = tape_of(a, b, where);
  const Index ar = a.rows(), ac = a.cols(), br = b.rows(), bc = b.cols();
  const Index rows = broadcast_extent(ar, br), cols = broadcast_extent(ac, bc);
  if (rows < 0 || cols < 0)
    throw InvalidArgument(std::string(where) + ": shapes " + shapes2(ar, ac, br, bc) + " cannot broadcast");
  const std::int32_t id = t.push(kind, a.id(), b.id(), rows, cols);
  kernels::arith<T>(op, t.node(a.id()).data(), ar, ac, t.node(b.id()).data(), br, bc, t.node(id).buffer.data(),
                    rows, cols);
  return t.finish(id);
}

template <class T>
Var<T> unary_node(Op kind, Fn fn, int order, T param, std::int32_t g, Var<T> x, const char* where) {
  Tape<T>& t = tape_of(x, where);
  if (order < 0 || order > kMaxDerivativeOrder)
    throw InvalidArgument(std::string(where) + ": derivative order " + std::to_string(order) + " of " +
                          std::string(fn_name(fn)) + " outside the supported 0.." +
                          std::to_string(kMaxDerivativeOrder));
  const std::int32_t id = t.push(kind, g, x.id(), x.rows(), x.cols());
  auto& n = t.node(id);
  n.fn = fn;
  n.order = static_cast<std::uint8_t>(order);
  n.p0 = param;
  const T* gdata = g >= 0 ? t.node(g).data() : nullptr;
  const T* xdata = t.node(x.id()).data();
  T* out = n.buffer.data();
  kernels::elementwise_chunks(x.rows() * x.cols(), [&](Index i0, Index i1) {
    fn_apply<T>(fn, order, param, xdata + i0, gdata ? gdata + i0 : nullptr, out + i0, i1 - i0);
  });
  return t.finish(id);
}

// `input` is the shape of the op's argument, for the message.
void require_range(Index start, Index count, Index extent, const char* where, const char* axis,
                   const std::string& input) {
  if (start < 0 || count < 0 || start + count > extent)
    throw InvalidArgument(std::string(where) + ": " + axis + " range [" + std::to_string(start) + ", " +
                          std::to_string(start + count) + ") outside 0.." + std::to_string(extent) + " (input " +
                          input + ")");
}

}  // namespace

namespace {
// op(a) op(b) (+ bias, a 1 x m row, when valid): one MatMul node.
template <class T>
Var<T> matmul_node(Var<T> a, Var<T> b, Trans ta, Trans tb, Var<T> bias, const char* where) {
  Tape<T>& t = tape_of(a, b, where);
  const bool at = ta == Trans::Yes, bt = tb == Trans::Yes;
  const Index n = at ? a.cols() : a.rows(), k = at ? a.rows() : a.cols();
  const Index kb = bt ? b.cols() : b.rows(), m = bt ? b.rows() : b.cols();
  if (k != kb)
    throw InvalidArgument(std::string(where) + ": shapes " + shapes2(a.rows(), a.cols(), b.rows(), b.cols()) +
                          (at ? " (first transposed)" : "") + (bt ? " (second transposed)" : "") +
                          " do not match: inner dimensions " + std::to_string(k) + " != " + std::to_string(kb));
  if (bias.valid()) {
    t.check_var(bias, where, "bias");
    if (bias.rows() != 1 || bias.cols() != m)
      throw InvalidArgument(std::string(where) + ": bias has shape " + shape_str(bias.rows(), bias.cols()) +
                            ", expected 1x" + std::to_string(m));
  }
  const std::int32_t id = t.push(Op::MatMul, a.id(), b.id(), n, m, bias.valid() ? bias.id() : -1);
  auto& node = t.node(id);
  node.trans_a = at;
  node.trans_b = bt;
  const auto& bn = t.node(b.id());
  kernels::matmul<T>(t.node(a.id()).data(), a.rows(), a.cols(), at, bn.data(), b.rows(), b.cols(), bt, bn.transposed,
                     bias.valid() ? t.node(bias.id()).data() : nullptr, node.buffer.data());
  return t.finish(id);
}
}  // namespace

template <class T>
Var<T> matmul(Var<T> a, Var<T> b, Trans ta, Trans tb) {
  return matmul_node(a, b, ta, tb, Var<T>(), "ebm::ad::matmul");
}

template <class T>
Var<T> linear(Var<T> x, Var<T> w, Var<T> b) {
  // The bias is added inside the product: one pass over the output instead of two.
  return matmul_node(x, w, Trans::No, Trans::Yes, b, "ebm::ad::linear");
}

template <class T>
Var<T> transpose(Var<T> a) {
  Tape<T>& t = tape_of(a, "ebm::ad::transpose");
  const std::int32_t id = t.push(Op::Transpose, a.id(), -1, a.cols(), a.rows());
  t.node(id).buffer = a.value().transpose();
  return t.finish(id);
}

template <class T>
Var<T> add(Var<T> a, Var<T> b) {
  return arith(a, b, kernels::Arith::Add, Op::Add, "ebm::ad::add");
}
template <class T>
Var<T> sub(Var<T> a, Var<T> b) {
  return arith(a, b, kernels::Arith::Sub, Op::Sub, "ebm::ad::sub");
}
template <class T>
Var<T> mul(Var<T> a, Var<T> b) {
  return arith(a, b, kernels::Arith::Mul, Op::Mul, "ebm::ad::mul");
}
template <class T>
Var<T> div(Var<T> a, Var<T> b) {
  return arith(a, b, kernels::Arith::Div, Op::Div, "ebm::ad::div");
}

template <class T>
Var<T> affine(Var<T> a, T alpha, T beta) {
  Tape<T>& t = tape_of(a, "ebm::ad::affine");
  const std::int32_t id = t.push(Op::Affine, a.id(), -1, a.rows(), a.cols());
  auto& n = t.node(id);
  n.p0 = alpha;
  n.p1 = beta;
  const T* x = t.node(a.id()).data();
  T* out = n.buffer.data();
  kernels::elementwise_chunks(a.rows() * a.cols(), [&](Index i0, Index i1) {
    using Arr = Eigen::Array<T, Eigen::Dynamic, 1>;
    Eigen::Map<Arr>(out + i0, i1 - i0) = alpha * Eigen::Map<const Arr>(x + i0, i1 - i0) + beta;
  });
  return t.finish(id);
}

template <class T>
Var<T> apply(Fn fn, Var<T> a, int order, T param) {
  return unary_node<T>(Op::Unary, fn, order, param, -1, a, "ebm::ad::apply");
}

namespace detail {
// The fused backward of apply(): g * d^order fn(x). Internal to the engine.
template <class T>
Var<T> apply_times(Fn fn, Var<T> g, Var<T> x, int order, T param) {
  ::ebm::ad::tape_of(g, x, "ebm::ad::apply_times");
  return unary_node<T>(Op::UnaryMul, fn, order, param, g.id(), x, "ebm::ad::apply_times");
}
}  // namespace detail

template <class T>
Var<T> exp(Var<T> a) {
  return apply(Fn::Exp, a);
}
template <class T>
Var<T> log(Var<T> a) {
  return apply(Fn::Log, a);
}
template <class T>
Var<T> log1p(Var<T> a) {
  return apply(Fn::Log1p, a);
}
template <class T>
Var<T> square(Var<T> a) {
  return apply(Fn::Pow, a, 0, T(2));
}
template <class T>
Var<T> sqrt(Var<T> a) {
  return apply(Fn::Pow, a, 0, T(0.5));
}
template <class T>
Var<T> pow(Var<T> a, T exponent) {
  return apply(Fn::Pow, a, 0, exponent);
}
template <class T>
Var<T> sigmoid(Var<T> a) {
  return apply(Fn::Sigmoid, a);
}
template <class T>
Var<T> softplus(Var<T> a) {
  return apply(Fn::Softplus, a);
}
template <class T>
Var<T> tanh(Var<T> a) {
  return apply(Fn::Tanh, a);
}
template <class T>
Var<T> silu(Var<T> a) {
  return apply(Fn::Silu, a);
}
template <class T>
Var<T> gelu(Var<T> a) {
  return apply(Fn::Gelu, a);
}
template <class T>
Var<T> elu(Var<T> a, T alpha) {
  return apply(Fn::Elu, a, 0, alpha);
}
template <class T>
Var<T> relu(Var<T> a) {
  return apply(Fn::Relu, a);
}

template <class T>
Var<T> reduce_to(Var<T> a, Index rows, Index cols) {
  const char* where = "ebm::ad::reduce_to";
  Tape<T>& t = tape_of(a, where);
  if ((rows != 1 && rows != a.rows()) || (cols != 1 && cols != a.cols()))
    throw InvalidArgument(std::string(where) + ": cannot sum " + shape_str(a.rows(), a.cols()) + " down to " +
                          shape_str(rows, cols));
  if (rows == a.rows() && cols == a.cols()) return a;
  const std::int32_t id = t.push(Op::ReduceTo, a.id(), -1, rows, cols);
  kernels::reduce_to<T>(t.node(a.id()).data(), a.rows(), a.cols(), t.node(id).buffer.data(), rows, cols);
  return t.finish(id);
}

template <class T>
Var<T> broadcast_to(Var<T> a, Index rows, Index cols) {
  const char* where = "ebm::ad::broadcast_to";
  Tape<T>& t = tape_of(a, where);
  if ((a.rows() != 1 && a.rows() != rows) || (a.cols() != 1 && a.cols() != cols) || rows < 0 || cols < 0)
    throw InvalidArgument(std::string(where) + ": cannot broadcast " + shape_str(a.rows(), a.cols()) + " to " +
                          shape_str(rows, cols));
  if (rows == a.rows() && cols == a.cols()) return a;
  const std::int32_t id = t.push(Op::BroadcastTo, a.id(), -1, rows, cols);
  auto& out = t.node(id).buffer;
  const auto v = a.value();
  if (a.rows() == 1 && a.cols() == 1) out.setConstant(v(0, 0));
  else if (a.rows() == 1) out.rowwise() = v.row(0);
  else out.colwise() = v.col(0);
  return t.finish(id);
}

template <class T>
Var<T> sum(Var<T> a) {
  return reduce_to(a, 1, 1);
}
template <class T>
Var<T> mean(Var<T> a) {
  return reduce_to(a, 1, 1) * (T(1) / T(a.rows() * a.cols()));
}
template <class T>
Var<T> row_sums(Var<T> a) {
  return reduce_to(a, a.rows(), 1);
}
template <class T>
Var<T> row_means(Var<T> a) {
  return reduce_to(a, a.rows(), 1) * (T(1) / T(a.cols()));
}
template <class T>
Var<T> col_sums(Var<T> a) {
  return reduce_to(a, 1, a.cols());
}
template <class T>
Var<T> col_means(Var<T> a) {
  return reduce_to(a, 1, a.cols()) * (T(1) / T(a.rows()));
}

template <class T>
Var<T> slice_cols(Var<T> a, Index start, Index count) {
  const char* where = "ebm::ad::slice_cols";
  Tape<T>& t = tape_of(a, where);
  require_range(start, count, a.cols(), where, "column", shape_str(a.rows(), a.cols()));
  const std::int32_t id = t.push(Op::SliceCols, a.id(), -1, a.rows(), count);
  t.node(id).i0 = start;
  t.node(id).buffer = a.value().middleCols(start, count);
  return t.finish(id);
}

template <class T>
Var<T> slice_rows(Var<T> a, Index start, Index count) {
  const char* where = "ebm::ad::slice_rows";
  Tape<T>& t = tape_of(a, where);
  require_range(start, count, a.rows(), where, "row", shape_str(a.rows(), a.cols()));
  const std::int32_t id = t.push(Op::SliceRows, a.id(), -1, count, a.cols());
  t.node(id).i0 = start;
  t.node(id).buffer = a.value().middleRows(start, count);
  return t.finish(id);
}

template <class T>
Var<T> pad_cols(Var<T> a, Index start, Index total) {
  const char* where = "ebm::ad::pad_cols";
  Tape<T>& t = tape_of(a, where);
  require_range(start, a.cols(), total, where, "column", shape_str(a.rows(), a.cols()));
  const std::int32_t id = t.push(Op::PadCols, a.id(), -1, a.rows(), total);
  auto& n = t.node(id);
  n.i0 = start;
  n.buffer.setZero();
  n.buffer.middleCols(start, a.cols()) = a.value();
  return t.finish(id);
}

template <class T>
Var<T> pad_rows(Var<T> a, Index start, Index total) {
  const char* where = "ebm::ad::pad_rows";
  Tape<T>& t = tape_of(a, where);
  require_range(start, a.rows(), total, where, "row", shape_str(a.rows(), a.cols()));
  const std::int32_t id = t.push(Op::PadRows, a.id(), -1, total, a.cols());
  auto& n = t.node(id);
  n.i0 = start;
  n.buffer.setZero();
  n.buffer.middleRows(start, a.rows()) = a.value();
  return t.finish(id);
}

template <class T>
Var<T> select_cols(Var<T> a, const std::vector<Index>& indices) {
  const char* where = "ebm::ad::select_cols";
  Tape<T>& t = tape_of(a, where);
  for (Index j : indices)
    if (j < 0 || j >= a.cols())
      throw InvalidArgument(std::string(where) + ": column index " + std::to_string(j) + " outside 0.." +
                            std::to_string(a.cols() - 1) + " of a " + shape_str(a.rows(), a.cols()) + " matrix");
  const Index m = static_cast<Index>(indices.size());
  const std::int32_t id = t.push(Op::SelectCols, a.id(), -1, a.rows(), m);
  auto& n = t.node(id);
  n.indices = indices;
  const auto v = a.value();
  for (Index j = 0; j < m; ++j) n.buffer.col(j) = v.col(indices[static_cast<std::size_t>(j)]);
  return t.finish(id);
}

template <class T>
Var<T> scatter_cols(Var<T> a, const std::vector<Index>& indices, Index total) {
  const char* where = "ebm::ad::scatter_cols";
  Tape<T>& t = tape_of(a, where);
  if (static_cast<Index>(indices.size()) != a.cols())
    throw InvalidArgument(std::string(where) + ": " + std::to_string(indices.size()) + " indices for " +
                          shape_str(a.rows(), a.cols()));
  for (Index j : indices)
    if (j < 0 || j >= total)
      throw InvalidArgument(std::string(where) + ": column index " + std::to_string(j) + " outside 0.." +
                            std::to_string(total - 1));
  const std::int32_t id = t.push(Op::ScatterCols, a.id(), -1, a.rows(), total);
  auto& n = t.node(id);
  n.indices = indices;
  n.buffer.setZero();
  const auto v = a.value();
  for (Index j = 0; j < a.cols(); ++j) n.buffer.col(indices[static_cast<std::size_t>(j)]) += v.col(j);
  return t.finish(id);
}

template <class T>
Var<T> concat_cols(Var<T> a, Var<T> b) {
  const char* where = "ebm::ad::concat_cols";
  Tape<T>& t = tape_of(a, b, where);
  if (a.rows() != b.rows())
    throw InvalidArgument(std::string(where) + ": shapes " + shapes2(a.rows(), a.cols(), b.rows(), b.cols()) +
                          " have different row counts");
  const std::int32_t id = t.push(Op::ConcatCols, a.id(), b.id(), a.rows(), a.cols() + b.cols());
  auto& n = t.node(id);
  n.buffer.leftCols(a.cols()) = a.value();
  n.buffer.rightCols(b.cols()) = b.value();
  return t.finish(id);
}

template <class T>
Var<T> concat_rows(Var<T> a, Var<T> b) {
  const char* where = "ebm::ad::concat_rows";
  Tape<T>& t = tape_of(a, b, where);
  if (a.cols() != b.cols())
    throw InvalidArgument(std::string(where) + ": shapes " + shapes2(a.rows(), a.cols(), b.rows(), b.cols()) +
                          " have different column counts");
  const std::int32_t id = t.push(Op::ConcatRows, a.id(), b.id(), a.rows() + b.rows(), a.cols());
  auto& n = t.node(id);
  n.buffer.topRows(a.rows()) = a.value();
  n.buffer.bottomRows(b.rows()) = b.value();
  return t.finish(id);
}

template <class T>
Var<T> repeat_rows(Var<T> a, Index k) {
  const char* where = "ebm::ad::repeat_rows";
  Tape<T>& t = tape_of(a, where);
  if (k < 1) throw InvalidArgument(std::string(where) + ": k must be >= 1, got " + std::to_string(k));
  const std::int32_t id = t.push(Op::RepeatRows, a.id(), -1, a.rows() * k, a.cols());
  auto& n = t.node(id);
  n.i0 = k;
  const auto v = a.value();
  for (Index i = 0; i < a.rows(); ++i) n.buffer.middleRows(i * k, k).rowwise() = v.row(i);
  return t.finish(id);
}

template <class T>
Var<T> segment_sum_rows(Var<T> a, Index k) {
  const char* where = "ebm::ad::segment_sum_rows";
  Tape<T>& t = tape_of(a, where);
  if (k < 1 || a.rows() % k != 0)
    throw InvalidArgument(std::string(where) + ": " + std::to_string(a.rows()) +
                          " rows do not split into groups of k = " + std::to_string(k) + " (input " +
                          shape_str(a.rows(), a.cols()) + ")");
  const std::int32_t id = t.push(Op::SegmentSumRows, a.id(), -1, a.rows() / k, a.cols());
  auto& n = t.node(id);
  n.i0 = k;
  const auto v = a.value();
  for (Index i = 0; i < n.rows; ++i) {  // rows added in order: exact and position-independent
    n.buffer.row(i) = v.row(i * k);
    for (Index r = 1; r < k; ++r) n.buffer.row(i) += v.row(i * k + r);
  }
  return t.finish(id);
}

template <class T>
Var<T> tile_rows(Var<T> a, Index k) {
  const char* where = "ebm::ad::tile_rows";
  Tape<T>& t = tape_of(a, where);
  if (k < 1) throw InvalidArgument(std::string(where) + ": k must be >= 1, got " + std::to_string(k));
  const std::int32_t id = t.push(Op::TileRows, a.id(), -1, a.rows() * k, a.cols());
  auto& n = t.node(id);
  n.i0 = k;
  const auto v = a.value();
  parallel_for_chunks(k, 1, [&](Index b0, Index b1) {
    for (Index b = b0; b < b1; ++b) n.buffer.middleRows(b * a.rows(), a.rows()) = v;
  });
  return t.finish(id);
}

template <class T>
Var<T> block_sum_rows(Var<T> a, Index k) {
  const char* where = "ebm::ad::block_sum_rows";
  Tape<T>& t = tape_of(a, where);
  if (k < 1 || a.rows() % k != 0)
    throw InvalidArgument(std::string(where) + ": " + std::to_string(a.rows()) +
                          " rows do not split into k = " + std::to_string(k) + " blocks (input " +
                          shape_str(a.rows(), a.cols()) + ")");
  const Index rows = a.rows() / k;
  const std::int32_t id = t.push(Op::BlockSumRows, a.id(), -1, rows, a.cols());
  auto& n = t.node(id);
  n.i0 = k;
  const auto v = a.value();
  // Blocks added in order, split over rows only: the same bits for any thread count.
  parallel_for_chunks(rows, 64, [&](Index r0, Index r1) {
    n.buffer.middleRows(r0, r1 - r0) = v.middleRows(r0, r1 - r0);
    for (Index b = 1; b < k; ++b) n.buffer.middleRows(r0, r1 - r0) += v.middleRows(b * rows + r0, r1 - r0);
  });
  return t.finish(id);
}

#define EBM_INSTANTIATE(T)                                                                   \
  template Var<T> matmul<T>(Var<T>, Var<T>, Trans, Trans);                                   \
  template Var<T> linear<T>(Var<T>, Var<T>, Var<T>);                                         \
  template Var<T> transpose<T>(Var<T>);                                                      \
  template Var<T> add<T>(Var<T>, Var<T>);                                                    \
  template Var<T> sub<T>(Var<T>, Var<T>);                                                    \
  template Var<T> mul<T>(Var<T>, Var<T>);                                                    \
  template Var<T> div<T>(Var<T>, Var<T>);                                                    \
  template Var<T> affine<T>(Var<T>, T, T);                                                   \
  template Var<T> apply<T>(Fn, Var<T>, int, T);                                              \
  template Var<T> detail::apply_times<T>(Fn, Var<T>, Var<T>, int, T);                        \
  template Var<T> exp<T>(Var<T>);                                                            \
  template Var<T> log<T>(Var<T>);                                                            \
  template Var<T> log1p<T>(Var<T>);                                                          \
  template Var<T> square<T>(Var<T>);                                                         \
  template Var<T> sqrt<T>(Var<T>);                                                           \
  template Var<T> pow<T>(Var<T>, T);                                                         \
  template Var<T> sigmoid<T>(Var<T>);                                                        \
  template Var<T> softplus<T>(Var<T>);                                                       \
  template Var<T> tanh<T>(Var<T>);                                                           \
  template Var<T> silu<T>(Var<T>);                                                           \
  template Var<T> gelu<T>(Var<T>);                                                           \
  template Var<T> elu<T>(Var<T>, T);                                                         \
  template Var<T> relu<T>(Var<T>);                                                           \
  template Var<T> reduce_to<T>(Var<T>, Index, Index);                                        \
  template Var<T> broadcast_to<T>(Var<T>, Index, Index);                                     \
  template Var<T> sum<T>(Var<T>);                                                            \
  template Var<T> mean<T>(Var<T>);                                                           \
  template Var<T> row_sums<T>(Var<T>);                                                       \
  template Var<T> row_means<T>(Var<T>);                                                      \
  template Var<T> col_sums<T>(Var<T>);                                                       \
  template Var<T> col_means<T>(Var<T>);                                                      \
  template Var<T> slice_cols<T>(Var<T>, Index, Index);                                       \
  template Var<T> slice_rows<T>(Var<T>, Index, Index);                                       \
  template Var<T> select_cols<T>(Var<T>, const std::vector<Index>&);                         \
  template Var<T> pad_cols<T>(Var<T>, Index, Index);                                         \
  template Var<T> pad_rows<T>(Var<T>, Index, Index);                                         \
  template Var<T> scatter_cols<T>(Var<T>, const std::vector<Index>&, Index);                 \
  template Var<T> concat_cols<T>(Var<T>, Var<T>);                                            \
  template Var<T> concat_rows<T>(Var<T>, Var<T>);                                            \
  template Var<T> repeat_rows<T>(Var<T>, Index);                                             \
  template Var<T> segment_sum_rows<T>(Var<T>, Index);                                         \
  template Var<T> tile_rows<T>(Var<T>, Index);                                                \
  template Var<T> block_sum_rows<T>(Var<T>, Index);
EBM_INSTANTIATE(float)
EBM_INSTANTIATE(double)
#undef EBM_INSTANTIATE

}  // namespace ebm::ad
