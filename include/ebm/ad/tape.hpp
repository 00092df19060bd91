#pragma once
// Reverse-mode automatic differentiation over batched dense matrices.
//
// A Tape records operations on matrices (Var handles) as they run. grad() sweeps the record
// backwards. Every backward rule is itself written with recorded ops, so with
// create_graph = true the gradients are Vars that can be differentiated again (gradients of
// gradients, as PyTorch's create_graph=True); with create_graph = false the same rules run
// without recording and the gradients are constants. Nodes live in an arena: reset() forgets
// them but keeps their buffers, so a loop that records the same computation each step stops
// allocating after its first step.
#include <ebm/ad/elementwise.hpp>
#include <ebm/core/types.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ebm::ad {

template <class T>
class Tape;

/// A handle to one recorded matrix on a tape. Cheap to copy; valid until the tape's reset().
template <class T>
class Var {
 public:
  Var() = default;

  bool valid() const { return tape_ != nullptr; }
  Tape<T>* tape() const { return tape_; }
  std::int32_t id() const { return id_; }
  /// The tape's reset count when this Var was made; a Var from before a reset() is stale.
  std::uint32_t epoch() const { return epoch_; }

  Index rows() const;
  Index cols() const;
  /// The value, rows() x cols().
  ConstMatMap<T> value() const;
  /// The value of a 1x1 Var.
  T item() const;
  /// True when gradients flow through this Var (it depends on a variable and was recorded).
  bool requires_grad() const;

 private:
  friend class Tape<T>;
  Var(Tape<T>* tape, std::int32_t id, std::uint32_t epoch) : tape_(tape), id_(id), epoch_(epoch) {}
  Tape<T>* tape_ = nullptr;
  std::int32_t id_ = -1;
  std::uint32_t epoch_ = 0;
};

enum class Op : std::uint8_t {
  Leaf,
  MatMul,         // op(a) op(b) [+ c, a 1 x m bias row], op = transpose when flag set
  Add,            // a + b, broadcasting rows and columns
  Sub,            // a - b, broadcasting
  Mul,            // a * b elementwise, broadcasting
  Div,            // a / b elementwise, broadcasting
  Affine,         // alpha * a + beta
  Unary,          // d^order fn(a)
  UnaryMul,       // a * d^order fn(b)   (the fused backward of Unary)
  ReduceTo,       // sum a down to rows x cols (each 1 or a's own)
  BroadcastTo,    // replicate a up to rows x cols
  SliceCols,      // a[:, start:start+count]
  PadCols,        // zeros(rows, total) with a placed at column start
  SelectCols,     // a[:, indices]
  ScatterCols,    // zeros(rows, total), column indices[j] += a[:, j]
  SliceRows,      // a[start:start+count, :]
  PadRows,        // zeros(total, cols) with a placed at row start
  ConcatCols,     // [a b]
  ConcatRows,     // [a; b]
  RepeatRows,     // each row of a repeated k times in a row: N x D -> N*k x D
  SegmentSumRows, // sums of consecutive groups of k rows: N*k x D -> N x D
  TileRows,       // a stacked k times: N x D -> k*N x D
  BlockSumRows,   // sum of k consecutive blocks of rows: k*N x D -> N x D
  Transpose,
  Reshape,        // the same numbers as rows x cols
  Unfold,         // image patches as rows (ad/patches.hpp); geometry in indices
  Fold,           // the adjoint of Unfold
};

std::string_view op_name(Op op);

namespace detail {
template <class T>
[[noreturn]] T throw_not_scalar(Index rows, Index cols);

template <class T>
struct Node {
  Op op = Op::Leaf;
  Fn fn = Fn::Exp;
  std::uint8_t order = 0;
  bool requires_grad = false;
  bool trans_a = false, trans_b = false;
  std::int32_t in[3] = {-1, -1, -1};
  T p0 = 0, p1 = 0;                 // affine alpha, beta; pow exponent; elu alpha
  Index i0 = 0, i1 = 0;             // start, count, total, repeat factor
  std::vector<Index> indices;       // SelectCols, ScatterCols; Unfold/Fold geometry
  Index rows = 0, cols = 0;
  const T* external = nullptr;      // leaf that refers to caller-owned memory
  const T* transposed = nullptr;    // optional caller-owned transpose of such a leaf (cols x rows)
  Mat<T> buffer;                    // owned value (kept across reset() for reuse)
  const T* data() const { return external ? external : buffer.data(); }
};
}  // namespace detail

template <class T>
struct GradOptions {
  /// Record the backward pass so the gradients can be differentiated again.
  bool create_graph = false;
  /// d(output)/d(y) to start from, y's shape; default: y must be 1x1 and the seed is 1.
  Var<T> seed{};
};

