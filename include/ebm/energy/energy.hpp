#pragma once
// The Energy contract. An energy on R^D maps a batch x (N x D, one point per row) to N
// energies; p(x) is proportional to exp(-E(x)). A type can provide E in either or both forms:
//
//  - differentiable: `ad::Var<T> energy(ad::Var<T> x) const`, written with ad ops (x is N x D,
//    the result N x 1). Autodiff then supplies the score -grad_x E, and training can take
//    gradients of gradients through it.
//  - closed form: `void energy(const Mat<T>& x, Vec<T>& out) const` (N energies) and
//    `void score(const Mat<T>& x, Mat<T>& out) const` (N x D, the score -grad_x E).
//
// Both need `Index dim() const`. Evaluation prefers the closed form when there is one.
#include <ebm/ad/tape.hpp>
#include <ebm/core/parallel.hpp>
#include <ebm/core/types.hpp>

#include <concepts>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace ebm {

template <class E, class T>
concept DifferentiableEnergy = requires(const E& e, ad::Var<T> x) {
  { e.dim() } -> std::convertible_to<Index>;
  { e.energy(x) } -> std::same_as<ad::Var<T>>;
};

template <class E, class T>
concept ClosedFormEnergy = requires(const E& e, const Mat<T>& x, Vec<T>& energies, Mat<T>& scores) {
  { e.dim() } -> std::convertible_to<Index>;
  e.energy(x, energies);
  e.score(x, scores);
};

template <class E, class T>
concept Energy = DifferentiableEnergy<E, T> || ClosedFormEnergy<E, T>;

/// Evaluates any Energy on batches; holds the tapes that autodiff needs, reused call to call.
/// Not thread-safe (one evaluator per calling thread).
///
/// A differentiable energy is evaluated in blocks of rows, each recorded on its own tape, in
/// parallel over the threads: a block's working set stays in cache, and each thread runs a
/// whole forward and backward pass without waiting on the others. Every row is computed the
/// same way whatever block it is in (docs/design.md), so the result does not depend on the
/// blocking or the thread count.
template <class T>
class EnergyEvaluator {
 public:
  /// At x (N x D): energies (N) when `energies` is not null, scores (N x D) when `scores` is
  /// not null. A closed-form energy computes only what is asked for.
  template <Energy<T> E>
  void evaluate(const E& e, const Mat<T>& x, Vec<T>* energies, Mat<T>* scores) {
    check_dim(e.dim(), x.rows(), x.cols());
    if constexpr (ClosedFormEnergy<E, T>) {
      if (energies) e.energy(x, *energies);
      if (scores) e.score(x, *scores);
    } else {
      evaluate_rows(e, x.data(), x.rows(), x.cols(), energies, scores);
    }
  }
  /// As evaluate, at the n x d points stored row by row from x (another program's buffer, say):
  /// a differentiable energy reads them where they are; a closed-form one gets a copy.
  template <Energy<T> E>
  void evaluate_rows(const E& e, const T* x, Index n, Index d, Vec<T>* energies, Mat<T>* scores) {
    check_dim(e.dim(), n, d);
    if constexpr (ClosedFormEnergy<E, T>) {
      const Mat<T> copy = Eigen::Map<const Mat<T>>(x, n, d);
      if (energies) e.energy(copy, *energies);
      if (scores) e.score(copy, *scores);
    } else {
      if (energies) energies->resize(n);
      if (scores) scores->resize(n, d);
      T* e_out = energies ? energies->data() : nullptr;
      T* s_out = scores ? scores->data() : nullptr;
      const Index block = block_rows(n);
      if (block >= n) {
        record_rows(tape(0), e, x, n, d, e_out, s_out);
        return;
      }
      prepare_tapes();
      std::vector<std::exception_ptr>& errors = errors_;
      errors.assign(static_cast<std::size_t>(chunk_count(n, block)), nullptr);
      parallel_for_chunks(n, block, [&](Index r0, Index r1) {
        try {
          record_rows(tape(thread_index()), e, x + r0 * d, r1 - r0, d, e_out ? e_out + r0 : nullptr,
                      s_out ? s_out + r0 * d : nullptr);
        } catch (...) {
          errors[static_cast<std::size_t>(r0 / block)] = std::current_exception();
        }
      });
      for (const auto& error : errors)
        if (error) std::rethrow_exception(error);
    }
  }
  template <Energy<T> E>
  void evaluate(const E& e, const Mat<T>& x, Vec<T>& energies, Mat<T>* scores) {
    evaluate(e, x, &energies, scores);
  }
  template <Energy<T> E>
  Vec<T> energy(const E& e, const Mat<T>& x) {
    Vec<T> out;
    evaluate(e, x, out, nullptr);
    return out;
  }
  template <Energy<T> E>
  Mat<T> score(const E& e, const Mat<T>& x) {
    Vec<T> energies;
    Mat<T> out;
    evaluate(e, x, energies, &out);
    return out;
  }
 private:
  // Records E on rows [x, x + rows * d) on tape t; writes energies and scores where not null.
  template <class E>
  void record_rows(ad::Tape<T>& t, const E& e, const T* x, Index rows, Index d, T* energies, T* scores) {
    t.reset();
    const ad::Var<T> xv = t.leaf_ref(x, rows, d, true);
    if (!scores) {
      ad::NoGrad<T> no_grad(t);
      const ad::Var<T> y = e.energy(xv);
      check_energy_shape(y, rows);
      copy_energies(y, energies);
      return;
    }
    const ad::Var<T> y = e.energy(xv);
    check_energy_shape(y, rows);
    copy_energies(y, energies);
    write_scores(t, y, xv, scores);
  }
  static Index block_rows(Index n);
  void prepare_tapes();
  ad::Tape<T>& tape(int i) { return *tapes_[static_cast<std::size_t>(i)]; }
  static void check_dim(Index dim, Index rows, Index cols);
  static void check_energy_shape(const ad::Var<T>& y, Index n);
  static void copy_energies(const ad::Var<T>& y, T* out);
  static void write_scores(ad::Tape<T>& t, const ad::Var<T>& y, const ad::Var<T>& x, T* out);  // -grad_x sum(y)
  std::vector<std::unique_ptr<ad::Tape<T>>> tapes_ = make_first_tape();
  std::vector<std::exception_ptr> errors_;
  static std::vector<std::unique_ptr<ad::Tape<T>>> make_first_tape();
};

