#pragma once
// Argument checks that throw ebm errors whose messages say where and what.
#include <ebm/core/error.hpp>
#include <ebm/core/types.hpp>

#include <concepts>
#include <string>
#include <string_view>
#include <vector>

namespace ebm {

/// "3x2", for messages about shapes.
std::string shape_str(Index rows, Index cols);

template <class Derived>
std::string shape_str(const Eigen::EigenBase<Derived>& m) {
  return shape_str(m.rows(), m.cols());
}

/// Throws InvalidArgument("where: what") when cond is false.
inline void require(bool cond, std::string_view where, std::string_view what) {
  if (!cond) throw InvalidArgument(std::string(where) + ": " + std::string(what));
}

/// Same, building the message only on failure (for hot paths): what() returns the text.
template <class MakeMessage>
  requires std::invocable<MakeMessage>
void require(bool cond, std::string_view where, MakeMessage&& what) {
  if (!cond) throw InvalidArgument(std::string(where) + ": " + std::string(what()));
}

/// Throws InvalidArgument unless m is rows x cols (-1 means any).
template <class Derived>
void require_shape(const Eigen::EigenBase<Derived>& m, Index rows, Index cols, std::string_view where,
                   std::string_view arg) {
  if ((rows >= 0 && m.rows() != rows) || (cols >= 0 && m.cols() != cols)) {
    throw InvalidArgument(std::string(where) + ": " + std::string(arg) + " has shape " + shape_str(m) +
                          ", expected " + (rows >= 0 ? std::to_string(rows) : std::string("N")) + "x" +
                          (cols >= 0 ? std::to_string(cols) : std::string("D")));
  }
}

/// Requires a box: lower and upper with dim values each, finite, lower[j] < upper[j]. Throws
/// InvalidArgument naming `where` and the first bad coordinate.
void require_box(const std::vector<double>& lower, const std::vector<double>& upper, Index dim, std::string_view where);

/// True when all n values are finite (vectorised; for hot loops).
template <class T>
bool all_finite(const T* data, Index n);

/// Throws NumericalError naming the first non-finite entry of a rows x cols row-major block.
template <class T>
void require_finite(const T* data, Index rows, Index cols, std::string_view where, std::string_view arg);

template <class T>
void require_finite(const Mat<T>& m, std::string_view where, std::string_view arg) {
  require_finite(m.data(), m.rows(), m.cols(), where, arg);
}

}  // namespace ebm