/// The recorder. Not thread-safe: one tape per thread. Ops parallelise internally.
template <class T>
class Tape {
 public:
  Tape() = default;
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  /// A leaf that gradients flow to; copies value, which must be finite.
  Var<T> variable(const Mat<T>& value);
  /// A leaf that gradients do not flow to; copies value, which must be finite.
  Var<T> constant(const Mat<T>& value);
  /// A 1x1 constant.
  Var<T> scalar(T value);
  /// Leaves that refer to value without copying or checking it (model parameters, large data):
  /// value must stay alive and unchanged until reset().
  Var<T> variable_ref(const Mat<T>& value);
  Var<T> constant_ref(const Mat<T>& value);
  /// Same, for a raw row-major rows x cols block. `transposed`, if given, is the same matrix
  /// transposed (cols x rows, row-major, also caller-owned): products that need the transpose
  /// (x W^T in a linear layer) then read it instead of transposing W at every step.
  Var<T> leaf_ref(const T* data, Index rows, Index cols, bool requires_grad, const T* transposed = nullptr);

  /// Gradients of y with respect to each of wrt, each shaped as its Var. A Var y does not
  /// depend on gets a zero gradient. See GradOptions.
  std::vector<Var<T>> grad(Var<T> y, std::span<const Var<T>> wrt, const GradOptions<T>& options = {});
  std::vector<Var<T>> grad(Var<T> y, std::initializer_list<Var<T>> wrt, const GradOptions<T>& options = {}) {
    return grad(y, std::span<const Var<T>>(wrt.begin(), wrt.size()), options);
  }

  /// Forgets every node (all Vars become invalid) but keeps buffers for reuse.
  void reset();
  /// Nodes recorded since the last reset.
  std::size_t size() const { return size_; }

  /// While false, ops compute values but record nothing to differentiate (see NoGrad).
  bool recording() const { return recording_; }
  void set_recording(bool on) { recording_ = on; }
  /// Anomaly mode: every op checks its output and throws NumericalError naming the op and its
  /// input shapes at the first non-finite value. Off by default (it costs a pass per op).
  bool check_finite() const { return check_finite_; }
  void set_check_finite(bool on) { check_finite_ = on; }

  // Engine interface, used by the op functions.
  const detail::Node<T>& node(std::int32_t id) const { return nodes_[static_cast<std::size_t>(id)]; }
  detail::Node<T>& node(std::int32_t id) { return nodes_[static_cast<std::size_t>(id)]; }
  /// Appends a node with the given inputs; its buffer is sized rows x cols and requires_grad set.
  /// The caller fills the node's parameters and value, then calls finish().
  std::int32_t push(Op op, std::int32_t a, std::int32_t b, Index rows, Index cols, std::int32_t c = -1);
  Var<T> finish(std::int32_t id);
  Var<T> var(std::int32_t id) { return Var<T>(this, id, epoch_); }
  /// Throws InvalidArgument naming `where` and `arg` unless v is a live Var of this tape.
  void check_var(const Var<T>& v, const char* where, const char* arg) const;
  std::uint32_t epoch() const { return epoch_; }

 private:
  Var<T> backward_rule_input(std::int32_t id, int input, Var<T> g);
  std::vector<detail::Node<T>> nodes_;
  std::size_t size_ = 0;
  std::uint32_t epoch_ = 0;
  bool recording_ = true;
  bool check_finite_ = false;
  // grad() scratch, kept for reuse.
  std::vector<std::int32_t> grad_of_;
  std::vector<char> reaches_;
};

/// Scope guard: ops inside record nothing to differentiate (torch.no_grad()).
template <class T>
class NoGrad {
 public:
  explicit NoGrad(Tape<T>& tape) : tape_(tape), previous_(tape.recording()) { tape.set_recording(false); }
  ~NoGrad() { tape_.set_recording(previous_); }
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  Tape<T>& tape_;
  bool previous_;
};

template <class T>
Index Var<T>::rows() const {
  return tape_->node(id_).rows;
}
template <class T>
Index Var<T>::cols() const {
  return tape_->node(id_).cols;
}
template <class T>
ConstMatMap<T> Var<T>::value() const {
  const auto& n = tape_->node(id_);
  return ConstMatMap<T>(n.data(), n.rows, n.cols);
}
template <class T>
T Var<T>::item() const {
  const auto& n = tape_->node(id_);
  return n.rows * n.cols == 1 ? n.data()[0] : detail::throw_not_scalar<T>(n.rows, n.cols);
}
template <class T>
bool Var<T>::requires_grad() const {
  return tape_->node(id_).requires_grad;
}

extern template class Tape<float>;
extern template class Tape<double>;

}  // namespace ebm::ad