/// A type-erased energy, for the runtime boundary (files, the command line).
template <class T>
class AnyEnergy {
 public:
  template <Energy<T> E>
  explicit AnyEnergy(E e, std::string name = "energy") : impl_(std::make_shared<Model<E>>(std::move(e))), name_(std::move(name)) {}

  Index dim() const { return impl_->dim(); }
  const std::string& name() const { return name_; }
  /// True when the energy can be recorded on a tape (training, exact Laplacians).
  bool differentiable() const { return impl_->differentiable(); }
  /// Records E(x) (N x 1); throws InvalidArgument for closed-form-only energies.
  ad::Var<T> energy(ad::Var<T> x) const { return impl_->energy(x); }
  /// As EnergyEvaluator::evaluate, using the given evaluator.
  void evaluate(EnergyEvaluator<T>& ev, const Mat<T>& x, Vec<T>* energies, Mat<T>* scores) const {
    impl_->evaluate(ev, x, energies, scores);
  }
  void evaluate(EnergyEvaluator<T>& ev, const Mat<T>& x, Vec<T>& energies, Mat<T>* scores) const {
    impl_->evaluate(ev, x, &energies, scores);
  }
  /// As EnergyEvaluator::evaluate_rows.
  void evaluate_rows(EnergyEvaluator<T>& ev, const T* x, Index n, Index d, Vec<T>* energies, Mat<T>* scores) const {
    impl_->evaluate_rows(ev, x, n, d, energies, scores);
  }

 private:
  struct Concept {
    virtual ~Concept() = default;
    virtual Index dim() const = 0;
    virtual bool differentiable() const = 0;
    virtual ad::Var<T> energy(ad::Var<T> x) const = 0;
    virtual void evaluate(EnergyEvaluator<T>& ev, const Mat<T>& x, Vec<T>* e, Mat<T>* s) const = 0;
    virtual void evaluate_rows(EnergyEvaluator<T>& ev, const T* x, Index n, Index d, Vec<T>* e, Mat<T>* s) const = 0;
  };
  template <class E>
  struct Model final : Concept {
    explicit Model(E v) : e(std::move(v)) {}
    Index dim() const override { return static_cast<Index>(e.dim()); }
    bool differentiable() const override { return DifferentiableEnergy<E, T>; }
    ad::Var<T> energy(ad::Var<T> x) const override {
      if constexpr (DifferentiableEnergy<E, T>) return e.energy(x);
      else throw_not_differentiable();
    }
    void evaluate(EnergyEvaluator<T>& ev, const Mat<T>& x, Vec<T>* out, Mat<T>* s) const override {
      ev.evaluate(e, x, out, s);
    }
    void evaluate_rows(EnergyEvaluator<T>& ev, const T* x, Index n, Index d, Vec<T>* out, Mat<T>* s) const override {
      ev.evaluate_rows(e, x, n, d, out, s);
    }
    E e;
  };
  [[noreturn]] static void throw_not_differentiable();
  std::shared_ptr<const Concept> impl_;
  std::string name_;
};

extern template class EnergyEvaluator<float>;
extern template class EnergyEvaluator<double>;
extern template class AnyEnergy<float>;
extern template class AnyEnergy<double>;

}  // namespace ebm
