#include <ebm/ad/ops.hpp>
#include <ebm/ad/patches.hpp>
#include <ebm/ad/tape.hpp>
#include <ebm/core/check.hpp>

#include <algorithm>
#include <sstream>
#include <string>

namespace ebm::ad {

std::string_view op_name(Op op) {
  switch (op) {
    case Op::Leaf: return "leaf";
    case Op::MatMul: return "matmul";
    case Op::Add: return "add";
    case Op::Sub: return "sub";
    case Op::Mul: return "mul";
    case Op::Div: return "div";
    case Op::Affine: return "affine";
    case Op::Unary: return "apply";
    case Op::UnaryMul: return "apply_times";
    case Op::ReduceTo: return "reduce_to";
    case Op::BroadcastTo: return "broadcast_to";
    case Op::SliceCols: return "slice_cols";
    case Op::PadCols: return "pad_cols";
    case Op::SelectCols: return "select_cols";
    case Op::ScatterCols: return "scatter_cols";
    case Op::SliceRows: return "slice_rows";
    case Op::PadRows: return "pad_rows";
    case Op::ConcatCols: return "concat_cols";
    case Op::ConcatRows: return "concat_rows";
    case Op::RepeatRows: return "repeat_rows";
    case Op::SegmentSumRows: return "segment_sum_rows";
    case Op::TileRows: return "tile_rows";
    case Op::BlockSumRows: return "block_sum_rows";
    case Op::Transpose: return "transpose";
    case Op::Reshape: return "reshape";
    case Op::Unfold: return "unfold";
    case Op::Fold: return "fold";
  }
  return "unknown";
}

namespace detail {
template <class T>
T throw_not_scalar(Index rows, Index cols) {
  throw InvalidArgument("ebm::ad::Var::item: value has shape " + shape_str(rows, cols) + ", expected 1x1");
}
template float throw_not_scalar<float>(Index, Index);
template double throw_not_scalar<double>(Index, Index);
}  // namespace detail

template <class T>
void Tape<T>::check_var(const Var<T>& v, const char* where, const char* arg) const {
  if (v.tape() != this)
    throw InvalidArgument(std::string(where) + ": " + arg + " is " + (v.valid() ? "from another tape" : "an empty Var"));
  if (v.epoch() != epoch_ || v.id() < 0 || static_cast<std::size_t>(v.id()) >= size_)
    throw InvalidArgument(std::string(where) + ": " + arg + " is stale (recorded before the tape's reset())");
}

template <class T>
std::int32_t Tape<T>::push(Op op, std::int32_t a, std::int32_t b, Index rows, Index cols, std::int32_t c) {
  if (size_ == nodes_.size()) nodes_.emplace_back();
  auto& n = nodes_[size_];
  n.op = op;
  n.order = 0;
  n.trans_a = n.trans_b = false;
  n.in[0] = a;
  n.in[1] = b;
  n.in[2] = c;
  n.p0 = n.p1 = T(0);
  n.i0 = n.i1 = 0;
  n.rows = rows;
  n.cols = cols;
  n.external = nullptr;
  n.transposed = nullptr;
  n.buffer.resize(rows, cols);  // no allocation when the slot held this size before
  auto input_requires_grad = [&](std::int32_t i) { return i >= 0 && nodes_[static_cast<std::size_t>(i)].requires_grad; };
  n.requires_grad = recording_ && (input_requires_grad(a) || input_requires_grad(b) || input_requires_grad(c));
  return static_cast<std::int32_t>(size_++);
}

template <class T>
Var<T> Tape<T>::finish(std::int32_t id) {
  if (check_finite_) {
    const auto& n = node(id);
    const Index count = n.rows * n.cols;
    const T* d = n.data();
    for (Index k = 0; k < count; ++k) {
      if (!std::isfinite(d[k])) {
        std::ostringstream msg;
        msg << "ebm::ad::" << op_name(n.op);
        if (n.op == Op::Unary || n.op == Op::UnaryMul) msg << "(" << fn_name(n.fn) << ")";
        msg << ": non-finite output " << d[k] << " at row " << k / n.cols << ", column " << k % n.cols
            << " from input shape(s)";
        for (std::int32_t in : n.in)
          if (in >= 0) msg << " " << shape_str(node(in).rows, node(in).cols);
        throw NumericalError(msg.str());
      }
    }
  }
  return var(id);
}

template <class T>
Var<T> Tape<T>::leaf_ref(const T* data, Index rows, Index cols, bool requires_grad, const T* transposed) {
  if (rows < 0 || cols < 0)
    throw InvalidArgument("ebm::ad::Tape::leaf_ref: bad shape " + shape_str(rows, cols));
  if (size_ == nodes_.size()) nodes_.emplace_back();
  auto& n = nodes_[size_];
  n.op = Op::Leaf;
  n.in[0] = n.in[1] = n.in[2] = -1;
  n.rows = rows;
  n.cols = cols;
  n.external = data;
  n.transposed = transposed;
  n.requires_grad = requires_grad;
  return var(static_cast<std::int32_t>(size_++));
}

template <class T>
Var<T> Tape<T>::variable_ref(const Mat<T>& value) {
  return leaf_ref(value.data(), value.rows(), value.cols(), true);
}

template <class T>
Var<T> Tape<T>::constant_ref(const Mat<T>& value) {
  return leaf_ref(value.data(), value.rows(), value.cols(), false);
}

template <class T>
Var<T> Tape<T>::variable(const Mat<T>& value) {
  require_finite(value, "ebm::ad::Tape::variable", "value");
  const std::int32_t id = push(Op::Leaf, -1, -1, value.rows(), value.cols());
  node(id).buffer = value;
  node(id).requires_grad = true;
  return var(id);
}

template <class T>
Var<T> Tape<T>::constant(const Mat<T>& value) {
  require_finite(value, "ebm::ad::Tape::constant", "value");
  const std::int32_t id = push(Op::Leaf, -1, -1, value.rows(), value.cols());
  node(id).buffer = value;
  return var(id);
}

template <class T>
Var<T> Tape<T>::scalar(T value) {
  const std::int32_t id = push(Op::Leaf, -1, -1, 1, 1);
  node(id).buffer(0, 0) = value;
  return var(id);
}

template <class T>
void Tape<T>::reset() {
  size_ = 0;
  ++epoch_;
}

// The gradient flowing to input `input` of node `id`, given G = d(out)/d(node). Written with
// recorded ops so that it is differentiable whenever recording is on.
template <class T>
Var<T> Tape<T>::backward_rule_input(std::int32_t id, int input, Var<T> g) {
  // Copy what the rule needs: recording new nodes may move the node array.
  const detail::Node<T> n = [&] {
    const auto& src = node(id);
    detail::Node<T> c;
    c.op = src.op;
    c.fn = src.fn;
    c.order = src.order;
    c.trans_a = src.trans_a;
    c.trans_b = src.trans_b;
    std::copy(std::begin(src.in), std::end(src.in), std::begin(c.in));
    c.p0 = src.p0;
    c.p1 = src.p1;
    c.i0 = src.i0;
    c.rows = src.rows;
    c.cols = src.cols;
    if (src.op == Op::SelectCols || src.op == Op::ScatterCols || src.op == Op::Unfold || src.op == Op::Fold)
      c.indices = src.indices;
    return c;
  }();
  const Var<T> a = n.in[0] >= 0 ? var(n.in[0]) : Var<T>();
  const Var<T> b = n.in[1] >= 0 ? var(n.in[1]) : Var<T>();
  const Var<T> out = var(id);
  const Var<T> self = input == 0 ? a : b;
  auto shrink = [&](Var<T> v) { return reduce_to(v, self.rows(), self.cols()); };
  const Trans T_ = Trans::Yes, N_ = Trans::No;
  switch (n.op) {
    case Op::Leaf:
      break;
    case Op::MatMul:
      if (input == 2) return reduce_to(g, 1, g.cols());  // the bias row
      if (!n.trans_a && !n.trans_b) return input == 0 ? matmul(g, b, N_, T_) : matmul(a, g, T_, N_);
      if (!n.trans_a && n.trans_b) return input == 0 ? matmul(g, b, N_, N_) : matmul(g, a, T_, N_);
      if (n.trans_a && !n.trans_b) return input == 0 ? matmul(b, g, N_, T_) : matmul(a, g, N_, N_);
      return input == 0 ? matmul(b, g, T_, T_) : matmul(g, a, T_, T_);
    case Op::Add:
      return shrink(g);
    case Op::Sub:
      return input == 0 ? shrink(g) : shrink(-g);
    case Op::Mul:
      return shrink(g * (input == 0 ? b : a));
    case Op::Div:
      return input == 0 ? shrink(g / b) : shrink(-(g * out) / b);
    case Op::Affine:
      return affine(g, n.p0, T(0));
    case Op::Unary:  // out = f^(k)(b); input 0 is unused
      return detail::apply_times(n.fn, g, b, n.order + 1, n.p0);
    case Op::UnaryMul:  // out = a * f^(k)(b)
      if (input == 0) return detail::apply_times(n.fn, g, b, n.order, n.p0);
      return detail::apply_times(n.fn, g * a, b, n.order + 1, n.p0);
    case Op::ReduceTo:
      return broadcast_to(g, a.rows(), a.cols());
    case Op::BroadcastTo:
      return reduce_to(g, a.rows(), a.cols());
    case Op::SliceCols:
      return pad_cols(g, n.i0, a.cols());
    case Op::PadCols:
      return slice_cols(g, n.i0, a.cols());
    case Op::SelectCols:
      return scatter_cols(g, n.indices, a.cols());
    case Op::ScatterCols:
      return select_cols(g, n.indices);
    case Op::SliceRows:
      return pad_rows(g, n.i0, a.rows());
    case Op::PadRows:
      return slice_rows(g, n.i0, a.rows());
    case Op::ConcatCols:
      return input == 0 ? slice_cols(g, 0, a.cols()) : slice_cols(g, a.cols(), b.cols());
    case Op::ConcatRows:
      return input == 0 ? slice_rows(g, 0, a.rows()) : slice_rows(g, a.rows(), b.rows());
    case Op::RepeatRows:
      return segment_sum_rows(g, n.i0);
    case Op::SegmentSumRows:
      return repeat_rows(g, n.i0);
    case Op::TileRows:
      return block_sum_rows(g, n.i0);
    case Op::BlockSumRows:
      return tile_rows(g, n.i0);
    case Op::Transpose:
      return transpose(g);
    case Op::Reshape:
      return reshape(g, a.rows(), a.cols());
    case Op::Unfold:
      return fold(g, decode_patch_geometry(n.indices));
    case Op::Fold:
      return unfold(g, decode_patch_geometry(n.indices));
  }
  throw InvalidArgument("ebm::ad::Tape::grad: no backward rule for op " + std::string(op_name(n.op)));
}

template <class T>
std::vector<Var<T>> Tape<T>::grad(Var<T> y, std::span<const Var<T>> wrt, const GradOptions<T>& options) {
  const char* where = "ebm::ad::Tape::grad";
  check_var(y, where, "y");
  std::int32_t lowest = y.id();
  for (std::size_t k = 0; k < wrt.size(); ++k) {
    const std::string arg = "wrt[" + std::to_string(k) + "]";
    check_var(wrt[k], where, arg.c_str());
    if (!wrt[k].requires_grad())
      throw InvalidArgument(std::string(where) + ": " + arg +
                            " does not require grad (a constant, or recorded under NoGrad)");
    lowest = std::min(lowest, wrt[k].id());
  }
  Var<T> seed = options.seed;
  if (seed.valid()) {
    check_var(seed, where, "options.seed");
    if (seed.rows() != y.rows() || seed.cols() != y.cols())
      throw InvalidArgument(std::string(where) + ": seed has shape " + shape_str(seed.rows(), seed.cols()) +
                            ", y has shape " + shape_str(y.rows(), y.cols()));
  } else if (y.rows() * y.cols() != 1) {
    throw InvalidArgument(std::string(where) + ": y has shape " + shape_str(y.rows(), y.cols()) +
                          "; give options.seed or reduce y to 1x1 (e.g. with sum)");
  }

  // Nodes through which some wrt reaches y; only those carry gradients.
  const std::size_t top = static_cast<std::size_t>(y.id()) + 1;
  reaches_.assign(top, 0);
  // A wrt recorded after y cannot reach it (and lies outside the scratch arrays).
  for (const Var<T>& w : wrt)
    if (static_cast<std::size_t>(w.id()) < top) reaches_[static_cast<std::size_t>(w.id())] = 1;
  for (std::size_t i = static_cast<std::size_t>(lowest); i < top; ++i) {
    const auto& n = nodes_[i];
    if (!n.requires_grad || n.op == Op::Leaf) continue;
    for (std::int32_t in : n.in)
      if (in >= 0 && reaches_[static_cast<std::size_t>(in)]) reaches_[i] = 1;
  }

  const bool previous = recording_;
  recording_ = options.create_graph;
  std::vector<Var<T>> result;
  try {
    grad_of_.assign(top, -1);
    if (reaches_[top - 1]) grad_of_[top - 1] = seed.valid() ? seed.id() : scalar(T(1)).id();
    for (std::int32_t i = y.id(); i >= lowest; --i) {
      const std::int32_t gi = grad_of_[static_cast<std::size_t>(i)];
      if (gi < 0 || node(i).op == Op::Leaf) continue;
      for (int input = 0; input < 3; ++input) {
        const std::int32_t in = node(i).in[input];
        if (in < 0 || !reaches_[static_cast<std::size_t>(in)]) continue;
        const Var<T> contribution = backward_rule_input(i, input, var(gi));
        std::int32_t& acc = grad_of_[static_cast<std::size_t>(in)];
        acc = acc < 0 ? contribution.id() : add(var(acc), contribution).id();
      }
    }
    result.reserve(wrt.size());
    for (const Var<T>& w : wrt) {
      const std::size_t wi = static_cast<std::size_t>(w.id());
      const std::int32_t gi = wi < top ? grad_of_[wi] : -1;
      if (gi >= 0) {
        result.push_back(var(gi));
      } else {
        const std::int32_t id = push(Op::Leaf, -1, -1, w.rows(), w.cols());
        node(id).buffer.setZero();
        result.push_back(var(id));
      }
    }
  } catch (...) {
    recording_ = previous;
    throw;
  }
  recording_ = previous;
  return result;
}

template class Tape<float>;
template class Tape<double>;

}  // namespace ebm::ad
